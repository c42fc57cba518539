//! Errors of local inventory collection. Parsers do not fail; see [`crate::Parsed`].

use std::path::PathBuf;

/// Why the local inventory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// A file exists but could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A file is larger than this crate is willing to read.
    #[error("{path} is larger than {limit} bytes; refusing to read it")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit, in bytes.
        limit: u64,
    },
    /// None of the known package databases exists under the root.
    #[error(
        "no package database under {root}: looked for var/lib/dpkg/status, \
         lib/apk/db/installed, var/lib/rpm and usr/lib/sysimage/rpm"
    )]
    NoPackageDatabase {
        /// The root directory searched.
        root: PathBuf,
    },
    /// An rpm database exists but the `rpm` program is not installed.
    #[error("found the rpm database {dbpath} but the `rpm` program is not available: {source}")]
    RpmUnavailable {
        /// The rpm database directory.
        dbpath: PathBuf,
        /// Why `rpm` could not be started.
        source: std::io::Error,
    },
    /// `rpm -qa` ran and failed.
    #[error("`rpm -qa` on {dbpath} failed ({status}): {stderr}")]
    RpmFailed {
        /// The rpm database directory.
        dbpath: PathBuf,
        /// Exit status, as text.
        status: String,
        /// The start of rpm's error output.
        stderr: String,
    },
}
