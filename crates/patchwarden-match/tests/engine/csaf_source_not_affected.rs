//! The real RHSA-2025:23414 (bind on RHEL 6 ELS): it fixes `bind-libs` in
//! `32:9.8.2-0.68.rc1.el6_10.17` and lists the source RPM `bind-….src` known_not_affected
//! in the same streams. An installed `bind-libs` `…el6_10.16` must get an open finding
//! fixed in `.17`, never one suppressed by the RHSA that fixes it.

use super::*;
use patchwarden_advisory::import_path;

const RHSA: &str = "../../../shared/fixtures/advisories/vunnel-test-fixtures/rhel/test-fixtures/csaf/advisories/2025/rhsa-2025_23414.json";
const OLD: &str = "32:9.8.2-0.68.rc1.el6_10.16";
const FIXED: &str = "32:9.8.2-0.68.rc1.el6_10.17";

fn rhel6() -> DistroRelease {
    DistroRelease {
        ecosystem: "rhel".into(),
        release: "6".into(),
    }
}

fn rpm(name: &str) -> InstalledPackage {
    InstalledPackage {
        name: name.into(),
        version: OLD.into(),
        arch: "x86_64".into(),
        source_name: Some("bind".into()),
        source_version: Some(OLD.into()),
    }
}

fn rhsa_index() -> AdvisoryIndex {
    let r = import_path(RHSA).unwrap();
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    AdvisoryIndex::build(r.advisories)
}

#[test]
fn fixed_bind_libs_is_not_suppressed_by_the_src_not_affected_of_its_own_fix() {
    let idx = rhsa_index();
    for name in ["bind-libs", "bind"] {
        let f = idx.match_package(&rhel6(), PackageFormat::Rpm, &rpm(name));
        assert_eq!(f.len(), 1, "{name}: {f:?}");
        assert_eq!(
            (
                f[0].advisory.as_str(),
                f[0].status,
                f[0].fixed.as_deref(),
                f[0].suppressed.as_deref()
            ),
            (
                "RHSA-2025:23414",
                FindingStatus::Vulnerable,
                Some(FIXED),
                None
            ),
            "{name}"
        );
        assert_eq!(f[0].cves, ["CVE-2021-25220", "CVE-2025-40778"]);
        assert_eq!(
            f[0].evidence,
            format!("installed {OLD} < fixed {FIXED} per RHSA-2025:23414, rhel:6")
        );
    }
    // Updated: nothing.
    let mut new = rpm("bind-libs");
    new.version = FIXED.into();
    new.source_version = Some(FIXED.into());
    assert!(idx
        .match_package(&rhel6(), PackageFormat::Rpm, &new)
        .is_empty());
    // A binary the RHSA names not affected (bind-chroot) gets no finding of its own.
    assert!(idx
        .match_package(&rhel6(), PackageFormat::Rpm, &rpm("bind-chroot"))
        .is_empty());
}

/// Another feed says `bind-chroot` is affected; the RHSA's binary `bind-chroot`
/// not-affected statement still suppresses that finding, with its reason once.
#[test]
fn binary_not_affected_still_suppresses_another_feeds_finding() {
    let mut idx = rhsa_index();
    idx.upsert(adv(
        "OSV-TEST-1",
        &["CVE-2021-25220"],
        vec![AffectedPackage {
            distro: rhel6(),
            scheme: PackageFormat::Rpm,
            name: "bind-chroot".into(),
            name_kind: NameKind::Binary,
            arches: vec![],
            state: fixed(FIXED),
        }],
    ));
    let f = idx.match_package(&rhel6(), PackageFormat::Rpm, &rpm("bind-chroot"));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        f[0].suppressed.as_deref(),
        Some("RHSA-2025:23414 says not affected: vulnerable_code_not_present")
    );
}

/// One not-affected statement that applies through both the binary and the source
/// name (here a package named like its source, with statements of both kinds) gives
/// its reason once; two advisories give two reasons.
#[test]
fn suppression_reasons_are_not_repeated() {
    let na = || PackageState::NotAffected {
        justification: Some("vulnerable_code_not_present".into()),
    };
    let mut bin_na = src("curl", na());
    bin_na.name_kind = NameKind::Binary;
    let idx = AdvisoryIndex::build(vec![
        adv("DSA-1", &["CVE-2024-1"], vec![src("curl", fixed("8.0-1"))]),
        adv("VEX-1", &["CVE-2024-1"], vec![bin_na, src("curl", na())]),
        adv("VEX-2", &["CVE-2024-1"], vec![src("curl", na())]),
    ]);
    let curl = pkg("curl", "7.88-1", Some(("curl", "7.88-1")));
    let f = idx.match_package(&deb12(), PackageFormat::Deb, &curl);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        f[0].suppressed.as_deref(),
        Some(
            "VEX-1 says not affected: vulnerable_code_not_present; \
             VEX-2 says not affected: vulnerable_code_not_present"
        )
    );
}
