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
use std::collections::{BTreeSet, HashMap, HashSet};

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
        let rows: Vec<PackageRow> = crate::sql::build_as(&mut q)
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

/// Rows a catch-up reads per statement (each chunk is cached before the next is read,
/// so a first catch-up of a large table never holds it twice).
pub(crate) const CATCH_UP_CHUNK: i64 = 20_000;

/// Reads the `packages` rows the cache lacks (every row above [`Interner::through`]),
/// on a connection that sees committed rows only or inside a write transaction that
/// wrote no tuple yet. Once, the first time, that is the whole table.
///
/// In chunks of ascending ids, each its own statement: ids are given in commit order
/// (a writer gives the next id above every committed one, and no other writer commits
/// meanwhile), so a row committed after a chunk was read has a higher id than every
/// row that chunk saw, and is read by a later chunk or catch-up.
pub(crate) async fn catch_up(conn: &mut SqliteConnection, interner: &Interner) -> Result<()> {
    loop {
        let after = interner.through();
        let rows: Vec<PackageRow> = sqlx::query_as(
            "SELECT id, name, arch, version, source_name, source_version FROM packages \
             WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(CATCH_UP_CHUNK)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        let full = i64::try_from(rows.len()).is_ok_and(|n| n == CATCH_UP_CHUNK);
        interner.catch_up(after, rows.into_iter().map(from_row).collect());
        if !full {
            return Ok(());
        }
    }
}

/// The tuple dictionary inside one write transaction.
///
/// `packages` has no unique index (migration 0010): each new tuple would land on a
/// random leaf of it, and those pages were most of what a first report wrote. Whether a
/// tuple is stored is decided here instead, from the cache: in the write transaction
/// (which no other writer can commit beside) it first reads the rows above
/// [`Interner::through`], so that the cache holds every stored tuple, and then gives
/// each tuple it lacks the next id. Rows are cached once the transaction committed
/// ([`Tuples::commit`]).
#[derive(Debug, Default)]
pub(crate) struct Tuples {
    /// The highest id stored before this transaction, once read.
    base: Option<i64>,
    /// The tuples this transaction added, ids `base + 1` on.
    fresh: Vec<(i64, InstalledPackage)>,
    /// Index into `fresh` by package.
    local: HashMap<InstalledPackage, usize>,
}

impl Tuples {
    /// The id of each of `wanted` (in order), giving the next id to each tuple stored
    /// neither before nor in this transaction; the rows to insert are then
    /// `fresh()[mark..]`, where `mark` is [`Tuples::mark`] before the call.
    pub(crate) async fn resolve(
        &mut self,
        conn: &mut SqliteConnection,
        interner: &Interner,
        wanted: &[&InstalledPackage],
    ) -> Result<Vec<i64>> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let base = match self.base {
            Some(base) => base,
            None => {
                // Before this transaction wrote any tuple, so only committed rows.
                catch_up(&mut *conn, interner).await?;
                let base = interner.through();
                self.base = Some(base);
                base
            }
        };
        let mut ids = Vec::with_capacity(wanted.len());
        for p in wanted {
            if let Some(at) = self.local.get(*p) {
                ids.push(self.fresh[*at].0);
            } else if let Some(id) = interner.id_of(p) {
                ids.push(id);
            } else {
                let next = i64::try_from(self.fresh.len())
                    .ok()
                    .and_then(|n| base.checked_add(n + 1))
                    .ok_or_else(|| StoreError::Invalid("package ids exhausted".to_owned()))?;
                self.local.insert((*p).clone(), self.fresh.len());
                self.fresh.push((next, (*p).clone()));
                ids.push(next);
            }
        }
        Ok(ids)
    }

    /// Where `fresh` ends now.
    pub(crate) fn mark(&self) -> usize {
        self.fresh.len()
    }

    /// The tuples this transaction added.
    pub(crate) fn fresh(&self) -> &[(i64, InstalledPackage)] {
        &self.fresh
    }

    /// Forgets the tuples added after `mark` (their savepoint was rolled back).
    pub(crate) fn rollback_to(&mut self, mark: usize) {
        for (_, p) in self.fresh.drain(mark..) {
            self.local.remove(&p);
        }
    }

    /// Caches the tuples once their transaction committed.
    pub(crate) fn commit(self, interner: &Interner) {
        if let Some(base) = self.base {
            interner.catch_up(base, self.fresh);
        }
    }
}

/// Pushes the inserts of `rows` (with their ids) onto `q`, each statement ending with
/// `;`; whether one was pushed.
pub(crate) fn push_inserts<'a>(
    q: &mut QueryBuilder<'a, Sqlite>,
    rows: &'a [(i64, InstalledPackage)],
) -> bool {
    for chunk in rows.chunks(BATCH) {
        q.push("INSERT INTO packages (id, name, arch, version, source_name, source_version) ");
        q.push_values(chunk, |mut b, (id, p)| {
            b.push_bind(*id)
                .push_bind(p.name.as_str())
                .push_bind(p.arch.as_str())
                .push_bind(p.version.as_str())
                .push_bind(stored_source(p.source_name.as_deref()))
                .push_bind(stored_source(p.source_version.as_deref()));
        });
        q.push("; ");
    }
    !rows.is_empty()
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

/// Writes a prepared report inside the caller's write transaction, new tuples through
/// its `tuples`.
pub(crate) async fn apply(
    conn: &mut SqliteConnection,
    interner: &Interner,
    tuples: &mut Tuples,
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
    let mark = tuples.mark();
    let mut ids = p.known.clone();
    ids.extend(tuples.resolve(&mut *conn, interner, &missing).await?);
    let mut q = QueryBuilder::<Sqlite>::new("");
    if push_inserts(&mut q, &tuples.fresh()[mark..]) {
        crate::sql::build(&mut q)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
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
/// matching package ids from one scan of `packages` (it has no index on names; the
/// names are one JSON array, which SQLite turns into a temporary index), then each
/// distinct set in use is read once. A scan rather than the in-memory dictionary: a
/// command-line advisory import would otherwise read the whole table into memory.
pub(crate) async fn assets_with_packages(
    conn: &mut SqliteConnection,
    names: &[String],
) -> Result<Vec<AssetId>> {
    let names = serde_json::to_string(names).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let ids: (String,) = sqlx::query_as(
        "SELECT json_group_array(id) FROM packages \
         WHERE name IN (SELECT value FROM json_each($1)) \
         OR (source_name <> '' AND source_name IN (SELECT value FROM json_each($1)))",
    )
    .bind(&names)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    let wanted: HashSet<i64> = serde_json::from_str(&ids.0)
        .map_err(|e| StoreError::corrupt(format!("package ids: {e}")))?;
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
        let rows: Vec<(i64,)> = crate::sql::build_as(&mut q)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        ids.extend(rows.into_iter().map(|(id,)| id));
    }
    Ok(ids.into_iter().map(AssetId::new).collect())
}
