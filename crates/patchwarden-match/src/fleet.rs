//! Matching many hosts: each unique (release, format, package) is evaluated once and
//! the result is shared by every host that has it.

use crate::index::{AdvisoryIndex, Finding};
use patchwarden_domain::advisory::DistroRelease;
use patchwarden_domain::package::{InstalledPackage, PackageFormat};
use std::collections::HashMap;

/// A host as the engine sees it.
#[derive(Debug, Clone, Copy)]
pub struct Host<'a> {
    pub distro: &'a DistroRelease,
    pub format: PackageFormat,
    pub packages: &'a [InstalledPackage],
}

/// Findings per host, in the order of `hosts`, plus how many unique package tuples
/// were evaluated.
#[derive(Debug, Default)]
pub struct FleetResult {
    pub per_host: Vec<Vec<Finding>>,
    pub unique_evaluated: usize,
}

/// Matches every host; a package tuple shared by many hosts is evaluated once.
pub fn match_fleet(index: &AdvisoryIndex, hosts: &[Host<'_>]) -> FleetResult {
    let mut cache: HashMap<(&DistroRelease, PackageFormat, &InstalledPackage), Vec<Finding>> =
        HashMap::new();
    let mut per_host = Vec::with_capacity(hosts.len());
    for h in hosts {
        let mut found = Vec::new();
        for p in h.packages {
            if !index.mentions(h.distro, p) {
                continue;
            }
            let r = cache
                .entry((h.distro, h.format, p))
                .or_insert_with(|| index.match_package(h.distro, h.format, p));
            found.extend(r.iter().cloned());
        }
        per_host.push(found);
    }
    FleetResult {
        unique_evaluated: cache.len(),
        per_host,
    }
}
