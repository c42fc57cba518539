//! The parsers never panic and only return packages that validate.

use patchwarden_inventory::{apk, dpkg, os_release, rpm, Parsed, MAX_WARNINGS};
use proptest::prelude::*;

fn check(p: &Parsed) {
    assert!(p.packages.iter().all(|p| p.validate().is_ok()));
    assert!(p.warnings.len() <= MAX_WARNINGS + 1);
}

/// Text that looks a little like package databases, to reach deeper code paths.
fn db_like() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("Package: a".to_owned()),
        Just("Status: install ok installed".to_owned()),
        Just("Version: 1:2-3".to_owned()),
        Just("Source: s (1)".to_owned()),
        Just(" continuation".to_owned()),
        Just(String::new()),
        Just("P:x".to_owned()),
        Just("V:1-r0".to_owned()),
        Just("o:y".to_owned()),
        Just("a-1-2.x86_64|3".to_owned()),
        Just("n\t0\t1\t2\tnoarch\tn-1-2.src.rpm".to_owned()),
        "[ -~\t]{0,40}",
        any::<String>(),
    ];
    prop::collection::vec(line, 0..40).prop_map(|l| l.join("\n"))
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        check(&dpkg::parse_status(&text));
        check(&dpkg::parse_dpkg_query(&text));
        check(&rpm::parse_rpm_query(&text));
        check(&rpm::parse_rpm_nvra(&text));
        check(&rpm::parse_rpm_evr_tsv(&text));
        check(&apk::parse_apk_installed(&text));
        let _ = os_release::parse_os_release(&text);
        let _ = os_release::parse_redhat_release(&text);
    }

    #[test]
    fn database_like_text_never_panics(text in db_like()) {
        check(&dpkg::parse_status(&text));
        check(&dpkg::parse_dpkg_query(&text));
        check(&rpm::parse_rpm_query(&text));
        check(&rpm::parse_rpm_nvra(&text));
        check(&rpm::parse_rpm_evr_tsv(&text));
        check(&apk::parse_apk_installed(&text));
        let _ = os_release::parse_os_release(&text);
    }

    #[test]
    fn lossy_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        check(&dpkg::parse_status(&text));
        check(&apk::parse_apk_installed(&text));
        check(&rpm::parse_rpm_nvra(&text));
    }
}

#[test]
fn warnings_are_capped() {
    let text = "junk\n".repeat(5000);
    let p = rpm::parse_rpm_nvra(&text);
    assert_eq!(p.warnings.len(), MAX_WARNINGS + 1);
    assert!(p.warnings[MAX_WARNINGS].reason.contains("4000 more"));
}
