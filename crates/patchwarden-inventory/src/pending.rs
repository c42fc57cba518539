//! Pending updates and the security-origin signal: which installed packages have a
//! newer candidate, and whether that candidate comes from a security archive
//! (`bookworm-security`, `Debian-Security`, Ubuntu `jammy-security`) or is named by a
//! dnf security advisory. This is a finding without any advisory feed, which is what
//! makes an offline quickstart useful.
//!
//! - pure parsers ([`parse_apt_simulation`], [`parse_dnf_check_update`],
//!   [`parse_dnf_updateinfo`], [`merge_dnf`]) that never fail and never panic: lines
//!   that look like records but do not parse become [`ParseWarning`]s;
//! - runners ([`pending_updates_apt`], [`pending_updates_dnf`]) that run the real tools
//!   on a root directory with a timeout and a cap on the output they read.

mod apt;
mod dnf;
mod run;

use crate::parsed::{ParseWarning, MAX_LINE_BYTES, MAX_WARNINGS};
use serde::Serialize;

pub use apt::{is_security_origin, parse_apt_simulation};
pub use dnf::{
    merge_dnf, parse_dnf_check_update, parse_dnf_updateinfo, UpdateNotice, UpdateNotices,
};
pub use run::{
    pending_updates_apt, pending_updates_apt_with, pending_updates_dnf, pending_updates_dnf_with,
    PendingError, RunLimits,
};

/// An installed package with a newer candidate version in the configured repositories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingUpdate {
    /// Package name.
    pub name: String,
    /// Package architecture (`amd64`, `all`, `x86_64`, `noarch`), empty when unknown.
    pub arch: String,
    /// Installed version; `None` when the package would be newly installed or the
    /// tool did not say.
    pub installed: Option<String>,
    /// The version an upgrade would install.
    pub candidate: String,
    /// Where the candidate comes from: apt's `Label:Version/Suite` entries (e.g.
    /// `Debian-Security:12/stable-security`), or the dnf repository id.
    pub origins: Vec<String>,
    /// Whether the candidate is a security update: it comes from a security archive
    /// (apt) or a security advisory names it (dnf).
    pub security: bool,
    /// Advisory ids naming the package (dnf `updateinfo`); empty for apt.
    pub advisories: Vec<String>,
}

/// Pending updates read from one tool output, in output order, and what was skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Pending {
    /// The updates.
    pub updates: Vec<PendingUpdate>,
    /// Lines that looked like records but were not understood, and truncation notes.
    pub warnings: Vec<ParseWarning>,
}

impl Pending {
    /// The security updates only.
    pub fn security(&self) -> impl Iterator<Item = &PendingUpdate> {
        self.updates.iter().filter(|u| u.security)
    }
}

/// Collects warnings with the crate-wide cap.
#[derive(Debug, Default)]
pub(crate) struct Warnings {
    list: Vec<ParseWarning>,
    dropped: usize,
}

impl Warnings {
    pub(crate) fn warn(&mut self, line: usize, reason: impl Into<String>) {
        if self.list.len() < MAX_WARNINGS {
            self.list.push(ParseWarning {
                line,
                reason: reason.into(),
            });
        } else {
            self.dropped += 1;
        }
    }

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

    pub(crate) fn finish(mut self) -> Vec<ParseWarning> {
        if self.dropped > 0 {
            let last = self.list.last().map_or(0, |w| w.line);
            self.list.push(ParseWarning {
                line: last,
                reason: format!("{} more warnings not shown", self.dropped),
            });
        }
        self.list
    }
}

/// A short, printable excerpt of untrusted text for a warning.
pub(crate) fn excerpt(text: &str) -> String {
    text.chars()
        .take(120)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Package names and versions: non-empty, at most 256 bytes, printable, no spaces.
pub(crate) fn plausible_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 256
        && !s.contains(char::REPLACEMENT_CHARACTER)
        && s.chars().all(|c| !c.is_whitespace() && !c.is_control())
}
