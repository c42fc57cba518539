//! What the executor needs from a package manager, and which one a host has.

use super::backup::SavedPackage;
use super::run::Outcome;
use crate::config::{PackageManagerConfig, PackageManagerKind};
use patchwarden_domain::package::InstalledPackage;
use patchwarden_wire::job::PackageTarget;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One package manager, confined to the configured root. Every method logs the
/// commands it runs and their output to `log`.
pub trait Manager: Send + std::fmt::Debug {
    /// `apt` or `dnf`.
    fn kind(&self) -> &'static str;
    /// `apt-get update` / `dnf makecache`.
    fn refresh(&self, log: &Path) -> Outcome;
    /// Simulates installing `targets` and returns every package name the transaction
    /// would install, upgrade, downgrade or remove. An error changes nothing.
    fn plan(&self, targets: &[PackageTarget], log: &Path) -> Result<Vec<String>, Outcome>;
    /// Saves the package file of each installed package into `dest`.
    fn save(
        &self,
        installed: &[InstalledPackage],
        dest: &Path,
        log: &Path,
    ) -> Result<Vec<SavedPackage>, Outcome>;
    /// Installs exactly these versions from the configured repositories.
    fn install(&self, targets: &[PackageTarget], log: &Path) -> Outcome;
    /// Installs these package files (up- or downgrading) and removes `remove`.
    fn restore(&self, files: &[PathBuf], remove: &[String], log: &Path) -> Outcome;
    /// The package database's consistency (`dpkg --audit`, `dnf check`) and the state
    /// of `names`.
    fn check_db(&self, names: &[String], log: &Path) -> Outcome;
    /// Every package the database holds neither fully installed nor absent: such a
    /// package is in no inventory, so a change that leaves one is seen only here.
    fn unsettled(&self, log: &Path) -> Result<Vec<Unsettled>, String>;
}

/// A package in the middle of a change: dpkg's half-installed, unpacked,
/// half-configured or triggers-awaited/-pending states, or one marked as needing a
/// reinstallation (the state as `dpkg-query`'s `db:Status-Abbrev`, e.g. `iF`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unsettled {
    pub name: String,
    pub arch: String,
    pub version: String,
    pub state: String,
}

impl std::fmt::Display for Unsettled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{} {} ({})",
            self.name, self.arch, self.version, self.state
        )
    }
}

/// The package manager for `root` per the configuration, or why there is none.
pub fn select(root: &Path, cfg: &PackageManagerConfig) -> Result<Box<dyn Manager>, String> {
    let timeout = Duration::from_secs(cfg.timeout_secs);
    let kind = match cfg.kind {
        PackageManagerKind::Auto if root.join("var/lib/dpkg/status").is_file() => {
            PackageManagerKind::Apt
        }
        PackageManagerKind::Auto
            if ["usr/lib/sysimage/rpm", "var/lib/rpm"]
                .iter()
                .any(|d| root.join(d).is_dir()) =>
        {
            PackageManagerKind::Dnf
        }
        PackageManagerKind::Auto => {
            return Err(format!(
                "no dpkg or rpm database under {}: no package manager to deploy with",
                root.display()
            ))
        }
        k => k,
    };
    let alternate = root != Path::new("/");
    match kind {
        PackageManagerKind::Apt if alternate && cfg.apt_config.is_none() => Err(format!(
            "root is {}, but package_manager.apt_config is not set: apt would change this \
             host instead; refusing package operations",
            root.display()
        )),
        PackageManagerKind::Apt => Ok(Box::new(super::apt::Apt::new(
            cfg.apt_config.clone(),
            root,
            timeout,
        ))),
        _ => Ok(Box::new(super::dnf::Dnf::new(
            root,
            &cfg.dnf_args,
            &cfg.rpm_args,
            timeout,
        ))),
    }
}

/// `1:2.0-1` → `2.0-1` (file names carry no epoch); a zero epoch is dropped too.
pub fn without_epoch(version: &str) -> &str {
    match version.split_once(':') {
        Some((e, rest)) if e.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => version,
    }
}

/// Whether an installed version is the one wanted (rpm omits a zero epoch).
pub fn same_version(installed: &str, wanted: &str) -> bool {
    installed == wanted || installed == wanted.strip_prefix("0:").unwrap_or(wanted)
}

/// The saved file for each package, or the list of those without one.
pub fn all_saved(
    installed: &[InstalledPackage],
    saved: Vec<SavedPackage>,
    log: &str,
) -> Result<Vec<SavedPackage>, Outcome> {
    let missing: Vec<String> = installed
        .iter()
        .filter(|p| {
            !saved
                .iter()
                .any(|s| s.name == p.name && s.version == p.version && s.arch == p.arch)
        })
        .map(|p| format!("{} {} {}", p.name, p.version, p.arch))
        .collect();
    if missing.is_empty() {
        Ok(saved)
    } else {
        Err(Outcome::fail(format!(
            "{log}\nno package file could be kept for: {}; nothing was changed",
            missing.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_and_versions() {
        assert_eq!(without_epoch("1:2.0-1"), "2.0-1");
        assert_eq!(without_epoch("2.0-1"), "2.0-1");
        assert!(same_version("2.0-1", "0:2.0-1"));
        assert!(same_version("1:2.0-1", "1:2.0-1"));
        assert!(!same_version("2.0-1", "1:2.0-1"));
    }

    #[test]
    fn an_alternate_root_without_apt_config_is_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
        let none = select(dir.path(), &PackageManagerConfig::default()).unwrap_err();
        assert!(none.contains("no dpkg or rpm database"), "{none}");
        std::fs::create_dir_all(dir.path().join("var/lib/dpkg")).unwrap_or_default();
        std::fs::write(dir.path().join("var/lib/dpkg/status"), "").unwrap_or_default();
        let err = select(dir.path(), &PackageManagerConfig::default()).unwrap_err();
        assert!(err.contains("apt_config"), "{err}");
    }
}
