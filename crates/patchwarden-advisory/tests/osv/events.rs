//! Unit tests of [`super::parse`] on small OSV documents: the events of a range give the
//! same ranges in any order (sorted in the scheme, as OSV's evaluation does), `limit`
//! caps a range (kept as the range's `limit` where it cuts an interval short, never as
//! a fix), and a version the scheme cannot parse is a malformed record while the rest
//! of the feed imports. Included from `src/osv.rs` (`#[path]`); not a test target of
//! its own (cargo only picks up `tests/*.rs` and `tests/*/main.rs`).

use super::*;

fn range(intro: Option<&str>, fixed: Option<&str>, last: Option<&str>) -> VersionRange {
    VersionRange {
        introduced: intro.map(str::to_owned),
        fixed: fixed.map(str::to_owned),
        last_affected: last.map(str::to_owned),
        limit: None,
    }
}

/// Every order of `events` (JSON objects) in one ECOSYSTEM range of `ecosystem`.
fn permutations(events: &[&str]) -> Vec<String> {
    if events.len() <= 1 {
        return vec![events.join(",")];
    }
    let mut out = Vec::new();
    for i in 0..events.len() {
        let mut rest = events.to_vec();
        let first = rest.remove(i);
        for tail in permutations(&rest) {
            out.push(format!("{first},{tail}"));
        }
    }
    out
}

fn one_range(ecosystem: &str, events: &str) -> ImportResult {
    let j = format!(
        r#"{{"id":"OSV-T-1","affected":[{{"package":{{"ecosystem":"{ecosystem}","name":"p"}},
            "ranges":[{{"type":"ECOSYSTEM","events":[{events}]}}]}}]}}"#
    );
    parse("t.json", j.as_bytes())
}

fn state_of(r: &ImportResult) -> &PackageState {
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    &r.advisories[0].affected[0].state
}

#[test]
fn events_in_any_order_give_the_ranges_of_the_sorted_order() {
    let fixed = |ranges| PackageState::Fixed { ranges };
    let no_fix = |ranges| PackageState::AffectedNoFix { ranges };
    // Versions whose order the scheme decides, not their text: dpkg `~` sorts
    // before the release, an RPM epoch outranks the version, apk `_rc` sorts before
    // the release.
    let cases: [(&str, &[&str], PackageState); 4] = [
        (
            "Debian:12",
            &[
                r#"{"introduced":"0"}"#,
                r#"{"fixed":"1.0~rc1-1"}"#,
                r#"{"introduced":"1.0-1"}"#,
                r#"{"fixed":"1.0-3"}"#,
                r#"{"introduced":"1:0.5-1"}"#,
            ],
            fixed(vec![
                range(None, Some("1.0~rc1-1"), None),
                range(Some("1.0-1"), Some("1.0-3"), None),
                range(Some("1:0.5-1"), None, None),
            ]),
        ),
        (
            "AlmaLinux:9",
            &[
                r#"{"introduced":"0"}"#,
                r#"{"fixed":"2.0-1.el9"}"#,
                r#"{"introduced":"10.0-1.el9"}"#,
                r#"{"fixed":"1:1.0-1.el9"}"#,
            ],
            fixed(vec![
                range(None, Some("2.0-1.el9"), None),
                range(Some("10.0-1.el9"), Some("1:1.0-1.el9"), None),
            ]),
        ),
        (
            "Alpine:v3.19",
            &[
                r#"{"introduced":"1.2.3_rc1-r0"}"#,
                r#"{"last_affected":"1.2.3-r0"}"#,
                r#"{"introduced":"1.10.0-r0"}"#,
                r#"{"last_affected":"1.10.0-r2"}"#,
            ],
            no_fix(vec![
                range(Some("1.2.3_rc1-r0"), None, Some("1.2.3-r0")),
                range(Some("1.10.0-r0"), None, Some("1.10.0-r2")),
            ]),
        ),
        (
            // An `introduced` inside an open interval changes nothing (OSV's
            // algorithm), and equal versions open before they close.
            "Ubuntu:22.04:LTS",
            &[
                r#"{"introduced":"1.0-1"}"#,
                r#"{"introduced":"1.5-1"}"#,
                r#"{"fixed":"2.0-1"}"#,
                r#"{"introduced":"3.0-1"}"#,
                r#"{"fixed":"3.0-1"}"#,
            ],
            fixed(vec![
                range(Some("1.0-1"), Some("2.0-1"), None),
                range(Some("3.0-1"), Some("3.0-1"), None),
            ]),
        ),
    ];
    for (eco, events, want) in cases {
        let all = permutations(events);
        assert!(all.len() >= 24, "{eco}");
        for order in all {
            let r = one_range(eco, &order);
            assert_eq!(state_of(&r), &want, "{eco}: {order}");
        }
    }
}

#[test]
fn limit_caps_the_range() {
    let fixed = |ranges| PackageState::Fixed { ranges };
    let cases: [(&[&str], PackageState); 4] = [
        // A limit above every interval changes nothing.
        (
            &[
                r#"{"introduced":"0"}"#,
                r#"{"fixed":"1.0-1"}"#,
                r#"{"limit":"3.0-1"}"#,
            ],
            fixed(vec![range(None, Some("1.0-1"), None)]),
        ),
        // Versions at or above the limit are outside the range: the interval that
        // starts at 2.0-1 is dropped, and one starting at the limit too.
        (
            &[
                r#"{"introduced":"0"}"#,
                r#"{"fixed":"1.0-1"}"#,
                r#"{"introduced":"2.0-1"}"#,
                r#"{"introduced":"1.5-1"}"#,
                r#"{"limit":"1.5-1"}"#,
            ],
            fixed(vec![range(None, Some("1.0-1"), None)]),
        ),
        // Several limits: a version below any of them is in range, so the highest
        // one caps it.
        (
            &[
                r#"{"introduced":"0"}"#,
                r#"{"fixed":"1.0-1"}"#,
                r#"{"introduced":"2.0-1"}"#,
                r#"{"fixed":"2.5-1"}"#,
                r#"{"limit":"1.5-1"}"#,
                r#"{"limit":"3.0-1"}"#,
            ],
            fixed(vec![
                range(None, Some("1.0-1"), None),
                range(Some("2.0-1"), Some("2.5-1"), None),
            ]),
        ),
        // `*` is infinity, whatever other limits say.
        (
            &[
                r#"{"introduced":"0"}"#,
                r#"{"fixed":"1.0-1"}"#,
                r#"{"introduced":"2.0-1"}"#,
                r#"{"limit":"1.5-1"}"#,
                r#"{"limit":"*"}"#,
            ],
            fixed(vec![
                range(None, Some("1.0-1"), None),
                range(Some("2.0-1"), None, None),
            ]),
        ),
    ];
    for (events, want) in cases {
        for order in permutations(events) {
            let r = one_range("Debian:12", &order);
            assert_eq!(state_of(&r), &want, "{order}");
        }
    }
}

fn limited(range: VersionRange, limit: &str) -> VersionRange {
    VersionRange {
        limit: Some(limit.to_owned()),
        ..range
    }
}

#[test]
fn a_limit_that_cuts_an_interval_short_becomes_the_range_limit() {
    let fixed = |ranges| PackageState::Fixed { ranges };
    let no_fix = |ranges| PackageState::AffectedNoFix { ranges };
    let cases: [(&str, &[&str], PackageState); 6] = [
        // An open interval below the limit: affected from 1.0-1 up to (not including)
        // the limit, with no fix; not "every version" either.
        (
            "Debian:12",
            &[r#"{"introduced":"1.0-1"}"#, r#"{"limit":"1.5-1"}"#],
            no_fix(vec![limited(range(Some("1.0-1"), None, None), "1.5-1")]),
        ),
        (
            "Debian:12",
            &[r#"{"introduced":"0"}"#, r#"{"limit":"1.5-1"}"#],
            no_fix(vec![limited(range(None, None, None), "1.5-1")]),
        ),
        // A fix above the limit stays the published fix; the limit is kept beside it.
        (
            "Debian:12",
            &[
                r#"{"introduced":"0"}"#,
                r#"{"fixed":"2.0-1"}"#,
                r#"{"limit":"1.5-1"}"#,
            ],
            fixed(vec![limited(range(None, Some("2.0-1"), None), "1.5-1")]),
        ),
        // A last affected version at the limit: the limit excludes it.
        (
            "Debian:12",
            &[
                r#"{"introduced":"0"}"#,
                r#"{"last_affected":"1.5-1"}"#,
                r#"{"limit":"1.5-1"}"#,
            ],
            no_fix(vec![limited(range(None, None, Some("1.5-1")), "1.5-1")]),
        ),
        // Only the interval the limit cuts gets it; the one above is dropped.
        (
            "Debian:12",
            &[
                r#"{"introduced":"0"}"#,
                r#"{"fixed":"1.0-1"}"#,
                r#"{"introduced":"1.2-1"}"#,
                r#"{"introduced":"3.0-1"}"#,
                r#"{"limit":"2.0-1"}"#,
            ],
            fixed(vec![
                range(None, Some("1.0-1"), None),
                limited(range(Some("1.2-1"), None, None), "2.0-1"),
            ]),
        ),
        // In the scheme's ordering: an RPM epoch makes 1:1.0 the higher limit.
        (
            "AlmaLinux:9",
            &[
                r#"{"introduced":"2.0-1.el9"}"#,
                r#"{"limit":"3.0-1.el9"}"#,
                r#"{"limit":"1:1.0-1.el9"}"#,
            ],
            no_fix(vec![limited(
                range(Some("2.0-1.el9"), None, None),
                "1:1.0-1.el9",
            )]),
        ),
    ];
    for (eco, events, want) in cases {
        for order in permutations(events) {
            let r = one_range(eco, &order);
            assert_eq!(state_of(&r), &want, "{eco}: {order}");
        }
    }
}

#[test]
fn a_version_the_scheme_cannot_parse_is_a_malformed_record() {
    // Three records in one feed file: a bad fixed version in one statement (the
    // other statement of that advisory imports), a bad limit (reported although a
    // `*` limit makes it irrelevant), and a good record.
    let j = br#"[
      {"id":"OSV-BAD-1","affected":[
        {"package":{"ecosystem":"Debian:12","name":"bad"},
         "ranges":[{"type":"ECOSYSTEM","events":[{"fixed":"1:"},{"introduced":"0"}]}]},
        {"package":{"ecosystem":"Debian:12","name":"good"},
         "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0-1"}]}]}]},
      {"id":"OSV-BAD-2","affected":[
        {"package":{"ecosystem":"Alpine:v3.19","name":"apk"},
         "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"limit":"*"},
                                                  {"limit":"1.2_blah"}]}]}]},
      {"id":"OSV-OK","affected":[
        {"package":{"ecosystem":"Rocky Linux:9","name":"rpm"},
         "ranges":[{"type":"ECOSYSTEM","events":[{"fixed":"1:2.0-1.el9"},{"introduced":"0"}]}]}]}
    ]"#;
    let r = parse("feed.json", j);
    let got: Vec<(&str, Option<&str>, &str)> = r
        .rejected
        .iter()
        .map(|x| (x.file.as_str(), x.record.as_deref(), x.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "feed.json",
                Some("OSV-BAD-1"),
                "affected[0] bad: fixed: version '1:' has bad syntax: nothing after \
                 colon in version number"
            ),
            (
                "feed.json",
                Some("OSV-BAD-2"),
                "affected[0] apk: limit: '1.2_blah' is not a valid apk version: \
                 unknown suffix '_blah'"
            ),
        ]
    );
    let ids: Vec<(&str, Vec<&str>)> = r
        .advisories
        .iter()
        .map(|a| {
            (
                a.id.as_str(),
                a.affected.iter().map(|p| p.name.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(ids, [("OSV-BAD-1", vec!["good"]), ("OSV-OK", vec!["rpm"])]);
    assert_eq!(
        r.advisories[1].affected[0].state,
        PackageState::Fixed {
            ranges: vec![range(None, Some("1:2.0-1.el9"), None)]
        }
    );
}
