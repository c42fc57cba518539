//! Findings: open, keep, close, reopen as a new row; deadlines; suppression by VEX
//! (stored, listed only when asked, toggled in place, never open work); filters; cascade
//! on asset delete; the inventory lookup for incremental matching.

use crate::fixtures::{count_events, ctx, finding, last_event, new_asset, pkg, t, t0};
use crate::SharedStore;
use jiff::SignedDuration;
use patchwarden_domain::ids::AssetId;
use patchwarden_domain::level::Level;
use patchwarden_domain::package::PackageFormat;
use patchwarden_store::{FindingFilter, FindingsChange, NewFinding, StoreError, StoredFinding};
use std::sync::Arc;
use std::time::Instant;

async fn asset(s: &SharedStore, host: &str) -> AssetId {
    s.create_asset(&ctx(t0()), &new_asset(host, &[]))
        .await
        .unwrap()
        .id
}

fn change(opened: u32, kept: u32, closed: u32) -> FindingsChange {
    FindingsChange {
        opened,
        kept,
        closed,
        ..FindingsChange::default()
    }
}

async fn of(s: &SharedStore, asset: AssetId, include_closed: bool) -> Vec<StoredFinding> {
    let f = FindingFilter {
        asset: Some(asset),
        include_closed,
        ..FindingFilter::default()
    };
    s.list_findings(&f).await.unwrap()
}

pub(crate) async fn lifecycle(s: SharedStore) {
    open_keep_close(s.clone()).await;
    suppression(&s).await;
}

async fn open_keep_close(s: SharedStore) {
    let id = asset(&s, "alma-01.example.org").await;
    let ssl = finding(
        "openssl",
        "ALSA-2024:0001",
        "1:3.0.7-24.el9",
        Level::High,
        48,
    );
    let bash = finding(
        "bash",
        "ALSA-2024:0002",
        "5.1.8-6.el9",
        Level::Medium,
        7 * 24,
    );
    let r = s
        .sync_findings(&ctx(t(100)), id, &[ssl.clone(), bash.clone()])
        .await
        .unwrap();
    assert_eq!(r, change(2, 0, 0));
    let ev = last_event(&s).await;
    assert_eq!(
        (ev.action.as_str(), ev.target_type.as_str()),
        ("finding.sync", "asset")
    );
    assert_eq!(ev.target_id, Some(id.to_string()));
    assert!(
        ev.after.as_deref().unwrap().contains(r#""opened":2"#),
        "{:?}",
        ev.after
    );
    let open = of(&s, id, false).await;
    assert_eq!(open.len(), 2);
    let (f_ssl, f_bash) = (open[0].clone(), open[1].clone());
    assert!(f_ssl.id < f_bash.id, "ordered by id, in input order");
    assert_eq!(
        (f_ssl.finding.clone(), f_ssl.level, f_ssl.asset_id),
        ((*ssl.finding).clone(), Level::High, id)
    );
    assert_eq!(
        (f_ssl.first_seen_at, f_ssl.deadline_at, f_ssl.closed_at),
        (t(100), t(100 + 48 * 3600), None)
    );
    assert_eq!(f_bash.deadline_at, t(100 + 7 * 24 * 3600));

    // Kept: first seen stays; installed, evidence, level and the deadline follow.
    let ssl2 = finding(
        "openssl",
        "ALSA-2024:0001",
        "1:3.0.7-25.el9",
        Level::High,
        48,
    );
    let bash2 = NewFinding {
        level: Level::Critical,
        allowed: SignedDuration::from_hours(12),
        ..bash.clone()
    };
    let r = s
        .sync_findings(&ctx(t(200)), id, &[bash2.clone(), ssl2.clone()])
        .await
        .unwrap();
    assert_eq!(r, change(0, 2, 0));
    assert_eq!(
        count_events(&s, "finding.sync").await,
        1,
        "nothing opened or closed"
    );
    let open = of(&s, id, false).await;
    assert_eq!(
        open.iter().map(|f| f.id).collect::<Vec<_>>(),
        [f_ssl.id, f_bash.id]
    );
    assert_eq!(
        (open[0].finding.clone(), open[0].first_seen_at),
        ((*ssl2.finding).clone(), t(100))
    );
    assert_eq!(
        (open[1].level, open[1].first_seen_at, open[1].deadline_at),
        (Level::Critical, t(100), t(100 + 12 * 3600))
    );

    // bash is fixed: it closes with its remediation time.
    let r = s
        .sync_findings(&ctx(t(300)), id, std::slice::from_ref(&ssl2))
        .await
        .unwrap();
    assert_eq!(r, change(0, 1, 1));
    assert_eq!(count_events(&s, "finding.sync").await, 2);
    assert_eq!(of(&s, id, false).await.len(), 1);
    let all = of(&s, id, true).await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].closed_at, Some(t(300)));
    assert!(!all[1].is_open());
    assert_eq!(
        all[1].remediation_time(),
        Some(SignedDuration::from_secs(200))
    );

    // It comes back (a downgrade): a new row with a new first-seen time.
    let r = s
        .sync_findings(&ctx(t(400)), id, &[ssl2.clone(), bash.clone()])
        .await
        .unwrap();
    assert_eq!(r, change(1, 1, 0));
    let all = of(&s, id, true).await;
    assert_eq!(all.len(), 3);
    assert!(all[2].id > f_bash.id);
    assert_eq!(
        (all[2].first_seen_at, all[2].deadline_at, all[2].closed_at),
        (t(400), t(400 + 7 * 24 * 3600), None)
    );
    assert_eq!(all[1].closed_at, Some(t(300)), "the old row stays closed");

    // A key repeated in one sync: the last wins.
    let bash3 = finding(
        "bash",
        "ALSA-2024:0002",
        "5.1.8-7.el9",
        Level::Medium,
        7 * 24,
    );
    let r = s
        .sync_findings(
            &ctx(t(450)),
            id,
            &[ssl2.clone(), bash.clone(), bash3.clone()],
        )
        .await
        .unwrap();
    assert_eq!(r, change(0, 2, 0));
    assert_eq!(of(&s, id, false).await[1].finding.installed, "5.1.8-7.el9");

    // Everything fixed.
    assert_eq!(
        s.sync_findings(&ctx(t(500)), id, &[]).await.unwrap(),
        change(0, 0, 2)
    );
    assert!(of(&s, id, false).await.is_empty());
    assert_eq!(
        s.sync_findings(&ctx(t(600)), id, &[]).await.unwrap(),
        change(0, 0, 0)
    );
    assert_eq!(count_events(&s, "finding.sync").await, 4);

    let missing = s
        .sync_findings(&ctx(t(700)), AssetId::new(999_999), &[ssl])
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
}

/// Suppressed findings (a VEX not-affected statement) are stored with their reason and
/// listed only when asked; a suppression starts and ends in place on the same row and is
/// audited; the deadline clock restarts when a suppression ends.
async fn suppression(s: &SharedStore) {
    let id = asset(s, "alma-02.example.org").await;
    let other = asset(s, "alma-03.example.org").await;
    let why = "VEX-1 says not affected: vulnerable_code_not_present";
    let ssl = finding(
        "openssl",
        "ALSA-2024:0001",
        "1:3.0.7-24.el9",
        Level::High,
        48,
    );
    let curl = finding("curl", "ALSA-2024:0003", "7.76.1-26.el9", Level::High, 48);
    let mut curl_na = curl.clone();
    Arc::make_mut(&mut curl_na.finding).suppressed = Some(why.into());
    let events = count_events(s, "finding.sync").await;
    let r = s
        .sync_findings(&ctx(t(1_000)), id, &[ssl.clone(), curl_na.clone()])
        .await
        .unwrap();
    assert_eq!(
        r,
        FindingsChange {
            suppressed: 1,
            ..change(2, 0, 0)
        }
    );
    let ev = last_event(s).await;
    assert!(
        ev.after.as_deref().unwrap().contains(r#""suppressed":1"#),
        "{:?}",
        ev.after
    );
    // An unsuppressed copy elsewhere: the filter is per row, not per advisory.
    s.sync_findings(&ctx(t(1_000)), other, std::slice::from_ref(&curl))
        .await
        .unwrap();

    let list = |f: FindingFilter| {
        let s = s.clone();
        async move {
            s.list_findings(&f)
                .await
                .unwrap()
                .into_iter()
                .map(|x| (x.asset_id, x.finding.package, x.finding.suppressed))
                .collect::<Vec<_>>()
        }
    };
    let mine = || FindingFilter {
        asset: Some(id),
        ..FindingFilter::default()
    };
    let with_suppressed = || FindingFilter {
        include_suppressed: true,
        ..mine()
    };
    // Left out by default, whatever else the filter says.
    assert_eq!(list(mine()).await, [(id, "openssl".into(), None)]);
    for f in [
        FindingFilter::default(),
        FindingFilter {
            level: Some(Level::High),
            ..FindingFilter::default()
        },
        FindingFilter {
            advisory: Some("ALSA-2024:0003".into()),
            ..FindingFilter::default()
        },
        FindingFilter {
            cve: Some(curl.finding.cves[0].clone()),
            ..FindingFilter::default()
        },
        FindingFilter {
            include_closed: true,
            ..FindingFilter::default()
        },
    ] {
        assert!(
            !list(f.clone())
                .await
                .iter()
                .any(|(a, p, _)| *a == id && p == "curl"),
            "{f:?}"
        );
    }
    assert_eq!(
        list(FindingFilter {
            advisory: Some("ALSA-2024:0003".into()),
            ..FindingFilter::default()
        })
        .await,
        [(other, "curl".into(), None)]
    );
    // Listed with the reason when asked.
    assert_eq!(
        list(with_suppressed()).await,
        [
            (id, "openssl".into(), None),
            (id, "curl".into(), Some(why.to_owned()))
        ]
    );
    assert_eq!(
        list(FindingFilter {
            level: Some(Level::High),
            cve: Some(curl.finding.cves[0].clone()),
            include_suppressed: true,
            ..FindingFilter::default()
        })
        .await,
        [
            (id, "curl".into(), Some(why.to_owned())),
            (other, "curl".into(), None)
        ]
    );
    let all = s.list_findings(&with_suppressed()).await.unwrap();
    let row = all[1].clone();
    assert!(row.is_open() && !row.is_open_work());
    assert!(all[0].is_open_work());
    assert_eq!(
        (row.finding.clone(), row.first_seen_at, row.deadline_at),
        ((*curl_na.finding).clone(), t(1_000), t(1_000 + 48 * 3600))
    );

    // The same sync again writes nothing and audits nothing.
    assert_eq!(
        s.sync_findings(&ctx(t(2_000)), id, &[ssl.clone(), curl_na.clone()])
            .await
            .unwrap(),
        change(0, 2, 0)
    );
    assert_eq!(count_events(s, "finding.sync").await, events + 2);

    // Long after its deadline the VEX statement stops applying: the same row becomes
    // open work, and its deadline clock starts now, not at registration.
    let later = 1_000 + 30 * 24 * 3600;
    assert_eq!(
        s.sync_findings(&ctx(t(later)), id, &[ssl.clone(), curl.clone()])
            .await
            .unwrap(),
        FindingsChange {
            unsuppressed: 1,
            ..change(0, 2, 0)
        }
    );
    assert_eq!(count_events(s, "finding.sync").await, events + 3);
    assert!(last_event(s)
        .await
        .after
        .unwrap()
        .contains(r#""unsuppressed":1"#));
    let open = s.list_findings(&mine()).await.unwrap();
    assert_eq!(open.len(), 2);
    assert_eq!(
        (
            open[1].id,
            open[1].finding.suppressed.clone(),
            open[1].first_seen_at,
            open[1].deadline_at
        ),
        (row.id, None, t(later), t(later + 48 * 3600))
    );

    // It applies again: the same row is suppressed again, its first-seen time kept.
    assert_eq!(
        s.sync_findings(&ctx(t(later + 100)), id, &[ssl.clone(), curl_na.clone()])
            .await
            .unwrap(),
        FindingsChange {
            suppressed: 1,
            ..change(0, 2, 0)
        }
    );
    assert_eq!(list(mine()).await, [(id, "openssl".into(), None)]);
    let all = s.list_findings(&with_suppressed()).await.unwrap();
    assert_eq!(
        (
            all[1].id,
            all[1].finding.suppressed.as_deref(),
            all[1].first_seen_at
        ),
        (row.id, Some(why), t(later))
    );

    // A new reason or level updates the row in place; nothing to audit.
    let mut curl_na2 = curl_na.clone();
    Arc::make_mut(&mut curl_na2.finding).suppressed =
        Some("VEX-2 says not affected: component_not_present".into());
    curl_na2.level = Level::Critical;
    curl_na2.allowed = SignedDuration::from_hours(12);
    assert_eq!(
        s.sync_findings(&ctx(t(later + 200)), id, &[ssl.clone(), curl_na2.clone()])
            .await
            .unwrap(),
        change(0, 2, 0)
    );
    assert_eq!(count_events(s, "finding.sync").await, events + 4);
    let all = s.list_findings(&with_suppressed()).await.unwrap();
    assert_eq!(
        (
            all[1].id,
            all[1].finding.clone(),
            all[1].level,
            all[1].deadline_at
        ),
        (
            row.id,
            (*curl_na2.finding).clone(),
            Level::Critical,
            t(later + 12 * 3600)
        )
    );
    // The level is the advisory's, on every asset: the other asset's open curl finding
    // is critical now too, while this asset's suppressed one stays out of the list.
    assert_eq!(
        list(FindingFilter {
            level: Some(Level::Critical),
            ..FindingFilter::default()
        })
        .await,
        [(other, "curl".into(), None)]
    );

    // The package goes away: the suppressed row closes like any other, reason kept.
    assert_eq!(
        s.sync_findings(&ctx(t(later + 300)), id, std::slice::from_ref(&ssl))
            .await
            .unwrap(),
        change(0, 1, 1)
    );
    let closed = s
        .list_findings(&FindingFilter {
            include_closed: true,
            ..with_suppressed()
        })
        .await
        .unwrap();
    assert_eq!(
        (
            closed[1].id,
            closed[1].closed_at,
            closed[1].finding.suppressed.clone()
        ),
        (
            row.id,
            Some(t(later + 300)),
            curl_na2.finding.suppressed.clone()
        )
    );
    assert_eq!(
        s.list_findings(&FindingFilter {
            include_closed: true,
            ..mine()
        })
        .await
        .unwrap()
        .len(),
        1,
        "closed but suppressed: still left out unless asked"
    );
}

pub(crate) async fn filters_and_cascade(s: SharedStore) {
    let (a, b) = (
        asset(&s, "a.example.org").await,
        asset(&s, "b.example.org").await,
    );
    let fa = vec![
        finding("openssl", "ALSA-1", "1", Level::High, 48),
        finding("zlib", "ALSA-2", "1", Level::Low, 360),
        finding("curl", "ALSA-1", "1", Level::High, 48),
    ];
    let fb = vec![
        finding("openssl", "ALSA-1", "1", Level::High, 48),
        finding("glibc", "ALSA-3", "1", Level::Critical, 12),
    ];
    s.sync_findings(&ctx(t(1)), a, &fa).await.unwrap();
    s.sync_findings(&ctx(t(2)), b, &fb).await.unwrap();
    let list = |f: FindingFilter| {
        let s = s.clone();
        async move {
            s.list_findings(&f)
                .await
                .unwrap()
                .into_iter()
                .map(|x| (x.asset_id, x.finding.package))
                .collect::<Vec<_>>()
        }
    };
    let base = FindingFilter::default;
    assert_eq!(list(base()).await.len(), 5);
    assert_eq!(
        list(FindingFilter {
            level: Some(Level::High),
            ..base()
        })
        .await,
        [
            (a, "openssl".into()),
            (a, "curl".into()),
            (b, "openssl".into())
        ]
    );
    assert_eq!(
        list(FindingFilter {
            advisory: Some("ALSA-3".into()),
            ..base()
        })
        .await,
        [(b, "glibc".to_owned())]
    );
    // finding() derives the CVE from the name length: zlib and curl share one.
    let cve = FindingFilter {
        cve: Some("CVE-2024-1004".into()),
        ..base()
    };
    assert_eq!(list(cve).await, [(a, "zlib".into()), (a, "curl".into())]);
    assert!(
        list(FindingFilter {
            cve: Some("CVE-2024-100".into()),
            ..base()
        })
        .await
        .is_empty(),
        "whole ids only"
    );
    let page1 = s
        .list_findings(&FindingFilter { limit: 2, ..base() })
        .await
        .unwrap();
    let page2 = s
        .list_findings(&FindingFilter {
            limit: 10,
            after: Some(page1[1].id),
            ..base()
        })
        .await
        .unwrap();
    assert_eq!((page1.len(), page2.len()), (2, 3));

    s.delete_asset(&ctx(t(3)), a).await.unwrap();
    assert!(
        of(&s, a, true).await.is_empty(),
        "findings go with the asset"
    );
    assert_eq!(of(&s, b, false).await.len(), 2);
}

pub(crate) async fn assets_with_packages(s: SharedStore) {
    let (a, b, c) = (
        asset(&s, "a.example.org").await,
        asset(&s, "b.example.org").await,
        asset(&s, "c.example.org").await,
    );
    let mut libc = pkg("libc6", "amd64", "2.36-9+deb12u4");
    libc.source_name = Some("glibc".into());
    let mut ssl = pkg("libssl3", "amd64", "3.0.11-1~deb12u2");
    ssl.source_name = Some("openssl".into());
    s.replace_inventory(
        &ctx(t(1)),
        a,
        PackageFormat::Deb,
        &[libc, pkg("bash", "amd64", "5.2")],
    )
    .await
    .unwrap();
    s.replace_inventory(
        &ctx(t(1)),
        b,
        PackageFormat::Deb,
        &[ssl, pkg("openssl", "amd64", "3.0.11-1~deb12u2")],
    )
    .await
    .unwrap();
    s.replace_inventory(
        &ctx(t(1)),
        c,
        PackageFormat::Deb,
        &[pkg("zsh", "amd64", "5.9")],
    )
    .await
    .unwrap();
    let find = |names: &[&str]| {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let s = s.clone();
        async move { s.assets_with_packages(&names).await.unwrap() }
    };
    assert_eq!(find(&["glibc"]).await, [a], "by source name");
    assert_eq!(find(&["libc6"]).await, [a], "by binary name");
    assert_eq!(
        find(&["openssl", "bash"]).await,
        [a, b],
        "each asset once, ordered"
    );
    assert_eq!(find(&["bash", "zsh", "libssl3", "glibc"]).await, [a, b, c]);
    assert!(find(&[]).await.is_empty());
    assert!(find(&["nginx"]).await.is_empty());
    // More names than one statement may bind.
    let mut many: Vec<String> = (0..5_000).map(|i| format!("pkg-{i}")).collect();
    many.push("zsh".into());
    assert_eq!(s.assets_with_packages(&many).await.unwrap(), [c]);
}

pub(crate) async fn thousands_per_asset(s: SharedStore) {
    let id = asset(&s, "big.example.org").await;
    let make = |n: usize, installed: &str| -> Vec<NewFinding> {
        (0..n)
            .map(|i| {
                finding(
                    &format!("pkg-{i:05}"),
                    &format!("ALSA-2024:{:04}", i % 700),
                    installed,
                    Level::Medium,
                    168,
                )
            })
            .collect()
    };
    let first = make(4_000, "1.0-1.el9");
    let start = Instant::now();
    assert_eq!(
        s.sync_findings(&ctx(t(1)), id, &first).await.unwrap(),
        change(4_000, 0, 0)
    );
    let open_time = start.elapsed();
    let start = Instant::now();
    assert_eq!(
        s.sync_findings(&ctx(t(2)), id, &first).await.unwrap(),
        change(0, 4_000, 0)
    );
    let same_time = start.elapsed();
    // Half of them upgraded (installed changes), the other half fixed.
    let mut next = make(2_000, "1.0-2.el9");
    next.extend(make(4_500, "1.0-1.el9").into_iter().skip(4_000));
    let start = Instant::now();
    assert_eq!(
        s.sync_findings(&ctx(t(3)), id, &next).await.unwrap(),
        change(500, 2_000, 2_000)
    );
    let mixed_time = start.elapsed();
    assert_eq!(of(&s, id, false).await.len(), 1_000, "default limit");
    println!(
        "timing [{}] sync_findings: 4000 opened {open_time:?}, 4000 unchanged {same_time:?}, \
         2000 updated + 2000 closed + 500 opened {mixed_time:?}",
        s.backend()
    );
}

/// Enrichment changed: the open findings of an advisory take its new level and a
/// deadline counted from their own first-seen time; closed findings and other
/// advisories' findings are untouched; nothing changed, nothing written.
pub(crate) async fn relevel(s: SharedStore) {
    use patchwarden_store::AdvisoryLevel;
    let (a, b) = (
        asset(&s, "alma-01.example.org").await,
        asset(&s, "alma-02.example.org").await,
    );
    let ssl = finding(
        "openssl",
        "ALSA-1",
        "1:3.0.7-24.el9",
        Level::Normal,
        30 * 24,
    );
    s.sync_findings(&ctx(t(100)), a, &[ssl.clone(), bash_again()])
        .await
        .unwrap();
    s.sync_findings(&ctx(t(200)), b, std::slice::from_ref(&ssl))
        .await
        .unwrap();
    // b's openssl finding closes (fixed there) before the KEV listing.
    s.sync_findings(&ctx(t(300)), b, &[]).await.unwrap();
    let events = count_events(&s, "finding.relevel").await;
    let critical = AdvisoryLevel {
        advisory: "ALSA-1".into(),
        level: Level::Critical,
        allowed: SignedDuration::from_hours(12),
    };
    let changed = s
        .relevel_findings(&ctx(t(400)), std::slice::from_ref(&critical))
        .await
        .unwrap();
    assert_eq!(changed, 1, "only the open finding");
    assert_eq!(count_events(&s, "finding.relevel").await, events + 1);
    let ev = last_event(&s).await;
    assert_eq!(ev.action, "finding.relevel");
    assert!(ev
        .after
        .as_deref()
        .unwrap()
        .contains(r#""findings_changed":1"#));
    let open = of(&s, a, false).await;
    let f = open
        .iter()
        .find(|f| f.finding.advisory == "ALSA-1")
        .unwrap();
    assert_eq!(f.level, Level::Critical);
    assert_eq!(f.first_seen_at, t(100), "first seen is kept");
    assert_eq!(f.deadline_at, t(100) + SignedDuration::from_hours(12));
    let other = open
        .iter()
        .find(|f| f.finding.advisory == "ALSA-2")
        .unwrap();
    assert_eq!(other.level, Level::Medium, "other advisories untouched");
    let closed = of(&s, b, true).await;
    assert_eq!(closed.len(), 1);
    assert_eq!(
        closed[0].level,
        Level::Normal,
        "closed findings keep their level"
    );
    // The same levels again: nothing to change, no event.
    let again = s.relevel_findings(&ctx(t(500)), &[critical]).await.unwrap();
    assert_eq!(again, 0);
    assert_eq!(count_events(&s, "finding.relevel").await, events + 1);
    assert_eq!(s.relevel_findings(&ctx(t(600)), &[]).await.unwrap(), 0);
    // A re-match that wants exactly what `a`'s last sync wanted (the rule changed
    // back) must still find the re-levelled row and set it back: the digest of that
    // sync no longer describes the rows.
    let back = s
        .sync_findings(&ctx(t(700)), a, &[ssl.clone(), bash_again()])
        .await
        .unwrap();
    assert_eq!(back, change(0, 2, 0));
    let f = of(&s, a, false)
        .await
        .into_iter()
        .find(|f| f.finding.advisory == "ALSA-1")
        .unwrap();
    assert_eq!(f.level, Level::Normal, "set back by the sync");
    assert_eq!(f.deadline_at, t(100) + SignedDuration::from_hours(30 * 24));
}

fn bash_again() -> NewFinding {
    finding("bash", "ALSA-2", "5.1.8-6.el9", Level::Medium, 7 * 24)
}
