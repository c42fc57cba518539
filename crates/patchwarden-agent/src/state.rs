//! The state directory: identity key, enrolment record, pinned CA, acknowledged
//! inventory hash, the ids of jobs already accepted, and the spool. Every file is
//! written atomically (temporary file, fsync, rename, fsync of the directory), so a
//! kill -9 or a power cut leaves either the old or the new content.

use anyhow::{bail, Context, Result};
use patchwarden_wire::sign::SecretKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{HashSet, VecDeque};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

const IDENTITY: &str = "identity.key";
const ENROLLMENT: &str = "enrollment.json";
const SERVER_CA: &str = "server-ca.pem";
const ACKED_INVENTORY: &str = "acked_inventory";
const SENT_PENDING: &str = "sent_pending";
const SEEN_JOBS: &str = "seen_jobs";
pub const SPOOL: &str = "spool";

/// How many accepted job ids are remembered for replay refusal. Jobs expire (the
/// server sets hours, not months), so an id older than this many jobs is long expired.
pub const MAX_SEEN_JOBS: usize = 10_000;

/// What enrolment established; written last, so its presence means "enrolled".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enrollment {
    pub agent_id: i64,
    pub asset_id: i64,
    pub server_url: String,
    /// The server's job-signing public key (base64), pinned.
    pub server_job_key: String,
    /// SHA-256 (hex) of the CA certificate pinned for the server, when one was given
    /// (a copy is kept as `server-ca.pem`); none = the system's trusted roots.
    pub ca_cert_sha256: Option<String>,
    pub enrolled_at: jiff::Timestamp,
}

/// An opened state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// Opens `root`, creating it (and `spool/`) with mode 0700 when missing and
    /// tightening it to 0700 otherwise.
    pub fn open(root: &Path) -> Result<Self> {
        for dir in [root.to_owned(), root.join(SPOOL)] {
            fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create state directory {}", dir.display()))?;
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                .with_context(|| format!("cannot set mode 0700 on {}", dir.display()))?;
        }
        Ok(Self {
            root: root.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    pub fn spool_dir(&self) -> PathBuf {
        self.root.join(SPOOL)
    }

    pub fn server_ca_path(&self) -> PathBuf {
        self.root.join(SERVER_CA)
    }

    pub fn is_enrolled(&self) -> bool {
        self.root.join(ENROLLMENT).exists()
    }

    /// Stores a new identity, the pinned CA and the enrolment record, in that order.
    pub fn save_enrollment(
        &self,
        key: &SecretKey,
        ca_pem: Option<&[u8]>,
        enrollment: &Enrollment,
    ) -> Result<()> {
        write_atomic(
            &self.root.join(IDENTITY),
            format!("{}\n", key.to_b64()).as_bytes(),
            0o600,
        )?;
        match ca_pem {
            Some(pem) => write_atomic(&self.server_ca_path(), pem, 0o600)?,
            None => remove_if_exists(&self.server_ca_path())?,
        }
        remove_if_exists(&self.root.join(ACKED_INVENTORY))?;
        remove_if_exists(&self.root.join(SENT_PENDING))?;
        let json = serde_json::to_vec_pretty(enrollment)?;
        write_atomic(&self.root.join(ENROLLMENT), &json, 0o600)
    }

    /// The enrolment record and identity key; a clear error when not enrolled.
    pub fn load_enrollment(&self) -> Result<(Enrollment, SecretKey)> {
        let path = self.root.join(ENROLLMENT);
        let text = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => bail!(
                "not enrolled: {} does not exist; run `patchwarden-agent enroll` first",
                path.display()
            ),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let enrollment: Enrollment = serde_json::from_slice(&text)
            .with_context(|| format!("{} is not a valid enrolment record", path.display()))?;
        let key_path = self.root.join(IDENTITY);
        let key_text = fs::read_to_string(&key_path)
            .with_context(|| format!("cannot read {}", key_path.display()))?;
        let key = SecretKey::from_b64(&key_text)
            .with_context(|| format!("{} is not a valid identity key", key_path.display()))?;
        Ok((enrollment, key))
    }

    /// The pinned CA certificate, checked against the hash recorded at enrolment.
    pub fn load_pinned_ca(&self, enrollment: &Enrollment) -> Result<Option<Vec<u8>>> {
        let Some(want) = &enrollment.ca_cert_sha256 else {
            return Ok(None);
        };
        let path = self.server_ca_path();
        let pem = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let got = sha256_hex(&pem);
        if &got != want {
            bail!(
                "{} has SHA-256 {got}, but enrolment pinned {want}: refusing to talk to the server",
                path.display()
            );
        }
        Ok(Some(pem))
    }

    /// The inventory hash the server last acknowledged, if any.
    pub fn acked_inventory(&self) -> Result<Option<String>> {
        self.read_small(ACKED_INVENTORY)
    }

    pub fn set_acked_inventory(&self, hash: Option<&str>) -> Result<()> {
        self.write_small(ACKED_INVENTORY, hash)
    }

    /// Hash of the pending-updates list the server last received, if any.
    pub fn sent_pending(&self) -> Result<Option<String>> {
        self.read_small(SENT_PENDING)
    }

    pub fn set_sent_pending(&self, hash: Option<&str>) -> Result<()> {
        self.write_small(SENT_PENDING, hash)
    }

    fn read_small(&self, name: &str) -> Result<Option<String>> {
        let path = self.root.join(name);
        match fs::read_to_string(&path) {
            Ok(t) if !t.trim().is_empty() => Ok(Some(t.trim().to_owned())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    fn write_small(&self, name: &str, value: Option<&str>) -> Result<()> {
        let path = self.root.join(name);
        match value {
            Some(v) => write_atomic(&path, v.as_bytes(), 0o600),
            None => remove_if_exists(&path),
        }
    }

    pub fn seen_jobs(&self) -> Result<SeenJobs> {
        SeenJobs::load(self.root.join(SEEN_JOBS))
    }
}

/// Ids of jobs already accepted (bounded, oldest forgotten first), persisted before
/// a job runs so that a crash in the middle of a job cannot lead to running it twice.
#[derive(Debug)]
pub struct SeenJobs {
    path: PathBuf,
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl SeenJobs {
    fn load(path: PathBuf) -> Result<Self> {
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let mut seen = Self {
            path,
            order: VecDeque::new(),
            set: HashSet::new(),
        };
        for id in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            seen.remember(id);
        }
        Ok(seen)
    }

    fn remember(&mut self, id: &str) {
        if self.set.insert(id.to_owned()) {
            self.order.push_back(id.to_owned());
        }
        while self.order.len() > MAX_SEEN_JOBS {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        self.set.contains(id)
    }

    /// Records `id` durably (the file is rewritten atomically).
    pub fn record(&mut self, id: &str) -> Result<()> {
        self.remember(id);
        let mut text = String::new();
        for id in &self.order {
            text.push_str(id);
            text.push('\n');
        }
        write_atomic(&self.path, text.as_bytes(), 0o600)
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Writes `bytes` to `path` atomically with `mode`. On failure (a full disk, say) the
/// temporary file is removed and `path` keeps its previous content.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn enrollment_round_trips_with_private_modes() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(&dir.path().join("s")).unwrap();
        assert!(!state.is_enrolled());
        assert!(format!("{:#}", state.load_enrollment().unwrap_err()).contains("not enrolled"));
        let key = SecretKey::generate();
        let e = Enrollment {
            agent_id: 7,
            asset_id: 3,
            server_url: "https://pw.example:8443".into(),
            server_job_key: SecretKey::generate().public_b64(),
            ca_cert_sha256: Some(sha256_hex(b"pem")),
            enrolled_at: jiff::Timestamp::UNIX_EPOCH,
        };
        state.save_enrollment(&key, Some(b"pem"), &e).unwrap();
        let (back, k) = state.load_enrollment().unwrap();
        assert_eq!(back, e);
        assert_eq!(k.public_b64(), key.public_b64());
        assert_eq!(state.load_pinned_ca(&e).unwrap().unwrap(), b"pem");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(state.path()), 0o700);
        assert_eq!(mode(&state.path().join(IDENTITY)), 0o600);
        fs::write(state.server_ca_path(), b"other").unwrap();
        assert!(format!("{:#}", state.load_pinned_ca(&e).unwrap_err()).contains("pinned"));
    }

    #[test]
    fn seen_jobs_persist_and_stay_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        let mut seen = state.seen_jobs().unwrap();
        seen.record("a").unwrap();
        seen.record("b").unwrap();
        assert!(state.seen_jobs().unwrap().contains("a"));
        let mut s = state.seen_jobs().unwrap();
        for i in 0..MAX_SEEN_JOBS {
            s.remember(&format!("j{i}"));
        }
        s.record("last").unwrap();
        let back = state.seen_jobs().unwrap();
        assert!(!back.contains("a") && back.contains("last") && back.contains("j9999"));
        assert_eq!(back.order.len(), MAX_SEEN_JOBS);
    }
}
