//! `patchwarden scan` on real inventories against the whole AlmaLinux OSV feed, checked
//! against an independent computation with real librpm (tests/oracle/alma_findings.py).

use std::collections::BTreeSet;
use std::process::Command;

const FEED: &str = "../../../shared/fixtures/advisories/osv-almalinux";
const INV: &str = "../../../shared/fixtures/inventories/rpm-qa";

fn python_rpm() -> bool {
    Command::new("/usr/bin/python3")
        .args(["-c", "import rpm"])
        .status()
        .is_ok_and(|s| s.success())
}

/// `name\tEVR` lines from the fixture (TSV as is; the rpm 4.16 JSON dump converted).
fn name_evr_lines(file: &str) -> String {
    let text = std::fs::read_to_string(format!("{INV}/{file}")).unwrap();
    if file.ends_with(".json") {
        let v: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        v.iter()
            .filter(|p| p["name"] != "gpg-pubkey")
            .map(|p| {
                let epoch = p["epoch"]
                    .as_i64()
                    .filter(|e| *e != 0)
                    .map(|e| format!("{e}:"))
                    .unwrap_or_default();
                format!(
                    "{}\t{epoch}{}-{}\n",
                    p["name"].as_str().unwrap(),
                    p["version"].as_str().unwrap(),
                    p["release"].as_str().unwrap()
                )
            })
            .collect()
    } else {
        text.lines()
            .filter(|l| !l.starts_with("gpg-pubkey"))
            .map(|l| {
                let mut f = l.split('\t');
                format!("{}\t{}\n", f.next().unwrap(), f.next().unwrap())
            })
            .collect()
    }
}

fn ours(inv: &std::path::Path, release: &str) -> BTreeSet<(String, String, String)> {
    let out = Command::new(env!("CARGO_BIN_EXE_patchwarden"))
        .args([
            "scan",
            "--json",
            "--distro",
            &format!("almalinux:{release}"),
            "--advisories",
            FEED,
            "--rpm-qa",
        ])
        .arg(inv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // 5,680 records, 37 of them present twice (byte-identical in almalinux8/ and
    // almalinux9/): 5,637 distinct advisories.
    assert_eq!(report["advisories"], 5637);
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["package"].as_str().unwrap().to_owned(),
                f["advisory"].as_str().unwrap().to_owned(),
                f["fixed"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn oracle(inv: &std::path::Path, release: &str) -> BTreeSet<(String, String, String)> {
    let out = Command::new("/usr/bin/python3")
        .args(["tests/oracle/alma_findings.py", FEED, release])
        .arg(inv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_owned(), f[1].to_owned(), f[2].to_owned())
        })
        .collect()
}

#[test]
fn ubi_inventories_as_almalinux_match_real_librpm() {
    if !python_rpm() {
        patchwarden_testkit::skip(
            "/usr/bin/python3 with python3-rpm (Debian packages python3 and python3-rpm)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut total = 0;
    for (file, release) in [("ubi8_plain.tsv", "8"), ("rpm-4.16_ubi9.json", "9")] {
        let inv = dir.path().join(format!("{file}.tsv"));
        std::fs::write(&inv, name_evr_lines(file)).unwrap();
        let ours = ours(&inv, release);
        let expected = oracle(&inv, release);
        assert!(
            expected.len() > 50,
            "{file}: only {} expected findings",
            expected.len()
        );
        let missing: Vec<_> = expected.difference(&ours).take(5).collect();
        let extra: Vec<_> = ours.difference(&expected).take(5).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{file}: missing {missing:?}, extra {extra:?}"
        );
        total += ours.len();
    }
    assert!(total > 100);
}

#[test]
fn scan_reads_this_machine_and_fails_on_a_level() {
    // A synthetic Debian advisory against this machine's real libc6 source: found,
    // explained, and --fail-on turns it into exit 1.
    let Ok(out) = Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "libc6"])
        .output()
    else {
        patchwarden_testkit::skip("dpkg-query (a Debian machine)");
        return;
    };
    let version = String::from_utf8(out.stdout).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let osv = serde_json::json!({
        "id": "TEST-2026-0001", "modified": "2026-01-01T00:00:00Z", "aliases": ["CVE-2099-0001"],
        "affected": [{"package": {"ecosystem": "Debian:12", "name": "glibc"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": format!("{version}+zz1")}]}]}],
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]
    });
    std::fs::write(dir.path().join("t.json"), osv.to_string()).unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_patchwarden"))
            .args(["scan", "--advisories"])
            .arg(dir.path().join("t.json"))
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("TEST-2026-0001") && text.contains("libc6") && text.contains("high"),
        "{text}"
    );
    assert_eq!(run(&["--fail-on", "high"]).status.code(), Some(1));
    assert_eq!(run(&["--fail-on", "critical"]).status.code(), Some(0));
}
