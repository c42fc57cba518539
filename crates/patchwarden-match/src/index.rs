//! The advisory index and the matching of one package.

use patchwarden_domain::advisory::{
    Advisory, AffectedPackage, DistroRelease, NameKind, PackageState, RejectedRecord,
};
pub use patchwarden_domain::finding::{Finding, FindingStatus};
use patchwarden_domain::package::{InstalledPackage, PackageFormat};
use patchwarden_version::{parse, Scheme};
use std::collections::{BTreeSet, HashMap};

fn scheme_of(f: PackageFormat) -> Scheme {
    match f {
        PackageFormat::Deb => Scheme::Deb,
        PackageFormat::Rpm => Scheme::Rpm,
        PackageFormat::Apk => Scheme::Apk,
    }
}

/// One parsed range: byte keys for comparison, the text of `fixed` for display.
#[derive(Debug, Clone)]
struct Range {
    introduced: Option<Vec<u8>>,
    fixed: Option<Vec<u8>>,
    fixed_text: Option<String>,
}

impl Range {
    fn contains(&self, v: &[u8]) -> bool {
        self.introduced.as_deref().is_none_or(|i| v >= i)
            && self.fixed.as_deref().is_none_or(|f| v < f)
    }
}

#[derive(Debug, Clone)]
enum State {
    Fixed(Vec<Range>),
    NoFix(Vec<Range>),
    NotAffected(Option<String>),
    WillNotFix(Option<String>),
}

#[derive(Debug, Clone)]
struct Statement {
    advisory: u32,
    scheme: Scheme,
    arches: Vec<String>,
    state: State,
}

type Key = (DistroRelease, NameKind, String);

/// Normalised advisories, indexed for matching.
#[derive(Debug, Default)]
pub struct AdvisoryIndex {
    advisories: Vec<Advisory>,
    by_id: HashMap<String, u32>,
    statements: HashMap<Key, Vec<Statement>>,
    /// Statements that could not be used (an unparsable version), with the reason.
    pub rejected: Vec<RejectedRecord>,
}

impl AdvisoryIndex {
    /// Indexes `advisories`; statements whose versions do not parse in their scheme
    /// are skipped and reported in [`AdvisoryIndex::rejected`].
    pub fn build(advisories: Vec<Advisory>) -> Self {
        let mut idx = AdvisoryIndex::default();
        for adv in advisories {
            let n = u32::try_from(idx.advisories.len()).unwrap_or(u32::MAX);
            for ap in &adv.affected {
                match statement(n, ap) {
                    Ok(st) => idx
                        .statements
                        .entry((ap.distro.clone(), ap.name_kind, ap.name.clone()))
                        .or_default()
                        .push(st),
                    Err(reason) => idx.rejected.push(RejectedRecord {
                        file: adv.source.clone(),
                        record: Some(format!("{} {}", adv.id, ap.name)),
                        reason,
                    }),
                }
            }
            idx.by_id.insert(adv.id.clone(), n);
            idx.advisories.push(adv);
        }
        idx
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
        self.statements.len()
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// Whether any statement names this package (binary or source) in this release;
    /// lets callers skip packages no advisory mentions.
    pub fn mentions(&self, distro: &DistroRelease, pkg: &InstalledPackage) -> bool {
        self.statements
            .contains_key(&(distro.clone(), NameKind::Binary, pkg.name.clone()))
            || self.statements.contains_key(&(
                distro.clone(),
                NameKind::Source,
                pkg.source_name.clone().unwrap_or_else(|| pkg.name.clone()),
            ))
    }

    /// Every advisory statement that applies to `pkg` on a host of release `distro`.
    /// Binary statements compare the package version; source statements compare the
    /// source version (a missing source name or version means "same as the binary").
    pub fn match_package(
        &self,
        distro: &DistroRelease,
        format: PackageFormat,
        pkg: &InstalledPackage,
    ) -> Vec<Finding> {
        let scheme = scheme_of(format);
        let src_name = pkg.source_name.as_deref().unwrap_or(&pkg.name);
        let src_version = pkg.source_version.as_deref().unwrap_or(&pkg.version);
        let mut out = Vec::new();
        let mut not_affected: Vec<(BTreeSet<String>, String)> = Vec::new();
        for (kind, name, version) in [
            (NameKind::Binary, pkg.name.as_str(), pkg.version.as_str()),
            (NameKind::Source, src_name, src_version),
        ] {
            let Some(stmts) = self
                .statements
                .get(&(distro.clone(), kind, name.to_owned()))
            else {
                continue;
            };
            let Ok(installed) = parse(scheme, version) else {
                continue;
            };
            let key = installed.sort_key();
            for st in stmts.iter().filter(|s| s.scheme == scheme) {
                if !st.arches.is_empty() && !st.arches.iter().any(|a| a == &pkg.arch) {
                    continue;
                }
                let Some(adv) = self.advisories.get(st.advisory as usize) else {
                    continue;
                };
                let what =
                    if kind == NameKind::Source && (name != pkg.name || version != pkg.version) {
                        format!("source {name} {version}")
                    } else {
                        format!("installed {version}")
                    };
                let (status, fixed, evidence) = match &st.state {
                    State::Fixed(ranges) => match ranges.iter().find(|r| r.contains(&key)) {
                        Some(r) => {
                            let fixed = r.fixed_text.clone();
                            let ev = match &fixed {
                                Some(f) => format!("{what} < fixed {f} per {}, {distro}", adv.id),
                                None => format!("{what} affected per {}, {distro}", adv.id),
                            };
                            (FindingStatus::Vulnerable, fixed, ev)
                        }
                        None => continue,
                    },
                    State::NoFix(ranges) => {
                        if !ranges.is_empty() && !ranges.iter().any(|r| r.contains(&key)) {
                            continue;
                        }
                        let ev = format!("{what} affected, no fix yet per {}, {distro}", adv.id);
                        (FindingStatus::NoFixYet, None, ev)
                    }
                    State::WillNotFix(reason) => {
                        let why = reason
                            .as_deref()
                            .map(|r| format!(" ({r})"))
                            .unwrap_or_default();
                        let ev = format!(
                            "{what} affected, vendor will not fix{why} per {}, {distro}",
                            adv.id
                        );
                        (FindingStatus::WillNotFix, None, ev)
                    }
                    State::NotAffected(just) => {
                        let cves: BTreeSet<String> = adv.cves().map(str::to_owned).collect();
                        let why = just.as_deref().unwrap_or("not affected");
                        not_affected.push((cves, format!("{} says not affected: {why}", adv.id)));
                        continue;
                    }
                };
                out.push(Finding {
                    package: pkg.name.clone(),
                    arch: pkg.arch.clone(),
                    installed: pkg.version.clone(),
                    fixed,
                    status,
                    advisory: adv.id.clone(),
                    source: adv.source.clone(),
                    cves: adv
                        .cves()
                        .map(str::to_owned)
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect(),
                    distro: distro.to_string(),
                    evidence,
                    suppressed: None,
                });
            }
        }
        if !not_affected.is_empty() {
            for f in &mut out {
                if f.cves.is_empty() {
                    continue;
                }
                let covered = f
                    .cves
                    .iter()
                    .all(|c| not_affected.iter().any(|(cves, _)| cves.contains(c)));
                if covered {
                    let reasons: Vec<&str> = not_affected
                        .iter()
                        .filter(|(cves, _)| f.cves.iter().any(|c| cves.contains(c)))
                        .map(|(_, r)| r.as_str())
                        .collect();
                    f.suppressed = Some(reasons.join("; "));
                }
            }
        }
        out
    }
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
                Ok(Range {
                    introduced: key(&r.introduced)?,
                    fixed: key(&r.fixed)?,
                    fixed_text: r.fixed.clone().filter(|f| !f.is_empty()),
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
        PackageState::NotAffected { justification } => State::NotAffected(justification.clone()),
        PackageState::WillNotFix { reason } => State::WillNotFix(reason.clone()),
    };
    Ok(Statement {
        advisory,
        scheme,
        arches: ap.arches.clone(),
        state,
    })
}
