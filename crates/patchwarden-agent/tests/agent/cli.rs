//! Runs the built `patchwarden-agent` binary against a temporary root.
//!
//! Attribution: the dpkg status file is from google/osv-scalibr's test data
//! (Apache-2.0), via /work/shared/fixtures/inventories/format-samples-osv-scalibr.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

const STATUS_FIXTURE: &str =
    "../../../shared/fixtures/inventories/format-samples-osv-scalibr/dpkg-var-lib-dpkg-status-valid";

fn agent(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_patchwarden-agent"))
        .args(args)
        .output()
        .unwrap()
}

fn debian_root(root: &Path, hostname: Option<&str>) {
    std::fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::copy(STATUS_FIXTURE, root.join("var/lib/dpkg/status")).unwrap();
    std::fs::write(
        root.join("etc/os-release"),
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
    )
    .unwrap();
    if let Some(h) = hostname {
        std::fs::write(root.join("etc/hostname"), format!("{h}\n")).unwrap();
    }
}

#[test]
fn inventory_json_is_the_wire_report() {
    let dir = tempfile::tempdir().unwrap();
    debian_root(dir.path(), Some("Web-01.example.org"));
    let out = agent(&["inventory", "--root", dir.path().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let report: patchwarden_wire::InventoryReport = serde_json::from_slice(&out.stdout).unwrap();
    report.check().unwrap();
    assert_eq!(report.hostname.as_str(), "web-01.example.org");
    assert_eq!(report.format.as_str(), "deb");
    assert_eq!(report.os.distribution, "debian");
    assert_eq!(report.os.release, "12");
    assert_eq!(report.os.arch, "amd64");
    assert_eq!(report.kernel, None);
    assert_eq!(report.package_count(), 7);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The packages travel as the inventory's canonical text (protocol 2).
    let lines: Vec<&str> = json["packages_text"].as_str().unwrap().lines().collect();
    assert_eq!(lines.len(), 7);
    assert!(
        lines.contains(&"util-linux-extra\tamd64\t2.38.1-5+b1\tutil-linux\t2.38.1-5"),
        "{lines:#?}"
    );
    assert_eq!(json["inventory_hash"].as_str().unwrap().len(), 64);
    assert!(json["collected_at"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn inventory_table_and_hostname_flag() {
    let dir = tempfile::tempdir().unwrap();
    debian_root(dir.path(), None);
    let root = dir.path().to_str().unwrap();
    let out = agent(&[
        "inventory",
        "--root",
        root,
        "--format",
        "table",
        "--hostname",
        "db-2",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("host:      db-2"), "{text}");
    assert!(text.contains("packages:  7"), "{text}");
    let row = text.lines().find(|l| l.starts_with("libacl1 ")).unwrap();
    assert!(row.ends_with("  acl"), "{row}");

    // Without --hostname and with no host name under the root: a clear error.
    let out = agent(&["inventory", "--root", root]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pass --hostname"), "{err}");
}

#[test]
fn missing_database_and_help() {
    let dir = tempfile::tempdir().unwrap();
    let out = agent(&["inventory", "--root", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no package database"), "{err}");

    let out = agent(&["inventory", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for word in ["--root", "--format", "json", "table", "dpkg"] {
        assert!(help.contains(word), "{word} missing from: {help}");
    }
}
