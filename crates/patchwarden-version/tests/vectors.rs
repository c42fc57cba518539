//! Every vector file in `shared/fixtures/versions/` must agree with us.
//!
//! Sources and licences are listed in `shared/fixtures/README.md`: dpkg's and
//! apt's test suites (GPL-2.0+, facts), rpm's `tests/rpmvercmp.at` (GPL-2.0+,
//! facts), apk-tools' `test/unit/version.data` (GPL-2.0, facts), osv-scanner
//! fixtures (Apache-2.0) and a Nessus scan from python-libnessus (CC-BY-3.0).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cmp::Ordering;

use patchwarden_version::{compare_str, parse, ParseError, Scheme};

const DIR: &str = "../../../shared/fixtures/versions";

/// One `A op B` line.
struct Case {
    line: usize,
    a: String,
    b: String,
    want: Ordering,
}

fn read(rel: &str) -> String {
    let path = format!("{DIR}/{rel}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Parses a vector file: blank lines and `#`/`//` comments are skipped, and
/// a trailing ` # note` is dropped (the same rules as `check_vectors.py`).
/// apt's file keeps one B with a leading space (`" 9:1.18.37:4.3-22"`), which
/// is why A and B are split on the operator, not on every blank.
fn cases(rel: &str) -> Vec<Case> {
    let mut out = Vec::new();
    for (n, raw) in read(rel).lines().enumerate() {
        let s = raw.split(" #").next().unwrap_or_default();
        let t = s.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with("//") {
            continue;
        }
        let (a, rest) = t
            .split_once(' ')
            .unwrap_or_else(|| panic!("{rel}:{}: {raw}", n + 1));
        let (op, b) = rest.split_at(1);
        let want = match op {
            "<" => Ordering::Less,
            "=" => Ordering::Equal,
            ">" => Ordering::Greater,
            _ => panic!("{rel}:{}: bad operator in {raw}", n + 1),
        };
        let b = b
            .strip_prefix(' ')
            .unwrap_or_else(|| panic!("{rel}:{}: {raw}", n + 1));
        out.push(Case {
            line: n + 1,
            a: a.to_owned(),
            b: b.to_owned(),
            want,
        });
    }
    out
}

/// Checks a file; returns the lines refused because a side is invalid.
fn check(scheme: Scheme, rel: &str, expect_lines: usize) -> Vec<String> {
    let cases = cases(rel);
    assert_eq!(cases.len(), expect_lines, "{rel}: number of vector lines");
    let mut mismatches = Vec::new();
    let mut refused = Vec::new();
    for c in &cases {
        match compare_str(scheme, &c.a, &c.b) {
            Ok(got) if got == c.want => {
                // The sort keys must agree too, and the reverse direction.
                let (ka, kb) = (key(scheme, &c.a), key(scheme, &c.b));
                assert_eq!(
                    ka.cmp(&kb),
                    c.want,
                    "{rel}:{}: key order of {} vs {}",
                    c.line,
                    c.a,
                    c.b
                );
                assert_eq!(
                    compare_str(scheme, &c.b, &c.a),
                    Ok(c.want.reverse()),
                    "{rel}:{}",
                    c.line
                );
            }
            Ok(got) => mismatches.push(format!(
                "{rel}:{}: {} {:?} {} but got {got:?}",
                c.line, c.a, c.want, c.b
            )),
            Err(e) => refused.push(format!("{}: {} ? {}: {e}", c.line, c.a, c.b)),
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    refused
}

fn key(scheme: Scheme, s: &str) -> Vec<u8> {
    parse(scheme, s).unwrap().sort_key()
}

fn assert_no_refusals(refused: Vec<String>) {
    assert!(refused.is_empty(), "refused:\n{}", refused.join("\n"));
}

#[test]
fn deb_dpkg_test_suite() {
    assert_no_refusals(check(Scheme::Deb, "deb/dpkg-Dpkg_Version.t.txt", 43));
}

#[test]
fn deb_apt_test_suite() {
    assert_no_refusals(check(Scheme::Deb, "deb/apt-compareversion_test.txt", 64));
}

#[test]
fn deb_osv_scanner() {
    assert_no_refusals(check(Scheme::Deb, "deb/debian-versions.osv.txt", 30));
}

#[test]
fn deb_osv_scanner_generated_by_dpkg() {
    assert_no_refusals(check(
        Scheme::Deb,
        "deb/debian-versions-generated.osv.txt",
        14_442,
    ));
}

#[test]
fn rpm_rpmvercmp_test_suite() {
    assert_no_refusals(check(Scheme::Rpm, "rpm/rpm-rpmvercmp.at.txt", 91));
}

#[test]
fn rpm_rpmvercmp_oddities_as_rpm_4_18_does() {
    assert_no_refusals(check(Scheme::Rpm, "rpm/rpm-rpmvercmp-oddities.txt", 12));
}

#[test]
fn rpm_osv_scanner() {
    assert_no_refusals(check(Scheme::Rpm, "rpm/redhat-versions.osv.txt", 153));
}

#[test]
fn rpm_nessus_centos6() {
    assert_no_refusals(check(
        Scheme::Rpm,
        "rpm/nessus-centos6-installed-vs-shouldbe.txt",
        65,
    ));
}

/// Line numbers of the refused lines, for exact assertions.
fn line_numbers(refused: &[String]) -> Vec<usize> {
    refused
        .iter()
        .map(|r| r.split(':').next().unwrap().parse().unwrap())
        .collect()
}

/// Two lines compare deliberately invalid versions (`23_foo`, `1.0bc`);
/// `parse` refuses them, every other line must match.
#[test]
fn apk_tools_test_data() {
    let refused = check(Scheme::Apk, "apk/apk-tools-version.data.txt", 738);
    assert_eq!(line_numbers(&refused), [3, 4], "{refused:#?}");
}

#[test]
fn apk_osv_scanner_generated_by_apk() {
    assert_no_refusals(check(
        Scheme::Apk,
        "apk/alpine-versions-generated.osv.txt",
        13_979,
    ));
}

/// osv-scanner's hand-written file also records its own answers for strings
/// apk-tools calls invalid (`1-ruff`, `a`, `.1`, `1.2_blah`, `1.2.0A`...),
/// some of which differ between apk-tools 2 and 3 (see the file's comments).
/// Those 23 lines are refused by `parse`; the other 745 must match.
#[test]
fn apk_osv_scanner() {
    let refused = check(Scheme::Apk, "apk/alpine-versions.osv.txt", 768);
    let want = [
        2, 4, 5, 16, 17, 27, 29, 32, 33, 34, 36, 37, 39, 47, 48, 51, 52, 53, 54, 55, 56, 61, 63,
    ];
    assert_eq!(line_numbers(&refused), want, "{refused:#?}");
}

/// `dpkg-parse-validity.tsv`: VERSION, what libdpkg's tests expect, and what
/// real dpkg 1.21 printed. Every non-valid line must be refused with dpkg's
/// reason, word for word.
#[test]
fn deb_parse_validity_matches_dpkg() {
    let text = read("deb/dpkg-parse-validity.tsv");
    let mut n = 0;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        // The version itself may contain a tab, so split from the right.
        let mut cols = line.rsplitn(4, '\t');
        let (stderr, _rc, expected, version) = (
            cols.next().unwrap(),
            cols.next().unwrap(),
            cols.next().unwrap(),
            cols.next().unwrap(),
        );
        n += 1;
        let got = parse(Scheme::Deb, version);
        if expected.starts_with("valid") {
            assert!(got.is_ok(), "{version:?} should be valid: {got:?}");
            continue;
        }
        let err = got.expect_err(version);
        assert!(matches!(err, ParseError::Deb { .. }));
        if let Some(msg) = stderr
            .strip_prefix("dpkg: error: ")
            .or_else(|| stderr.strip_prefix("dpkg: warning: "))
        {
            assert_eq!(err.to_string(), msg, "{version:?}");
        }
    }
    assert_eq!(n, 33, "number of validity lines");
}
