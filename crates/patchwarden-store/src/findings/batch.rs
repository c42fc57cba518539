//! The details a [`crate::FindingsBatch`] names, with what a sync needs to know of
//! them worked out once: which ids are there, which are suppressed, which advisories
//! they belong to. A fleet re-match hands the same table to every page, so a sync
//! asks these per finding in a bit test instead of a look-up in a map.

use patchwarden_domain::finding::Finding;
use std::collections::HashSet;
use std::sync::Arc;

/// Ids up to this are kept as bits (16 MB at most); a table with larger ids uses a
/// hash set.
const MAX_BITS: i64 = 1 << 27;

/// A set of detail ids: bits over `0..=max` when the ids are small and dense enough
/// that the bits take less room than a hash set would (the fleet's table: database
/// ids are dense), a hash set otherwise (one asset's few findings among a large table).
#[derive(Debug, Clone)]
enum IdSet {
    Bits(Vec<u64>),
    Hashed(HashSet<i64>),
}

impl IdSet {
    fn new(ids: impl Iterator<Item = i64> + Clone, max: i64) -> Self {
        // A hash set takes about 16 bytes an id, bits max / 8 bytes in all.
        let dense = max / 128 <= ids.clone().count() as i64;
        if (0..=MAX_BITS).contains(&max) && dense {
            let mut bits = vec![0u64; (max as usize / 64) + 1];
            for id in ids.filter(|id| *id >= 0) {
                bits[id as usize / 64] |= 1 << (id % 64);
            }
            IdSet::Bits(bits)
        } else {
            IdSet::Hashed(ids.collect())
        }
    }

    fn contains(&self, id: i64) -> bool {
        match self {
            IdSet::Bits(bits) => {
                id >= 0
                    && bits
                        .get(id as usize / 64)
                        .is_some_and(|w| w & (1 << (id % 64)) != 0)
            }
            IdSet::Hashed(set) => set.contains(&id),
        }
    }
}

/// Stored details by id, and what a sync asks of them.
#[derive(Debug, Clone)]
pub struct BatchDetails {
    /// Ascending by id, so that a detail is found by a binary search (a table of
    /// half a million details builds in a sort of an almost sorted list).
    by_id: Vec<(i64, Arc<Finding>)>,
    known: IdSet,
    suppressed: IdSet,
    advisories: HashSet<String>,
}

impl BatchDetails {
    /// The table of these details (stored ids and contents; an id given twice keeps
    /// its first content).
    pub fn new(details: impl IntoIterator<Item = (i64, Arc<Finding>)>) -> Self {
        let mut by_id: Vec<(i64, Arc<Finding>)> = details.into_iter().collect();
        if !by_id.is_sorted_by_key(|(id, _)| *id) {
            by_id.sort_by_key(|(id, _)| *id);
        }
        by_id.dedup_by_key(|(id, _)| *id);
        let max = by_id.last().map_or(0, |(id, _)| *id);
        let suppressed = by_id
            .iter()
            .filter(|(_, f)| f.suppressed.is_some())
            .map(|(id, _)| *id);
        let advisories: HashSet<&str> = by_id.iter().map(|(_, f)| f.advisory.as_str()).collect();
        Self {
            known: IdSet::new(by_id.iter().map(|(id, _)| *id), max),
            suppressed: IdSet::new(suppressed, max),
            advisories: advisories.into_iter().map(str::to_owned).collect(),
            by_id,
        }
    }

    /// One table of the details of all of `tables` (several syncs written as one
    /// batch).
    pub fn merged<'a>(tables: impl IntoIterator<Item = &'a BatchDetails>) -> Self {
        Self::new(
            tables
                .into_iter()
                .flat_map(|t| t.by_id.iter().map(|(id, f)| (*id, Arc::clone(f)))),
        )
    }

    /// The content of detail `id`.
    pub fn get(&self, id: i64) -> Option<&Finding> {
        self.by_id
            .binary_search_by_key(&id, |(i, _)| *i)
            .ok()
            .map(|k| &*self.by_id[k].1)
    }

    pub fn contains(&self, id: i64) -> bool {
        self.known.contains(id)
    }

    /// Whether detail `id` is suppressed by a not-affected statement.
    pub fn is_suppressed(&self, id: i64) -> bool {
        self.suppressed.contains(id)
    }

    /// The advisories of the details, each once.
    pub fn advisories(&self) -> impl Iterator<Item = &str> {
        self.advisories.iter().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patchwarden_domain::finding::FindingStatus;

    fn f(advisory: &str, suppressed: bool) -> Arc<Finding> {
        Arc::new(Finding {
            package: "p".into(),
            arch: "a".into(),
            installed: "1".into(),
            fixed: None,
            status: FindingStatus::NoFixYet,
            advisory: advisory.into(),
            source: "osv".into(),
            cves: vec![],
            distro: "d".into(),
            evidence: String::new(),
            suppressed: suppressed.then(String::new),
        })
    }

    #[test]
    fn membership_and_suppression_by_bits_or_hash() {
        for big in [0, 1 << 40] {
            let t = BatchDetails::new([
                (big + 3, f("A", false)),
                (big + 64, f("B", true)),
                (big + 65, f("A", false)),
            ]);
            for id in [3, 64, 65] {
                assert!(t.contains(big + id), "{big} {id}");
            }
            for id in [0, 2, 4, 63, 66, 1000, -1] {
                assert!(!t.contains(big + id), "{big} {id}");
            }
            assert!(t.is_suppressed(big + 64));
            assert!(!t.is_suppressed(big + 65) && !t.is_suppressed(big + 3));
            let mut adv: Vec<&str> = t.advisories().collect();
            adv.sort_unstable();
            assert_eq!(adv, ["A", "B"]);
            assert_eq!(t.get(big + 64).map(|d| d.advisory.as_str()), Some("B"));
            assert_eq!(t.len(), 3);
        }
        assert!(!BatchDetails::new([]).contains(0));
    }
}
