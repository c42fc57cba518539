//! Red Hat CSAF 2.0 advisories and CSAF VEX.

use super::*;

#[test]
fn csaf_advisories_and_vex() {
    // `python3 tests/feeds/csaf_count.py <fixture dir> new` (distinct (platform distro,
    // name, src?, status, fixed EVR) over product_status) → 1+1+7+51+53+30+46+13 = 202
    // statements in 8 RHSAs. Was 203 (`… old`): RHSA-2025:23414 lists `bind-….src`
    // known_not_affected in the same RHEL 6 streams where its binaries are fixed; that
    // source statement is now dropped ("new" drops a not-affected .src when the same
    // vulnerability lists a fixed/affected product of the same release with its name or
    // EVR, and a not-affected binary listed fixed/affected there; only that one statement
    // changes in the 8 files). See `rhsa_src_not_affected_does_not_hide_fixed_binaries`.
    let r = import("vunnel-test-fixtures/rhel/test-fixtures/csaf");
    assert_eq!(counts(&r), (8, 202, 0, 0));
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
    // RHSA-2025:23414: bind on ELS 6, 4 fixed + 3 binaries not affected
    // (vulnerable_code_not_present)
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

/// RHSA-2025:23414 fixes bind on RHEL 6 ELS in `32:9.8.2-0.68.rc1.el6_10.17` and, in the
/// same two streams (`6Server-ELS.EXTENSION`, `6Server-optional-ELS.EXTENSION`, both
/// `cpe:/o:redhat:rhel_els:6`), lists the source RPM `bind-….el6_10.17.src` as
/// known_not_affected. As a source-name statement that would suppress every binary built
/// from bind — `bind-libs` included, which this very RHSA fixes. Fixed wins.
#[test]
fn rhsa_src_not_affected_does_not_hide_fixed_binaries() {
    let r =
        import("vunnel-test-fixtures/rhel/test-fixtures/csaf/advisories/2025/rhsa-2025_23414.json");
    assert_eq!(counts(&r), (1, 7, 0, 0));
    let b = find(&r, "RHSA-2025:23414");
    assert_eq!(b.aliases, ["CVE-2021-25220", "CVE-2025-40778"]);
    assert!(b.affected.iter().all(|p| p.distro.to_string() == "rhel:6"));
    let on6 = |name: &str| -> Vec<_> {
        b.affected
            .iter()
            .filter(|p| p.name == name)
            .map(|p| (p.name_kind, p.state.clone(), p.arches.clone()))
            .collect()
    };
    let fix = fixed("32:9.8.2-0.68.rc1.el6_10.17");
    assert_eq!(
        on6("bind-libs"),
        [(
            NameKind::Binary,
            fix.clone(),
            vec![
                "i686".into(),
                "s390".into(),
                "s390x".into(),
                "x86_64".into()
            ]
        )]
    );
    // Only the fixed binary `bind`: no source-name `bind` statement at all.
    assert_eq!(
        on6("bind"),
        [(
            NameKind::Binary,
            fix,
            vec!["i686".into(), "s390x".into(), "x86_64".into()]
        )]
    );
    // Not affected: only the binaries the RHSA names so, each by its own name.
    let mut na: Vec<_> = b
        .affected
        .iter()
        .filter(|p| matches!(p.state, PackageState::NotAffected { .. }))
        .map(|p| (p.name.as_str(), p.name_kind))
        .collect();
    na.sort_by_key(|(name, _)| *name);
    assert_eq!(
        na,
        [
            ("bind-chroot", NameKind::Binary),
            ("bind-debuginfo", NameKind::Binary),
            ("bind-devel", NameKind::Binary)
        ]
    );
    assert!(r.skipped.is_empty(), "{:?}", r.skipped);
}

/// Within one vulnerability and one release, a binary both fixed and known_not_affected
/// is fixed (reported as skipped); a not-affected `.src` of another release stays.
#[test]
fn csaf_fixed_wins_over_not_affected_in_the_same_release() {
    let doc = serde_json::json!({
        "document": {"category": "csaf_security_advisory", "tracking": {"id": "RHSA-TEST:1"}},
        "product_tree": {"branches": [{"category": "vendor", "name": "Red Hat", "branches": [
            {"category": "product_name", "name": "8",
             "product": {"product_id": "BaseOS-8", "name": "8",
                         "product_identification_helper": {"cpe": "cpe:/o:redhat:enterprise_linux:8::baseos"}}},
            {"category": "product_name", "name": "9",
             "product": {"product_id": "BaseOS-9", "name": "9",
                         "product_identification_helper": {"cpe": "cpe:/o:redhat:enterprise_linux:9::baseos"}}}
        ]}]},
        "vulnerabilities": [{
            "cve": "CVE-2099-0001",
            "product_status": {
                "fixed": ["BaseOS-8:foo-1.0-2.el8.x86_64"],
                "known_not_affected": ["BaseOS-8:foo-1.0-2.el8.x86_64", "BaseOS-8:foo-1.0-2.el8.src",
                                       "BaseOS-9:foo-1.0-2.el9.src"]
            }
        }]
    });
    let r = patchwarden_advisory::csaf::parse_json("t.json", doc);
    assert_eq!(counts(&r), (1, 2, 0, 0), "{:?}", r.rejected);
    let a = &r.advisories[0];
    let got: Vec<_> = a
        .affected
        .iter()
        .map(|p| (p.distro.to_string(), p.name_kind, p.state.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("rhel:8".to_owned(), NameKind::Binary, fixed("1.0-2.el8")),
            (
                "rhel:9".to_owned(),
                NameKind::Source,
                PackageState::NotAffected {
                    justification: None
                }
            ),
        ]
    );
    assert_eq!(r.skipped.len(), 1, "{:?}", r.skipped);
}
