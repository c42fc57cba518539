//! Ranges capped by a `limit` (exclusive): versions at or above it are outside the
//! range, and the limit is named as a limit, never as a fixed version.

use super::*;

#[test]
fn a_limited_open_range_next_to_a_fixed_one_and_a_bad_limit() {
    let limited = |introduced: &str, limit: &str| VersionRange {
        introduced: Some(introduced.into()),
        fixed: None,
        last_affected: None,
        limit: Some(limit.into()),
    };
    let idx = AdvisoryIndex::build(vec![
        adv(
            "DSA-L-3",
            &["CVE-L-3"],
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
                        limited("2.0-1", "3.0-1"),
                    ],
                },
            )],
        ),
        adv(
            "DSA-L-4",
            &["CVE-L-4"],
            vec![src(
                "badlimit",
                PackageState::AffectedNoFix {
                    ranges: vec![limited("1.0-1", "1:")],
                },
            )],
        ),
    ]);
    let reasons: Vec<&str> = idx.rejected.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].starts_with("limit: "), "{reasons:?}");
    let m = |v: &str| idx.match_package(&deb12(), PackageFormat::Deb, &pkg("baz", v, None));

    assert_eq!(m("1.0-1")[0].fixed.as_deref(), Some("1.0-2"));
    assert!(m("1.5-1").is_empty(), "between the two ranges");
    let f = m("2.5-1");
    assert_eq!(
        (f[0].status, f[0].fixed.as_deref()),
        (FindingStatus::Vulnerable, None)
    );
    assert_eq!(
        f[0].evidence,
        "installed 2.5-1 affected below range limit 3.0-1 (not a fix) per DSA-L-3, debian:12"
    );
    assert!(m("3.0-1").is_empty(), "at the limit");
}
