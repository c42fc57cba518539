//! What matching found for each package, kept while the loaded index lasts.
//!
//! Matching one package is a function of the package (name, version, arch, source),
//! the host's release and package format, and the loaded index with its enrichment:
//! nothing of the host besides. A fleet runs the same packages on many hosts, so the
//! findings (shared, with the level of their advisory) are computed once per distinct
//! package and handed to every host that reports it. The memo belongs to one
//! [`super::matching::Loaded`]: it is emptied whenever the index or the enrichment
//! changes, and bounded ([`MAX_ENTRIES`]).

use patchwarden_domain::advisory::DistroRelease;
use patchwarden_domain::finding::Finding;
use patchwarden_domain::level::Level;
use patchwarden_domain::package::{PackageFormat, PackageRef};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The findings of one package, each with its advisory's level.
pub type Matched = Arc<[(Arc<Finding>, Level)]>;

/// Packages remembered at most; past it the memo starts again empty. A fleet's
/// distinct packages are far fewer: the 900 AlmaLinux hosts of the simulator's
/// 3,000 bring about 8,000 that the AlmaLinux 9 feed names.
pub const MAX_ENTRIES: usize = 250_000;

type Map = HashMap<Box<[u8]>, Matched, foldhash::fast::RandomState>;

/// Per-package matching results of one loaded index.
#[derive(Debug, Default)]
pub struct PackageMemo {
    map: Mutex<Map>,
}

/// The keys of one host's packages, written into one buffer.
#[derive(Debug, Default)]
pub struct Keys {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Keys {
    /// Room for `n` keys of a typical length.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(n * 96),
            ends: Vec::with_capacity(n),
        }
    }

    /// Adds the key of `p` on a host of `distro` with `format`. Every part is written
    /// with its length, so no two different packages share a key whatever their text.
    pub fn push(&mut self, distro: &DistroRelease, format: PackageFormat, p: &PackageRef<'_>) {
        let b = &mut self.bytes;
        b.push(match format {
            PackageFormat::Deb => b'd',
            PackageFormat::Rpm => b'r',
            PackageFormat::Apk => b'a',
        });
        let mut part = |s: Option<&str>| match s {
            None => b.push(0),
            Some(s) => {
                b.push(1);
                b.extend_from_slice(&(s.len() as u64).to_le_bytes());
                b.extend_from_slice(s.as_bytes());
            }
        };
        part(Some(&distro.ecosystem));
        part(Some(&distro.release));
        part(Some(p.name));
        part(Some(p.version));
        part(Some(p.arch));
        part(p.source_name);
        part(p.source_version);
        self.ends.push(b.len());
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }
}

impl PackageMemo {
    fn lock(&self) -> std::sync::MutexGuard<'_, Map> {
        // The map holds no invariant a panicking holder could break half-way.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What is remembered for each key, by position.
    pub fn get_all(&self, keys: &Keys) -> Vec<Option<Matched>> {
        let map = self.lock();
        (0..keys.len())
            .map(|i| map.get(keys.get(i)).cloned())
            .collect()
    }

    /// Remembers the results of the keys at `positions`.
    pub fn put_all(&self, keys: &Keys, found: impl IntoIterator<Item = (usize, Matched)>) {
        let mut map = self.lock();
        for (i, m) in found {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(Box::from(keys.get(i)), m);
        }
    }

    /// Forgets everything (the index or the enrichment changed).
    pub fn clear(&self) {
        self.lock().clear();
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distro() -> DistroRelease {
        DistroRelease {
            ecosystem: "almalinux".into(),
            release: "9".into(),
        }
    }

    fn pkg<'a>(name: &'a str, version: &'a str, src: Option<&'a str>) -> PackageRef<'a> {
        PackageRef {
            name,
            arch: "x86_64",
            version,
            source_name: src,
            source_version: None,
        }
    }

    #[test]
    fn keys_differ_whenever_a_part_does() {
        let d = distro();
        let mut keys = Keys::default();
        // Parts that run together as text ("ab" + "c" and "a" + "bc") stay apart.
        keys.push(&d, PackageFormat::Rpm, &pkg("ab", "c", None));
        keys.push(&d, PackageFormat::Rpm, &pkg("a", "bc", None));
        keys.push(&d, PackageFormat::Deb, &pkg("ab", "c", None));
        keys.push(&d, PackageFormat::Rpm, &pkg("ab", "c", Some("")));
        keys.push(&d, PackageFormat::Rpm, &pkg("ab", "c", Some("ab")));
        let other = DistroRelease {
            ecosystem: "almalinux".into(),
            release: "8".into(),
        };
        keys.push(&other, PackageFormat::Rpm, &pkg("ab", "c", None));
        keys.push(&d, PackageFormat::Rpm, &pkg("ab", "c", None));
        let all: Vec<&[u8]> = (0..keys.len()).map(|i| keys.get(i)).collect();
        for i in 0..6 {
            for j in 0..6 {
                assert_eq!(i == j, all[i] == all[j], "keys {i} and {j}");
            }
        }
        assert_eq!(all[6], all[0], "the same package gives the same key");
    }

    #[test]
    fn remembers_by_key_and_forgets_on_clear() {
        let d = distro();
        let mut keys = Keys::default();
        keys.push(&d, PackageFormat::Rpm, &pkg("bash", "5.1-1", None));
        keys.push(&d, PackageFormat::Rpm, &pkg("bash", "5.1-2", None));
        let memo = PackageMemo::default();
        assert!(memo.get_all(&keys).iter().all(Option::is_none));
        let none: Matched = Arc::from(Vec::new());
        memo.put_all(&keys, [(1, none)]);
        let got = memo.get_all(&keys);
        assert!(got[0].is_none());
        assert!(got[1].as_ref().is_some_and(|m| m.is_empty()));
        assert_eq!(memo.len(), 1);
        memo.clear();
        assert!(memo.get_all(&keys).iter().all(Option::is_none));
    }
}
