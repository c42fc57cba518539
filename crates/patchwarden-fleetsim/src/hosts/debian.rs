//! Debian 12 hosts from the real package lists (`shared/fixtures/inventories/debian12`):
//! a base image the fleet shares plus per-host extras; a package with a security update
//! is at the security version, except on hosts left behind (then at the release version).

use super::{patch_run, Host, Rng, Shape, EXTRAS_PER_HOST};
use anyhow::Context;
use patchwarden_domain::asset::{OsFamily, OsInfo};
use patchwarden_domain::package::{InstalledPackage, PackageFormat};
use patchwarden_version::DebVersion;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// The package lists a Debian fleet is drawn from.
#[derive(Debug)]
pub struct Debian {
    main: Vec<InstalledPackage>,
    /// Package name → its version in bookworm-security, only where that version is
    /// newer than bookworm's own (after a point release, bookworm often has the fix
    /// already, or a newer version than the security archive).
    security: HashMap<String, InstalledPackage>,
}

fn read_tsv(path: &Path) -> anyhow::Result<Vec<InstalledPackage>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let (name, version, arch, source, source_version) =
                (f.first()?, f.get(1)?, f.get(2)?, f.get(3)?, f.get(4)?);
            Some(InstalledPackage {
                name: (*name).to_owned(),
                version: (*version).to_owned(),
                arch: (*arch).to_owned(),
                source_name: (source != name).then(|| (*source).to_owned()),
                source_version: (source_version != version).then(|| (*source_version).to_owned()),
            })
        })
        .collect())
}

/// One entry per package name, the newest version (the lists carry several versions
/// of a few packages, e.g. `linux-doc`; a host has one), in first-seen order.
fn newest_per_name(list: Vec<InstalledPackage>) -> Vec<InstalledPackage> {
    let mut at: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<InstalledPackage> = Vec::with_capacity(list.len());
    for p in list {
        match at.get(&p.name) {
            Some(&i) => {
                if older(&out[i].version, &p.version) {
                    out[i] = p;
                }
            }
            None => {
                at.insert(p.name.clone(), out.len());
                out.push(p);
            }
        }
    }
    out
}

/// `a < b` in dpkg order; false when either does not parse.
fn older(a: &str, b: &str) -> bool {
    match (DebVersion::parse(a), DebVersion::parse(b)) {
        (Ok(a), Ok(b)) => a.compare(&b) == Ordering::Less,
        _ => false,
    }
}

impl Debian {
    /// Reads `bookworm_main_amd64.tsv` and `bookworm-security_main_amd64.tsv` from `dir`.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let main = newest_per_name(read_tsv(&dir.join("bookworm_main_amd64.tsv"))?);
        let release: HashMap<&str, &str> = main
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        let security = newest_per_name(read_tsv(&dir.join("bookworm-security_main_amd64.tsv"))?)
            .into_iter()
            .filter(|s| {
                release
                    .get(s.name.as_str())
                    .is_some_and(|r| older(r, &s.version))
            })
            .map(|p| (p.name.clone(), p))
            .collect();
        Ok(Self { main, security })
    }

    /// The security update of `p`, if bookworm-security has one newer than `p`.
    pub fn update_of(&self, p: &InstalledPackage) -> Option<&InstalledPackage> {
        self.security
            .get(&p.name)
            .filter(|s| s.arch == p.arch && older(&p.version, &s.version))
    }

    /// `n` hosts of about `shape.packages` packages: the same base image of
    /// `packages - 50` packages, 50 extras per host; a package with a security update is
    /// at the security version, except with probability `shape.behind`.
    pub fn fleet(&self, n: usize, shape: Shape) -> Vec<Host> {
        let mut rng = Rng::new(shape.seed);
        let mut order: Vec<usize> = (0..self.main.len()).collect();
        rng.shuffle(&mut order);
        let base_len = shape
            .packages
            .saturating_sub(EXTRAS_PER_HOST)
            .min(order.len());
        let (base, rest) = order.split_at(base_len);
        let os = OsInfo {
            family: OsFamily::Linux,
            distribution: "debian".into(),
            release: "12".into(),
            arch: "amd64".into(),
        };
        (0..n)
            .map(|h| {
                let mut picks: Vec<usize> = base.to_vec();
                for _ in 0..EXTRAS_PER_HOST.min(rest.len()) {
                    picks.push(rest[rng.below(rest.len())]);
                }
                picks.sort_unstable();
                picks.dedup();
                let packages: Vec<InstalledPackage> = picks
                    .iter()
                    .filter_map(|&i| self.main.get(i))
                    .map(|p| match self.security.get(&p.name) {
                        Some(sec) if !rng.chance(shape.behind) => sec.clone(),
                        _ => p.clone(),
                    })
                    .collect();
                let upgrades: Vec<(usize, InstalledPackage)> = packages
                    .iter()
                    .enumerate()
                    .filter_map(|(i, p)| self.update_of(p).map(|u| (i, u.clone())))
                    .collect();
                let installed: HashSet<usize> = picks.into_iter().collect();
                let install = |r: &mut Rng| {
                    (0..16).find_map(|_| {
                        let i = rest.get(r.below(rest.len()))?;
                        (!installed.contains(i))
                            .then(|| self.main.get(*i).cloned())
                            .flatten()
                    })
                };
                let mut patch_rng = Rng::derive(shape.seed, h as u64);
                let patched = patch_run(&packages, &upgrades, install, &mut patch_rng);
                Host {
                    os: os.clone(),
                    format: PackageFormat::Deb,
                    packages,
                    patched,
                }
            })
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::hosts::tests::{assert_deterministic, shape};
    use std::sync::LazyLock;

    const LISTS: &str = "../../../shared/fixtures/inventories/debian12";

    pub(crate) static DEBIAN: LazyLock<Debian> =
        LazyLock::new(|| Debian::load(Path::new(LISTS)).expect("the Debian 12 lists"));

    #[test]
    fn deterministic_by_seed() {
        assert_deterministic(|s| DEBIAN.fleet(4, s));
    }

    #[test]
    fn sizes_and_os() {
        for h in DEBIAN.fleet(5, shape(0.3, 1)) {
            let n = h.packages.len();
            assert!((1450..=1500).contains(&n), "{n} packages");
            assert_eq!(h.format, PackageFormat::Deb);
            assert_eq!(
                (h.os.distribution.as_str(), h.os.release.as_str()),
                ("debian", "12")
            );
            assert!(h.packages.iter().all(|p| p.validate().is_ok()));
            for list in [&h.packages, &h.patched] {
                let names: HashSet<&str> = list.iter().map(|p| p.name.as_str()).collect();
                assert_eq!(names.len(), list.len(), "no package twice");
            }
        }
    }

    #[test]
    fn one_version_per_package_the_newest() {
        let names: HashSet<&str> = DEBIAN.main.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names.len(), DEBIAN.main.len());
        // bookworm lists linux-doc 6.1.170-3 and 6.1.176-1, the security archive four
        // versions up to 6.1.192-2.
        let doc = DEBIAN.main.iter().find(|p| p.name == "linux-doc").unwrap();
        assert_eq!(doc.version, "6.1.176-1");
        assert_eq!(DEBIAN.security["linux-doc"].version, "6.1.192-2");
    }

    #[test]
    fn behind_packages_are_older_than_the_security_version() {
        let (mut behind, mut current) = (0, 0);
        for h in DEBIAN.fleet(20, shape(0.5, 2)) {
            for p in &h.packages {
                let Some(sec) = DEBIAN.security.get(&p.name) else {
                    continue;
                };
                if p.version == sec.version {
                    current += 1;
                } else {
                    assert!(older(&p.version, &sec.version), "{p:?} vs {sec:?}");
                    behind += 1;
                }
            }
        }
        assert!(
            behind > 0 && current > 0,
            "{behind} behind, {current} current"
        );
        // Nothing is behind when nothing should be.
        for h in DEBIAN.fleet(5, shape(0.0, 2)) {
            assert!(h.packages.iter().all(|p| DEBIAN.update_of(p).is_none()));
        }
    }

    #[test]
    fn patch_run_upgrades_to_the_security_version() {
        for h in DEBIAN.fleet(10, shape(0.3, 3)) {
            assert_ne!(h.packages, h.patched);
            if h.patched.len() == h.packages.len() {
                let changed: Vec<_> = h
                    .packages
                    .iter()
                    .zip(&h.patched)
                    .filter(|(a, b)| a != b)
                    .collect();
                assert!((1..=5).contains(&changed.len()));
                for (before, after) in changed {
                    assert_eq!(DEBIAN.update_of(before), Some(after));
                }
            }
        }
        // Up to date: the nightly run installs a package instead.
        for h in DEBIAN.fleet(3, shape(0.0, 3)) {
            assert_eq!(h.patched.len(), h.packages.len() + 1);
        }
    }
}
