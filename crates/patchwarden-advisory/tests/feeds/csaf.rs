//! Red Hat CSAF 2.0 advisories and CSAF VEX.

use super::*;

#[test]
fn csaf_advisories_and_vex() {
    // python3 /tmp/csaf_count.py (distinct (platform distro, name, src?, status,
    // fixed EVR) over product_status) → 1+8+53+46+51+30+1+13 = 203 statements in 8 RHSAs
    let r = import("vunnel-test-fixtures/rhel/test-fixtures/csaf");
    assert_eq!(counts(&r), (8, 203, 0, 0));
    let a = find(&r, "RHSA-2024:6163");
    assert_eq!(
        (a.source.as_str(), a.aliases.clone()),
        ("csaf", vec!["CVE-2024-8088".to_owned()])
    );
    assert_eq!(
        a.severity.as_ref().map(|s| s.level),
        Some(SeverityLevel::Medium)
    );
    assert_eq!(
        (a.cvss[0].version, a.cvss[0].base_score),
        (CvssVersion::V3_1, 5.3)
    );
    let p = &a.affected[0];
    assert_eq!(
        (p.distro.to_string(), p.name.as_str()),
        ("rhel:9".into(), "python3.9")
    );
    assert_eq!(
        (p.name_kind, p.state.clone()),
        (NameKind::Source, fixed("3.9.18-3.el9_4.5"))
    );
    // RHSA-2025:23414: bind on ELS 6, 4 fixed + 4 not affected (vulnerable_code_not_present)
    let b = find(&r, "RHSA-2025:23414");
    let chroot = b.affected.iter().find(|p| p.name == "bind-chroot").unwrap();
    assert_eq!(chroot.distro.to_string(), "rhel:6");
    let why = Some("vulnerable_code_not_present".to_owned());
    assert_eq!(
        chroot.state,
        PackageState::NotAffected { justification: why }
    );
    assert_eq!(chroot.arches, ["i686", "s390x", "x86_64"]);
    let libs = b.affected.iter().find(|p| p.name == "bind-libs").unwrap();
    assert_eq!(libs.state, fixed("32:9.8.2-0.68.rc1.el6_10.17"));
    // VEX: one document, CVE-2026-12345: fixed, known_affected, known_not_affected
    let v = import(
        "vunnel-test-fixtures/hummingbird/test-fixtures/input/advisories/2026/cve-2026-12345.json",
    );
    assert_eq!(counts(&v), (1, 3, 0, 0));
    let x = &v.advisories[0];
    assert_eq!(
        (x.id.as_str(), x.source.as_str()),
        ("CVE-2026-12345", "csaf-vex")
    );
    let na = x
        .affected
        .iter()
        .find(|p| matches!(p.state, PackageState::NotAffected { .. }))
        .unwrap();
    assert_eq!(
        (na.distro.to_string(), na.name.as_str()),
        ("hummingbird:1".into(), "otherpkg")
    );
    let aff = x
        .affected
        .iter()
        .find(|p| p.distro.to_string() == "rhel:9")
        .unwrap();
    assert_eq!(aff.state, PackageState::AffectedNoFix { ranges: vec![] });
}
