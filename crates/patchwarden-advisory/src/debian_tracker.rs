//! The Debian security tracker JSON (`security-tracker.debian.org/tracker/data/json`):
//! source package → CVE → releases → {status, fixed_version, urgency, nodsa…}.
//!
//! One [`Advisory`] per CVE (id = the CVE, source `debian-tracker`), with one
//! [`AffectedPackage`] per (source package, release):
//! - `resolved` with `fixed_version` `0` → [`PackageState::NotAffected`] (`<not-affected>`);
//! - `resolved` with a version → [`PackageState::Fixed`];
//! - `open` with `nodsa` (no-dsa / ignored) or urgency `end-of-life` →
//!   [`PackageState::WillNotFix`]; `nodsa_reason: postponed` and plain `open` →
//!   [`PackageState::AffectedNoFix`];
//! - `undetermined` gives no statement.

use crate::common::{cut, is_cve, record_id, severity, title, token};
use crate::distro;
use crate::ImportResult;
use patchwarden_domain::advisory::{
    Advisory, AffectedPackage, NameKind, PackageState, VendorSeverity, VersionRange,
};
use patchwarden_domain::package::PackageFormat;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The `source` tag of advisories from this parser.
pub const SOURCE: &str = "debian-tracker";

#[derive(Deserialize)]
struct RawCve {
    description: Option<String>,
    releases: BTreeMap<String, RawRelease>,
}

#[derive(Deserialize)]
struct RawRelease {
    status: String,
    fixed_version: Option<String>,
    urgency: Option<String>,
    nodsa: Option<String>,
    nodsa_reason: Option<String>,
}

/// Parses the tracker JSON from bytes.
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

/// Parses the tracker JSON already read.
pub fn parse_json(file: &str, v: Value) -> ImportResult {
    let mut out = ImportResult::default();
    let Value::Object(packages) = v else {
        out.reject(file, None, "tracker JSON is not an object");
        return out;
    };
    let mut by_cve: BTreeMap<String, Advisory> = BTreeMap::new();
    for (package, cves) in packages {
        let Value::Object(cves) = cves else {
            out.reject(
                file,
                Some(&record_id(&package)),
                "package entry is not an object",
            );
            continue;
        };
        let name = match token("package name", &package) {
            Ok(n) => n,
            Err(e) => {
                out.reject(file, Some(&record_id(&package)), e);
                continue;
            }
        };
        package_cves(file, &name, cves, &mut by_cve, &mut out);
    }
    out.advisories
        .extend(by_cve.into_values().filter(|a| !a.affected.is_empty()));
    out
}

fn package_cves(
    file: &str,
    name: &str,
    cves: Map<String, Value>,
    by_cve: &mut BTreeMap<String, Advisory>,
    out: &mut ImportResult,
) {
    for (cve, info) in cves {
        let rid = format!("{name}/{}", record_id(&cve));
        // The tracker also lists TEMP-… pseudo ids for issues without a CVE.
        if !(is_cve(&cve) || cve.starts_with("TEMP-")) || cve.len() > 64 {
            out.reject(file, Some(&rid), "not a CVE or TEMP id");
            continue;
        }
        let raw: RawCve = match serde_json::from_value(info) {
            Ok(r) => r,
            Err(e) => {
                out.reject(file, Some(&rid), format!("not a tracker CVE entry: {e}"));
                continue;
            }
        };
        let adv = by_cve.entry(cve.clone()).or_insert_with(|| Advisory {
            id: cve.clone(),
            source: SOURCE.into(),
            aliases: Vec::new(),
            published: None,
            modified: None,
            title: title(raw.description.as_deref()),
            severity: None,
            cvss: Vec::new(),
            affected: Vec::new(),
            references: vec![format!("https://security-tracker.debian.org/tracker/{cve}")],
        });
        for (codename, rel) in raw.releases {
            let Some(distro) = distro::debian(&codename) else {
                out.reject(
                    file,
                    Some(&rid),
                    format!("unknown release {:.32?}", codename),
                );
                continue;
            };
            if let Some(sev) = rel.urgency.as_deref().and_then(severity) {
                if adv
                    .severity
                    .as_ref()
                    .is_none_or(|s: &VendorSeverity| s.level < sev.level)
                {
                    adv.severity = Some(sev);
                }
            }
            let state = match state(&rel) {
                Ok(Some(s)) => s,
                Ok(None) => continue,
                Err(e) => {
                    out.reject(file, Some(&format!("{rid}/{codename}")), e);
                    continue;
                }
            };
            adv.affected.push(AffectedPackage {
                distro,
                scheme: PackageFormat::Deb,
                name: name.to_owned(),
                name_kind: NameKind::Source,
                arches: Vec::new(),
                state,
            });
        }
    }
}

fn state(rel: &RawRelease) -> Result<Option<PackageState>, String> {
    match rel.status.as_str() {
        "resolved" => match rel.fixed_version.as_deref().map(str::trim) {
            Some("0") => Ok(Some(PackageState::NotAffected {
                justification: Some("not-affected".into()),
            })),
            Some(v) => Ok(Some(PackageState::Fixed {
                ranges: vec![VersionRange {
                    introduced: None,
                    fixed: Some(token("fixed_version", v)?),
                    last_affected: None,
                    limit: None,
                }],
            })),
            None => Err("resolved without fixed_version".into()),
        },
        "open" => {
            let postponed = rel.nodsa_reason.as_deref() == Some("postponed");
            if let (Some(text), false) = (&rel.nodsa, postponed) {
                let reason = match rel.nodsa_reason.as_deref() {
                    Some(r) if !r.is_empty() => format!("{r}: {text}"),
                    _ => format!("no-dsa: {text}"),
                };
                Ok(Some(PackageState::WillNotFix {
                    reason: Some(cut(&reason, 512)),
                }))
            } else if rel.urgency.as_deref() == Some("end-of-life") {
                Ok(Some(PackageState::WillNotFix {
                    reason: Some("end-of-life".into()),
                }))
            } else {
                Ok(Some(PackageState::AffectedNoFix { ranges: Vec::new() }))
            }
        }
        "undetermined" => Ok(None),
        other => Err(format!("unknown status {:.32?}", other)),
    }
}
