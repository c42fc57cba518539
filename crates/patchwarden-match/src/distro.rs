//! Which advisory data applies to a host: its distribution release key.

use patchwarden_domain::advisory::DistroRelease;
use patchwarden_domain::asset::OsInfo;

/// The release key advisories are published under, from os-release `ID` and
/// `VERSION_ID`: RHEL-family and Debian use the major release (`9.4` → `9`), Ubuntu
/// keeps `YY.MM`, Alpine keeps `MAJOR.MINOR`. `None` when the release is unknown.
pub fn distro_key(os: &OsInfo) -> Option<DistroRelease> {
    let id = os.distribution.trim().to_ascii_lowercase();
    let release = os.release.trim();
    if id.is_empty() || release.is_empty() {
        return None;
    }
    let ecosystem = match id.as_str() {
        "rhel" | "redhat" => "rhel",
        "centos" => "centos",
        "rocky" | "rockylinux" => "rocky",
        "almalinux" | "alma" => "almalinux",
        "ol" | "oracle" => "oracle",
        "amzn" | "amazon" => "amazon",
        "opensuse-leap" | "opensuse" => "opensuse",
        other => other,
    };
    let mut parts = release.split('.');
    let major = parts.next().unwrap_or("");
    let release = match ecosystem {
        "ubuntu" | "alpine" => match parts.next() {
            Some(minor) => format!("{major}.{minor}"),
            None => major.to_owned(),
        },
        _ => major.to_owned(),
    };
    Some(DistroRelease {
        ecosystem: ecosystem.to_owned(),
        release,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use patchwarden_domain::asset::OsFamily;

    fn os(id: &str, rel: &str) -> OsInfo {
        OsInfo {
            family: OsFamily::Linux,
            distribution: id.into(),
            release: rel.into(),
            arch: "x86_64".into(),
        }
    }

    #[test]
    fn release_keys() {
        let k = |id, rel| distro_key(&os(id, rel)).map(|d| d.to_string());
        assert_eq!(k("almalinux", "9.4").as_deref(), Some("almalinux:9"));
        assert_eq!(k("debian", "12").as_deref(), Some("debian:12"));
        assert_eq!(k("ubuntu", "22.04").as_deref(), Some("ubuntu:22.04"));
        assert_eq!(k("alpine", "3.19.1").as_deref(), Some("alpine:3.19"));
        assert_eq!(k("rocky", "8.10").as_deref(), Some("rocky:8"));
        assert_eq!(k("debian", ""), None);
    }
}
