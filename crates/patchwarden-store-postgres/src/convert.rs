//! Converting findings stored before migration 0009 (`findings_v1`) into the shared
//! model, once, when the store opens such a database.

use crate::error::db_err;
use crate::findings::Db;
use patchwarden_store::findings::convert::{write_v1, V1Row};
use patchwarden_store::findings::detail::DetailColumns;
use patchwarden_store::{Result, StoreError};
use sqlx::{PgPool, Row};

/// Converts and drops `findings_v1` if it is there, in one transaction: a crash leaves
/// the old table to convert at the next start.
pub(crate) async fn findings_v1(pool: &PgPool) -> Result<()> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    // Replicas starting together queue up here; the first converts, the others find
    // the table gone.
    sqlx::query("SELECT pg_advisory_xact_lock(7301009)")
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    let (there,): (bool,) = sqlx::query_as("SELECT to_regclass('findings_v1') IS NOT NULL")
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
    if !there {
        return Ok(());
    }
    let rows = sqlx::query(
        "SELECT id, asset_id, package, arch, advisory_id, installed, fixed, status, source, \
         cves, distro, evidence, suppressed, level, first_seen_at, deadline_at, closed_at \
         FROM findings_v1 ORDER BY asset_id, id",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    let mut old = Vec::with_capacity(rows.len());
    for row in &rows {
        let (_, finding) = DetailColumns {
            id: row.try_get("id").map_err(db_err)?,
            package: row.try_get("package").map_err(db_err)?,
            arch: row.try_get("arch").map_err(db_err)?,
            installed: row.try_get("installed").map_err(db_err)?,
            fixed: row.try_get("fixed").map_err(db_err)?,
            status: row.try_get("status").map_err(db_err)?,
            advisory_id: row.try_get("advisory_id").map_err(db_err)?,
            source: row.try_get("source").map_err(db_err)?,
            cves: row.try_get("cves").map_err(db_err)?,
            distro: row.try_get("distro").map_err(db_err)?,
            evidence: row.try_get("evidence").map_err(db_err)?,
            suppressed: row.try_get("suppressed").map_err(db_err)?,
        }
        .into_finding()?;
        let level: String = row.try_get("level").map_err(db_err)?;
        old.push(V1Row {
            asset: row.try_get("asset_id").map_err(db_err)?,
            finding,
            level: level
                .parse()
                .map_err(|e| StoreError::corrupt(format!("finding level: {e}")))?,
            first_seen: row.try_get("first_seen_at").map_err(db_err)?,
            deadline: row.try_get("deadline_at").map_err(db_err)?,
            closed_at: row.try_get("closed_at").map_err(db_err)?,
        });
    }
    let count = old.len();
    write_v1(&mut Db(&mut tx), old).await?;
    sqlx::query("DROP TABLE findings_v1")
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    if count > 0 {
        tracing::info!(findings = count, "findings converted to the shared layout");
    }
    Ok(())
}
