//! Pending updates (apt/dnf, with their security origin), read at most every
//! `pending_updates_secs` or when the package database changed, and sent only when
//! they differ from what the server last received, so heartbeats stay small.

use crate::warn;
use patchwarden_domain::package::PackageFormat;
use patchwarden_inventory::pending::{self, PendingError};
use patchwarden_wire::agent::PendingUpdate;
use std::path::Path;
use std::time::{Duration, Instant};

/// Most updates reported (a host far behind has a few hundred).
const MAX_PENDING: usize = 10_000;

#[derive(Debug, Default)]
pub struct PendingTracker {
    /// When last read, and for which inventory hash.
    checked: Option<(Instant, String)>,
    current: Option<Vec<PendingUpdate>>,
    /// Hash of the list the server last received (kept in the state directory).
    sent: Option<String>,
}

/// SHA-256 of a list's JSON.
pub fn list_hash(list: &[PendingUpdate]) -> String {
    crate::state::sha256_hex(&serde_json::to_vec(list).unwrap_or_default())
}

impl PendingTracker {
    pub fn new(sent: Option<String>) -> Self {
        Self {
            sent,
            ..Self::default()
        }
    }

    /// Re-reads the pending updates when due: never read, `every` elapsed, or the
    /// inventory changed. `every` zero disables them.
    pub fn refresh(&mut self, root: &Path, format: PackageFormat, hash: &str, every: Duration) {
        if every.is_zero() {
            return;
        }
        let due = match &self.checked {
            None => true,
            Some((at, h)) => at.elapsed() >= every || h != hash,
        };
        if !due {
            return;
        }
        self.checked = Some((Instant::now(), hash.to_owned()));
        let result = match format {
            PackageFormat::Deb => pending::pending_updates_apt(root, &[]),
            PackageFormat::Rpm => pending::pending_updates_dnf(root, &[]),
            _ => return,
        };
        match result {
            Ok(p) => {
                self.current = Some(
                    p.updates
                        .into_iter()
                        .take(MAX_PENDING)
                        .map(to_wire)
                        .collect(),
                );
            }
            Err(e) => warn(&format!("pending updates not read: {}", short(&e))),
        }
    }

    /// What to send: the current list when it differs from the last one delivered,
    /// or always with a full inventory.
    pub fn to_send(&self, with_inventory: bool) -> Option<Vec<PendingUpdate>> {
        let current = self.current.as_ref()?;
        if with_inventory || self.sent.as_deref() != Some(list_hash(current).as_str()) {
            Some(current.clone())
        } else {
            None
        }
    }

    /// The server received `sent`: returns the hash to persist when it changed.
    pub fn delivered(&mut self, sent: Option<&[PendingUpdate]>) -> Option<String> {
        let hash = list_hash(sent?);
        if self.sent.as_deref() == Some(hash.as_str()) {
            return None;
        }
        self.sent = Some(hash.clone());
        Some(hash)
    }
}

fn short(e: &PendingError) -> String {
    let text = e.to_string();
    match text.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

fn to_wire(u: pending::PendingUpdate) -> PendingUpdate {
    let origin = if u.origins.is_empty() {
        u.advisories.join(", ")
    } else {
        u.origins.join(", ")
    };
    PendingUpdate {
        name: u.name,
        arch: u.arch,
        installed: u.installed.unwrap_or_default(),
        candidate: u.candidate,
        origin,
        security: u.security,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(name: &str) -> PendingUpdate {
        PendingUpdate {
            name: name.into(),
            arch: "amd64".into(),
            installed: "1".into(),
            candidate: "2".into(),
            origin: "Debian-Security:12/stable-security".into(),
            security: true,
        }
    }

    #[test]
    fn sent_once_until_they_change() {
        let mut t = PendingTracker {
            current: Some(vec![update("a")]),
            ..PendingTracker::default()
        };
        assert_eq!(t.to_send(false), Some(vec![update("a")]));
        let sent = t.to_send(false);
        assert!(t.delivered(sent.as_deref()).is_some());
        assert!(t.delivered(sent.as_deref()).is_none());
        assert_eq!(t.to_send(false), None);
        let restarted = PendingTracker {
            current: Some(vec![update("a")]),
            ..PendingTracker::new(t.sent.clone())
        };
        assert_eq!(restarted.to_send(false), None);
        assert_eq!(t.to_send(true), Some(vec![update("a")]));
        t.current = Some(vec![]);
        assert_eq!(t.to_send(false), Some(vec![]));
    }

    #[test]
    fn disabled_reads_nothing() {
        let mut t = PendingTracker::default();
        t.refresh(
            Path::new("/nonexistent"),
            PackageFormat::Deb,
            "h",
            Duration::ZERO,
        );
        assert!(t.checked.is_none() && t.to_send(true).is_none());
    }
}
