//! Ranges that end at their last affected version (OSV `last_affected`): inclusive,
//! compared with the version sort keys, reported as affected with no fix yet.

use super::*;

fn up_to(introduced: Option<&str>, last: &str) -> VersionRange {
    VersionRange {
        introduced: introduced.map(str::to_owned),
        fixed: None,
        last_affected: Some(last.into()),
        limit: None,
    }
}

fn no_fix(ranges: Vec<VersionRange>) -> PackageState {
    PackageState::AffectedNoFix { ranges }
}

fn alma9() -> DistroRelease {
    DistroRelease {
        ecosystem: "almalinux".into(),
        release: "9".into(),
    }
}

fn rpm_bin(name: &str, state: PackageState) -> AffectedPackage {
    AffectedPackage {
        distro: alma9(),
        scheme: PackageFormat::Rpm,
        name: name.into(),
        name_kind: NameKind::Binary,
        arches: vec![],
        state,
    }
}

#[test]
fn deb_last_affected_is_inclusive_with_epochs_and_tildes() {
    let idx = AdvisoryIndex::build(vec![
        adv(
            "OSV-2024-1",
            &["CVE-2024-1"],
            vec![src("libfoo", no_fix(vec![up_to(None, "1.2-3")]))],
        ),
        adv(
            "OSV-2024-2",
            &["CVE-2024-2"],
            vec![src("bar", no_fix(vec![up_to(Some("1:1.0-1"), "1:2.0-1")]))],
        ),
    ]);
    assert!(idx.rejected.is_empty(), "{:?}", idx.rejected);
    let m = |n: &str, v: &str| idx.match_package(&deb12(), PackageFormat::Deb, &pkg(n, v, None));

    let f = m("libfoo", "1.2-3");
    assert_eq!(f.len(), 1, "equal to last affected is affected");
    assert_eq!(f[0].status, FindingStatus::NoFixYet);
    assert_eq!(f[0].fixed, None);
    assert_eq!(
        f[0].evidence,
        "installed 1.2-3 <= last affected 1.2-3 per OSV-2024-1, debian:12"
    );
    for v in ["1.2-2", "1.2-3~deb12u1", "1.2~rc1-1", "0.9-1"] {
        assert_eq!(m("libfoo", v).len(), 1, "{v} < 1.2-3 is affected");
    }
    for v in ["1.2-3+b1", "1.2-3.1", "1.2-4", "1.2.1-1", "1:0.1-1"] {
        assert!(m("libfoo", v).is_empty(), "{v} > 1.2-3 is not affected");
    }

    // Epochs: no epoch is epoch 0, below every 1: version.
    assert!(
        m("bar", "2.0-1").is_empty(),
        "epoch 0 is before introduced 1:1.0-1"
    );
    assert!(m("bar", "1:0.9-1").is_empty(), "before introduced");
    for v in ["1:1.0-1", "1:2.0-1", "1:2.0-1~bpo12+1", "1:2.0~rc1-1"] {
        assert_eq!(m("bar", v).len(), 1, "{v} is in [1:1.0-1, 1:2.0-1]");
    }
    for v in ["1:2.0-1+deb12u1", "1:2.0-2", "2:0.1-1"] {
        assert!(m("bar", v).is_empty(), "{v} > 1:2.0-1");
    }

    // Through the source package, the evidence names the source version.
    let via = idx.match_package(
        &deb12(),
        PackageFormat::Deb,
        &pkg("libfoo1", "1.2-3", Some(("libfoo", "1.2-3"))),
    );
    assert_eq!(
        via[0].evidence,
        "source libfoo 1.2-3 <= last affected 1.2-3 per OSV-2024-1, debian:12"
    );
}

#[test]
fn rpm_last_affected_is_inclusive_with_epochs_tildes_and_carets() {
    let idx = AdvisoryIndex::build(vec![adv(
        "OSV-2024-3",
        &["CVE-2024-3"],
        vec![rpm_bin(
            "openssl-libs",
            no_fix(vec![up_to(None, "1:3.0.7-27.el9")]),
        )],
    )]);
    assert!(idx.rejected.is_empty(), "{:?}", idx.rejected);
    let m = |v: &str| {
        idx.match_package(
            &alma9(),
            PackageFormat::Rpm,
            &InstalledPackage {
                name: "openssl-libs".into(),
                version: v.into(),
                arch: "x86_64".into(),
                source_name: None,
                source_version: None,
            },
        )
    };
    let f = m("1:3.0.7-27.el9");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].status, FindingStatus::NoFixYet);
    assert_eq!(
        f[0].evidence,
        "installed 1:3.0.7-27.el9 <= last affected 1:3.0.7-27.el9 per OSV-2024-3, almalinux:9"
    );
    // No epoch is epoch 0: 3.0.8 without an epoch is still below 1:3.0.7.
    for v in [
        "3.0.8-1.el9",
        "1:3.0.7-26.el9",
        "1:3.0.7~beta1-27.el9",
        "1:3.0.7-27.el9~1",
    ] {
        assert_eq!(m(v).len(), 1, "{v} <= 1:3.0.7-27.el9");
    }
    for v in [
        "1:3.0.7-27.el9_4",
        "1:3.0.7-28.el9",
        "1:3.0.7^20240101-1.el9",
        "1:3.0.8~rc1-1.el9",
        "2:1.0-1.el9",
    ] {
        assert!(m(v).is_empty(), "{v} > 1:3.0.7-27.el9");
    }

    // An explicit 0: epoch equals no epoch, so the boundary holds either way.
    let zero = AdvisoryIndex::build(vec![adv(
        "OSV-2024-4",
        &["CVE-2024-4"],
        vec![rpm_bin(
            "zlib",
            no_fix(vec![up_to(None, "0:1.2.11-40.el9")]),
        )],
    )]);
    let z = |v: &str| {
        zero.match_package(
            &alma9(),
            PackageFormat::Rpm,
            &InstalledPackage {
                name: "zlib".into(),
                version: v.into(),
                arch: "x86_64".into(),
                source_name: None,
                source_version: None,
            },
        )
        .len()
    };
    assert_eq!((z("1.2.11-40.el9"), z("1.2.11-41.el9")), (1, 0));
}

#[test]
fn last_affected_next_to_a_fixed_range_and_invalid_ranges() {
    let idx = AdvisoryIndex::build(vec![
        adv(
            "OSV-2024-5",
            &["CVE-2024-5"],
            vec![src(
                "baz",
                PackageState::Fixed {
                    ranges: vec![
                        VersionRange {
                            introduced: None,
                            fixed: Some("1.0-2".into()),
                            last_affected: None,
                            limit: None,
                        },
                        up_to(Some("2.0-1"), "2.1-1"),
                    ],
                },
            )],
        ),
        adv(
            "OSV-2024-6",
            &["CVE-2024-6"],
            vec![src(
                "both",
                no_fix(vec![VersionRange {
                    introduced: None,
                    fixed: Some("1.0-2".into()),
                    last_affected: Some("1.0-1".into()),
                    limit: None,
                }]),
            )],
        ),
        adv(
            "OSV-2024-7",
            &["CVE-2024-7"],
            vec![src("badver", no_fix(vec![up_to(None, "1:")]))],
        ),
    ]);
    let reasons: Vec<&str> = idx.rejected.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert_eq!(reasons[0], "range has both fixed and last_affected");
    assert!(reasons[1].starts_with("last_affected: "), "{reasons:?}");
    let m = |n: &str, v: &str| idx.match_package(&deb12(), PackageFormat::Deb, &pkg(n, v, None));

    let f = m("baz", "1.0-1");
    assert_eq!(
        (f[0].status, f[0].fixed.as_deref()),
        (FindingStatus::Vulnerable, Some("1.0-2"))
    );
    assert!(m("baz", "1.5-1").is_empty(), "between the two ranges");
    let f = m("baz", "2.1-1");
    assert_eq!(
        (f[0].status, f[0].fixed.as_deref()),
        (FindingStatus::NoFixYet, None)
    );
    assert_eq!(
        f[0].evidence,
        "installed 2.1-1 <= last affected 2.1-1 per OSV-2024-5, debian:12"
    );
    assert!(m("baz", "2.1-1+b1").is_empty());
    assert!(
        m("both", "1.0-1").is_empty(),
        "refused statement matches nothing"
    );
}
