//! Advisories: insert, unchanged, update, duplicates in a batch, filters, pagination,
//! and a timed import of a feed-sized batch.

use crate::fixtures::{advisory, count_events, ctx, last_event, t};
use crate::SharedStore;
use patchwarden_domain::advisory::{Advisory, SeverityLevel, VendorSeverity};
use patchwarden_store::{advisory_canonical_json, AdvisoryFilter, AdvisoryUpsert, StoreError};
use std::time::Instant;

fn counts(r: &AdvisoryUpsert) -> (u32, u32, u32) {
    (r.inserted, r.updated, r.unchanged)
}

fn filter() -> AdvisoryFilter {
    AdvisoryFilter::default()
}

pub(crate) async fn insert_unchanged_update(s: SharedStore) {
    let a = advisory(
        "ALSA-2024:0001",
        &["CVE-2024-0001"],
        &["openssl", "openssl-libs"],
        "1:3.0.7-25.el9",
    );
    let b = advisory(
        "ALSA-2024:0002",
        &["CVE-2024-0002", "CVE-2024-0003"],
        &["bash"],
        "5.1.8-9.el9",
    );
    let r = s
        .upsert_advisories(&ctx(t(10)), &[a.clone(), b.clone()])
        .await
        .unwrap();
    assert_eq!(counts(&r), (2, 0, 0));
    assert_eq!(r.changed, vec![a.id.clone(), b.id.clone()], "input order");
    assert_eq!(s.count_advisories().await.unwrap(), 2);
    let ev = last_event(&s).await;
    assert_eq!(
        (ev.action.as_str(), ev.target_type.as_str()),
        ("advisory.import", "advisory")
    );
    let after: serde_json::Value = serde_json::from_str(ev.after.as_deref().unwrap()).unwrap();
    assert_eq!(after["inserted"], 2);
    assert_eq!(after["changed"], serde_json::json!([a.id, b.id]));

    let got = s.get_advisory(&a.id).await.unwrap();
    assert_eq!(got.advisory, a, "the whole advisory round-trips");
    assert_eq!(got.content_hash, advisory_canonical_json(&a).unwrap().1);
    assert_eq!((got.imported_at, got.updated_at), (t(10), t(10)));

    // The same batch again changes nothing and writes no event.
    let r = s
        .upsert_advisories(&ctx(t(20)), &[a.clone(), b.clone()])
        .await
        .unwrap();
    assert_eq!((counts(&r), r.changed.len()), ((0, 0, 2), 0));
    assert_eq!(count_events(&s, "advisory.import").await, 1);
    assert_eq!(s.get_advisory(&a.id).await.unwrap().updated_at, t(10));

    // b changes (a CVE withdrawn, severity raised), c is new.
    let mut b2 = b.clone();
    b2.aliases = vec!["CVE-2024-0002".into()];
    b2.severity = Some(VendorSeverity {
        level: SeverityLevel::Critical,
        raw: "Critical".into(),
    });
    let c = advisory("ALSA-2024:0003", &[], &["curl"], "7.76.1-29.el9");
    let r = s
        .upsert_advisories(&ctx(t(30)), &[a.clone(), b2.clone(), c.clone()])
        .await
        .unwrap();
    assert_eq!(counts(&r), (1, 1, 1));
    assert_eq!(r.changed, vec![b.id.clone(), c.id.clone()]);
    assert_eq!(count_events(&s, "advisory.import").await, 2);
    let got = s.get_advisory(&b.id).await.unwrap();
    assert_eq!(got.advisory, b2);
    assert_eq!(
        (got.imported_at, got.updated_at),
        (t(10), t(30)),
        "first import kept"
    );
    assert_ne!(got.content_hash, advisory_canonical_json(&b).unwrap().1);
    let by_cve = |cve: &str| AdvisoryFilter {
        cve: Some(cve.into()),
        ..filter()
    };
    assert!(
        s.list_advisories(&by_cve("CVE-2024-0003"))
            .await
            .unwrap()
            .is_empty(),
        "alias gone"
    );
    assert_eq!(
        s.list_advisories(&by_cve("CVE-2024-0002"))
            .await
            .unwrap()
            .len(),
        1
    );

    // An id repeated in one batch: the last wins.
    let mut d1 = advisory(
        "DSA-5532-1",
        &["CVE-2023-5363"],
        &["openssl"],
        "3.0.11-1~deb12u2",
    );
    d1.source = "dsa-list".into();
    let mut d2 = d1.clone();
    d2.title = Some("openssl - security update (revised)".into());
    let r = s
        .upsert_advisories(&ctx(t(40)), &[d1, d2.clone()])
        .await
        .unwrap();
    assert_eq!((counts(&r), r.changed.len()), ((1, 0, 0), 1));
    assert_eq!(s.get_advisory("DSA-5532-1").await.unwrap().advisory, d2);
    assert_eq!(s.count_advisories().await.unwrap(), 4);

    assert!(matches!(
        s.get_advisory("ALSA-1999:9999").await,
        Err(StoreError::NotFound { .. })
    ));
    let empty = s.upsert_advisories(&ctx(t(50)), &[]).await.unwrap();
    assert_eq!(empty, AdvisoryUpsert::default());
}

pub(crate) async fn filters_and_pagination(s: SharedStore) {
    let mut all: Vec<Advisory> = (1..=23)
        .map(|i| {
            let mut a = advisory(
                &format!("ALSA-2024:{i:04}"),
                &[&format!("CVE-2024-{:04}", i % 5)],
                &["pkg"],
                "1.0-1.el9",
            );
            if i % 3 == 0 {
                a.source = "csaf".into();
            }
            a
        })
        .collect();
    // Upper and lower case and a CVE id: the order is byte order on every backend.
    let mut nvd = advisory("CVE-2024-9999", &[], &["zlib"], "1.2.13-5.el9");
    nvd.source = "nvd".into();
    all.push(nvd);
    all.push(advisory(
        "ghsa-abcd-1234-wxyz",
        &["CVE-2024-0001"],
        &["pkg"],
        "2.0-1.el9",
    ));
    all.push(advisory(
        "RHSA-2024:0001",
        &["CVE-2024-0001"],
        &["pkg"],
        "1.0-1.el9",
    ));
    s.upsert_advisories(&ctx(t(1)), &all).await.unwrap();
    let mut want: Vec<String> = all.iter().map(|a| a.id.clone()).collect();
    want.sort();

    let mut got = Vec::new();
    let mut after = None;
    loop {
        let page = s
            .list_advisories(&AdvisoryFilter {
                after: after.clone(),
                limit: 7,
                ..filter()
            })
            .await
            .unwrap();
        assert!(page.len() <= 7);
        let Some(last) = page.last() else { break };
        after = Some(last.advisory.id.clone());
        got.extend(page.into_iter().map(|a| a.advisory.id));
    }
    assert_eq!(
        got, want,
        "keyset pages cover every advisory once, in byte order"
    );
    assert_eq!(s.count_advisories().await.unwrap(), 26);

    let csaf = s
        .list_advisories(&AdvisoryFilter {
            source: Some("csaf".into()),
            ..filter()
        })
        .await
        .unwrap();
    assert_eq!(csaf.len(), 7);
    assert!(csaf.iter().all(|a| a.advisory.source == "csaf"));

    let ids = |v: Vec<patchwarden_store::StoredAdvisory>| -> Vec<String> {
        v.into_iter().map(|a| a.advisory.id).collect()
    };
    let by_cve = |cve: &str| AdvisoryFilter {
        cve: Some(cve.into()),
        ..filter()
    };
    let cve1 = ids(s.list_advisories(&by_cve("CVE-2024-0001")).await.unwrap());
    assert_eq!(
        cve1,
        [
            "ALSA-2024:0001",
            "ALSA-2024:0006",
            "ALSA-2024:0011",
            "ALSA-2024:0016",
            "ALSA-2024:0021",
            "RHSA-2024:0001",
            "ghsa-abcd-1234-wxyz"
        ]
    );
    assert_eq!(
        ids(s.list_advisories(&by_cve("CVE-2024-9999")).await.unwrap()),
        ["CVE-2024-9999"],
        "the id is a CVE"
    );
    assert!(s
        .list_advisories(&by_cve("CVE-2030-0001"))
        .await
        .unwrap()
        .is_empty());
    let combined = AdvisoryFilter {
        cve: Some("CVE-2024-0003".into()),
        source: Some("csaf".into()),
        after: Some("ALSA-2024:0003".into()),
        limit: 10,
    };
    assert_eq!(
        ids(s.list_advisories(&combined).await.unwrap()),
        ["ALSA-2024:0018"]
    );
}

/// A feed-sized batch: `n` advisories, each with several packages and CVEs.
pub fn generated_feed(n: usize) -> Vec<Advisory> {
    const PKGS: [&str; 10] = [
        "kernel",
        "kernel-core",
        "kernel-modules",
        "kernel-tools",
        "kernel-headers",
        "python3-perf",
        "bpftool",
        "perf",
        "kernel-devel",
        "kernel-debug",
    ];
    (0..n)
        .map(|i| {
            let cves: Vec<String> = (0..3)
                .map(|k| format!("CVE-{}-{:05}", 2019 + i % 6, i * 3 + k))
                .collect();
            let refs: Vec<&str> = cves.iter().map(String::as_str).collect();
            let mut a = advisory(
                &format!("ALSA-{}:{:05}", 2019 + i % 6, i),
                &refs,
                &PKGS[..4 + i % 7],
                &format!("5.14.0-{}.el9", 100 + i),
            );
            a.references.extend(
                cves.iter()
                    .map(|c| format!("https://access.redhat.com/security/cve/{c}")),
            );
            a
        })
        .collect()
}

pub(crate) async fn import_timing(s: SharedStore) {
    let feed = generated_feed(5_000);
    let bytes: usize = feed
        .iter()
        .map(|a| advisory_canonical_json(a).unwrap().0.len())
        .sum();
    let start = Instant::now();
    let r = s.upsert_advisories(&ctx(t(1)), &feed).await.unwrap();
    let first = start.elapsed();
    assert_eq!(counts(&r), (5_000, 0, 0));
    let start = Instant::now();
    let r = s.upsert_advisories(&ctx(t(2)), &feed).await.unwrap();
    let again = start.elapsed();
    assert_eq!(counts(&r), (0, 0, 5_000));
    assert_eq!(s.count_advisories().await.unwrap(), 5_000);
    println!(
        "timing [{}] upsert_advisories: 5000 new ({} KiB of JSON) in {first:?}, 5000 unchanged in {again:?}",
        s.backend(),
        bytes / 1024
    );
}
