//! Package inventories: only the rows that changed are written, in batches.

use crate::error::db_err;
use crate::{assets, audit};
use patchwarden_domain::clock::to_micros;
use patchwarden_domain::ids::AssetId;
use patchwarden_domain::package::{InstalledPackage, PackageFormat};
use patchwarden_store::audit_drafts as drafts;
use patchwarden_store::inventory_diff::{check_no_duplicates, plan_inventory};
use patchwarden_store::{AuditCtx, InventoryChange, Result, StoreError};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};

/// Rows per multi-row statement: 6 binds each stays well under PostgreSQL's 65,535.
const BATCH: usize = 1000;

/// (name, version, arch, source_name, source_version)
type PackageRow = (String, String, String, Option<String>, Option<String>);

pub(crate) async fn get(conn: &mut PgConnection, id: AssetId) -> Result<Vec<InstalledPackage>> {
    let rows: Vec<PackageRow> = sqlx::query_as(
        "SELECT name, version, arch, source_name, source_version FROM inventory \
         WHERE asset_id = $1 ORDER BY name, arch, version",
    )
    .bind(id.get())
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(rows
        .into_iter()
        .map(
            |(name, version, arch, source_name, source_version)| InstalledPackage {
                name,
                version,
                arch,
                source_name,
                source_version,
            },
        )
        .collect())
}

pub(crate) async fn replace(
    pool: &PgPool,
    ctx: &AuditCtx,
    id: AssetId,
    format: PackageFormat,
    packages: &[InstalledPackage],
) -> Result<InventoryChange> {
    check_no_duplicates(packages)?;
    let mut tx = pool.begin().await.map_err(db_err)?;
    assets::lock(&mut tx, id).await?;
    let asset = assets::load(&mut tx, id).await?;
    let old = get(&mut tx, id).await?;
    let plan = plan_inventory(format, &old, packages)?;
    let at = to_micros(ctx.at);
    if asset.inventory_hash.as_deref() == Some(plan.change.hash.as_str()) {
        sqlx::query("UPDATE assets SET last_seen_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id.get())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        return Ok(plan.change);
    }
    for chunk in plan.delete.chunks(BATCH) {
        let mut q = QueryBuilder::<Postgres>::new("DELETE FROM inventory WHERE asset_id = ");
        q.push_bind(id.get())
            .push(" AND (name, arch, version) IN (VALUES ");
        let mut sep = q.separated(", ");
        for p in chunk {
            sep.push("(")
                .push_bind_unseparated(p.name.as_str())
                .push_unseparated(", ")
                .push_bind_unseparated(p.arch.as_str())
                .push_unseparated(", ")
                .push_bind_unseparated(p.version.as_str())
                .push_unseparated(")");
        }
        q.push(")");
        q.build().execute(&mut *tx).await.map_err(db_err)?;
    }
    for chunk in plan.insert.chunks(BATCH) {
        let mut q = QueryBuilder::<Postgres>::new(
            "INSERT INTO inventory (asset_id, name, arch, version, source_name, source_version) ",
        );
        q.push_values(chunk, |mut b, p| {
            b.push_bind(id.get())
                .push_bind(p.name.as_str())
                .push_bind(p.arch.as_str())
                .push_bind(p.version.as_str())
                .push_bind(p.source_name.as_deref())
                .push_bind(p.source_version.as_deref());
        });
        q.build().execute(&mut *tx).await.map_err(db_err)?;
    }
    let count = i64::try_from(packages.len()).map_err(|e| StoreError::Invalid(e.to_string()))?;
    sqlx::query(
        "UPDATE assets SET package_format = $1, package_count = $2, inventory_hash = $3, \
         last_seen_at = $4 WHERE id = $5",
    )
    .bind(format.as_str())
    .bind(count)
    .bind(&plan.change.hash)
    .bind(at)
    .bind(id.get())
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    let draft = drafts::inventory_replace(ctx, id, asset.inventory_hash.as_deref(), &plan.change);
    audit::append(&mut tx, draft, ctx.at).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(plan.change)
}
