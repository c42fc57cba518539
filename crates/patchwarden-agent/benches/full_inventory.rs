//! The agent's side of a full inventory report of 2,000 packages: `cargo bench -p
//! patchwarden-agent --bench full_inventory`.
//!
//! The target is at most 100 ms of CPU and 50 KB gzipped. The root is a
//! directory with a dpkg status file of 2,000 real Debian 12 packages (every n-th of
//! the archive's list in `../shared/fixtures/inventories/debian12`), `etc/os-release`
//! and `etc/hostname`. One iteration does what the agent does for a changed inventory
//! (`checkin::read_inventory` and `client::gzip`): reads and parses the status file and
//! the OS files, builds the report (sorted, canonical text, SHA-256 content hash),
//! frames the check-in (protocol 3) and gzips it at flate2's default level. All of it
//! runs on one thread, so the time divan reports is CPU time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use divan::{black_box, Bencher};
use flate2::write::GzEncoder;
use flate2::Compression;
use patchwarden_domain::asset::Hostname;
use patchwarden_wire::agent::CheckIn;
use patchwarden_wire::InventoryReport;
use std::io::Write;
use std::path::Path;

fn main() {
    divan::main();
}

const PACKAGES: usize = 2_000;

const DEBIAN12: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/inventories/debian12/bookworm_main_amd64.tsv"
);

/// A dpkg status file of `n` installed packages, every n-th of the archive's list.
fn status_file(n: usize) -> String {
    let text = std::fs::read_to_string(DEBIAN12).expect("the Debian 12 package list");
    let rows: Vec<&str> = text.lines().skip(1).collect();
    let mut out = String::new();
    for row in rows.iter().step_by(rows.len() / n).take(n) {
        let f: Vec<&str> = row.split('\t').collect();
        let (name, version, arch, source, source_version, section, priority, size) =
            (f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]);
        out.push_str(&format!(
            "Package: {name}\nStatus: install ok installed\nPriority: {priority}\n\
             Section: {section}\nInstalled-Size: {size}\n\
             Maintainer: Debian Maintainers <maintainers@example.org>\n\
             Architecture: {arch}\n"
        ));
        if source != name || source_version != version {
            if source_version == version {
                out.push_str(&format!("Source: {source}\n"));
            } else {
                out.push_str(&format!("Source: {source} ({source_version})\n"));
            }
        }
        out.push_str(&format!(
            "Version: {version}\nDescription: package {name}\n two lines of description\n\n"
        ));
    }
    out
}

fn root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("var/lib/dpkg/status", &status_file(PACKAGES));
    write(
        "etc/os-release",
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
         VERSION_ID=\"12\"\nID=debian\n",
    );
    write("etc/hostname", "web-01.example.org\n");
    dir
}

/// The gzipped, framed check-in of the inventory under `root`, as the agent sends it.
fn full_checkin(root: &Path) -> Vec<u8> {
    let inv = patchwarden_inventory::collect_local(root).unwrap();
    let hostname = Hostname::parse(inv.hostname.as_deref().unwrap()).unwrap();
    let report = InventoryReport::new(
        hostname,
        inv.os,
        inv.kernel,
        inv.format,
        inv.packages,
        jiff::Timestamp::now(),
    );
    let checkin = CheckIn {
        agent_version: env!("CARGO_PKG_VERSION").to_owned(),
        sent_at: report.collected_at,
        inventory_hash: report.inventory_hash.clone(),
        kernel_running: report.kernel.clone(),
        reboot_required: false,
        inventory: Some(report),
        pending_updates: None,
        restart_needed: Vec::new(),
        reports: Vec::new(),
    };
    let framed = checkin.to_framed().unwrap();
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&framed).unwrap();
    gz.finish().unwrap()
}

#[divan::bench(sample_count = 30)]
fn read_build_frame_gzip_2000(bencher: Bencher) {
    let dir = root();
    let body = full_checkin(dir.path());
    let inv = patchwarden_inventory::collect_local(dir.path()).unwrap();
    assert_eq!(inv.packages.len(), PACKAGES, "{:?}", inv.warnings.first());
    assert!(inv.warnings.is_empty(), "{:?}", inv.warnings.first());
    eprintln!(
        "{PACKAGES} packages: {} bytes gzipped (target: at most 50 KB)",
        body.len()
    );
    bencher.bench(|| full_checkin(black_box(dir.path())));
}
