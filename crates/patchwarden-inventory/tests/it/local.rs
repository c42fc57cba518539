//! `collect_local` against temporary roots built from real fixtures.

use crate::{find, fixture};
use patchwarden_domain::package::PackageFormat;
use patchwarden_inventory::{collect_local, InventoryError};
use std::path::Path;
use std::process::Command;

fn put(root: &Path, rel: &str, contents: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

fn copy_fixture(root: &Path, fixture_rel: &str, rel: &str) {
    put(root, rel, &std::fs::read(fixture(fixture_rel)).unwrap());
}

#[test]
fn debian_root() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    copy_fixture(
        root,
        "format-samples-osv-scalibr/dpkg-var-lib-dpkg-status-valid",
        "var/lib/dpkg/status",
    );
    put(root, "etc/os-release", b"ID=debian\nVERSION_ID=\"12\"\n");
    put(root, "etc/hostname", b"# comment\nweb-01.example.org\n");
    put(root, "proc/sys/kernel/osrelease", b"6.1.0-18-amd64\n");
    let inv = collect_local(root).unwrap();
    assert_eq!(inv.format, PackageFormat::Deb);
    assert_eq!(inv.database, root.join("var/lib/dpkg/status"));
    assert_eq!(inv.packages.len(), 7);
    assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);
    assert_eq!(inv.os.distribution, "debian");
    assert_eq!(inv.os.release, "12");
    // No `dpkg` or `libc6` in this sample: the most common specific arch.
    assert_eq!(inv.os.arch, "amd64");
    assert_eq!(inv.hostname.as_deref(), Some("web-01.example.org"));
    assert_eq!(inv.kernel.as_deref(), Some("6.1.0-18-amd64"));
}

#[test]
fn alpine_root_without_proc() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    copy_fixture(
        root,
        "format-samples-osv-scalibr/alpine-lib-apk-db-installed",
        "lib/apk/db/installed",
    );
    put(
        root,
        "usr/lib/os-release",
        b"NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.18.0\n",
    );
    put(root, "etc/apk/arch", b"x86_64\n");
    let inv = collect_local(root).unwrap();
    assert_eq!(inv.format, PackageFormat::Apk);
    assert_eq!(inv.packages.len(), 15);
    assert_eq!(find(&inv.packages, "busybox").version, "1.36.0-r9");
    assert_eq!(
        (inv.os.distribution.as_str(), inv.os.release.as_str()),
        ("alpine", "3.18.0")
    );
    assert_eq!(inv.os.arch, "x86_64");
    assert_eq!((inv.hostname, inv.kernel), (None, None));
}

#[test]
fn hostile_status_file_is_reported_not_fatal() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let mut status = b"Package: ok\nStatus: install ok installed\nVersion: 1\n\n".to_vec();
    status.extend_from_slice(b"\xff\xfe\x00binary\n");
    status.extend_from_slice(format!("Package: {}\n", "x".repeat(100_000)).as_bytes());
    status.extend_from_slice(b"Package: bad\xffname\nStatus: install ok installed\nVersion: 1\n");
    put(root, "var/lib/dpkg/status", &status);
    let inv = collect_local(root).unwrap();
    assert_eq!(inv.packages.len(), 1);
    assert_eq!(inv.packages[0].name, "ok");
    let lines: Vec<_> = inv.warnings.iter().filter_map(|w| w.line).collect();
    assert_eq!(lines, [5, 6, 5], "{:#?}", inv.warnings);
    let shown = inv.warnings[1].to_string();
    assert!(shown.contains("status:6: line longer than"), "{shown}");
    // No os-release at all: reported, distribution `linux`.
    assert!(inv
        .warnings
        .iter()
        .any(|w| w.line.is_none() && w.reason.contains("os-release")));
    assert_eq!(inv.os.distribution, "linux");
}

#[test]
fn centos6_root_uses_redhat_release() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    put(root, "var/lib/dpkg/status", b"");
    put(root, "etc/redhat-release", b"CentOS release 6.3 (Final)\n");
    let inv = collect_local(root).unwrap();
    assert_eq!(
        (inv.os.distribution.as_str(), inv.os.release.as_str()),
        ("centos", "6.3")
    );
}

#[test]
fn empty_root_is_a_typed_error() {
    let root = tempfile::tempdir().unwrap();
    let err = collect_local(root.path()).unwrap_err();
    assert!(
        matches!(err, InventoryError::NoPackageDatabase { .. }),
        "{err}"
    );
}

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Builds a real (empty, noarch) rpm with `rpmbuild`, installs it into a fresh rpm
/// database under a temporary root, and reads it back through `rpm -qa --root`.
/// Skipped when `rpm`/`rpmbuild` are not installed.
#[test]
fn rpm_root_through_the_real_rpm_binary() {
    if !have("rpm") || !have("rpmbuild") {
        eprintln!("skipped: rpm or rpmbuild not installed");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let top = work.path().join("top");
    let spec = "Name: pw-demo-lib\nEpoch: 2\nVersion: 1.0\nRelease: 3.el9\nSummary: demo\n\
                License: MIT\nBuildArch: noarch\n%description\ndemo\n%files\n";
    put(&top, "SPECS/demo.spec", spec.as_bytes());
    let built = Command::new("rpmbuild")
        .arg("--quiet")
        .arg("--define")
        .arg(format!("_topdir {}", top.display()))
        // A private database: Debian's rpm creates /root/.rpmdb on first use otherwise.
        .arg("--define")
        .arg(format!("_dbpath {}/rpmdb", top.display()))
        .arg("-bb")
        .arg(top.join("SPECS/demo.spec"))
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let root = work.path().join("root");
    let rpm = |args: &[&str]| {
        let out = Command::new("rpm")
            .arg("--root")
            .arg(&root)
            .args(["--dbpath", "/var/lib/rpm"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::create_dir_all(&root).unwrap();
    rpm(&["--initdb"]);
    let file = top.join("RPMS/noarch/pw-demo-lib-1.0-3.el9.noarch.rpm");
    rpm(&[
        "-i",
        "--justdb",
        "--nodeps",
        "--noscripts",
        file.to_str().unwrap(),
    ]);
    put(
        &root,
        "etc/os-release",
        b"ID=\"almalinux\"\nVERSION_ID=\"9.4\"\n",
    );

    let inv = collect_local(&root).unwrap();
    assert_eq!(inv.format, PackageFormat::Rpm);
    assert_eq!(inv.database, root.join("var/lib/rpm"));
    assert!(
        inv.warnings.iter().all(|w| w.line.is_none()),
        "{:?}",
        inv.warnings
    );
    assert_eq!(inv.packages.len(), 1);
    let p = &inv.packages[0];
    assert_eq!(
        (p.name.as_str(), p.version.as_str(), p.arch.as_str()),
        ("pw-demo-lib", "2:1.0-3.el9", "noarch")
    );
    assert_eq!(
        (p.source_name.as_deref(), p.source_version.as_deref()),
        (None, None)
    );
    assert_eq!(inv.os.distribution, "almalinux");
}

/// An image whose `etc/os-release` is an absolute symlink is read from the image,
/// not from the machine running the test.
#[test]
fn absolute_symlinks_resolve_inside_the_root() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    put(root, "var/lib/dpkg/status", b"");
    put(root, "usr/lib/os-release", b"ID=imageos\nVERSION_ID=7\n");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::os::unix::fs::symlink("/usr/lib/os-release", root.join("etc/os-release")).unwrap();
    let inv = collect_local(root).unwrap();
    assert_eq!(
        (inv.os.distribution.as_str(), inv.os.release.as_str()),
        ("imageos", "7")
    );
}
