//! Parse and compare-on-keys timings: `cargo bench -p patchwarden-version`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use divan::{black_box, Bencher};
use patchwarden_version::{parse, Scheme};

fn main() {
    divan::main();
}

/// Realistic versions per scheme (Debian security updates, EL errata, Alpine).
fn samples(scheme: Scheme) -> &'static [&'static str] {
    match scheme {
        Scheme::Deb => &[
            "1:2.38.1-5+deb12u3",
            "3.0.11-1~deb12u2",
            "2.36-9+deb12u4",
            "7.88.1-10+deb12u8",
        ],
        Scheme::Rpm => &[
            "1:3.0.7-27.el9_4.1",
            "2.28-225.el8_8.6",
            "5.14.0-427.24.1.el9_4",
            "0.26.2-5.1.el6_5",
        ],
        Scheme::Apk => &[
            "3.1.4-r6",
            "1.36.1-r29",
            "2.12_pre20231225-r0",
            "6.6.2p1-r0",
        ],
    }
}

#[divan::bench(args = Scheme::ALL)]
fn parse_version(bencher: Bencher, scheme: Scheme) {
    let inputs = samples(scheme);
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % inputs.len();
        parse(scheme, black_box(inputs[i])).unwrap()
    });
}

#[divan::bench(args = Scheme::ALL)]
fn compare_keys(bencher: Bencher, scheme: Scheme) {
    let keys: Vec<Vec<u8>> = samples(scheme)
        .iter()
        .map(|s| parse(scheme, s).unwrap().sort_key())
        .collect();
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % keys.len();
        black_box(&keys[i]).cmp(black_box(&keys[(i + 1) % keys.len()]))
    });
}

#[divan::bench(args = Scheme::ALL)]
fn compare_parsed(bencher: Bencher, scheme: Scheme) {
    let vs: Vec<_> = samples(scheme)
        .iter()
        .map(|s| parse(scheme, s).unwrap())
        .collect();
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % vs.len();
        black_box(&vs[i]).compare(black_box(&vs[(i + 1) % vs.len()]))
    });
}

#[divan::bench(args = Scheme::ALL)]
fn build_key(bencher: Bencher, scheme: Scheme) {
    let vs: Vec<_> = samples(scheme)
        .iter()
        .map(|s| parse(scheme, s).unwrap())
        .collect();
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % vs.len();
        black_box(&vs[i]).sort_key()
    });
}
