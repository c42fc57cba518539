//! Ranges capped by a `limit` (OSV `limit`, exclusive): versions at or above it are
//! outside the range, and the limit is named as a limit, never as a fixed version.
//! End to end: OSV records through `patchwarden_advisory::osv::parse`, then the index.

use super::*;

/// One OSV record for `libfoo` in Debian 12 with one ECOSYSTEM range of `events`.
fn osv(id: &str, events: &str) -> Advisory {
    let doc = format!(
        r#"{{"id":"{id}","aliases":["CVE-{id}"],"affected":[
           {{"package":{{"ecosystem":"Debian:12","name":"libfoo"}},
             "ranges":[{{"type":"ECOSYSTEM","events":[{events}]}}]}}]}}"#
    );
    let r = patchwarden_advisory::osv::parse("t.json", doc.as_bytes());
    assert!(r.rejected.is_empty(), "{events}: {:?}", r.rejected);
    assert_eq!(r.advisories.len(), 1, "{events}");
    r.advisories.into_iter().next().unwrap()
}

fn libfoo(idx: &AdvisoryIndex, v: &str) -> Vec<patchwarden_match::Finding> {
    idx.match_package(&deb12(), PackageFormat::Deb, &pkg("libfoo", v, None))
}

#[test]
fn an_open_interval_with_a_limit_matches_below_the_limit_only() {
    // The same range, written in every order.
    for events in [
        r#"{"introduced":"1.0-1"},{"limit":"2.0-1"}"#,
        r#"{"limit":"2.0-1"},{"introduced":"1.0-1"}"#,
    ] {
        let idx = AdvisoryIndex::build(vec![osv("OSV-L-1", events)]);
        assert!(idx.rejected.is_empty(), "{:?}", idx.rejected);
        for v in ["1.0-1", "1.5-1", "2.0~rc1-1", "2.0-0.1"] {
            let f = libfoo(&idx, v);
            assert_eq!(f.len(), 1, "{events}: {v} is in [1.0-1, 2.0-1)");
            assert_eq!(f[0].status, FindingStatus::NoFixYet);
            assert_eq!(f[0].fixed, None, "a limit is not a fix");
            assert_eq!(
                f[0].evidence,
                format!(
                    "installed {v} affected below range limit 2.0-1 (not a fix), no fix yet \
                     per OSV-L-1, debian:12"
                )
            );
        }
        for v in [
            "0.9-1",
            "1.0~rc1-1",
            "2.0-1",
            "2.0-1+b1",
            "3.0-1",
            "1:0.1-1",
        ] {
            assert!(libfoo(&idx, v).is_empty(), "{events}: {v} is not affected");
        }
    }
}

#[test]
fn a_fix_above_the_limit_stays_the_fix() {
    let idx = AdvisoryIndex::build(vec![osv(
        "OSV-L-2",
        r#"{"limit":"2.0-1"},{"fixed":"3.0-1"},{"introduced":"0"}"#,
    )]);
    let f = libfoo(&idx, "1.5-1");
    assert_eq!(
        (f[0].status, f[0].fixed.as_deref()),
        (FindingStatus::Vulnerable, Some("3.0-1"))
    );
    assert_eq!(
        f[0].evidence,
        "installed 1.5-1 < fixed 3.0-1 and < range limit 2.0-1 per OSV-L-2, debian:12"
    );
    for v in ["2.0-1", "2.5-1", "3.0-1"] {
        assert!(libfoo(&idx, v).is_empty(), "{v} is at or above the limit");
    }
}

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
