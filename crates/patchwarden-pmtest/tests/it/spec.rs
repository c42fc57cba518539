use patchwarden_pmtest::{updateinfo_xml, Advisory, AptRoot, PkgSpec, PmError, RpmEvra};
use std::path::Path;

#[test]
fn rpm_versions_split_at_the_last_dash() {
    let e = RpmEvra::of(&PkgSpec::new("a", "1:2.0-3.el9"));
    assert_eq!(
        (e.epoch.as_str(), e.version.as_str(), e.release.as_str()),
        ("1", "2.0", "3.el9")
    );
    assert_eq!(e.arch, "noarch");
    let e = RpmEvra::of(&PkgSpec::new("a", "2.0").arch("amd64"));
    assert_eq!(
        (e.epoch.as_str(), e.release.as_str(), e.arch.as_str()),
        ("0", "1", "x86_64")
    );
    assert_eq!(e.file_name("a"), "a-2.0-1.x86_64.rpm");
}

#[test]
fn unsafe_names_and_paths_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    for spec in [
        PkgSpec::new("a b", "1"),
        PkgSpec::new("a", "1\n"),
        PkgSpec::new("a", "1").file("../etc/passwd", "x"),
        PkgSpec::new("a", "1").file("/etc/passwd", "x"),
        PkgSpec::new("a", "1").file("DEBIAN/postinst", "x"),
    ] {
        let err = patchwarden_pmtest::build_deb(tmp.path(), &spec).unwrap_err();
        assert!(matches!(err, PmError::Invalid { .. }), "{err}");
    }
    let err = AptRoot::new(Path::new("relative/root")).unwrap_err();
    assert!(matches!(err, PmError::Invalid { .. }), "{err}");
    let err = AptRoot::new(&tmp.path().join("with space")).unwrap_err();
    assert!(matches!(err, PmError::Invalid { .. }), "{err}");
}

#[test]
fn updateinfo_names_the_fixed_package_and_escapes_text() {
    let xml = updateinfo_xml(&[Advisory::security("PWSA-1<2", "Important")
        .cve("CVE-2026-0001")
        .package(&PkgSpec::new("pw", "2.0-1"))]);
    assert!(xml.contains("type=\"security\""));
    assert!(xml.contains("<id>PWSA-1&lt;2</id>"));
    assert!(xml.contains("name=\"pw\" version=\"2.0\" release=\"1\" epoch=\"0\" arch=\"noarch\""));
    assert!(xml.contains("<filename>pw-2.0-1.noarch.rpm</filename>"));
}
