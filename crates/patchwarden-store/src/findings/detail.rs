//! What a finding says — package, versions, advisory, evidence, suppression — stored
//! once per distinct content in `finding_details` and shared by every asset that has
//! the same finding. Rows never change once written (a different content is a
//! different row), so each replica caches them without invalidation.

use crate::{Fast, Result, StoreError};
use patchwarden_domain::finding::{Finding, FindingStatus};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A detail's content address: SHA-256 over its length-prefixed fields.
pub type DetailHash = [u8; 32];

/// A finding's identity within one asset: at most one open finding per
/// (package, arch, advisory).
pub type Identity<'a> = (&'a str, &'a str, &'a str);

pub fn identity(f: &Finding) -> Identity<'_> {
    (&f.package, &f.arch, &f.advisory)
}

/// The content address of `f`: every field, length-prefixed, an absent one with a tag
/// of its own, so no two different findings give the same bytes.
pub fn detail_hash(f: &Finding) -> DetailHash {
    use sha2::{Digest, Sha256};
    fn field(h: &mut Sha256, value: Option<&str>) {
        match value {
            None => h.update([0]),
            Some(v) => {
                h.update([1]);
                h.update((v.len() as u64).to_le_bytes());
                h.update(v.as_bytes());
            }
        }
    }
    let mut h = Sha256::new();
    for value in [
        Some(f.package.as_str()),
        Some(&f.arch),
        Some(&f.installed),
        f.fixed.as_deref(),
        Some(f.status.as_str()),
        Some(&f.advisory),
        Some(&f.source),
        Some(&f.distro),
        Some(&f.evidence),
        f.suppressed.as_deref(),
    ] {
        field(&mut h, value);
    }
    h.update((f.cves.len() as u64).to_le_bytes());
    for c in &f.cves {
        field(&mut h, Some(c));
    }
    h.finalize().into()
}

/// A `finding_details` row as the database returns it.
#[derive(Debug, Clone)]
pub struct DetailColumns {
    pub id: i64,
    pub package: String,
    pub arch: String,
    pub installed: String,
    pub fixed: Option<String>,
    pub status: String,
    pub advisory_id: String,
    pub source: String,
    /// Comma-separated.
    pub cves: String,
    pub distro: String,
    pub evidence: String,
    pub suppressed: Option<String>,
}

impl DetailColumns {
    /// Parses the text columns again, so a corrupt row surfaces as
    /// [`StoreError::Corrupt`].
    pub fn into_finding(self) -> Result<(i64, Finding)> {
        let status = FindingStatus::parse(&self.status)
            .ok_or_else(|| StoreError::corrupt(format!("finding status {:?}", self.status)))?;
        Ok((
            self.id,
            Finding {
                package: self.package,
                arch: self.arch,
                installed: self.installed,
                fixed: self.fixed,
                status,
                advisory: self.advisory_id,
                source: self.source,
                cves: self
                    .cves
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
                    .collect(),
                distro: self.distro,
                evidence: self.evidence,
                suppressed: self.suppressed,
            },
        ))
    }
}

/// At most this many details' contents are cached; past it that part of the cache
/// starts again empty (rows are read back on demand). A fleet of 100,000 AlmaLinux
/// hosts has about 400,000 distinct findings.
const CONTENT_MAX: usize = 1 << 21;

/// At most this many shared findings' content addresses are kept by address.
const SHARED_MAX: usize = 1 << 18;

#[derive(Debug, Default)]
struct Maps {
    /// Every id whose content address is known (all rows once [`DetailCache::load`]
    /// ran).
    by_hash: HashMap<DetailHash, i64, Fast>,
    by_id: HashMap<i64, Arc<Finding>, Fast>,
    complete: bool,
    /// The content address of findings handed in shared ([`DetailCache::hashes`]), by
    /// the address of their allocation. Each entry holds a clone of its `Arc`, so the
    /// allocation lives, and its address names that content, as long as the entry.
    shared: HashMap<usize, (Arc<Finding>, DetailHash), Fast>,
}

/// Committed `finding_details` rows, by content address and by id. Entries are added
/// only after the transaction that wrote them committed.
///
/// A backend whose database has one writing process (SQLite) makes the cache
/// complete ([`DetailCache::load`]: every content address, 40 bytes each) and
/// inserts only what it lacks; one shared by replicas (PostgreSQL) lets a unique
/// index decide instead.
#[derive(Debug, Default)]
pub struct DetailCache {
    maps: Mutex<Maps>,
}

impl DetailCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Maps> {
        // The maps hold no invariant a panicking holder could break half-way.
        self.maps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether every stored row's content address is known.
    pub fn is_complete(&self) -> bool {
        self.lock().complete
    }

    /// Every stored row's content address, read once: from then on a content the cache
    /// does not know is not stored.
    pub fn load(&self, rows: impl IntoIterator<Item = (i64, DetailHash)>) {
        let mut maps = self.lock();
        maps.by_hash.extend(rows.into_iter().map(|(id, h)| (h, id)));
        maps.complete = true;
    }

    /// Forgets every row (the cache is no longer complete): for a backend that read
    /// rows of a transaction that then failed as a whole. Content addresses stay: they
    /// say nothing of what is stored.
    pub fn forget(&self) {
        let mut maps = self.lock();
        let shared = std::mem::take(&mut maps.shared);
        *maps = Maps {
            shared,
            ..Maps::default()
        };
    }

    /// The id of the row with this content, when cached.
    pub fn id_of(&self, hash: &DetailHash) -> Option<i64> {
        self.lock().by_hash.get(hash).copied()
    }

    /// The ids of the rows with these contents, each when cached.
    pub fn ids_of(&self, hashes: &[DetailHash]) -> Vec<Option<i64>> {
        let maps = self.lock();
        hashes
            .iter()
            .map(|h| maps.by_hash.get(h).copied())
            .collect()
    }

    /// The content address of each of `findings` ([`detail_hash`]). Matching hands the
    /// same `Arc` to every host that has a package, so a finding met before by
    /// reference is not hashed again.
    pub fn hashes(&self, findings: &[Arc<Finding>]) -> Vec<DetailHash> {
        let known: Vec<Option<DetailHash>> = {
            let maps = self.lock();
            findings
                .iter()
                .map(|f| maps.shared.get(&address(f)).map(|(_, h)| *h))
                .collect()
        };
        let mut new = Vec::new();
        let out = findings
            .iter()
            .zip(known)
            .map(|(f, k)| {
                k.unwrap_or_else(|| {
                    let h = detail_hash(f);
                    new.push((Arc::clone(f), h));
                    h
                })
            })
            .collect();
        if !new.is_empty() {
            let mut maps = self.lock();
            for (f, h) in new {
                if maps.shared.len() >= SHARED_MAX {
                    maps.shared.clear();
                }
                maps.shared.insert(address(&f), (f, h));
            }
        }
        out
    }

    /// Of `ids`, those not cached (each once).
    pub fn missing(&self, ids: impl IntoIterator<Item = i64>) -> Vec<i64> {
        let maps = self.lock();
        let mut out: Vec<i64> = ids
            .into_iter()
            .filter(|id| !maps.by_id.contains_key(id))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Remembers committed rows, with their content address.
    pub fn remember(&self, rows: impl IntoIterator<Item = (i64, DetailHash, Arc<Finding>)>) {
        let mut maps = self.lock();
        for (id, hash, f) in rows {
            if maps.by_id.len() >= CONTENT_MAX {
                maps.by_id.clear();
            }
            maps.by_hash.insert(hash, id);
            maps.by_id.insert(id, f);
        }
    }

    /// The cached rows among `ids`.
    pub fn get_many(&self, ids: impl IntoIterator<Item = i64>) -> HashMap<i64, Arc<Finding>> {
        let maps = self.lock();
        ids.into_iter()
            .filter_map(|id| maps.by_id.get(&id).map(|f| (id, f.clone())))
            .collect()
    }
}

/// The address of a shared finding's allocation.
fn address(f: &Arc<Finding>) -> usize {
    Arc::as_ptr(f) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding() -> Finding {
        Finding {
            package: "openssl".into(),
            arch: "x86_64".into(),
            installed: "1:3.0.7-24.el9".into(),
            fixed: Some("1:3.0.7-25.el9".into()),
            status: FindingStatus::Vulnerable,
            advisory: "ALSA-2024:0001".into(),
            source: "osv".into(),
            cves: vec!["CVE-2024-0001".into(), "CVE-2024-0002".into()],
            distro: "almalinux:9".into(),
            evidence: "installed 1:3.0.7-24.el9 < fixed 1:3.0.7-25.el9".into(),
            suppressed: None,
        }
    }

    #[test]
    fn every_field_changes_the_address() {
        type Change = Box<dyn Fn(&mut Finding)>;
        let base = detail_hash(&finding());
        assert_eq!(base, detail_hash(&finding()));
        let changes: Vec<Change> = vec![
            Box::new(|f| f.package.push('x')),
            Box::new(|f| f.arch = "noarch".into()),
            Box::new(|f| f.installed.push('1')),
            Box::new(|f| f.fixed = None),
            Box::new(|f| f.status = FindingStatus::NoFixYet),
            Box::new(|f| f.advisory.push('1')),
            Box::new(|f| f.source = "csaf".into()),
            Box::new(|f| f.cves.pop().map_or((), drop)),
            Box::new(|f| f.cves = vec!["CVE-2024-0001,CVE-2024-0002".into()]),
            Box::new(|f| f.distro = "almalinux:8".into()),
            Box::new(|f| f.evidence.push('.')),
            Box::new(|f| f.suppressed = Some(String::new())),
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut f = finding();
            change(&mut f);
            assert_ne!(base, detail_hash(&f), "change {i}");
        }
        // A field boundary moved between two fields is another address too.
        let mut f = finding();
        f.package = "open".into();
        f.arch = "sslx86_64".into();
        assert_ne!(base, detail_hash(&f));
    }

    #[test]
    fn cache_by_id_and_by_content() {
        let cache = DetailCache::default();
        assert_eq!(cache.missing([3, 1, 3]), [1, 3]);
        cache.remember([(3, detail_hash(&finding()), Arc::new(finding()))]);
        assert_eq!(cache.id_of(&detail_hash(&finding())), Some(3));
        assert_eq!(cache.missing([3, 1]), [1]);
        let got = cache.get_many([1, 3]);
        assert_eq!(got.len(), 1);
        assert_eq!(*got[&3], finding());
    }

    #[test]
    fn shared_findings_are_hashed_by_content() {
        let cache = DetailCache::default();
        let a = Arc::new(finding());
        let mut other = finding();
        other.installed.push('9');
        let b = Arc::new(other);
        let want = [detail_hash(&a), detail_hash(&b)];
        assert_eq!(cache.hashes(&[a.clone(), b.clone()]), want);
        // Met again by reference, and a copy of the same content under another address.
        assert_eq!(cache.hashes(&[b.clone(), a.clone()]), [want[1], want[0]]);
        assert_eq!(cache.hashes(&[Arc::new(finding())]), [want[0]]);
        // An entry keeps its allocation: dropping every other handle cannot let a new
        // finding take the address and be given the old address's hash.
        let addr = Arc::as_ptr(&a) as usize;
        drop(a);
        let c = Arc::new(Finding {
            package: "zlib".into(),
            ..finding()
        });
        assert_ne!(Arc::as_ptr(&c) as usize, addr);
        assert_eq!(cache.hashes(std::slice::from_ref(&c)), [detail_hash(&c)]);
        cache.forget();
        assert_eq!(cache.hashes(std::slice::from_ref(&b)), [want[1]]);
    }

    #[test]
    fn a_corrupt_status_is_named() {
        let row = DetailColumns {
            id: 1,
            package: "p".into(),
            arch: "a".into(),
            installed: "1".into(),
            fixed: None,
            status: "maybe".into(),
            advisory_id: "A".into(),
            source: "s".into(),
            cves: "CVE-1,CVE-2".into(),
            distro: "d".into(),
            evidence: "e".into(),
            suppressed: None,
        };
        assert!(row.clone().into_finding().is_err());
        let (_, f) = DetailColumns {
            status: "no_fix_yet".into(),
            ..row
        }
        .into_finding()
        .unwrap();
        assert_eq!(f.cves, ["CVE-1", "CVE-2"]);
    }
}
