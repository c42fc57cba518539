//! A snapshot of the host's own package-manager state, to prove a test left it alone.

use crate::error::{PmError, Result};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Files and directories of the host that a confined run must never change.
pub const HOST_PATHS: &[&str] = &[
    "/var/lib/dpkg/status",
    "/var/lib/dpkg/available",
    "/var/lib/dpkg/updates",
    "/var/lib/dpkg/info",
    "/var/lib/dpkg/lock",
    "/var/lib/apt/extended_states",
    "/var/lib/apt/lists",
    "/var/cache/apt/archives",
    "/var/log/dpkg.log",
    "/var/log/apt",
    "/etc/apt",
    "/root/.rpmdb",
    "/var/lib/rpm",
    "/usr/lib/sysimage/rpm",
    "/var/lib/dnf",
    "/var/cache/dnf",
    "/var/log/dnf.log",
    "/var/log/dnf.rpm.log",
];

/// Files up to this size are compared byte for byte; larger ones by size and mtime.
const MAX_COMPARED_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Missing,
    File {
        len: u64,
        mtime: Option<SystemTime>,
        bytes: Option<Vec<u8>>,
    },
    /// A directory: its mtime and its entries' names (one level).
    Dir {
        mtime: Option<SystemTime>,
        names: Vec<String>,
    },
}

/// The state of [`HOST_PATHS`] (and any extra paths) at one moment.
#[derive(Debug, Clone)]
pub struct HostSnapshot {
    entries: Vec<(PathBuf, Entry)>,
}

fn entry(path: &Path) -> Result<Entry> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Entry::Missing),
        Err(e) => return Err(PmError::io(path)(e)),
    };
    let mtime = meta.modified().ok();
    if meta.is_dir() {
        let mut names = Vec::new();
        for item in std::fs::read_dir(path).map_err(PmError::io(path))? {
            let item = item.map_err(PmError::io(path))?;
            names.push(item.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        return Ok(Entry::Dir { mtime, names });
    }
    let bytes = if meta.len() <= MAX_COMPARED_BYTES {
        Some(std::fs::read(path).map_err(PmError::io(path))?)
    } else {
        None
    };
    Ok(Entry::File {
        len: meta.len(),
        mtime,
        bytes,
    })
}

impl HostSnapshot {
    /// Records [`HOST_PATHS`].
    pub fn capture() -> Result<Self> {
        Self::capture_paths(HOST_PATHS.iter().map(Path::new))
    }

    /// Records the given paths.
    pub fn capture_paths<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Result<Self> {
        let mut entries = Vec::new();
        for p in paths {
            entries.push((p.to_owned(), entry(p)?));
        }
        Ok(Self { entries })
    }

    /// `Ok` when every recorded path is as it was; otherwise
    /// [`PmError::HostTouched`] naming what changed.
    pub fn assert_unchanged(&self) -> Result<()> {
        let mut changed = Vec::new();
        for (path, before) in &self.entries {
            let now = entry(path)?;
            if &now != before {
                changed.push(path.display().to_string());
            }
        }
        if changed.is_empty() {
            Ok(())
        } else {
            Err(PmError::HostTouched(changed.join(", ")))
        }
    }

    /// How many paths exist on this host (a snapshot of nothing proves nothing).
    pub fn existing(&self) -> usize {
        self.entries
            .iter()
            .filter(|(_, e)| *e != Entry::Missing)
            .count()
    }
}
