//! Scanner imports: recorded with counts and one audit event; a newer import of the
//! same scanner supersedes an asset's records, another scanner's stay; filters and
//! paging; addresses and lookups by IP; nothing stored when the import is refused.

use crate::fixtures::{count_events, ctx, last_event, new_asset, t, t0};
use crate::SharedStore;
use patchwarden_domain::ids::AssetId;
use patchwarden_store::{
    NewScanFinding, NewScanImport, ScanFindingFilter, ScanHostResult, ScanSeverity, ScanVerdict,
    StoreError, StoredScanFinding, VerdictCounts,
};

async fn asset(s: &SharedStore, host: &str) -> AssetId {
    s.create_asset(&ctx(t0()), &new_asset(host, &[]))
        .await
        .unwrap()
        .id
}

/// A local-check record (`package` set) or a remote one.
fn sf(plugin: &str, package: Option<&str>, verdict: ScanVerdict) -> NewScanFinding {
    NewScanFinding {
        plugin_id: plugin.into(),
        name: format!("plugin {plugin}"),
        severity: ScanSeverity::Medium,
        cvss: Some(4.3),
        cves: vec!["CVE-2013-6425".into(), "CVE-2014-0001".into()],
        port: package.is_none().then_some(443),
        protocol: Some("tcp".into()),
        package: package.map(str::to_owned),
        installed: package.map(|_| "0.26.2-5.el6_4".to_owned()),
        fixed: package.map(|_| "0.26.2-5.1.el6_5".to_owned()),
        verdict,
        evidence: match package {
            Some(p) => format!("scanner says {p} 0.26.2-5.el6_4 < 0.26.2-5.1.el6_5; inventory has 0.26.2-5.el6_4 → confirmed"),
            None => "remote check: no package version to compare".into(),
        },
    }
}

fn import(scanner: &str, hosts: Vec<ScanHostResult>) -> NewScanImport {
    NewScanImport {
        scanner: scanner.into(),
        format: "xml".into(),
        file_name: format!("{scanner}-scan.xml"),
        report_name: "weekly".into(),
        started_at: Some(t(-600)),
        finished_at: Some(t(-60)),
        rejected: 2,
        hosts,
    }
}

fn host(id: AssetId, ip: Option<&str>, findings: Vec<NewScanFinding>) -> ScanHostResult {
    ScanHostResult {
        asset_id: id,
        ip: ip.map(str::to_owned),
        findings,
    }
}

async fn of(s: &SharedStore, id: AssetId) -> Vec<StoredScanFinding> {
    let f = ScanFindingFilter {
        asset: Some(id),
        ..ScanFindingFilter::default()
    };
    s.list_scan_findings(&f).await.unwrap()
}

pub(crate) async fn record_and_supersede(s: SharedStore) {
    let a = asset(&s, "centos6.example.org").await;
    let b = asset(&s, "win01.example.org").await;
    let first = import(
        "nessus",
        vec![
            host(
                a,
                Some("10.0.0.5"),
                vec![
                    sf("71584", Some("pixman"), ScanVerdict::Confirmed),
                    sf("64381", Some("nspr"), ScanVerdict::Contradicted),
                    sf("10863", None, ScanVerdict::Unverified),
                ],
            ),
            host(b, None, vec![sf("10863", None, ScanVerdict::Unverified)]),
        ],
    );
    let r = s.record_scan_import(&ctx(t(100)), &first).await.unwrap();
    assert_eq!(
        (r.scanner.as_str(), r.format.as_str(), r.file_name.as_str()),
        ("nessus", "xml", "nessus-scan.xml")
    );
    assert_eq!((r.started_at, r.finished_at), (Some(t(-600)), Some(t(-60))));
    assert_eq!((r.imported_at, r.report_name.as_str()), (t(100), "weekly"));
    assert_eq!(
        (r.hosts, r.findings, r.rejected, r.superseded),
        (2, 4, 2, 0)
    );
    let want = VerdictCounts {
        confirmed: 1,
        contradicted: 1,
        unverified: 2,
    };
    assert_eq!(r.verdicts, want);
    let ev = last_event(&s).await;
    assert_eq!(
        (ev.action.as_str(), ev.target_type.as_str()),
        ("scan.import", "scan_import")
    );
    assert_eq!(ev.target_id, Some(r.id.to_string()));
    let after = ev.after.unwrap();
    assert!(after.contains(&format!(r#""assets":[{a},{b}]"#)), "{after}");
    assert_eq!(
        s.list_scan_imports(None, 10).await.unwrap(),
        vec![r.clone()]
    );

    // Every field round-trips, in input order.
    let got = of(&s, a).await;
    assert_eq!(got.len(), 3);
    let want_a: Vec<NewScanFinding> = first.hosts[0].findings.clone();
    for (g, w) in got.iter().zip(&want_a) {
        assert_eq!(&g.finding, w);
        assert_eq!(
            (
                g.asset_id,
                g.scan_import_id,
                g.scanner.as_str(),
                g.imported_at
            ),
            (a, r.id, "nessus", t(100))
        );
    }
    assert!(got.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(s.find_assets_by_ip("10.0.0.5").await.unwrap()[0].id, a);
    assert!(s.find_assets_by_ip("10.0.0.6").await.unwrap().is_empty());

    // A newer Nessus scan of `a` supersedes its Nessus records; `b` keeps its own.
    let second = import(
        "nessus",
        vec![host(
            a,
            Some("10.0.0.5"),
            vec![sf("71584", Some("pixman"), ScanVerdict::Contradicted)],
        )],
    );
    let r2 = s.record_scan_import(&ctx(t(200)), &second).await.unwrap();
    assert_eq!((r2.hosts, r2.findings, r2.superseded), (1, 1, 3));
    assert!(r2.id > r.id);
    let got = of(&s, a).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].scan_import_id, got[0].finding.verdict),
        (r2.id, ScanVerdict::Contradicted)
    );
    assert_eq!(of(&s, b).await.len(), 1);

    // Another scanner's records sit beside them.
    let third = import(
        "openvas",
        vec![host(
            a,
            Some("10.0.0.7"),
            vec![sf("1.3.6.1.4.1.25623.1.0.1", None, ScanVerdict::Unverified)],
        )],
    );
    let r3 = s.record_scan_import(&ctx(t(300)), &third).await.unwrap();
    assert_eq!(r3.superseded, 0);
    let scanners: Vec<String> = of(&s, a).await.into_iter().map(|f| f.scanner).collect();
    assert_eq!(scanners, ["nessus", "openvas"]);

    // Addresses: first and last seen, the source that saw them last.
    let addrs = s.list_asset_addresses(a).await.unwrap();
    let view: Vec<_> = addrs
        .iter()
        .map(|d| {
            (
                d.ip.as_str(),
                d.source.as_str(),
                d.first_seen_at,
                d.last_seen_at,
            )
        })
        .collect();
    assert_eq!(
        view,
        [
            ("10.0.0.5", "scan:nessus", t(100), t(200)),
            ("10.0.0.7", "scan:openvas", t(300), t(300))
        ]
    );
    assert!(s.list_asset_addresses(b).await.unwrap().is_empty());
    assert_eq!(count_events(&s, "scan.import").await, 3);
    let imports = s.list_scan_imports(Some(r.id), 10).await.unwrap();
    assert_eq!(
        imports.iter().map(|i| i.id).collect::<Vec<_>>(),
        [r2.id, r3.id]
    );
}

pub(crate) async fn filters_and_paging(s: SharedStore) {
    let a = asset(&s, "big.example.org").await;
    let b = asset(&s, "small.example.org").await;
    // More rows than one multi-row statement holds.
    let many: Vec<NewScanFinding> = (0..1203)
        .map(|i| {
            let verdict = ScanVerdict::ALL[i % 3];
            let mut f = sf(&format!("{}", 100_000 + i), Some("openssl"), verdict);
            f.severity = ScanSeverity::ALL[i % 5];
            f.cvss = None;
            f.cves.clear();
            f
        })
        .collect();
    let r = s
        .record_scan_import(
            &ctx(t(10)),
            &import(
                "nessus",
                vec![
                    host(a, Some("192.0.2.1"), many),
                    host(
                        b,
                        Some("192.0.2.2"),
                        vec![sf("1", None, ScanVerdict::Unverified)],
                    ),
                ],
            ),
        )
        .await
        .unwrap();
    assert_eq!(r.findings, 1204);
    assert_eq!(
        r.verdicts,
        VerdictCounts {
            confirmed: 401,
            contradicted: 401,
            unverified: 402
        }
    );
    let list = |f: ScanFindingFilter| {
        let s = s.clone();
        async move { s.list_scan_findings(&f).await.unwrap() }
    };
    let all = list(ScanFindingFilter {
        limit: 5000,
        ..ScanFindingFilter::default()
    })
    .await;
    assert_eq!(all.len(), 1204);
    assert!(all[0].finding.cves.is_empty() && all[0].finding.cvss.is_none());
    let confirmed_high = list(ScanFindingFilter {
        asset: Some(a),
        verdict: Some(ScanVerdict::Confirmed),
        severity: Some(ScanSeverity::High),
        limit: 5000,
        ..ScanFindingFilter::default()
    })
    .await;
    // i % 3 == 0 and i % 5 == 3: i = 3 (mod 15) → 80 of 0..1203.
    assert_eq!(confirmed_high.len(), 80);
    assert!(confirmed_high
        .iter()
        .all(|f| f.finding.verdict == ScanVerdict::Confirmed
            && f.finding.severity == ScanSeverity::High));
    let of_b = list(ScanFindingFilter {
        asset: Some(b),
        scan_import: Some(r.id),
        ..ScanFindingFilter::default()
    })
    .await;
    assert_eq!(of_b.len(), 1);
    assert!(list(ScanFindingFilter {
        scan_import: Some(r.id + 1),
        ..ScanFindingFilter::default()
    })
    .await
    .is_empty());
    // Keyset pages cover everything once.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = list(ScanFindingFilter {
            after,
            limit: 500,
            ..ScanFindingFilter::default()
        })
        .await;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        seen.extend(page.into_iter().map(|f| f.id));
    }
    assert_eq!(seen, all.iter().map(|f| f.id).collect::<Vec<_>>());
}

pub(crate) async fn refused_and_cascade(s: SharedStore) {
    let a = asset(&s, "one.example.org").await;
    let b = asset(&s, "two.example.org").await;
    let events = count_events(&s, "scan.import").await;
    // An unknown asset refuses the whole import: nothing is stored.
    let bad = import(
        "nessus",
        vec![
            host(
                a,
                Some("198.51.100.1"),
                vec![sf("1", None, ScanVerdict::Unverified)],
            ),
            host(AssetId::new(999_999), None, vec![]),
        ],
    );
    let e = s.record_scan_import(&ctx(t(1)), &bad).await.unwrap_err();
    assert!(matches!(e, StoreError::NotFound { .. }), "{e}");
    let twice = import("nessus", vec![host(a, None, vec![]), host(a, None, vec![])]);
    let e = s.record_scan_import(&ctx(t(1)), &twice).await.unwrap_err();
    assert!(matches!(e, StoreError::Invalid(_)), "{e}");
    assert!(s.list_scan_imports(None, 10).await.unwrap().is_empty());
    assert!(of(&s, a).await.is_empty());
    assert!(s
        .find_assets_by_ip("198.51.100.1")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(count_events(&s, "scan.import").await, events);

    // An address shared by two assets (re-used, NAT): most recently seen first.
    let shared = Some("198.51.100.9");
    let one = |id| {
        import(
            "nessus",
            vec![host(
                id,
                shared,
                vec![sf("2", None, ScanVerdict::Unverified)],
            )],
        )
    };
    s.record_scan_import(&ctx(t(10)), &one(a)).await.unwrap();
    s.record_scan_import(&ctx(t(20)), &one(b)).await.unwrap();
    let ids = |v: Vec<patchwarden_store::Asset>| v.into_iter().map(|x| x.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.find_assets_by_ip("198.51.100.9").await.unwrap()),
        [b, a]
    );
    s.record_scan_import(&ctx(t(30)), &one(a)).await.unwrap();
    assert_eq!(
        ids(s.find_assets_by_ip("198.51.100.9").await.unwrap()),
        [a, b]
    );

    // Deleting an asset takes its records and addresses; the import stays.
    s.delete_asset(&ctx(t(40)), a).await.unwrap();
    assert!(of(&s, a).await.is_empty());
    assert_eq!(ids(s.find_assets_by_ip("198.51.100.9").await.unwrap()), [b]);
    assert!(matches!(
        s.list_asset_addresses(a).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(of(&s, b).await.len(), 1);
    assert_eq!(s.list_scan_imports(None, 10).await.unwrap().len(), 3);
}
