//! Errors that stop a whole file from importing.

/// Why a file could not be imported at all. Problems confined to one host or finding
/// do not stop an import: they become [`crate::Rejected`] entries instead.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The file could not be read.
    #[error("cannot read scanner report: {0}")]
    Io(#[from] std::io::Error),
    /// The content is not a known scanner report.
    #[error("not a scanner report: {0}")]
    NotAScanReport(String),
    /// The document declares a DTD; entity declarations are refused outright.
    #[error(
        "scanner report declares a DTD (<!DOCTYPE …>); DTDs and entity declarations are refused"
    )]
    Dtd,
    /// The XML is not well-formed (truncated, mismatched tags …). A partial report is not
    /// returned, so a broken re-scan can never look like "the vulnerability is gone".
    #[error("malformed XML at byte {position}: {message}")]
    Xml {
        /// Byte offset where the problem was found.
        position: u64,
        /// What was wrong.
        message: String,
    },
    /// The CSV export is malformed as a whole (bad header, broken quoting).
    #[error("malformed CSV at line {line}: {message}")]
    Csv {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        message: String,
    },
    /// A limit protecting against hostile input was exceeded.
    #[error("scanner report exceeds a limit: {0}")]
    Limit(String),
}
