//! OSV JSON (<https://ossf.github.io/osv-schema/>): one record per file, or a JSON array
//! of records. Only distribution ecosystems are kept (see [`crate::distro`]); ECOSYSTEM
//! ranges become [`VersionRange`]s with `introduced: "0"` read as "from the beginning",
//! `fixed` as the exclusive end and `last_affected` as the inclusive end, after sorting
//! the events in the ecosystem's version ordering (dpkg, RPM or apk) as OSV's evaluation
//! does, and capping the range at its `limit` (kept as the range's own `limit` where
//! it cuts an interval short).

use crate::common::{self, ids, is_cve, record_id, severity, severity_from_summary, title, token};
use crate::cvss_score::{push_unique, score_vector};
use crate::distro::{from_osv_bare, from_osv_ecosystem};
use crate::ImportResult;
use patchwarden_domain::advisory::{
    Advisory, AffectedPackage, Cvss, PackageState, VendorSeverity, VersionRange,
};
use patchwarden_domain::package::PackageFormat;
use patchwarden_version::{parse as parse_version, Scheme};
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

fn scheme_of(f: PackageFormat) -> Scheme {
    match f {
        PackageFormat::Deb => Scheme::Deb,
        PackageFormat::Rpm => Scheme::Rpm,
        PackageFormat::Apk => Scheme::Apk,
    }
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
        let state = match ranges(&a, scheme_of(info.scheme)) {
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    // Declaration order is the tie-break between events at equal versions: an interval
    // opens before it closes, so `introduced X` + `fixed X` is empty and
    // `introduced X` + `last_affected X` is the single version X, whatever the order
    // the feed wrote them in.
    Introduced,
    Fixed,
    LastAffected,
    Limit,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Introduced => "introduced",
            Kind::Fixed => "fixed",
            Kind::LastAffected => "last_affected",
            Kind::Limit => "limit",
        }
    }
}

fn event(ev: &RawEvent) -> Result<(Kind, String), String> {
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
    let (kind, v) = if let Some(v) = &ev.introduced {
        (Kind::Introduced, v)
    } else if let Some(v) = &ev.fixed {
        (Kind::Fixed, v)
    } else if let Some(v) = &ev.last_affected {
        (Kind::LastAffected, v)
    } else if let Some(v) = &ev.limit {
        (Kind::Limit, v)
    } else {
        return Err("range event without introduced/fixed/last_affected/limit".into());
    };
    Ok((kind, token(&format!("{} version", kind.name()), v)?))
}

/// A version of a range event in the ecosystem's ordering: `key` is the byte-comparable
/// sort key (`None` for `introduced: "0"`, which sorts before every version).
struct Point {
    key: Option<Vec<u8>>,
    text: String,
}

impl Point {
    fn parse(scheme: Scheme, kind: Kind, text: String) -> Result<Point, String> {
        if kind == Kind::Introduced && text == "0" {
            return Ok(Point { key: None, text });
        }
        match parse_version(scheme, &text) {
            Ok(v) => Ok(Point {
                key: Some(v.sort_key()),
                text,
            }),
            Err(e) => Err(format!("{}: {e}", kind.name())),
        }
    }
}

/// One affected interval of a range: from `start` (inclusive; `None` = from the
/// beginning) to `end`, and below `limit` (exclusive) when the range's limit cuts it.
struct Interval {
    start: Option<Point>,
    end: End,
    limit: Option<String>,
}

enum End {
    Open,
    /// Exclusive.
    Fixed(Point),
    /// Inclusive.
    LastAffected(Point),
}

/// ECOSYSTEM ranges → package state, by OSV's evaluation algorithm: the events are
/// sorted by version in the ecosystem's ordering (`scheme`; `introduced: "0"` lowest),
/// then read as a timeline: an `introduced` makes versions from it affected, the next
/// `fixed` (exclusive) or `last_affected` (inclusive) ends that, and an interval still
/// open at the end has no upper bound. So the result does not depend on the order the
/// feed lists its events in. An `introduced` inside an open interval and a `fixed` or
/// `last_affected` outside one change nothing, as in OSV's algorithm; a range with no
/// `introduced` at all (which OSV forbids) is read from the beginning, as before.
///
/// `limit` events cap the range (OSV `BeforeLimits`): a version is in the range only if
/// it is below some limit, so the cap is the highest limit, and `*` (OSV's infinity,
/// also the default without limits) removes it. Intervals starting at or above the cap
/// are dropped. An interval the cap cuts short (an open one, or one ending above it)
/// keeps its end and gets the cap as its [`VersionRange::limit`], so versions at or
/// above the cap are outside it; the cap is never written as `fixed`, which would name
/// a fix nobody published. Intervals ending below the cap get no limit.
///
/// A range may not mix `fixed` and `last_affected` (OSV forbids it). A version that does
/// not parse in the scheme (limits included) refuses the statement; the refusal names
/// the statement and the rest of the advisory imports.
fn ranges(a: &RawAffected, scheme: Scheme) -> Result<PackageState, String> {
    let mut out: Vec<VersionRange> = Vec::new();
    let mut saw_ecosystem = false;
    for r in a.ranges.iter().flatten().filter(|r| r.kind == "ECOSYSTEM") {
        saw_ecosystem = true;
        for iv in range(r, scheme)? {
            let (fixed, last_affected) = match iv.end {
                End::Open => (None, None),
                End::Fixed(p) => (Some(p.text), None),
                End::LastAffected(p) => (None, Some(p.text)),
            };
            out.push(VersionRange {
                introduced: iv.start.map(|p| p.text),
                fixed,
                last_affected,
                limit: iv.limit,
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
        .any(|r| r.introduced.is_none() && r.last_affected.is_none() && r.limit.is_none())
    {
        // One range covers every version: "empty = all".
        Ok(PackageState::AffectedNoFix { ranges: Vec::new() })
    } else {
        Ok(PackageState::AffectedNoFix { ranges: out })
    }
}

/// The affected intervals of one ECOSYSTEM range, in version order.
fn range(r: &RawRange, scheme: Scheme) -> Result<Vec<Interval>, String> {
    let mut events: Vec<(Kind, String)> = r.events.iter().map(event).collect::<Result<_, _>>()?;
    let has = |k: Kind| events.iter().any(|(kind, _)| *kind == k);
    if has(Kind::Fixed) && has(Kind::LastAffected) {
        let why = "range mixes fixed and last_affected events (OSV allows one or the other)";
        return Err(why.into());
    }
    if !has(Kind::Introduced) {
        events.insert(0, (Kind::Introduced, "0".to_owned()));
    }
    // Every version is parsed, limits included, so a bad one is reported whatever its
    // place in the list.
    let mut unlimited = false;
    let mut cap: Option<Point> = None;
    let mut points: Vec<(Kind, Point)> = Vec::with_capacity(events.len());
    for (kind, text) in events {
        match kind {
            Kind::Limit if text.contains('*') => unlimited = true,
            Kind::Limit => {
                let p = Point::parse(scheme, kind, text)?;
                if cap.as_ref().is_none_or(|c| p.key > c.key) {
                    cap = Some(p);
                }
            }
            _ => points.push((kind, Point::parse(scheme, kind, text)?)),
        }
    }
    // Equal versions: by kind (see [`Kind`]), then by text, so any permutation of the
    // events sorts the same.
    points.sort_by(|(ka, a), (kb, b)| (&a.key, ka, &a.text).cmp(&(&b.key, kb, &b.text)));
    let mut out: Vec<Interval> = Vec::new();
    let mut open: Option<Option<Point>> = None;
    for (kind, p) in points {
        match kind {
            Kind::Introduced if open.is_none() => open = Some(p.key.is_some().then_some(p)),
            Kind::Fixed | Kind::LastAffected => {
                if let Some(start) = open.take() {
                    let end = if kind == Kind::Fixed {
                        End::Fixed(p)
                    } else {
                        End::LastAffected(p)
                    };
                    out.push(Interval {
                        start,
                        end,
                        limit: None,
                    });
                }
            }
            Kind::Introduced | Kind::Limit => {}
        }
    }
    if let Some(start) = open {
        out.push(Interval {
            start,
            end: End::Open,
            limit: None,
        });
    }
    if let Some(cap) = cap.filter(|_| !unlimited) {
        apply_limit(&mut out, &cap);
    }
    Ok(out)
}

/// Drops the intervals at or above `cap` (exclusive) and gives `cap` as the limit of
/// those it cuts short: open ones, and ones whose end lets a version at or above `cap`
/// in. Their ends stay as published (a fix above the cap is still the fix).
fn apply_limit(intervals: &mut Vec<Interval>, cap: &Point) {
    intervals.retain(|iv| iv.start.as_ref().is_none_or(|s| s.key < cap.key));
    for iv in intervals.iter_mut() {
        let cut = match &iv.end {
            End::Open => true,
            End::Fixed(f) => f.key > cap.key,
            End::LastAffected(l) => l.key >= cap.key,
        };
        if cut {
            iv.limit = Some(cap.text.clone());
        }
    }
}

fn references(list: Vec<RawRef>) -> Vec<String> {
    list.into_iter()
        .filter_map(|r| r.url)
        .filter(|u| u.len() <= 2048 && !u.chars().any(char::is_whitespace))
        .take(1000)
        .collect()
}

/// Event order, limits and versions the scheme refuses (in their own file to keep this
/// one short).
#[cfg(test)]
#[path = "../tests/osv/events.rs"]
mod event_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn range(intro: Option<&str>, fixed: Option<&str>, last: Option<&str>) -> VersionRange {
        VersionRange {
            introduced: intro.map(str::to_owned),
            fixed: fixed.map(str::to_owned),
            last_affected: last.map(str::to_owned),
            limit: None,
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
    fn invalid_events_reject_the_statement_only() {
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
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[0].starts_with("affected[0] mixed: range mixes fixed and last_affected"));
        assert!(reasons[1].starts_with("affected[2] two-keys: range event with more than one"));
        assert_eq!(
            reasons[2],
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
        // A limit that cuts the open interval short is the range's limit, not a refusal.
        assert_eq!(names, ["limited", "good"]);
        assert_eq!(
            r.advisories[0].affected[0].state,
            PackageState::AffectedNoFix {
                ranges: vec![VersionRange {
                    limit: Some("2.0-1".into()),
                    ..range(None, None, None)
                }]
            }
        );
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
