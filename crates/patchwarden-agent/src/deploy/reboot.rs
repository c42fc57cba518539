//! Whether a host needs a reboot: `run/reboot-required` under the root (Debian's
//! packages create it), or an installed kernel newer than the running one.

use super::manager::without_epoch;
use patchwarden_domain::package::InstalledPackage;
use std::cmp::Ordering;
use std::path::Path;

/// `run/reboot-required` under the root, or a newer kernel installed than the one
/// running (`proc/sys/kernel/osrelease` under the root).
pub fn reboot_required(root: &Path) -> bool {
    if root.join("run/reboot-required").exists() {
        return true;
    }
    let Ok(inv) = patchwarden_inventory::collect_local(root) else {
        return false;
    };
    inv.kernel
        .is_some_and(|running| newer_kernel(&inv.packages, &running))
}

/// Whether the newest installed kernel (`linux-image-<release>`, or rpm `kernel-core`
/// / `kernel` as `version-release.arch`) is not the running one.
pub(crate) fn newer_kernel(packages: &[InstalledPackage], running: &str) -> bool {
    packages
        .iter()
        .filter_map(|p| match p.name.strip_prefix("linux-image-") {
            Some(rel) if rel.starts_with(|c: char| c.is_ascii_digit()) => Some(rel.to_owned()),
            _ if p.name == "kernel-core" || p.name == "kernel" => {
                Some(format!("{}.{}", without_epoch(&p.version), p.arch))
            }
            _ => None,
        })
        .max_by(|a, b| natural_cmp(a, b))
        .is_some_and(|newest| natural_cmp(&newest, running) == Ordering::Greater)
}

/// Compares runs of digits as numbers and everything else as text.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    for (x, y) in chunks(a).into_iter().zip(chunks(b)) {
        let o = match (x, y) {
            ((true, x), (true, y)) => x
                .trim_start_matches('0')
                .len()
                .cmp(&y.trim_start_matches('0').len())
                .then_with(|| x.trim_start_matches('0').cmp(y.trim_start_matches('0'))),
            ((_, x), (_, y)) => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, version: &str, arch: &str) -> InstalledPackage {
        InstalledPackage {
            name: name.into(),
            version: version.into(),
            arch: arch.into(),
            source_name: None,
            source_version: None,
        }
    }

    #[test]
    fn a_newer_installed_kernel_needs_a_reboot() {
        let deb = [
            pkg("linux-image-6.1.0-18-amd64", "6.1.76-1", "amd64"),
            pkg("linux-image-6.1.0-21-amd64", "6.1.90-1", "amd64"),
            pkg("linux-image-amd64", "6.1.90-1", "amd64"),
        ];
        assert!(newer_kernel(&deb, "6.1.0-18-amd64"));
        assert!(!newer_kernel(&deb, "6.1.0-21-amd64"));
        let rpm = [
            pkg("kernel-core", "5.14.0-427.13.1.el9_4", "x86_64"),
            pkg("kernel-core", "5.14.0-70.13.1.el9_0", "x86_64"),
        ];
        assert!(newer_kernel(&rpm, "5.14.0-70.13.1.el9_0.x86_64"));
        assert!(!newer_kernel(&rpm, "5.14.0-427.13.1.el9_4.x86_64"));
        assert!(!newer_kernel(&[pkg("bash", "5.2", "amd64")], "6.1.0"));
        assert_eq!(natural_cmp("6.1.0-9", "6.1.0-10"), Ordering::Less);
    }
}
