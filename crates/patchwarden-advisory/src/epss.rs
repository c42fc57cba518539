//! EPSS scores CSV: an optional `#model_version:…,score_date:…` comment line, then
//! `cve,epss,percentile` rows.

use crate::common::{is_cve, record_id};
use crate::csv;
use crate::ImportResult;
use patchwarden_domain::advisory::{CveEnrichment, Epss};

/// Parses an EPSS CSV. The score date comes from the comment line when present.
/// A file whose header is not `cve,epss,percentile` is rejected as a whole.
pub fn parse(file: &str, text: &str) -> ImportResult {
    let mut out = ImportResult::default();
    let mut date = None;
    let mut body = text;
    if let Some(rest) = text.trim_start().strip_prefix('#') {
        let (comment, after) = rest.split_once('\n').unwrap_or((rest, ""));
        for part in comment.split(',') {
            if let Some(d) = part.trim().strip_prefix("score_date:") {
                date = crate::common::timestamp(Some(d.trim()))
                    .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date())
                    .or_else(|| d.get(..10).and_then(|d| d.parse().ok()));
            }
        }
        body = after;
    }
    let mut header_ok = None;
    for rec in csv::records(body) {
        let rec = match rec {
            Ok(r) => r,
            Err((line, e)) => {
                out.reject(file, Some(&format!("line {line}")), e);
                continue;
            }
        };
        if header_ok.is_none() {
            let h: Vec<&str> = rec.fields.iter().map(|s| s.trim()).collect();
            let ok = h == ["cve", "epss", "percentile"];
            header_ok = Some(ok);
            if !ok {
                out.reject(
                    file,
                    None,
                    format!("header {h:?} is not cve,epss,percentile"),
                );
                return out;
            }
            continue;
        }
        let f = &rec.fields;
        let rid = record_id(f.first().map(String::as_str).unwrap_or_default());
        match row(f) {
            Ok((cve, probability, percentile)) => out.enrichment.push(CveEnrichment {
                cve,
                kev: None,
                epss: Some(Epss {
                    probability,
                    percentile,
                    date,
                }),
                cvss: Vec::new(),
            }),
            Err(e) => out.reject(file, Some(&rid), format!("line {}: {e}", rec.line)),
        }
    }
    out
}

fn row(f: &[String]) -> Result<(String, f64, f64), String> {
    let [cve, p, pct] = f else {
        return Err(format!("{} fields, expected 3", f.len()));
    };
    let cve = cve.trim();
    if !is_cve(cve) {
        return Err(format!("{cve:.40?} is not a CVE id"));
    }
    let num = |s: &str, what: &str| -> Result<f64, String> {
        let v: f64 = s
            .trim()
            .parse()
            .map_err(|_| format!("{what} {s:.20?} is not a number"))?;
        if (0.0..=1.0).contains(&v) {
            Ok(v)
        } else {
            Err(format!("{what} {v} is outside 0..1"))
        }
    };
    Ok((cve.to_owned(), num(p, "epss")?, num(pct, "percentile")?))
}
