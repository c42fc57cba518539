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
                    }],
                },
            }],
            references: Vec::new(),
        })
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
}
