//! Simulated hosts with realistic inventories: Debian 12 ([`debian`]) and AlmaLinux 9
//! ([`alma`]), mixed in the proportions of a [`Mix`]. Every host also carries the
//! inventory it has after a nightly patch run ([`Host::patched`]). A seed reproduces
//! a fleet exactly.

pub mod alma;
pub mod debian;

use anyhow::{bail, Context};
use patchwarden_domain::asset::OsInfo;
use patchwarden_domain::package::{InstalledPackage, PackageFormat};
use std::str::FromStr;

/// A tiny deterministic generator (xorshift64*), so that a seed reproduces a fleet.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// An independent stream for `(seed, stream)`, e.g. one per host.
    pub fn derive(seed: u64, stream: u64) -> Self {
        Self::new(seed ^ stream.wrapping_add(1).wrapping_mul(0xD1B5_4A32_D192_ED03))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// True with probability `p` (clamped to 0..=1).
    pub fn chance(&mut self, p: f64) -> bool {
        let threshold = (p.clamp(0.0, 1.0) * 1_000_000.0) as u64;
        self.next() % 1_000_000 < threshold
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// One simulated host.
#[derive(Debug, Clone)]
pub struct Host {
    pub os: OsInfo,
    pub format: PackageFormat,
    pub packages: Vec<InstalledPackage>,
    /// The inventory after a nightly patch run: 1 to 5 packages upgraded to their
    /// current version (on a host with nothing to upgrade, one package installed).
    pub patched: Vec<InstalledPackage>,
}

/// What every host of a fleet shares: its size, how far behind it is, the seed.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Packages per host (about: duplicates among the extras are dropped).
    pub packages: usize,
    /// Share of the packages with a security update that are left at an older version.
    pub behind: f64,
    pub seed: u64,
}

/// Extra packages each host has beyond the image the fleet shares.
pub const EXTRAS_PER_HOST: usize = 50;

/// The share of each OS family in a fleet, written `debian=70,alma=30`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    pub debian: u64,
    pub alma: u64,
}

impl FromStr for Mix {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        let mut mix = Mix { debian: 0, alma: 0 };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part
                .split_once('=')
                .with_context(|| format!("{part:?}: expected family=weight"))?;
            let weight: u64 = weight
                .trim()
                .parse()
                .with_context(|| format!("{part:?}: the weight is not a whole number"))?;
            if weight > 1_000_000 {
                bail!("{part:?}: weights are at most 1000000");
            }
            match name.trim() {
                "debian" => mix.debian += weight,
                "alma" | "almalinux" => mix.alma += weight,
                other => bail!("unknown OS family {other:?} (known: debian, alma)"),
            }
        }
        if mix.debian + mix.alma == 0 {
            bail!("the mix {s:?} gives no host a family");
        }
        Ok(mix)
    }
}

impl Mix {
    /// How many of the first `k` hosts are AlmaLinux hosts: `k × alma share`, rounded.
    fn alma_among(&self, k: usize) -> u64 {
        let total = self.debian + self.alma;
        (2 * k as u64 * self.alma + total) / (2 * total)
    }

    /// Whether host `i` is an AlmaLinux host. The families are interleaved evenly,
    /// so every part of the fleet (and of each phase) has the same mix.
    pub fn is_alma(&self, i: usize) -> bool {
        self.alma_among(i + 1) > self.alma_among(i)
    }
}

/// The inventory after a nightly patch run: `1..=5` of `upgrades` (index in
/// `packages`, the newer package) applied; when there is nothing to upgrade, the
/// package `install` gives is added instead.
pub fn patch_run(
    packages: &[InstalledPackage],
    upgrades: &[(usize, InstalledPackage)],
    install: impl FnOnce(&mut Rng) -> Option<InstalledPackage>,
    rng: &mut Rng,
) -> Vec<InstalledPackage> {
    let mut out = packages.to_vec();
    if upgrades.is_empty() {
        out.extend(install(rng));
        return out;
    }
    let mut order: Vec<usize> = (0..upgrades.len()).collect();
    rng.shuffle(&mut order);
    let k = 1 + rng.below(5);
    for &u in order.iter().take(k) {
        let (i, newer) = &upgrades[u];
        if let Some(slot) = out.get_mut(*i) {
            *slot = newer.clone();
        }
    }
    out
}

/// `n` hosts in the proportions of `mix`, from the catalogues the mix needs.
pub fn fleet(
    mix: Mix,
    n: usize,
    debian: Option<&debian::Debian>,
    alma: Option<&alma::Alma>,
    shape: Shape,
) -> anyhow::Result<Vec<Host>> {
    let n_alma = (0..n).filter(|&i| mix.is_alma(i)).count();
    let n_debian = n - n_alma;
    let mut deb_hosts = match (n_debian, debian) {
        (0, _) => Vec::new(),
        (k, Some(d)) => d.fleet(k, shape),
        (_, None) => bail!("the mix has Debian hosts but no Debian package lists were loaded"),
    }
    .into_iter();
    let mut alma_hosts = match (n_alma, alma) {
        (0, _) => Vec::new(),
        (k, Some(a)) => a.fleet(k, shape),
        (_, None) => bail!("the mix has AlmaLinux hosts but no AlmaLinux data was loaded"),
    }
    .into_iter();
    (0..n)
        .map(|i| {
            let next = if mix.is_alma(i) {
                alma_hosts.next()
            } else {
                deb_hosts.next()
            };
            next.context("the generators made fewer hosts than asked")
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// 1,500 packages per host, `behind` of the security-updated ones left behind.
    pub(crate) fn shape(behind: f64, seed: u64) -> Shape {
        Shape {
            packages: 1500,
            behind,
            seed,
        }
    }

    /// Two fleets of one seed are the same, another seed differs; returns the two
    /// same-seed fleets for checks of one family.
    pub(crate) fn assert_deterministic(
        fleet: impl Fn(Shape) -> Vec<Host>,
    ) -> (Vec<Host>, Vec<Host>) {
        let a = fleet(shape(0.3, 5));
        let b = fleet(shape(0.3, 5));
        let c = fleet(shape(0.3, 6));
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.packages, y.packages);
            assert_eq!(x.patched, y.patched);
        }
        assert_ne!(a[0].packages, c[0].packages);
        (a, b)
    }

    fn pkg(name: &str, version: &str) -> InstalledPackage {
        InstalledPackage {
            name: name.into(),
            version: version.into(),
            arch: "x86_64".into(),
            source_name: None,
            source_version: None,
        }
    }

    #[test]
    fn mix_parses_and_rejects() {
        let m: Mix = "debian=70,alma=30".parse().unwrap();
        assert_eq!(
            m,
            Mix {
                debian: 70,
                alma: 30
            }
        );
        let m: Mix = "almalinux=1".parse().unwrap();
        assert_eq!(m, Mix { debian: 0, alma: 1 });
        for bad in ["", "debian=0", "ubuntu=3", "debian", "debian=x", "alma=-1"] {
            assert!(bad.parse::<Mix>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn mix_interleaves_in_proportion() {
        let m: Mix = "debian=70,alma=30".parse().unwrap();
        let alma: Vec<usize> = (0..100).filter(|&i| m.is_alma(i)).collect();
        assert_eq!(alma.len(), 30);
        // Spread over the fleet, not bunched at one end.
        assert!(alma.iter().filter(|&&i| i < 50).count() == 15);
        assert!((0..10).any(|i| m.is_alma(i)) && (0..10).any(|i| !m.is_alma(i)));
        let only: Mix = "debian=1".parse().unwrap();
        assert!((0..50).all(|i| !only.is_alma(i)));
        let only: Mix = "alma=1".parse().unwrap();
        assert!((0..50).all(|i| only.is_alma(i)));
        // Rounded, not truncated: 3 hosts at 70/30 have one AlmaLinux host.
        assert_eq!((0..3).filter(|&i| m.is_alma(i)).count(), 1);
    }

    #[test]
    fn patch_run_upgrades_one_to_five() {
        let packages: Vec<InstalledPackage> =
            (0..20).map(|i| pkg(&format!("p{i}"), "1-1")).collect();
        let upgrades: Vec<(usize, InstalledPackage)> = (0..20)
            .step_by(2)
            .map(|i| (i, pkg(&format!("p{i}"), "2-1")))
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        for seed in 1..200 {
            let mut rng = Rng::new(seed);
            let after = patch_run(&packages, &upgrades, |_| None, &mut rng);
            assert_eq!(after.len(), packages.len());
            let changed = after.iter().zip(&packages).filter(|(a, b)| a != b).count();
            assert!((1..=5).contains(&changed), "{changed} changed");
            seen.insert(changed);
        }
        assert_eq!(seen.len(), 5, "every count from 1 to 5 occurs");
        let mut rng = Rng::new(3);
        let after = patch_run(&packages, &[], |_| Some(pkg("new", "1")), &mut rng);
        assert_eq!(after.len(), packages.len() + 1);
    }

    #[test]
    fn fleet_mixes_both_families_deterministically() {
        let (deb, alma) = (&*debian::tests::DEBIAN, &*alma::tests::ALMA);
        let mix: Mix = "debian=70,alma=30".parse().unwrap();
        let shape = Shape {
            packages: 1500,
            behind: 0.3,
            seed: 9,
        };
        let hosts = fleet(mix, 10, Some(deb), Some(alma), shape).unwrap();
        assert_eq!(hosts.len(), 10);
        for (i, h) in hosts.iter().enumerate() {
            let (distribution, format) = if mix.is_alma(i) {
                ("almalinux", PackageFormat::Rpm)
            } else {
                ("debian", PackageFormat::Deb)
            };
            assert_eq!(
                (h.os.distribution.as_str(), h.format),
                (distribution, format)
            );
            assert!((1450..=1500).contains(&h.packages.len()));
            assert_ne!(h.packages, h.patched);
        }
        let rpm = hosts
            .iter()
            .filter(|h| h.format == PackageFormat::Rpm)
            .count();
        assert_eq!(rpm, 3);
        let again = fleet(mix, 10, Some(deb), Some(alma), shape).unwrap();
        assert!(hosts
            .iter()
            .zip(&again)
            .all(|(a, b)| a.packages == b.packages && a.patched == b.patched && a.os == b.os));
        let other = fleet(mix, 10, Some(deb), Some(alma), Shape { seed: 10, ..shape }).unwrap();
        assert!(hosts
            .iter()
            .zip(&other)
            .all(|(a, b)| a.packages != b.packages));
        // A family the mix needs must have its data.
        assert!(fleet(mix, 10, Some(deb), None, shape).is_err());
        assert!(fleet("debian=1".parse().unwrap(), 10, Some(deb), None, shape).is_ok());
    }

    #[test]
    fn rng_streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..5).map(|_| Rng::derive(7, 1).next()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Rng::derive(7, 1).next(), Rng::derive(7, 2).next());
        assert_ne!(Rng::derive(7, 1).next(), Rng::derive(8, 1).next());
    }
}
