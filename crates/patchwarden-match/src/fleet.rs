//! Matching many hosts. Packages are interned into a [`PackageTable`] (one entry per
//! unique (release, format, package, version, arch, source)); each entry is evaluated
//! once ([`evaluate`]) and hosts, which are just lists of entry numbers, share the
//! results ([`FleetFindings::for_host`]). A host's inventory change re-evaluates only
//! entries never seen before.

use crate::index::{AdvisoryIndex, Finding, Hit, HitKind};
use patchwarden_domain::advisory::DistroRelease;
use patchwarden_domain::package::{InstalledPackage, PackageFormat};
use std::collections::HashMap;

/// Interned package tuples.
#[derive(Debug, Default)]
pub struct PackageTable {
    distros: Vec<DistroRelease>,
    distro_ids: HashMap<DistroRelease, u16>,
    entries: Vec<(u16, PackageFormat, InstalledPackage)>,
    /// Per (release, format), the id of each package: looked up by reference, so a
    /// package already interned is never cloned again.
    ids: HashMap<(u16, PackageFormat), HashMap<InstalledPackage, u32>>,
}

impl PackageTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// The entry number of this package on this release, adding it if new.
    pub fn intern(
        &mut self,
        distro: &DistroRelease,
        format: PackageFormat,
        pkg: &InstalledPackage,
    ) -> u32 {
        let d = match self.distro_ids.get(distro) {
            Some(d) => *d,
            None => {
                let d = u16::try_from(self.distros.len()).unwrap_or(u16::MAX);
                self.distros.push(distro.clone());
                self.distro_ids.insert(distro.clone(), d);
                d
            }
        };
        let ids = self.ids.entry((d, format)).or_default();
        if let Some(id) = ids.get(pkg) {
            return *id;
        }
        let id = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        self.entries.push((d, format, pkg.clone()));
        ids.insert(pkg.clone(), id);
        id
    }

    /// Interns a whole inventory; the host is then this list of entry numbers.
    pub fn intern_host(
        &mut self,
        distro: &DistroRelease,
        format: PackageFormat,
        packages: &[InstalledPackage],
    ) -> Vec<u32> {
        packages
            .iter()
            .map(|p| self.intern(distro, format, p))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The release, format and package of an entry.
    pub fn entry(&self, id: u32) -> Option<(&DistroRelease, PackageFormat, &InstalledPackage)> {
        let (d, f, p) = self.entries.get(id as usize)?;
        Some((self.distros.get(usize::from(*d))?, *f, p))
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Hits per table entry, in one flat array (`offsets[i]..offsets[i + 1]`).
#[derive(Debug, Default)]
pub struct FleetFindings {
    offsets: Vec<u32>,
    hits: Vec<Hit>,
    /// Entries that some advisory mentions (the rest were never looked at).
    pub evaluated: usize,
}

impl FleetFindings {
    /// The hits of one entry.
    pub fn for_entry(&self, id: u32) -> &[Hit] {
        let i = id as usize;
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(a), Some(b)) => self.hits.get(*a as usize..*b as usize).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// The full findings (with evidence) of a host given as entry numbers.
    pub fn findings_for_host(
        &self,
        index: &AdvisoryIndex,
        table: &PackageTable,
        host: &[u32],
    ) -> Vec<Finding> {
        let mut out = Vec::new();
        for id in host {
            let hits = self.for_entry(*id);
            if hits.is_empty() {
                continue;
            }
            if let Some((d, _, p)) = table.entry(*id) {
                out.extend(index.findings(d, p, hits));
            }
        }
        out
    }

    /// Number of findings over all hosts, counted on `threads` threads.
    pub fn count_fleet(&self, hosts: &[Vec<u32>], threads: usize) -> usize {
        let threads = threads.max(1);
        let chunk = hosts.len().div_ceil(threads).max(1);
        std::thread::scope(|s| {
            let handles: Vec<_> = hosts
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .map(|h| h.iter().map(|id| self.len_of(*id)).sum::<usize>())
                            .sum::<usize>()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
        })
    }

    fn len_of(&self, id: u32) -> usize {
        let i = id as usize;
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(a), Some(b)) => self.hits.get(*a as usize..*b as usize).map_or(0, |h| {
                h.iter().filter(|h| h.kind != HitKind::NotAffected).count()
            }),
            _ => 0,
        }
    }
}

/// Evaluates every entry of the table once.
pub fn evaluate(index: &AdvisoryIndex, table: &PackageTable) -> FleetFindings {
    let mut offsets = Vec::with_capacity(table.entries.len() + 1);
    let mut hits = Vec::new();
    let mut evaluated = 0;
    offsets.push(0);
    for (d, format, pkg) in &table.entries {
        if let Some(distro) = table.distros.get(usize::from(*d)) {
            if index.mentions(distro, pkg) {
                evaluated += 1;
                index.hits(distro, *format, pkg, &mut hits);
            }
        }
        offsets.push(u32::try_from(hits.len()).unwrap_or(u32::MAX));
    }
    FleetFindings {
        offsets,
        hits,
        evaluated,
    }
}

/// Matches one host's entries directly, without the shared results: what an
/// inventory change of a single host costs.
pub fn evaluate_host(index: &AdvisoryIndex, table: &PackageTable, host: &[u32]) -> Vec<Finding> {
    let mut hits = Vec::new();
    let mut out = Vec::new();
    for (d, f, p) in host.iter().filter_map(|id| table.entry(*id)) {
        if index.mentions(d, p) {
            hits.clear();
            index.hits(d, f, p, &mut hits);
            out.extend(index.findings(d, p, &hits));
        }
    }
    out
}

/// A host as the simple API sees it.
#[derive(Debug, Clone, Copy)]
pub struct Host<'a> {
    pub distro: &'a DistroRelease,
    pub format: PackageFormat,
    pub packages: &'a [InstalledPackage],
}

/// Findings per host, in the order of `hosts`, and how many unique package tuples were
/// evaluated.
#[derive(Debug, Default)]
pub struct FleetResult {
    pub per_host: Vec<Vec<Finding>>,
    pub unique_evaluated: usize,
}

/// Convenience over [`PackageTable`] + [`evaluate`] for a handful of hosts.
pub fn match_fleet(index: &AdvisoryIndex, hosts: &[Host<'_>]) -> FleetResult {
    let mut table = PackageTable::new();
    let ids: Vec<Vec<u32>> = hosts
        .iter()
        .map(|h| table.intern_host(h.distro, h.format, h.packages))
        .collect();
    let results = evaluate(index, &table);
    FleetResult {
        per_host: ids
            .iter()
            .map(|h| results.findings_for_host(index, &table, h))
            .collect(),
        unique_evaluated: results.evaluated,
    }
}
