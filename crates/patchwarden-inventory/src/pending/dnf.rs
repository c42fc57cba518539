//! dnf output: `dnf check-update` (every pending update) and `dnf updateinfo list`
//! (advisories naming updates), merged into [`Pending`].
//!
//! ```text
//! $ dnf -q check-update                 # exit 100 when there are updates
//! openssl-libs.x86_64          1:3.0.7-27.el9          baseos
//! $ dnf -q updateinfo list --security   # dnf 4
//! RHSA-2024:2447 Important/Sec. openssl-libs-1:3.0.7-27.el9.x86_64
//! $ dnf5 -q advisory list --security    # dnf 5: id, type, severity, NEVRA, issued
//! RHSA-2024:2447 security Important openssl-libs-1:3.0.7-27.el9.x86_64 2024-04-30 00:00:00
//! ```
//!
//! dnf 4 wraps a long `name.arch` onto its own line, with the version and repository
//! on the next; that is read as one record. The `Obsoleting Packages` section ends the
//! list of updates.

use super::{excerpt, plausible_token, Pending, PendingUpdate, Warnings};
use crate::parsed::{numbered, ParseWarning};
use crate::rpm::{evr, split_nvra, KNOWN_ARCHES};
use serde::Serialize;

/// One package named by one advisory in `dnf updateinfo list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateNotice {
    /// Advisory id (`RHSA-2024:2447`, `ALSA-2024:2447`).
    pub advisory: String,
    /// `security`, `bugfix`, `enhancement`, `newpackage` or `unspecified`.
    pub kind: String,
    /// Severity when given (`Important`).
    pub severity: Option<String>,
    /// Package name.
    pub name: String,
    /// Package architecture.
    pub arch: String,
    /// Fixed version, `epoch:version-release` with the epoch only when non-zero.
    pub evr: String,
}

/// Notices read from one output, and what was skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpdateNotices {
    /// The notices, in output order.
    pub notices: Vec<UpdateNotice>,
    /// Lines not understood.
    pub warnings: Vec<ParseWarning>,
}

/// Lines dnf prints around its records that carry nothing.
fn is_noise(line: &str) -> bool {
    let t = line.trim();
    t.is_empty()
        || t.starts_with("Last metadata expiration check")
        || t.starts_with("Security: ")
        || t.starts_with("Updating and loading repositories")
        || t.starts_with("Repositories loaded")
        || (t.contains(" | ") && (t.ends_with(" B") || t.contains("/s ")))
}

/// `name.arch` when the suffix is a known architecture.
fn name_arch(token: &str) -> Option<(&str, &str)> {
    let (name, arch) = token.rsplit_once('.')?;
    (KNOWN_ARCHES.contains(&arch) && plausible_token(name)).then_some((name, arch))
}

/// `[epoch:]version-release` → canonical EVR.
fn canonical_evr(text: &str) -> Option<String> {
    let (epoch, vr) = match text.split_once(':') {
        Some((e, vr)) => (e, vr),
        None => ("", text),
    };
    let (v, r) = vr.rsplit_once('-')?;
    if v.is_empty() || r.is_empty() || !plausible_token(vr) {
        return None;
    }
    evr(epoch, v, r)
}

/// Parses `dnf check-update` output; `security` marks every update as one (use `true`
/// for `dnf check-update --security`).
pub fn parse_dnf_check_update(text: &str, security: bool) -> Pending {
    let mut warnings = Warnings::default();
    let mut updates = Vec::new();
    let mut pending_name: Option<(usize, &str)> = None;
    for (n, line) in numbered(text) {
        if warnings.too_long(n, line) {
            continue;
        }
        if line.trim_start().starts_with("Obsoleting Packages") {
            break;
        }
        if is_noise(line) {
            continue;
        }
        let mut tokens: Vec<&str> = line.split_whitespace().collect();
        if let Some((_, first)) = pending_name.take() {
            if tokens.len() == 2 {
                tokens.insert(0, first);
            } else {
                warnings.warn(
                    n - 1,
                    format!("package without version: {}", excerpt(first)),
                );
            }
        }
        if tokens.len() == 1 && name_arch(tokens[0]).is_some() {
            pending_name = Some((n, tokens[0]));
            continue;
        }
        let parsed = match tokens.as_slice() {
            [na, version, repo] => name_arch(na)
                .zip(canonical_evr(version))
                .filter(|_| plausible_token(repo))
                .map(|((name, arch), candidate)| (name, arch, candidate, *repo)),
            _ => None,
        };
        match parsed {
            Some((name, arch, candidate, repo)) => updates.push(PendingUpdate {
                name: name.to_owned(),
                arch: arch.to_owned(),
                installed: None,
                candidate,
                origins: vec![repo.to_owned()],
                security,
                advisories: Vec::new(),
            }),
            None => warnings.warn(
                n,
                format!("not `name.arch version repo`: {}", excerpt(line)),
            ),
        }
    }
    if let Some((n, first)) = pending_name {
        warnings.warn(n, format!("package without version: {}", excerpt(first)));
    }
    Pending {
        updates,
        warnings: warnings.finish(),
    }
}

/// The kind and severity of a dnf 4 type column (`Important/Sec.`, `Sec.`, `bugfix`).
fn dnf4_kind(column: &str) -> Option<(String, Option<String>)> {
    let lower = column.to_ascii_lowercase();
    if let Some(sev) = column.strip_suffix("/Sec.") {
        return Some(("security".to_owned(), Some(sev.to_owned())));
    }
    match lower.as_str() {
        "sec." | "security" => Some(("security".to_owned(), None)),
        "bugfix" | "enhancement" | "newpackage" | "unspecified" => Some((lower, None)),
        _ => None,
    }
}

fn notice(advisory: &str, kind: (String, Option<String>), nevra: &str) -> Option<UpdateNotice> {
    let (name, version, release, arch) = split_nvra(nevra)?;
    if arch.is_empty() || !plausible_token(advisory) || !plausible_token(name) {
        return None;
    }
    let (epoch, version) = version.split_once(':').unwrap_or(("", version));
    Some(UpdateNotice {
        advisory: advisory.to_owned(),
        kind: kind.0,
        severity: kind.1.filter(|s| s != "None" && !s.is_empty()),
        name: name.to_owned(),
        arch: arch.to_owned(),
        evr: evr(epoch, version, release)?,
    })
}

/// Parses `dnf updateinfo list` (dnf 4) or `dnf advisory list` (dnf 5) output.
pub fn parse_dnf_updateinfo(text: &str) -> UpdateNotices {
    let mut warnings = Warnings::default();
    let mut notices = Vec::new();
    for (n, line) in numbered(text) {
        if warnings.too_long(n, line) || is_noise(line) {
            continue;
        }
        let tokens: Vec<&str> = line.split_whitespace().collect();
        if tokens.first() == Some(&"Name") && tokens.get(1) == Some(&"Type") {
            continue; // the dnf 5 table header
        }
        let parsed = match tokens.as_slice() {
            [id, kind, nevra] => dnf4_kind(kind).and_then(|k| notice(id, k, nevra)),
            [id, kind, severity, nevra, ..] => dnf4_kind(kind)
                .and_then(|(k, _)| notice(id, (k, Some((*severity).to_owned())), nevra)),
            _ => None,
        };
        match parsed {
            Some(notice) => notices.push(notice),
            None => warnings.warn(n, format!("not `advisory type package`: {}", excerpt(line))),
        }
    }
    UpdateNotices {
        notices,
        warnings: warnings.finish(),
    }
}

/// Marks the updates that security notices name (same name and arch) as security
/// updates and attaches the advisory ids. A security notice for a package that
/// `check-update` did not list is added as an update of its own.
pub fn merge_dnf(mut pending: Pending, notices: &UpdateNotices) -> Pending {
    for notice in notices.notices.iter().filter(|n| n.kind == "security") {
        let found = pending
            .updates
            .iter_mut()
            .find(|u| u.name == notice.name && u.arch == notice.arch);
        match found {
            Some(update) => {
                update.security = true;
                if !update.advisories.contains(&notice.advisory) {
                    update.advisories.push(notice.advisory.clone());
                }
            }
            None => pending.updates.push(PendingUpdate {
                name: notice.name.clone(),
                arch: notice.arch.clone(),
                installed: None,
                candidate: notice.evr.clone(),
                origins: Vec::new(),
                security: true,
                advisories: vec![notice.advisory.clone()],
            }),
        }
    }
    pending.warnings.extend(notices.warnings.iter().cloned());
    pending
}
