//! The one error type of the packaging library.

use std::path::PathBuf;

/// Why a package could not be built. Messages name the file or the command.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A program could not be started (usually: it is not installed).
    #[error("cannot run {program} ({hint}): {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Which Debian package provides it.
        hint: &'static str,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A program ran and failed.
    #[error("`{command}` failed ({status})\n{stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// The exit status, as text.
        status: String,
        /// Its error output (and the end of its standard output).
        stderr: String,
    },
    /// An input the builder refuses.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was wrong.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

impl PackError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }

    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            what,
            reason: reason.into(),
        }
    }
}

/// The library's result type.
pub type Result<T, E = PackError> = std::result::Result<T, E>;
