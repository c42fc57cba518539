//! OSV JSON (<https://ossf.github.io/osv-schema/>): one record per file, or a JSON array
//! of records. Only distribution ecosystems are kept (see [`crate::distro`]); ECOSYSTEM
//! ranges become [`VersionRange`]s with `introduced: "0"` read as "from the beginning",
//! `fixed` as the exclusive end and `last_affected` as the inclusive end.

use crate::common::{self, ids, is_cve, record_id, severity, severity_from_summary, title, token};
use crate::cvss_score::{push_unique, score_vector};
use crate::distro::{from_osv_bare, from_osv_ecosystem};
use crate::ImportResult;
use patchwarden_domain::advisory::{
    Advisory, AffectedPackage, Cvss, PackageState, VendorSeverity, VersionRange,
};
use serde::Deserialize;
use serde_json::Value;

/// The `source` tag of advisories from this parser.
pub const SOURCE: &str = "osv";

#[derive(Deserialize)]
struct RawOsv {
    id: String,
    summary: Option<String>,
    #[serde(default)]
    aliases: Option<Vec<String>>,
    #[serde(default)]
    related: Option<Vec<String>>,
    #[serde(default)]
    upstream: Option<Vec<String>>,
    published: Option<String>,
    modified: Option<String>,
    withdrawn: Option<String>,
    #[serde(default)]
    severity: Option<Vec<RawSeverity>>,
    #[serde(default)]
    affected: Option<Vec<RawAffected>>,
    #[serde(default)]
    references: Option<Vec<RawRef>>,
    database_specific: Option<Value>,
}

#[derive(Deserialize)]
struct RawSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Deserialize)]
struct RawRef {
    url: Option<String>,
}

#[derive(Deserialize)]
struct RawAffected {
    package: Option<RawPackage>,
    #[serde(default)]
    ranges: Option<Vec<RawRange>>,
    #[serde(default)]
    versions: Option<Vec<String>>,
    #[serde(default)]
    severity: Option<Vec<RawSeverity>>,
    ecosystem_specific: Option<Value>,
    database_specific: Option<Value>,
}

#[derive(Deserialize)]
struct RawPackage {
    ecosystem: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct RawRange {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<RawEvent>,
}

#[derive(Deserialize)]
struct RawEvent {
    introduced: Option<String>,
    fixed: Option<String>,
    last_affected: Option<String>,
    limit: Option<String>,
}

/// Parses one OSV file: a record object or an array of records. `file` names the input
/// in rejections.
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

/// Parses an OSV document already read as JSON (an object or an array of objects).
pub fn parse_json(file: &str, v: Value) -> ImportResult {
    let mut out = ImportResult::default();
    match v {
        Value::Array(items) => {
            for (i, v) in items.into_iter().enumerate() {
                if i >= common::MAX_RECORDS_PER_FILE {
                    out.reject(file, None, "too many records in one file; rest ignored");
                    break;
                }
                parse_value(file, v, &mut out);
            }
        }
        v => parse_value(file, v, &mut out),
    }
    out
}

/// Parses one OSV record already read as JSON.
pub fn parse_value(file: &str, v: Value, out: &mut ImportResult) {
    let rid = v.get("id").and_then(Value::as_str).map(record_id);
    let raw: RawOsv = match serde_json::from_value(v) {
        Ok(r) => r,
        Err(e) => return out.reject(file, rid.as_deref(), format!("not an OSV record: {e}")),
    };
    let id = match token("id", &raw.id) {
        Ok(id) => id,
        Err(e) => return out.reject(file, rid.as_deref(), e),
    };
    if let Some(w) = &raw.withdrawn {
        return out.skip(file, Some(&id), format!("withdrawn {}", common::cut(w, 64)));
    }
    match convert(&id, raw, file, out) {
        Ok(Some(a)) => out.advisories.push(a),
        Ok(None) => {}
        Err(e) => out.reject(file, Some(&id), e),
    }
}

fn convert(
    id: &str,
    raw: RawOsv,
    file: &str,
    out: &mut ImportResult,
) -> Result<Option<Advisory>, String> {
    let mut alias_list: Vec<String> = Vec::new();
    for list in [&raw.aliases, &raw.related, &raw.upstream]
        .into_iter()
        .flatten()
    {
        alias_list.extend(list.iter().cloned());
    }
    let mut cvss: Vec<Cvss> = Vec::new();
    let mut vendor: Option<VendorSeverity> = None;
    read_severity(
        raw.severity.as_deref().unwrap_or_default(),
        &mut cvss,
        &mut vendor,
    )?;
    if let Some(s) = raw
        .database_specific
        .as_ref()
        .and_then(|d| d.get("severity"))
    {
        vendor = vendor.or_else(|| s.as_str().and_then(severity));
    }

    let mut affected = Vec::new();
    let mut ecosystems = Vec::new();
    for (i, a) in raw.affected.unwrap_or_default().into_iter().enumerate() {
        let Some(pkg) = &a.package else { continue };
        let eco = pkg.ecosystem.as_deref().unwrap_or_default();
        let Some(info) = from_osv_ecosystem(eco).or_else(|| from_osv_bare(eco)) else {
            ecosystems.push(common::cut(eco, 64));
            continue;
        };
        let name = token("package name", pkg.name.as_deref().unwrap_or_default())?;
        read_severity(
            a.severity.as_deref().unwrap_or_default(),
            &mut cvss,
            &mut vendor,
        )?;
        for extra in [&a.ecosystem_specific, &a.database_specific]
            .into_iter()
            .flatten()
        {
            if let Some(s) = extra.get("severity").and_then(Value::as_str) {
                vendor = vendor.or_else(|| severity(s));
            }
            cves_map(extra, &mut alias_list, &mut cvss, &mut vendor)?;
        }
        let state = match ranges(&a) {
            Ok(s) => s,
            Err(e) => {
                // The statement is skipped, the rest of the advisory imports.
                out.reject(file, Some(id), format!("affected[{i}] {name}: {e}"));
                continue;
            }
        };
        affected.push(AffectedPackage {
            distro: info.distro,
            scheme: info.scheme,
            name,
            name_kind: info.name_kind,
            arches: Vec::new(),
            state,
        });
    }
    if affected.is_empty() {
        ecosystems.sort();
        ecosystems.dedup();
        out.skip(
            file,
            Some(id),
            format!(
                "names no distribution package (ecosystems: {})",
                ecosystems.join(", ")
            ),
        );
        return Ok(None);
    }
    let vendor = vendor.or_else(|| raw.summary.as_deref().and_then(severity_from_summary));
    // UBUNTU-CVE-2021-3782 covers CVE-2021-3782.
    let derived: Vec<String> = std::iter::once(id)
        .chain(alias_list.iter().map(String::as_str))
        .filter_map(|a| {
            a.strip_prefix("UBUNTU-")
                .filter(|c| is_cve(c))
                .map(str::to_owned)
        })
        .collect();
    alias_list.extend(derived);
    alias_list.retain(|a| a != id);
    Ok(Some(Advisory {
        id: id.to_owned(),
        source: SOURCE.into(),
        aliases: ids(alias_list),
        published: common::timestamp(raw.published.as_deref()),
        modified: common::timestamp(raw.modified.as_deref()),
        title: title(raw.summary.as_deref()),
        severity: vendor,
        cvss,
        affected,
        references: references(raw.references.unwrap_or_default()),
    }))
}

fn read_severity(
    list: &[RawSeverity],
    cvss: &mut Vec<Cvss>,
    vendor: &mut Option<VendorSeverity>,
) -> Result<(), String> {
    for s in list {
        match s.kind.as_str() {
            "CVSS_V2" | "CVSS_V3" | "CVSS_V4" => push_unique(cvss, score_vector(&s.score)?),
            _ => {
                if vendor.is_none() {
                    *vendor = severity(&s.score);
                }
            }
        }
    }
    Ok(())
}

/// Ubuntu's `database_specific.cves_map.cves[]`: CVE ids with their own severities.
fn cves_map(
    extra: &Value,
    aliases: &mut Vec<String>,
    cvss: &mut Vec<Cvss>,
    vendor: &mut Option<VendorSeverity>,
) -> Result<(), String> {
    let Some(cves) = extra.pointer("/cves_map/cves").and_then(Value::as_array) else {
        return Ok(());
    };
    for c in cves {
        if let Some(id) = c.get("id").and_then(Value::as_str) {
            aliases.push(id.to_owned());
        }
        if let Some(sev) = c.get("severity") {
            let list: Vec<RawSeverity> = serde_json::from_value(sev.clone())
                .map_err(|e| format!("cves_map severity: {e}"))?;
            read_severity(&list, cvss, vendor)?;
        }
    }
    Ok(())
}

/// One range event: OSV allows exactly one of the four keys per event object.
enum Event {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
    Limit(String),
}

fn event(ev: &RawEvent) -> Result<Event, String> {
    let set = [&ev.introduced, &ev.fixed, &ev.last_affected, &ev.limit]
        .into_iter()
        .filter(|v| v.is_some())
        .count();
    if set > 1 {
        return Err(
            "range event with more than one of introduced/fixed/last_affected/limit \
             (OSV allows one per event)"
                .into(),
        );
    }
    Ok(if let Some(v) = &ev.introduced {
        Event::Introduced(token("introduced version", v)?)
    } else if let Some(v) = &ev.fixed {
        Event::Fixed(token("fixed version", v)?)
    } else if let Some(v) = &ev.last_affected {
        Event::LastAffected(token("last_affected version", v)?)
    } else if let Some(v) = &ev.limit {
        Event::Limit(token("limit version", v)?)
    } else {
        return Err("range event without introduced/fixed/last_affected/limit".into());
    })
}

/// ECOSYSTEM ranges → package state, as the OSV evaluation algorithm reads a linear
/// version order: each `introduced` opens an interval that the next `fixed` (exclusive)
/// or `last_affected` (inclusive) closes; an interval still open at the end has no
/// upper bound. Events are read in the order given (OSV recommends sorted order).
///
/// A range may not mix `fixed` and `last_affected` (OSV forbids it). `limit` is refused
/// unless it is `*` (OSV's "infinity", the implicit default): OSV says limit events
/// "should not be used" for linear versions (they exist for GIT commit graphs), and
/// capping a range at a limit would need version comparison, which this parser does
/// not do. The refusal names the statement and the rest of the advisory imports.
fn ranges(a: &RawAffected) -> Result<PackageState, String> {
    let mut out: Vec<VersionRange> = Vec::new();
    let mut saw_ecosystem = false;
    for r in a.ranges.iter().flatten().filter(|r| r.kind == "ECOSYSTEM") {
        saw_ecosystem = true;
        let (mut saw_fixed, mut saw_last_affected) = (false, false);
        let mut open: Option<Option<String>> = None;
        for ev in &r.events {
            match event(ev)? {
                Event::Introduced(v) => {
                    if let Some(intro) = open.take() {
                        out.push(VersionRange {
                            introduced: intro,
                            ..VersionRange::default()
                        });
                    }
                    open = Some((v != "0").then_some(v));
                }
                Event::Fixed(v) => {
                    saw_fixed = true;
                    out.push(VersionRange {
                        introduced: open.take().flatten(),
                        fixed: Some(v),
                        last_affected: None,
                    });
                }
                Event::LastAffected(v) => {
                    saw_last_affected = true;
                    out.push(VersionRange {
                        introduced: open.take().flatten(),
                        fixed: None,
                        last_affected: Some(v),
                    });
                }
                Event::Limit(v) if v.contains('*') => {}
                Event::Limit(v) => {
                    return Err(format!(
                        "limit event {v:?} in an ECOSYSTEM range is not supported (OSV: \
                         limit should not be used for linear versions; only \"*\" is accepted)"
                    ));
                }
            }
        }
        if saw_fixed && saw_last_affected {
            let why = "range mixes fixed and last_affected events (OSV allows one or the other)";
            return Err(why.into());
        }
        if let Some(intro) = open.take() {
            out.push(VersionRange {
                introduced: intro,
                ..VersionRange::default()
            });
        }
    }
    if !saw_ecosystem {
        return Err(if a.versions.as_ref().is_some_and(|v| !v.is_empty()) {
            "only an explicit versions list, no ECOSYSTEM range".into()
        } else {
            "no ECOSYSTEM range".into()
        });
    }
    if out.iter().any(|r| r.fixed.is_some()) {
        Ok(PackageState::Fixed { ranges: out })
    } else if out
        .iter()
        .any(|r| r.introduced.is_none() && r.last_affected.is_none())
    {
        // One range covers every version: "empty = all".
        Ok(PackageState::AffectedNoFix { ranges: Vec::new() })
    } else {
        Ok(PackageState::AffectedNoFix { ranges: out })
    }
}

fn references(list: Vec<RawRef>) -> Vec<String> {
    list.into_iter()
        .filter_map(|r| r.url)
        .filter(|u| u.len() <= 2048 && !u.chars().any(char::is_whitespace))
        .take(1000)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(intro: Option<&str>, fixed: Option<&str>, last: Option<&str>) -> VersionRange {
        VersionRange {
            introduced: intro.map(str::to_owned),
            fixed: fixed.map(str::to_owned),
            last_affected: last.map(str::to_owned),
        }
    }

    #[test]
    fn ranges_and_states() {
        let j = br#"{"id":"X-1","summary":"Low: x","affected":[
            {"package":{"ecosystem":"Debian:12","name":"a"},
             "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.2-1"},
                                                      {"introduced":"2.0"}]}]},
            {"package":{"ecosystem":"Debian:12","name":"b"},
             "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]},
            {"package":{"ecosystem":"Debian:12","name":"c"},
             "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"last_affected":"1"}]}]},
            {"package":{"ecosystem":"Debian:12","name":"d"},
             "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]},
                       {"type":"ECOSYSTEM","events":[{"introduced":"2.0"}]}]}
        ]}"#;
        let r = parse("t", j);
        assert_eq!(r.advisories.len(), 1);
        assert!(r.rejected.is_empty(), "{:?}", r.rejected);
        let a = &r.advisories[0];
        assert_eq!(a.severity.as_ref().map(|s| s.raw.as_str()), Some("Low"));
        assert_eq!(
            a.affected[0].state,
            PackageState::Fixed {
                ranges: vec![
                    range(None, Some("1.2-1"), None),
                    range(Some("2.0"), None, None)
                ]
            }
        );
        assert_eq!(
            a.affected[1].state,
            PackageState::AffectedNoFix { ranges: vec![] }
        );
        assert_eq!(
            a.affected[2].state,
            PackageState::AffectedNoFix {
                ranges: vec![range(None, None, Some("1"))]
            }
        );
        // A range from the beginning with no end covers every version, whatever the
        // other ranges say: "empty = all", not narrowed to the second range.
        assert_eq!(
            a.affected[3].state,
            PackageState::AffectedNoFix { ranges: vec![] }
        );
    }

    /// A record shaped like the osv.dev distribution exports (schema_version, upstream,
    /// purl, versions list), with `last_affected` ends. The ids are made up.
    const LAST_AFFECTED: &[u8] = br#"{
      "schema_version": "1.6.0",
      "id": "OSV-2024-1234",
      "modified": "2024-11-21T09:05:53Z",
      "published": "2024-04-04T15:15:38Z",
      "upstream": ["CVE-2024-11111"],
      "summary": "libfoo: heap overflow in the frame parser",
      "details": "A crafted frame makes libfoo write past its buffer.",
      "affected": [
        {
          "package": {"ecosystem": "Debian:12", "name": "libfoo",
                      "purl": "pkg:deb/debian/libfoo?arch=source"},
          "ranges": [{"type": "ECOSYSTEM",
                      "events": [{"introduced": "0"}, {"last_affected": "1.2-3"}]}],
          "versions": ["1.2-1", "1.2-2", "1.2-3"]
        },
        {
          "package": {"ecosystem": "Ubuntu:22.04:LTS", "name": "libfoo"},
          "ranges": [{"type": "ECOSYSTEM",
                      "events": [{"introduced": "1.0-1"}, {"last_affected": "1.2-2ubuntu0.1"}]}]
        },
        {
          "package": {"ecosystem": "AlmaLinux:9", "name": "libfoo"},
          "ranges": [
            {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:2.0-1.el9"}]},
            {"type": "ECOSYSTEM",
             "events": [{"introduced": "1:3.0-1.el9"}, {"last_affected": "1:3.1-2.el9"}]}
          ]
        },
        {
          "package": {"ecosystem": "Alpine:v3.19", "name": "libfoo"},
          "ranges": [{"type": "ECOSYSTEM",
                      "events": [{"introduced": "0"}, {"last_affected": "1.2.3-r0"},
                                 {"introduced": "2.0.0-r0"}]}]
        },
        {
          "package": {"ecosystem": "Debian:11", "name": "libfoo"},
          "ranges": [{"type": "ECOSYSTEM",
                      "events": [{"introduced": "0"}, {"last_affected": "1.1-5"},
                                 {"limit": "*"}]}]
        },
        {
          "package": {"ecosystem": "PyPI", "name": "foo"},
          "ranges": [{"type": "ECOSYSTEM",
                      "events": [{"introduced": "0"}, {"last_affected": "1.2"}]}]
        }
      ]
    }"#;

    #[test]
    fn last_affected_is_an_inclusive_end_without_a_fix() {
        let r = parse("osv-2024-1234.json", LAST_AFFECTED);
        assert!(r.rejected.is_empty(), "{:?}", r.rejected);
        assert_eq!(r.advisories.len(), 1);
        let a = &r.advisories[0];
        assert_eq!(a.id, "OSV-2024-1234");
        assert_eq!(a.aliases, ["CVE-2024-11111"]);
        let got: Vec<(String, &PackageState)> = a
            .affected
            .iter()
            .map(|p| (format!("{} {}", p.distro, p.name), &p.state))
            .collect();
        let no_fix = |ranges| PackageState::AffectedNoFix { ranges };
        assert_eq!(
            got,
            [
                (
                    "debian:12 libfoo".to_owned(),
                    &no_fix(vec![range(None, None, Some("1.2-3"))])
                ),
                (
                    "ubuntu:22.04 libfoo".to_owned(),
                    &no_fix(vec![range(Some("1.0-1"), None, Some("1.2-2ubuntu0.1"))])
                ),
                (
                    // Another range of the same package has a fix: the state is fixed,
                    // and the last_affected range keeps its inclusive end.
                    "almalinux:9 libfoo".to_owned(),
                    &PackageState::Fixed {
                        ranges: vec![
                            range(None, Some("1:2.0-1.el9"), None),
                            range(Some("1:3.0-1.el9"), None, Some("1:3.1-2.el9")),
                        ]
                    }
                ),
                (
                    "alpine:3.19 libfoo".to_owned(),
                    &no_fix(vec![
                        range(None, None, Some("1.2.3-r0")),
                        range(Some("2.0.0-r0"), None, None)
                    ])
                ),
                (
                    // `limit: "*"` is OSV's infinity, the implicit default.
                    "debian:11 libfoo".to_owned(),
                    &no_fix(vec![range(None, None, Some("1.1-5"))])
                ),
            ]
        );
    }

    #[test]
    fn invalid_or_unsupported_events_reject_the_statement_only() {
        let j = br#"{"id":"OSV-2024-9","affected":[
            {"package":{"ecosystem":"Debian:12","name":"mixed"},
             "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0-1"},
                                                      {"introduced":"2.0-1"},{"last_affected":"2.1-1"}]}]},
            {"package":{"ecosystem":"Debian:12","name":"limited"},
             "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"limit":"2.0-1"}]}]},
            {"package":{"ecosystem":"Debian:12","name":"two-keys"},
             "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0","last_affected":"1.0-1"}]}]},
            {"package":{"ecosystem":"Debian:12","name":"empty"},
             "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"last_affected":" "}]}]},
            {"package":{"ecosystem":"Debian:12","name":"good"},
             "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"last_affected":"1.0-1"}]}]}
        ]}"#;
        let r = parse("t", j);
        let reasons: Vec<&str> = r.rejected.iter().map(|x| x.reason.as_str()).collect();
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert!(reasons[0].starts_with("affected[0] mixed: range mixes fixed and last_affected"));
        assert!(reasons[1].starts_with(r#"affected[1] limited: limit event "2.0-1""#));
        assert!(reasons[2].starts_with("affected[2] two-keys: range event with more than one"));
        assert_eq!(
            reasons[3],
            "affected[3] empty: last_affected version is empty"
        );
        assert!(r
            .rejected
            .iter()
            .all(|x| x.record.as_deref() == Some("OSV-2024-9")));
        assert_eq!(r.advisories.len(), 1);
        let names: Vec<&str> = r.advisories[0]
            .affected
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["good"]);
    }

    #[test]
    fn malformed() {
        assert_eq!(parse("t", b"{\"id\":").rejected.len(), 1);
        assert_eq!(parse("t", br#"{"id":5}"#).rejected.len(), 1);
        assert_eq!(
            parse("t", br#"[{"id":"A","affected":7},{"id":"B"}]"#)
                .rejected
                .len(),
            1
        );
        let bad_cvss = br#"{"id":"A","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/zz"}],
            "affected":[{"package":{"ecosystem":"Debian:12","name":"a"},
            "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1"}]}]}]}"#;
        let r = parse("t", bad_cvss);
        assert_eq!((r.advisories.len(), r.rejected.len()), (0, 1));
    }
}
