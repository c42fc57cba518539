//! The machine architecture, in the package manager's own naming.

use patchwarden_domain::package::{InstalledPackage, PackageFormat};
use std::collections::BTreeMap;

/// Packages that are always built for the native architecture, per format.
fn anchors(format: PackageFormat) -> &'static [&'static str] {
    match format {
        PackageFormat::Deb => &["dpkg", "libc6", "base-files"],
        PackageFormat::Rpm => &["rpm", "filesystem", "glibc"],
        PackageFormat::Apk => &["apk-tools", "musl", "busybox"],
    }
}

/// Architecture-independent markers that never name the machine.
const NEUTRAL: &[&str] = &["", "all", "noarch", "any", "(none)", "src"];

/// The native architecture read from the package list, the way `dpkg
/// --print-architecture` would answer: the arch of `dpkg` (rpm: `rpm`, apk:
/// `apk-tools`) or another always-native package, else the most common specific arch.
pub fn native_arch(format: PackageFormat, packages: &[InstalledPackage]) -> Option<String> {
    for anchor in anchors(format) {
        if let Some(p) = packages
            .iter()
            .find(|p| p.name == *anchor && !NEUTRAL.contains(&p.arch.as_str()))
        {
            return Some(p.arch.clone());
        }
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for p in packages
        .iter()
        .filter(|p| !NEUTRAL.contains(&p.arch.as_str()))
    {
        *counts.entry(p.arch.as_str()).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(a, _)| a.to_owned())
}

/// Maps a kernel/Rust machine name (`uname -m`, [`std::env::consts::ARCH`]) to the
/// package manager's name for it; unknown names are returned unchanged.
pub fn machine_to_package_arch(format: PackageFormat, machine: &str) -> String {
    let deb = matches!(format, PackageFormat::Deb);
    let apk = matches!(format, PackageFormat::Apk);
    let name = match machine {
        "x86_64" | "amd64" if deb => "amd64",
        "x86_64" | "amd64" => "x86_64",
        "aarch64" | "arm64" if deb => "arm64",
        "aarch64" | "arm64" => "aarch64",
        "x86" | "i386" | "i486" | "i586" | "i686" if deb => "i386",
        "x86" | "i386" | "i486" | "i586" | "i686" if apk => "x86",
        "x86" | "i386" | "i486" | "i586" | "i686" => "i686",
        "arm" | "armv7l" if deb => "armhf",
        "arm" | "armv7l" if apk => "armv7",
        "arm" | "armv7l" => "armv7hl",
        "powerpc64" | "ppc64le" if deb => "ppc64el",
        "powerpc64" | "ppc64le" => "ppc64le",
        other => other,
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, arch: &str) -> InstalledPackage {
        InstalledPackage {
            name: name.into(),
            version: "1".into(),
            arch: arch.into(),
            source_name: None,
            source_version: None,
        }
    }

    #[test]
    fn anchors_then_majority() {
        let pkgs = [p("libc6", "i386"), p("dpkg", "amd64"), p("x", "all")];
        assert_eq!(
            native_arch(PackageFormat::Deb, &pkgs).as_deref(),
            Some("amd64")
        );
        let pkgs = [
            p("a", "x86_64"),
            p("b", "i686"),
            p("c", "x86_64"),
            p("d", "noarch"),
        ];
        assert_eq!(
            native_arch(PackageFormat::Rpm, &pkgs).as_deref(),
            Some("x86_64")
        );
        assert_eq!(native_arch(PackageFormat::Apk, &[p("a", "")]), None);
    }

    #[test]
    fn machine_names() {
        assert_eq!(
            machine_to_package_arch(PackageFormat::Deb, "x86_64"),
            "amd64"
        );
        assert_eq!(
            machine_to_package_arch(PackageFormat::Rpm, "x86_64"),
            "x86_64"
        );
        assert_eq!(
            machine_to_package_arch(PackageFormat::Deb, "aarch64"),
            "arm64"
        );
        assert_eq!(machine_to_package_arch(PackageFormat::Apk, "x86"), "x86");
        assert_eq!(
            machine_to_package_arch(PackageFormat::Rpm, "s390x"),
            "s390x"
        );
    }
}
