//! CISA Known Exploited Vulnerabilities: the catalog JSON (or one entry) and the CSV.

use crate::common::{cut, is_cve, record_id};
use crate::csv;
use crate::ImportResult;
use jiff::civil::Date;
use patchwarden_domain::advisory::{CveEnrichment, KevEntry};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawKev {
    #[serde(rename = "cveID")]
    cve_id: String,
    vendor_project: Option<String>,
    product: Option<String>,
    vulnerability_name: Option<String>,
    date_added: String,
    due_date: Option<String>,
    known_ransomware_campaign_use: Option<String>,
}

/// Parses the KEV JSON catalog (`{"vulnerabilities": [...]}`), an array of entries, or
/// a single entry.
pub fn parse(file: &str, bytes: &[u8]) -> ImportResult {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => parse_json(file, v),
        Err(e) => {
            let mut out = ImportResult::default();
            out.reject(file, None, format!("not valid JSON: {e}"));
            out
        }
    }
}

/// Parses KEV JSON already read.
pub fn parse_json(file: &str, v: Value) -> ImportResult {
    let mut out = ImportResult::default();
    let items = match v {
        Value::Array(items) => items,
        Value::Object(mut m) => match m.remove("vulnerabilities") {
            Some(Value::Array(items)) => items,
            Some(_) => {
                out.reject(file, None, "`vulnerabilities` is not an array");
                return out;
            }
            None => vec![Value::Object(m)],
        },
        _ => {
            out.reject(file, None, "not a KEV document");
            return out;
        }
    };
    for item in items {
        let rid = item.get("cveID").and_then(Value::as_str).map(record_id);
        let entry = serde_json::from_value::<RawKev>(item)
            .map_err(|e| format!("not a KEV entry: {e}"))
            .and_then(convert);
        match entry {
            Ok(e) => out.enrichment.push(e),
            Err(reason) => out.reject(file, rid.as_deref(), reason),
        }
    }
    out
}

fn convert(r: RawKev) -> Result<CveEnrichment, String> {
    let cve = r.cve_id.trim();
    if !is_cve(cve) {
        return Err(format!("{:.40?} is not a CVE id", cve));
    }
    let date_added: Date = r
        .date_added
        .trim()
        .parse()
        .map_err(|e| format!("dateAdded {:.40?}: {e}", r.date_added))?;
    let due_date = match r.due_date.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(d) => Some(
            d.parse::<Date>()
                .map_err(|e| format!("dueDate {d:.40?}: {e}"))?,
        ),
    };
    let known_ransomware = match r.known_ransomware_campaign_use.as_deref().map(str::trim) {
        Some(s) if s.eq_ignore_ascii_case("known") => true,
        None | Some("") => false,
        Some(s) if s.eq_ignore_ascii_case("unknown") => false,
        Some(s) => {
            return Err(format!(
                "knownRansomwareCampaignUse {s:.40?} is not Known/Unknown"
            ))
        }
    };
    let text = |s: Option<String>| cut(s.as_deref().unwrap_or_default().trim(), 512);
    Ok(CveEnrichment {
        cve: cve.to_owned(),
        kev: Some(KevEntry {
            date_added,
            due_date,
            known_ransomware,
            vendor: text(r.vendor_project),
            product: text(r.product),
            name: text(r.vulnerability_name),
        }),
        epss: None,
        cvss: Vec::new(),
    })
}

/// Parses the KEV CSV export (header `cveID,vendorProject,product,…`).
pub fn parse_csv(file: &str, text: &str) -> ImportResult {
    let mut out = ImportResult::default();
    let mut header: Option<Vec<String>> = None;
    for rec in csv::records(text) {
        let rec = match rec {
            Ok(r) => r,
            Err((line, e)) => {
                out.reject(file, Some(&format!("line {line}")), e);
                continue;
            }
        };
        let Some(h) = &header else {
            header = Some(rec.fields);
            continue;
        };
        let get = |k: &str| {
            h.iter()
                .position(|x| x == k)
                .and_then(|i| rec.fields.get(i))
                .map(String::to_owned)
        };
        let rid = get("cveID")
            .map(|s| record_id(&s))
            .unwrap_or(format!("line {}", rec.line));
        if rec.fields.len() != h.len() {
            out.reject(
                file,
                Some(&rid),
                format!(
                    "line {}: {} fields, header has {}",
                    rec.line,
                    rec.fields.len(),
                    h.len()
                ),
            );
            continue;
        }
        let raw = RawKev {
            cve_id: get("cveID").unwrap_or_default(),
            vendor_project: get("vendorProject"),
            product: get("product"),
            vulnerability_name: get("vulnerabilityName"),
            date_added: get("dateAdded").unwrap_or_default(),
            due_date: get("dueDate"),
            known_ransomware_campaign_use: get("knownRansomwareCampaignUse"),
        };
        match convert(raw) {
            Ok(e) => out.enrichment.push(e),
            Err(reason) => out.reject(file, Some(&rid), reason),
        }
    }
    if header.is_none() {
        out.reject(file, None, "empty KEV CSV");
    }
    out
}
