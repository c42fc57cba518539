//! Findings (`patchwarden_store::findings`): the statements of [`FindingsDb`] on one
//! connection, and how the store's methods run them: reads on a reader, writes in one
//! `BEGIN IMMEDIATE` transaction on the single writer, taken only when something
//! changes.

use crate::audit;
use crate::error::db_err;
use crate::group_commit::FindingsSync;
use crate::SqliteStore;
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
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use std::sync::Arc;

/// One connection (or transaction) seen as [`FindingsDb`].
pub(crate) struct Db<'c>(pub &'c mut SqliteConnection);

fn level_of(text: &str) -> Result<Level> {
    text.parse()
        .map_err(|e| StoreError::corrupt(format!("finding level: {e}")))
}

fn micros(d: SignedDuration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

fn closed_from_row(row: &SqliteRow) -> Result<ClosedRow> {
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
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT id, package, arch, installed, fixed, status, advisory_id, source, cves, \
             distro, evidence, suppressed FROM finding_details WHERE id IN ",
        );
        crate::sql::push_list(&mut q, ids.iter().copied());
        let rows = crate::sql::build(&mut q)
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
        // No unique index: the store's cache is complete (see `details_ready`), so none
        // of these is stored yet. Inside the writer's transaction nobody else inserts:
        // the ids are given here, after the largest one.
        let (last,): (i64,) = sqlx::query_as("SELECT coalesce(max(id), 0) FROM finding_details")
            .fetch_one(&mut *self.0)
            .await
            .map_err(db_err)?;
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO finding_details (id, hash, package, arch, installed, fixed, status, \
             advisory_id, source, cves, distro, evidence, suppressed) ",
        );
        q.push_values(new.iter().zip(last + 1..), |mut b, ((hash, f), id)| {
            b.push_bind(id)
                .push_bind(hash.as_slice())
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
        crate::sql::build(&mut q)
            .execute(&mut *self.0)
            .await
            .map_err(db_err)?;
        Ok(new
            .iter()
            .zip(last + 1..)
            .map(|((h, _), id)| (*h, id))
            .collect())
    }

    async fn detail_ids_of(&mut self, advisories: &[&str]) -> Result<Vec<i64>> {
        // One pass over the table (it has no index on the advisory; this serves the
        // rare re-levelling of stored levels).
        let wanted: std::collections::HashSet<&str> = advisories.iter().copied().collect();
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, advisory_id FROM finding_details")
                .fetch_all(&mut *self.0)
                .await
                .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .filter(|(_, a)| wanted.contains(a.as_str()))
            .map(|(id, _)| id)
            .collect())
    }

    async fn levels(&mut self, advisories: &[&str]) -> Result<Vec<AdvisoryLevel>> {
        // One row holding them all (a JSON array of [advisory, level, allowed]): every
        // sync reads the level of each advisory it names, a few hundred for a host
        // behind on updates, and sqlx hands each result row from the connection's
        // thread to this task on its own. The names go in as one JSON array, so the
        // statement's text is always the same and sqlx keeps it prepared.
        let names = serde_json::to_string(advisories)
            .map_err(|e| StoreError::Invalid(format!("advisory names: {e}")))?;
        let (rows,): (String,) = sqlx::query_as(
            "SELECT json_group_array(json_array(l.advisory_id, l.level, l.allowed)) \
             FROM json_each($1) AS n JOIN advisory_levels AS l ON l.advisory_id = n.value",
        )
        .bind(names)
        .fetch_one(&mut *self.0)
        .await
        .map_err(db_err)?;
        let rows: Vec<(String, String, i64)> = serde_json::from_str(&rows)
            .map_err(|e| StoreError::corrupt(format!("advisory levels: {e}")))?;
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
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO advisory_levels (advisory_id, level, allowed) ",
        );
        q.push_values(levels, |mut b, l| {
            b.push_bind(l.advisory.as_str())
                .push_bind(l.level.as_str())
                .push_bind(micros(l.allowed));
        });
        q.push(
            " ON CONFLICT (advisory_id) DO UPDATE SET level = excluded.level, \
             allowed = excluded.allowed",
        );
        crate::sql::build(&mut q)
            .execute(&mut *self.0)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn digests(&mut self, assets: &[i64]) -> Result<Vec<(i64, Option<Vec<u8>>)>> {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT a.id, f.digest FROM assets a \
             LEFT JOIN asset_findings f ON f.asset_id = a.id WHERE a.id IN ",
        );
        crate::sql::push_list(&mut q, assets.iter().copied());
        crate::sql::build_as(&mut q)
            .fetch_all(&mut *self.0)
            .await
            .map_err(db_err)
    }

    async fn lock_assets(&mut self, assets: &[i64]) -> Result<Vec<i64>> {
        // The single writer connection serialises every write: nothing to lock.
        let mut q = QueryBuilder::<Sqlite>::new("SELECT id FROM assets WHERE id IN ");
        crate::sql::push_list(&mut q, assets.iter().copied());
        let rows: Vec<(i64,)> = crate::sql::build_as(&mut q)
            .fetch_all(&mut *self.0)
            .await
            .map_err(db_err)?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn rows(&mut self, assets: &[i64]) -> Result<Vec<(i64, AssetFindingsRow)>> {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT asset_id, next_seq, digest, open FROM asset_findings WHERE asset_id IN ",
        );
        crate::sql::push_list(&mut q, assets.iter().copied());
        let rows: Vec<RowColumns> = crate::sql::build_as(&mut q)
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
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO asset_findings (asset_id, next_seq, digest, open) ",
        );
        q.push_values(&encoded, |mut b, (asset, r, open)| {
            b.push_bind(*asset)
                .push_bind(i64::from(r.next_seq))
                .push_bind(r.digest.as_deref())
                .push_bind(open.as_slice());
        });
        q.push(
            " ON CONFLICT (asset_id) DO UPDATE SET next_seq = excluded.next_seq, \
             digest = excluded.digest, open = excluded.open",
        );
        crate::sql::build(&mut q)
            .execute(&mut *self.0)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn put_closed(&mut self, rows: &[ClosedRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut q = QueryBuilder::<Sqlite>::new(
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
        crate::sql::build(&mut q)
            .execute(&mut *self.0)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn closed(&mut self, f: &ClosedQuery<'_>) -> Result<Vec<ClosedRow>> {
        let mut q = QueryBuilder::<Sqlite>::new(
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
            q.push(" AND instr(',' || d.cves || ',', ")
                .push_bind(format!(",{c},"))
                .push(") > 0");
        }
        if !f.include_suppressed {
            q.push(" AND d.suppressed IS NULL");
        }
        q.push(" ORDER BY c.id LIMIT ")
            .push_bind(i64::from(f.limit));
        let rows = crate::sql::build(&mut q)
            .fetch_all(&mut *self.0)
            .await
            .map_err(db_err)?;
        rows.iter().map(closed_from_row).collect()
    }

    async fn audit(&mut self, drafts: Vec<(AuditDraft, Timestamp)>) -> Result<()> {
        audit::append_many(&mut *self.0, drafts).await
    }
}

impl SqliteStore {
    /// Makes the detail cache complete, once: only this process writes the file, so
    /// from then on a content it does not know is not stored (the table has no unique
    /// index). Two tasks that insert the same new content in the moment between one's
    /// commit and its caching store it twice; both rows are valid.
    async fn details_ready(&self) -> Result<()> {
        if self.details.is_complete() {
            return Ok(());
        }
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as("SELECT id, hash FROM finding_details")
            .fetch_all(&mut *self.reader().await?)
            .await
            .map_err(db_err)?;
        let rows = rows
            .into_iter()
            .map(|(id, h)| {
                DetailHash::try_from(h.as_slice())
                    .map(|h| (id, h))
                    .map_err(|_| StoreError::corrupt("a finding detail hash of a wrong length"))
            })
            .collect::<Result<Vec<_>>>()?;
        self.details.load(rows);
        Ok(())
    }

    pub(crate) async fn sync_findings_of(
        &self,
        ctx: &AuditCtx,
        asset: AssetId,
        findings: &[NewFinding],
    ) -> Result<FindingsChange> {
        let not_found = StoreError::NotFound { entity: "asset" };
        if findings.is_empty() && !self.may_have_finding_row(asset.get()) {
            // Never had a finding, wants none: an agent's report on a host that no
            // advisory names reads and writes nothing here.
            return Ok(FindingsChange::default());
        }
        self.details_ready().await?;
        let wanted = dedup_new(findings);
        let content: Vec<Arc<Finding>> = wanted.iter().map(|nf| Arc::clone(&nf.finding)).collect();
        // The common case: every finding is stored and the asset has them open already.
        let cached = cached_ids(&self.details, &content)
            .map(|ids| new_batch(asset, &wanted, &content, &ids));
        // An asset that never had a finding has no digest to compare: it is written.
        if let Some(batch) = cached
            .as_ref()
            .filter(|_| self.may_have_finding_row(asset.get()))
        {
            let prepared = shared::prepare(&mut Db(&mut *self.reader().await?), batch).await?;
            if !prepared.missing.is_empty() {
                return Err(not_found);
            }
            if !prepared.writes() {
                return Ok(prepared.total());
            }
        }
        self.will_have_finding_rows([asset.get()]);
        // Written by the group-commit writer, in the transaction of the reports and
        // contacts around it: one commit (and fsync) for all.
        let sync = FindingsSync {
            asset,
            wanted: wanted.iter().map(|nf| (*nf).clone()).collect(),
            content,
            cached,
        };
        self.writer.sync_findings(ctx, sync).await
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
        self.will_have_finding_rows(prepared.written_assets());
        let mut tx = self
            .write
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err)?;
        let change =
            shared::apply(&mut Db(&mut tx), &self.details, ctx, batch, &mut prepared).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(change)
    }

    pub(crate) async fn store_finding_details_of(
        &self,
        findings: &[Arc<Finding>],
    ) -> Result<Vec<i64>> {
        self.details_ready().await?;
        if let Some(ids) = cached_ids(&self.details, findings) {
            return Ok(ids);
        }
        let mut tx = self
            .write
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err)?;
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
        let mut tx = self
            .write
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err)?;
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
