//! Assets and their groups.

use crate::audit;
use crate::error::{conflict, db_err};
use crate::rows::{self, ASSET_COLS};
use patchwarden_domain::asset::{Hostname, Label};
use patchwarden_domain::clock::to_micros;
use patchwarden_domain::ids::AssetId;
use patchwarden_store::audit_drafts as drafts;
use patchwarden_store::{Asset, AssetFilter, AssetPatch, AuditCtx, NewAsset, Result, StoreError};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};

fn taken(h: &Hostname) -> impl FnOnce() -> String + '_ {
    move || format!("host name {h} is already registered")
}

pub(crate) async fn load(conn: &mut SqliteConnection, id: AssetId) -> Result<Asset> {
    let sql = format!("SELECT {ASSET_COLS} FROM assets a WHERE a.id = $1");
    let row = sqlx::query(&sql)
        .bind(id.get())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .ok_or(StoreError::NotFound { entity: "asset" })?;
    rows::asset(&row)
}

async fn set_groups(conn: &mut SqliteConnection, id: AssetId, groups: &[Label]) -> Result<()> {
    sqlx::query("DELETE FROM asset_groups WHERE asset_id = $1")
        .bind(id.get())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    let mut labels: Vec<&str> = groups.iter().map(Label::as_str).collect();
    labels.sort_unstable();
    labels.dedup();
    for chunk in labels.chunks(500) {
        let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO asset_groups (asset_id, label) ");
        q.push_values(chunk, |mut b, l| {
            b.push_bind(id.get()).push_bind(*l);
        });
        crate::sql::build(&mut q)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

pub(crate) async fn create(pool: &SqlitePool, ctx: &AuditCtx, new: &NewAsset) -> Result<Asset> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
    let asset = insert(&mut tx, ctx, new).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(asset)
}

/// Creates an asset and audits it inside the caller's (write) transaction.
pub(crate) async fn insert(
    tx: &mut SqliteConnection,
    ctx: &AuditCtx,
    new: &NewAsset,
) -> Result<Asset> {
    let at = to_micros(ctx.at);
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO assets (hostname, kind, os_family, os_distribution, os_release, os_arch, \
         environment, criticality, owner, protected_data, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id",
    )
    .bind(new.hostname.as_str())
    .bind(new.kind.as_str())
    .bind(new.os.family.as_str())
    .bind(&new.os.distribution)
    .bind(&new.os.release)
    .bind(&new.os.arch)
    .bind(new.environment.as_str())
    .bind(new.criticality.as_str())
    .bind(&new.owner)
    .bind(new.protected_data)
    .bind(at)
    .fetch_one(&mut *tx)
    .await
    .map_err(conflict(taken(&new.hostname)))?;
    let id = AssetId::new(id);
    set_groups(tx, id, &new.groups).await?;
    let asset = load(tx, id).await?;
    audit::append(tx, drafts::asset_create(ctx, &asset), ctx.at).await?;
    Ok(asset)
}

pub(crate) async fn find_by_hostname(
    conn: &mut SqliteConnection,
    hostname: &str,
) -> Result<Option<Asset>> {
    let sql = format!("SELECT {ASSET_COLS} FROM assets a WHERE a.hostname = $1");
    let row = sqlx::query(&sql)
        .bind(hostname.trim().trim_end_matches('.').to_ascii_lowercase())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    row.as_ref().map(rows::asset).transpose()
}

pub(crate) async fn list(conn: &mut SqliteConnection, f: &AssetFilter) -> Result<Vec<Asset>> {
    let mut q =
        QueryBuilder::<Sqlite>::new(format!("SELECT {ASSET_COLS} FROM assets a WHERE a.id > "));
    q.push_bind(f.after.map_or(0, AssetId::get));
    if let Some(e) = f.environment {
        q.push(" AND a.environment = ").push_bind(e.as_str());
    }
    if let Some(c) = f.criticality {
        q.push(" AND a.criticality = ").push_bind(c.as_str());
    }
    if let Some(g) = &f.group {
        q.push(" AND EXISTS (SELECT 1 FROM asset_groups g WHERE g.asset_id = a.id AND g.label = ")
            .push_bind(g.as_str().to_owned())
            .push(")");
    }
    if let Some(s) = f.hostname_contains.as_deref().filter(|s| !s.is_empty()) {
        q.push(" AND instr(lower(a.hostname), ")
            .push_bind(s.to_lowercase())
            .push(") > 0");
    }
    q.push(" ORDER BY a.id LIMIT ")
        .push_bind(i64::from(f.limit));
    let rows = crate::sql::build(&mut q)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    rows.iter().map(rows::asset).collect()
}

pub(crate) async fn count(conn: &mut SqliteConnection) -> Result<u64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM assets")
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    u64::try_from(n).map_err(StoreError::corrupt)
}

pub(crate) async fn update(
    pool: &SqlitePool,
    ctx: &AuditCtx,
    id: AssetId,
    p: &AssetPatch,
) -> Result<Asset> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
    let before = load(&mut tx, id).await?;
    let hostname = p.hostname.as_ref().unwrap_or(&before.hostname);
    let os = p.os.as_ref().unwrap_or(&before.os);
    let owner = p.owner.as_ref().unwrap_or(&before.owner);
    sqlx::query(
        "UPDATE assets SET hostname = $1, kind = $2, os_family = $3, os_distribution = $4, \
         os_release = $5, os_arch = $6, environment = $7, criticality = $8, owner = $9, \
         protected_data = $10, updated_at = $11 WHERE id = $12",
    )
    .bind(hostname.as_str())
    .bind(p.kind.unwrap_or(before.kind).as_str())
    .bind(os.family.as_str())
    .bind(&os.distribution)
    .bind(&os.release)
    .bind(&os.arch)
    .bind(p.environment.unwrap_or(before.environment).as_str())
    .bind(p.criticality.unwrap_or(before.criticality).as_str())
    .bind(owner)
    .bind(p.protected_data.unwrap_or(before.protected_data))
    .bind(to_micros(ctx.at))
    .bind(id.get())
    .execute(&mut *tx)
    .await
    .map_err(conflict(taken(hostname)))?;
    if let Some(groups) = &p.groups {
        set_groups(&mut tx, id, groups).await?;
    }
    let after = load(&mut tx, id).await?;
    audit::append(&mut tx, drafts::asset_update(ctx, &before, &after), ctx.at).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(after)
}

pub(crate) async fn delete(pool: &SqlitePool, ctx: &AuditCtx, id: AssetId) -> Result<()> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
    let before = load(&mut tx, id).await?;
    // Groups and inventory go with it (ON DELETE CASCADE).
    sqlx::query("DELETE FROM assets WHERE id = $1")
        .bind(id.get())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    audit::append(&mut tx, drafts::asset_delete(ctx, &before), ctx.at).await?;
    tx.commit().await.map_err(db_err)
}
