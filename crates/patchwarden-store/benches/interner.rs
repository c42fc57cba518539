//! Package ids of one report from the interner's cache: `cargo bench -p
//! patchwarden-store --bench interner`.
//!
//! The cache holds a fleet's tuples (2,500 package names in 24 versions each, 60,000
//! tuples, several megabytes: more than the processor's caches hold near it). Each
//! report is a host of 1,500 of those packages, most at the fleet's current version and
//! one in ten at an older one; 64 such hosts are reported in turn, so a report's lines
//! are not in the processor's caches from the one before.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use divan::{black_box, Bencher};
use patchwarden_domain::package::{CheckedInventory, InstalledPackage, PackageFormat};
use patchwarden_store::inventory_sets::Interner;

fn main() {
    divan::main();
}

const NAMES: usize = 2_500;
const VERSIONS: usize = 24;
const PER_HOST: usize = 1_500;
const HOSTS: usize = 64;

fn package(name: usize, version: usize) -> InstalledPackage {
    InstalledPackage {
        name: format!("lib{name:05}-common-utils"),
        version: format!("1:{}.{version}.2-3+deb12u{version}", name % 7),
        arch: "amd64".into(),
        source_name: Some(format!("src{name:05}")),
        source_version: Some(format!("1:{}.{version}.2-3+deb12u{version}", name % 7)),
    }
}

/// A small deterministic generator (xorshift), so that every run reports the same hosts.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % n as u64).unwrap()
    }
}

fn fleet() -> (Interner, Vec<Vec<InstalledPackage>>) {
    let interner = Interner::default();
    let mut id = 0;
    interner.remember(
        (0..NAMES)
            .flat_map(|n| (0..VERSIONS).map(move |v| (n, v)))
            .map(|(n, v)| {
                id += 1;
                (id, package(n, v))
            }),
    );
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let hosts = (0..HOSTS)
        .map(|_| {
            // Most hosts share the first names; some run packages of their own.
            (0..PER_HOST)
                .map(|i| {
                    let name = if rng.below(20) == 0 {
                        PER_HOST + rng.below(NAMES - PER_HOST)
                    } else {
                        i
                    };
                    let version = if rng.below(10) == 0 {
                        rng.below(VERSIONS)
                    } else {
                        0
                    };
                    (name, version)
                })
                .collect::<std::collections::BTreeMap<_, _>>()
                .into_iter()
                .map(|(n, v)| package(n, v))
                .collect()
        })
        .collect();
    (interner, hosts)
}

#[divan::bench(sample_count = 2000)]
fn ids_of_a_report(bencher: Bencher) {
    let (interner, hosts) = fleet();
    let checked: Vec<CheckedInventory<'_>> = hosts
        .iter()
        .map(|h| CheckedInventory::new(PackageFormat::Deb, h).unwrap())
        .collect();
    let mut next = 0;
    bencher.bench_local(|| {
        next = (next + 1) % checked.len();
        black_box(interner.ids_of(&checked[next]))
    });
}
