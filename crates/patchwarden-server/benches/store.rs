//! End-to-end figures on the embedded SQLite store.
//!
//! - `import_alma_feed`: the whole AlmaLinux OSV feed (5,680 records), already parsed,
//!   stored into a fresh database (one transaction per 2,000 advisories).
//! - `one_new_advisory_propagated`: a fleet of `PATCHWARDEN_BENCH_ASSETS` (default 1,000)
//!   AlmaLinux 9 assets of 300 packages each, 5 % of them with an old `zlib`; one new
//!   advisory naming `zlib` is imported: stored, the assets that have `zlib` found,
//!   re-matched and their findings recorded.
//!
//! - `full_rematch_into_sqlite`: `PATCHWARDEN_BENCH_REMATCH_HOSTS` (default 1,000)
//!   AlmaLinux 9 hosts × 1,500 packages — the 1,500 packages the AlmaLinux 9 feed patches
//!   most, each host at the newest fixed version (70 %), the one before (25 %) or an older
//!   one (5 %), as the match crate's fleet benchmark builds them — re-matched against the
//!   whole feed with `rematch_all`, end to end into SQLite: once on a store without
//!   findings (every finding written), then again with nothing changed (every finding
//!   compared, none written), then the real CISA KEV catalogue is imported (findings
//!   re-levelled in place). Each is printed once (the setup is too heavy for samples).
//!
//! Run: `cargo bench -p patchwarden-server --bench store`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use patchwarden_domain::advisory::{
    Advisory, AffectedPackage, DistroRelease, NameKind, PackageState, VersionRange,
};
use patchwarden_domain::asset::{AssetKind, Criticality, Environment, Hostname, OsFamily, OsInfo};
use patchwarden_domain::clock::{Clock, SystemClock};
use patchwarden_domain::package::{InstalledPackage, PackageFormat};
use patchwarden_server::config::Config;
use patchwarden_server::service::matching::store_import;
use patchwarden_server::AppState;
use patchwarden_store::{AuditCtx, NewAsset, Store};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock};

const FEED: &str = "../../../shared/fixtures/advisories/osv-almalinux";

static RT: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
});

static ALMA: LazyLock<Vec<Advisory>> =
    LazyLock::new(|| patchwarden_advisory::import_path(FEED).unwrap().advisories);

async fn state(dir: &std::path::Path) -> AppState {
    let mut cfg = Config::default();
    cfg.database.url = format!("sqlite://{}", dir.join("bench.db").display());
    let store: Arc<dyn Store> = patchwarden_server::server::open_store(&cfg).await.unwrap();
    AppState::new(store, Arc::new(SystemClock) as Arc<dyn Clock>, cfg)
}

fn ctx() -> AuditCtx {
    AuditCtx::system("bench", jiff::Timestamp::now())
}

fn main() {
    // The fleet re-match logs where its time went.
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::stderr)
        .try_init();
    if std::env::var_os("PATCHWARDEN_BENCH_SKIP_REMATCH").is_none() {
        full_rematch_into_sqlite();
    }
    divan::main();
}

/// Per package name of the AlmaLinux 9 feed, its fixed versions, oldest first; the
/// 1,500 names with the most.
fn alma9_versions() -> Vec<(String, Vec<String>)> {
    use std::collections::HashMap;
    let mut by_name: HashMap<String, Vec<String>> = HashMap::new();
    for a in ALMA.iter() {
        for ap in &a.affected {
            if ap.distro.release != "9" || ap.name_kind != NameKind::Binary {
                continue;
            }
            if let PackageState::Fixed { ranges } = &ap.state {
                for r in ranges {
                    if let Some(f) = &r.fixed {
                        by_name.entry(ap.name.clone()).or_default().push(f.clone());
                    }
                }
            }
        }
    }
    let mut names: Vec<(String, Vec<String>)> = by_name
        .into_iter()
        .map(|(n, mut v)| {
            v.sort_by(|a, b| {
                patchwarden_version::compare_str(patchwarden_version::Scheme::Rpm, a, b)
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            v.dedup();
            (n, v)
        })
        .collect();
    names.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    names.truncate(1500);
    names
}

fn full_rematch_into_sqlite() {
    let hosts: usize = std::env::var("PATCHWARDEN_BENCH_REMATCH_HOSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let versions = alma9_versions();
    let dir = tempfile::tempdir().unwrap();
    RT.block_on(async {
        let st = state(dir.path()).await;
        let imported = patchwarden_advisory::ImportResult {
            advisories: ALMA.clone(),
            ..Default::default()
        };
        store_import(&st, &ctx(), imported).await.unwrap();
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let started = std::time::Instant::now();
        // Made as they are stored (a fleet's inventories at once would not fit).
        let inventories = (0..hosts).map(|_| -> Vec<InstalledPackage> {
            versions
                .iter()
                .map(|(name, v)| {
                    let roll = next() % 100;
                    let pick = if roll < 70 || v.len() == 1 {
                        v.len() - 1
                    } else if roll < 95 {
                        v.len() - 2
                    } else {
                        (next() % v.len() as u64) as usize
                    };
                    InstalledPackage {
                        name: name.clone(),
                        version: v[pick].clone(),
                        arch: "x86_64".into(),
                        source_name: None,
                        source_version: None,
                    }
                })
                .collect()
        });
        // Stored as agents' reports arrive: many at once, written with group commit.
        use futures::StreamExt;
        futures::stream::iter(inventories.enumerate())
            .for_each_concurrent(32, |(i, pkgs)| {
                let st = &st;
                async move {
                    let a = st
                        .store
                        .create_asset(&ctx(), &alma_asset(&format!("fleet-{i}")))
                        .await
                        .unwrap();
                    st.store
                        .replace_inventory(&ctx(), a.id, PackageFormat::Rpm, &pkgs)
                        .await
                        .unwrap();
                }
            })
            .await;
        println!(
            "full_rematch_into_sqlite: {hosts} hosts × {} packages stored in {:.1?}",
            versions.len(),
            started.elapsed()
        );
        for pass in ["no findings stored yet", "nothing changed"] {
            let started = std::time::Instant::now();
            let (n, change) = patchwarden_server::service::matching::rematch_all(&st, &ctx())
                .await
                .unwrap();
            let took = started.elapsed();
            println!(
                "full_rematch_into_sqlite ({pass}): {n} hosts in {took:.2?} \
                 ({:.0} hosts/s; opened {}, kept {}, closed {})",
                n as f64 / took.as_secs_f64(),
                change.opened,
                change.kept,
                change.closed
            );
        }
        // The daily enrichment case: the real CISA KEV catalogue arrives; findings of the
        // advisories naming a listed CVE are re-levelled in place, no host re-matched.
        let kev = patchwarden_advisory::import_path(KEV).unwrap();
        let started = std::time::Instant::now();
        let s = store_import(&st, &ctx(), kev).await.unwrap();
        println!(
            "full_rematch_into_sqlite (CISA KEV imported): {:.2?}, {} CVEs enriched, \
             {} open findings re-levelled, {} hosts re-matched",
            started.elapsed(),
            s.enrichment_changed,
            s.findings_relevelled,
            s.assets_rematched
        );
    });
}

const KEV: &str =
    "../../../shared/fixtures/advisories/cisa-kev/known_exploited_vulnerabilities.json";

fn alma_asset(host: &str) -> NewAsset {
    NewAsset {
        hostname: Hostname::parse(host).unwrap(),
        kind: AssetKind::Server,
        os: OsInfo {
            family: OsFamily::Linux,
            distribution: "almalinux".into(),
            release: "9.4".into(),
            arch: "x86_64".into(),
        },
        environment: Environment::Production,
        criticality: Criticality::Standard,
        owner: None,
        groups: vec![],
        protected_data: false,
    }
}

#[divan::bench(sample_count = 5)]
fn import_alma_feed(b: divan::Bencher) {
    let feed = &*ALMA;
    b.with_inputs(|| {
        let dir = tempfile::tempdir().unwrap();
        let st = RT.block_on(state(dir.path()));
        (dir, st)
    })
    .bench_local_values(|(dir, st)| {
        RT.block_on(async {
            let imported = patchwarden_advisory::ImportResult {
                advisories: feed.clone(),
                ..Default::default()
            };
            let s = store_import(&st, &ctx(), imported).await.unwrap();
            assert!(s.advisories.inserted > 5000);
        });
        drop(dir);
    });
}

fn assets_wanted() -> usize {
    std::env::var("PATCHWARDEN_BENCH_ASSETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

fn zlib_advisory(n: u32) -> Advisory {
    Advisory {
        id: format!("BENCH-ZLIB-{n}"),
        source: "bench".into(),
        aliases: vec![format!("CVE-2099-{n}")],
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
            name: "zlib".into(),
            name_kind: NameKind::Binary,
            arches: vec![],
            state: PackageState::Fixed {
                ranges: vec![VersionRange {
                    introduced: None,
                    fixed: Some(format!("1.2.11-{}.el9", 100 + n)),
                    last_affected: None,
                    limit: None,
                }],
            },
        }],
        references: vec![],
    }
}

#[divan::bench(sample_count = 10)]
fn one_new_advisory_propagated(b: divan::Bencher) {
    let dir = tempfile::tempdir().unwrap();
    let st = RT.block_on(async {
        let st = state(dir.path()).await;
        let imported = patchwarden_advisory::ImportResult {
            advisories: ALMA.clone(),
            ..Default::default()
        };
        store_import(&st, &ctx(), imported).await.unwrap();
        for i in 0..assets_wanted() {
            let a = st
                .store
                .create_asset(&ctx(), &alma_asset(&format!("alma-{i}")))
                .await
                .unwrap();
            let mut pkgs: Vec<InstalledPackage> = (0..299)
                .map(|p| InstalledPackage {
                    name: format!("bench-pkg-{p}"),
                    version: "1.0-1.el9".into(),
                    arch: "x86_64".into(),
                    source_name: None,
                    source_version: None,
                })
                .collect();
            if i % 20 == 0 {
                pkgs.push(InstalledPackage {
                    name: "zlib".into(),
                    version: "1.2.11-40.el9".into(),
                    arch: "x86_64".into(),
                    source_name: None,
                    source_version: None,
                });
            }
            st.store
                .replace_inventory(&ctx(), a.id, PackageFormat::Rpm, &pkgs)
                .await
                .unwrap();
        }
        // Warm the index.
        drop(
            st.engine
                .read(st.store.as_ref(), &st.config.levels)
                .await
                .unwrap(),
        );
        st
    });
    let n = AtomicU32::new(0);
    b.bench_local(|| {
        let k = n.fetch_add(1, Ordering::Relaxed);
        RT.block_on(async {
            let imported = patchwarden_advisory::ImportResult {
                advisories: vec![zlib_advisory(k)],
                ..Default::default()
            };
            let s = store_import(&st, &ctx(), imported).await.unwrap();
            assert_eq!(s.assets_rematched, assets_wanted().div_ceil(20));
        });
    });
}
