//! Realistic simulated hosts from the real Debian 12 package lists: a common base image
//! plus per-host extras, some hosts behind on security updates.

use anyhow::Context;
use patchwarden_domain::package::InstalledPackage;
use std::collections::HashMap;
use std::path::Path;

/// A tiny deterministic generator (xorshift64*), so that a seed reproduces a fleet.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
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
}

/// The package lists a fleet is drawn from.
#[derive(Debug)]
pub struct Catalogue {
    main: Vec<InstalledPackage>,
    /// Package name → the version in bookworm-security.
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

impl Catalogue {
    /// Reads `bookworm_main_amd64.tsv` and `bookworm-security_main_amd64.tsv` from `dir`.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let main = read_tsv(&dir.join("bookworm_main_amd64.tsv"))?;
        let security = read_tsv(&dir.join("bookworm-security_main_amd64.tsv"))?
            .into_iter()
            .map(|p| (p.name.clone(), p))
            .collect();
        Ok(Self { main, security })
    }

    /// `n` hosts of about `packages` packages: the same base image of `packages - 50`
    /// packages, 50 extras per host; a package with a security update is at the
    /// security version, except with probability `behind` (then at the release version).
    pub fn fleet(
        &self,
        n: usize,
        packages: usize,
        behind: f64,
        seed: u64,
    ) -> Vec<Vec<InstalledPackage>> {
        let mut rng = Rng::new(seed);
        let mut order: Vec<usize> = (0..self.main.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let base_len = packages.saturating_sub(50).min(order.len());
        let (base, rest) = order.split_at(base_len);
        let threshold = (behind.clamp(0.0, 1.0) * 1_000_000.0) as u64;
        (0..n)
            .map(|_| {
                let mut picks: Vec<usize> = base.to_vec();
                for _ in 0..50.min(rest.len()) {
                    picks.push(rest[rng.below(rest.len())]);
                }
                picks.sort_unstable();
                picks.dedup();
                picks
                    .into_iter()
                    .filter_map(|i| self.main.get(i))
                    .map(|p| match self.security.get(&p.name) {
                        Some(sec) if rng.next() % 1_000_000 >= threshold => sec.clone(),
                        _ => p.clone(),
                    })
                    .collect()
            })
            .collect()
    }
}
