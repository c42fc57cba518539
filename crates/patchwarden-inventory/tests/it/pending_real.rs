//! The pending-update runners against real apt and dnf: this machine, and alternate
//! roots built with patchwarden-pmtest.

use patchwarden_inventory::pending::{pending_updates_apt, pending_updates_dnf};
use patchwarden_pmtest::{
    find_in_path, tools_and_root_present, Advisory, AptRoot, DebRepo, DnfRoot, HostSnapshot,
    PkgSpec, ReleaseMeta, RpmRepo, APT_TOOLS, DNF_TOOLS,
};
use std::path::Path;

#[test]
fn this_machines_apt_simulation_parses_without_warnings() {
    if find_in_path("apt-get").is_none() || !Path::new("/var/lib/dpkg/status").is_file() {
        if patchwarden_pmtest::require_all_tests() {
            panic!("this machine has no apt-get and dpkg database");
        }
        eprintln!("SKIP: this machine has no apt-get and dpkg database");
        return;
    }
    let p = pending_updates_apt(Path::new("/"), &[]).unwrap();
    // Only `Inst` lines can produce warnings; none may.
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    eprintln!(
        "this machine: {} pending updates, {} from a security archive",
        p.updates.len(),
        p.security().count()
    );
}

#[test]
fn apt_reports_exactly_the_update_from_the_security_suite() {
    if !tools_and_root_present(APT_TOOLS).unwrap() {
        return;
    }
    let host = HostSnapshot::capture().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let main = DebRepo::new(&tmp.path().join("main"), ReleaseMeta::bookworm()).unwrap();
    let sec = DebRepo::new(&tmp.path().join("sec"), ReleaseMeta::bookworm_security()).unwrap();
    for name in ["pwtest-fixed", "pwtest-plain", "pwtest-current"] {
        main.add(&PkgSpec::new(name, "1.0-1")).unwrap();
    }
    sec.add(&PkgSpec::new("pwtest-fixed", "1.0-1+deb12u1"))
        .unwrap();
    main.add(&PkgSpec::new("pwtest-plain", "1.1-1")).unwrap();
    main.publish().unwrap();
    sec.publish().unwrap();
    let root = AptRoot::new(&tmp.path().join("root")).unwrap();
    root.add_repo(&main).unwrap();
    root.add_repo(&sec).unwrap();
    root.update().unwrap();
    root.install(&["pwtest-fixed=1.0-1", "pwtest-plain=1.0-1", "pwtest-current"])
        .unwrap();

    let p = pending_updates_apt(root.path(), &root.apt_options()).unwrap();
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(p.updates.len(), 2, "{:?}", p.updates);
    let sec_updates: Vec<_> = p.security().collect();
    assert_eq!(sec_updates.len(), 1);
    let u = sec_updates[0];
    assert_eq!(u.name, "pwtest-fixed");
    assert_eq!(u.installed.as_deref(), Some("1.0-1"));
    assert_eq!(u.candidate, "1.0-1+deb12u1");
    assert_eq!(u.origins, ["Debian-Security:bookworm-security"]);
    let plain = p.updates.iter().find(|u| u.name == "pwtest-plain").unwrap();
    assert!(!plain.security);
    assert_eq!(plain.origins, ["Debian:bookworm"]);
    // The simulation changed nothing, in the root or on the host.
    assert_eq!(
        root.installed_version("pwtest-fixed").unwrap().as_deref(),
        Some("1.0-1")
    );
    host.assert_unchanged().unwrap();
}

#[test]
fn dnf_reports_exactly_the_update_named_by_a_security_advisory() {
    if !tools_and_root_present(DNF_TOOLS).unwrap() {
        return;
    }
    let host = HostSnapshot::capture().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let repo = RpmRepo::new(&tmp.path().join("repo"), "local").unwrap();
    let fixed = PkgSpec::new("pwtest-fixed", "1.0-2");
    for spec in [
        PkgSpec::new("pwtest-fixed", "1.0-1"),
        fixed.clone(),
        PkgSpec::new("pwtest-plain", "1.0-1"),
        PkgSpec::new("pwtest-plain", "1.1-1"),
    ] {
        repo.add(&spec).unwrap();
    }
    let advisory = Advisory::security("PWSA-2026:0001", "Important")
        .cve("CVE-2026-0001")
        .package(&fixed);
    repo.publish(&[advisory]).unwrap();
    let root = DnfRoot::new(&tmp.path().join("root"), "9").unwrap();
    root.add_repo(&repo).unwrap();
    root.install(&["pwtest-fixed-1.0-1", "pwtest-plain-1.0-1"])
        .unwrap();

    let p = pending_updates_dnf(root.path(), &root.dnf_options()).unwrap();
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(p.updates.len(), 2, "{:?}", p.updates);
    let sec_updates: Vec<_> = p.security().collect();
    assert_eq!(sec_updates.len(), 1, "{:?}", p.updates);
    let u = sec_updates[0];
    assert_eq!(u.name, "pwtest-fixed");
    assert_eq!(u.arch, "noarch");
    assert_eq!(u.installed.as_deref(), Some("1.0-1"));
    assert_eq!(u.candidate, "1.0-2");
    assert_eq!(u.origins, ["pwtest-local"]);
    assert_eq!(u.advisories, ["PWSA-2026:0001"]);
    let plain = p.updates.iter().find(|u| u.name == "pwtest-plain").unwrap();
    assert!(!plain.security);
    assert_eq!(plain.installed.as_deref(), Some("1.0-1"));
    host.assert_unchanged().unwrap();
}
