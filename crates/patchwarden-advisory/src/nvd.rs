//! NVD API 2.0 responses (`{"format":"NVD_CVE","vulnerabilities":[{"cve":{…}}]}`):
//! CVSS from `cve.metrics.cvssMetricV40/V31/V30/V2[].cvssData`, as enrichment.

use crate::common::{is_cve, record_id};
use crate::cve5::metric;
use crate::cvss_score::push_unique;
use crate::ImportResult;
use patchwarden_domain::advisory::CveEnrichment;
use serde_json::Value;

/// Parses an NVD API 2.0 response from bytes.
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

/// Parses an NVD API 2.0 response already read. `Rejected` CVEs are skipped.
pub fn parse_json(file: &str, v: Value) -> ImportResult {
    let mut out = ImportResult::default();
    let Some(items) = v.get("vulnerabilities").and_then(Value::as_array) else {
        out.reject(file, None, "`vulnerabilities` is not an array");
        return out;
    };
    for item in items {
        let cve = item.get("cve").unwrap_or(&Value::Null);
        let id = cve.get("id").and_then(Value::as_str).unwrap_or_default();
        if !is_cve(id) {
            out.reject(file, Some(&record_id(id)), "cve.id is not a CVE id");
            continue;
        }
        if cve.get("vulnStatus").and_then(Value::as_str) == Some("Rejected") {
            out.skip(file, Some(id), "vulnStatus Rejected");
            continue;
        }
        let mut cvss = Vec::new();
        let mut error = None;
        for key in [
            "cvssMetricV40",
            "cvssMetricV31",
            "cvssMetricV30",
            "cvssMetricV2",
        ] {
            let list = cve
                .pointer(&format!("/metrics/{key}"))
                .and_then(Value::as_array);
            for m in list.into_iter().flatten() {
                match m
                    .get("cvssData")
                    .ok_or_else(|| "no cvssData".to_owned())
                    .and_then(metric)
                {
                    Ok(c) => push_unique(&mut cvss, c),
                    Err(e) => error = error.or(Some(format!("{key}: {e}"))),
                }
            }
        }
        match error {
            Some(e) => out.reject(file, Some(id), e),
            None => out.enrichment.push(CveEnrichment {
                cve: id.to_owned(),
                kev: None,
                epss: None,
                cvss,
            }),
        }
    }
    out
}
