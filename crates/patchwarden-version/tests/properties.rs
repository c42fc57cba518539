//! Property tests: sort keys order exactly like `compare`, and `compare` is
//! a consistent ordering, on generated versions of every scheme.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use patchwarden_version::{compare_str, parse, Scheme};
use proptest::prelude::*;

fn check_pair(scheme: Scheme, a: &str, b: &str) -> Result<(), TestCaseError> {
    let (va, vb) = (parse(scheme, a).unwrap(), parse(scheme, b).unwrap());
    let ord = va.compare(&vb).unwrap();
    prop_assert_eq!(va.sort_key().cmp(&vb.sort_key()), ord, "{} vs {}", a, b);
    prop_assert_eq!(vb.compare(&va).unwrap(), ord.reverse());
    prop_assert_eq!(compare_str(scheme, a, b).unwrap(), ord);
    prop_assert_eq!(va.to_string(), a.trim());
    Ok(())
}

fn check_triple(scheme: Scheme, a: &str, b: &str, c: &str) -> Result<(), TestCaseError> {
    let c_ = |x: &str, y: &str| compare_str(scheme, x, y).unwrap();
    if c_(a, b).is_le() && c_(b, c).is_le() {
        prop_assert!(c_(a, c).is_le(), "transitivity {} <= {} <= {}", a, b, c);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn deb_keys_match_compare((a, b) in common::pair(Scheme::Deb)) { check_pair(Scheme::Deb, &a, &b)?; }

    #[test]
    fn rpm_keys_match_compare((a, b) in common::pair(Scheme::Rpm)) { check_pair(Scheme::Rpm, &a, &b)?; }

    #[test]
    fn apk_keys_match_compare((a, b) in common::pair(Scheme::Apk)) { check_pair(Scheme::Apk, &a, &b)?; }

    #[test]
    fn orderings_are_transitive(a in common::deb(), b in common::deb(), c in common::deb(),
                                x in common::rpm(), y in common::rpm(), z in common::rpm(),
                                p in common::apk(), q in common::apk(), r in common::apk()) {
        check_triple(Scheme::Deb, &a, &b, &c)?;
        check_triple(Scheme::Rpm, &x, &y, &z)?;
        check_triple(Scheme::Apk, &p, &q, &r)?;
    }
}

/// The same property on a fixed-seed sample, so a regression shows up the
/// same way on every run and machine.
#[test]
fn keys_match_compare_fixed_seed() {
    for scheme in Scheme::ALL {
        for (a, b) in common::sample_pairs(scheme, 0x5eed, 3000) {
            check_pair(scheme, &a, &b).unwrap();
        }
    }
}

/// Sorting by key and sorting by `compare` give the same sequence.
#[test]
fn sorting_by_key_equals_sorting_by_compare() {
    for scheme in Scheme::ALL {
        let mut vs: Vec<_> = common::sample_pairs(scheme, 7, 500)
            .into_iter()
            .flat_map(|(a, b)| [a, b])
            .map(|s| parse(scheme, &s).unwrap())
            .collect();
        vs.sort_by_key(|v| v.sort_key());
        for w in vs.windows(2) {
            assert!(w[0].compare(&w[1]).unwrap().is_le(), "{} > {}", w[0], w[1]);
        }
    }
}
