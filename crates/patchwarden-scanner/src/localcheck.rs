//! Installed-vs-fixed package versions in the text of credentialed local checks.
//!
//! Nessus writes pairs like
//! `Remote package installed : openssl-1.0.0-20.el6_2.5` / `Should be : openssl-1.0.1e-15.el6`
//! (rpm NVR or NEVRA; Debian `name_version`), and Ubuntu plugins
//! `- Installed package : openssl_1.1.1f-1ubuntu2.16` / `- Fixed package : …`.
//! OpenVAS / Greenbone local security checks (and notus) write
//! `Vulnerable package: openssl` / `Installed version: openssl-1.0.2k-19.el7` /
//! `Fixed version: >=openssl-1.0.2k-21.el7`.

use crate::LocalCheck;

/// rpm architectures stripped from the end of an NEVRA.
const ARCHES: &[&str] = &[
    "x86_64", "noarch", "i386", "i486", "i586", "i686", "athlon", "aarch64", "ppc", "ppc64",
    "ppc64le", "ppc64p7", "s390", "s390x", "armv7hl", "armv7l", "armhfp", "src", "ia64", "alpha",
    "sparc", "sparc64",
];

/// Splits an rpm `N-[E:]V-R[.A]` (optionally `E:N-V-R[.A]`) into name and `[E:]V-R`,
/// dropping the architecture.
pub fn split_rpm_nevra(s: &str) -> Option<(String, String)> {
    let s = s.trim();
    // `E:N-V-R`: an epoch in front of the name.
    let (epoch, rest) = match s.split_once(':') {
        Some((e, r)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => (Some(e), r),
        _ => (None, s),
    };
    let rest = match rest.rsplit_once('.') {
        Some((head, arch)) if ARCHES.contains(&arch) => head,
        _ => rest,
    };
    let (nv, release) = rest.rsplit_once('-')?;
    let (name, version) = nv.rsplit_once('-')?;
    if name.is_empty() || version.is_empty() || release.is_empty() || name.contains(':') {
        return None;
    }
    let evr = match epoch {
        Some(e) if !version.contains(':') => format!("{e}:{version}-{release}"),
        _ => format!("{version}-{release}"),
    };
    Some((name.to_string(), evr))
}

/// Splits a package reference into name and version: Debian `name_version` or rpm NEVRA.
/// When both readings work (`nspr-4.9.2-0.el6_3.1`), a `_` after the last `-` lies in an rpm
/// release, so rpm wins; otherwise Debian does.
fn split_package(s: &str) -> Option<(String, String)> {
    let s = s.trim();
    if s.is_empty() || s.chars().any(char::is_whitespace) {
        return None;
    }
    let deb = s.split_once('_').filter(|(name, version)| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
            && version.bytes().next().is_some_and(|b| b.is_ascii_digit())
    });
    let rpm = split_rpm_nevra(s);
    match (deb, rpm) {
        (Some((name, version)), None) => Some((name.to_string(), version.to_string())),
        (None, rpm) => rpm,
        (Some((name, version)), Some(rpm)) => {
            let underscore_in_release = s.find('_') > s.rfind('-');
            if underscore_in_release {
                Some(rpm)
            } else {
                Some((name.to_string(), version.to_string()))
            }
        }
    }
}

/// `label : value` with `label` one of `labels` (any case, leading `- ` allowed).
fn labelled<'a>(line: &'a str, labels: &[&str]) -> Option<&'a str> {
    let line = line.trim().trim_start_matches("- ").trim_start();
    let (label, value) = line.split_once(':')?;
    let label = label.trim();
    labels
        .iter()
        .any(|l| label.eq_ignore_ascii_case(l))
        .then(|| value.trim())
}

/// Local checks found in a Nessus `plugin_output`, and the pairs that could not be read.
pub(crate) fn nessus(output: &str) -> (Vec<LocalCheck>, Vec<String>) {
    const INSTALLED: &[&str] = &["Remote package installed", "Installed package"];
    const FIXED: &[&str] = &["Should be", "Fixed package"];
    let mut checks = Vec::new();
    let mut problems = Vec::new();
    let mut pending: Option<&str> = None;
    for line in output.lines() {
        if let Some(v) = labelled(line, INSTALLED) {
            if let Some(p) = pending.replace(v) {
                problems.push(format!(
                    "installed package {:?} without a fixed version",
                    crate::text::short(p)
                ));
            }
        } else if let Some(fixed) = labelled(line, FIXED) {
            let Some(installed) = pending.take() else {
                problems.push(format!(
                    "fixed package {:?} without an installed one",
                    crate::text::short(fixed)
                ));
                continue;
            };
            match (split_package(installed), split_package(fixed)) {
                (Some((package, installed)), Some((_, fixed))) => checks.push(LocalCheck {
                    package,
                    installed,
                    fixed,
                }),
                _ => problems.push(format!(
                    "cannot read package pair {:?} / {:?}",
                    crate::text::short(installed),
                    crate::text::short(fixed)
                )),
            }
        }
    }
    if let Some(p) = pending {
        problems.push(format!(
            "installed package {:?} without a fixed version",
            crate::text::short(p)
        ));
    }
    (checks, problems)
}

/// Strips a leading `name-` and comparison operators from an OpenVAS version value.
fn openvas_version(package: &str, value: &str) -> Option<String> {
    let v = value.trim().trim_start_matches(['>', '<', '=', ' ']);
    let v = v.split_whitespace().next()?;
    let v = v
        .strip_prefix(package)
        .and_then(|r| r.strip_prefix('-'))
        .unwrap_or(v);
    let v = match v.rsplit_once('.') {
        Some((head, arch)) if ARCHES.contains(&arch) => head,
        _ => v,
    };
    (!v.is_empty()).then(|| v.to_string())
}

/// Local checks found in an OpenVAS result description, and the groups that could not be read.
pub(crate) fn openvas(output: &str) -> (Vec<LocalCheck>, Vec<String>) {
    let mut checks = Vec::new();
    let mut problems = Vec::new();
    let mut package: Option<&str> = None;
    let mut installed: Option<&str> = None;
    for line in output.lines() {
        if let Some(p) = labelled(line, &["Vulnerable package"]) {
            package = Some(p);
            installed = None;
        } else if let Some(v) = labelled(line, &["Installed version"]) {
            installed = Some(v);
        } else if let Some(fixed) = labelled(line, &["Fixed version"]) {
            let (Some(p), Some(i)) = (package, installed) else {
                continue;
            };
            match (openvas_version(p, i), openvas_version(p, fixed)) {
                (Some(installed), Some(fixed)) => checks.push(LocalCheck {
                    package: p.to_string(),
                    installed,
                    fixed,
                }),
                _ => problems.push(format!(
                    "cannot read versions of package {:?}",
                    crate::text::short(p)
                )),
            }
            package = None;
            installed = None;
        }
    }
    (checks, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lc(p: &str, i: &str, f: &str) -> LocalCheck {
        LocalCheck {
            package: p.into(),
            installed: i.into(),
            fixed: f.into(),
        }
    }

    #[test]
    fn rpm_nevra() {
        let s = |x: &str| split_rpm_nevra(x).map(|(n, v)| format!("{n} {v}"));
        assert_eq!(
            s("openssl-1.0.0-20.el6_2.5").as_deref(),
            Some("openssl 1.0.0-20.el6_2.5")
        );
        assert_eq!(
            s("openssl-1.0.1e-15.el6.x86_64").as_deref(),
            Some("openssl 1.0.1e-15.el6")
        );
        assert_eq!(
            s("kernel-headers-2.6.32-358.el6.i686").as_deref(),
            Some("kernel-headers 2.6.32-358.el6")
        );
        assert_eq!(
            s("tzdata-2013g-1.el6.noarch").as_deref(),
            Some("tzdata 2013g-1.el6")
        );
        assert_eq!(
            s("1:openssl-1.0.1e-16.el6_5.x86_64").as_deref(),
            Some("openssl 1:1.0.1e-16.el6_5")
        );
        assert_eq!(
            s("openssl-1:1.0.1e-16.el6_5").as_deref(),
            Some("openssl 1:1.0.1e-16.el6_5")
        );
        assert_eq!(
            s("dhclient-4.1.1-31.P1.el6").as_deref(),
            Some("dhclient 4.1.1-31.P1.el6")
        );
        assert_eq!(s("openssl"), None);
        assert_eq!(s("a-1"), None);
    }

    #[test]
    fn nessus_pairs() {
        let out = "\nRemote package installed : nspr-4.9-1.el6\nShould be : nspr-4.9.2-0.el6_3.1\n\n\
                   Remote package installed : openssl-1.0.0-20.el6_2.5.x86_64\nShould be                : 1:openssl-1.0.1e-15.el6\n";
        let (checks, problems) = nessus(out);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            checks,
            [
                lc("nspr", "4.9-1.el6", "4.9.2-0.el6_3.1"),
                lc("openssl", "1.0.0-20.el6_2.5", "1:1.0.1e-15.el6")
            ]
        );
        let deb = "  - Installed package : openssl_1.1.1f-1ubuntu2.16\n    - Fixed package     : openssl_1.1.1f-1ubuntu2.17\n";
        assert_eq!(
            nessus(deb).0,
            [lc("openssl", "1.1.1f-1ubuntu2.16", "1.1.1f-1ubuntu2.17")]
        );
        assert_eq!(
            split_package("libfoo-bar_1.0"),
            Some(("libfoo-bar".into(), "1.0".into()))
        );
        assert_eq!(
            split_package("mod_ssl-2.2.15-29.el6.centos"),
            Some(("mod_ssl".into(), "2.2.15-29.el6.centos".into()))
        );
        let (checks, problems) =
            nessus("Remote package installed : ???\nShould be : x\nShould be : y");
        assert!(checks.is_empty());
        assert_eq!(problems.len(), 2);
        // A product version check names no package: not a local check.
        assert!(
            nessus("  Installed version : 5.3\n  Fixed version     : 5.7\n")
                .0
                .is_empty()
        );
    }

    #[test]
    fn openvas_groups() {
        let notus =
            "Vulnerable package: openssl\nInstalled version:  openssl-1.0.2k-19.el7.x86_64\n\
                     Fixed version:      >=openssl-1.0.2k-21.el7\n\nVulnerable package: libssl1.1\n\
                     Installed version: 1.1.1n-0+deb11u3\nFixed version: 1.1.1n-0+deb11u4\n";
        assert_eq!(
            openvas(notus).0,
            [
                lc("openssl", "1.0.2k-19.el7", "1.0.2k-21.el7"),
                lc("libssl1.1", "1.1.1n-0+deb11u3", "1.1.1n-0+deb11u4")
            ]
        );
        // Product checks (no `Vulnerable package:`) are not package checks.
        assert!(
            openvas("Installed version: 116.0.3\nFixed version:     117\n")
                .0
                .is_empty()
        );
    }
}
