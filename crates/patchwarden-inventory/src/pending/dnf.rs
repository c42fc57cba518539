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
//! dnf 4 lays the three columns out on 80 columns (`fmtColumns` in its `output.py`): a
//! value wider than its column ends the line, and the next column continues on the
//! following line, indented to where that column starts. So a long `name.arch` stands
//! alone with the version and repository below it, a long version ends its line with
//! the repository below it, and a row with both spans three lines; each is read as one
//! record. The `Obsoleting Packages` section ends the list of updates.

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

/// A `check-update` row, possibly continued on the lines below it.
struct Row<'a> {
    /// Line number of its first line.
    line: usize,
    /// Its columns so far: `name.arch`, version, repository.
    columns: Vec<&'a str>,
}

impl Row<'_> {
    /// Whether `columns` can begin a row that continues below: a `name.arch`, then
    /// perhaps a version.
    fn begins(columns: &[&str]) -> bool {
        match columns {
            [na] => name_arch(na).is_some(),
            [na, version] => name_arch(na).is_some() && canonical_evr(version).is_some(),
            _ => false,
        }
    }

    /// The warning for a row that ended before its last column.
    fn unfinished(&self, warnings: &mut Warnings) {
        let missing = match self.columns.len() {
            1 => "version",
            _ => "repository",
        };
        let text = excerpt(&self.columns.join(" "));
        warnings.warn(self.line, format!("package without {missing}: {text}"));
    }

    /// The update a complete row describes, or a warning.
    fn finish(self, security: bool, updates: &mut Vec<PendingUpdate>, warnings: &mut Warnings) {
        let parsed = match self.columns.as_slice() {
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
                self.line,
                format!(
                    "not `name.arch version repo`: {}",
                    excerpt(&self.columns.join(" "))
                ),
            ),
        }
    }
}

/// Parses `dnf check-update` output; `security` marks every update as one (use `true`
/// for `dnf check-update --security`).
pub fn parse_dnf_check_update(text: &str, security: bool) -> Pending {
    let mut warnings = Warnings::default();
    let mut updates = Vec::new();
    // A row whose last columns are still to come on indented lines.
    let mut open: Option<Row> = None;
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
        let columns: Vec<&str> = line.split_whitespace().collect();
        if let Some(row) = open.as_mut() {
            let continues = line.starts_with(char::is_whitespace);
            if continues && row.columns.len() + columns.len() <= 3 {
                row.columns.extend(columns);
                if row.columns.len() == 3 {
                    if let Some(row) = open.take() {
                        row.finish(security, &mut updates, &mut warnings);
                    }
                }
                continue;
            }
        }
        if let Some(row) = open.take() {
            row.unfinished(&mut warnings);
        }
        let row = Row { line: n, columns };
        if Row::begins(&row.columns) {
            open = Some(row);
        } else {
            row.finish(security, &mut updates, &mut warnings);
        }
    }
    if let Some(row) = open {
        row.unfinished(&mut warnings);
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
