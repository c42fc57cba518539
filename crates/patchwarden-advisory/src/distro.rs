//! Distribution names: OSV ecosystems and Debian codenames to [`DistroRelease`].

use patchwarden_domain::advisory::{DistroRelease, NameKind};
use patchwarden_domain::package::PackageFormat;

/// How an OSV ecosystem maps onto a distribution release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcosystemInfo {
    /// os-release `ID` family and major release.
    pub distro: DistroRelease,
    /// Version-ordering scheme.
    pub scheme: PackageFormat,
    /// Whether the ecosystem names source or binary packages.
    pub name_kind: NameKind,
}

fn info(eco: &str, release: &str, scheme: PackageFormat, kind: NameKind) -> Option<EcosystemInfo> {
    if release.is_empty() || release.len() > 32 || release.chars().any(char::is_whitespace) {
        return None;
    }
    Some(EcosystemInfo {
        distro: DistroRelease {
            ecosystem: eco.to_owned(),
            release: release.to_owned(),
        },
        scheme,
        name_kind: kind,
    })
}

/// Maps an OSV `affected[].package.ecosystem` to a distribution release, or `None` for
/// ecosystems that are not Linux distributions (PyPI, Go, …) or are not understood.
///
/// `Debian:12` → debian 12; `Ubuntu:22.04:LTS`, `Ubuntu:Pro:16.04:LTS` → ubuntu 22.04 /
/// 16.04; `AlmaLinux:9` → almalinux 9; `Rocky Linux:9` → rocky 9; `Alpine:v3.19` →
/// alpine 3.19; `Red Hat:enterprise_linux:9::appstream` → rhel 9;
/// `SUSE:Linux Enterprise Server 15 SP5` → sles 15.5; `openSUSE:Leap 15.5` →
/// opensuse-leap 15.5; `Mageia:9` → mageia 9; `openEuler:22.03-LTS` → openeuler 22.03.
pub fn from_osv_ecosystem(ecosystem: &str) -> Option<EcosystemInfo> {
    use NameKind::{Binary, Source};
    use PackageFormat::{Apk, Deb, Rpm};
    let (family, rest) = ecosystem.split_once(':')?;
    let parts: Vec<&str> = rest.split(':').collect();
    match family {
        "Debian" => info("debian", parts.first()?, Deb, Source),
        "Ubuntu" => {
            let release = parts
                .iter()
                .find(|p| p.starts_with(|c: char| c.is_ascii_digit()))?;
            info("ubuntu", release, Deb, Source)
        }
        "AlmaLinux" => info("almalinux", major(parts.first()?), Rpm, Binary),
        "Rocky Linux" => info("rocky", major(parts.first()?), Rpm, Binary),
        "Alpine" => info(
            "alpine",
            parts.first()?.trim_start_matches('v'),
            Apk,
            Source,
        ),
        "Red Hat" => {
            // `Red Hat:enterprise_linux:9::appstream`, `Red Hat:rhel_eus:8.6::baseos`
            let v = parts.get(1)?;
            info("rhel", major(v), Rpm, Binary)
        }
        "SUSE" => info("sles", &suse_release(parts.first()?)?, Rpm, Binary),
        "openSUSE" => {
            let p = parts.first()?;
            if let Some(v) = p.strip_prefix("Leap ") {
                let v = v.split_whitespace().next()?;
                info("opensuse-leap", v, Rpm, Binary)
            } else if p.starts_with("Tumbleweed") {
                info("opensuse-tumbleweed", "rolling", Rpm, Binary)
            } else {
                None
            }
        }
        "Mageia" => info("mageia", parts.first()?, Rpm, Binary),
        "openEuler" => {
            let v = parts.first()?.trim_end_matches("-LTS");
            let v = v.split("-LTS").next()?;
            info("openeuler", v, Rpm, Binary)
        }
        _ => None,
    }
}

/// Ecosystems without a release part that are still distributions.
pub(crate) fn from_osv_bare(ecosystem: &str) -> Option<EcosystemInfo> {
    match ecosystem {
        "Wolfi" => info("wolfi", "rolling", PackageFormat::Apk, NameKind::Binary),
        "Chainguard" => info(
            "chainguard",
            "rolling",
            PackageFormat::Apk,
            NameKind::Binary,
        ),
        _ => None,
    }
}

/// `9.2` → `9`, `9` → `9`.
fn major(v: &str) -> &str {
    v.split('.').next().unwrap_or(v)
}

/// `Linux Enterprise Server 15 SP5` → `15.5`; `… 12` → `12`.
fn suse_release(product: &str) -> Option<String> {
    let words: Vec<&str> = product.split_whitespace().collect();
    let idx = words
        .iter()
        .rposition(|w| w.chars().all(|c| c.is_ascii_digit()) && !w.is_empty())?;
    let major = words[idx];
    match words.get(idx + 1).and_then(|w| w.strip_prefix("SP")) {
        Some(sp) if sp.chars().all(|c| c.is_ascii_digit()) && !sp.is_empty() => {
            Some(format!("{major}.{sp}"))
        }
        _ => Some(major.to_owned()),
    }
}

/// Debian codename → release number as Debian names it (`bookworm` → `12`,
/// `sid` → `unstable`). Unknown names give `None`.
pub fn debian_release(codename: &str) -> Option<&'static str> {
    Some(match codename.trim().to_ascii_lowercase().as_str() {
        "hamm" => "2.0",
        "slink" => "2.1",
        "potato" => "2.2",
        "woody" => "3.0",
        "sarge" => "3.1",
        "etch" => "4",
        "lenny" => "5",
        "squeeze" => "6",
        "wheezy" => "7",
        "jessie" => "8",
        "stretch" => "9",
        "buster" => "10",
        "bullseye" => "11",
        "bookworm" => "12",
        "trixie" => "13",
        "forky" => "14",
        "duke" => "15",
        "sid" | "unstable" => "unstable",
        _ => return None,
    })
}

/// A Debian release key for a codename.
pub(crate) fn debian(codename: &str) -> Option<DistroRelease> {
    Some(DistroRelease {
        ecosystem: "debian".into(),
        release: debian_release(codename)?.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(e: &str) -> Option<String> {
        from_osv_ecosystem(e).map(|i| i.distro.to_string())
    }

    #[test]
    fn ecosystems() {
        assert_eq!(key("Debian:12").as_deref(), Some("debian:12"));
        assert_eq!(key("Ubuntu:22.04:LTS").as_deref(), Some("ubuntu:22.04"));
        assert_eq!(key("Ubuntu:Pro:16.04:LTS").as_deref(), Some("ubuntu:16.04"));
        assert_eq!(key("Ubuntu:25.10").as_deref(), Some("ubuntu:25.10"));
        assert_eq!(key("AlmaLinux:10").as_deref(), Some("almalinux:10"));
        assert_eq!(key("Rocky Linux:9").as_deref(), Some("rocky:9"));
        assert_eq!(key("Alpine:v3.19").as_deref(), Some("alpine:3.19"));
        assert_eq!(
            key("Red Hat:enterprise_linux:9::appstream").as_deref(),
            Some("rhel:9")
        );
        assert_eq!(
            key("SUSE:Linux Enterprise Server 15 SP5").as_deref(),
            Some("sles:15.5")
        );
        assert_eq!(
            key("openSUSE:Leap 15.5").as_deref(),
            Some("opensuse-leap:15.5")
        );
        assert_eq!(key("PyPI"), None);
        assert_eq!(key("Go:x"), None);
        assert_eq!(debian_release("bookworm"), Some("12"));
        assert_eq!(debian_release("sid"), Some("unstable"));
        assert_eq!(debian_release("nope"), None);
    }
}
