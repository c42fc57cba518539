//! The pending-update parsers never panic, and well-formed lines parse back exactly.

use patchwarden_inventory::pending::{
    parse_apt_simulation, parse_dnf_check_update, parse_dnf_updateinfo,
};
use patchwarden_inventory::MAX_WARNINGS;
use proptest::prelude::*;

fn tool_like() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("Inst a [1] (2 Debian-Security:12/stable-security [amd64]) []".to_owned()),
        Just("Inst a:i386 (2 [i386])".to_owned()),
        Just("Inst ( [ ] )".to_owned()),
        Just("Inst a [".to_owned()),
        Just("a.x86_64".to_owned()),
        Just("   1:2-3 repo".to_owned()),
        Just("Obsoleting Packages".to_owned()),
        Just("ID Important/Sec. a-1:2-3.noarch".to_owned()),
        "Inst [ -~]{0,60}",
        "[ -~\t]{0,60}",
        any::<String>(),
    ];
    prop::collection::vec(line, 0..40).prop_map(|l| l.join("\n"))
}

proptest! {
    #[test]
    fn parsers_never_panic(text in tool_like()) {
        let p = parse_apt_simulation(&text);
        prop_assert!(p.warnings.len() <= MAX_WARNINGS + 1);
        for u in &p.updates {
            prop_assert!(!u.name.is_empty() && !u.candidate.is_empty());
        }
        let _ = parse_dnf_check_update(&text, true);
        let _ = parse_dnf_updateinfo(&text);
    }

    #[test]
    fn well_formed_inst_lines_round_trip(
        name in "[a-z0-9][a-z0-9+.-]{0,30}",
        old in "[0-9][0-9a-z.+~-]{0,15}",
        new in "[0-9][0-9a-z.+~-]{0,15}",
        label in "[A-Z][A-Za-z]{0,10}(-Security)?",
        suite in "[a-z]{1,10}(-security|-updates)?",
        arch in "(amd64|all|i386|arm64)",
    ) {
        let line = format!("Inst {name} [{old}] ({new} {label}:12/{suite} [{arch}]) []");
        let p = parse_apt_simulation(&line);
        prop_assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        let u = &p.updates[0];
        prop_assert_eq!(&u.name, &name);
        prop_assert_eq!(u.installed.as_deref(), Some(old.as_str()));
        prop_assert_eq!(&u.candidate, &new);
        prop_assert_eq!(&u.arch, &arch);
        let security = suite.ends_with("-security") || label.ends_with("-Security");
        prop_assert_eq!(u.security, security);
    }
}
