//! Package inventories: diffs, hashes, duplicates, multi-version packages.

use crate::fixtures::{all_events, ctx, last_event, new_asset, pkg, t, t0};
use crate::SharedStore;
use patchwarden_domain::ids::AssetId;
use patchwarden_domain::package::{
    inventory_hash, CheckedInventory, InstalledPackage, PackageFormat,
};
use patchwarden_store::{InventoryChange, StoreError};
use std::time::Instant;

fn counts(c: &InventoryChange) -> (u32, u32, u32, u32) {
    (c.added, c.removed, c.changed, c.unchanged)
}

fn sorted(mut v: Vec<InstalledPackage>) -> Vec<InstalledPackage> {
    v.sort_by(|a, b| (&a.name, &a.arch, &a.version).cmp(&(&b.name, &b.arch, &b.version)));
    v
}

async fn asset(s: &SharedStore, host: &str) -> AssetId {
    s.create_asset(&ctx(t0()), &new_asset(host, &[]))
        .await
        .unwrap()
        .id
}

pub(crate) async fn replace_diff_and_hash(s: SharedStore) {
    let id = asset(&s, "web-01.example.org").await;
    let mut libc = pkg("libc6", "amd64", "2.36-9+deb12u4");
    libc.source_name = Some("glibc".into());
    libc.source_version = Some("2.36-9+deb12u4".into());
    let v1 = vec![
        pkg("openssl", "amd64", "3.0.11-1~deb12u2"),
        libc.clone(),
        pkg("bash", "amd64", "5.2.15-2+b2"),
    ];
    let c = s
        .replace_inventory(&ctx(t(10)), id, PackageFormat::Deb, &v1)
        .await
        .unwrap();
    assert_eq!(counts(&c), (3, 0, 0, 0));
    assert_eq!(c.hash, inventory_hash(PackageFormat::Deb, &v1));
    let a = s.get_asset(id).await.unwrap();
    assert_eq!(a.package_format, Some(PackageFormat::Deb));
    assert_eq!(a.package_count, 3);
    assert_eq!(a.inventory_hash.as_deref(), Some(c.hash.as_str()));
    assert_eq!(a.last_seen_at, Some(t(10)));
    assert_eq!(
        s.get_inventory(id).await.unwrap(),
        sorted(v1.clone()),
        "ordered by name, arch, version"
    );
    let ev = last_event(&s).await;
    assert_eq!(
        (ev.action.as_str(), ev.target_id),
        ("asset.inventory", Some(id.to_string()))
    );
    assert_eq!(ev.before.as_deref(), Some(r#"{"inventory_hash":null}"#));
    assert!(ev.after.as_deref().unwrap().contains(&c.hash));

    // openssl upgraded, bash removed, curl added, libc unchanged.
    let v2 = vec![
        libc,
        pkg("openssl", "amd64", "3.0.13-1~deb12u1"),
        pkg("curl", "amd64", "7.88.1-10+deb12u5"),
    ];
    let c2 = s
        .replace_inventory(&ctx(t(20)), id, PackageFormat::Deb, &v2)
        .await
        .unwrap();
    assert_eq!(counts(&c2), (1, 1, 1, 1));
    assert_eq!(c2.hash, inventory_hash(PackageFormat::Deb, &v2));
    assert_eq!(s.get_inventory(id).await.unwrap(), sorted(v2.clone()));
    let ev = last_event(&s).await;
    assert!(
        ev.before.as_deref().unwrap().contains(&c.hash),
        "event names the old hash"
    );
    let a = s.get_asset(id).await.unwrap();
    assert_eq!((a.package_count, a.last_seen_at), (3, Some(t(20))));

    // Emptying the inventory is a change too.
    let c3 = s
        .replace_inventory(&ctx(t(30)), id, PackageFormat::Deb, &[])
        .await
        .unwrap();
    assert_eq!(counts(&c3), (0, 3, 0, 0));
    assert!(s.get_inventory(id).await.unwrap().is_empty());
    assert_eq!(s.get_asset(id).await.unwrap().package_count, 0);

    let missing = AssetId::new(id.get() + 1000);
    let r = s
        .replace_inventory(&ctx(t(40)), missing, PackageFormat::Deb, &v2)
        .await;
    assert!(matches!(r, Err(StoreError::NotFound { .. })), "{r:?}");
    assert!(matches!(
        s.get_inventory(missing).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub(crate) async fn unchanged_writes_no_event(s: SharedStore) {
    let id = asset(&s, "web-01.example.org").await;
    let v1 = vec![pkg("a", "amd64", "1"), pkg("b", "amd64", "2")];
    let c = s
        .replace_inventory(&ctx(t(10)), id, PackageFormat::Deb, &v1)
        .await
        .unwrap();
    let events = all_events(&s).await.len();
    let before = s.get_asset(id).await.unwrap();
    let reordered = vec![v1[1].clone(), v1[0].clone()];
    let c2 = s
        .replace_inventory(&ctx(t(60)), id, PackageFormat::Deb, &reordered)
        .await
        .unwrap();
    assert!(c2.is_unchanged());
    assert_eq!((c2.unchanged, c2.hash.as_str()), (2, c.hash.as_str()));
    assert_eq!(
        all_events(&s).await.len(),
        events,
        "an unchanged inventory is not audited"
    );
    let after = s.get_asset(id).await.unwrap();
    assert_eq!(after.last_seen_at, Some(t(60)));
    assert_eq!(after.updated_at, before.updated_at);
    assert_eq!(after.inventory_hash, before.inventory_hash);
    // Same packages under another format: a different inventory.
    let c3 = s
        .replace_inventory(&ctx(t(70)), id, PackageFormat::Apk, &v1)
        .await
        .unwrap();
    assert_ne!(c3.hash, c.hash);
    assert_eq!(all_events(&s).await.len(), events + 1);
    assert_eq!(
        s.get_asset(id).await.unwrap().package_format,
        Some(PackageFormat::Apk)
    );
}

/// `replace_checked_inventory_of` with the asset as read before other reports landed:
/// each answer counts against the inventory the asset really held, as
/// `replace_checked_inventory` does.
pub(crate) async fn report_of_an_asset_read_earlier(s: SharedStore) {
    let id = asset(&s, "web-01.example.org").await;
    let fresh = s.get_asset(id).await.unwrap();
    let v1 = vec![pkg("a", "amd64", "1"), pkg("b", "amd64", "2")];
    let checked = CheckedInventory::new(PackageFormat::Deb, &v1).unwrap();
    let c = s
        .replace_checked_inventory_of(&ctx(t(10)), &fresh, &checked)
        .await
        .unwrap();
    assert_eq!(counts(&c), (2, 0, 0, 0));
    let read = s.get_asset(id).await.unwrap();
    let v2 = vec![pkg("a", "amd64", "1"), pkg("c", "amd64", "3")];
    s.replace_inventory(&ctx(t(20)), id, PackageFormat::Deb, &v2)
        .await
        .unwrap();
    // Read when it held v1; it holds v2 now.
    let v3 = vec![pkg("a", "amd64", "9"), pkg("c", "amd64", "3")];
    let checked = CheckedInventory::new(PackageFormat::Deb, &v3).unwrap();
    let c = s
        .replace_checked_inventory_of(&ctx(t(30)), &read, &checked)
        .await
        .unwrap();
    assert_eq!(counts(&c), (0, 0, 1, 1), "counted against v2");
    // Read as empty, and it holds v3 already: unchanged, no event.
    let events = all_events(&s).await.len();
    let c = s
        .replace_checked_inventory_of(&ctx(t(40)), &fresh, &checked)
        .await
        .unwrap();
    assert!(c.is_unchanged());
    assert_eq!(all_events(&s).await.len(), events);
    assert_eq!(s.get_asset(id).await.unwrap().last_seen_at, Some(t(40)));
    assert_eq!(s.get_inventory(id).await.unwrap(), sorted(v3.clone()));
    let gone = AssetId::new(id.get() + 1000);
    let mut missing = fresh.clone();
    missing.id = gone;
    assert!(matches!(
        s.replace_checked_inventory_of(&ctx(t(50)), &missing, &checked)
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

pub(crate) async fn duplicates_rejected(s: SharedStore) {
    let id = asset(&s, "web-01.example.org").await;
    let v1 = vec![pkg("a", "amd64", "1")];
    s.replace_inventory(&ctx(t(10)), id, PackageFormat::Deb, &v1)
        .await
        .unwrap();
    let events = all_events(&s).await.len();
    let dup = vec![
        pkg("b", "amd64", "1"),
        pkg("c", "amd64", "1"),
        pkg("b", "amd64", "1"),
    ];
    let r = s
        .replace_inventory(&ctx(t(20)), id, PackageFormat::Deb, &dup)
        .await;
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");
    assert_eq!(
        s.get_inventory(id).await.unwrap(),
        v1,
        "a rejected inventory changes nothing"
    );
    assert_eq!(s.get_asset(id).await.unwrap().last_seen_at, Some(t(10)));
    assert_eq!(all_events(&s).await.len(), events);
    // Same name and version on two architectures is not a duplicate.
    let multi = vec![pkg("libc6", "amd64", "2.36"), pkg("libc6", "i386", "2.36")];
    let c = s
        .replace_inventory(&ctx(t(30)), id, PackageFormat::Deb, &multi)
        .await
        .unwrap();
    assert_eq!(counts(&c), (2, 1, 0, 0));
}

pub(crate) async fn multi_version_kernels(s: SharedStore) {
    let id = asset(&s, "alma-01.example.org").await;
    let k = |v: &str| pkg("kernel-core", "x86_64", v);
    let v1 = vec![
        k("5.14.0-427.13.1.el9_4"),
        k("5.14.0-362.24.1.el9_3"),
        pkg("bash", "x86_64", "5.1.8-9.el9"),
    ];
    let c = s
        .replace_inventory(&ctx(t(10)), id, PackageFormat::Rpm, &v1)
        .await
        .unwrap();
    assert_eq!(counts(&c), (3, 0, 0, 0));
    let inv = s.get_inventory(id).await.unwrap();
    assert_eq!(inv, sorted(v1.clone()));
    assert_eq!(inv.iter().filter(|p| p.name == "kernel-core").count(), 2);
    // The oldest kernel is removed, a newer one installed, one stays.
    let v2 = vec![
        k("5.14.0-427.13.1.el9_4"),
        k("5.14.0-427.16.1.el9_4"),
        pkg("bash", "x86_64", "5.1.8-9.el9"),
    ];
    let c = s
        .replace_inventory(&ctx(t(20)), id, PackageFormat::Rpm, &v2)
        .await
        .unwrap();
    assert_eq!(counts(&c), (0, 0, 1, 2));
    assert_eq!(s.get_inventory(id).await.unwrap(), sorted(v2.clone()));
    // A third kernel is added next to both.
    let mut v3 = v2.clone();
    v3.push(k("5.14.0-503.11.1.el9_5"));
    let c = s
        .replace_inventory(&ctx(t(30)), id, PackageFormat::Rpm, &v3)
        .await
        .unwrap();
    assert_eq!(counts(&c), (1, 0, 0, 3));
    assert_eq!(s.get_asset(id).await.unwrap().package_count, 4);
}

pub(crate) async fn large_inventory(s: SharedStore) {
    let id = asset(&s, "big-01.example.org").await;
    let v1: Vec<_> = (0..2000)
        .map(|i| pkg(&format!("pkg-{i:04}"), "amd64", &format!("1.{i}")))
        .collect();
    let started = Instant::now();
    let c = s
        .replace_inventory(&ctx(t(10)), id, PackageFormat::Deb, &v1)
        .await
        .unwrap();
    let first = started.elapsed();
    assert_eq!(counts(&c), (2000, 0, 0, 0));
    let mut v2 = v1.clone();
    for p in v2.iter_mut().step_by(200) {
        p.version.push_str("+sec1");
    }
    v2.truncate(1990);
    v2.push(pkg("new-tool", "amd64", "0.1"));
    let started = Instant::now();
    let c = s
        .replace_inventory(&ctx(t(20)), id, PackageFormat::Deb, &v2)
        .await
        .unwrap();
    let second = started.elapsed();
    assert_eq!(counts(&c), (1, 10, 10, 1980));
    let inv = s.get_inventory(id).await.unwrap();
    assert_eq!(inv.len(), 1991);
    assert_eq!(inv, sorted(v2.clone()));
    let started = Instant::now();
    let c = s
        .replace_inventory(&ctx(t(30)), id, PackageFormat::Deb, &v2)
        .await
        .unwrap();
    assert!(c.is_unchanged());
    println!(
        "    2,000 packages: first {first:?}, 21 changes {second:?}, unchanged {:?}",
        started.elapsed()
    );
}

pub(crate) async fn delete_asset_cascades(s: SharedStore) {
    let id = asset(&s, "web-01.example.org").await;
    let v1 = vec![pkg("a", "amd64", "1"), pkg("b", "amd64", "2")];
    s.replace_inventory(&ctx(t(10)), id, PackageFormat::Deb, &v1)
        .await
        .unwrap();
    s.delete_asset(&ctx(t(20)), id).await.unwrap();
    assert!(matches!(
        s.get_inventory(id).await,
        Err(StoreError::NotFound { .. })
    ));
    let again = asset(&s, "web-01.example.org").await;
    assert!(
        s.get_inventory(again).await.unwrap().is_empty(),
        "no orphaned packages"
    );
    let c = s
        .replace_inventory(&ctx(t(30)), again, PackageFormat::Deb, &v1)
        .await
        .unwrap();
    assert_eq!(counts(&c), (2, 0, 0, 0));
}

/// Many reports at once (the SQLite backend writes them with group commit): identical
/// inventories of different hosts, distinct ones, a report for an asset that does not
/// exist in the middle of them, and a duplicate-package report. Each caller gets its
/// own answer, the failing ones change nothing, and every stored inventory reads back.
pub(crate) async fn concurrent_reports(s: SharedStore) {
    let base: Vec<InstalledPackage> = (0..300)
        .map(|i| pkg(&format!("lib{i:03}"), "amd64", &format!("1.{i}-1")))
        .collect();
    let mut ids = Vec::new();
    for i in 0..24 {
        ids.push(asset(&s, &format!("node-{i:02}.example.org")).await);
    }
    let inventory_of = |i: usize| -> Vec<InstalledPackage> {
        let mut v = base.clone();
        if i % 2 == 1 {
            // Odd hosts: one package upgraded, one extra, distinct per host.
            v[i].version = format!("2.{i}-1");
            v.push(pkg(&format!("extra-{i}"), "all", "1"));
        }
        v
    };
    let missing = AssetId::new(ids.last().unwrap().get() + 1000);
    let mut dup = base.clone();
    dup.push(base[0].clone());
    let mut tasks = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let (store, id, inv) = (s.clone(), *id, inventory_of(i));
        tasks.push(tokio::spawn(async move {
            store
                .replace_inventory(&ctx(t(10)), id, PackageFormat::Deb, &inv)
                .await
        }));
        if i == 7 {
            let (store, base) = (s.clone(), base.clone());
            tasks.push(tokio::spawn(async move {
                store
                    .replace_inventory(&ctx(t(10)), missing, PackageFormat::Deb, &base)
                    .await
            }));
        }
        if i == 15 {
            let (store, dup, first) = (s.clone(), dup.clone(), ids[0]);
            tasks.push(tokio::spawn(async move {
                store
                    .replace_inventory(&ctx(t(10)), first, PackageFormat::Deb, &dup)
                    .await
            }));
        }
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let not_found = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::NotFound { .. })))
        .count();
    let invalid = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Invalid(_))))
        .count();
    assert_eq!((not_found, invalid), (1, 1), "{results:?}");
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), ids.len());
    for (i, id) in ids.iter().enumerate() {
        let want = inventory_of(i);
        assert_eq!(
            s.get_inventory(*id).await.unwrap(),
            sorted(want.clone()),
            "host {i}"
        );
        let a = s.get_asset(*id).await.unwrap();
        assert_eq!(
            a.inventory_hash.as_deref(),
            Some(inventory_hash(PackageFormat::Deb, &want).as_str())
        );
        assert_eq!(a.package_count as usize, want.len());
    }
    // A host moving to the image another host already has reads back that image.
    let c = s
        .replace_inventory(&ctx(t(20)), ids[1], PackageFormat::Deb, &base)
        .await
        .unwrap();
    assert_eq!(counts(&c), (0, 1, 1, 299));
    assert_eq!(s.get_inventory(ids[1]).await.unwrap(), sorted(base.clone()));
    assert_eq!(
        s.get_inventory(ids[3]).await.unwrap(),
        sorted(inventory_of(3)),
        "another host's inventory is untouched"
    );
    // One audit event per stored report, none for the refused ones.
    let events = all_events(&s).await;
    let inventory_events = events
        .iter()
        .filter(|e| e.action == "asset.inventory")
        .count();
    assert_eq!(inventory_events, ids.len() + 1);

    // Reports of one asset racing each other (each prepared against whatever inventory
    // the asset had when it started): every answer counts against the inventory it
    // really replaced, and the asset ends with the last one written.
    let a = base.clone();
    let mut b = base.clone();
    b[0].version = "9.9-9".into();
    b.pop();
    let (ab, ba) = (count_changes_of(&a, &b), count_changes_of(&b, &a));
    let host = ids[2];
    let mut racing = Vec::new();
    for i in 0..16 {
        let (store, inv) = (s.clone(), if i % 2 == 0 { b.clone() } else { a.clone() });
        racing.push(tokio::spawn(async move {
            store
                .replace_inventory(&ctx(t(30 + i)), host, PackageFormat::Deb, &inv)
                .await
                .unwrap()
        }));
    }
    for r in racing {
        let c = r.await.unwrap();
        let got = counts(&c);
        assert!(
            c.is_unchanged() || got == ab || got == ba,
            "{got:?} is neither unchanged nor {ab:?} / {ba:?}"
        );
    }
    let last = s.get_asset(host).await.unwrap().inventory_hash.unwrap();
    let now = s.get_inventory(host).await.unwrap();
    assert_eq!(inventory_hash(PackageFormat::Deb, &now), last);
}

fn count_changes_of(old: &[InstalledPackage], new: &[InstalledPackage]) -> (u32, u32, u32, u32) {
    counts(&patchwarden_store::inventory_diff::count_changes(old, new))
}
