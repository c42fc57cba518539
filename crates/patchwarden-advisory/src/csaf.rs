//! CSAF 2.0 security advisories (`csaf_security_advisory`, e.g. Red Hat RHSA) and CSAF
//! VEX (`csaf_vex`, one CVE per document).
//!
//! `vulnerabilities[].product_status` gives per-product states:
//! `fixed`/`first_fixed` → [`PackageState::Fixed`] at the product's EVR;
//! `known_affected` → [`PackageState::AffectedNoFix`], or [`PackageState::WillNotFix`]
//! when a `no_fix_planned` remediation names the product;
//! `known_not_affected` → [`PackageState::NotAffected`] with the VEX flag label
//! (`vulnerable_code_not_present` …) as justification; `under_investigation` gives no
//! statement (counted in `skipped`). Statements differing only by arch are merged.
//!
//! Fixed or affected wins over not affected within one vulnerability and one release: a
//! `known_not_affected` binary also listed fixed/affected there is dropped (and counted
//! in `skipped`), and so is a `known_not_affected` `.src` whose binaries (same name or
//! same EVR) are listed fixed/affected there — Red Hat marks the source RPM of a fixed
//! build not affected, and as a source-name statement it would hide every binary built
//! from it (RHSA-2025:23414: `bind-…el6_10.17.src` not affected, `bind-libs` fixed).
//!
//! An advisory yields one [`Advisory`] (id = tracking id, aliases = its CVEs); a VEX
//! document yields one per vulnerability (id = the CVE).

use crate::common::{cut, ids, record_id, severity, timestamp, title, token};
use crate::csaf_product::{Component, ProductTree};
use crate::cve5::metric;
use crate::cvss_score::push_unique;
use crate::ImportResult;
use patchwarden_domain::advisory::{
    Advisory, AffectedPackage, Cvss, DistroRelease, NameKind, PackageState, VendorSeverity,
    VersionRange,
};
use patchwarden_domain::package::PackageFormat;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

/// The `source` tag of CSAF advisories.
pub const SOURCE: &str = "csaf";
/// The `source` tag of CSAF VEX documents.
pub const SOURCE_VEX: &str = "csaf-vex";

/// Parses a CSAF document from bytes.
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

/// Parses a CSAF document already read.
pub fn parse_json(file: &str, v: Value) -> ImportResult {
    let mut out = ImportResult::default();
    let doc = v.get("document").unwrap_or(&Value::Null);
    let raw_id = doc
        .pointer("/tracking/id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let id = match token("tracking id", raw_id) {
        Ok(id) => id,
        Err(e) => {
            out.reject(file, Some(&record_id(raw_id)), e);
            return out;
        }
    };
    let vex = doc.get("category").and_then(Value::as_str) == Some("csaf_vex");
    let tree = ProductTree::new(v.get("product_tree"));
    let Some(vulns) = v.get("vulnerabilities").and_then(Value::as_array) else {
        out.reject(
            file,
            Some(&id),
            "`vulnerabilities` is missing or not an array",
        );
        return out;
    };
    let base = Advisory {
        id: id.clone(),
        source: if vex { SOURCE_VEX } else { SOURCE }.into(),
        aliases: Vec::new(),
        published: timestamp(
            doc.pointer("/tracking/initial_release_date")
                .and_then(Value::as_str),
        ),
        modified: timestamp(
            doc.pointer("/tracking/current_release_date")
                .and_then(Value::as_str),
        ),
        title: title(doc.get("title").and_then(Value::as_str)),
        severity: doc
            .pointer("/aggregate_severity/text")
            .and_then(Value::as_str)
            .and_then(severity),
        cvss: Vec::new(),
        affected: Vec::new(),
        references: urls(doc.get("references")),
    };
    let mut merged = base.clone();
    for (i, vuln) in vulns.iter().enumerate() {
        let cve = vuln.get("cve").and_then(Value::as_str).map(str::to_owned);
        let rid = cve
            .clone()
            .unwrap_or_else(|| format!("{id} vulnerabilities[{i}]"));
        let stmt = match statements(file, &rid, vuln, &tree, &mut out) {
            Ok(s) => s,
            Err(e) => {
                out.reject(file, Some(&record_id(&rid)), e);
                continue;
            }
        };
        if vex {
            let Some(cve) = cve.and_then(|c| token("cve", &c).ok()) else {
                out.reject(
                    file,
                    Some(&record_id(&rid)),
                    "VEX vulnerability without a cve id",
                );
                continue;
            };
            let mut a = base.clone();
            a.aliases = if cve == id {
                Vec::new()
            } else {
                vec![id.clone()]
            };
            a.id = cve;
            a.severity = stmt.severity.or(a.severity);
            a.cvss = stmt.cvss;
            a.affected = stmt.affected;
            push_advisory(file, a, &mut out);
        } else {
            merged.aliases.extend(cve);
            merged.severity = merged.severity.or(stmt.severity);
            for c in stmt.cvss {
                push_unique(&mut merged.cvss, c);
            }
            merged.affected.extend(stmt.affected);
        }
    }
    if !vex {
        merged.aliases = ids(merged.aliases);
        merged.affected = dedupe(merged.affected);
        push_advisory(file, merged, &mut out);
    }
    out
}

fn push_advisory(file: &str, a: Advisory, out: &mut ImportResult) {
    if a.affected.is_empty() {
        out.skip(
            file,
            Some(&a.id),
            "names no RPM package of a known platform",
        );
    } else {
        out.advisories.push(a);
    }
}

struct Statements {
    affected: Vec<AffectedPackage>,
    cvss: Vec<Cvss>,
    severity: Option<VendorSeverity>,
}

fn statements(
    file: &str,
    rid: &str,
    vuln: &Value,
    tree: &ProductTree,
    out: &mut ImportResult,
) -> Result<Statements, String> {
    let mut cvss = Vec::new();
    for s in vuln
        .get("scores")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for key in ["cvss_v3", "cvss_v2"] {
            if let Some(m) = s.get(key) {
                push_unique(&mut cvss, metric(m).map_err(|e| format!("{key}: {e}"))?);
            }
        }
    }
    let severity = vuln
        .get("threats")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|t| t.get("category").and_then(Value::as_str) == Some("impact"))
        .filter_map(|t| t.get("details").and_then(Value::as_str).and_then(severity))
        .max_by_key(|s| s.level);
    // product id → no-fix remediation text; product id → VEX flag label.
    let mut no_fix: HashMap<&str, (bool, String)> = HashMap::new();
    for r in vuln
        .get("remediations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let will_not = match r.get("category").and_then(Value::as_str) {
            Some("no_fix_planned") => true,
            Some("none_available") => false,
            _ => continue,
        };
        let details = r.get("details").and_then(Value::as_str).unwrap_or_default();
        for p in product_ids(r.get("product_ids")) {
            no_fix.insert(p, (will_not, cut(details, 512)));
        }
    }
    let mut labels: HashMap<&str, String> = HashMap::new();
    for f in vuln
        .get("flags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(label) = f.get("label").and_then(Value::as_str) else {
            continue;
        };
        for p in product_ids(f.get("product_ids")) {
            labels.insert(p, cut(label, 128));
        }
    }
    let status = vuln.get("product_status");
    let mut rows = Vec::new();
    let mut unresolved = 0usize;
    for key in [
        "fixed",
        "first_fixed",
        "known_affected",
        "known_not_affected",
    ] {
        for pid in product_ids(status.and_then(|s| s.get(key))) {
            match tree.resolve(pid) {
                Some((distro, comp)) => rows.push((key, pid, distro, comp)),
                None => unresolved += 1,
            }
        }
    }
    // What this vulnerability says is fixed or affected, per release: a not-affected
    // statement that contradicts it is dropped (see `Listed::contradicts`).
    let mut listed: HashMap<&DistroRelease, Listed> = HashMap::new();
    for (_, _, distro, comp) in rows.iter().filter(|r| r.0 != "known_not_affected") {
        let l = listed.entry(distro).or_default();
        l.names.insert(&comp.name);
        if comp.arch.as_deref() != Some("src") {
            l.binaries.insert(&comp.name);
        }
        l.evrs.extend(comp.evr.as_deref());
    }
    let mut affected = Vec::new();
    let mut contradictions = 0usize;
    for (key, pid, distro, comp) in &rows {
        let (key, pid) = (*key, *pid);
        if key == "known_not_affected" {
            match listed.get(distro).and_then(|l| l.contradicts(comp)) {
                Some(Contradiction::Source) => continue,
                Some(Contradiction::Binary) => {
                    contradictions += 1;
                    continue;
                }
                None => {}
            }
        }
        let state = match key {
            "fixed" | "first_fixed" => match &comp.evr {
                Some(evr) => PackageState::Fixed {
                    ranges: vec![VersionRange {
                        introduced: None,
                        fixed: Some(evr.clone()),
                        last_affected: None,
                        limit: None,
                    }],
                },
                None => {
                    out.reject(
                        file,
                        Some(&record_id(rid)),
                        format!("fixed product {:.200} has no version", pid),
                    );
                    continue;
                }
            },
            "known_affected" => match no_fix.get(pid) {
                Some((true, why)) => PackageState::WillNotFix {
                    reason: Some(why.clone()),
                },
                _ => PackageState::AffectedNoFix { ranges: Vec::new() },
            },
            _ => PackageState::NotAffected {
                justification: labels.get(pid).cloned(),
            },
        };
        let Ok(name) = token("package name", &comp.name) else {
            continue;
        };
        let source = comp.arch.as_deref() == Some("src");
        affected.push(AffectedPackage {
            distro: distro.clone(),
            scheme: PackageFormat::Rpm,
            name,
            name_kind: if source {
                NameKind::Source
            } else {
                NameKind::Binary
            },
            arches: comp.arch.iter().filter(|a| *a != "src").cloned().collect(),
            state,
        });
    }
    let investigating = product_ids(status.and_then(|s| s.get("under_investigation"))).count();
    if investigating > 0 {
        out.skip(
            file,
            Some(&record_id(rid)),
            format!("{investigating} products under investigation"),
        );
    }
    if contradictions > 0 {
        out.skip(
            file,
            Some(&record_id(rid)),
            format!(
                "{contradictions} known_not_affected products are also fixed or affected \
                 in the same release: fixed/affected wins"
            ),
        );
    }
    if unresolved > 0 {
        out.skip(
            file,
            Some(&record_id(rid)),
            format!("{unresolved} products are not RPM packages of a known platform"),
        );
    }
    Ok(Statements {
        affected: dedupe(affected),
        cvss,
        severity,
    })
}

/// Why a `known_not_affected` product is not turned into a not-affected statement.
enum Contradiction {
    /// A `.src` component whose binaries the same vulnerability lists as fixed or
    /// affected in the same release. Red Hat marks the source RPM of a fixed build
    /// not affected (a source package is not executable); as a source-name statement it
    /// would apply to every binary built from it, the fixed ones included. This is
    /// Red Hat's usual shape, so it is not reported.
    Source,
    /// A binary the same vulnerability also lists as fixed or affected in the same
    /// release: contradictory data, reported as skipped.
    Binary,
}

/// The components one vulnerability lists as fixed or affected in one release.
#[derive(Default)]
struct Listed<'a> {
    names: HashSet<&'a str>,
    binaries: HashSet<&'a str>,
    evrs: HashSet<&'a str>,
}

impl Listed<'_> {
    /// Whether the not-affected component `comp` (of the same release) is contradicted.
    /// Binaries of a source are recognised by the source's name or its EVR (a build
    /// shares it); a source without a version cannot be told apart, so anything listed
    /// contradicts it — a finding is shown rather than hidden.
    fn contradicts(&self, comp: &Component) -> Option<Contradiction> {
        if comp.arch.as_deref() == Some("src") {
            let built = self.names.contains(comp.name.as_str())
                || comp.evr.as_deref().is_none_or(|e| self.evrs.contains(e));
            return built.then_some(Contradiction::Source);
        }
        self.binaries
            .contains(comp.name.as_str())
            .then_some(Contradiction::Binary)
    }
}

fn product_ids(v: Option<&Value>) -> impl Iterator<Item = &str> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .take(1_000_000)
}

/// Merges statements that differ only by arch (an empty arch list means all arches).
fn dedupe(list: Vec<AffectedPackage>) -> Vec<AffectedPackage> {
    let mut order: Vec<String> = Vec::new();
    let mut by_key: BTreeMap<String, AffectedPackage> = BTreeMap::new();
    for a in list {
        let key = format!(
            "{}\u{0}{}\u{0}{:?}\u{0}{:?}",
            a.distro, a.name, a.name_kind, a.state
        );
        match by_key.get_mut(&key) {
            Some(acc) => {
                if acc.arches.is_empty() || a.arches.is_empty() {
                    acc.arches.clear();
                } else {
                    acc.arches.extend(a.arches);
                    acc.arches.sort();
                    acc.arches.dedup();
                }
            }
            None => {
                order.push(key.clone());
                by_key.insert(key, a);
            }
        }
    }
    order
        .into_iter()
        .filter_map(|k| by_key.remove(&k))
        .collect()
}

fn urls(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("url").and_then(Value::as_str))
        .filter(|u| u.len() <= 2048)
        .take(1000)
        .map(str::to_owned)
        .collect()
}
