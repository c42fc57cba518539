//! The pending-update parsers on real tool output (copied from Debian 12 and dnf 4).

use patchwarden_inventory::pending::{
    merge_dnf, parse_apt_simulation, parse_dnf_check_update, parse_dnf_updateinfo, PendingUpdate,
};

/// `apt-get -s dist-upgrade` on a Debian 12 host (excerpt, real lines).
const APT_REAL: &str = "\
NOTE: This is only a simulation!
Reading package lists...
Building dependency tree...
Calculating upgrade...
The following packages will be upgraded:
  base-files libgcrypt20 libext2fs2 liblzma-dev
4 upgraded, 1 newly installed, 0 to remove and 0 not upgraded.
Inst base-files [12.4+deb12u11] (12.4+deb12u15 Debian:12.15/oldstable [amd64])
Conf base-files (12.4+deb12u15 Debian:12.15/oldstable [amd64])
Inst libgcrypt20 [1.10.1-3] (1.10.1-3+deb12u1 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64]) []
Inst libext2fs2 [1.47.0-2] (1.47.0-2+b2 Debian:12.15/oldstable [amd64]) [e2fsprogs:amd64 on libext2fs2:amd64] [e2fsprogs:amd64 ]
Inst liblzma-dev [5.4.1-1] (5.4.1-1+deb12u2 Debian-Security:12/oldstable-security [amd64]) []
Inst libc6:i386 [2.36-9] (2.36-9+deb12u4 Ubuntu:22.04/jammy-security [i386])
Inst linux-image-6.1.0-30-amd64 (6.1.124-1 Debian:12.9/stable [amd64])
Remv old-thing [1.0]
Conf libgcrypt20 (1.10.1-3+deb12u1 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64])
";

fn by_name<'a>(updates: &'a [PendingUpdate], name: &str) -> &'a PendingUpdate {
    updates.iter().find(|u| u.name == name).unwrap()
}

#[test]
fn apt_inst_lines_become_updates_with_their_security_flag() {
    let p = parse_apt_simulation(APT_REAL);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(p.updates.len(), 6);
    let base = by_name(&p.updates, "base-files");
    assert_eq!(base.arch, "amd64");
    assert_eq!(base.installed.as_deref(), Some("12.4+deb12u11"));
    assert_eq!(base.candidate, "12.4+deb12u15");
    assert_eq!(base.origins, ["Debian:12.15/oldstable"]);
    assert!(!base.security);
    let gcrypt = by_name(&p.updates, "libgcrypt20");
    assert_eq!(
        gcrypt.origins,
        [
            "Debian:12.15/oldstable",
            "Debian-Security:12/oldstable-security"
        ]
    );
    assert!(gcrypt.security);
    assert!(!by_name(&p.updates, "libext2fs2").security);
    assert!(by_name(&p.updates, "liblzma-dev").security);
    let libc = by_name(&p.updates, "libc6");
    assert_eq!((libc.arch.as_str(), libc.security), ("i386", true));
    let kernel = by_name(&p.updates, "linux-image-6.1.0-30-amd64");
    assert_eq!(kernel.installed, None);
    let names: Vec<_> = p.security().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["libgcrypt20", "liblzma-dev", "libc6"]);
}

#[test]
fn broken_inst_lines_are_warnings() {
    let text = "Inst\nInst onlyname\nInst a [1.0 (2.0 X:y [all])\nInst b [1.0] 2.0\n\
                Inst c [1.0] (2.0 Debian:bookworm [all])\nInstall is not an Inst line\n";
    let p = parse_apt_simulation(text);
    assert_eq!(p.updates.len(), 1);
    assert_eq!(p.updates[0].name, "c");
    let lines: Vec<_> = p.warnings.iter().map(|w| w.line).collect();
    assert_eq!(lines, [1, 2, 3, 4]);
}

/// `dnf -q check-update` (dnf 4.14), with a wrapped long name and obsoletes.
const DNF_CHECK: &str = "
openssl-libs.x86_64                  1:3.0.7-27.el9                   baseos
pwtest-hello.noarch                  2.0-1                            pwtest-local
python3-a-very-long-package-name-that-wraps.noarch
                                     4.2-1.el9                        appstream
Security: kernel-core-5.14.0-427.el9.x86_64 is an installed security update
Obsoleting Packages
new-thing.x86_64                     1.0-1.el9                        baseos
    old-thing.x86_64                 0.9-1.el9                        @System
";

/// `dnf -q check-update` (dnf 4) as `fmtColumns` lays it out on 80 columns when its
/// output is not a terminal: `name.arch` 36 wide, the version 32, then the repository.
/// A wider value ends its line and the next column continues below, indented to where
/// that column starts: a long version (a git snapshot) puts the repository on the next
/// line, and a long name and a long version make a row of three lines.
const DNF_CHECK_WRAPPED: &str = "
openssl-libs.x86_64                  1:3.0.7-27.el9                   baseos
rust-analyzer.x86_64                 2024.04.15^20240415git6c7d5f3-1.el9_4.alma.1
                                                                      epel
python3-azure-mgmt-containerservice.noarch
                                     26.0.0-1.el9                     appstream
golang-github-prometheus-node-exporter.x86_64
                                     1:1.7.0^20240312gitbd2b8a7f-2.el9.alma.1
                                                                      epel-testing
zlib.x86_64                          1.2.11-40.el9                    baseos
";

#[test]
fn dnf_check_update_reads_a_version_wrapped_onto_the_next_line() {
    let p = parse_dnf_check_update(DNF_CHECK_WRAPPED, false);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let rows: Vec<_> = p
        .updates
        .iter()
        .map(|u| {
            (
                u.name.as_str(),
                u.arch.as_str(),
                u.candidate.as_str(),
                u.origins.join(","),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "openssl-libs",
                "x86_64",
                "1:3.0.7-27.el9",
                "baseos".to_owned()
            ),
            (
                "rust-analyzer",
                "x86_64",
                "2024.04.15^20240415git6c7d5f3-1.el9_4.alma.1",
                "epel".to_owned()
            ),
            (
                "python3-azure-mgmt-containerservice",
                "noarch",
                "26.0.0-1.el9",
                "appstream".to_owned()
            ),
            (
                "golang-github-prometheus-node-exporter",
                "x86_64",
                "1:1.7.0^20240312gitbd2b8a7f-2.el9.alma.1",
                "epel-testing".to_owned()
            ),
            ("zlib", "x86_64", "1.2.11-40.el9", "baseos".to_owned()),
        ]
    );
}

#[test]
fn dnf_check_update_rows_cut_short_are_warnings() {
    // A wrapped version whose repository never comes (the next row starts instead), a
    // wrapped name at the end, and an unindented line that does not continue a row.
    let text = "a-long-name.x86_64                   2.0-1.el9.with.a.long.snapshot.suffix\n\
                b.noarch                             1.0-1                            baseos\n\
                c.noarch                             3.0-1\n\
                appstream\n\
                d-very-long.noarch\n";
    let p = parse_dnf_check_update(text, true);
    let names: Vec<_> = p.updates.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["b"]);
    let warned: Vec<_> = p
        .warnings
        .iter()
        .map(|w| (w.line, w.reason.split(':').next().unwrap_or_default()))
        .collect();
    assert_eq!(
        warned,
        [
            (1, "package without repository"),
            (3, "package without repository"),
            (4, "not `name.arch version repo`"),
            (5, "package without version"),
        ]
    );
}

/// `dnf -q updateinfo list --security` (dnf 4) and a dnf 5 `advisory list`.
const DNF_UPDATEINFO: &str = "
RHSA-2024:2447 Important/Sec. openssl-libs-1:3.0.7-27.el9.x86_64
PWSA-2026:0001 Sec.           pwtest-hello-2.0-1.noarch
RHBA-2024:0001 bugfix         tzdata-2024a-1.el9.noarch
Name           Type     Severity  Package                   Issued
ALSA-2024:9999 security Moderate  zlib-1.2.11-40.el9.x86_64 2024-05-01 00:00:00
";

#[test]
fn dnf_check_update_and_updateinfo_merge_into_security_updates() {
    let check = parse_dnf_check_update(DNF_CHECK, false);
    assert!(check.warnings.is_empty(), "{:?}", check.warnings);
    let names: Vec<_> = check.updates.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "openssl-libs",
            "pwtest-hello",
            "python3-a-very-long-package-name-that-wraps"
        ]
    );
    assert_eq!(check.updates[0].candidate, "1:3.0.7-27.el9");
    assert_eq!(check.updates[2].origins, ["appstream"]);

    let notices = parse_dnf_updateinfo(DNF_UPDATEINFO);
    assert!(notices.warnings.is_empty(), "{:?}", notices.warnings);
    assert_eq!(notices.notices.len(), 4);
    assert_eq!(notices.notices[0].severity.as_deref(), Some("Important"));
    assert_eq!(notices.notices[0].evr, "1:3.0.7-27.el9");
    assert_eq!(notices.notices[1].severity, None);
    assert_eq!(notices.notices[2].kind, "bugfix");
    assert_eq!(notices.notices[3].severity.as_deref(), Some("Moderate"));

    let merged = merge_dnf(check, &notices);
    let sec: Vec<_> = merged.security().map(|u| u.name.as_str()).collect();
    assert_eq!(sec, ["openssl-libs", "pwtest-hello", "zlib"]);
    assert_eq!(
        by_name(&merged.updates, "openssl-libs").advisories,
        ["RHSA-2024:2447"]
    );
    assert!(
        !by_name(
            &merged.updates,
            "python3-a-very-long-package-name-that-wraps"
        )
        .security
    );
    // tzdata's bugfix advisory does not make it a security update (nor an update at all).
    assert!(merged.updates.iter().all(|u| u.name != "tzdata"));
}

#[test]
fn dnf_garbage_lines_are_warnings() {
    let p = parse_dnf_check_update(
        "Error: Failed to download metadata\nfoo.x86_64 notaversion repo\nlonely.noarch\n",
        true,
    );
    assert!(p.updates.is_empty());
    assert_eq!(p.warnings.len(), 3, "{:?}", p.warnings);
    let n =
        parse_dnf_updateinfo("RHSA-1 Important/Sec. not-a-nevra\nRHSA-2 weird pkg-1-1.x86_64\n");
    assert!(n.notices.is_empty());
    assert_eq!(n.warnings.len(), 2);
}
