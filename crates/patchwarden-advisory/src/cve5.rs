//! CVE JSON 5 records (cvelistV5 `cves/YYYY/NNxxx/CVE-….json`): CVSS from the CNA and
//! ADP `metrics[]` (`cvssV2_0`, `cvssV3_0`, `cvssV3_1`, `cvssV4_0`), as enrichment.

use crate::common::{is_cve, record_id};
use crate::cvss_score::{push_unique, score_with_fallback};
use crate::ImportResult;
use patchwarden_domain::advisory::{CveEnrichment, Cvss};
use serde_json::Value;

/// Parses one CVE JSON 5 record from bytes.
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

/// Parses one CVE JSON 5 record already read. Rejected (state `REJECTED`) CVEs are
/// skipped.
pub fn parse_json(file: &str, v: Value) -> ImportResult {
    let mut out = ImportResult::default();
    let id = v
        .pointer("/cveMetadata/cveId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let rid = record_id(id);
    if !is_cve(id) {
        out.reject(file, Some(&rid), "cveMetadata.cveId is not a CVE id");
        return out;
    }
    if v.pointer("/cveMetadata/state").and_then(Value::as_str) == Some("REJECTED") {
        out.skip(file, Some(id), "CVE record is REJECTED");
        return out;
    }
    let mut containers: Vec<&Value> = Vec::new();
    if let Some(cna) = v.pointer("/containers/cna") {
        containers.push(cna);
    }
    if let Some(adp) = v.pointer("/containers/adp").and_then(Value::as_array) {
        containers.extend(adp);
    }
    let mut cvss = Vec::new();
    for c in containers {
        let Some(metrics) = c.get("metrics").and_then(Value::as_array) else {
            continue;
        };
        for m in metrics {
            for key in ["cvssV4_0", "cvssV3_1", "cvssV3_0", "cvssV2_0"] {
                let Some(data) = m.get(key) else { continue };
                match metric(data) {
                    Ok(c) => push_unique(&mut cvss, c),
                    Err(e) => {
                        out.reject(file, Some(id), format!("{key}: {e}"));
                        return out;
                    }
                }
            }
        }
    }
    out.enrichment.push(CveEnrichment {
        cve: id.to_owned(),
        kev: None,
        epss: None,
        cvss,
    });
    out
}

/// `{vectorString, baseScore, version}` as used by CVE 5 and NVD `cvssData`.
pub(crate) fn metric(data: &Value) -> Result<Cvss, String> {
    let vector = data
        .get("vectorString")
        .and_then(Value::as_str)
        .ok_or("no vectorString")?;
    let score = data.get("baseScore").and_then(Value::as_f64);
    let version = data.get("version").and_then(Value::as_str);
    score_with_fallback(vector, score, version)
}
