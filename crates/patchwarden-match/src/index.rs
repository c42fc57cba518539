//! The advisory index and the matching of one package.

use patchwarden_domain::advisory::{
    Advisory, AffectedPackage, DistroRelease, NameKind, PackageState, RejectedRecord,
};
pub use patchwarden_domain::finding::{Finding, FindingStatus};
use patchwarden_domain::package::{InstalledPackage, PackageFormat};
use patchwarden_version::{parse, Scheme};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

pub(crate) fn scheme_of(f: PackageFormat) -> Scheme {
    match f {
        PackageFormat::Deb => Scheme::Deb,
        PackageFormat::Rpm => Scheme::Rpm,
        PackageFormat::Apk => Scheme::Apk,
    }
}

/// One parsed range: byte keys for comparison, the text of `fixed`, `last_affected`
/// and `limit` for display. At most one of `fixed` (exclusive) and `last_affected`
/// (inclusive) is set ([`statement`] refuses a range with both); `limit` (exclusive)
/// caps either, and is never a fix.
#[derive(Debug, Clone)]
struct Range {
    introduced: Option<Vec<u8>>,
    fixed: Option<Vec<u8>>,
    fixed_text: Option<Arc<str>>,
    last_affected: Option<(Vec<u8>, Arc<str>)>,
    limit: Option<(Vec<u8>, Arc<str>)>,
}

impl Range {
    fn contains(&self, v: &[u8]) -> bool {
        self.introduced.as_deref().is_none_or(|i| v >= i)
            && self.fixed.as_deref().is_none_or(|f| v < f)
            && self
                .last_affected
                .as_ref()
                .is_none_or(|(l, _)| v <= l.as_slice())
            && self.limit.as_ref().is_none_or(|(l, _)| v < l.as_slice())
    }

    /// What a hit in this range is: vulnerable with the fixed version, or, for a range
    /// that ends at its last affected version, no fix yet with that version; and the
    /// range's limit, if any.
    fn hit(&self) -> (HitKind, Option<Arc<str>>, Option<Arc<str>>) {
        let (kind, note) = match &self.last_affected {
            Some((_, text)) => (HitKind::NoFixYet, Some(text.clone())),
            None => (HitKind::Vulnerable, self.fixed_text.clone()),
        };
        (kind, note, self.limit_text())
    }

    fn limit_text(&self) -> Option<Arc<str>> {
        self.limit.as_ref().map(|(_, text)| text.clone())
    }
}

#[derive(Debug, Clone)]
enum State {
    Fixed(Vec<Range>),
    NoFix(Vec<Range>),
    NotAffected(Option<Arc<str>>),
    WillNotFix(Option<Arc<str>>),
}

#[derive(Debug, Clone)]
struct Statement {
    advisory: u32,
    scheme: Scheme,
    arches: Vec<String>,
    state: State,
}

/// Statements about one package name in one release.
#[derive(Debug, Default)]
struct NameEntry {
    binary: Vec<Statement>,
    source: Vec<Statement>,
}

impl NameEntry {
    fn of(&self, kind: NameKind) -> &[Statement] {
        match kind {
            NameKind::Binary => &self.binary,
            NameKind::Source => &self.source,
        }
    }
}

/// The hasher of the maps every package of every report is looked up in (two look-ups
/// a package, 1,500 packages a host): faster than SipHash, still seeded per process.
type Fast = foldhash::fast::RandomState;

/// One release's statements by package name.
type NameMap = HashMap<Box<str>, NameEntry, Fast>;

/// One release's part of an [`AdvisoryIndex`] ([`AdvisoryIndex::release`]).
#[derive(Debug, Clone, Copy)]
pub struct Release<'a> {
    names: &'a NameMap,
}

impl Release<'_> {
    /// [`AdvisoryIndex::mentions_name`] on this release.
    pub fn mentions_name(&self, name: &str, source_name: Option<&str>) -> bool {
        let binary = self.names.get(name);
        if binary.is_some_and(|e| !e.binary.is_empty()) {
            return true;
        }
        match source_name {
            // The source is named like the package: the entry is the one looked up.
            None => binary.is_some_and(|e| !e.source.is_empty()),
            Some(s) if s == name => binary.is_some_and(|e| !e.source.is_empty()),
            Some(s) => self.names.get(s).is_some_and(|e| !e.source.is_empty()),
        }
    }
}

/// Normalised advisories, indexed for matching.
#[derive(Debug, Default)]
pub struct AdvisoryIndex {
    advisories: Vec<Advisory>,
    by_id: HashMap<String, u32>,
    statements: HashMap<DistroRelease, NameMap, Fast>,
    keys: usize,
    /// Statements that could not be used (an unparsable version), with the reason.
    pub rejected: Vec<RejectedRecord>,
}

impl AdvisoryIndex {
    /// Indexes `advisories`; statements whose versions do not parse in their scheme
    /// are skipped and reported in [`AdvisoryIndex::rejected`].
    pub fn build(advisories: Vec<Advisory>) -> Self {
        let mut idx = AdvisoryIndex::default();
        for adv in advisories {
            idx.upsert(adv);
        }
        idx
    }

    /// Adds an advisory, or replaces the one with the same id (its old statements are
    /// removed first). This is how an import updates a live index without rebuilding it.
    pub fn upsert(&mut self, adv: Advisory) {
        let n = match self.by_id.get(&adv.id) {
            Some(old) => {
                let old = *old;
                self.remove_statements(old);
                old
            }
            None => u32::try_from(self.advisories.len()).unwrap_or(u32::MAX),
        };
        for ap in &adv.affected {
            match statement(n, ap) {
                Ok(st) => {
                    let entry = self
                        .statements
                        .entry(ap.distro.clone())
                        .or_default()
                        .entry(Box::from(ap.name.as_str()))
                        .or_default();
                    let list = match ap.name_kind {
                        NameKind::Binary => &mut entry.binary,
                        NameKind::Source => &mut entry.source,
                    };
                    if list.is_empty() {
                        self.keys += 1;
                    }
                    list.push(st);
                }
                Err(reason) => self.rejected.push(RejectedRecord {
                    file: adv.source.clone(),
                    record: Some(format!("{} {}", adv.id, ap.name)),
                    reason,
                }),
            }
        }
        self.by_id.insert(adv.id.clone(), n);
        match self.advisories.get_mut(n as usize) {
            Some(slot) => *slot = adv,
            None => self.advisories.push(adv),
        }
    }

    /// Removes the statements of advisory `n` (looked up through the keys it names).
    fn remove_statements(&mut self, n: u32) {
        let Some(old) = self.advisories.get(n as usize) else {
            return;
        };
        for ap in &old.affected {
            let Some(entry) = self
                .statements
                .get_mut(&ap.distro)
                .and_then(|m| m.get_mut(ap.name.as_str()))
            else {
                continue;
            };
            let list = match ap.name_kind {
                NameKind::Binary => &mut entry.binary,
                NameKind::Source => &mut entry.source,
            };
            let had = !list.is_empty();
            list.retain(|st| st.advisory != n);
            if had && list.is_empty() {
                self.keys -= 1;
            }
        }
    }

    /// The advisory with this id (the last one indexed, if the id repeats).
    pub fn advisory(&self, id: &str) -> Option<&Advisory> {
        self.by_id
            .get(id)
            .and_then(|n| self.advisories.get(*n as usize))
    }

    pub fn advisories(&self) -> &[Advisory] {
        &self.advisories
    }

    /// Number of (release, name) keys with statements.
    pub fn len(&self) -> usize {
        self.keys
    }

    pub fn is_empty(&self) -> bool {
        self.keys == 0
    }

    fn statements(&self, distro: &DistroRelease, kind: NameKind, name: &str) -> &[Statement] {
        self.statements
            .get(distro)
            .and_then(|m| m.get(name))
            .map_or(&[], |e| e.of(kind))
    }

    /// Whether any statement names this package (binary or source) in this release;
    /// lets callers skip packages no advisory mentions.
    pub fn mentions(&self, distro: &DistroRelease, pkg: &InstalledPackage) -> bool {
        self.mentions_name(distro, &pkg.name, pkg.source_name.as_deref())
    }

    /// [`AdvisoryIndex::mentions`] by the package's name and source name, for callers
    /// that hold the package borrowed.
    pub fn mentions_name(
        &self,
        distro: &DistroRelease,
        name: &str,
        source_name: Option<&str>,
    ) -> bool {
        self.release(distro)
            .is_some_and(|r| r.mentions_name(name, source_name))
    }

    /// The statements of one release, for callers that ask about many packages of one
    /// host ([`Release::mentions_name`] without looking the release up each time);
    /// `None` when no advisory names a package of it.
    pub fn release(&self, distro: &DistroRelease) -> Option<Release<'_>> {
        self.statements.get(distro).map(|names| Release { names })
    }

    /// Every advisory statement that applies to `pkg` on a host of release `distro`,
    /// in compact form, appended to `out`. Binary statements compare the package
    /// version; source statements compare the source version (a missing source name or
    /// version means "same as the binary").
    pub fn hits(
        &self,
        distro: &DistroRelease,
        format: PackageFormat,
        pkg: &InstalledPackage,
        out: &mut Vec<Hit>,
    ) {
        let scheme = scheme_of(format);
        let src_name = pkg.source_name.as_deref().unwrap_or(&pkg.name);
        let src_version = pkg.source_version.as_deref().unwrap_or(&pkg.version);
        for (kind, name, version) in [
            (NameKind::Binary, pkg.name.as_str(), pkg.version.as_str()),
            (NameKind::Source, src_name, src_version),
        ] {
            let stmts = self.statements(distro, kind, name);
            if stmts.is_empty() {
                continue;
            }
            let Ok(installed) = parse(scheme, version) else {
                continue;
            };
            let key = installed.sort_key();
            let via_source =
                kind == NameKind::Source && (name != pkg.name || version != pkg.version);
            for st in stmts.iter().filter(|s| s.scheme == scheme) {
                if !st.arches.is_empty() && !st.arches.iter().any(|a| a == &pkg.arch) {
                    continue;
                }
                let (kind, note, limit) = match &st.state {
                    State::Fixed(ranges) => match ranges.iter().find(|r| r.contains(&key)) {
                        Some(r) => r.hit(),
                        None => continue,
                    },
                    State::NoFix(ranges) if ranges.is_empty() => (HitKind::NoFixYet, None, None),
                    State::NoFix(ranges) => match ranges.iter().find(|r| r.contains(&key)) {
                        Some(r) => (
                            HitKind::NoFixYet,
                            r.last_affected.as_ref().map(|(_, text)| text.clone()),
                            r.limit_text(),
                        ),
                        None => continue,
                    },
                    State::WillNotFix(reason) => (HitKind::WillNotFix, reason.clone(), None),
                    State::NotAffected(just) => (HitKind::NotAffected, just.clone(), None),
                };
                out.push(Hit {
                    advisory: st.advisory,
                    kind,
                    note,
                    limit,
                    via_source,
                });
            }
        }
    }

    /// Full findings, with evidence and suppression, from the hits of one package.
    pub fn findings(
        &self,
        distro: &DistroRelease,
        pkg: &InstalledPackage,
        hits: &[Hit],
    ) -> Vec<Finding> {
        let src_name = pkg.source_name.as_deref().unwrap_or(&pkg.name);
        let src_version = pkg.source_version.as_deref().unwrap_or(&pkg.version);
        let mut not_affected: Vec<(BTreeSet<&str>, String)> = Vec::new();
        for h in hits.iter().filter(|h| h.kind == HitKind::NotAffected) {
            if let Some(adv) = self.advisories.get(h.advisory as usize) {
                let why = h.note.as_deref().unwrap_or("not affected");
                not_affected.push((
                    adv.cves().collect(),
                    format!("{} says not affected: {why}", adv.id),
                ));
            }
        }
        let mut out = Vec::new();
        for h in hits.iter().filter(|h| h.kind != HitKind::NotAffected) {
            let Some(adv) = self.advisories.get(h.advisory as usize) else {
                continue;
            };
            let what = if h.via_source {
                format!("source {src_name} {src_version}")
            } else {
                format!("installed {}", pkg.version)
            };
            // A range's limit bounds what it says, but is not a fix: it is named as a
            // limit and never becomes the finding's fixed version.
            let limit = h.limit.as_deref();
            let (status, fixed, evidence) = match h.kind {
                HitKind::Vulnerable => {
                    let fixed = h.note.as_deref().map(str::to_owned);
                    let ev = match (&fixed, limit) {
                        (Some(f), None) => format!("{what} < fixed {f} per {}, {distro}", adv.id),
                        (Some(f), Some(l)) => format!(
                            "{what} < fixed {f} and < range limit {l} per {}, {distro}",
                            adv.id
                        ),
                        (None, None) => format!("{what} affected per {}, {distro}", adv.id),
                        (None, Some(l)) => format!(
                            "{what} affected below range limit {l} (not a fix) per {}, {distro}",
                            adv.id
                        ),
                    };
                    (FindingStatus::Vulnerable, fixed, ev)
                }
                HitKind::NoFixYet => {
                    let ev = match (h.note.as_deref(), limit) {
                        (Some(last), None) => {
                            format!("{what} <= last affected {last} per {}, {distro}", adv.id)
                        }
                        (Some(last), Some(l)) => format!(
                            "{what} <= last affected {last} and < range limit {l} per {}, \
                             {distro}",
                            adv.id
                        ),
                        (None, None) => {
                            format!("{what} affected, no fix yet per {}, {distro}", adv.id)
                        }
                        (None, Some(l)) => format!(
                            "{what} affected below range limit {l} (not a fix), no fix yet per {}, \
                             {distro}",
                            adv.id
                        ),
                    };
                    (FindingStatus::NoFixYet, None, ev)
                }
                _ => {
                    let why = h
                        .note
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default();
                    (
                        FindingStatus::WillNotFix,
                        None,
                        format!(
                            "{what} affected, vendor will not fix{why} per {}, {distro}",
                            adv.id
                        ),
                    )
                }
            };
            let cves: Vec<String> = adv
                .cves()
                .map(str::to_owned)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let suppressed = (!cves.is_empty()
                && !not_affected.is_empty()
                && cves
                    .iter()
                    .all(|c| not_affected.iter().any(|(na, _)| na.contains(c.as_str()))))
            .then(|| {
                // A statement that applies through both the binary and the source name
                // (or two statements of one advisory) gives one reason, not two.
                let mut reasons: Vec<&str> = Vec::new();
                for (_, r) in not_affected
                    .iter()
                    .filter(|(na, _)| cves.iter().any(|c| na.contains(c.as_str())))
                {
                    if !reasons.contains(&r.as_str()) {
                        reasons.push(r);
                    }
                }
                reasons.join("; ")
            });
            out.push(Finding {
                package: pkg.name.clone(),
                arch: pkg.arch.clone(),
                installed: pkg.version.clone(),
                fixed,
                status,
                advisory: adv.id.clone(),
                source: adv.source.clone(),
                cves,
                distro: distro.to_string(),
                evidence,
                suppressed,
            });
        }
        out
    }

    /// [`AdvisoryIndex::hits`] and [`AdvisoryIndex::findings`] in one call.
    pub fn match_package(
        &self,
        distro: &DistroRelease,
        format: PackageFormat,
        pkg: &InstalledPackage,
    ) -> Vec<Finding> {
        let mut hits = Vec::new();
        self.hits(distro, format, pkg, &mut hits);
        self.findings(distro, pkg, &hits)
    }
}

/// What one statement says about one package, compactly (no strings built).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Position of the advisory in the index.
    pub advisory: u32,
    pub kind: HitKind,
    /// The fixed version (vulnerable), the last affected version (no fix yet, when the
    /// range ends there), or the vendor's reason (will not fix, not affected).
    pub note: Option<Arc<str>>,
    /// The limit of the matched range (versions at or above it are outside the range),
    /// shown as such and never as a fix.
    pub limit: Option<Arc<str>>,
    /// Matched through the source package.
    pub via_source: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HitKind {
    Vulnerable,
    NoFixYet,
    WillNotFix,
    NotAffected,
}

fn statement(advisory: u32, ap: &AffectedPackage) -> Result<Statement, String> {
    let scheme = scheme_of(ap.scheme);
    let ranges = |rs: &[patchwarden_domain::advisory::VersionRange]| -> Result<Vec<Range>, String> {
        rs.iter()
            .map(|r| {
                let key = |v: &Option<String>| -> Result<Option<Vec<u8>>, String> {
                    match v.as_deref() {
                        None | Some("0") | Some("") => Ok(None),
                        Some(s) => parse(scheme, s)
                            .map(|p| Some(p.sort_key()))
                            .map_err(|e| e.to_string()),
                    }
                };
                // Inclusive, so no "0"/"" shorthand: the version itself is the bound.
                let last_affected = match r.last_affected.as_deref() {
                    None => None,
                    Some(_) if r.fixed.is_some() => {
                        return Err("range has both fixed and last_affected".into())
                    }
                    Some(s) => {
                        let p = parse(scheme, s).map_err(|e| format!("last_affected: {e}"))?;
                        Some((p.sort_key(), Arc::from(s)))
                    }
                };
                // A version like `last_affected`: no "0"/"" shorthand, since reading
                // one as "no limit" would widen the range.
                let limit = match r.limit.as_deref() {
                    None => None,
                    Some(s) => {
                        let p = parse(scheme, s).map_err(|e| format!("limit: {e}"))?;
                        Some((p.sort_key(), Arc::from(s)))
                    }
                };
                Ok(Range {
                    introduced: key(&r.introduced)?,
                    fixed: key(&r.fixed)?,
                    fixed_text: r.fixed.as_deref().filter(|f| !f.is_empty()).map(Arc::from),
                    last_affected,
                    limit,
                })
            })
            .collect()
    };
    let state = match &ap.state {
        PackageState::Fixed { ranges: rs } => {
            let parsed = ranges(rs)?;
            if parsed.is_empty() {
                return Err("fixed state without a range".into());
            }
            State::Fixed(parsed)
        }
        PackageState::AffectedNoFix { ranges: rs } => State::NoFix(ranges(rs)?),
        PackageState::NotAffected { justification } => {
            State::NotAffected(justification.as_deref().map(Arc::from))
        }
        PackageState::WillNotFix { reason } => State::WillNotFix(reason.as_deref().map(Arc::from)),
    };
    Ok(Statement {
        advisory,
        scheme,
        arches: ap.arches.clone(),
        state,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// OSV ranges as the parser normalises them (events sorted in the scheme, a range
    /// capped at its limit), matched: the same findings whatever the order of the events,
    /// and none from the range at or above its limit.
    #[test]
    fn osv_events_in_any_order_and_limits_match_as_sorted() {
        let doc = |events: &str| {
            format!(
                r#"{{"id":"OSV-T-1","aliases":["CVE-2024-1"],"affected":[
                   {{"package":{{"ecosystem":"Debian:12","name":"libfoo"}},
                     "ranges":[{{"type":"ECOSYSTEM","events":[{events}]}}]}}]}}"#
            )
        };
        let sorted = r#"{"introduced":"0"},{"fixed":"1.0-2"},{"introduced":"2.0~rc1-1"},
                        {"fixed":"2.0-3"},{"introduced":"3.0-1"},{"limit":"2.5-1"}"#;
        let shuffled = r#"{"limit":"2.5-1"},{"fixed":"2.0-3"},{"introduced":"3.0-1"},
                          {"introduced":"2.0~rc1-1"},{"fixed":"1.0-2"},{"introduced":"0"}"#;
        let distro = DistroRelease {
            ecosystem: "debian".into(),
            release: "12".into(),
        };
        let findings = |events: &str| -> Vec<(String, Option<String>)> {
            let r = patchwarden_advisory::osv::parse("t.json", doc(events).as_bytes());
            assert!(r.rejected.is_empty(), "{:?}", r.rejected);
            let idx = AdvisoryIndex::build(r.advisories);
            assert!(idx.rejected.is_empty(), "{:?}", idx.rejected);
            [
                "0.9-1",
                "1.0-2",
                "2.0~rc1-1",
                "2.0-1",
                "2.0-3",
                "2.5-1",
                "3.0-1",
                "9.0-1",
            ]
            .into_iter()
            .flat_map(|v| {
                let pkg = InstalledPackage {
                    name: "libfoo".into(),
                    version: v.into(),
                    arch: "amd64".into(),
                    source_name: None,
                    source_version: None,
                };
                idx.match_package(&distro, PackageFormat::Deb, &pkg)
                    .into_iter()
                    .map(|f| (f.installed, f.fixed))
            })
            .collect()
        };
        let want: Vec<(String, Option<String>)> = [
            ("0.9-1", "1.0-2"),
            ("2.0~rc1-1", "2.0-3"),
            ("2.0-1", "2.0-3"),
        ]
        .into_iter()
        .map(|(v, f)| (v.to_owned(), Some(f.to_owned())))
        .collect();
        assert_eq!(findings(sorted), want);
        // 3.0-1 and 9.0-1 are at or above the limit: the open interval from 3.0-1 gives
        // them nothing.
        assert_eq!(findings(shuffled), want);
    }
}
