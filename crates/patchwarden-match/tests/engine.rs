#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use patchwarden_domain::advisory::*;
use patchwarden_domain::package::{InstalledPackage, PackageFormat};
use patchwarden_match::fleet::{match_fleet, Host};
use patchwarden_match::{AdvisoryIndex, FindingStatus};

fn deb12() -> DistroRelease {
    DistroRelease {
        ecosystem: "debian".into(),
        release: "12".into(),
    }
}

fn adv(id: &str, cves: &[&str], affected: Vec<AffectedPackage>) -> Advisory {
    Advisory {
        id: id.into(),
        source: "test".into(),
        aliases: cves.iter().map(|s| s.to_string()).collect(),
        published: None,
        modified: None,
        title: None,
        severity: None,
        cvss: vec![],
        affected,
        references: vec![],
    }
}

fn src(name: &str, state: PackageState) -> AffectedPackage {
    AffectedPackage {
        distro: deb12(),
        scheme: PackageFormat::Deb,
        name: name.into(),
        name_kind: NameKind::Source,
        arches: vec![],
        state,
    }
}

fn fixed(v: &str) -> PackageState {
    PackageState::Fixed {
        ranges: vec![VersionRange {
            introduced: None,
            fixed: Some(v.into()),
            last_affected: None,
            limit: None,
        }],
    }
}

fn pkg(name: &str, version: &str, source: Option<(&str, &str)>) -> InstalledPackage {
    InstalledPackage {
        name: name.into(),
        version: version.into(),
        arch: "amd64".into(),
        source_name: source.map(|s| s.0.into()),
        source_version: source.map(|s| s.1.into()),
    }
}

#[test]
fn debian_revision_suffixes_decide_and_evidence_explains() {
    let idx = AdvisoryIndex::build(vec![adv(
        "DSA-5532-1",
        &["CVE-2023-5363"],
        vec![src("openssl", fixed("3.0.11-1~deb12u2"))],
    )]);
    let old = pkg(
        "libssl3",
        "3.0.11-1~deb12u1",
        Some(("openssl", "3.0.11-1~deb12u1")),
    );
    let f = idx.match_package(&deb12(), PackageFormat::Deb, &old);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].status, FindingStatus::Vulnerable);
    assert_eq!(f[0].fixed.as_deref(), Some("3.0.11-1~deb12u2"));
    assert_eq!(f[0].cves, vec!["CVE-2023-5363"]);
    assert_eq!(
        f[0].evidence,
        "source openssl 3.0.11-1~deb12u1 < fixed 3.0.11-1~deb12u2 per DSA-5532-1, debian:12"
    );
    // The fixed build, and a backport with a higher revision, are not flagged.
    for v in [
        "3.0.11-1~deb12u2",
        "3.0.11-1~deb12u2+b1",
        "3.0.13-1~deb12u1",
    ] {
        let p = pkg("libssl3", v, Some(("openssl", v)));
        assert!(
            idx.match_package(&deb12(), PackageFormat::Deb, &p)
                .is_empty(),
            "{v}"
        );
    }
    // Another release's data does not apply.
    let deb11 = DistroRelease {
        ecosystem: "debian".into(),
        release: "11".into(),
    };
    assert!(idx
        .match_package(&deb11, PackageFormat::Deb, &old)
        .is_empty());
}

#[test]
fn vex_not_affected_suppresses_with_the_reason() {
    let idx = AdvisoryIndex::build(vec![
        adv("DSA-1", &["CVE-2024-1"], vec![src("curl", fixed("8.0-1"))]),
        adv(
            "VEX-1",
            &["CVE-2024-1"],
            vec![src(
                "curl",
                PackageState::NotAffected {
                    justification: Some("vulnerable_code_not_present".into()),
                },
            )],
        ),
    ]);
    let f = idx.match_package(&deb12(), PackageFormat::Deb, &pkg("curl", "7.88-1", None));
    assert_eq!(f.len(), 1);
    assert_eq!(
        f[0].suppressed.as_deref(),
        Some("VEX-1 says not affected: vulnerable_code_not_present")
    );
}

#[test]
fn no_fix_will_not_fix_ranges_and_bad_versions() {
    let idx = AdvisoryIndex::build(vec![
        adv(
            "T-1",
            &["CVE-1"],
            vec![src("a", PackageState::AffectedNoFix { ranges: vec![] })],
        ),
        adv(
            "T-2",
            &["CVE-2"],
            vec![src(
                "b",
                PackageState::WillNotFix {
                    reason: Some("minor issue".into()),
                },
            )],
        ),
        adv(
            "T-3",
            &["CVE-3"],
            vec![src(
                "c",
                PackageState::Fixed {
                    ranges: vec![VersionRange {
                        introduced: Some("2.0".into()),
                        fixed: Some("2.5".into()),
                        last_affected: None,
                        limit: None,
                    }],
                },
            )],
        ),
        adv("T-4", &["CVE-4"], vec![src("d", fixed("1:"))]),
    ]);
    assert_eq!(
        idx.rejected.len(),
        1,
        "the unparsable fixed version is reported"
    );
    let m = |n: &str, v: &str| idx.match_package(&deb12(), PackageFormat::Deb, &pkg(n, v, None));
    assert_eq!(m("a", "1.0")[0].status, FindingStatus::NoFixYet);
    assert_eq!(m("b", "1.0")[0].status, FindingStatus::WillNotFix);
    assert!(m("b", "1.0")[0].evidence.contains("minor issue"));
    assert!(m("c", "1.9").is_empty(), "before introduced");
    assert_eq!(m("c", "2.0").len(), 1);
    assert!(m("c", "2.5").is_empty(), "fixed is exclusive");
    assert!(m("d", "1.0").is_empty());
}

#[test]
fn fleet_evaluates_each_unique_package_once() {
    let idx = AdvisoryIndex::build(vec![adv(
        "DSA-9",
        &["CVE-9"],
        vec![src("zlib", fixed("1.3-1"))],
    )]);
    let d = deb12();
    let a = vec![
        pkg("zlib1g", "1.2-1", Some(("zlib", "1.2-1"))),
        pkg("bash", "5.2-1", None),
    ];
    let b = vec![pkg("zlib1g", "1.3-1", Some(("zlib", "1.3-1")))];
    let hosts: Vec<Host<'_>> = (0..100)
        .map(|i| Host {
            distro: &d,
            format: PackageFormat::Deb,
            packages: if i % 2 == 0 { &a } else { &b },
        })
        .collect();
    let r = match_fleet(&idx, &hosts);
    assert_eq!(
        r.unique_evaluated, 2,
        "zlib 1.2 and zlib 1.3; bash is never looked at"
    );
    assert_eq!(r.per_host.iter().filter(|f| !f.is_empty()).count(), 50);
}

#[test]
fn upsert_replaces_an_advisory_in_place() {
    let mut idx = AdvisoryIndex::build(vec![adv(
        "DSA-1",
        &["CVE-1"],
        vec![src("zlib", fixed("1.3-1"))],
    )]);
    let p = pkg("zlib1g", "1.3-1", Some(("zlib", "1.3-1")));
    assert!(idx
        .match_package(&deb12(), PackageFormat::Deb, &p)
        .is_empty());
    // The advisory is revised: the fix moved to 1.3-2.
    idx.upsert(adv("DSA-1", &["CVE-1"], vec![src("zlib", fixed("1.3-2"))]));
    let f = idx.match_package(&deb12(), PackageFormat::Deb, &p);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].fixed.as_deref(), Some("1.3-2"));
    assert_eq!(idx.advisories().len(), 1);
    // Revised again to name another package only: zlib is no longer mentioned.
    idx.upsert(adv("DSA-1", &["CVE-1"], vec![src("curl", fixed("8.0-1"))]));
    assert!(!idx.mentions(&deb12(), &p));
    assert_eq!(idx.len(), 1);
    // A new advisory is added alongside.
    idx.upsert(adv("DSA-2", &["CVE-2"], vec![src("zlib", fixed("1.4-1"))]));
    assert_eq!(idx.match_package(&deb12(), PackageFormat::Deb, &p).len(), 1);
    assert_eq!(idx.advisory("DSA-2").map(|a| a.id.as_str()), Some("DSA-2"));
}

/// A package is mentioned by its own name in a binary statement, or by its source name
/// (its own name when it has none) in a source statement; the release found once
/// answers as the index does.
#[test]
fn a_package_is_mentioned_by_binary_or_source_name() {
    let mut binary = src("curl", fixed("8.0-1"));
    binary.name_kind = NameKind::Binary;
    let idx = AdvisoryIndex::build(vec![
        adv("DSA-1", &["CVE-1"], vec![src("zlib", fixed("1.3-2"))]),
        adv("DSA-2", &["CVE-2"], vec![binary]),
    ]);
    let release = idx.release(&deb12()).expect("debian 12 has statements");
    let cases: [(&str, Option<&str>, bool); 7] = [
        // Source statement on zlib: its binaries, and zlib itself without a source.
        ("zlib1g", Some("zlib"), true),
        ("zlib", None, true),
        ("zlib", Some("zlib"), true),
        // zlib1g built from nothing named: its own name has no statement.
        ("zlib1g", None, false),
        // A binary named like the source but built from another source.
        ("zlib", Some("other"), false),
        // Binary statement on curl: whatever its source is called.
        ("curl", Some("curl-src"), true),
        // A binary statement does not name packages built from a source called curl.
        ("libcurl4", Some("curl"), false),
    ];
    for (name, source, want) in cases {
        assert_eq!(
            release.mentions_name(name, source),
            want,
            "{name} from {source:?}"
        );
        assert_eq!(idx.mentions_name(&deb12(), name, source), want);
    }
    let noble = DistroRelease {
        ecosystem: "ubuntu".into(),
        release: "24.04".into(),
    };
    assert!(idx.release(&noble).is_none());
    assert!(!idx.mentions_name(&noble, "zlib1g", Some("zlib")));
}

#[path = "engine/csaf_source_not_affected.rs"]
mod csaf_source_not_affected;
#[path = "engine/last_affected.rs"]
mod last_affected;
#[path = "engine/limit.rs"]
mod limit;
