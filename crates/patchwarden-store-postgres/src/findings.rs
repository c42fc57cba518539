//! Findings: each sync opens, keeps and closes an asset's findings in one transaction
//! with multi-row statements; the inventory lookup for incremental matching.

use crate::audit;
use crate::error::db_err;
use patchwarden_domain::clock::to_micros;
use patchwarden_domain::ids::AssetId;
use patchwarden_store::audit_drafts as drafts;
use patchwarden_store::finding_rows::{
    dedup_findings, digest_worth_writing, findings_digest, plan_sync, unchanged, FindingColumns,
    SyncPlan,
};
use patchwarden_store::{
    AuditCtx, FindingFilter, FindingsChange, NewFinding, Result, StoreError, StoredFinding,
};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row};

/// Rows per multi-row statement (at most 16 binds each; PostgreSQL allows 65,535).
const ROWS: usize = 500;

const COLS: &str = "id, asset_id, package, arch, advisory_id, installed, fixed, status, source, \
    cves, distro, evidence, suppressed, level, first_seen_at, deadline_at, closed_at";

fn from_row(row: &PgRow) -> Result<StoredFinding> {
    FindingColumns {
        id: row.try_get("id").map_err(db_err)?,
        asset_id: row.try_get("asset_id").map_err(db_err)?,
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
        level: row.try_get("level").map_err(db_err)?,
        first_seen_at: row.try_get("first_seen_at").map_err(db_err)?,
        deadline_at: row.try_get("deadline_at").map_err(db_err)?,
        closed_at: row.try_get("closed_at").map_err(db_err)?,
    }
    .into_stored()
}

pub(crate) async fn sync(
    pool: &PgPool,
    ctx: &AuditCtx,
    asset: AssetId,
    findings: &[NewFinding],
) -> Result<FindingsChange> {
    let wanted = dedup_findings(findings);
    let digest = findings_digest(&wanted);
    // What the asset's last sync wanted: the same findings are in place already.
    let stored: Option<(Option<String>,)> =
        sqlx::query_as("SELECT findings_digest FROM assets WHERE id = $1")
            .bind(asset.get())
            .fetch_optional(pool)
            .await
            .map_err(db_err)?;
    let Some((stored,)) = stored else {
        return Err(StoreError::NotFound { entity: "asset" });
    };
    if stored.as_deref() == Some(digest.as_str()) {
        return Ok(unchanged(&wanted));
    }
    let mut tx = pool.begin().await.map_err(db_err)?;
    // The asset row lock serialises syncs of one asset across replicas.
    crate::assets::lock(&mut tx, asset).await?;
    // Every open row, suppressed ones included: a suppression toggles in place.
    let sql = format!("SELECT {COLS} FROM findings WHERE asset_id = $1 AND closed_at IS NULL");
    let rows = sqlx::query(&sql)
        .bind(asset.get())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
    let open = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    let SyncPlan {
        change,
        closing,
        updates,
        inserts,
    } = plan_sync(ctx.at, &open, &wanted)?;
    let at = to_micros(ctx.at);
    if !closing.is_empty() {
        sqlx::query("UPDATE findings SET closed_at = $1 WHERE id = ANY($2)")
            .bind(at)
            .bind(&closing)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    for chunk in updates.chunks(ROWS) {
        let mut q = QueryBuilder::<Postgres>::new(
            "UPDATE findings AS f SET installed = v.installed, fixed = v.fixed, \
             status = v.status, source = v.source, cves = v.cves, distro = v.distro, \
             evidence = v.evidence, suppressed = v.suppressed, level = v.level, \
             first_seen_at = v.first_seen_at, deadline_at = v.deadline_at FROM (",
        );
        q.push_values(chunk, |mut b, u| {
            let (nf, f) = (u.new, &u.new.finding);
            b.push_bind(u.id)
                .push_bind(f.installed.as_str())
                .push_bind(f.fixed.as_deref())
                .push_bind(f.status.as_str())
                .push_bind(f.source.as_str())
                .push_bind(f.cves.join(","))
                .push_bind(f.distro.as_str())
                .push_bind(f.evidence.as_str())
                .push_bind(f.suppressed.as_deref())
                .push_bind(nf.level.as_str())
                .push_bind(u.first_seen_at)
                .push_bind(u.deadline_at);
        });
        q.push(
            ") AS v (id, installed, fixed, status, source, cves, distro, evidence, \
             suppressed, level, first_seen_at, deadline_at) WHERE f.id = v.id",
        );
        q.build().execute(&mut *tx).await.map_err(db_err)?;
    }
    for chunk in inserts.chunks(ROWS) {
        let mut q = QueryBuilder::<Postgres>::new(
            "INSERT INTO findings (asset_id, package, arch, advisory_id, installed, fixed, \
             status, source, cves, distro, evidence, suppressed, level, first_seen_at, \
             deadline_at) ",
        );
        q.push_values(chunk, |mut b, (nf, due)| {
            let f = &nf.finding;
            b.push_bind(asset.get())
                .push_bind(f.package.as_str())
                .push_bind(f.arch.as_str())
                .push_bind(f.advisory.as_str())
                .push_bind(f.installed.as_str())
                .push_bind(f.fixed.as_deref())
                .push_bind(f.status.as_str())
                .push_bind(f.source.as_str())
                .push_bind(f.cves.join(","))
                .push_bind(f.distro.as_str())
                .push_bind(f.evidence.as_str())
                .push_bind(f.suppressed.as_deref())
                .push_bind(nf.level.as_str())
                .push_bind(at)
                .push_bind(*due);
        });
        q.build().execute(&mut *tx).await.map_err(db_err)?;
    }
    let writes = !(closing.is_empty() && updates.is_empty() && inserts.is_empty());
    if writes || digest_worth_writing(open.len()) {
        sqlx::query("UPDATE assets SET findings_digest = $1 WHERE id = $2")
            .bind(&digest)
            .bind(asset.get())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    if change.is_notable() {
        audit::append(&mut tx, drafts::finding_sync(ctx, asset, &change), ctx.at).await?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(change)
}

pub(crate) async fn list(conn: &mut PgConnection, f: &FindingFilter) -> Result<Vec<StoredFinding>> {
    let mut q = QueryBuilder::<Postgres>::new(format!("SELECT {COLS} FROM findings WHERE id > "));
    q.push_bind(f.after.unwrap_or(0));
    if !f.include_closed {
        q.push(" AND closed_at IS NULL");
    }
    if !f.include_suppressed {
        q.push(" AND suppressed IS NULL");
    }
    if let Some(a) = f.asset {
        q.push(" AND asset_id = ").push_bind(a.get());
    }
    if let Some(l) = f.level {
        q.push(" AND level = ").push_bind(l.as_str());
    }
    if let Some(a) = &f.advisory {
        q.push(" AND advisory_id = ").push_bind(a.clone());
    }
    if let Some(c) = &f.cve {
        q.push(" AND strpos(',' || cves || ',', ")
            .push_bind(format!(",{c},"))
            .push(") > 0");
    }
    q.push(" ORDER BY id LIMIT ").push_bind(i64::from(f.limit));
    let rows = q.build().fetch_all(&mut *conn).await.map_err(db_err)?;
    rows.iter().map(from_row).collect()
}

/// Set-based re-levelling (see `Store::relevel_findings`).
pub(crate) async fn relevel(
    pool: &PgPool,
    ctx: &AuditCtx,
    levels: &[patchwarden_store::AdvisoryLevel],
) -> Result<u64> {
    if levels.is_empty() {
        return Ok(0);
    }
    let advisories: Vec<&str> = levels.iter().map(|l| l.advisory.as_str()).collect();
    let names: Vec<&str> = levels.iter().map(|l| l.level.as_str()).collect();
    let allowed: Vec<i64> = levels
        .iter()
        .map(|l| i64::try_from(l.allowed.as_micros()).unwrap_or(i64::MAX))
        .collect();
    let mut tx = pool.begin().await.map_err(db_err)?;
    let touched: Vec<(i64,)> = sqlx::query_as(
        "UPDATE findings AS f SET level = v.level, deadline_at = f.first_seen_at + v.allowed \
         FROM UNNEST($1::text[], $2::text[], $3::bigint[]) AS v (advisory_id, level, allowed) \
         WHERE f.advisory_id = v.advisory_id AND f.closed_at IS NULL \
         AND (f.level <> v.level OR f.deadline_at <> f.first_seen_at + v.allowed) \
         RETURNING f.asset_id",
    )
    .bind(&advisories)
    .bind(&names)
    .bind(&allowed)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    let changed = touched.len() as u64;
    // Their rows no longer match what their last sync wanted: the next sync compares
    // them row by row.
    let assets: Vec<i64> = touched
        .into_iter()
        .map(|(a,)| a)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !assets.is_empty() {
        sqlx::query("UPDATE assets SET findings_digest = NULL WHERE id = ANY($1)")
            .bind(&assets)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    if changed > 0 {
        let draft = drafts::finding_relevel(ctx, levels.len(), changed);
        audit::append(&mut tx, draft, ctx.at).await?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(changed)
}
