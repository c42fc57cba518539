//! This machine's real dpkg database against the real `dpkg-query`.

use patchwarden_inventory::dpkg;
use std::collections::BTreeSet;
use std::process::Command;

fn dpkg_query(format: &str) -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", format])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn real_status_file_matches_dpkg_query() {
    let Ok(status) = std::fs::read("/var/lib/dpkg/status") else {
        eprintln!("skipped: no /var/lib/dpkg/status on this machine");
        return;
    };
    let Some(abbrevs) = dpkg_query("${db:Status-Abbrev}\\n") else {
        eprintln!("skipped: dpkg-query is not available");
        return;
    };
    let parsed = dpkg::parse_status(&String::from_utf8_lossy(&status));
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);

    // The brief's oracle: `dpkg-query -W -f='${db:Status-Abbrev}\n' | grep -c '^ii'`.
    let ii = abbrevs.lines().filter(|l| l.starts_with("ii")).count();
    // What the parser counts as installed: state installed / triggers-*, any selection.
    let installed = abbrevs
        .lines()
        .filter(|l| matches!(l.chars().nth(1), Some('i' | 't' | 'W')))
        .count();
    assert!(ii > 0);
    assert!(ii <= installed);
    assert_eq!(parsed.packages.len(), installed);

    // Same records, field by field, from the status file and from dpkg-query.
    let tsv = dpkg_query(dpkg::DPKG_QUERY_FORMAT).unwrap();
    let queried = dpkg::parse_dpkg_query(&tsv);
    assert!(queried.warnings.is_empty(), "{:?}", queried.warnings);
    let a: BTreeSet<_> = parsed.packages.iter().collect();
    let b: BTreeSet<_> = queried.packages.iter().collect();
    assert_eq!(a, b);
}
