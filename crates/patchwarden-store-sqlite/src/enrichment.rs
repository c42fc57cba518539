//! CVE enrichment (KEV, EPSS, CVSS), merged field by field.

use crate::audit;
use crate::error::db_err;
use patchwarden_domain::advisory::{CveEnrichment, Cvss, Epss, KevEntry};
use patchwarden_domain::clock::to_micros;
use patchwarden_store::audit_drafts as drafts;
use patchwarden_store::{AuditCtx, Result, StoreError};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};
use std::collections::{BTreeMap, HashMap};

/// CVEs per `IN (...)` list.
const IDS: usize = 500;
/// Rows per multi-row upsert (7 binds each).
const ROWS: usize = 500;

/// `item`'s given fields over `base`: `Some` and a non-empty CVSS list replace.
pub(crate) fn merge(mut base: CveEnrichment, item: &CveEnrichment) -> CveEnrichment {
    if item.kev.is_some() {
        base.kev.clone_from(&item.kev);
    }
    if item.epss.is_some() {
        base.epss.clone_from(&item.epss);
    }
    if !item.cvss.is_empty() {
        base.cvss.clone_from(&item.cvss);
    }
    base
}

fn empty(cve: &str) -> CveEnrichment {
    CveEnrichment {
        cve: cve.to_owned(),
        kev: None,
        epss: None,
        cvss: Vec::new(),
    }
}

fn kev_json(k: &KevEntry) -> Result<String> {
    serde_json::to_string(k).map_err(|e| StoreError::Invalid(e.to_string()))
}

fn cvss_json(c: &[Cvss]) -> Result<String> {
    serde_json::to_string(c).map_err(|e| StoreError::Invalid(e.to_string()))
}

fn from_row(row: &SqliteRow) -> Result<CveEnrichment> {
    let corrupt = |col: &str, e: &dyn std::fmt::Display| StoreError::corrupt(format!("{col}: {e}"));
    let kev: Option<String> = row.try_get("kev").map_err(db_err)?;
    let cvss: String = row.try_get("cvss").map_err(db_err)?;
    let probability: Option<f64> = row.try_get("epss_probability").map_err(db_err)?;
    let percentile: Option<f64> = row.try_get("epss_percentile").map_err(db_err)?;
    let date: Option<String> = row.try_get("epss_date").map_err(db_err)?;
    let epss = match (probability, percentile) {
        (Some(probability), Some(percentile)) => Some(Epss {
            probability,
            percentile,
            date: date
                .map(|d| d.parse())
                .transpose()
                .map_err(|e| corrupt("epss_date", &e))?,
        }),
        _ => None,
    };
    Ok(CveEnrichment {
        cve: row.try_get("cve").map_err(db_err)?,
        kev: kev
            .map(|k| serde_json::from_str(&k))
            .transpose()
            .map_err(|e| corrupt("kev", &e))?,
        epss,
        cvss: serde_json::from_str(&cvss).map_err(|e| corrupt("cvss", &e))?,
    })
}

/// Stored enrichment of those `cves` that have some, ordered by CVE.
pub(crate) async fn get(
    conn: &mut SqliteConnection,
    cves: &[String],
) -> Result<Vec<CveEnrichment>> {
    let mut out = Vec::new();
    for chunk in cves.chunks(IDS) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT cve, kev, epss_probability, epss_percentile, epss_date, cvss \
             FROM cve_enrichment WHERE cve IN ",
        );
        crate::sql::push_list(&mut q, chunk.iter().map(|c| c.as_str()));
        let rows = crate::sql::build(&mut q)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        for row in &rows {
            out.push(from_row(row)?);
        }
    }
    out.sort_by(|a, b| a.cve.cmp(&b.cve));
    out.dedup_by(|a, b| a.cve == b.cve);
    Ok(out)
}

pub(crate) async fn upsert(
    pool: &SqlitePool,
    ctx: &AuditCtx,
    items: &[CveEnrichment],
) -> Result<u32> {
    // Items for one CVE merge in order.
    let mut incoming: BTreeMap<&str, CveEnrichment> = BTreeMap::new();
    for item in items {
        let base = incoming
            .remove(item.cve.as_str())
            .unwrap_or_else(|| empty(&item.cve));
        incoming.insert(item.cve.as_str(), merge(base, item));
    }
    let cves: Vec<String> = incoming.keys().map(|c| (*c).to_owned()).collect();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
    let stored: HashMap<String, CveEnrichment> = get(&mut tx, &cves)
        .await?
        .into_iter()
        .map(|e| (e.cve.clone(), e))
        .collect();
    let mut changed = Vec::new();
    for (cve, item) in &incoming {
        let before = stored.get(*cve);
        let merged = merge(before.cloned().unwrap_or_else(|| empty(cve)), item);
        let nothing = merged.kev.is_none() && merged.epss.is_none() && merged.cvss.is_empty();
        if before != Some(&merged) && !(before.is_none() && nothing) {
            changed.push(merged);
        }
    }
    let at = to_micros(ctx.at);
    for chunk in changed.chunks(ROWS) {
        let mut rows = Vec::with_capacity(chunk.len());
        for e in chunk {
            rows.push((
                e,
                e.kev.as_ref().map(kev_json).transpose()?,
                cvss_json(&e.cvss)?,
            ));
        }
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO cve_enrichment (cve, kev, epss_probability, epss_percentile, \
             epss_date, cvss, updated_at) ",
        );
        q.push_values(rows, |mut b, (e, kev, cvss)| {
            b.push_bind(e.cve.as_str())
                .push_bind(kev)
                .push_bind(e.epss.as_ref().map(|x| x.probability))
                .push_bind(e.epss.as_ref().map(|x| x.percentile))
                .push_bind(e.epss.as_ref().and_then(|x| x.date).map(|d| d.to_string()))
                .push_bind(cvss)
                .push_bind(at);
        });
        q.push(
            " ON CONFLICT (cve) DO UPDATE SET kev = excluded.kev, \
             epss_probability = excluded.epss_probability, \
             epss_percentile = excluded.epss_percentile, epss_date = excluded.epss_date, \
             cvss = excluded.cvss, updated_at = excluded.updated_at",
        );
        crate::sql::build(&mut q)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    let n = u32::try_from(changed.len()).map_err(|e| StoreError::Invalid(e.to_string()))?;
    if n > 0 {
        let draft = drafts::enrichment_import(ctx, items.len(), n);
        audit::append(&mut tx, draft, ctx.at).await?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(n)
}
