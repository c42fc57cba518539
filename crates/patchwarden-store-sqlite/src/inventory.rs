//! Package inventories, content-addressed (`patchwarden_store::inventory_sets`): a
//! report writes the package tuples never seen before, the set if its content is new,
//! and the asset's pointer.

use crate::error::db_err;
use crate::{assets, audit};
use patchwarden_domain::clock::to_micros;
use patchwarden_domain::ids::AssetId;
use patchwarden_domain::package::{CheckedInventory, InstalledPackage};
use patchwarden_store::audit_drafts as drafts;
use patchwarden_store::inventory_diff::count_changes;
use patchwarden_store::inventory_sets::{
    contains_any, decode_ids, encode_ids, package_from_row, stored_source, Interner, Prepared,
};
use patchwarden_store::{AuditCtx, InventoryChange, Result, StoreError};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::collections::{BTreeSet, HashSet};

/// Rows per multi-row statement: 5 binds each stays well under SQLite's 32,766.
const BATCH: usize = 500;

/// (id, name, arch, version, source_name, source_version)
type PackageRow = (i64, String, String, String, String, String);

fn from_row((id, name, arch, version, sn, sv): PackageRow) -> (i64, InstalledPackage) {
    (id, package_from_row(name, arch, version, sn, sv))
}

/// Rows read or written inside a transaction: cached only once it committed (an id of
/// a rolled-back row could be handed out again for another tuple).
pub(crate) type Pending = Vec<(i64, InstalledPackage)>;

/// The ids of one set, and the rows of them the cache lacked, read from the database
/// (to cache once the reading transaction is known to see committed rows only).
async fn set_ids(
    conn: &mut SqliteConnection,
    interner: &Interner,
    hash: &str,
) -> Result<(Vec<i64>, Pending)> {
    let stored: Option<(Vec<u8>,)> =
        sqlx::query_as("SELECT package_ids FROM inventory_sets WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    let Some((stored,)) = stored else {
        return Err(StoreError::corrupt(format!(
            "inventory set {hash} is missing"
        )));
    };
    let ids = decode_ids(&stored)?;
    let missing = interner.uncached(&ids);
    let mut pending = Vec::new();
    for chunk in missing.chunks(BATCH) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT id, name, arch, version, source_name, source_version FROM packages WHERE id IN ",
        );
        crate::sql::push_list(&mut q, chunk.iter().copied());
        let rows: Vec<PackageRow> = q
            .build_query_as()
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        if rows.len() != chunk.len() {
            return Err(StoreError::corrupt(format!(
                "inventory set {hash} names packages that do not exist"
            )));
        }
        pending.extend(rows.into_iter().map(from_row));
    }
    Ok((ids, pending))
}

/// The packages of one set, sorted, and the rows read from the database for the cache.
async fn set_packages(
    conn: &mut SqliteConnection,
    interner: &Interner,
    hash: &str,
) -> Result<(Vec<InstalledPackage>, Pending)> {
    let (ids, pending) = set_ids(conn, interner, hash).await?;
    Ok((interner.packages_with(&ids, &pending), pending))
}

pub(crate) async fn get(
    conn: &mut SqliteConnection,
    interner: &Interner,
    id: AssetId,
) -> Result<Vec<InstalledPackage>> {
    let asset = assets::load(&mut *conn, id).await?;
    // A read connection sees committed rows only.
    match asset.inventory_hash {
        Some(hash) => {
            let (packages, read) = set_packages(conn, interner, &hash).await?;
            interner.remember(read);
            Ok(packages)
        }
        None => Ok(Vec::new()),
    }
}

/// The ids of `missing` (tuples the cache did not know), in its order, inserting the
/// ones `packages` does not hold yet: the rows to cache once the transaction commits.
///
/// Per chunk, one insert that returns nothing and one select that returns a single row
/// (every id, in the chunk's order): sqlx hands each row of a result from the
/// connection's thread to the caller's task on its own, which for `RETURNING` rows of
/// a few hundred new tuples cost more than the statements.
pub(crate) async fn intern(
    conn: &mut SqliteConnection,
    missing: &[&InstalledPackage],
) -> Result<Pending> {
    let mut fresh = Vec::with_capacity(missing.len());
    for chunk in missing.chunks(BATCH) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO packages (name, arch, version, source_name, source_version) ",
        );
        q.push_values(chunk, |mut b, p| {
            b.push_bind(p.name.as_str())
                .push_bind(p.arch.as_str())
                .push_bind(p.version.as_str())
                .push_bind(stored_source(p.source_name.as_deref()))
                .push_bind(stored_source(p.source_version.as_deref()));
        });
        // The ids in the same round trip: a join driven by the wanted tuples, so each
        // is one search of the unique index (SQLite answers `(name, …) IN (VALUES …)`
        // by scanning all of `packages`; CROSS JOIN keeps this order).
        q.push(
            " ON CONFLICT DO NOTHING; \
             SELECT count(*), group_concat(p.id, ',' ORDER BY v.column1) FROM (",
        );
        q.push_values(chunk.iter().enumerate(), |mut b, (i, p)| {
            b.push_bind(i64::try_from(i).unwrap_or(i64::MAX))
                .push_bind(p.name.as_str())
                .push_bind(p.arch.as_str())
                .push_bind(p.version.as_str())
                .push_bind(stored_source(p.source_name.as_deref()))
                .push_bind(stored_source(p.source_version.as_deref()));
        });
        q.push(
            ") AS v CROSS JOIN packages p ON p.name = v.column2 AND p.arch = v.column3 \
             AND p.version = v.column4 AND p.source_name = v.column5 \
             AND p.source_version = v.column6",
        );
        let (found, ids): (i64, Option<String>) = q
            .build_query_as()
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
        let ids = ids.unwrap_or_default();
        let ids = ids
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::parse::<i64>);
        if usize::try_from(found).ok() != Some(chunk.len()) {
            return Err(StoreError::Invalid(
                "a package could not be interned".to_owned(),
            ));
        }
        for (id, p) in ids.zip(chunk) {
            let id = id.map_err(|e| StoreError::corrupt(format!("package id: {e}")))?;
            fresh.push((id, (*p).clone()));
        }
    }
    if fresh.len() != missing.len() {
        return Err(StoreError::corrupt("package ids went astray"));
    }
    Ok(fresh)
}

/// Prepares a report (see [`Prepared`]) against the inventory the asset has now.
pub(crate) async fn prepare(
    conn: &mut SqliteConnection,
    interner: &Interner,
    id: AssetId,
    inventory: &CheckedInventory<'_>,
) -> Result<(Prepared, Pending)> {
    let asset = assets::load(&mut *conn, id).await?;
    prepare_against(conn, interner, asset.inventory_hash, inventory).await
}

/// Prepares a report against `based_on`, the inventory hash the asset had when read
/// (the stored set is read only to count against another inventory).
pub(crate) async fn prepare_against(
    conn: &mut SqliteConnection,
    interner: &Interner,
    based_on: Option<String>,
    inventory: &CheckedInventory<'_>,
) -> Result<(Prepared, Pending)> {
    let (old, read) = match based_on.as_deref() {
        Some(h) if h != inventory.hash() => set_ids(conn, interner, h).await?,
        _ => (Vec::new(), Vec::new()),
    };
    let prepared = Prepared::new(interner, inventory, based_on, &old, &read)?;
    Ok((prepared, read))
}

/// Writes a prepared report inside the caller's write transaction.
pub(crate) async fn apply(
    conn: &mut SqliteConnection,
    interner: &Interner,
    ctx: &AuditCtx,
    id: AssetId,
    p: &Prepared,
) -> Result<(InventoryChange, Pending)> {
    let asset = assets::load(&mut *conn, id).await?;
    let at = to_micros(ctx.at);
    let hash = &p.change.hash;
    if asset.inventory_hash.as_deref() == Some(hash.as_str()) {
        sqlx::query("UPDATE assets SET last_seen_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id.get())
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        return Ok((p.unchanged(), Vec::new()));
    }
    let mut pending = Vec::new();
    let change = if asset.inventory_hash == p.based_on {
        p.change.clone()
    } else {
        // Another report of this asset landed in between: count against that one.
        let (old, read) = match asset.inventory_hash.as_deref() {
            Some(h) => set_packages(&mut *conn, interner, h).await?,
            None => (Vec::new(), Vec::new()),
        };
        pending.extend(read);
        InventoryChange {
            hash: hash.clone(),
            ..count_changes(&old, &p.packages(interner)?)
        }
    };
    let missing: Vec<&InstalledPackage> = p.missing.iter().collect();
    let fresh = intern(&mut *conn, &missing).await?;
    let mut ids = p.known.clone();
    ids.extend(fresh.iter().map(|(id, _)| *id));
    pending.extend(fresh);
    sqlx::query(
        "INSERT INTO inventory_sets (hash, format, package_count, package_ids, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hash) DO NOTHING",
    )
    .bind(hash)
    .bind(p.format.as_str())
    .bind(p.count)
    .bind(encode_ids(&mut ids)?)
    .bind(at)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    sqlx::query(
        "UPDATE assets SET package_format = $1, package_count = $2, inventory_hash = $3, \
         last_seen_at = $4 WHERE id = $5",
    )
    .bind(p.format.as_str())
    .bind(p.count)
    .bind(hash)
    .bind(at)
    .bind(id.get())
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    let draft = drafts::inventory_replace(ctx, id, asset.inventory_hash.as_deref(), &change);
    audit::append(&mut *conn, draft, ctx.at).await?;
    Ok((change, pending))
}

/// Assets whose inventory has a package (binary or source) of one of `names`: the
/// matching package ids come from the index on `packages`, then each distinct set in
/// use is read once.
pub(crate) async fn assets_with_packages(
    conn: &mut SqliteConnection,
    names: &[String],
) -> Result<Vec<AssetId>> {
    let mut wanted = HashSet::new();
    for chunk in names.chunks(BATCH) {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT id FROM packages WHERE name IN ");
        crate::sql::push_list(&mut q, chunk.iter().map(|n| n.as_str()));
        q.push(" UNION SELECT id FROM packages WHERE source_name IN ");
        crate::sql::push_list(&mut q, chunk.iter().map(|n| n.as_str()));
        let rows: Vec<(i64,)> = q
            .build_query_as()
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        wanted.extend(rows.into_iter().map(|(id,)| id));
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let sets: Vec<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT hash, package_ids FROM inventory_sets \
         WHERE hash IN (SELECT inventory_hash FROM assets WHERE inventory_hash IS NOT NULL)",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    let hit: Vec<String> = sets
        .into_iter()
        .filter(|(_, ids)| contains_any(ids, &wanted))
        .map(|(hash, _)| hash)
        .collect();
    let mut ids = BTreeSet::new();
    for chunk in hit.chunks(BATCH) {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT id FROM assets WHERE inventory_hash IN ");
        crate::sql::push_list(&mut q, chunk.iter().map(|h| h.as_str()));
        let rows: Vec<(i64,)> = q
            .build_query_as()
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        ids.extend(rows.into_iter().map(|(id,)| id));
    }
    Ok(ids.into_iter().map(AssetId::new).collect())
}
