//! Full re-match of a synthetic fleet against the whole AlmaLinux OSV feed.
//!
//! Hosts: `PATCHWARDEN_BENCH_HOSTS` (default 100,000) AlmaLinux 9 hosts of 1,500
//! packages each. Package names and versions come from the real feed: for each of the
//! 1,500 most-mentioned AlmaLinux 9 package names, a host has one of that package's
//! published fixed versions: 70 % the newest, 25 % one update behind, 5 % any older
//! one (some hosts behind on security updates, most current).
//!
//! Run: `cargo bench -p patchwarden-match --bench fleet`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use patchwarden_domain::advisory::{DistroRelease, PackageState};
use patchwarden_domain::package::{InstalledPackage, PackageFormat};
use patchwarden_match::fleet::{evaluate, evaluate_host, PackageTable};
use patchwarden_match::AdvisoryIndex;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

const FEED: &str = "../../../shared/fixtures/advisories/osv-almalinux";
const PACKAGES_PER_HOST: usize = 1500;

struct Fleet {
    index: AdvisoryIndex,
    table: PackageTable,
    hosts: Vec<Vec<u32>>,
}

fn hosts_wanted() -> usize {
    std::env::var("PATCHWARDEN_BENCH_HOSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

static FLEET: LazyLock<Fleet> = LazyLock::new(|| {
    let imported = patchwarden_advisory::import_path(FEED).expect("the AlmaLinux feed");
    let alma9 = DistroRelease {
        ecosystem: "almalinux".into(),
        release: "9".into(),
    };
    // Fixed versions per package name in AlmaLinux 9.
    let mut versions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for a in &imported.advisories {
        for ap in a.affected.iter().filter(|ap| ap.distro == alma9) {
            if let PackageState::Fixed { ranges } = &ap.state {
                for f in ranges.iter().filter_map(|r| r.fixed.clone()) {
                    versions.entry(ap.name.clone()).or_default().insert(f);
                }
            }
        }
    }
    let mut names: Vec<(&String, &BTreeSet<String>)> = versions.iter().collect();
    names.sort_by_key(|(n, v)| (std::cmp::Reverse(v.len()), (*n).clone()));
    names.truncate(PACKAGES_PER_HOST);
    let mut table = PackageTable::new();
    // Candidate entries per name: "0.1-1.el9" (behind everything) plus every fixed one.
    let candidates: Vec<Vec<u32>> = names
        .iter()
        .map(|(name, vs)| {
            let mut vs: Vec<String> = vs.iter().cloned().collect();
            vs.sort_by(|a, b| {
                patchwarden_version::compare_str(patchwarden_version::Scheme::Rpm, a, b)
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            vs.into_iter()
                .map(|v| {
                    let p = InstalledPackage {
                        name: (*name).clone(),
                        version: v,
                        arch: "x86_64".into(),
                        source_name: None,
                        source_version: None,
                    };
                    table.intern(&alma9, PackageFormat::Rpm, &p)
                })
                .collect()
        })
        .collect();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let hosts = (0..hosts_wanted())
        .map(|_| {
            candidates
                .iter()
                .map(|c| {
                    // 70 % of packages are current, 25 % one security update behind,
                    // 5 % at any older published version.
                    let r = next();
                    let last = c.len() - 1;
                    let i = match r % 20 {
                        0..=13 => last,
                        14..=18 => last.saturating_sub(1),
                        _ => (r as usize / 20) % c.len(),
                    };
                    c[i]
                })
                .collect()
        })
        .collect();
    let index = AdvisoryIndex::build(imported.advisories);
    Fleet {
        index,
        table,
        hosts,
    }
});

fn main() {
    let f = &*FLEET;
    let results = evaluate(&f.index, &f.table);
    let total = results.count_fleet(&f.hosts, 2);
    eprintln!(
        "fleet: {} hosts x {} packages, {} unique package tuples, {} advisories, {} findings ({} per host)",
        f.hosts.len(),
        PACKAGES_PER_HOST,
        f.table.len(),
        f.index.advisories().len(),
        total,
        total / f.hosts.len().max(1)
    );
    divan::main();
}

/// Evaluate every unique tuple once, then fan the results out to every host.
#[divan::bench(sample_count = 5)]
fn full_rematch(b: divan::Bencher) {
    let f = &*FLEET;
    b.bench(|| {
        let results = evaluate(&f.index, &f.table);
        results.count_fleet(&f.hosts, 2)
    });
}

/// One host's inventory changed: re-match that host alone (every package looked up,
/// nothing cached).
#[divan::bench(sample_count = 100)]
fn one_host_rematch(b: divan::Bencher) {
    let f = &*FLEET;
    let host = &f.hosts[0];
    b.bench(|| {
        let mut hits = Vec::new();
        for (d, fmt, p) in host.iter().filter_map(|id| f.table.entry(*id)) {
            if f.index.mentions(d, p) {
                f.index.hits(d, fmt, p, &mut hits);
            }
        }
        hits.len()
    });
}

/// The same host with every finding materialised (evidence strings, CVE lists,
/// suppression): the cost of writing all of a host's findings out.
#[divan::bench(sample_count = 20)]
fn one_host_findings_materialised(b: divan::Bencher) {
    let f = &*FLEET;
    let host = &f.hosts[0];
    b.bench(|| evaluate_host(&f.index, &f.table, host).len());
}
