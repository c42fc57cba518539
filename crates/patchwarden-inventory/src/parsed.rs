//! The common result of every parser: packages plus warnings about what was skipped.

use patchwarden_domain::package::InstalledPackage;
use serde::Serialize;
use std::fmt;

/// Lines longer than this are not interpreted (reported and ignored).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// At most this many warnings are kept per input; one more says how many were dropped.
pub const MAX_WARNINGS: usize = 1000;

/// A line or stanza of the input that was not understood and was skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParseWarning {
    /// 1-based line number (for a stanza, the line it starts on).
    pub line: usize,
    /// What was wrong, safe to show to an operator.
    pub reason: String,
}

impl fmt::Display for ParseWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Packages read from one input, in input order, and what was skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Installed packages that passed [`InstalledPackage::validate`].
    pub packages: Vec<InstalledPackage>,
    /// Skipped lines and stanzas.
    pub warnings: Vec<ParseWarning>,
}

/// Accumulates a [`Parsed`], validating packages and capping the warning count.
#[derive(Debug, Default)]
pub(crate) struct Collector {
    parsed: Parsed,
    dropped: usize,
}

impl Collector {
    pub(crate) fn warn(&mut self, line: usize, reason: impl Into<String>) {
        if self.parsed.warnings.len() < MAX_WARNINGS {
            self.parsed.warnings.push(ParseWarning {
                line,
                reason: reason.into(),
            });
        } else {
            self.dropped += 1;
        }
    }

    /// Keeps `pkg` if it has a valid shape, else records why it was skipped.
    pub(crate) fn package(&mut self, line: usize, pkg: InstalledPackage) {
        let fields = [&pkg.name, &pkg.version, &pkg.arch];
        let optional = [&pkg.source_name, &pkg.source_version];
        let lossy = fields.into_iter().chain(optional.into_iter().flatten());
        if lossy
            .into_iter()
            .any(|f| f.contains(char::REPLACEMENT_CHARACTER))
        {
            let name = pkg.name.chars().take(80).collect::<String>();
            self.warn(line, format!("package {name:?} skipped: not valid UTF-8"));
            return;
        }
        match pkg.validate() {
            Ok(()) => self.parsed.packages.push(pkg),
            Err(e) => self.warn(line, format!("package skipped: {e}")),
        }
    }

    pub(crate) fn finish(mut self) -> Parsed {
        if self.dropped > 0 {
            let last = self.parsed.warnings.last().map_or(0, |w| w.line);
            self.parsed.warnings.push(ParseWarning {
                line: last,
                reason: format!("{} more warnings not shown", self.dropped),
            });
        }
        self.parsed
    }
}

/// Numbered lines (1-based) with a trailing `\r` stripped.
pub(crate) fn numbered(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
}

impl Collector {
    /// True (and reported) when a line is too long to be interpreted.
    pub(crate) fn too_long(&mut self, line: usize, text: &str) -> bool {
        let long = text.len() > MAX_LINE_BYTES;
        if long {
            self.warn(
                line,
                format!("line longer than {MAX_LINE_BYTES} bytes ignored"),
            );
        }
        long
    }
}

/// `Some(value)` unless it equals `same_as` (see the crate docs on canonical records).
pub(crate) fn unless_same(value: Option<String>, same_as: &str) -> Option<String> {
    value.filter(|v| v != same_as)
}
