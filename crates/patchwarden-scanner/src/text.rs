//! Small text helpers shared by the parsers: trimming, caps, scores, CVE ids, times.

use crate::limits::{EXCERPT_CHARS, MAX_FIELD_CHARS};

/// Trimmed text, `None` when empty.
pub(crate) fn clean(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// A short field (id, name, host): trimmed, `None` when empty, an error when too long.
pub(crate) fn field(what: &str, s: &str) -> Result<Option<String>, String> {
    let t = s.trim();
    if t.chars().count() > MAX_FIELD_CHARS {
        return Err(format!(
            "{what} is longer than {MAX_FIELD_CHARS} characters"
        ));
    }
    Ok(clean(t))
}

/// Trimmed text cut to [`EXCERPT_CHARS`] characters (an ellipsis marks the cut).
pub(crate) fn excerpt(s: &str) -> Option<String> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    match t.char_indices().nth(EXCERPT_CHARS) {
        None => Some(t.to_string()),
        Some((cut, _)) => Some(format!("{}…", &t[..cut])),
    }
}

/// A CVSS score: a number from 0 to 10.
pub(crate) fn score(what: &str, s: &str) -> Result<Option<f32>, String> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    match t.parse::<f32>() {
        Ok(v) if (0.0..=10.0).contains(&v) => Ok(Some(v)),
        _ => Err(format!("{what} {:?} is not a score from 0 to 10", short(t))),
    }
}

/// The first 40 characters of `s`, for error messages.
pub(crate) fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

/// A CVE id (`CVE-2014-0160`), upper-cased; `None` when `s` is not one.
pub(crate) fn cve(s: &str) -> Option<String> {
    let t = s.trim().to_ascii_uppercase();
    let rest = t.strip_prefix("CVE-")?;
    let (year, num) = rest.split_once('-')?;
    let ok = year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && (4..=12).contains(&num.len())
        && num.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(t)
}

/// Adds CVE ids from a comma/space separated list, skipping non-ids (`NOCVE`) and dupes.
pub(crate) fn push_cves(list: &str, out: &mut Vec<String>) {
    for part in list.split(|c: char| c == ',' || c.is_whitespace()) {
        if let Some(id) = cve(part) {
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
}

/// A CVSS vector split by version: `CVSS:3.x/…` is v3, `CVSS:4.0/…` is ignored, the rest
/// (with any `CVSS2#` prefix dropped) is v2.
pub(crate) enum Vector {
    V2(String),
    V3(String),
    Other,
}

pub(crate) fn vector(s: &str) -> Option<Vector> {
    let t = s.trim();
    if t.is_empty() || t.len() > 256 {
        return None;
    }
    if t.starts_with("CVSS:3") {
        Some(Vector::V3(t.to_string()))
    } else if t.starts_with("CVSS:") {
        Some(Vector::Other)
    } else {
        let v = t.strip_prefix("CVSS2#").unwrap_or(t);
        v.contains("AV:").then(|| Vector::V2(v.to_string()))
    }
}

/// A time as scanners write it: RFC 3339 (`2023-09-28T14:48:02Z`), a Unix epoch in seconds,
/// or the Nessus ctime form (`Tue Jan  7 08:19:20 2014`), which carries no zone and is read
/// as UTC.
pub(crate) fn timestamp(s: &str) -> Option<jiff::Timestamp> {
    let t = s.trim();
    if t.is_empty() || t.len() > 64 {
        return None;
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<i64>()
            .ok()
            .and_then(|n| jiff::Timestamp::from_second(n).ok());
    }
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        return Some(ts);
    }
    let squeezed = t.split_whitespace().collect::<Vec<_>>().join(" ");
    jiff::civil::DateTime::strptime("%a %b %d %H:%M:%S %Y", &squeezed)
        .ok()
        .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cves_and_scores() {
        assert_eq!(cve(" cve-2014-0160 ").as_deref(), Some("CVE-2014-0160"));
        assert_eq!(cve("CVE-2021-1234567"), Some("CVE-2021-1234567".into()));
        assert_eq!(cve("NOCVE"), None);
        assert_eq!(cve("CVE-14-1"), None);
        let mut v = Vec::new();
        push_cves("CVE-2011-1, CVE-2011-1234, NOCVE CVE-2011-1234", &mut v);
        assert_eq!(v, ["CVE-2011-1234"]);
        assert_eq!(score("x", "7.5"), Ok(Some(7.5)));
        assert!(score("x", "11").is_err());
        assert!(score("x", "NaN").is_err());
        assert_eq!(score("x", " "), Ok(None));
    }

    #[test]
    fn times() {
        let ctime = timestamp("Tue Jan  7 08:19:20 2014").map(|t| t.to_string());
        assert_eq!(ctime.as_deref(), Some("2014-01-07T08:19:20Z"));
        let iso = timestamp("2021-03-12T12:34:30.12031+00:00").map(|t| t.as_second());
        assert_eq!(iso, Some(1_615_552_470));
        assert_eq!(
            timestamp("1648042311").map(|t| t.as_second()),
            Some(1_648_042_311)
        );
        assert_eq!(timestamp("yesterday"), None);
    }

    #[test]
    fn excerpts_are_capped_on_char_boundaries() {
        let long = "é".repeat(EXCERPT_CHARS + 10);
        let e = excerpt(&long).unwrap_or_default();
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
        assert_eq!(excerpt("  "), None);
    }
}
