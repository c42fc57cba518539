//! Findings: each sync opens, keeps and closes an asset's findings in one transaction
//! with multi-row statements; the inventory lookup for incremental matching.

use crate::audit;
use crate::error::db_err;
use jiff::{SignedDuration, Timestamp};
use patchwarden_domain::clock::{from_micros, to_micros};
use patchwarden_domain::finding::{Finding, FindingStatus};
use patchwarden_domain::ids::AssetId;
use patchwarden_store::audit_drafts as drafts;
use patchwarden_store::{
    AuditCtx, FindingFilter, FindingsChange, NewFinding, Result, StoreError, StoredFinding,
};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row};
use std::collections::HashMap;

/// Rows per multi-row statement (at most 16 binds each; PostgreSQL allows 65,535).
const ROWS: usize = 500;

const COLS: &str = "id, asset_id, package, arch, advisory_id, installed, fixed, status, source, \
    cves, distro, evidence, suppressed, level, first_seen_at, deadline_at, closed_at";

type Key<'a> = (&'a str, &'a str, &'a str);

fn key(f: &Finding) -> Key<'_> {
    (&f.package, &f.arch, &f.advisory)
}

fn deadline(first_seen: Timestamp, allowed: SignedDuration) -> Result<i64> {
    first_seen
        .checked_add(allowed)
        .map(to_micros)
        .map_err(|e| StoreError::Invalid(format!("deadline out of range: {e}")))
}

fn from_row(row: &PgRow) -> Result<StoredFinding> {
    let get_s = |c: &str| -> Result<String> { row.try_get(c).map_err(db_err) };
    let get_o = |c: &str| -> Result<Option<String>> { row.try_get(c).map_err(db_err) };
    let status = get_s("status")?;
    let cves = get_s("cves")?;
    Ok(StoredFinding {
        id: row.try_get("id").map_err(db_err)?,
        asset_id: AssetId::new(row.try_get("asset_id").map_err(db_err)?),
        finding: Finding {
            package: get_s("package")?,
            arch: get_s("arch")?,
            installed: get_s("installed")?,
            fixed: get_o("fixed")?,
            status: FindingStatus::parse(&status)
                .ok_or_else(|| StoreError::corrupt(format!("finding status {status:?}")))?,
            advisory: get_s("advisory_id")?,
            source: get_s("source")?,
            cves: cves
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect(),
            distro: get_s("distro")?,
            evidence: get_s("evidence")?,
            suppressed: get_o("suppressed")?,
        },
        level: get_s("level")?
            .parse()
            .map_err(|e| StoreError::corrupt(format!("finding level: {e}")))?,
        first_seen_at: from_micros(row.try_get("first_seen_at").map_err(db_err)?),
        deadline_at: from_micros(row.try_get("deadline_at").map_err(db_err)?),
        closed_at: row
            .try_get::<Option<i64>, _>("closed_at")
            .map_err(db_err)?
            .map(from_micros),
    })
}

/// The last finding of each key (last wins), in input order.
fn dedup(findings: &[NewFinding]) -> Vec<&NewFinding> {
    let mut last: HashMap<Key<'_>, usize> = HashMap::with_capacity(findings.len());
    for (i, f) in findings.iter().enumerate() {
        last.insert(key(&f.finding), i);
    }
    findings
        .iter()
        .enumerate()
        .filter(|(i, f)| last.get(&key(&f.finding)) == Some(i))
        .map(|(_, f)| f)
        .collect()
}

pub(crate) async fn sync(
    pool: &PgPool,
    ctx: &AuditCtx,
    asset: AssetId,
    findings: &[NewFinding],
) -> Result<FindingsChange> {
    let wanted = dedup(findings);
    let mut tx = pool.begin().await.map_err(db_err)?;
    // The asset row lock serialises syncs of one asset across replicas.
    crate::assets::lock(&mut tx, asset).await?;
    let sql = format!("SELECT {COLS} FROM findings WHERE asset_id = $1 AND closed_at IS NULL");
    let rows = sqlx::query(&sql)
        .bind(asset.get())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
    let open = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    let mut by_key: HashMap<Key<'_>, &StoredFinding> =
        open.iter().map(|f| (key(&f.finding), f)).collect();
    let mut change = FindingsChange::default();
    let (mut inserts, mut updates) = (Vec::new(), Vec::new());
    for nf in wanted {
        if let Some(old) = by_key.remove(&key(&nf.finding)) {
            change.kept += 1;
            let due = deadline(old.first_seen_at, nf.allowed)?;
            let same = old.finding == nf.finding
                && old.level == nf.level
                && to_micros(old.deadline_at) == due;
            if !same {
                updates.push((old.id, nf, due));
            }
        } else {
            change.opened += 1;
            inserts.push((nf, deadline(ctx.at, nf.allowed)?));
        }
    }
    let mut closing: Vec<i64> = by_key.values().map(|f| f.id).collect();
    closing.sort_unstable();
    change.closed = u32::try_from(closing.len()).map_err(StoreError::corrupt)?;
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
             deadline_at = v.deadline_at FROM (",
        );
        q.push_values(chunk, |mut b, (id, nf, due)| {
            let f = &nf.finding;
            b.push_bind(*id)
                .push_bind(f.installed.as_str())
                .push_bind(f.fixed.as_deref())
                .push_bind(f.status.as_str())
                .push_bind(f.source.as_str())
                .push_bind(f.cves.join(","))
                .push_bind(f.distro.as_str())
                .push_bind(f.evidence.as_str())
                .push_bind(f.suppressed.as_deref())
                .push_bind(nf.level.as_str())
                .push_bind(*due);
        });
        q.push(
            ") AS v (id, installed, fixed, status, source, cves, distro, evidence, \
             suppressed, level, deadline_at) WHERE f.id = v.id",
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
    if change.opened > 0 || change.closed > 0 {
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

pub(crate) async fn assets_with_packages(
    conn: &mut PgConnection,
    names: &[String],
) -> Result<Vec<AssetId>> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT asset_id FROM inventory WHERE name = ANY($1) \
         UNION SELECT asset_id FROM inventory WHERE source_name = ANY($1) ORDER BY 1",
    )
    .bind(names)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(rows.into_iter().map(|(id,)| AssetId::new(id)).collect())
}
