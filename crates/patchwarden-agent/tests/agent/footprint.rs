//! Footprint figures (printed, not asserted as timings): idle RSS of `run`, and the
//! size of a full 2,000-package inventory check-in. Run with `--nocapture` to see them.

use crate::fake::Fake;
use crate::host::{wait_output, wait_until, Host};
use patchwarden_domain::asset::{Hostname, OsFamily, OsInfo};
use patchwarden_domain::package::{InstalledPackage, PackageFormat};
use patchwarden_wire::agent::CheckIn;
use patchwarden_wire::InventoryReport;
use std::io::Write;

const DEBIAN12: &str = "../../../shared/fixtures/inventories/debian12/bookworm_main_amd64.tsv";

#[test]
fn idle_rss_of_run_and_clean_stop_on_sigterm() {
    let fake = Fake::start();
    fake.with(|b| b.next_checkin_secs = 3600);
    let host = Host::new("");
    host.enroll(&fake.url());
    let child = host.spawn(&["run"]);
    let pid = child.id();
    wait_until(30, "the first check-in", || fake.received().len() == 1);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let threads = status.lines().find(|l| l.starts_with("Threads:")).unwrap();
    println!(
        "idle `patchwarden-agent run` ({} build): {rss}, {threads}",
        profile()
    );
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = wait_output(child, 10);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// 2,000 real Debian 12 packages, spread over the archive's list.
fn debian_packages(n: usize) -> Vec<InstalledPackage> {
    let text = std::fs::read_to_string(DEBIAN12).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    let step = rows.len() / n;
    rows.iter()
        .step_by(step)
        .take(n)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            InstalledPackage {
                name: f[0].into(),
                version: f[1].into(),
                arch: f[2].into(),
                source_name: (f[3] != f[0]).then(|| f[3].into()),
                source_version: (f[4] != f[1]).then(|| f[4].into()),
            }
        })
        .collect()
}

#[test]
fn a_full_inventory_of_2000_packages_gzips_small() {
    let packages = debian_packages(2000);
    assert_eq!(packages.len(), 2000);
    let report = InventoryReport::new(
        Hostname::parse("web-01.example.org").unwrap(),
        OsInfo {
            family: OsFamily::Linux,
            distribution: "debian".into(),
            release: "12".into(),
            arch: "amd64".into(),
        },
        Some("6.1.0-28-amd64".into()),
        PackageFormat::Deb,
        packages,
        jiff::Timestamp::now(),
    );
    report.check().unwrap();
    let checkin = CheckIn {
        agent_version: "0.1.0".into(),
        sent_at: jiff::Timestamp::now(),
        inventory_hash: report.inventory_hash.clone(),
        inventory: Some(report),
        pending_updates: None,
        kernel_running: Some("6.1.0-28-amd64".into()),
        reboot_required: false,
        restart_needed: Vec::new(),
        reports: vec![],
    };
    // As the agent sends it: framed (protocol revision 3), flate2 at the default level.
    let framed = checkin.to_framed().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&framed).unwrap();
    let gz = gz.finish().unwrap();
    println!(
        "full check-in, 2,000 Debian 12 packages: {} bytes framed, {} bytes gzipped",
        framed.len(),
        gz.len()
    );
    // The target: a full inventory of 2,000 packages in at most 50 KB gzipped.
    assert!(gz.len() <= 50 * 1024, "{} bytes", gz.len());
}
