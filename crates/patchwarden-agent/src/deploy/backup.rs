//! The backup of one deployment, kept in the state directory so that a later
//! `Rollback { deployment }` job — or a restarted agent — finds it:
//!
//! ```text
//! <state_dir>/deployments/<deployment>/backup.json   the record (written atomically)
//! <state_dir>/deployments/<deployment>/packages/     copies of the installed versions' package files
//! <state_dir>/logs/<job id>.<step>.log               full package-manager output per step
//! ```
//!
//! The record is written after the package files are saved and before anything is
//! installed, so its presence means "a way back exists".

use crate::state::write_atomic;
use jiff::Timestamp;
use patchwarden_domain::package::InstalledPackage;
use patchwarden_wire::job::PackageTarget;
use serde::{Deserialize, Serialize};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const DEPLOYMENTS: &str = "deployments";
const LOGS: &str = "logs";
const RECORD: &str = "backup.json";
const PACKAGES: &str = "packages";

/// One saved package file: the installed version it restores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedPackage {
    pub name: String,
    pub version: String,
    pub arch: String,
    /// File name inside the deployment's `packages/`.
    pub file: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    pub deployment: String,
    pub job_id: String,
    /// `apt` or `dnf`.
    pub manager: String,
    pub created_at: Timestamp,
    /// The whole package set before the change.
    pub before: Vec<InstalledPackage>,
    pub targets: Vec<PackageTarget>,
    /// Names the transaction was planned to change, add or remove (targets included).
    pub touched: Vec<String>,
    /// The installed versions of the touched packages, as package files.
    pub saved: Vec<SavedPackage>,
    #[serde(default)]
    pub rolled_back_at: Option<Timestamp>,
    /// When the deployment's install failed leaving the packages as recorded in
    /// `before` (plain `failed`): there is nothing to restore, and a retry of the
    /// deployment may replace this backup with one of the same, unchanged set.
    #[serde(default)]
    pub failed_unchanged_at: Option<Timestamp>,
}

/// The deployments and logs under a state directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

fn private_dir(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| format!("cannot set mode 0700 on {}: {e}", dir.display()))
}

impl Store {
    pub fn new(state_dir: &Path) -> Self {
        Self {
            root: state_dir.to_owned(),
        }
    }

    fn dir(&self, deployment: &str) -> PathBuf {
        self.root.join(DEPLOYMENTS).join(deployment)
    }

    pub fn packages_dir(&self, deployment: &str) -> PathBuf {
        self.dir(deployment).join(PACKAGES)
    }

    /// The log file of one step of one job (its directory created).
    pub fn log_path(&self, job_id: &str, step: &str) -> PathBuf {
        let dir = self.root.join(LOGS);
        if let Err(e) = private_dir(&dir) {
            crate::warn(&e);
        }
        dir.join(format!("{job_id}.{}.log", step.replace(':', "_")))
    }

    pub fn load(&self, deployment: &str) -> Result<Option<Backup>, String> {
        let path = self.dir(deployment).join(RECORD);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("{} is not a valid backup record: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// An empty `packages/` directory for a new backup of `deployment`. Refused when a
    /// backup exists that was neither rolled back nor left by an install that failed
    /// without a change: it is the only way back to the state before that deployment,
    /// and a second install must not replace it.
    pub fn prepare(&self, deployment: &str) -> Result<PathBuf, String> {
        if let Some(old) = self.load(deployment)? {
            if old.rolled_back_at.is_none() && old.failed_unchanged_at.is_none() {
                return Err(format!(
                    "deployment {deployment} already has a backup (job {}, {}); a deployment \
                     installs once unless it failed without a change — roll it back first or \
                     use a new deployment id",
                    old.job_id, old.created_at
                ));
            }
        }
        let dir = self.dir(deployment);
        private_dir(&self.root.join(DEPLOYMENTS))?;
        private_dir(&dir)?;
        let _ = fs::remove_file(dir.join(RECORD));
        let packages = self.packages_dir(deployment);
        if packages.exists() {
            fs::remove_dir_all(&packages)
                .map_err(|e| format!("cannot clear {}: {e}", packages.display()))?;
        }
        private_dir(&packages)?;
        Ok(packages)
    }

    pub fn save(&self, backup: &Backup) -> Result<(), String> {
        let json = serde_json::to_vec_pretty(backup).map_err(|e| e.to_string())?;
        write_atomic(&self.dir(&backup.deployment).join(RECORD), &json, 0o600)
            .map_err(|e| format!("{e:#}"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The record of a backup of `deployment` by job `j1` that saved package `a`.
    fn record(deployment: &str, failed_unchanged_at: Option<Timestamp>) -> Backup {
        Backup {
            deployment: deployment.into(),
            job_id: "j1".into(),
            manager: "apt".into(),
            created_at: Timestamp::UNIX_EPOCH,
            before: Vec::new(),
            targets: Vec::new(),
            touched: vec!["a".into()],
            saved: Vec::new(),
            rolled_back_at: None,
            failed_unchanged_at,
        }
    }

    #[test]
    fn a_live_backup_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        assert_eq!(store.load("d1").unwrap(), None);
        let packages = store.prepare("d1").unwrap();
        fs::write(packages.join("a.deb"), b"x").unwrap();
        let mut b = record("d1", None);
        store.save(&b).unwrap();
        assert_eq!(store.load("d1").unwrap().as_ref(), Some(&b));
        let err = store.prepare("d1").unwrap_err();
        assert!(err.contains("already has a backup"), "{err}");
        assert!(packages.join("a.deb").exists());
        b.rolled_back_at = Some(Timestamp::UNIX_EPOCH);
        store.save(&b).unwrap();
        let again = store.prepare("d1").unwrap();
        assert!(!again.join("a.deb").exists());
        assert_eq!(store.load("d1").unwrap(), None);
        let mode = fs::metadata(store.dir("d1")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn a_backup_left_by_a_failure_without_a_change_may_be_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let packages = store.prepare("d2").unwrap();
        fs::write(packages.join("a.deb"), b"x").unwrap();
        let mut b = record("d2", Some(Timestamp::UNIX_EPOCH));
        store.save(&b).unwrap();
        // A record of an older agent (no such field) is a live backup.
        let path = store.dir("d2").join(RECORD);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"failed_unchanged_at\""), "{text}");
        b.failed_unchanged_at = None;
        let old = serde_json::to_value(&b).unwrap();
        let mut old = old.as_object().unwrap().clone();
        old.remove("failed_unchanged_at");
        fs::write(&path, serde_json::to_vec(&old).unwrap()).unwrap();
        assert_eq!(store.load("d2").unwrap().as_ref(), Some(&b));
        assert!(store
            .prepare("d2")
            .unwrap_err()
            .contains("already has a backup"));
        b.failed_unchanged_at = Some(Timestamp::UNIX_EPOCH);
        store.save(&b).unwrap();
        let again = store.prepare("d2").unwrap();
        assert!(!again.join("a.deb").exists());
        assert_eq!(store.load("d2").unwrap(), None);
    }
}
