//! The difference between two package inventories, computed once for every backend.
//!
//! Inventories are keyed by (name, arch, version): RPM hosts may have several versions
//! of one name and architecture installed at once (kernels). Within each (name, arch)
//! group, versions present on both sides are *unchanged*, and the versions that only
//! one side has are paired up as *changed* (an upgrade or downgrade); what is left over
//! is *added* or *removed*.

use crate::model::InventoryChange;
use crate::StoreError;
use patchwarden_domain::package::{InstalledPackage, PackageRef};

type Key<'a> = (&'a str, &'a str, &'a str);

fn key(p: &InstalledPackage) -> Key<'_> {
    (&p.name, &p.arch, &p.version)
}

/// Rejects an inventory that lists the same (name, arch, version) twice.
pub fn check_no_duplicates(packages: &[InstalledPackage]) -> Result<(), StoreError> {
    let mut keys: Vec<Key<'_>> = packages.iter().map(key).collect();
    keys.sort_unstable();
    match keys.windows(2).find(|w| w[0] == w[1]) {
        Some(w) => Err(StoreError::Invalid(format!(
            "package {} {} ({}) is listed twice",
            w[0].0,
            w[0].2,
            if w[0].1.is_empty() { "no arch" } else { w[0].1 }
        ))),
        None => Ok(()),
    }
}

fn sorted_refs(v: &[InstalledPackage]) -> Vec<PackageRef<'_>> {
    let mut r: Vec<PackageRef<'_>> = v.iter().map(InstalledPackage::borrowed).collect();
    r.sort_unstable_by_key(PackageRef::key);
    r
}

/// The counts of the change from `old` to `new` (the hash is left empty: callers have
/// it), by one merge of the two inventories sorted by (name, arch, version). Both must
/// be free of duplicate (name, arch, version) keys ([`check_no_duplicates`]).
pub fn count_changes(old: &[InstalledPackage], new: &[InstalledPackage]) -> InventoryChange {
    count_changes_sorted(&sorted_refs(old), &sorted_refs(new))
}

/// [`count_changes`] of two inventories already sorted by (name, arch, version) (as
/// [`patchwarden_domain::package::CheckedInventory::sorted`] gives them).
pub fn count_changes_sorted(old: &[PackageRef<'_>], new: &[PackageRef<'_>]) -> InventoryChange {
    debug_assert!(old.is_sorted_by_key(PackageRef::key) && new.is_sorted_by_key(PackageRef::key));
    let mut change = InventoryChange::default();
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        // One (name, arch) group from each side.
        let group = match (old.get(i), new.get(j)) {
            (Some(o), Some(n)) => (o.name, o.arch).min((n.name, n.arch)),
            (Some(o), None) => (o.name, o.arch),
            (None, Some(n)) => (n.name, n.arch),
            (None, None) => break,
        };
        let in_group = |p: &&PackageRef<'_>| (p.name, p.arch) == group;
        let oe = i + old[i..].iter().take_while(in_group).count();
        let ne = j + new[j..].iter().take_while(in_group).count();
        let (mut only_old, mut only_new) = (0u32, 0u32);
        let (mut a, mut b) = (i, j);
        while a < oe || b < ne {
            match (old[a..oe].first(), new[b..ne].first()) {
                (Some(o), Some(n)) if o.version == n.version => {
                    if o == n {
                        change.unchanged += 1;
                    } else {
                        change.changed += 1;
                    }
                    a += 1;
                    b += 1;
                }
                (Some(o), Some(n)) if o.version < n.version => {
                    only_old += 1;
                    a += 1;
                }
                (Some(_), None) => {
                    only_old += 1;
                    a += 1;
                }
                _ => {
                    only_new += 1;
                    b += 1;
                }
            }
        }
        let paired = only_old.min(only_new);
        change.changed += paired;
        change.added += only_new - paired;
        change.removed += only_old - paired;
        (i, j) = (oe, ne);
    }
    change
}

#[cfg(test)]
mod tests {
    use super::*;
    use patchwarden_domain::package::{inventory_hash, PackageFormat};
    use std::collections::BTreeMap;

    /// The reference implementation [`count_changes`] is checked against: a map of maps,
    /// and the rows a row-per-package store would delete and insert.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct InventoryPlan<'a> {
        /// Counts and the hash of the new inventory.
        pub change: InventoryChange,
        /// Stored rows to delete (their key no longer exists, or its source fields
        /// changed).
        pub delete: Vec<&'a InstalledPackage>,
        /// Rows to insert (after the deletes).
        pub insert: Vec<&'a InstalledPackage>,
    }

    /// Plans the change from `old` (stored, assumed free of duplicates) to `new`.
    /// [`StoreError::Invalid`] when `new` lists a (name, arch, version) twice.
    fn plan_inventory<'a>(
        format: PackageFormat,
        old: &'a [InstalledPackage],
        new: &'a [InstalledPackage],
    ) -> Result<InventoryPlan<'a>, StoreError> {
        check_no_duplicates(new)?;
        // (name, arch) -> version -> (old row, new row)
        type Sides<'a> = (Option<&'a InstalledPackage>, Option<&'a InstalledPackage>);
        let mut groups: BTreeMap<(&str, &str), BTreeMap<&str, Sides<'a>>> = BTreeMap::new();
        for p in old {
            let e = groups.entry((&p.name, &p.arch)).or_default();
            e.entry(&p.version).or_default().0 = Some(p);
        }
        for p in new {
            let e = groups.entry((&p.name, &p.arch)).or_default();
            e.entry(&p.version).or_default().1 = Some(p);
        }
        let mut change = InventoryChange {
            hash: inventory_hash(format, new),
            ..InventoryChange::default()
        };
        let (mut delete, mut insert) = (Vec::new(), Vec::new());
        for versions in groups.values() {
            let (mut only_old, mut only_new) = (0u32, 0u32);
            for sides in versions.values() {
                match *sides {
                    (Some(o), Some(n)) if o == n => change.unchanged += 1,
                    (Some(o), Some(n)) => {
                        // Same version, different source package: rewrite the row.
                        change.changed += 1;
                        delete.push(o);
                        insert.push(n);
                    }
                    (Some(o), None) => {
                        only_old += 1;
                        delete.push(o);
                    }
                    (None, Some(n)) => {
                        only_new += 1;
                        insert.push(n);
                    }
                    (None, None) => {}
                }
            }
            let paired = only_old.min(only_new);
            change.changed += paired;
            change.added += only_new - paired;
            change.removed += only_old - paired;
        }
        Ok(InventoryPlan {
            change,
            delete,
            insert,
        })
    }

    fn p(name: &str, arch: &str, version: &str) -> InstalledPackage {
        InstalledPackage {
            name: name.into(),
            version: version.into(),
            arch: arch.into(),
            source_name: None,
            source_version: None,
        }
    }

    #[test]
    fn counts_added_removed_changed_unchanged() {
        let old = [
            p("bash", "amd64", "5.1"),
            p("curl", "amd64", "7.88"),
            p("vim", "amd64", "9.0"),
        ];
        let new = [
            p("bash", "amd64", "5.1"),
            p("curl", "amd64", "7.89"),
            p("zsh", "amd64", "5.9"),
        ];
        let plan = plan_inventory(PackageFormat::Deb, &old, &new).unwrap();
        assert_eq!(
            (
                plan.change.added,
                plan.change.removed,
                plan.change.changed,
                plan.change.unchanged
            ),
            (1, 1, 1, 1)
        );
        assert_eq!(plan.change.hash, inventory_hash(PackageFormat::Deb, &new));
        let del: Vec<_> = plan.delete.iter().map(|p| p.name.as_str()).collect();
        let ins: Vec<_> = plan.insert.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(del, ["curl", "vim"]);
        assert_eq!(ins, ["curl", "zsh"]);
    }

    #[test]
    fn kernels_with_several_versions() {
        let old = [
            p("kernel", "x86_64", "5.14.0-1"),
            p("kernel", "x86_64", "5.14.0-2"),
        ];
        let new = [
            p("kernel", "x86_64", "5.14.0-2"),
            p("kernel", "x86_64", "5.14.0-3"),
            p("kernel", "x86_64", "5.14.0-4"),
        ];
        let c = count_changes(&old, &new);
        assert_eq!((c.added, c.removed, c.changed, c.unchanged), (1, 0, 1, 1));
        // Same name, other arch is its own group.
        let new = [p("kernel", "aarch64", "5.14.0-1")];
        let c = count_changes(&old, &new);
        assert_eq!((c.added, c.removed, c.changed, c.unchanged), (1, 2, 0, 0));
    }

    #[test]
    fn source_change_rewrites_the_row() {
        let old = [p("libc6", "amd64", "2.36")];
        let mut n = p("libc6", "amd64", "2.36");
        n.source_name = Some("glibc".into());
        let new = [n];
        let plan = plan_inventory(PackageFormat::Deb, &old, &new).unwrap();
        assert_eq!(plan.change.changed, 1);
        assert_eq!((plan.delete.len(), plan.insert.len()), (1, 1));
        assert_eq!(count_changes(&old, &new).changed, 1);
    }

    #[test]
    fn exact_duplicates_are_rejected() {
        let new = [p("bash", "amd64", "5.1"), p("bash", "amd64", "5.1")];
        let err = plan_inventory(PackageFormat::Deb, &[], &new).unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid(ref m) if m.contains("bash")),
            "{err}"
        );
    }

    #[test]
    fn identical_inventories_are_unchanged_in_any_order() {
        let old = [p("a", "", "1"), p("b", "", "2")];
        let new = [p("b", "", "2"), p("a", "", "1")];
        let c = count_changes(&old, &new);
        assert!(c.is_unchanged());
        assert_eq!(c.unchanged, 2);
        assert_eq!(
            inventory_hash(PackageFormat::Apk, &new),
            inventory_hash(PackageFormat::Apk, &old)
        );
    }

    #[test]
    fn count_changes_agrees_with_plan_inventory() {
        // Deterministic pseudo-random inventories over a small name/version space, so
        // groups with several versions (kernels), upgrades, removals and source
        // changes all occur.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..2000 {
            let mut side = |len: u64| {
                let mut v: Vec<InstalledPackage> = (0..next(len))
                    .map(|_| {
                        let mut pkg = p(
                            &format!("n{}", next(6)),
                            ["amd64", "all"][next(2) as usize],
                            &format!("1.{}", next(4)),
                        );
                        if next(4) == 0 {
                            pkg.source_name = Some(format!("s{}", next(2)));
                        }
                        pkg
                    })
                    .collect();
                v.sort_by(|a, b| key(a).cmp(&key(b)));
                v.dedup_by(|a, b| key(a) == key(b));
                v
            };
            let (old, new) = (side(12), side(12));
            let planned = plan_inventory(PackageFormat::Deb, &old, &new)
                .unwrap()
                .change;
            let counted = count_changes(&old, &new);
            assert_eq!(
                (
                    counted.added,
                    counted.removed,
                    counted.changed,
                    counted.unchanged
                ),
                (
                    planned.added,
                    planned.removed,
                    planned.changed,
                    planned.unchanged
                ),
                "{old:?} -> {new:?}"
            );
        }
    }
}
