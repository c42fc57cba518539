//! The one error type of the harness.

use std::path::PathBuf;

/// Why a harness step failed. Messages name the file or the command and its output.
#[derive(Debug, thiserror::Error)]
pub enum PmError {
    /// A file or directory could not be created, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A program the step needs is not installed, and skipping is not allowed.
    #[error(
        "the test needs `{tool}` ({why}) and PATCHWARDEN_REQUIRE_ALL_TESTS=1 forbids skipping"
    )]
    MissingTool {
        /// The program.
        tool: String,
        /// What it is for, and which Debian package has it.
        why: String,
    },
    /// A program could not be started.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A program ran and failed.
    #[error("`{command}` failed ({status})\n--- stdout\n{stdout}\n--- stderr\n{stderr}")]
    Failed {
        /// The command line, for the reader.
        command: String,
        /// The exit status, as text.
        status: String,
        /// The end of its standard output.
        stdout: String,
        /// The end of its error output.
        stderr: String,
    },
    /// An argument the harness refuses (a path or name it cannot place safely).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was wrong.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The host's own package-manager state changed while it should not have.
    #[error("the host's package-manager state changed: {0}")]
    HostTouched(String),
}

impl PmError {
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

/// The harness's result type.
pub type Result<T, E = PmError> = std::result::Result<T, E>;
