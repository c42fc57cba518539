//! Import benchmarks on the real AlmaLinux OSV feed (5,680 files).
//! Run: `cargo bench -p patchwarden-advisory --bench import`

use std::path::Path;

fn main() {
    divan::main();
}

const ALMA: &str = "../../../shared/fixtures/advisories/osv-almalinux/advisories";

/// The whole AlmaLinux OSV directory tree: read, detect, parse, normalise.
#[divan::bench(sample_count = 10)]
fn alma_feed_directory() -> usize {
    let r = patchwarden_advisory::import_path(Path::new(ALMA)).map(|r| r.advisories.len());
    divan::black_box(r.unwrap_or(0))
}
