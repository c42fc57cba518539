//! Debian DSA/DLA/DTSA lists, the tracker JSON, and the Alpine secdb.

use super::*;

#[test]
fn dsa_dla_dtsa_lists() {
    // python3 -c "import re;h=a=f=c=0
    // for l in open('DSA.list'): (re.match(r'^\[[^\]]*\d[^\]]*\] D[SLT]+A-',l) and ...)"
    // (headers; headers with ≥1 `[rel] - pkg ver` line; such lines) →
    // DSA 5406/5383/6988, DLA 3534/3530/3535, DTSA 208/207/208
    let d = "debian-security-tracker-2023-04";
    let dsa = import(&format!("{d}/DSA.list"));
    assert_eq!(counts(&dsa), (5383, 6988, 0, 0));
    assert_eq!(dsa.skipped.len(), 23);
    let dla = import(&format!("{d}/DLA.list"));
    assert_eq!((counts(&dla), dla.skipped.len()), ((3530, 3535, 0, 0), 4));
    let dtsa = import(&format!("{d}/DTSA.list"));
    assert_eq!((counts(&dtsa), dtsa.skipped.len()), ((207, 208, 0, 0), 1));
    // grep -c '<not-affected>' DSA.list → 55
    let na = dsa.advisories.iter().flat_map(|a| &a.affected);
    assert_eq!(
        na.filter(|p| matches!(p.state, PackageState::NotAffected { .. }))
            .count(),
        55
    );

    let a = find(&dsa, "DSA-5380-1");
    assert_eq!(a.source, "dsa-list");
    assert_eq!(a.aliases, ["CVE-2023-1393"]);
    assert_eq!(a.title.as_deref(), Some("xorg-server - security update"));
    assert_eq!(a.published.unwrap().to_string(), "2023-03-29T00:00:00Z");
    let p = &a.affected[0];
    assert_eq!(
        (p.distro.to_string(), p.name.as_str()),
        ("debian:11".into(), "xorg-server")
    );
    assert_eq!(
        (p.name_kind, p.state.clone()),
        (NameKind::Source, fixed("2:1.20.11-1+deb11u6"))
    );
    let t = find(&dsa, "DSA-2198-1");
    assert_eq!(t.affected.len(), 2);
    assert_eq!(t.affected[0].distro.release, "5");
    let why = Some("shell_escape disabled".to_owned());
    assert_eq!(
        t.affected[0].state,
        PackageState::NotAffected { justification: why }
    );
    assert_eq!(
        (t.affected[1].distro.release.as_str(), &t.affected[1].state),
        ("6", &fixed("2.08.1"))
    );
    // The folder: 3 lists + CPE.list and dsa_dla_fixed.tsv (not feeds: skipped).
    let all = import(d);
    assert_eq!(
        (all.advisories.len(), all.files_read, all.rejected.len()),
        (9120, 5, 0)
    );
}

#[test]
fn debian_tracker_json() {
    // python3: per package, per CVE with a dict `releases`, count releases →
    // 6 CVEs, 25 statements (19 fixed, 4 <not-affected>, 2 end-of-life), 1 malformed
    // (chromium-browser/CVE-2022-0358 has `releases: []`)
    let r = import("vunnel-test-fixtures/debian/test-fixtures/input/debian.json");
    assert_eq!(counts(&r), (6, 25, 0, 1));
    assert_eq!(
        r.rejected[0].record.as_deref(),
        Some("chromium-browser/CVE-2022-0358")
    );
    let a = find(&r, "CVE-2008-7220");
    assert_eq!(a.source, "debian-tracker");
    assert_eq!(
        a.severity.as_ref().map(|s| s.level),
        Some(SeverityLevel::High)
    );
    let rel: Vec<String> = a
        .affected
        .iter()
        .map(|p| p.distro.release.clone())
        .collect();
    assert_eq!(rel, ["10", "8", "unstable", "9"]);
    assert!(a
        .affected
        .iter()
        .all(|p| p.state == fixed("1.6.0.2-1") && p.name == "prototypejs"));
    let states = r.advisories.iter().flat_map(|a| &a.affected);
    let wnf = states
        .filter(|p| matches!(p.state, PackageState::WillNotFix { .. }))
        .count();
    assert_eq!(wnf, 2);
    // osv.dev mock: 3 CVEs, 15 statements: 7 fixed, 5 not-affected, 3 open
    let m = import("osv-dev-testdata/vulnfeeds/test_data/debian");
    assert_eq!(counts(&m), (3, 15, 0, 0));
    let open = m.advisories.iter().flat_map(|a| &a.affected);
    assert_eq!(
        open.filter(|p| matches!(p.state, PackageState::AffectedNoFix { .. }))
            .count(),
        3
    );
}

#[test]
fn alpine_secdb() {
    // python3 -c "import yaml,glob; … per file distinct ids; (pkg,version,id) triples"
    // → 12196 advisories, 12866 statements, 5 with version 0 (not affected)
    let r = import("alpine-secdb-2020");
    assert_eq!(counts(&r), (12196, 12866, 0, 0));
    let na = r.advisories.iter().flat_map(|a| &a.affected);
    assert_eq!(
        na.filter(|p| matches!(p.state, PackageState::NotAffected { .. }))
            .count(),
        5
    );
    // vunnel v3.15: zlib 1.2.12-r0 fixes CVE-2018-25032 (16 ids, 16 statements)
    let v = import("vunnel-test-fixtures/alpine");
    assert_eq!(counts(&v), (16, 16, 0, 0));
    let a = find(&v, "CVE-2018-25032");
    let p = &a.affected[0];
    assert_eq!(
        (p.distro.to_string(), p.name.as_str()),
        ("alpine:3.15".into(), "zlib")
    );
    assert_eq!(
        (p.scheme, p.state.clone()),
        (PackageFormat::Apk, fixed("1.2.12-r0"))
    );
}
