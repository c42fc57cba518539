//! The package manager's own signal: a candidate version that comes from a security
//! archive (`bookworm-security`, `jammy-security`) or carries a security advisory
//! (`dnf updateinfo --security`) is a pending security update even when no feed is
//! available. Each becomes an advisory that matching treats like any other, so the
//! finding explains itself the same way.

use patchwarden_domain::advisory::{
    Advisory, AffectedPackage, DistroRelease, NameKind, PackageState, VersionRange,
};
use patchwarden_domain::package::PackageFormat;

/// Source name of these advisories.
pub const SOURCE: &str = "package-manager";

/// One security update the package manager offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityUpdate<'a> {
    pub name: &'a str,
    pub arch: &'a str,
    pub candidate: &'a str,
    /// Where it comes from (`Debian-Security:12/stable-security`) or the vendor
    /// advisory ids that name it.
    pub origin: &'a str,
}

/// One advisory per (package, candidate): "versions below `candidate` of `name` are
/// affected; fixed in `candidate`", id `PM:<origin>:<name>:<candidate>`.
pub fn advisories(
    distro: &DistroRelease,
    format: PackageFormat,
    updates: &[SecurityUpdate<'_>],
) -> Vec<Advisory> {
    updates
        .iter()
        .map(|u| Advisory {
            id: format!("PM:{}:{}:{}", u.origin, u.name, u.candidate),
            source: SOURCE.to_owned(),
            aliases: Vec::new(),
            published: None,
            modified: None,
            title: Some(format!(
                "security update {} {} from {}",
                u.name, u.candidate, u.origin
            )),
            severity: None,
            cvss: Vec::new(),
            affected: vec![AffectedPackage {
                distro: distro.clone(),
                scheme: format,
                name: u.name.to_owned(),
                name_kind: NameKind::Binary,
                arches: if u.arch.is_empty() || u.arch == "all" || u.arch == "noarch" {
                    Vec::new()
                } else {
                    vec![u.arch.to_owned()]
                },
                state: PackageState::Fixed {
                    ranges: vec![VersionRange {
                        introduced: None,
                        fixed: Some(u.candidate.to_owned()),
                        last_affected: None,
                        limit: None,
                    }],
                },
            }],
            references: Vec::new(),
        })
        .collect()
}

/// Drops the package manager's findings that a feed already explains: when a feed's
/// finding for the same package and architecture is fixed at or below the security
/// candidate, that update is the fix the feed describes (with its CVEs, scores and
/// level), and a second finding for it would be counted twice. Signal findings that no
/// feed explains stay: they are what makes an offline host's screen honest. A feed
/// finding suppressed by a not-affected statement explains nothing.
pub fn drop_explained(
    findings: &mut Vec<patchwarden_domain::finding::Finding>,
    format: PackageFormat,
) {
    drop_explained_by(findings, format, |f| f);
}

/// [`drop_explained`] over items that hold a finding (`finding` gives it).
pub fn drop_explained_by<T>(
    items: &mut Vec<T>,
    format: PackageFormat,
    finding: impl Fn(&T) -> &patchwarden_domain::finding::Finding,
) {
    let drop = explained(&items.iter().map(&finding).collect::<Vec<_>>(), format);
    let mut drop = drop.into_iter();
    items.retain(|_| !drop.next().unwrap_or(false));
}

/// Which of one host's `findings` [`drop_explained`] drops, by position.
pub fn explained(
    findings: &[&patchwarden_domain::finding::Finding],
    format: PackageFormat,
) -> Vec<bool> {
    use std::cmp::Ordering;
    let scheme = crate::index::scheme_of(format);
    let explained = |signal: &patchwarden_domain::finding::Finding| {
        let Some(candidate) = signal.fixed.as_deref() else {
            return false;
        };
        findings.iter().any(|f| {
            f.source != SOURCE
                && f.suppressed.is_none()
                && f.package == signal.package
                && f.arch == signal.arch
                && f.fixed.as_deref().is_some_and(|fixed| {
                    patchwarden_version::compare_str(scheme, fixed, candidate)
                        .is_ok_and(|o| o != Ordering::Greater)
                })
        })
    };
    findings
        .iter()
        .map(|f| f.source == SOURCE && explained(f))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AdvisoryIndex;
    use patchwarden_domain::package::InstalledPackage;

    #[test]
    fn a_security_candidate_becomes_an_explained_finding() {
        let d = DistroRelease {
            ecosystem: "debian".into(),
            release: "12".into(),
        };
        let advs = advisories(
            &d,
            PackageFormat::Deb,
            &[SecurityUpdate {
                name: "libssl3",
                arch: "amd64",
                candidate: "3.0.17-1~deb12u3",
                origin: "Debian-Security:12/stable-security",
            }],
        );
        let idx = AdvisoryIndex::build(advs);
        let p = InstalledPackage {
            name: "libssl3".into(),
            version: "3.0.17-1~deb12u2".into(),
            arch: "amd64".into(),
            source_name: Some("openssl".into()),
            source_version: None,
        };
        let f = idx.match_package(&d, PackageFormat::Deb, &p);
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].evidence,
            "installed 3.0.17-1~deb12u2 < fixed 3.0.17-1~deb12u3 per PM:Debian-Security:12/stable-security:libssl3:3.0.17-1~deb12u3, debian:12"
        );
    }

    #[test]
    fn feed_findings_explain_the_signal() {
        use patchwarden_domain::finding::{Finding, FindingStatus};
        let f = |source: &str, advisory: &str, fixed: Option<&str>| Finding {
            package: "openssl".into(),
            arch: "amd64".into(),
            installed: "3.0.11-1~deb12u1".into(),
            fixed: fixed.map(str::to_owned),
            status: FindingStatus::Vulnerable,
            advisory: advisory.into(),
            source: source.into(),
            cves: Vec::new(),
            distro: "debian:12".into(),
            evidence: String::new(),
            suppressed: None,
        };
        let signal = f(
            SOURCE,
            "PM:sec:openssl:3.0.11-1~deb12u2",
            Some("3.0.11-1~deb12u2"),
        );
        // A feed fix at the candidate, or below it, explains the signal.
        for fixed in ["3.0.11-1~deb12u2", "3.0.11-1~deb12u1+b1"] {
            let mut v = vec![signal.clone(), f("osv", "DSA-1", Some(fixed))];
            drop_explained(&mut v, PackageFormat::Deb);
            assert_eq!(v.len(), 1, "{fixed}");
            assert_eq!(v[0].advisory, "DSA-1");
        }
        // A fix above the candidate, a finding without a fix, another package or
        // another architecture does not.
        let mut other_arch = f("osv", "DSA-4", Some("3.0.11-1~deb12u2"));
        other_arch.arch = "i386".into();
        let mut other_pkg = f("osv", "DSA-5", Some("3.0.11-1~deb12u2"));
        other_pkg.package = "libssl3".into();
        let mut v = vec![
            signal.clone(),
            f("osv", "DSA-2", Some("3.0.13-1~deb12u1")),
            f("osv", "DSA-3", None),
            other_arch,
            other_pkg,
        ];
        drop_explained(&mut v, PackageFormat::Deb);
        assert_eq!(v.len(), 5);
        assert_eq!(v[0].advisory, signal.advisory);
        // Epochs count (rpm): 1:1.0 is above 2.0, so it does not explain a 2.0 signal.
        let mut rpm_signal = signal.clone();
        rpm_signal.fixed = Some("2.0-1.el9".into());
        let mut v = vec![rpm_signal, f("osv", "ALSA-1", Some("1:1.0-1.el9"))];
        drop_explained(&mut v, PackageFormat::Rpm);
        assert_eq!(v.len(), 2);
    }
}
