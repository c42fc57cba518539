//! Debian `DSA.list`, `DLA.list` and `DTSA.list` (security-tracker `data/`):
//!
//! ```text
//! [29 Mar 2023] DSA-5380-1 xorg-server - security update
//!     {CVE-2023-1393}
//!     [bullseye] - xorg-server 2:1.20.11-1+deb11u6
//!     [lenny] - vlc <not-affected> (Vulnerable code not present)
//!     NOTE: fixed in testing at time of DSA
//! ```
//!
//! Package names are source packages; codenames map to release numbers.

use crate::common::{cut, ids, record_id, title, token};
use crate::distro;
use crate::ImportResult;
use jiff::civil::Date;
use patchwarden_domain::advisory::{
    Advisory, AffectedPackage, NameKind, PackageState, VersionRange,
};
use patchwarden_domain::package::PackageFormat;

/// The `source` tag of advisories from this parser.
pub const SOURCE: &str = "dsa-list";

/// Whether a line is an advisory header: `[DD Mon YYYY] DSA-…`/`DLA-…`/`DTSA-…`.
pub(crate) fn is_header(line: &str) -> bool {
    header(line).is_some()
}

/// (date, id, rest-of-line)
fn header(line: &str) -> Option<(&str, &str, &str)> {
    let rest = line.strip_prefix('[')?;
    let (date, rest) = rest.split_once(']')?;
    if date.len() < 8 || date.len() > 32 || !date.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = rest.trim_start();
    let (id, tail) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let known = ["DSA-", "DLA-", "DTSA-"].iter().any(|p| id.starts_with(p));
    (known && id.len() > 4).then_some((date, id, tail.trim()))
}

struct Pending {
    adv: Advisory,
    line: usize,
    errors: Vec<String>,
}

/// Parses a DSA/DLA/DTSA list.
pub fn parse(file: &str, text: &str) -> ImportResult {
    let mut out = ImportResult::default();
    let mut cur: Option<Pending> = None;
    for (i, raw_line) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw_line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some((date, id, tail)) = header(line) {
            if let Some(p) = cur.take() {
                finish(file, p, &mut out);
            }
            cur = Some(start(id, date, tail, n));
            if out.advisories.len() + out.rejected.len() > crate::MAX_RECORDS_PER_FILE {
                out.reject(file, None, "too many records in one file; rest ignored");
                return out;
            }
            continue;
        }
        let Some(p) = cur.as_mut() else {
            out.reject(
                file,
                Some(&format!("line {n}")),
                "text before the first advisory header",
            );
            continue;
        };
        if let Err(e) = body_line(&mut p.adv, line) {
            p.errors.push(format!("line {n}: {e}"));
        }
    }
    if let Some(p) = cur.take() {
        finish(file, p, &mut out);
    }
    out
}

fn start(id: &str, date: &str, tail: &str, line: usize) -> Pending {
    let mut errors = Vec::new();
    let id = token("advisory id", id).unwrap_or_else(|e| {
        errors.push(e);
        record_id(id)
    });
    let published = match parse_date(date) {
        Some(d) => d
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp()),
        None => {
            errors.push(format!("line {line}: date {date:?} is not `DD Mon YYYY`"));
            None
        }
    };
    Pending {
        adv: Advisory {
            id,
            source: SOURCE.into(),
            aliases: Vec::new(),
            published,
            modified: None,
            title: title(Some(tail)),
            severity: None,
            cvss: Vec::new(),
            affected: Vec::new(),
            references: Vec::new(),
        },
        line,
        errors,
    }
}

/// `29 Mar 2023` (DSA/DLA) or `August 26th, 2005` (DTSA).
fn parse_date(date: &str) -> Option<Date> {
    if let Ok(d) = Date::strptime("%d %b %Y", date) {
        return Some(d);
    }
    let cleaned: String = date
        .replace(',', " ")
        .split_whitespace()
        .map(|w| {
            let digits = w.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                digits
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    Date::strptime("%B %d %Y", &cleaned).ok()
}

fn finish(file: &str, p: Pending, out: &mut ImportResult) {
    let mut adv = p.adv;
    if let Some(e) = p.errors.first() {
        let more = if p.errors.len() > 1 {
            format!(" (+{} more)", p.errors.len() - 1)
        } else {
            String::new()
        };
        return out.reject(file, Some(&adv.id), format!("{e}{more}"));
    }
    if adv.affected.is_empty() {
        return out.skip(
            file,
            Some(&adv.id),
            format!("line {}: names no package", p.line),
        );
    }
    adv.aliases = ids(std::mem::take(&mut adv.aliases));
    out.advisories.push(adv);
}

fn body_line(adv: &mut Advisory, line: &str) -> Result<(), String> {
    if let Some(inner) = line.strip_prefix('{') {
        let inner = inner.strip_suffix('}').ok_or("`{` without closing `}`")?;
        adv.aliases
            .extend(inner.split_whitespace().map(str::to_owned));
        if adv.aliases.len() > 10_000 {
            return Err("more than 10000 ids".into());
        }
        return Ok(());
    }
    if line.starts_with("NOTE:") || line.starts_with("TODO:") {
        return Ok(());
    }
    let rest = line
        .strip_prefix('[')
        .ok_or("not a `{ids}`, `[release] - …` or NOTE line")?;
    let (codename, rest) = rest.split_once(']').ok_or("`[` without closing `]`")?;
    let distro =
        distro::debian(codename).ok_or_else(|| format!("unknown release {:.32?}", codename))?;
    let rest = rest
        .trim_start()
        .strip_prefix('-')
        .ok_or("missing ` - ` after the release")?;
    let mut words = rest.split_whitespace();
    let name = token("package", words.next().unwrap_or_default())?;
    let what = words.next().ok_or("missing version or <state>")?;
    let note: String = words.collect::<Vec<_>>().join(" ");
    let note = note
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim();
    let note = (!note.is_empty()).then(|| cut(note, 512));
    let state = match what {
        "<not-affected>" => PackageState::NotAffected {
            justification: note,
        },
        "<unfixed>" | "<postponed>" | "<undetermined>" => {
            PackageState::AffectedNoFix { ranges: Vec::new() }
        }
        "<no-dsa>" | "<ignored>" | "<end-of-life>" => PackageState::WillNotFix {
            reason: Some(note.unwrap_or_else(|| what.trim_matches(['<', '>']).to_owned())),
        },
        v if v.starts_with('<') => return Err(format!("unknown state {:.32?}", v)),
        v => PackageState::Fixed {
            ranges: vec![VersionRange {
                introduced: None,
                fixed: Some(token("version", v)?),
                last_affected: None,
                limit: None,
            }],
        },
    };
    adv.affected.push(AffectedPackage {
        distro,
        scheme: PackageFormat::Deb,
        name,
        name_kind: NameKind::Source,
        arches: Vec::new(),
        state,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample() {
        let t = "[01 Aug 2002] DSA-140 libpng - buffer overflow\n\t{CVE-2002-0660 CVE-2002-0728}\n\
                 \t[woody] - libpng 1.0.12-3.woody.2\n\t[lenny] - vlc <not-affected> (Vulnerable code not present)\n\
                 [07 Jun 2015] DSA-3281-1 Debian key notice\n\
                 [01 Jan 2020] DSA-9-1 x - y\n\t[narnia] - x 1\n";
        assert_eq!(
            parse_date("August 26th, 2005")
                .map(|d| d.to_string())
                .as_deref(),
            Some("2005-08-26")
        );
        let r = parse("t", t);
        assert_eq!(
            (r.advisories.len(), r.skipped.len(), r.rejected.len()),
            (1, 1, 1)
        );
        let a = &r.advisories[0];
        assert_eq!(a.aliases, ["CVE-2002-0660", "CVE-2002-0728"]);
        assert_eq!(a.affected[0].distro.release, "3.0");
        assert_eq!(
            a.affected[1].state,
            PackageState::NotAffected {
                justification: Some("Vulnerable code not present".into())
            }
        );
    }
}
