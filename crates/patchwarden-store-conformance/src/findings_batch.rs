//! Findings of many assets at once (a fleet re-match): details stored once and shared,
//! one transaction per batch, unchanged assets untouched, deleted assets skipped; and
//! listing the fleet page by page across open and closed findings.

use crate::fixtures::{count_events, ctx, finding, new_asset, t, t0};
use crate::SharedStore;
use jiff::SignedDuration;
use patchwarden_domain::finding::Finding;
use patchwarden_domain::ids::AssetId;
use patchwarden_domain::level::Level;
use patchwarden_store::findings::batch::BatchDetails;
use patchwarden_store::{AdvisoryLevel, FindingFilter, FindingsBatch, StoreError};
use std::sync::Arc;

async fn asset(s: &SharedStore, host: &str) -> AssetId {
    s.create_asset(&ctx(t0()), &new_asset(host, &[]))
        .await
        .unwrap()
        .id
}

fn level(advisory: &str, level: Level) -> AdvisoryLevel {
    AdvisoryLevel {
        advisory: advisory.into(),
        level,
        allowed: level.default_deadline(),
    }
}

/// A batch over `details` with the levels of ALSA-1 (high) and ALSA-2 (low); each
/// asset names its details by position in `details` (a position past the end names an
/// id that is not in the batch).
fn batch(details: &[(i64, Finding)], assets: Vec<(AssetId, Vec<usize>)>) -> FindingsBatch {
    FindingsBatch {
        levels: vec![level("ALSA-1", Level::High), level("ALSA-2", Level::Low)],
        details: Arc::new(BatchDetails::new(
            details.iter().map(|(id, f)| (*id, Arc::new(f.clone()))),
        )),
        assets: assets
            .into_iter()
            .map(|(a, positions)| {
                let ids = positions
                    .iter()
                    .map(|p| details.get(*p).map_or(999_999, |d| d.0))
                    .collect();
                (a, ids)
            })
            .collect(),
    }
}

pub(crate) async fn batches(s: SharedStore) {
    let (a, b) = (
        asset(&s, "a.example.org").await,
        asset(&s, "b.example.org").await,
    );
    let gone = asset(&s, "gone.example.org").await;
    s.delete_asset(&ctx(t0()), gone).await.unwrap();
    let ssl = finding("openssl", "ALSA-1", "1.0-1.el9", Level::High, 48)
        .finding
        .as_ref()
        .clone();
    let ssl2 = finding("openssl", "ALSA-1", "1.0-2.el9", Level::High, 48)
        .finding
        .as_ref()
        .clone();
    let zlib = finding("zlib", "ALSA-2", "1.2-1.el9", Level::Low, 360)
        .finding
        .as_ref()
        .clone();

    // Details are stored once per content: the same content has the same id.
    let arc = |f: &Finding| Arc::new(f.clone());
    let ids = s
        .store_finding_details(&[arc(&ssl), arc(&zlib), arc(&ssl)])
        .await
        .unwrap();
    assert_eq!(ids[0], ids[2]);
    assert_ne!(ids[0], ids[1]);
    assert_eq!(
        s.store_finding_details(&[arc(&zlib)]).await.unwrap(),
        [ids[1]]
    );
    let new_id = s.store_finding_details(&[arc(&ssl2)]).await.unwrap()[0];
    let details = [
        (ids[0], ssl.clone()),
        (ids[1], zlib.clone()),
        (new_id, ssl2),
    ];

    let events = count_events(&s, "finding.sync").await;
    let first = batch(
        &details,
        vec![(a, vec![0, 1]), (b, vec![0]), (gone, vec![1])],
    );
    let c = s.sync_findings_batch(&ctx(t(100)), &first).await.unwrap();
    assert_eq!(
        (c.opened, c.kept, c.closed),
        (3, 0, 0),
        "the deleted asset is skipped"
    );
    assert_eq!(
        count_events(&s, "finding.sync").await,
        events + 2,
        "one per asset"
    );
    let fleet = s.list_findings(&FindingFilter::default()).await.unwrap();
    let seen: Vec<_> = fleet
        .iter()
        .map(|f| {
            (
                f.asset_id,
                f.finding.package.as_str(),
                f.level,
                f.first_seen_at,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (a, "openssl", Level::High, t(100)),
            (a, "zlib", Level::Low, t(100)),
            (b, "openssl", Level::High, t(100)),
        ]
    );
    assert_eq!(fleet[0].finding, ssl);
    assert_eq!(fleet[1].deadline_at, t(100) + Level::Low.default_deadline());

    // The same again: nothing written, nothing audited.
    let c = s.sync_findings_batch(&ctx(t(200)), &first).await.unwrap();
    assert_eq!((c.opened, c.kept, c.closed), (0, 3, 0));
    assert_eq!(count_events(&s, "finding.sync").await, events + 2);

    // On `a` openssl is upgraded but still affected, zlib fixed.
    let next = batch(&details, vec![(a, vec![2]), (b, vec![0])]);
    let c = s.sync_findings_batch(&ctx(t(300)), &next).await.unwrap();
    assert_eq!((c.opened, c.kept, c.closed), (0, 2, 1));
    let mine = s
        .list_findings(&FindingFilter {
            asset: Some(a),
            include_closed: true,
            ..FindingFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(mine.len(), 2);
    assert_eq!(
        (
            mine[0].id,
            mine[0].finding.installed.as_str(),
            mine[0].first_seen_at
        ),
        (fleet[0].id, "1.0-2.el9", t(100)),
        "kept: same id, same first seen"
    );
    assert_eq!((mine[1].id, mine[1].closed_at), (fleet[1].id, Some(t(300))));

    // A level the batch does not give is refused, nothing written.
    let mut bad = batch(&details, vec![(a, vec![1])]);
    bad.levels.retain(|l| l.advisory != "ALSA-2");
    let err = s.sync_findings_batch(&ctx(t(400)), &bad).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    // A position outside the batch too.
    let bad = batch(&details, vec![(a, vec![7])]);
    assert!(matches!(
        s.sync_findings_batch(&ctx(t(400)), &bad).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(
        s.list_findings(&FindingFilter::default())
            .await
            .unwrap()
            .len(),
        2
    );

    // A level changed by a batch is the advisory's everywhere, audited as a
    // re-levelling of the two open openssl findings.
    let relevels = count_events(&s, "finding.relevel").await;
    let mut critical = batch(&details, vec![(b, vec![0])]);
    critical.levels[0] = AdvisoryLevel {
        advisory: "ALSA-1".into(),
        level: Level::Critical,
        allowed: SignedDuration::from_hours(12),
    };
    s.sync_findings_batch(&ctx(t(500)), &critical)
        .await
        .unwrap();
    assert_eq!(count_events(&s, "finding.relevel").await, relevels + 1);
    let open = s.list_findings(&FindingFilter::default()).await.unwrap();
    assert!(open.iter().all(|f| f.level == Level::Critical), "{open:?}");
    assert_eq!(open[0].deadline_at, t(100) + SignedDuration::from_hours(12));
}

/// Pages of any size over open and closed findings of several assets give each finding
/// once, in id order, the same as one large page.
pub(crate) async fn pages(s: SharedStore) {
    let mut assets = Vec::new();
    for i in 0..5 {
        assets.push(asset(&s, &format!("host-{i}.example.org")).await);
    }
    let make = |n: usize| -> Vec<_> {
        (0..n)
            .map(|i| finding(&format!("pkg-{i}"), "ALSA-1", "1", Level::High, 48))
            .collect()
    };
    for (k, a) in assets.iter().enumerate() {
        s.sync_findings(&ctx(t(1)), *a, &make(k + 2)).await.unwrap();
        // Every other asset fixes its first finding.
        if k % 2 == 0 {
            s.sync_findings(&ctx(t(2)), *a, &make(k + 2)[1..])
                .await
                .unwrap();
        }
    }
    s.delete_asset(&ctx(t(3)), assets[3]).await.unwrap();
    let all = FindingFilter {
        include_closed: true,
        limit: 1000,
        ..FindingFilter::default()
    };
    let everything = s.list_findings(&all).await.unwrap();
    assert_eq!(everything.len(), 2 + 3 + 4 + 6);
    assert!(everything.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(
        everything.iter().filter(|f| f.closed_at.is_some()).count(),
        3
    );
    for limit in [1, 2, 3, 7] {
        let mut got = Vec::new();
        let mut after = None;
        loop {
            let page = s
                .list_findings(&FindingFilter {
                    after,
                    limit,
                    ..all.clone()
                })
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            assert!(page.len() <= limit as usize);
            got.extend(page);
        }
        assert_eq!(got, everything, "pages of {limit}");
    }
    // Open only, after the middle of an asset.
    let open = s.list_findings(&FindingFilter::default()).await.unwrap();
    assert_eq!(open.len(), 12);
    let rest = s
        .list_findings(&FindingFilter {
            after: Some(open[4].id),
            ..FindingFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(rest, open[5..]);
}
