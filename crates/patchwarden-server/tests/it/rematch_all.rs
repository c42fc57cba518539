//! The fleet re-match (`rematch_all`: each unique package evaluated once, fanned out)
//! and the per-asset re-match find exactly the same findings, on the real UBI 9
//! `rpm -qa` list treated as AlmaLinux 9 hosts against the real AlmaLinux 9 OSV feed.

use patchwarden_domain::asset::{AssetKind, Criticality, Environment, Hostname, OsFamily, OsInfo};
use patchwarden_domain::clock::{Clock, SystemClock};
use patchwarden_domain::package::{InstalledPackage, PackageFormat};
use patchwarden_server::config::Config;
use patchwarden_server::service::matching::{rematch_all, rematch_asset, store_import};
use patchwarden_server::AppState;
use patchwarden_store::{AuditCtx, FindingFilter, NewAsset, Store};
use std::sync::Arc;

const FEED: &str = "../../../shared/fixtures/advisories/osv-almalinux/advisories/almalinux9";
const UBI9: &str = "../../../shared/fixtures/inventories/rpm-qa/rpm-4.16_ubi9.json";

fn ctx() -> AuditCtx {
    AuditCtx::system("test", jiff::Timestamp::now())
}

fn ubi9() -> Vec<InstalledPackage> {
    let text = std::fs::read_to_string(UBI9).unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    rows.iter()
        .filter(|p| p["name"] != "gpg-pubkey")
        .map(|p| {
            let s = |k: &str| p[k].as_str().unwrap().to_owned();
            let epoch = p["epoch"]
                .as_i64()
                .filter(|e| *e != 0)
                .map(|e| format!("{e}:"))
                .unwrap_or_default();
            InstalledPackage {
                name: s("name"),
                version: format!("{epoch}{}-{}", s("version"), s("release")),
                arch: s("arch"),
                source_name: None,
                source_version: None,
            }
        })
        .collect()
}

fn alma(host: &str) -> NewAsset {
    NewAsset {
        hostname: Hostname::parse(host).unwrap(),
        kind: AssetKind::Server,
        os: OsInfo {
            family: OsFamily::Linux,
            distribution: "almalinux".into(),
            release: "9.4".into(),
            arch: "aarch64".into(),
        },
        environment: Environment::Production,
        criticality: Criticality::Standard,
        owner: None,
        groups: vec![],
        protected_data: false,
    }
}

/// A server state on a SQLite database in `dir`, with the AlmaLinux 9 feed imported
/// when `feed`.
async fn state(dir: &tempfile::TempDir, feed: bool) -> AppState {
    let mut cfg = Config::default();
    cfg.database.url = format!("sqlite://{}", dir.path().join("pw.db").display());
    let store: Arc<dyn Store> = patchwarden_server::server::open_store(&cfg).await.unwrap();
    let st = AppState::new(store, Arc::new(SystemClock) as Arc<dyn Clock>, cfg);
    if feed {
        store_import(
            &st,
            &ctx(),
            patchwarden_advisory::import_path(FEED).unwrap(),
        )
        .await
        .unwrap();
    }
    st
}

/// Every open finding with every column a sync writes.
async fn open_findings(st: &AppState) -> Vec<String> {
    let mut rows: Vec<String> = st
        .store
        .list_findings(&FindingFilter {
            include_suppressed: true,
            limit: 100_000,
            ..FindingFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|f| {
            format!(
                "{:?} {:?} {:?} {} {}",
                f.asset_id, f.finding, f.level, f.first_seen_at, f.deadline_at
            )
        })
        .collect();
    rows.sort();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_rematch_and_the_per_asset_rematch_agree() {
    let dir = tempfile::tempdir().unwrap();
    let st = state(&dir, true).await;

    // Four hosts: the whole list, the same list again (one shared inventory), every
    // other package of it, and the whole list with a second installed version of every
    // package (as kernels are), written with an explicit epoch 0: the same version, so
    // the same advisories hit both, and the one whose version sorts first as text
    // ("0:…") must be the one reported, by either path.
    let all = ubi9();
    let half: Vec<InstalledPackage> = all.iter().step_by(2).cloned().collect();
    let mut twice = all.clone();
    twice.extend(
        all.iter()
            .filter(|p| !p.version.contains(':'))
            .map(|p| InstalledPackage {
                version: format!("0:{}", p.version),
                ..p.clone()
            }),
    );
    let mut assets = Vec::new();
    for (host, packages) in [
        ("ubi-a", &all),
        ("ubi-b", &all),
        ("ubi-c", &half),
        ("ubi-d", &twice),
    ] {
        let a = st.store.create_asset(&ctx(), &alma(host)).await.unwrap();
        st.store
            .replace_inventory(&ctx(), a.id, PackageFormat::Rpm, packages)
            .await
            .unwrap();
        assets.push(a.id);
    }

    let (hosts, cold) = rematch_all(&st, &ctx()).await.unwrap();
    assert_eq!(hosts, 4);
    assert!(cold.opened > 0, "the old UBI 9 list has findings: {cold:?}");
    assert_eq!((cold.kept, cold.closed), (0, 0), "{cold:?}");
    let opened = open_findings(&st).await;
    assert_eq!(opened.len(), cold.opened as usize);
    let of = |asset| {
        let st = &st;
        async move {
            st.store
                .list_findings(&FindingFilter {
                    asset: Some(asset),
                    limit: 100_000,
                    ..FindingFilter::default()
                })
                .await
                .unwrap()
        }
    };
    let (a, d) = (of(assets[0]).await, of(assets[3]).await);
    assert_eq!(a.len(), d.len(), "the second versions add no finding");
    let key = |f: &patchwarden_store::StoredFinding| {
        (
            f.finding.package.clone(),
            f.finding.arch.clone(),
            f.finding.advisory.clone(),
        )
    };
    let expected: std::collections::BTreeMap<_, _> = a
        .iter()
        .map(|f| {
            let v = &f.finding.installed;
            let reported = if v.contains(':') {
                v.clone()
            } else {
                std::cmp::min(v.clone(), format!("0:{v}"))
            };
            (key(f), reported)
        })
        .collect();
    let got: std::collections::BTreeMap<_, _> = d
        .iter()
        .map(|f| (key(f), f.finding.installed.clone()))
        .collect();
    assert_eq!(got, expected, "the version first as text is reported");
    assert!(got.values().filter(|v| v.starts_with("0:")).count() > 100);
    // The per-asset path finds the same findings: nothing to open, close or change.
    for a in &assets {
        let c = rematch_asset(&st, &ctx(), *a).await.unwrap();
        assert_eq!((c.opened, c.closed), (0, 0), "asset {a:?}: {c:?}");
    }
    assert_eq!(open_findings(&st).await, opened);
    // And the fleet path again: everything kept.
    let (_, again) = rematch_all(&st, &ctx()).await.unwrap();
    assert_eq!(
        (again.opened, again.kept, again.closed),
        (0, cold.opened, 0),
        "{again:?}"
    );
    assert_eq!(open_findings(&st).await, opened);
}

/// An advisory that names a package both as a binary and as a source package hits it
/// twice; either path reports one finding, and both agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_advisory_that_hits_a_package_twice_is_one_finding() {
    use patchwarden_domain::advisory::{
        Advisory, AffectedPackage, DistroRelease, NameKind, PackageState, VersionRange,
    };
    let dir = tempfile::tempdir().unwrap();
    let st = state(&dir, false).await;
    let statement = |name_kind, fixed: &str| AffectedPackage {
        distro: DistroRelease {
            ecosystem: "almalinux".into(),
            release: "9".into(),
        },
        scheme: PackageFormat::Rpm,
        name: "openssl".into(),
        name_kind,
        arches: vec![],
        state: PackageState::Fixed {
            ranges: vec![VersionRange {
                introduced: None,
                fixed: Some(fixed.into()),
                last_affected: None,
                limit: None,
            }],
        },
    };
    let advisory = Advisory {
        id: "ALSA-TWICE".into(),
        source: "osv".into(),
        aliases: vec!["CVE-2099-0001".into()],
        published: None,
        modified: None,
        title: None,
        severity: None,
        cvss: vec![],
        affected: vec![
            statement(NameKind::Binary, "1:3.0.7-25.el9"),
            statement(NameKind::Source, "1:3.0.7-26.el9"),
        ],
        references: vec![],
    };
    store_import(
        &st,
        &ctx(),
        patchwarden_advisory::ImportResult {
            advisories: vec![advisory],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let a = st.store.create_asset(&ctx(), &alma("twice")).await.unwrap();
    let openssl = InstalledPackage {
        name: "openssl".into(),
        version: "1:3.0.7-24.el9".into(),
        arch: "x86_64".into(),
        source_name: None,
        source_version: None,
    };
    st.store
        .replace_inventory(&ctx(), a.id, PackageFormat::Rpm, &[openssl])
        .await
        .unwrap();
    let (_, fleet) = rematch_all(&st, &ctx()).await.unwrap();
    assert_eq!(fleet.opened, 1, "{fleet:?}");
    let found = open_findings(&st).await;
    assert_eq!(found.len(), 1);
    assert!(
        found[0].contains("fixed 1:3.0.7-25.el9"),
        "the first hit: {found:?}"
    );
    let one = rematch_asset(&st, &ctx(), a.id).await.unwrap();
    assert_eq!((one.opened, one.kept, one.closed), (0, 1, 0), "{one:?}");
    assert_eq!(open_findings(&st).await, found);
}

/// The per-asset path matches each distinct package once per loaded index and shares
/// the result with every host that has it; an import (advisories or enrichment)
/// empties that memo, so no host is matched or levelled against what it replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_package_is_matched_once_until_an_import_changes_the_index() {
    use patchwarden_domain::advisory::{
        Advisory, AffectedPackage, CveEnrichment, DistroRelease, KevEntry, NameKind, PackageState,
        VersionRange,
    };
    use patchwarden_domain::level::Level;
    let dir = tempfile::tempdir().unwrap();
    let st = state(&dir, true).await;
    let memo_len = || async {
        st.engine
            .read(st.store.as_ref(), &st.config.levels)
            .await
            .unwrap()
            .memo
            .len()
    };
    let all = ubi9();
    let mut assets = Vec::new();
    for host in ["memo-a", "memo-b"] {
        let a = st.store.create_asset(&ctx(), &alma(host)).await.unwrap();
        st.store
            .replace_inventory(&ctx(), a.id, PackageFormat::Rpm, &all)
            .await
            .unwrap();
        assets.push(a.id);
    }
    let findings_of = |asset| {
        let st = &st;
        async move {
            let mut rows: Vec<String> = st
                .store
                .list_findings(&FindingFilter {
                    asset: Some(asset),
                    include_suppressed: true,
                    limit: 100_000,
                    ..FindingFilter::default()
                })
                .await
                .unwrap()
                .into_iter()
                .map(|f| format!("{:?} {:?}", f.finding, f.level))
                .collect();
            rows.sort();
            rows
        }
    };

    assert_eq!(memo_len().await, 0);
    let first = rematch_asset(&st, &ctx(), assets[0]).await.unwrap();
    assert!(first.opened > 100, "{first:?}");
    let remembered = memo_len().await;
    assert!(
        remembered > 50 && remembered < all.len(),
        "only the packages an advisory names: {remembered} of {}",
        all.len()
    );
    let second = rematch_asset(&st, &ctx(), assets[1]).await.unwrap();
    assert_eq!(second.opened, first.opened);
    assert_eq!(
        memo_len().await,
        remembered,
        "the second host matched nothing anew"
    );
    assert_eq!(findings_of(assets[0]).await, findings_of(assets[1]).await);

    // A new advisory for a package both hosts have: the re-match it starts must see it.
    let bash = all.iter().find(|p| p.name == "bash").unwrap();
    let advisory = Advisory {
        id: "ALSA-MEMO".into(),
        source: "osv".into(),
        aliases: vec!["CVE-2099-4242".into()],
        published: None,
        modified: None,
        title: None,
        severity: None,
        cvss: vec![],
        affected: vec![AffectedPackage {
            distro: DistroRelease {
                ecosystem: "almalinux".into(),
                release: "9".into(),
            },
            scheme: PackageFormat::Rpm,
            name: "bash".into(),
            name_kind: NameKind::Binary,
            arches: vec![],
            state: PackageState::Fixed {
                ranges: vec![VersionRange {
                    introduced: None,
                    fixed: Some("99:1-1.el9".into()),
                    last_affected: None,
                    limit: None,
                }],
            },
        }],
        references: vec![],
    };
    let summary = store_import(
        &st,
        &ctx(),
        patchwarden_advisory::ImportResult {
            advisories: vec![advisory],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(summary.findings.opened, 2, "{summary:?}");
    for a in &assets {
        let rows = findings_of(*a).await;
        assert!(
            rows.iter()
                .any(|r| r.contains("ALSA-MEMO") && r.contains(&bash.version)),
            "asset {a:?} has the new advisory's finding"
        );
    }

    // Enrichment moves levels: KEV for the new advisory's CVE makes it critical. A
    // host matched after that (from the memo, were it kept) must not set it back.
    let kev = CveEnrichment {
        cve: "CVE-2099-4242".into(),
        kev: Some(KevEntry {
            date_added: jiff::civil::date(2099, 1, 1),
            due_date: None,
            known_ransomware: false,
            vendor: "GNU".into(),
            product: "bash".into(),
            name: "test".into(),
        }),
        epss: None,
        cvss: vec![],
    };
    store_import(
        &st,
        &ctx(),
        patchwarden_advisory::ImportResult {
            enrichment: vec![kev],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let level_of_memo = |rows: Vec<String>| {
        rows.into_iter()
            .find(|r| r.contains("ALSA-MEMO"))
            .map(|r| r.ends_with(&format!("{:?}", Level::Critical)))
    };
    assert_eq!(level_of_memo(findings_of(assets[0]).await), Some(true));
    let again = rematch_asset(&st, &ctx(), assets[1]).await.unwrap();
    assert_eq!((again.opened, again.closed), (0, 0), "{again:?}");
    for a in &assets {
        assert_eq!(
            level_of_memo(findings_of(*a).await),
            Some(true),
            "asset {a:?} keeps the critical level"
        );
    }
}
