//! Where a scanned host belongs: usable names and addresses, the kind and OS of an
//! asset created from a report, and the version scheme of an asset.

use patchwarden_domain::asset::{AssetKind, Hostname, OsFamily, OsInfo};
use patchwarden_domain::package::PackageFormat;
use patchwarden_store::Asset;
use patchwarden_version::Scheme;
use std::net::IpAddr;

/// Words of OS texts, `|`-separated: firewalls and other security appliances.
const SECURITY: &str = "pix|adaptive security|asa |fortios|fortigate|pan-os|palo alto|\
    sonicwall|check point|gaia|firewall|netscreen|screenos|watchguard";
/// Routers and switches.
const NETWORK: &str = "cisco|junos|juniper|routeros|mikrotik|procurve|arista|nx-os|\
    huawei vrp|comware|switch|router|extremexos|brocade";
/// Linux distributions: `word in the OS text=os-release ID`.
const LINUX: &str = "centos=centos|red hat=rhel|rhel=rhel|almalinux=almalinux|rocky=rocky|\
    oracle linux=ol|amazon linux=amzn|fedora=fedora|suse=sles|ubuntu=ubuntu|debian=debian|\
    alpine=alpine";

/// A scanner's host name as a [`Hostname`]: URLs (web-app scans) give their host;
/// `localhost` names no particular machine.
pub(super) fn usable_name(raw: Option<&str>) -> Option<Hostname> {
    let raw = raw?.trim();
    let after_scheme = raw.split_once("://").map_or(raw, |(_, rest)| rest);
    let host = after_scheme.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    let name = Hostname::parse(host).ok()?;
    let loopback = matches!(name.as_str(), "localhost" | "localhost.localdomain");
    (!loopback).then_some(name)
}

/// The host's IP address when it is a real, non-loopback address.
pub(super) fn usable_ip(raw: Option<&str>) -> Option<String> {
    let ip: IpAddr = raw?.trim().parse().ok()?;
    (!ip.is_loopback() && !ip.is_unspecified()).then(|| ip.to_string())
}

/// Kind and OS of a new asset from the scanner's OS text (its first line).
pub fn classify(os: Option<&str>) -> (AssetKind, OsInfo) {
    let text = os.and_then(|s| s.lines().next()).unwrap_or("").trim();
    let l = text.to_ascii_lowercase();
    let has = |words: &str| words.split('|').any(|w| l.contains(w));
    let arch = if l.contains("x86_64") { "x86_64" } else { "" };
    let info = |family, distribution: &str, release: String| OsInfo {
        family,
        distribution: distribution.to_owned(),
        release,
        arch: arch.to_owned(),
    };
    if has(SECURITY) {
        return (
            AssetKind::SecurityDevice,
            info(OsFamily::NetworkOs, "", release_after(&l, "")),
        );
    }
    if has(NETWORK) {
        return (
            AssetKind::NetworkDevice,
            info(OsFamily::NetworkOs, "", release_after(&l, "")),
        );
    }
    if has("windows") {
        let kind = if has("server") {
            AssetKind::Server
        } else {
            AssetKind::Workstation
        };
        let rest = l.split_once("windows ").map_or("", |(_, r)| r);
        return (kind, info(OsFamily::Windows, "windows", token(rest, 64)));
    }
    if has("mac os|macos|os x") {
        let os = info(OsFamily::MacOs, "macos", release_after(&l, "x "));
        return (AssetKind::Workstation, os);
    }
    if let Some((w, id)) = LINUX
        .split('|')
        .filter_map(|p| p.split_once('='))
        .find(|(w, _)| l.contains(w))
    {
        return (
            AssetKind::Server,
            info(OsFamily::Linux, id, release_after(&l, w)),
        );
    }
    if has("freebsd|openbsd|netbsd") {
        return (
            AssetKind::Server,
            info(OsFamily::Bsd, "", release_after(&l, "bsd")),
        );
    }
    let family = if has("linux") {
        OsFamily::Linux
    } else {
        OsFamily::Other
    };
    let distribution = l
        .split_whitespace()
        .next()
        .filter(|_| family == OsFamily::Other);
    let distribution = token(distribution.unwrap_or(""), 32);
    (
        AssetKind::Server,
        info(family, &distribution, release_after(&l, "")),
    )
}

/// The first token after `word` that starts with a digit (`6.3` of "centos release 6.3").
fn release_after(l: &str, word: &str) -> String {
    let rest = l.split_once(word).map_or(l, |(_, r)| r);
    let t = rest
        .split_whitespace()
        .find(|t| t.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or("");
    token(t, 32)
}

/// Keeps `[a-z0-9._-]` and spaces (as `-`), at most `max` characters.
fn token(s: &str, max: usize) -> String {
    s.trim()
        .chars()
        .map(|c| if c == ' ' { '-' } else { c })
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(max)
        .collect()
}

/// Version scheme of the asset: its inventory's, else from the OS (rpm for `.el` and
/// the Red Hat family, deb for Debian and Ubuntu, apk for Alpine).
pub(super) fn scheme_of(asset: &Asset, os_text: Option<&str>) -> Option<Scheme> {
    let known = asset.package_format.or_else(|| {
        let d = asset.os.distribution.as_str();
        let t = os_text.unwrap_or("").to_ascii_lowercase();
        match d {
            "debian" | "ubuntu" => Some(PackageFormat::Deb),
            "alpine" => Some(PackageFormat::Apk),
            "centos" | "rhel" | "almalinux" | "rocky" | "ol" | "amzn" | "fedora" | "sles" => {
                Some(PackageFormat::Rpm)
            }
            _ if t.contains(".el") || t.contains("centos") => Some(PackageFormat::Rpm),
            _ => None,
        }
    })?;
    Some(scheme(known))
}

pub(super) fn scheme(format: PackageFormat) -> Scheme {
    match format {
        PackageFormat::Deb => Scheme::Deb,
        PackageFormat::Rpm => Scheme::Rpm,
        PackageFormat::Apk => Scheme::Apk,
    }
}

pub(super) fn format(scheme: Scheme) -> PackageFormat {
    match scheme {
        Scheme::Deb => PackageFormat::Deb,
        Scheme::Rpm => PackageFormat::Rpm,
        Scheme::Apk => PackageFormat::Apk,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(os: &str) -> (AssetKind, OsFamily, String, String, String) {
        let (k, o) = classify(Some(os));
        (k, o.family, o.distribution, o.release, o.arch)
    }

    #[test]
    fn kinds_and_families_from_os_text() {
        let s = |x: &str| x.to_owned();
        assert_eq!(
            c("Linux Kernel 2.6.32-279.el6.x86_64 on CentOS release 6.3 (Final)"),
            (
                AssetKind::Server,
                OsFamily::Linux,
                s("centos"),
                s("6.3"),
                s("x86_64")
            )
        );
        assert_eq!(
            c("Linux Kernel 2.6 on Ubuntu 10.10 (maverick)"),
            (
                AssetKind::Server,
                OsFamily::Linux,
                s("ubuntu"),
                s("10.10"),
                s("")
            )
        );
        let (k, f, d, r, _) = c("Microsoft Windows Server 2008 R2 Standard Service Pack 1");
        assert_eq!(
            (k, f, d.as_str()),
            (AssetKind::Server, OsFamily::Windows, "windows")
        );
        assert!(r.starts_with("server-2008-r2"), "{r}");
        assert_eq!(c("Microsoft Windows 10 Pro").0, AssetKind::Workstation);
        assert_eq!(
            c("CISCO PIX 7.0").0..=c("Fortinet FortiGate FortiOS 7.2").0,
            AssetKind::SecurityDevice..=AssetKind::SecurityDevice
        );
        assert_eq!(c("CISCO PIX 7.0").1, OsFamily::NetworkOs);
        assert_eq!(
            (c("Cisco IOS 15.2").0, c("Juniper Junos OS 21.4").1),
            (AssetKind::NetworkDevice, OsFamily::NetworkOs)
        );
        assert_eq!(
            c("Mac OS X 10.8.5 (intel)"),
            (
                AssetKind::Workstation,
                OsFamily::MacOs,
                s("macos"),
                s("10.8.5"),
                s("")
            )
        );
        assert_eq!(
            c("AIX 5.3"),
            (
                AssetKind::Server,
                OsFamily::Other,
                s("aix"),
                s("5.3"),
                s("")
            )
        );
        assert_eq!(c("Linux Kernel 2.6").1, OsFamily::Linux);
        let (k, o) = classify(None);
        assert_eq!(
            (k, o.family, o.distribution.as_str()),
            (AssetKind::Server, OsFamily::Other, "")
        );
    }

    #[test]
    fn names_and_addresses() {
        let n = |s: &str| usable_name(Some(s)).map(|h| h.to_string());
        assert_eq!(n("QA3APP09").as_deref(), Some("qa3app09"));
        assert_eq!(n("http://google.com/").as_deref(), Some("google.com"));
        assert_eq!(
            n("https://user@shop.example.org:8443/x?y").as_deref(),
            Some("shop.example.org")
        );
        assert_eq!(n("localhost"), None);
        assert_eq!(n("not a name"), None);
        assert_eq!(usable_ip(Some(" 10.0.0.1 ")).as_deref(), Some("10.0.0.1"));
        assert_eq!(usable_ip(Some("192.168.1.1001")), None);
        assert_eq!(usable_ip(Some("127.0.0.1")), None);
        assert_eq!(usable_ip(Some("::1")), None);
        assert_eq!(
            usable_ip(Some("2001:DB8::1")).as_deref(),
            Some("2001:db8::1")
        );
    }
}
