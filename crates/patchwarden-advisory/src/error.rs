//! Errors that stop an import (as opposed to a rejected record, which only skips it).

use std::path::PathBuf;

/// A failure that prevents reading an input at all. Malformed *records* are not errors:
/// they become [`crate::RejectedRecord`]s.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The path could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The input is larger than the configured cap.
    #[error("{what} is larger than {limit} bytes")]
    TooLarge {
        /// What was too large (a path or a zip member).
        what: String,
        /// The cap in bytes.
        limit: u64,
    },
    /// A checksum sidecar does not match the file.
    #[error("sha256 mismatch for {path}: sidecar says {expected}, file is {actual}")]
    ChecksumMismatch {
        /// The file that was checked.
        path: PathBuf,
        /// The digest named by the sidecar.
        expected: String,
        /// The digest of the file.
        actual: String,
    },
    /// A checksum sidecar is not in `<hex>  <name>` or bare-hex form, or names another file.
    #[error("bad checksum sidecar {path}: {reason}")]
    BadSidecar {
        /// The sidecar path.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
}
