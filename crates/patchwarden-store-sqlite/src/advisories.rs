//! Advisories: one transaction per import batch, rows compared by content hash and
//! written with multi-row upserts; keyset listing by id.

use crate::audit;
use crate::error::db_err;
use patchwarden_domain::advisory::{Advisory, SeverityLevel};
use patchwarden_domain::clock::{from_micros, to_micros};
use patchwarden_store::audit_drafts as drafts;
use patchwarden_store::{
    advisory_canonical_json, AdvisoryFilter, AdvisoryUpsert, AuditCtx, Result, StoreError,
    StoredAdvisory,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};
use std::collections::HashMap;

/// Ids per `IN (...)` list.
const IDS: usize = 500;
/// Advisory rows per multi-row upsert (11 binds each).
const ROWS: usize = 250;
/// (advisory, cve) pairs per insert.
const PAIRS: usize = 1000;

/// An advisory ready to store: its canonical body and content hash.
pub(crate) struct Prepared<'a> {
    pub(crate) advisory: &'a Advisory,
    pub(crate) body: String,
    pub(crate) hash: String,
}

/// The last occurrence of each id (last wins), in input order, with body and hash.
pub(crate) fn prepare(advisories: &[Advisory]) -> Result<Vec<Prepared<'_>>> {
    let mut last: HashMap<&str, usize> = HashMap::with_capacity(advisories.len());
    for (i, a) in advisories.iter().enumerate() {
        if a.id.is_empty() {
            return Err(StoreError::Invalid("an advisory has an empty id".into()));
        }
        last.insert(a.id.as_str(), i);
    }
    advisories
        .iter()
        .enumerate()
        .filter(|(i, a)| last.get(a.id.as_str()) == Some(i))
        .map(|(_, advisory)| {
            let (body, hash) = advisory_canonical_json(advisory)?;
            Ok(Prepared {
                advisory,
                body,
                hash,
            })
        })
        .collect()
}

pub(crate) fn severity_str(level: SeverityLevel) -> &'static str {
    match level {
        SeverityLevel::None => "none",
        SeverityLevel::Negligible => "negligible",
        SeverityLevel::Low => "low",
        SeverityLevel::Medium => "medium",
        SeverityLevel::High => "high",
        SeverityLevel::Critical => "critical",
    }
}

/// Stored content hashes of those of `ids` that exist.
async fn stored_hashes(
    conn: &mut SqliteConnection,
    ids: &[&str],
) -> Result<HashMap<String, String>> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(IDS) {
        let mut q =
            QueryBuilder::<Sqlite>::new("SELECT id, content_hash FROM advisories WHERE id IN ");
        crate::sql::push_list(&mut q, chunk.iter().copied());
        let rows: Vec<(String, String)> = crate::sql::build_as(&mut q)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        out.extend(rows);
    }
    Ok(out)
}

pub(crate) async fn upsert(
    pool: &SqlitePool,
    ctx: &AuditCtx,
    advisories: &[Advisory],
) -> Result<AdvisoryUpsert> {
    let batch = prepare(advisories)?;
    let ids: Vec<&str> = batch.iter().map(|p| p.advisory.id.as_str()).collect();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
    let stored = stored_hashes(&mut tx, &ids).await?;
    let mut result = AdvisoryUpsert::default();
    let (mut write, mut replaced) = (Vec::new(), Vec::new());
    for p in &batch {
        let id = p.advisory.id.as_str();
        match stored.get(id) {
            Some(h) if *h == p.hash => result.unchanged += 1,
            Some(_) => {
                result.updated += 1;
                replaced.push(id);
                write.push(p);
            }
            None => {
                result.inserted += 1;
                write.push(p);
            }
        }
    }
    if write.is_empty() {
        tx.commit().await.map_err(db_err)?;
        return Ok(result);
    }
    result.changed = write.iter().map(|p| p.advisory.id.clone()).collect();
    let at = to_micros(ctx.at);
    for chunk in replaced.chunks(IDS) {
        let mut q = QueryBuilder::<Sqlite>::new("DELETE FROM advisory_cves WHERE advisory_id IN ");
        crate::sql::push_list(&mut q, chunk.iter().copied());
        crate::sql::build(&mut q)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    for chunk in write.chunks(ROWS) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO advisories (id, source, aliases, published, modified, title, \
             severity_level, content_hash, body, imported_at, updated_at) ",
        );
        q.push_values(chunk, |mut b, p| {
            let a = p.advisory;
            b.push_bind(a.id.as_str())
                .push_bind(a.source.as_str())
                .push_bind(a.aliases.join(","))
                .push_bind(a.published.map(to_micros))
                .push_bind(a.modified.map(to_micros))
                .push_bind(a.title.as_deref())
                .push_bind(a.severity.as_ref().map(|s| severity_str(s.level)))
                .push_bind(p.hash.as_str())
                .push_bind(p.body.as_str())
                .push_bind(at)
                .push_bind(at);
        });
        q.push(
            " ON CONFLICT (id) DO UPDATE SET source = excluded.source, \
             aliases = excluded.aliases, published = excluded.published, \
             modified = excluded.modified, title = excluded.title, \
             severity_level = excluded.severity_level, content_hash = excluded.content_hash, \
             body = excluded.body, updated_at = excluded.updated_at",
        );
        crate::sql::build(&mut q)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    let mut pairs: Vec<(&str, &str)> = write
        .iter()
        .flat_map(|p| p.advisory.cves().map(move |c| (p.advisory.id.as_str(), c)))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    for chunk in pairs.chunks(PAIRS) {
        let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO advisory_cves (advisory_id, cve) ");
        q.push_values(chunk, |mut b, (id, cve)| {
            b.push_bind(*id).push_bind(*cve);
        });
        crate::sql::build(&mut q)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    audit::append(&mut tx, drafts::advisory_import(ctx, &result), ctx.at).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(result)
}

const COLS: &str = "a.body, a.content_hash, a.imported_at, a.updated_at";

fn stored(row: &SqliteRow) -> Result<StoredAdvisory> {
    let body: String = row.try_get("body").map_err(db_err)?;
    let advisory: Advisory = serde_json::from_str(&body)
        .map_err(|e| StoreError::corrupt(format!("advisory body: {e}")))?;
    Ok(StoredAdvisory {
        advisory,
        content_hash: row.try_get("content_hash").map_err(db_err)?,
        imported_at: from_micros(row.try_get("imported_at").map_err(db_err)?),
        updated_at: from_micros(row.try_get("updated_at").map_err(db_err)?),
    })
}

pub(crate) async fn get(conn: &mut SqliteConnection, id: &str) -> Result<StoredAdvisory> {
    let sql = format!("SELECT {COLS} FROM advisories a WHERE a.id = $1");
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .ok_or(StoreError::NotFound { entity: "advisory" })?;
    stored(&row)
}

pub(crate) async fn list(
    conn: &mut SqliteConnection,
    f: &AdvisoryFilter,
) -> Result<Vec<StoredAdvisory>> {
    let mut q = QueryBuilder::<Sqlite>::new(format!("SELECT {COLS} FROM advisories a WHERE 1 = 1"));
    if let Some(after) = &f.after {
        q.push(" AND a.id > ").push_bind(after.clone());
    }
    if let Some(s) = &f.source {
        q.push(" AND a.source = ").push_bind(s.clone());
    }
    if let Some(cve) = &f.cve {
        q.push(" AND (a.id = ")
            .push_bind(cve.clone())
            .push(
                " OR EXISTS (SELECT 1 FROM advisory_cves c WHERE c.advisory_id = a.id AND c.cve = ",
            )
            .push_bind(cve.clone())
            .push("))");
    }
    q.push(" ORDER BY a.id LIMIT ")
        .push_bind(i64::from(f.limit));
    let rows = crate::sql::build(&mut q)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    rows.iter().map(stored).collect()
}

pub(crate) async fn count(conn: &mut SqliteConnection) -> Result<u64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM advisories")
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    u64::try_from(n).map_err(StoreError::corrupt)
}
