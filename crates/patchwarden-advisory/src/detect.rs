//! Format detection by content (the file name is only a tie-breaker for text formats).

use serde_json::Value;

/// A feed format this crate can parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedFormat {
    /// An OSV record or an array of records.
    Osv,
    /// A CSAF 2.0 document (`csaf_security_advisory` or `csaf_vex`).
    Csaf,
    /// The Debian security tracker JSON (package → CVE → releases).
    DebianTracker,
    /// A Debian `DSA.list` / `DLA.list` / `DTSA.list` text file.
    DsaList,
    /// An Alpine secdb file (YAML, or the newer JSON).
    AlpineSecdb,
    /// The CISA KEV catalog (JSON or a single entry).
    KevJson,
    /// The CISA KEV catalog as CSV.
    KevCsv,
    /// An EPSS scores CSV.
    EpssCsv,
    /// A CVE JSON 5 record.
    Cve5,
    /// An NVD API 2.0 response or saved page.
    Nvd,
}

/// Detects the format of a JSON document.
pub fn detect_json(v: &Value) -> Option<FeedFormat> {
    match v {
        Value::Array(items) => {
            let first = items.first()?;
            if first.get("cveID").is_some() {
                Some(FeedFormat::KevJson)
            } else if looks_osv(first) {
                Some(FeedFormat::Osv)
            } else {
                None
            }
        }
        Value::Object(m) => {
            if m.get("document")
                .and_then(|d| d.get("csaf_version"))
                .is_some()
            {
                return Some(FeedFormat::Csaf);
            }
            if m.contains_key("cveMetadata")
                || m.get("dataType").and_then(Value::as_str) == Some("CVE_RECORD")
            {
                return Some(FeedFormat::Cve5);
            }
            if m.get("format").and_then(Value::as_str) == Some("NVD_CVE")
                || first_of(m.get("vulnerabilities")).is_some_and(|x| x.get("cve").is_some())
            {
                return Some(FeedFormat::Nvd);
            }
            if m.contains_key("catalogVersion")
                || first_of(m.get("vulnerabilities")).is_some_and(|x| x.get("cveID").is_some())
                || (m.contains_key("cveID") && m.contains_key("dateAdded"))
            {
                return Some(FeedFormat::KevJson);
            }
            if m.contains_key("distroversion") && m.contains_key("packages") {
                return Some(FeedFormat::AlpineSecdb);
            }
            if looks_osv(v) {
                return Some(FeedFormat::Osv);
            }
            // Debian tracker: {package: {CVE-…: {releases: {…}}}}
            let tracker = m.values().take(8).any(|pkg| {
                pkg.as_object().is_some_and(|cves| {
                    cves.values()
                        .take(8)
                        .any(|c| c.get("releases").is_some_and(Value::is_object))
                })
            });
            tracker.then_some(FeedFormat::DebianTracker)
        }
        _ => None,
    }
}

fn first_of(v: Option<&Value>) -> Option<&Value> {
    v?.as_array()?.first()
}

fn looks_osv(v: &Value) -> bool {
    v.get("id").is_some_and(Value::is_string)
        && (v.get("affected").is_some()
            || v.get("schema_version").is_some()
            || (v.get("modified").is_some() && v.get("details").is_some()))
}

/// Detects a text (non-JSON) format from the first lines.
pub fn detect_text(text: &str) -> Option<FeedFormat> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next()?;
    if first.starts_with("#model_version") || first.starts_with("cve,epss") {
        return Some(FeedFormat::EpssCsv);
    }
    if first.starts_with("cveID,vendorProject") {
        return Some(FeedFormat::KevCsv);
    }
    if crate::dsa_list::is_header(first) {
        return Some(FeedFormat::DsaList);
    }
    let head: Vec<&str> = std::iter::once(first).chain(lines.take(40)).collect();
    if head.iter().any(|l| l.starts_with("distroversion:"))
        && head.iter().any(|l| l.starts_with("packages:"))
    {
        return Some(FeedFormat::AlpineSecdb);
    }
    None
}

/// Detects the format of a whole file's bytes. JSON is recognised by parsing it, so
/// callers that go on to parse should use [`crate::import_bytes`] instead.
pub fn detect_format(bytes: &[u8]) -> Option<FeedFormat> {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    match bytes.get(start) {
        Some(b'{') | Some(b'[') => detect_json(&serde_json::from_slice(bytes).ok()?),
        _ => detect_text(&String::from_utf8_lossy(&bytes[..bytes.len().min(8192)])),
    }
}
