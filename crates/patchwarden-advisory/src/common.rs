//! Limits and small helpers shared by the parsers.

use jiff::Timestamp;
use patchwarden_domain::advisory::{SeverityLevel, VendorSeverity};

/// Largest single feed file (or zip member) read, in bytes. The whole CISA KEV JSON is
/// ~1.5 MB and a full NVD year file ~200 MB uncompressed.
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;
/// Most files read by one [`crate::import_path`] call (including zip members).
pub const MAX_FILES: usize = 2_000_000;
/// Most records taken from one file; the rest are rejected in one line.
pub const MAX_RECORDS_PER_FILE: usize = 5_000_000;
/// Longest id (advisory, CVE, package name, version) accepted.
pub(crate) const MAX_ID_LEN: usize = 256;
/// Longest free text (title) kept; longer text is cut at a char boundary.
pub(crate) const MAX_TEXT_LEN: usize = 4096;

/// Checks an identifier-like token: non-empty, at most [`MAX_ID_LEN`] bytes, no control
/// characters or whitespace.
pub(crate) fn token(what: &str, s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if s.len() > MAX_ID_LEN {
        return Err(format!("{what} is longer than {MAX_ID_LEN} bytes"));
    }
    if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!(
            "{what} {s:?} contains whitespace or control characters"
        ));
    }
    Ok(s.to_owned())
}

/// A record id for a rejection message: cut to [`MAX_ID_LEN`] bytes.
pub(crate) fn record_id(s: &str) -> String {
    cut(s.trim(), MAX_ID_LEN)
}

/// Cuts `s` to at most `max` bytes at a char boundary.
pub(crate) fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// A title: trimmed, empty = none, long text cut.
pub(crate) fn title(s: Option<&str>) -> Option<String> {
    let s = s?.trim();
    (!s.is_empty()).then(|| cut(s, MAX_TEXT_LEN))
}

/// Parses RFC 3339 timestamps, also the offset-less forms NVD uses
/// (`2024-03-29T17:15:21.150`, taken as UTC) and bare dates.
pub(crate) fn timestamp(s: Option<&str>) -> Option<Timestamp> {
    let s = s?.trim();
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t);
    }
    if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
        return dt
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp());
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        return d
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp());
    }
    None
}

/// Maps a vendor's severity word to the common scale. Unknown words give `None`.
pub(crate) fn severity(raw: &str) -> Option<VendorSeverity> {
    let word = raw.trim().trim_end_matches('*').trim();
    let level = match word.to_ascii_lowercase().as_str() {
        "critical" | "urgent" => SeverityLevel::Critical,
        "important" | "high" => SeverityLevel::High,
        "moderate" | "medium" => SeverityLevel::Medium,
        "low" => SeverityLevel::Low,
        "negligible" | "unimportant" => SeverityLevel::Negligible,
        "none" => SeverityLevel::None,
        _ => return None,
    };
    Some(VendorSeverity {
        level,
        raw: cut(word, 64),
    })
}

/// Red Hat style summaries start with the impact: `Important: openssl security update`.
pub(crate) fn severity_from_summary(summary: &str) -> Option<VendorSeverity> {
    let (word, _) = summary.split_once(':')?;
    severity(word)
}

/// Sorts and deduplicates ids, dropping invalid ones.
pub(crate) fn ids(list: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = list
        .into_iter()
        .filter_map(|s| token("id", &s).ok())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Whether `s` looks like `CVE-YYYY-NNNN…`.
pub(crate) fn is_cve(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("CVE-") else {
        return false;
    };
    let Some((year, num)) = rest.split_once('-') else {
        return false;
    };
    year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && num.len() >= 4
        && num.len() <= 12
        && num.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(cut("héllo", 2), "h");
        assert!(token("x", "a b").is_err());
        assert!(token("x", &"a".repeat(300)).is_err());
        assert_eq!(
            severity("high**").map(|s| s.level),
            Some(SeverityLevel::High)
        );
        assert_eq!(
            severity_from_summary("Important: thunderbird").map(|s| s.level),
            Some(SeverityLevel::High)
        );
        assert!(timestamp(Some("2024-03-29T17:15:21.150")).is_some());
        assert!(timestamp(Some("2023-05-18T19:53:57.454316Z")).is_some());
        assert!(timestamp(Some("2025-08-25")).is_some());
        assert!(is_cve("CVE-2024-3094") && !is_cve("CVE-24-1") && !is_cve("GHSA-x"));
    }
}
