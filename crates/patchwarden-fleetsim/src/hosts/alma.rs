//! AlmaLinux 9 hosts.
//!
//! Names: every host has the packages of the real UBI 9 image, then the fleet's image
//! takes names from the other real RHEL-family `rpm -qa` lists (CentOS 6/7, UBI 7/8,
//! Amazon Linux, Fedora; other distributions' release and logo packages left out), then
//! package names of the AlmaLinux 9 OSV feed; each host adds 50 extras from what is left.
//! About half of a host's packages are named by some advisory, as on the UBI 9 image.
//!
//! Versions: a package the feed names is at its newest fixed version, or, on a host
//! left behind (probability `behind` per package), at an older one: the previous fix
//! (80 %) or any older published fix or UBI 9 version — always older than a fix the
//! feed publishes, so the server finds it. Other packages keep the UBI 9 version, or the
//! list's version with its dist tag rewritten to `el9` (no advisory names them, so their
//! version never changes a finding).

use super::{patch_run, Host, Rng, Shape, EXTRAS_PER_HOST};
use anyhow::{bail, Context};
use patchwarden_domain::advisory::{DistroRelease, NameKind, PackageState};
use patchwarden_domain::asset::{OsFamily, OsInfo};
use patchwarden_domain::package::{InstalledPackage, PackageFormat};
use patchwarden_version::RpmVersion;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

mod lists;

use lists::{el9, Listed};

/// Stream of [`Rng::derive`] for the AlmaLinux part of a fleet.
const STREAM: u64 = 0xA1A9;
/// Hosts run one of the newest three minor releases.
const MINORS: u32 = 3;

/// The package data an AlmaLinux 9 fleet is drawn from.
#[derive(Debug)]
pub struct Alma {
    /// The UBI 9 image: every host has these.
    base: Vec<Listed>,
    /// Other names from the real lists, first list first.
    common: Vec<Listed>,
    /// Names only the feed knows, sorted.
    feed_only: Vec<String>,
    /// Per name the feed knows: its versions in RPM order; the last is a fixed version.
    versions: HashMap<String, Vec<String>>,
    noarch: HashSet<String>,
    /// The newest minor release of the feed's dist tags (`.el9_6` → 6).
    latest_minor: u32,
}

/// `a < b` in RPM order; false when either does not parse.
pub(crate) fn older(a: &str, b: &str) -> bool {
    match (RpmVersion::parse(a), RpmVersion::parse(b)) {
        (Ok(a), Ok(b)) => a.compare(&b) == Ordering::Less,
        _ => false,
    }
}

/// Fixed versions per binary package name of AlmaLinux 9 in the OSV feed at `dir`
/// (without debug information packages and the aarch64-only `-64k` kernels).
pub(crate) fn feed_fixes(dir: &Path) -> anyhow::Result<BTreeMap<String, BTreeSet<String>>> {
    let imported = patchwarden_advisory::import_path(dir)
        .with_context(|| format!("cannot read the AlmaLinux feed {}", dir.display()))?;
    let alma9 = DistroRelease {
        ecosystem: "almalinux".into(),
        release: "9".into(),
    };
    let mut fixes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for a in &imported.advisories {
        for ap in &a.affected {
            if ap.distro != alma9
                || ap.scheme != PackageFormat::Rpm
                || ap.name_kind != NameKind::Binary
                || ap.name.ends_with("-debuginfo")
                || ap.name.ends_with("-debugsource")
                || ap.name.contains("-64k")
            {
                continue;
            }
            if let PackageState::Fixed { ranges } = &ap.state {
                for f in ranges.iter().filter_map(|r| r.fixed.as_ref()) {
                    if RpmVersion::parse(f).is_ok() {
                        fixes.entry(ap.name.clone()).or_default().insert(f.clone());
                    }
                }
            }
        }
    }
    if fixes.is_empty() {
        bail!(
            "{}: no AlmaLinux 9 fixed versions found (expected the almalinux9 folder of the OSV feed)",
            dir.display()
        );
    }
    Ok(fixes)
}

/// The highest `N` of `.el9_N` in any of `versions`.
fn latest_minor<'a>(versions: impl Iterator<Item = &'a String>) -> u32 {
    versions
        .filter_map(|v| {
            let (_, after) = v.split_once(".el9_")?;
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .max()
        .unwrap_or(0)
}

impl Alma {
    /// Reads the `rpm -qa` lists in `lists` and the AlmaLinux 9 OSV records in `feed`.
    pub fn load(lists: &Path, feed: &Path) -> anyhow::Result<Self> {
        let fixes = feed_fixes(feed)?;
        let real = lists::read_dir(lists)?;
        let latest_minor = latest_minor(fixes.values().flatten());
        let mut versions: HashMap<String, Vec<String>> = HashMap::new();
        for (name, fixed) in &fixes {
            let mut vs: Vec<String> = fixed.iter().cloned().collect();
            // A real el9 version older than the newest fix is a version a host can be at.
            if let Some(b) = real.base.iter().find(|b| &b.name == name) {
                if vs.last().is_some_and(|newest| older(&b.version, newest))
                    && !vs.contains(&b.version)
                {
                    vs.push(b.version.clone());
                }
            }
            vs.sort_by(|a, b| match (RpmVersion::parse(a), RpmVersion::parse(b)) {
                (Ok(a), Ok(b)) => a.compare(&b),
                _ => a.cmp(b),
            });
            versions.insert(name.clone(), vs);
        }
        let known: HashSet<&str> = real
            .base
            .iter()
            .chain(&real.common)
            .map(|l| l.name.as_str())
            .collect();
        let feed_only = fixes
            .keys()
            .filter(|n| !known.contains(n.as_str()))
            .cloned()
            .collect();
        Ok(Self {
            base: real.base,
            common: real.common,
            feed_only,
            versions,
            noarch: real.noarch,
            latest_minor,
        })
    }

    fn arch(&self, name: &str) -> &'static str {
        const NOARCH_SUFFIXES: &[&str] = &[
            "-doc",
            "-docs",
            "-javadoc",
            "-data",
            "-license",
            "-filesystem",
            "-wheel",
            "-fonts",
            "-firmware",
        ];
        if self.noarch.contains(name) || NOARCH_SUFFIXES.iter().any(|s| name.ends_with(s)) {
            "noarch"
        } else {
            "x86_64"
        }
    }

    /// The newest version of `name` the feed fixes, if it names the package.
    pub fn newest_fix(&self, name: &str) -> Option<&str> {
        self.versions
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// The upgrade of `p` to the newest fixed version, if `p` is older.
    pub fn update_of(&self, p: &InstalledPackage) -> Option<InstalledPackage> {
        let newest = self.newest_fix(&p.name)?;
        older(&p.version, newest).then(|| InstalledPackage {
            version: newest.to_owned(),
            ..p.clone()
        })
    }

    /// `name` at its newest fixed version, or an older one with probability `behind`;
    /// `listed` (a real-list version) when the feed does not name it.
    fn package(
        &self,
        name: &str,
        listed: Option<&str>,
        behind: f64,
        rng: &mut Rng,
    ) -> Option<InstalledPackage> {
        let version = match self.versions.get(name).filter(|v| !v.is_empty()) {
            Some(vs) => {
                let last = vs.len() - 1;
                let i = if last > 0 && rng.chance(behind) {
                    if rng.chance(0.8) {
                        last - 1
                    } else {
                        rng.below(last)
                    }
                } else {
                    last
                };
                vs[i].clone()
            }
            None => el9(listed?),
        };
        Some(InstalledPackage {
            name: name.to_owned(),
            version,
            arch: self.arch(name).to_owned(),
            source_name: None,
            source_version: None,
        })
    }

    /// The real-list version of pool entry `i` (`common` first, then `feed_only`).
    fn pool_entry(&self, i: usize) -> Option<(&str, Option<&str>)> {
        match self.common.get(i) {
            Some(l) => Some((l.name.as_str(), Some(l.version.as_str()))),
            None => self
                .feed_only
                .get(i - self.common.len())
                .map(|n| (n.as_str(), None)),
        }
    }

    /// `n` AlmaLinux 9 hosts of about `shape.packages` packages (see the module doc).
    pub fn fleet(&self, n: usize, shape: Shape) -> Vec<Host> {
        let mut rng = Rng::derive(shape.seed, STREAM);
        let mut common: Vec<usize> = (0..self.common.len()).collect();
        let mut feed: Vec<usize> =
            (self.common.len()..self.common.len() + self.feed_only.len()).collect();
        rng.shuffle(&mut common);
        rng.shuffle(&mut feed);
        let pool: Vec<usize> = common.into_iter().chain(feed).collect();
        // The base, `almalinux-release`, the image and the extras make `packages`.
        let image_len = shape
            .packages
            .saturating_sub(EXTRAS_PER_HOST + self.base.len() + 1)
            .min(pool.len());
        let (image, rest) = pool.split_at(image_len);
        (0..n)
            .map(|h| {
                let mut picks: Vec<usize> = image.to_vec();
                for _ in 0..EXTRAS_PER_HOST.min(rest.len()) {
                    picks.push(rest[rng.below(rest.len())]);
                }
                picks.sort_unstable();
                picks.dedup();
                let minor = self
                    .latest_minor
                    .saturating_sub(rng.below(MINORS as usize) as u32);
                let release = format!("9.{minor}");
                let mut packages: Vec<InstalledPackage> = Vec::with_capacity(shape.packages);
                packages.push(InstalledPackage {
                    name: "almalinux-release".into(),
                    version: format!("{release}-1.el9"),
                    arch: "x86_64".into(),
                    source_name: None,
                    source_version: None,
                });
                for b in &self.base {
                    packages.extend(self.package(
                        &b.name,
                        Some(&b.version),
                        shape.behind,
                        &mut rng,
                    ));
                }
                for &i in &picks {
                    if let Some((name, listed)) = self.pool_entry(i) {
                        packages.extend(self.package(name, listed, shape.behind, &mut rng));
                    }
                }
                let upgrades: Vec<(usize, InstalledPackage)> = packages
                    .iter()
                    .enumerate()
                    .filter_map(|(i, p)| self.update_of(p).map(|u| (i, u)))
                    .collect();
                let installed: HashSet<usize> = picks.into_iter().collect();
                let install = |r: &mut Rng| {
                    (0..16).find_map(|_| {
                        let i = *rest.get(r.below(rest.len()))?;
                        if installed.contains(&i) {
                            return None;
                        }
                        let (name, listed) = self.pool_entry(i)?;
                        self.package(name, listed, 0.0, r)
                    })
                };
                let mut patch_rng = Rng::derive(shape.seed ^ STREAM, h as u64);
                let patched = patch_run(&packages, &upgrades, install, &mut patch_rng);
                Host {
                    os: OsInfo {
                        family: OsFamily::Linux,
                        distribution: "almalinux".into(),
                        release,
                        arch: "x86_64".into(),
                    },
                    format: PackageFormat::Rpm,
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

    const LISTS: &str = "../../../shared/fixtures/inventories/rpm-qa";
    const FEED: &str = "../../../shared/fixtures/advisories/osv-almalinux/advisories/almalinux9";

    pub(crate) static ALMA: LazyLock<Alma> = LazyLock::new(|| {
        Alma::load(Path::new(LISTS), Path::new(FEED)).expect("the rpm lists and the feed")
    });

    /// The feed's fixed versions, read again for an independent check.
    static FIXES: LazyLock<BTreeMap<String, BTreeSet<String>>> =
        LazyLock::new(|| feed_fixes(Path::new(FEED)).expect("the feed"));

    #[test]
    fn deterministic_by_seed() {
        let (a, b) = assert_deterministic(|s| ALMA.fleet(4, s));
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.os, y.os);
        }
    }

    #[test]
    fn realistic_hosts() {
        let base: Vec<&str> = ALMA.base.iter().map(|b| b.name.as_str()).collect();
        assert!(base.len() > 150, "UBI 9 has {} packages", base.len());
        for h in ALMA.fleet(10, shape(0.3, 1)) {
            let n = h.packages.len();
            assert!((1450..=1500).contains(&n), "{n} packages");
            assert_eq!(h.format, PackageFormat::Rpm);
            assert_eq!(h.os.distribution, "almalinux");
            assert_eq!(h.os.arch, "x86_64");
            assert!(h.os.release.starts_with("9."), "{}", h.os.release);
            let names: HashSet<&str> = h.packages.iter().map(|p| p.name.as_str()).collect();
            assert_eq!(names.len(), n, "no name twice");
            let patched: HashSet<&str> = h.patched.iter().map(|p| p.name.as_str()).collect();
            assert_eq!(
                patched.len(),
                h.patched.len(),
                "no name twice after the patch run"
            );
            assert!(base.iter().all(|b| names.contains(b)));
            for name in [
                "glibc",
                "bash",
                "openssl-libs",
                "systemd",
                "almalinux-release",
            ] {
                assert!(names.contains(name), "{name} missing");
            }
            for p in &h.packages {
                assert!(p.validate().is_ok(), "{p:?}");
                assert!(RpmVersion::parse(&p.version).is_ok(), "{p:?}");
                assert!(["x86_64", "noarch"].contains(&p.arch.as_str()), "{p:?}");
            }
            assert!(h.packages.iter().any(|p| p.arch == "noarch"));
            // Not every package is one an advisory names: about half are.
            let named = h
                .packages
                .iter()
                .filter(|p| FIXES.contains_key(&p.name))
                .count();
            assert!((n / 4..n * 3 / 4).contains(&named), "{named} of {n} named");
        }
    }

    #[test]
    fn behind_packages_are_older_than_a_published_fix() {
        let (mut behind, mut current) = (0, 0);
        for h in ALMA.fleet(10, shape(0.3, 2)) {
            for p in &h.packages {
                let Some(fixes) = FIXES.get(&p.name) else {
                    continue;
                };
                let newest = ALMA.newest_fix(&p.name).unwrap();
                assert!(fixes.contains(newest), "{newest} is a fixed version");
                if p.version == newest {
                    current += 1;
                } else {
                    assert!(
                        fixes.iter().any(|f| older(&p.version, f)),
                        "{p:?} is older than no fix"
                    );
                    assert!(older(&p.version, newest));
                    behind += 1;
                }
            }
        }
        assert!(
            behind > 300 && current > behind,
            "{behind} behind, {current} current"
        );
        for h in ALMA.fleet(3, shape(0.0, 2)) {
            assert!(h.packages.iter().all(|p| ALMA.update_of(p).is_none()));
        }
    }

    #[test]
    fn patch_run_upgrades_to_the_newest_fix() {
        for h in ALMA.fleet(10, shape(0.3, 3)) {
            assert_eq!(h.patched.len(), h.packages.len());
            let changed: Vec<_> = h
                .packages
                .iter()
                .zip(&h.patched)
                .filter(|(a, b)| a != b)
                .collect();
            assert!((1..=5).contains(&changed.len()), "{}", changed.len());
            for (before, after) in changed {
                assert_eq!(ALMA.update_of(before).as_ref(), Some(after));
            }
        }
        for h in ALMA.fleet(3, shape(0.0, 3)) {
            assert_eq!(h.patched.len(), h.packages.len() + 1);
        }
    }

    #[test]
    fn minor_release_from_the_feed() {
        assert!(ALMA.latest_minor >= 4, "{}", ALMA.latest_minor);
        let v = [
            "1-1.el9_4".to_owned(),
            "2-1.el9_12.1".to_owned(),
            "3-1.el9".to_owned(),
        ];
        assert_eq!(latest_minor(v.iter()), 12);
    }
}
