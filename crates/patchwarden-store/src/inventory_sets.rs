//! Content-addressed inventories, shared by both backends.
//!
//! Every distinct package tuple (name, arch, version, source name, source version) is
//! stored once in `packages` and never changes afterwards; an inventory is the
//! ascending list of its package ids, stored once per distinct content in
//! `inventory_sets` under the canonical inventory hash
//! ([`patchwarden_domain::package::inventory_hash`]), and an asset points at its current
//! set by that hash. A report of an inventory the store already holds (the same host
//! again, or another host of the same image) writes no package data at all, and a new
//! one writes one row plus the tuples never seen before.
//!
//! Because package rows are immutable once committed, their ids can be cached in memory
//! ([`Interner`]) by every replica without invalidation; a backend adds entries only
//! after the transaction that inserted them committed. PostgreSQL keeps a unique index
//! on the tuples; SQLite keeps none (each new tuple would land on a random leaf of it)
//! and decides from the cache, complete up to [`Interner::through`], inside its write
//! transaction.

use crate::inventory_diff::count_changes_sorted;
use crate::{InventoryChange, StoreError};
use patchwarden_domain::package::{
    push_canonical_line, CheckedInventory, InstalledPackage, PackageFormat, PackageRef,
};
use reference::{Reference, References};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

mod reference;

/// The normalised form a package takes in `packages`: absent source fields are stored
/// as empty strings (validated packages never have empty ones), so that the unique
/// constraint sees them as equal.
pub fn stored_source(s: Option<&str>) -> &str {
    s.unwrap_or("")
}

/// A `packages` row back as the domain type.
pub fn package_from_row(
    name: String,
    arch: String,
    version: String,
    source_name: String,
    source_version: String,
) -> InstalledPackage {
    let opt = |s: String| (!s.is_empty()).then_some(s);
    InstalledPackage {
        name,
        version,
        arch,
        source_name: opt(source_name),
        source_version: opt(source_version),
    }
}

/// First byte of the binary `package_ids` form. The text form written before it (ids
/// joined by commas, as SQL's `group_concat`/`string_agg` build it in migration 0006)
/// starts with a digit, or is empty.
const IDS_BINARY: u8 = 0x01;

/// The `package_ids` column: the ascending, distinct ids as [`IDS_BINARY`] and then
/// each id's difference from the one before as an unsigned LEB128 number. Ids of one
/// host lie close together, so this is about a byte and a half per package where the
/// text form took six or seven: a 1,500-package set is one database page, not three
/// overflow pages, to write and read. Ids are positive (row ids and serials); a
/// negative one is refused.
pub fn encode_ids(ids: &mut Vec<i64>) -> Result<Vec<u8>, StoreError> {
    ids.sort_unstable();
    ids.dedup();
    let mut out = Vec::with_capacity(1 + ids.len() * 2);
    out.push(IDS_BINARY);
    let mut prev = 0u64;
    for id in ids.iter() {
        let id = u64::try_from(*id)
            .map_err(|_| StoreError::Invalid(format!("package id {id} is negative")))?;
        crate::varint::put(&mut out, id - prev);
        prev = id;
    }
    Ok(out)
}

/// The ids a `package_ids` column holds, in either form, in the order stored.
fn ids_in(bytes: &[u8]) -> impl Iterator<Item = Result<i64, StoreError>> + '_ {
    let binary = bytes.first() == Some(&IDS_BINARY);
    let mut pos = usize::from(binary);
    let mut prev = 0u64;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || pos >= bytes.len() {
            return None;
        }
        let next = if binary {
            crate::varint::get(bytes, &mut pos).and_then(|delta| {
                prev = prev.checked_add(delta).ok_or("ids overflow")?;
                i64::try_from(prev).map_err(|_| "ids overflow")
            })
        } else {
            let end = bytes[pos..]
                .iter()
                .position(|b| *b == b',')
                .map_or(bytes.len(), |n| pos + n);
            let entry = &bytes[pos..end];
            pos = end + 1;
            std::str::from_utf8(entry)
                .ok()
                .and_then(|t| t.parse::<i64>().ok())
                .ok_or("an entry that is not a number")
        };
        failed = next.is_err();
        Some(next.map_err(|why| StoreError::corrupt(format!("inventory set: {why}"))))
    })
}

/// Parses a `package_ids` column (the result is ascending and distinct).
pub fn decode_ids(bytes: &[u8]) -> Result<Vec<i64>, StoreError> {
    let mut ids = ids_in(bytes).collect::<Result<Vec<_>, _>>()?;
    // The binary form is sorted by construction; the text form was built by SQL.
    if !ids.is_sorted_by(|a, b| a < b) {
        ids.sort_unstable();
        ids.dedup();
    }
    Ok(ids)
}

/// Whether a `package_ids` column names any of `wanted`, without allocating.
pub fn contains_any(bytes: &[u8], wanted: &HashSet<i64>) -> bool {
    ids_in(bytes).any(|id| id.is_ok_and(|id| wanted.contains(&id)))
}

/// Package tuples are looked up by their canonical line
/// ([`patchwarden_domain::package::push_canonical_line`]), which a checked inventory
/// already holds: one contiguous key to hash and compare instead of five strings, and a
/// faster hasher than SipHash (ids are looked up for every package of every report; the
/// seed is still random per process).
type LineMap = HashMap<Box<[u8]>, i64, crate::Fast>;

#[derive(Debug, Default)]
struct Maps {
    by_line: LineMap,
    by_id: HashMap<i64, InstalledPackage>,
    /// Every committed row with an id up to this one is cached (see
    /// [`Interner::catch_up`]); 0 until a backend catches up.
    through: i64,
}

/// In-memory cache of committed `packages` rows in both directions.
#[derive(Debug, Default)]
pub struct Interner {
    maps: Mutex<Maps>,
    /// Recent inventories, to find most of a report's ids without the map
    /// ([`reference`]).
    references: References,
}

impl Interner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Maps> {
        // The maps hold no invariant a panicking holder could break half-way.
        self.maps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The id of each package when known; the packages that are not, normalised.
    pub fn ids_of(&self, inventory: &CheckedInventory<'_>) -> (Vec<i64>, Vec<InstalledPackage>) {
        let ids = self.lookup(inventory);
        let mut known = Vec::with_capacity(inventory.len());
        let mut missing = Vec::new();
        for ((p, _), id) in inventory.lines().zip(ids) {
            match id {
                Some(id) => known.push(id),
                // Borrowed packages are normalised (no empty source fields).
                None => missing.push(p.to_installed()),
            }
        }
        (known, missing)
    }

    /// The id of each line of `inventory` that is cached, in its order: most from a
    /// reference inventory like it, walked side by side, the rest from the map. A
    /// report whose lines the references mostly lack, and the cache mostly has, is
    /// kept as a reference for the reports like it (unless it is small).
    fn lookup(&self, inventory: &CheckedInventory<'_>) -> Vec<Option<i64>> {
        let lines: Vec<&[u8]> = inventory.lines().map(|(_, line)| line).collect();
        let mut ids: Vec<Option<i64>> = match self.references.choose(&lines) {
            Some(r) => {
                let mut walk = r.walk();
                lines.iter().map(|line| walk.id_of(line)).collect()
            }
            None => vec![None; lines.len()],
        };
        let walked = ids.iter().flatten().count();
        if walked < lines.len() {
            let maps = self.lock();
            for (id, line) in ids.iter_mut().zip(&lines) {
                if id.is_none() {
                    *id = maps.by_line.get(*line).copied();
                }
            }
        }
        let known = ids.iter().flatten().count();
        if lines.len() >= reference::MIN_LINES
            && walked * 2 < lines.len()
            && known * 4 >= lines.len() * 3
        {
            let pairs = lines.iter().zip(&ids);
            self.references.keep(Reference::new(
                pairs.filter_map(|(line, id)| Some((*line, (*id)?))),
            ));
        }
        ids
    }

    /// The ids of `ids` that are not cached (every id up to `through` is).
    pub fn uncached(&self, ids: &[i64]) -> Vec<i64> {
        let maps = self.lock();
        ids.iter()
            .filter(|id| **id > maps.through && !maps.by_id.contains_key(id))
            .copied()
            .collect()
    }

    /// [`Interner::ids_of`] `new`, and the counts of the change from the stored
    /// inventory `old` (ascending ids, each cached or among the rows just `read`) to
    /// it, the hash left empty.
    ///
    /// A package whose id is in both is unchanged (one id is one tuple), and takes no
    /// part in the count of the rest: within its (name, arch) group no other package
    /// of either side has its version, so the merge of [`count_changes_sorted`] pairs
    /// the others the same without it. Only the packages that differ — a handful after
    /// a patch run — are looked up and compared as strings.
    pub fn ids_and_counts(
        &self,
        old: &[i64],
        read: &[(i64, InstalledPackage)],
        new: &CheckedInventory<'_>,
    ) -> Result<(InventoryChange, Vec<i64>, Vec<InstalledPackage>), StoreError> {
        debug_assert!(old.is_sorted());
        let ids = self.lookup(new);
        let mut known = Vec::with_capacity(new.len());
        let mut missing = Vec::new();
        let mut in_both = vec![false; old.len()];
        let mut new_only: Vec<PackageRef<'_>> = Vec::new();
        let mut unchanged = 0u32;
        // A first report (nothing before it) has every package added: nothing to pair,
        // so its packages are not collected to be counted.
        let first = old.is_empty();
        for ((p, _), id) in new.lines().zip(ids) {
            match id {
                Some(id) => known.push(id),
                // Borrowed packages are normalised (no empty source fields).
                None => missing.push(p.to_installed()),
            }
            if first {
                continue;
            }
            match id.and_then(|id| old.binary_search(&id).ok()) {
                Some(at) => {
                    in_both[at] = true;
                    unchanged += 1;
                }
                None => new_only.push(p),
            }
        }
        if first {
            let added = u32::try_from(new.len()).unwrap_or(u32::MAX);
            return Ok((
                InventoryChange {
                    added,
                    ..InventoryChange::default()
                },
                known,
                missing,
            ));
        }
        let read: HashMap<i64, &InstalledPackage> = read.iter().map(|(id, p)| (*id, p)).collect();
        let maps = self.lock();
        let mut old_only: Vec<PackageRef<'_>> = Vec::new();
        for (id, _) in old.iter().zip(&in_both).filter(|(_, both)| !**both) {
            match maps.by_id.get(id).or_else(|| read.get(id).copied()) {
                Some(p) => old_only.push(p.borrowed()),
                None => return Err(StoreError::corrupt(format!("package {id} was not read"))),
            }
        }
        old_only.sort_unstable_by_key(PackageRef::key);
        let mut change = count_changes_sorted(&old_only, &new_only);
        change.unchanged += unchanged;
        Ok((change, known, missing))
    }

    /// The packages of the set `ids`, sorted ([`sort_inventory`]): each from the cache
    /// or, when the cache lacks it, from the rows just `read` from the database.
    pub fn packages_with(
        &self,
        ids: &[i64],
        read: &[(i64, InstalledPackage)],
    ) -> Vec<InstalledPackage> {
        let (mut found, missing) = self.packages_of(ids);
        let missing: HashSet<i64> = missing.into_iter().collect();
        found.extend(
            read.iter()
                .filter(|(id, _)| missing.contains(id))
                .map(|(_, p)| p.clone()),
        );
        sort_inventory(&mut found);
        found
    }

    /// The packages of `ids` that are known, and the ids that are not.
    pub fn packages_of(&self, ids: &[i64]) -> (Vec<InstalledPackage>, Vec<i64>) {
        let maps = self.lock();
        let mut found = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        for id in ids {
            match maps.by_id.get(id) {
                Some(p) => found.push(p.clone()),
                None => missing.push(*id),
            }
        }
        (found, missing)
    }

    /// Records committed rows.
    pub fn remember(&self, rows: impl IntoIterator<Item = (i64, InstalledPackage)>) {
        let mut maps = self.lock();
        Self::insert(&mut maps, rows);
    }

    fn insert(maps: &mut Maps, rows: impl IntoIterator<Item = (i64, InstalledPackage)>) {
        let mut line = Vec::new();
        for (id, p) in rows {
            line.clear();
            push_canonical_line(&mut line, &p);
            maps.by_line.insert(line.as_slice().into(), id);
            maps.by_id.insert(id, p);
        }
    }

    /// The id up to which every committed row is cached: a backend that keeps no
    /// unique index on its tuples (SQLite) decides from the cache whether a tuple is
    /// stored, after reading the rows above this id ([`Interner::catch_up`]).
    pub fn through(&self) -> i64 {
        self.lock().through
    }

    /// Records `rows`, every committed row with an id above `after` (a value
    /// [`Interner::through`] returned) that one snapshot of the database held: from
    /// then on every committed row up to the highest of them is cached. Ids only grow
    /// (rows are never deleted, and a new row's id is above every id stored), so a
    /// row committed after that snapshot has a higher id still.
    pub fn catch_up(&self, after: i64, rows: Vec<(i64, InstalledPackage)>) {
        let mut maps = self.lock();
        let top = rows.iter().map(|(id, _)| *id).max().unwrap_or(after);
        Self::insert(&mut maps, rows);
        // Knowing every row above `after` says nothing about the rows up to it unless
        // they were known already; `through` never passes `after` otherwise.
        if after <= maps.through {
            maps.through = maps.through.max(top);
        }
    }

    /// The id of a cached tuple.
    pub fn id_of(&self, p: &InstalledPackage) -> Option<i64> {
        let mut line = Vec::new();
        push_canonical_line(&mut line, p);
        self.lock().by_line.get(line.as_slice()).copied()
    }

    /// How many tuples are cached.
    pub fn len(&self) -> usize {
        self.lock().by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The part of an inventory report both backends work out before they write (SQLite in
/// the caller's task, on a reader): validation, the hash, the change counts against
/// the inventory the asset had when read, and the ids of the packages already interned.
#[derive(Debug)]
pub struct Prepared {
    pub format: PackageFormat,
    pub count: i64,
    /// The asset's inventory hash when the counts were made.
    pub based_on: Option<String>,
    /// Counts and hash of the report against `based_on`.
    pub change: InventoryChange,
    /// Ids of the reported packages the cache knew.
    pub known: Vec<i64>,
    /// The reported packages it did not (to intern while writing).
    pub missing: Vec<InstalledPackage>,
}

impl Prepared {
    /// `old` holds the ids of the inventory stored under `based_on` (empty when that
    /// is the inventory's own hash, or nothing), and `read` the rows of them that were
    /// read from the database because the cache lacked them.
    pub fn new(
        interner: &Interner,
        inventory: &CheckedInventory<'_>,
        based_on: Option<String>,
        old: &[i64],
        read: &[(i64, InstalledPackage)],
    ) -> Result<Self, StoreError> {
        let format = inventory.format();
        let hash = inventory.hash().to_owned();
        let count =
            i64::try_from(inventory.len()).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let (change, known, missing) = if based_on.as_deref() == Some(hash.as_str()) {
            let (known, missing) = interner.ids_of(inventory);
            (unchanged(count, hash), known, missing)
        } else {
            let (change, known, missing) = interner.ids_and_counts(old, read, inventory)?;
            (InventoryChange { hash, ..change }, known, missing)
        };
        Ok(Self {
            format,
            count,
            based_on,
            change,
            known,
            missing,
        })
    }

    /// The change when the asset holds this inventory already.
    pub fn unchanged(&self) -> InventoryChange {
        unchanged(self.count, self.change.hash.clone())
    }

    /// The reported packages again, from the cache and `missing` (to count against
    /// another inventory when one landed between preparing and writing).
    pub fn packages(&self, interner: &Interner) -> Result<Vec<InstalledPackage>, StoreError> {
        let (mut packages, unknown) = interner.packages_of(&self.known);
        if !unknown.is_empty() {
            return Err(StoreError::corrupt("an interned package left the cache"));
        }
        packages.extend(self.missing.iter().cloned());
        Ok(packages)
    }
}

fn unchanged(count: i64, hash: String) -> InventoryChange {
    InventoryChange {
        unchanged: u32::try_from(count).unwrap_or(u32::MAX),
        hash,
        ..InventoryChange::default()
    }
}

/// Sorts an inventory the way `get_inventory` returns it: by name, arch, version.
pub fn sort_inventory(packages: &mut [InstalledPackage]) {
    packages.sort_unstable_by(|a, b| {
        (&a.name, &a.arch, &a.version).cmp(&(&b.name, &b.arch, &b.version))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, src: Option<&str>) -> InstalledPackage {
        InstalledPackage {
            name: name.into(),
            version: "1.0-1".into(),
            arch: "amd64".into(),
            source_name: src.map(str::to_owned),
            source_version: None,
        }
    }

    #[test]
    fn ids_round_trip_sorted_and_distinct_in_about_a_byte_each() {
        let mut ids = vec![30, 2, 2, 11, 200, 16_384, i64::MAX];
        let bytes = encode_ids(&mut ids).unwrap();
        assert_eq!(bytes[..5], [IDS_BINARY, 2, 9, 19, 170]);
        assert_eq!(
            decode_ids(&bytes).unwrap(),
            [2, 11, 30, 200, 16_384, i64::MAX]
        );
        let mut many: Vec<i64> = (1..=1500).map(|i| 40_000 + i * 7).collect();
        let bytes = encode_ids(&mut many).unwrap();
        assert!(bytes.len() < 1500 * 2 + 8, "{} bytes", bytes.len());
        assert_eq!(decode_ids(&bytes).unwrap(), many);
        assert!(decode_ids(&encode_ids(&mut Vec::new()).unwrap())
            .unwrap()
            .is_empty());
        assert!(matches!(
            encode_ids(&mut vec![3, -1]),
            Err(StoreError::Invalid(_))
        ));
        assert!(contains_any(
            &encode_ids(&mut vec![2, 11, 30]).unwrap(),
            &HashSet::from([11])
        ));
        assert!(!contains_any(
            &encode_ids(&mut vec![2, 11, 30]).unwrap(),
            &HashSet::from([1, 3, 110])
        ));
    }

    #[test]
    fn sets_written_as_text_before_are_still_read() {
        assert_eq!(decode_ids(b"2,11,30").unwrap(), [2, 11, 30]);
        assert_eq!(decode_ids(b"30,2,2").unwrap(), [2, 30]);
        assert!(decode_ids(b"").unwrap().is_empty());
        assert!(matches!(decode_ids(b"1,x"), Err(StoreError::Corrupt(_))));
        assert!(contains_any(b"2,11,30", &HashSet::from([11])));
        assert!(!contains_any(b"2,11,30", &HashSet::from([1, 3, 110])));
        assert!(!contains_any(b"", &HashSet::from([0])));
    }

    #[test]
    fn corrupt_binary_sets_are_refused_not_misread() {
        for bad in [
            &[IDS_BINARY, 0x80][..], // truncated
            &[
                IDS_BINARY, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
            ], // > u64
            &[
                IDS_BINARY, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80, 0x01,
            ], // > i64
            &[0x02, 1, 2],           // unknown form
        ] {
            assert!(
                matches!(decode_ids(bad), Err(StoreError::Corrupt(_))),
                "{bad:?}"
            );
        }
        assert!(!contains_any(&[IDS_BINARY, 0x80], &HashSet::from([0])));
    }

    #[test]
    fn counts_against_cached_and_just_read_rows_and_refuses_unknown_ids() {
        let i = Interner::default();
        let (a, b) = (pkg("a", None), pkg("b", None));
        let mut b2 = b.clone();
        b2.version = "2.0-1".into();
        i.remember([(1, a.clone())]);
        let new = [b2.clone(), a.clone(), pkg("c", None)];
        let checked = CheckedInventory::new(PackageFormat::Deb, &new).unwrap();
        let (change, known, missing) = i
            .ids_and_counts(&[1, 2], &[(2, b.clone())], &checked)
            .unwrap();
        let want = crate::inventory_diff::count_changes(&[a, b], &new);
        assert_eq!(change, want);
        assert_eq!((change.unchanged, change.changed, change.added), (1, 1, 1));
        assert_eq!((known, missing.len()), (vec![1], 2));
        assert!(matches!(
            i.ids_and_counts(&[1, 3], &[], &checked),
            Err(StoreError::Corrupt(_))
        ));
        assert_eq!(i.uncached(&[1, 2, 3]), [2, 3]);
        let (a, b) = (pkg("a", None), pkg("b", None));
        assert_eq!(i.packages_with(&[2, 1], &[(2, b.clone())]), [a, b]);
    }

    #[test]
    fn reports_like_a_kept_one_take_the_same_ids_through_it() {
        let i = Interner::default();
        let host = |names: std::ops::Range<u32>, version: &str| -> Vec<InstalledPackage> {
            names
                .map(|n| InstalledPackage {
                    version: version.into(),
                    ..pkg(&format!("p{n:03}"), None)
                })
                .collect()
        };
        let base = host(0..100, "1.0-1");
        i.remember(base.iter().cloned().zip(1..).map(|(p, id)| (id, p)));
        let ids = |inv: &[InstalledPackage]| {
            let checked = CheckedInventory::new(PackageFormat::Deb, inv).unwrap();
            i.ids_of(&checked)
        };
        // Nothing kept yet: the map gives every id, and the report is kept.
        let (known, missing) = ids(&base);
        assert_eq!((known, missing.len()), ((1..=100).collect::<Vec<_>>(), 0));
        assert_eq!(i.references.len(), 1);
        // A host like it, with packages of its own, a newer version, and a package
        // cached after the reference was kept: the same ids as the map gives.
        i.remember([(101, pkg("p005a", None))]);
        let mut like = base.clone();
        like[7].version = "2.0-1".into();
        like.extend([pkg("p005a", None), pkg("zz", None)]);
        let (known, missing) = ids(&like);
        let mut want: Vec<i64> = (1..=100).filter(|id| *id != 8).collect();
        want.push(101);
        let mut got = known.clone();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want);
        assert_eq!(missing.len(), 2);
        assert_eq!(i.references.len(), 1, "served by the kept one");
        // Another kind of host, cached: kept too. One mostly unknown, or a small one:
        // not kept.
        let other = host(200..300, "1.0-1");
        i.remember(other.iter().cloned().zip(200..).map(|(p, id)| (id, p)));
        assert_eq!(ids(&other).0, (200..300).collect::<Vec<_>>());
        assert_eq!(i.references.len(), 2);
        assert_eq!(ids(&host(400..500, "1.0-1")).1.len(), 100);
        let small = host(500..510, "1.0-1");
        i.remember(small.iter().cloned().zip(500..).map(|(p, id)| (id, p)));
        assert_eq!(ids(&small).0, (500..510).collect::<Vec<_>>());
        assert_eq!(i.references.len(), 2);
    }

    #[test]
    fn catching_up_moves_through_only_over_rows_known_below() {
        let i = Interner::default();
        assert_eq!(i.through(), 0);
        // Rows above 0 read in one snapshot: all up to 5 are known.
        i.catch_up(0, vec![(2, pkg("a", None)), (5, pkg("b", Some("bsrc")))]);
        assert_eq!(i.through(), 5);
        // Nothing above 5: nothing changes.
        i.catch_up(5, Vec::new());
        assert_eq!(i.through(), 5);
        // Rows above 9 say nothing about 6..=9.
        i.catch_up(9, vec![(12, pkg("c", None))]);
        assert_eq!(i.through(), 5);
        // A slower reader that read above 0 before: through never goes back.
        i.catch_up(0, vec![(2, pkg("a", None))]);
        assert_eq!(i.through(), 5);
        i.catch_up(5, vec![(7, pkg("d", None)), (12, pkg("c", None))]);
        assert_eq!(i.through(), 12);
        assert_eq!(i.len(), 4);
        assert_eq!(i.id_of(&pkg("b", Some("bsrc"))), Some(5));
        assert_eq!(i.id_of(&pkg("b", None)), None);
    }

    #[test]
    fn interner_normalises_empty_sources() {
        let i = Interner::default();
        i.remember([(7, pkg("a", None))]);
        let reported = [pkg("b", None), pkg("a", Some(""))];
        let checked = CheckedInventory::new(PackageFormat::Deb, &reported).unwrap();
        let (ids, missing) = i.ids_of(&checked);
        assert_eq!(ids, [7]);
        assert_eq!(missing, [pkg("b", None)]);
        let (found, missing) = i.packages_of(&[7, 8]);
        assert_eq!(found, [pkg("a", None)]);
        assert_eq!(missing, [8]);
        assert_eq!(
            package_from_row(
                "a".into(),
                "amd64".into(),
                "1.0-1".into(),
                String::new(),
                String::new()
            ),
            pkg("a", None)
        );
    }

    /// A package of a small universe: few names and versions, so that inventories
    /// share packages, differ in versions, sources and multi-version groups.
    fn small() -> impl proptest::strategy::Strategy<Value = InstalledPackage> {
        use proptest::prelude::*;
        (0..4u8, 0..2u8, 0..4u8, 0..3u8).prop_map(|(n, a, v, src)| InstalledPackage {
            name: format!("p{n}"),
            version: format!("{v}.0-1"),
            arch: ["amd64", "i386"][usize::from(a)].into(),
            source_name: (src > 0).then(|| format!("s{src}")),
            source_version: (src > 1).then(|| format!("{v}.0")),
        })
    }

    fn distinct(v: Vec<InstalledPackage>) -> Vec<InstalledPackage> {
        let mut seen = HashSet::new();
        v.into_iter()
            .filter(|p| seen.insert((p.name.clone(), p.arch.clone(), p.version.clone())))
            .collect()
    }

    /// What the map alone gives for `checked`: the ids of its cached lines in order,
    /// and how many are not cached.
    fn by_map(i: &Interner, checked: &CheckedInventory<'_>) -> (Vec<i64>, usize) {
        let ids: Vec<Option<i64>> = checked
            .lines()
            .map(|(p, _)| i.id_of(&p.to_installed()))
            .collect();
        let missing = ids.iter().filter(|id| id.is_none()).count();
        (ids.into_iter().flatten().collect(), missing)
    }

    proptest::proptest! {
        /// Hosts big enough to be kept as references, of one universe of 160 tuples
        /// (several versions of a name, some tuples not cached): whether a report is
        /// walked with the other one or not, its ids are the map's.
        #[test]
        fn ids_through_a_reference_are_the_maps(
            first in proptest::collection::btree_set(0..160u32, 64..140),
            second in proptest::collection::btree_set(0..160u32, 64..140),
            uncached in proptest::collection::btree_set(0..160u32, 0..40),
        ) {
            let tuple = |k: u32| InstalledPackage {
                version: format!("{}.0-1", k % 3),
                ..pkg(&format!("p{:03}", k / 3), k.is_multiple_of(5).then_some("src"))
            };
            let i = Interner::default();
            i.remember(
                (0..160u32)
                    .filter(|k| !uncached.contains(k))
                    .map(|k| (i64::from(k) + 1, tuple(k))),
            );
            let hosts: Vec<Vec<InstalledPackage>> = [&first, &second, &first]
                .iter()
                .map(|set| set.iter().map(|k| tuple(*k)).collect())
                .collect();
            for host in &hosts {
                let checked = CheckedInventory::new(PackageFormat::Deb, host).unwrap();
                let (known, missing) = i.ids_of(&checked);
                proptest::prop_assert_eq!((known, missing.len()), by_map(&i, &checked));
            }
        }

        /// The count by ids agrees with the merge of every package, whichever of the
        /// packages are cached, just read, or new to the store.
        #[test]
        fn counts_by_id_agree_with_the_full_merge(
            old in proptest::collection::vec(small(), 0..24),
            new in proptest::collection::vec(small(), 0..24),
            cached in proptest::collection::vec(proptest::bool::ANY, 48),
        ) {
            let (old, new) = (distinct(old), distinct(new));
            let i = Interner::default();
            // Every distinct tuple of either side gets an id; old's are stored, each
            // cached or else read; some of new's only are cached.
            let mut ids: HashMap<InstalledPackage, i64> = HashMap::new();
            for p in old.iter().chain(&new) {
                let next = i64::try_from(ids.len()).unwrap() + 1;
                ids.entry(p.clone()).or_insert(next);
            }
            let mut read = Vec::new();
            for (p, id) in &ids {
                let in_cache = cached[usize::try_from(*id).unwrap() % cached.len()];
                if in_cache {
                    i.remember([(*id, p.clone())]);
                } else if old.contains(p) {
                    read.push((*id, p.clone()));
                }
            }
            let mut old_ids: Vec<i64> = old.iter().map(|p| ids[p]).collect();
            old_ids.sort_unstable();
            let checked = CheckedInventory::new(PackageFormat::Deb, &new).unwrap();
            let (change, known, missing) = i.ids_and_counts(&old_ids, &read, &checked).unwrap();
            proptest::prop_assert_eq!(change, crate::inventory_diff::count_changes(&old, &new));
            proptest::prop_assert_eq!(known.len() + missing.len(), new.len());
        }
    }
}
