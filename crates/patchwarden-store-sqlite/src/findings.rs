//! Findings: each sync opens, keeps and closes an asset's findings in one transaction
//! with multi-row statements.

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
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};

/// Rows per multi-row statement (at most 16 binds each).
const ROWS: usize = 500;

const COLS: &str = "id, asset_id, package, arch, advisory_id, installed, fixed, status, source, \
    cves, distro, evidence, suppressed, level, first_seen_at, deadline_at, closed_at";

fn from_row(row: &SqliteRow) -> Result<StoredFinding> {
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

/// The digest stored by the asset's last sync (`NotFound` when the asset does not
/// exist).
async fn stored_digest(conn: &mut SqliteConnection, asset: AssetId) -> Result<Option<String>> {
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT findings_digest FROM assets WHERE id = $1")
            .bind(asset.get())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    row.map(|(d,)| d)
        .ok_or(StoreError::NotFound { entity: "asset" })
}

/// The asset's open findings, suppressed ones included.
async fn open_findings(conn: &mut SqliteConnection, asset: AssetId) -> Result<Vec<StoredFinding>> {
    let sql = format!("SELECT {COLS} FROM findings WHERE asset_id = $1 AND closed_at IS NULL");
    let rows = sqlx::query(&sql)
        .bind(asset.get())
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    rows.iter().map(from_row).collect()
}

/// Opens, keeps and closes the asset's findings. When the asset's stored digest says
/// its last sync wanted the same findings, nothing is read back or written (the common
/// case of a re-match that changes nothing). Otherwise the plan is made on a reader
/// first; the single writer is taken when rows change, or to record the digest of a
/// set of findings worth not reading back next time.
pub(crate) async fn sync(
    write: &SqlitePool,
    read: &mut SqliteConnection,
    ctx: &AuditCtx,
    asset: AssetId,
    findings: &[NewFinding],
) -> Result<FindingsChange> {
    let wanted = dedup_findings(findings);
    let digest = findings_digest(&wanted);
    if stored_digest(read, asset).await?.as_deref() == Some(digest.as_str()) {
        return Ok(unchanged(&wanted));
    }
    let open = open_findings(read, asset).await?;
    let dry = plan_sync(ctx.at, &open, &wanted)?;
    if dry.writes_nothing() && !digest_worth_writing(open.len()) {
        return Ok(dry.change);
    }
    let mut tx = write.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
    // Still there (`NotFound` otherwise), and its rows read again under the writer.
    stored_digest(&mut tx, asset).await?;
    let open = open_findings(&mut tx, asset).await?;
    let SyncPlan {
        change,
        closing,
        updates,
        inserts,
    } = plan_sync(ctx.at, &open, &wanted)?;
    let at = to_micros(ctx.at);
    for chunk in closing.chunks(ROWS) {
        let mut q = QueryBuilder::<Sqlite>::new("UPDATE findings SET closed_at = ");
        q.push_bind(at).push(" WHERE id IN ");
        crate::sql::push_list(&mut q, chunk.iter().copied());
        q.build().execute(&mut *tx).await.map_err(db_err)?;
    }
    for chunk in updates.chunks(ROWS) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "WITH v (id, installed, fixed, status, source, cves, distro, evidence, suppressed, \
             level, first_seen_at, deadline_at) AS (",
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
            ") UPDATE findings SET installed = v.installed, fixed = v.fixed, \
             status = v.status, source = v.source, cves = v.cves, distro = v.distro, \
             evidence = v.evidence, suppressed = v.suppressed, level = v.level, \
             first_seen_at = v.first_seen_at, deadline_at = v.deadline_at \
             FROM v WHERE findings.id = v.id",
        );
        q.build().execute(&mut *tx).await.map_err(db_err)?;
    }
    for chunk in inserts.chunks(ROWS) {
        let mut q = QueryBuilder::<Sqlite>::new(
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
    set_digest(&mut tx, asset, &digest).await?;
    if change.is_notable() {
        audit::append(&mut tx, drafts::finding_sync(ctx, asset, &change), ctx.at).await?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(change)
}

async fn set_digest(conn: &mut SqliteConnection, asset: AssetId, digest: &str) -> Result<()> {
    sqlx::query("UPDATE assets SET findings_digest = $1 WHERE id = $2")
        .bind(digest)
        .bind(asset.get())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn list(
    conn: &mut SqliteConnection,
    f: &FindingFilter,
) -> Result<Vec<StoredFinding>> {
    let mut q = QueryBuilder::<Sqlite>::new(format!("SELECT {COLS} FROM findings WHERE id > "));
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
        q.push(" AND instr(',' || cves || ',', ")
            .push_bind(format!(",{c},"))
            .push(") > 0");
    }
    q.push(" ORDER BY id LIMIT ").push_bind(i64::from(f.limit));
    let rows = q.build().fetch_all(&mut *conn).await.map_err(db_err)?;
    rows.iter().map(from_row).collect()
}

/// Set-based re-levelling (see `Store::relevel_findings`).
pub(crate) async fn relevel(
    pool: &SqlitePool,
    ctx: &AuditCtx,
    levels: &[patchwarden_store::AdvisoryLevel],
) -> Result<u64> {
    if levels.is_empty() {
        return Ok(0);
    }
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
    let mut changed = 0;
    let mut assets = std::collections::BTreeSet::new();
    for chunk in levels.chunks(ROWS) {
        let mut q = QueryBuilder::<Sqlite>::new("WITH v (advisory_id, level, allowed) AS (");
        q.push_values(chunk, |mut b, l| {
            b.push_bind(l.advisory.as_str())
                .push_bind(l.level.as_str())
                .push_bind(micros_of(l.allowed));
        });
        q.push(
            ") UPDATE findings SET level = v.level, \
             deadline_at = findings.first_seen_at + v.allowed FROM v \
             WHERE findings.advisory_id = v.advisory_id AND findings.closed_at IS NULL \
             AND (findings.level <> v.level \
                  OR findings.deadline_at <> findings.first_seen_at + v.allowed) \
             RETURNING findings.asset_id",
        );
        let touched: Vec<(i64,)> = q
            .build_query_as()
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        changed += touched.len() as u64;
        assets.extend(touched.into_iter().map(|(a,)| a));
    }
    // Their rows no longer match what their last sync wanted: the next sync compares
    // them row by row.
    let assets: Vec<i64> = assets.into_iter().collect();
    for chunk in assets.chunks(ROWS) {
        let mut q =
            QueryBuilder::<Sqlite>::new("UPDATE assets SET findings_digest = NULL WHERE id IN ");
        crate::sql::push_list(&mut q, chunk.iter().copied());
        q.build().execute(&mut *tx).await.map_err(db_err)?;
    }
    if changed > 0 {
        let draft = drafts::finding_relevel(ctx, levels.len(), changed);
        audit::append(&mut tx, draft, ctx.at).await?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(changed)
}

fn micros_of(d: jiff::SignedDuration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}
