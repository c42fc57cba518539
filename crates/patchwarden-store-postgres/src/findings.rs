//! Findings (`patchwarden_store::findings`): the statements of [`FindingsDb`] on one
//! connection, and how the store's methods run them: reads on a pooled connection,
//! writes in one transaction, taken only when something changes. The rows of the
//! assets a transaction syncs are locked (`FOR UPDATE`), so replicas syncing one asset
//! queue up.

use crate::audit;
use crate::error::db_err;
use crate::PostgresStore;
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use patchwarden_domain::audit::AuditDraft;
use patchwarden_domain::finding::Finding;
use patchwarden_domain::ids::AssetId;
use patchwarden_domain::level::Level;
use patchwarden_store::findings::detail::{DetailColumns, DetailHash};
use patchwarden_store::findings::plan::AssetFindingsRow;
use patchwarden_store::findings::{
    self as shared, cached_ids, dedup_new, new_batch, open_set, row_from_columns, ClosedQuery,
    ClosedRow, FindingsDb,
};
use patchwarden_store::{
    AdvisoryLevel, AuditCtx, FindingFilter, FindingsBatch, FindingsChange, NewFinding, Result,
    StoreError, StoredFinding,
};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};
use std::sync::Arc;

/// One connection (or transaction) seen as [`FindingsDb`].
pub(crate) struct Db<'c>(pub &'c mut PgConnection);

fn level_of(text: &str) -> Result<Level> {
    text.parse()
        .map_err(|e| StoreError::corrupt(format!("finding level: {e}")))
}

fn micros(d: SignedDuration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

fn closed_from_row(row: &PgRow) -> Result<ClosedRow> {
    let level: String = row.try_get("level").map_err(db_err)?;
    Ok(ClosedRow {
        id: row.try_get("id").map_err(db_err)?,
        asset: row.try_get("asset_id").map_err(db_err)?,
        detail: row.try_get("detail_id").map_err(db_err)?,
        level: level_of(&level)?,
        first_seen: row.try_get("first_seen_at").map_err(db_err)?,
        deadline: row.try_get("deadline_at").map_err(db_err)?,
        closed_at: row.try_get("closed_at").map_err(db_err)?,
    })
}

type RowColumns = (i64, i64, Option<Vec<u8>>, Vec<u8>);

fn rows_from_columns(rows: Vec<RowColumns>) -> Result<Vec<(i64, AssetFindingsRow)>> {
    rows.into_iter()
        .map(|(asset, next, digest, open)| Ok((asset, row_from_columns(next, digest, &open)?)))
        .collect()
}

#[async_trait]
impl FindingsDb for Db<'_> {
    async fn details(&mut self, ids: &[i64]) -> Result<Vec<(i64, Finding)>> {
        let rows = sqlx::query(
            "SELECT id, package, arch, installed, fixed, status, advisory_id, source, cves, \
             distro, evidence, suppressed FROM finding_details WHERE id = ANY($1)",
        )
        .bind(ids)
        .fetch_all(&mut *self.0)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| {
                DetailColumns {
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
                .into_finding()
            })
            .collect()
    }

    async fn put_details(
        &mut self,
        new: &[(DetailHash, &Finding)],
    ) -> Result<Vec<(DetailHash, i64)>> {
        if new.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::<Postgres>::new(
            "INSERT INTO finding_details (hash, package, arch, installed, fixed, status, \
             advisory_id, source, cves, distro, evidence, suppressed) ",
        );
        q.push_values(new, |mut b, (hash, f)| {
            b.push_bind(hash.as_slice())
                .push_bind(f.package.as_str())
                .push_bind(f.arch.as_str())
                .push_bind(f.installed.as_str())
                .push_bind(f.fixed.as_deref())
                .push_bind(f.status.as_str())
                .push_bind(f.advisory.as_str())
                .push_bind(f.source.as_str())
                .push_bind(f.cves.join(","))
                .push_bind(f.distro.as_str())
                .push_bind(f.evidence.as_str())
                .push_bind(f.suppressed.as_deref());
        });
        q.push(" ON CONFLICT (hash) DO NOTHING");
        q.build().execute(&mut *self.0).await.map_err(db_err)?;
        let hashes: Vec<&[u8]> = new.iter().map(|(h, _)| h.as_slice()).collect();
        let rows: Vec<(Vec<u8>, i64)> =
            sqlx::query_as("SELECT hash, id FROM finding_details WHERE hash = ANY($1)")
                .bind(&hashes)
                .fetch_all(&mut *self.0)
                .await
                .map_err(db_err)?;
        rows.into_iter()
            .map(|(h, id)| {
                let h = DetailHash::try_from(h.as_slice())
                    .map_err(|_| StoreError::corrupt("a finding detail hash of a wrong length"))?;
                Ok((h, id))
            })
            .collect()
    }

    async fn detail_ids_of(&mut self, advisories: &[&str]) -> Result<Vec<i64>> {
        let rows: Vec<(i64,)> =
            sqlx::query_as("SELECT id FROM finding_details WHERE advisory_id = ANY($1)")
                .bind(advisories)
                .fetch_all(&mut *self.0)
                .await
                .map_err(db_err)?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn levels(&mut self, advisories: &[&str]) -> Result<Vec<AdvisoryLevel>> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT advisory_id, level, allowed FROM advisory_levels WHERE advisory_id = ANY($1)",
        )
        .bind(advisories)
        .fetch_all(&mut *self.0)
        .await
        .map_err(db_err)?;
        rows.into_iter()
            .map(|(advisory, level, allowed)| {
                Ok(AdvisoryLevel {
                    advisory,
                    level: level_of(&level)?,
                    allowed: SignedDuration::from_micros(allowed),
                })
            })
            .collect()
    }

    async fn advisories_at(&mut self, level: Level) -> Result<Vec<String>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT advisory_id FROM advisory_levels WHERE level = $1")
                .bind(level.as_str())
                .fetch_all(&mut *self.0)
                .await
                .map_err(db_err)?;
        Ok(rows.into_iter().map(|(a,)| a).collect())
    }

    async fn put_levels(&mut self, levels: &[&AdvisoryLevel]) -> Result<()> {
        if levels.is_empty() {
            return Ok(());
        }
        let mut q = QueryBuilder::<Postgres>::new(
            "INSERT INTO advisory_levels (advisory_id, level, allowed) ",
        );
        q.push_values(levels, |mut b, l| {
            b.push_bind(l.advisory.as_str())
                .push_bind(l.level.as_str())
                .push_bind(micros(l.allowed));
        });
        q.push(
            " ON CONFLICT (advisory_id) DO UPDATE SET level = EXCLUDED.level, \
             allowed = EXCLUDED.allowed",
        );
        q.build().execute(&mut *self.0).await.map_err(db_err)?;
        Ok(())
    }

    async fn digests(&mut self, assets: &[i64]) -> Result<Vec<(i64, Option<Vec<u8>>)>> {
        sqlx::query_as(
            "SELECT a.id, f.digest FROM assets a \
             LEFT JOIN asset_findings f ON f.asset_id = a.id WHERE a.id = ANY($1)",
        )
        .bind(assets)
        .fetch_all(&mut *self.0)
        .await
        .map_err(db_err)
    }

    async fn lock_assets(&mut self, assets: &[i64]) -> Result<Vec<i64>> {
        // In id order, so that two transactions locking overlapping sets cannot
        // deadlock.
        let rows: Vec<(i64,)> =
            sqlx::query_as("SELECT id FROM assets WHERE id = ANY($1) ORDER BY id FOR UPDATE")
                .bind(assets)
                .fetch_all(&mut *self.0)
                .await
                .map_err(db_err)?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn rows(&mut self, assets: &[i64]) -> Result<Vec<(i64, AssetFindingsRow)>> {
        let rows: Vec<RowColumns> = sqlx::query_as(
            "SELECT asset_id, next_seq, digest, open FROM asset_findings WHERE asset_id = ANY($1)",
        )
        .bind(assets)
        .fetch_all(&mut *self.0)
        .await
        .map_err(db_err)?;
        rows_from_columns(rows)
    }

    async fn rows_from(&mut self, first: i64, limit: u32) -> Result<Vec<(i64, AssetFindingsRow)>> {
        let rows: Vec<RowColumns> = sqlx::query_as(
            "SELECT asset_id, next_seq, digest, open FROM asset_findings \
             WHERE asset_id >= $1 ORDER BY asset_id LIMIT $2",
        )
        .bind(first)
        .bind(i64::from(limit))
        .fetch_all(&mut *self.0)
        .await
        .map_err(db_err)?;
        rows_from_columns(rows)
    }

    async fn put_rows(&mut self, rows: &[(i64, &AssetFindingsRow)]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let encoded = rows
            .iter()
            .map(|(asset, r)| Ok((*asset, r, open_set::encode(&r.open)?)))
            .collect::<Result<Vec<_>>>()?;
        let mut q = QueryBuilder::<Postgres>::new(
            "INSERT INTO asset_findings (asset_id, next_seq, digest, open) ",
        );
        q.push_values(&encoded, |mut b, (asset, r, open)| {
            b.push_bind(*asset)
                .push_bind(i64::from(r.next_seq))
                .push_bind(r.digest.as_deref())
                .push_bind(open.as_slice());
        });
        q.push(
            " ON CONFLICT (asset_id) DO UPDATE SET next_seq = EXCLUDED.next_seq, \
             digest = EXCLUDED.digest, open = EXCLUDED.open",
        );
        q.build().execute(&mut *self.0).await.map_err(db_err)?;
        Ok(())
    }

    async fn put_closed(&mut self, rows: &[ClosedRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut q = QueryBuilder::<Postgres>::new(
            "INSERT INTO closed_findings (id, asset_id, detail_id, level, first_seen_at, \
             deadline_at, closed_at) ",
        );
        q.push_values(rows, |mut b, r| {
            b.push_bind(r.id)
                .push_bind(r.asset)
                .push_bind(r.detail)
                .push_bind(r.level.as_str())
                .push_bind(r.first_seen)
                .push_bind(r.deadline)
                .push_bind(r.closed_at);
        });
        q.build().execute(&mut *self.0).await.map_err(db_err)?;
        Ok(())
    }

    async fn closed(&mut self, f: &ClosedQuery<'_>) -> Result<Vec<ClosedRow>> {
        let mut q = QueryBuilder::<Postgres>::new(
            "SELECT c.id, c.asset_id, c.detail_id, c.level, c.first_seen_at, c.deadline_at, \
             c.closed_at FROM closed_findings c JOIN finding_details d ON d.id = c.detail_id \
             WHERE c.id > ",
        );
        q.push_bind(f.after);
        if let Some(a) = f.asset {
            q.push(" AND c.asset_id = ").push_bind(a);
        }
        if let Some(l) = f.level {
            q.push(" AND c.level = ").push_bind(l.as_str());
        }
        if let Some(a) = f.advisory {
            q.push(" AND d.advisory_id = ").push_bind(a.to_owned());
        }
        if let Some(c) = f.cve {
            q.push(" AND strpos(',' || d.cves || ',', ")
                .push_bind(format!(",{c},"))
                .push(") > 0");
        }
        if !f.include_suppressed {
            q.push(" AND d.suppressed IS NULL");
        }
        q.push(" ORDER BY c.id LIMIT ")
            .push_bind(i64::from(f.limit));
        let rows = q.build().fetch_all(&mut *self.0).await.map_err(db_err)?;
        rows.iter().map(closed_from_row).collect()
    }

    async fn audit(&mut self, drafts: Vec<(AuditDraft, Timestamp)>) -> Result<()> {
        audit::append_many(&mut *self.0, drafts).await
    }
}

impl PostgresStore {
    pub(crate) async fn sync_findings_of(
        &self,
        ctx: &AuditCtx,
        asset: AssetId,
        findings: &[NewFinding],
    ) -> Result<FindingsChange> {
        let not_found = StoreError::NotFound { entity: "asset" };
        let wanted = dedup_new(findings);
        let content: Vec<Arc<Finding>> = wanted.iter().map(|nf| Arc::clone(&nf.finding)).collect();
        // The common case: every finding is stored and the asset has them open already.
        let cached = cached_ids(&self.details, &content)
            .map(|ids| new_batch(asset, &wanted, &content, &ids));
        if let Some(batch) = &cached {
            let prepared = shared::prepare(&mut Db(&mut *self.reader().await?), batch).await?;
            if !prepared.missing.is_empty() {
                return Err(not_found);
            }
            if !prepared.writes() {
                return Ok(prepared.total());
            }
        }
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let (batch, remember) = shared::batch_in_tx(
            &mut Db(&mut tx),
            &self.details,
            cached,
            asset,
            &wanted,
            &content,
        )
        .await?;
        let mut prepared = shared::prepare(&mut Db(&mut tx), &batch).await?;
        let change =
            shared::apply(&mut Db(&mut tx), &self.details, ctx, &batch, &mut prepared).await?;
        if !prepared.missing.is_empty() {
            return Err(not_found);
        }
        tx.commit().await.map_err(db_err)?;
        self.details.remember(remember);
        Ok(change)
    }

    pub(crate) async fn sync_findings_batch_of(
        &self,
        ctx: &AuditCtx,
        batch: &FindingsBatch,
    ) -> Result<FindingsChange> {
        let mut prepared = shared::prepare(&mut Db(&mut *self.reader().await?), batch).await?;
        if !prepared.writes() {
            return Ok(prepared.total());
        }
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let change =
            shared::apply(&mut Db(&mut tx), &self.details, ctx, batch, &mut prepared).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(change)
    }

    pub(crate) async fn store_finding_details_of(
        &self,
        findings: &[Arc<Finding>],
    ) -> Result<Vec<i64>> {
        if let Some(ids) = cached_ids(&self.details, findings) {
            return Ok(ids);
        }
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let (ids, remember) =
            shared::put_details(&mut Db(&mut tx), &self.details, findings).await?;
        tx.commit().await.map_err(db_err)?;
        self.details.remember(remember);
        Ok(ids)
    }

    pub(crate) async fn relevel_findings_of(
        &self,
        ctx: &AuditCtx,
        levels: &[AdvisoryLevel],
    ) -> Result<u64> {
        if levels.is_empty() {
            return Ok(0);
        }
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let changed = shared::relevel(&mut Db(&mut tx), ctx, levels).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(changed)
    }

    pub(crate) async fn list_findings_of(
        &self,
        filter: &FindingFilter,
    ) -> Result<Vec<StoredFinding>> {
        shared::list(&mut Db(&mut *self.reader().await?), &self.details, filter).await
    }
}
