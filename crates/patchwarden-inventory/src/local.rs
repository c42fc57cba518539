//! Reading the inventory of the machine (or of a mounted image) under a root directory.

use crate::arch::{machine_to_package_arch, native_arch};
use crate::os_release::{parse_os_release, parse_redhat_release, OsRelease};
use crate::{apk, dpkg, rootfs, rpm, InventoryError, ParseWarning, Parsed};
use patchwarden_domain::asset::OsInfo;
use patchwarden_domain::package::{InstalledPackage, PackageFormat};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Largest package database read (real ones are a few MiB; apk's lists every file).
pub const MAX_DATABASE_BYTES: u64 = 256 * 1024 * 1024;
/// Largest small file read (os-release, host name, kernel release).
const MAX_SMALL_FILE_BYTES: u64 = 64 * 1024;
/// rpm database directories, relative to the root, newest layout first.
const RPM_DB_DIRS: &[&str] = &["usr/lib/sysimage/rpm", "var/lib/rpm"];
/// Files whose presence marks a directory as an rpm database (sqlite, ndb, bdb).
const RPM_DB_FILES: &[&str] = &["rpmdb.sqlite", "Packages.db", "Packages"];

/// What is installed under a root directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalInventory {
    /// Which package manager's database was read.
    pub format: PackageFormat,
    /// The database file (dpkg, apk) or directory (rpm) that was read.
    pub database: PathBuf,
    /// Installed packages, in database order.
    pub packages: Vec<InstalledPackage>,
    /// Operating system, from os-release (or redhat-release) and the package database.
    pub os: OsInfo,
    /// `etc/hostname`, else `proc/sys/kernel/hostname`, trimmed; unvalidated.
    pub hostname: Option<String>,
    /// `proc/sys/kernel/osrelease` (only present when the root is a running system).
    pub kernel: Option<String>,
    /// What was skipped or guessed.
    pub warnings: Vec<LocalWarning>,
}

/// A skipped record or a guessed fact, with the file it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalWarning {
    /// The file (or rpm database directory).
    pub file: PathBuf,
    /// 1-based line, when the warning is about one line or stanza.
    pub line: Option<usize>,
    /// What happened.
    pub reason: String,
}

impl fmt::Display for LocalWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.reason),
            None => write!(f, "{}: {}", self.file.display(), self.reason),
        }
    }
}

impl LocalWarning {
    fn about(file: &Path, reason: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            line: None,
            reason: reason.into(),
        }
    }

    fn from_parse(file: &Path, w: ParseWarning) -> Self {
        Self {
            file: file.to_owned(),
            line: Some(w.line),
            reason: w.reason,
        }
    }
}

/// Reads `rel` under `root` (symlinks resolved inside `root`) as lossily-decoded
/// UTF-8, refusing files over `limit` bytes. `Ok(None)` when the file does not exist.
fn read_capped(root: &Path, rel: &str, limit: u64) -> Result<Option<String>, InventoryError> {
    let path = root.join(rel);
    let io = |source| InventoryError::Io {
        path: path.clone(),
        source,
    };
    let real = rootfs::resolve(root, rel).map_err(io)?;
    let file = match std::fs::File::open(&real) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(InventoryError::TooLarge { path, limit });
    }
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// A small informational file: a problem becomes a warning, not an error.
fn read_small(root: &Path, rel: &str, warnings: &mut Vec<LocalWarning>) -> Option<String> {
    match read_capped(root, rel, MAX_SMALL_FILE_BYTES) {
        Ok(text) => text,
        Err(e) => {
            warnings.push(LocalWarning::about(&root.join(rel), e.to_string()));
            None
        }
    }
}

/// First non-empty, non-comment line of a small file.
fn first_line(root: &Path, rel: &str, warnings: &mut Vec<LocalWarning>) -> Option<String> {
    let text = read_small(root, rel, warnings)?;
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.chars().filter(|c| !c.is_control()).take(253).collect())
}

/// Runs `rpm -qa` with [`rpm::RPM_QUERY_FORMAT`] against the database under `root`.
fn query_rpm(root: &Path, db_rel: &str) -> Result<String, InventoryError> {
    let dbpath = root.join(db_rel);
    let output = Command::new("rpm")
        .arg("--root")
        .arg(root)
        .arg("--dbpath")
        .arg(format!("/{db_rel}"))
        .args(["-qa", "--queryformat", rpm::RPM_QUERY_FORMAT])
        .env("LC_ALL", "C")
        .output()
        .map_err(|source| InventoryError::RpmUnavailable {
            dbpath: dbpath.clone(),
            source,
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(InventoryError::RpmFailed {
            dbpath,
            status: output.status.to_string(),
            stderr: stderr.trim().chars().take(500).collect(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Finds and parses the package database under `root`: dpkg first, then apk, then rpm.
fn read_packages(root: &Path) -> Result<(PackageFormat, PathBuf, Parsed), InventoryError> {
    let status = "var/lib/dpkg/status";
    if let Some(text) = read_capped(root, status, MAX_DATABASE_BYTES)? {
        let parsed = dpkg::parse_status(&text);
        return Ok((PackageFormat::Deb, root.join(status), parsed));
    }
    let installed = "lib/apk/db/installed";
    if let Some(text) = read_capped(root, installed, MAX_DATABASE_BYTES)? {
        let parsed = apk::parse_apk_installed(&text);
        return Ok((PackageFormat::Apk, root.join(installed), parsed));
    }
    for db_rel in RPM_DB_DIRS {
        let dir = root.join(db_rel);
        let real = rootfs::resolve(root, db_rel).map_err(|source| InventoryError::Io {
            path: dir.clone(),
            source,
        })?;
        if RPM_DB_FILES.iter().any(|f| real.join(f).is_file()) {
            let text = query_rpm(root, db_rel)?;
            return Ok((PackageFormat::Rpm, dir, rpm::parse_rpm_query(&text)));
        }
    }
    Err(InventoryError::NoPackageDatabase {
        root: root.to_owned(),
    })
}

/// Reads os-release (`etc/`, then `usr/lib/`), else `etc/redhat-release`.
fn read_os_release(root: &Path, warnings: &mut Vec<LocalWarning>) -> OsRelease {
    for rel in ["etc/os-release", "usr/lib/os-release"] {
        if let Some(text) = read_small(root, rel, warnings) {
            return parse_os_release(&text);
        }
    }
    let redhat = read_small(root, "etc/redhat-release", warnings);
    if let Some(r) = redhat.and_then(|t| parse_redhat_release(&t)) {
        return r;
    }
    warnings.push(LocalWarning::about(
        &root.join("etc/os-release"),
        "no os-release or redhat-release; distribution reported as `linux`",
    ));
    parse_os_release("")
}

/// Collects the inventory of the system whose root directory is `root` (`/` for this
/// machine, or a mounted image or container file system). Detects the package database
/// (`var/lib/dpkg/status`, `lib/apk/db/installed`, or an rpm database in
/// `usr/lib/sysimage/rpm` / `var/lib/rpm`, read by running `rpm --root`), and reads
/// the OS, host name and kernel release from files under `root` only.
///
/// Malformed records are skipped and listed in [`LocalInventory::warnings`]; an error is
/// returned only when no database exists or it cannot be read at all.
pub fn collect_local(root: &Path) -> Result<LocalInventory, InventoryError> {
    let (format, database, parsed) = read_packages(root)?;
    let mut warnings: Vec<LocalWarning> = parsed
        .warnings
        .into_iter()
        .map(|w| LocalWarning::from_parse(&database, w))
        .collect();
    let packages = parsed.packages;

    let arch = match format {
        PackageFormat::Apk => first_line(root, "etc/apk/arch", &mut warnings),
        _ => None,
    }
    .or_else(|| native_arch(format, &packages))
    .unwrap_or_else(|| {
        let guess = machine_to_package_arch(format, std::env::consts::ARCH);
        warnings.push(LocalWarning::about(
            &database,
            format!("architecture not found in the package database; assuming {guess}"),
        ));
        guess
    });
    let os = read_os_release(root, &mut warnings).to_os_info(&arch);

    let hostname = first_line(root, "etc/hostname", &mut warnings)
        .or_else(|| first_line(root, "proc/sys/kernel/hostname", &mut warnings));
    let kernel = first_line(root, "proc/sys/kernel/osrelease", &mut warnings);
    Ok(LocalInventory {
        format,
        database,
        packages,
        os,
        hostname,
        kernel,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_database_is_a_typed_error() {
        let dir = std::env::temp_dir().join("patchwarden-inventory-no-such-root");
        let err = collect_local(&dir).err();
        assert!(
            matches!(err, Some(InventoryError::NoPackageDatabase { .. })),
            "{err:?}"
        );
    }
}
