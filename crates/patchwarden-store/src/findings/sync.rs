//! A findings sync, in two steps a backend runs on its own connections: [`prepare`]
//! reads (which assets' findings may change: their stored digest differs from what
//! they want) and [`apply`] writes, in one transaction, only for those.

use super::batch::BatchDetails;
use super::detail::{detail_hash, identity, DetailCache, DetailHash};
use super::plan::{plan_sync, wanted_digest, Details, Wanted};
use super::relevel::write_levels;
use super::{finding_id, ClosedRow, FindingsDb};
use crate::audit_drafts as drafts;
use crate::Fast;
use crate::{
    AdvisoryLevel, AuditCtx, FindingsBatch, FindingsChange, NewFinding, Result, StoreError,
};
use patchwarden_domain::clock::to_micros;
use patchwarden_domain::finding::Finding;
use patchwarden_domain::ids::AssetId;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Rows a statement reads or writes at most.
const CHUNK: usize = 500;
/// Details a statement writes at most (13 values each, under SQLite's 32,766).
const DETAIL_CHUNK: usize = 2000;

/// One asset whose findings may change.
#[derive(Debug, Clone)]
struct Candidate {
    asset: i64,
    /// Its place in the batch's `assets`.
    index: usize,
    digest: Vec<u8>,
}

/// What [`prepare`] found.
#[derive(Debug, Default)]
pub struct Prepared {
    candidates: Vec<Candidate>,
    /// Levels that differ from the stored ones.
    levels: Vec<AdvisoryLevel>,
    /// Each asset's counts, by its place in the batch's `assets`: those found
    /// unchanged here (every finding kept), the others once [`apply`] wrote them (an
    /// asset found missing keeps zeros).
    pub changes: Vec<FindingsChange>,
    /// Assets of the batch that do not exist.
    pub missing: Vec<AssetId>,
}

impl Prepared {
    /// The assets whose findings [`apply`] will write.
    pub fn written_assets(&self) -> impl Iterator<Item = i64> + '_ {
        self.candidates.iter().map(|c| c.asset)
    }

    /// The counts of all the batch's assets so far: before [`apply`], of those found
    /// unchanged; after it, of every asset.
    pub fn total(&self) -> FindingsChange {
        let mut total = FindingsChange::default();
        for change in &self.changes {
            total.add(change);
        }
        total
    }

    /// Whether [`apply`] has anything to do.
    pub fn writes(&self) -> bool {
        !self.candidates.is_empty() || !self.levels.is_empty()
    }
}

/// The last level given for each advisory.
pub(super) fn last_levels(levels: &[AdvisoryLevel]) -> Vec<&AdvisoryLevel> {
    let mut by: HashMap<&str, &AdvisoryLevel, Fast> =
        HashMap::with_capacity_and_hasher(levels.len(), Fast::default());
    for l in levels {
        by.insert(&l.advisory, l);
    }
    let mut out: Vec<&AdvisoryLevel> = by.into_values().collect();
    out.sort_unstable_by(|a, b| a.advisory.cmp(&b.advisory));
    out
}

/// Reads what the batch's assets have: the ones whose stored digest equals what they
/// want are counted unchanged; the others are left for [`apply`].
pub async fn prepare(db: &mut dyn FindingsDb, batch: &FindingsBatch) -> Result<Prepared> {
    let levels = last_levels(&batch.levels);
    let known: HashSet<&str> = levels.iter().map(|l| l.advisory.as_str()).collect();
    if let Some(a) = batch.details.advisories().find(|a| !known.contains(a)) {
        return Err(StoreError::Invalid(format!(
            "no level given for advisory {a}"
        )));
    }
    let mut candidates = Vec::with_capacity(batch.assets.len());
    for (index, (asset, ids)) in batch.assets.iter().enumerate() {
        if let Some(id) = ids.iter().find(|id| !batch.details.contains(**id)) {
            return Err(StoreError::Invalid(format!(
                "finding detail {id} is not in the batch"
            )));
        }
        candidates.push(Candidate {
            asset: asset.get(),
            index,
            digest: wanted_digest(ids),
        });
    }
    let mut stored: HashMap<i64, Option<Vec<u8>>> = HashMap::with_capacity(candidates.len());
    let assets: Vec<i64> = candidates.iter().map(|c| c.asset).collect();
    for chunk in assets.chunks(CHUNK) {
        stored.extend(db.digests(chunk).await?);
    }
    let mut out = Prepared {
        changes: vec![FindingsChange::default(); batch.assets.len()],
        ..Prepared::default()
    };
    for c in candidates {
        match stored.get(&c.asset) {
            None => out.missing.push(AssetId::new(c.asset)),
            Some(Some(d)) if *d == c.digest => {
                let n = batch.assets[c.index].1.len();
                out.changes[c.index].kept = u32::try_from(n).unwrap_or(u32::MAX);
            }
            // No row yet: the asset never had a finding, which is what it wants.
            Some(None) if batch.assets[c.index].1.is_empty() => {}
            Some(_) => out.candidates.push(c),
        }
    }
    out.levels = changed_levels(db, &levels).await?;
    Ok(out)
}

/// Of `levels`, those that differ from the stored ones.
pub(super) async fn changed_levels(
    db: &mut dyn FindingsDb,
    levels: &[&AdvisoryLevel],
) -> Result<Vec<AdvisoryLevel>> {
    let mut stored = HashMap::new();
    for chunk in levels.chunks(CHUNK) {
        let names: Vec<&str> = chunk.iter().map(|l| l.advisory.as_str()).collect();
        for l in db.levels(&names).await? {
            stored.insert(l.advisory.clone(), l);
        }
    }
    Ok(levels
        .iter()
        .filter(|l| stored.get(&l.advisory) != Some(**l))
        .map(|l| (*l).clone())
        .collect())
}

/// The details of `ids` from the cache, or read and then cached.
pub(super) async fn details_of(
    db: &mut dyn FindingsDb,
    cache: &DetailCache,
    ids: &[i64],
) -> Result<Details> {
    let missing = cache.missing(ids.iter().copied());
    let mut fetched = Vec::with_capacity(missing.len());
    for chunk in missing.chunks(CHUNK) {
        fetched.extend(db.details(chunk).await?);
    }
    let mut out = cache.get_many(ids.iter().copied());
    let fetched: Vec<(i64, DetailHash, Arc<Finding>)> = fetched
        .into_iter()
        .map(|(id, f)| (id, detail_hash(&f), Arc::new(f)))
        .collect();
    for (id, _, f) in &fetched {
        out.insert(*id, f.clone());
    }
    cache.remember(fetched);
    Ok(out)
}

/// Writes what [`prepare`] left: changed levels (a re-levelling of other assets'
/// findings too, audited as such), then each candidate asset's plan under the writer
/// (rows read again here, so a sync that landed in between is seen). One
/// `finding.sync` event per asset that opened, closed, suppressed or unsuppressed
/// anything. Assets deleted in between are added to `prepared.missing`.
pub async fn apply(
    db: &mut dyn FindingsDb,
    cache: &DetailCache,
    ctx: &AuditCtx,
    batch: &FindingsBatch,
    prepared: &mut Prepared,
) -> Result<FindingsChange> {
    apply_each(db, cache, ctx, &[], batch, prepared).await
}

/// [`apply`] with the asset at place `i` of the batch's `assets` synced as of
/// `contexts[i]` (its instant, and the actor of its `finding.sync` event), `ctx` where
/// `contexts` has no such place and for the levels written: the findings syncs of
/// several requests written as one batch. Each asset's counts land in
/// `prepared.changes`.
pub async fn apply_each(
    db: &mut dyn FindingsDb,
    cache: &DetailCache,
    ctx: &AuditCtx,
    contexts: &[&AuditCtx],
    batch: &FindingsBatch,
    prepared: &mut Prepared,
) -> Result<FindingsChange> {
    if !prepared.levels.is_empty() {
        let levels: Vec<&AdvisoryLevel> = prepared.levels.iter().collect();
        write_levels(db, ctx, &levels).await?;
    }
    // Locked in id order, so that transactions over overlapping assets cannot deadlock.
    let mut assets: Vec<i64> = prepared.candidates.iter().map(|c| c.asset).collect();
    assets.sort_unstable();
    let mut existing = HashSet::with_capacity(assets.len());
    let mut rows = HashMap::with_capacity(assets.len());
    for chunk in assets.chunks(CHUNK) {
        existing.extend(db.lock_assets(chunk).await?);
        rows.extend(db.rows(chunk).await?);
    }
    let open_ids: Vec<i64> = rows
        .values()
        .flat_map(|r| r.open.iter().map(|f| f.detail))
        .collect();
    let open_details = details_of(db, cache, &open_ids).await?;
    let content = |id: i64| {
        batch
            .details
            .get(id)
            .or_else(|| open_details.get(&id).map(|f| &**f))
    };
    let mut put = Vec::new();
    let mut closing = Vec::new();
    let mut drafts = Vec::new();
    let mut wanted = Vec::new();
    for c in &prepared.candidates {
        if !existing.contains(&c.asset) {
            prepared.missing.push(AssetId::new(c.asset));
            continue;
        }
        let stored = rows.remove(&c.asset).unwrap_or_default();
        let ctx = contexts.get(c.index).copied().unwrap_or(ctx);
        let at = to_micros(ctx.at);
        wanted.clear();
        wanted.extend(batch.assets[c.index].1.iter().map(|id| Wanted {
            id: *id,
            suppressed: batch.details.is_suppressed(*id),
        }));
        let plan = plan_sync(at, &stored, &wanted, c.digest.clone(), &content)?;
        if plan.change.is_notable() {
            let draft = drafts::finding_sync(ctx, AssetId::new(c.asset), &plan.change);
            drafts.push((draft, ctx.at));
        }
        if let Some(slot) = prepared.changes.get_mut(c.index) {
            slot.clone_from(&plan.change);
        }
        closing.extend(plan.closing.iter().map(|f| (c.asset, *f, at)));
        if plan.writes_row(&stored) {
            put.push((c.asset, plan.row));
        }
    }
    // Closed findings keep the level their advisory has now.
    if !closing.is_empty() {
        let advisories: HashSet<&str> = closing
            .iter()
            .filter_map(|(_, f, _)| open_details.get(&f.detail).map(|d| d.advisory.as_str()))
            .collect();
        let advisories: Vec<&str> = advisories.into_iter().collect();
        let mut levels = HashMap::new();
        for chunk in advisories.chunks(CHUNK) {
            for l in db.levels(chunk).await? {
                levels.insert(l.advisory.clone(), l);
            }
        }
        let mut rows = Vec::with_capacity(closing.len());
        for (asset, f, at) in closing {
            let advisory = &super::plan::detail(&open_details, f.detail)?.advisory;
            let l = levels.get(advisory).ok_or_else(|| {
                StoreError::corrupt(format!("no level stored for advisory {advisory}"))
            })?;
            rows.push(ClosedRow {
                id: finding_id(asset, f.seq)?,
                asset,
                detail: f.detail,
                level: l.level,
                first_seen: f.first_seen,
                deadline: super::deadline(f.first_seen, l.allowed),
                closed_at: at,
            });
        }
        for chunk in rows.chunks(CHUNK) {
            db.put_closed(chunk).await?;
        }
    }
    for chunk in put.chunks(CHUNK) {
        let refs: Vec<(i64, &super::plan::AssetFindingsRow)> =
            chunk.iter().map(|(a, r)| (*a, r)).collect();
        db.put_rows(&refs).await?;
    }
    if !drafts.is_empty() {
        db.audit(drafts).await?;
    }
    Ok(prepared.total())
}

/// Rows to add to the [`DetailCache`] once the transaction that wrote them committed.
pub type Remember = Vec<(i64, DetailHash, Arc<Finding>)>;

/// Stores the details not stored yet (inside the caller's transaction) and returns the
/// id of each of `findings`, in order, with the rows to remember in the cache once the
/// transaction committed.
pub async fn put_details(
    db: &mut dyn FindingsDb,
    cache: &DetailCache,
    findings: &[Arc<Finding>],
) -> Result<(Vec<i64>, Remember)> {
    let hashes = cache.hashes(findings);
    let mut ids = cache.ids_of(&hashes);
    // In the order given (each once): ids then follow it, so the findings of one
    // package get neighbouring ids, which keeps asset lists short and sorted.
    let mut seen: HashSet<DetailHash> = HashSet::new();
    let mut unknown: Vec<(DetailHash, &Arc<Finding>)> = Vec::new();
    for ((h, f), id) in hashes.iter().zip(findings).zip(&ids) {
        if id.is_none() && seen.insert(*h) {
            unknown.push((*h, f));
        }
    }
    let mut stored = HashMap::with_capacity(unknown.len());
    for chunk in unknown.chunks(DETAIL_CHUNK) {
        let rows: Vec<(DetailHash, &Finding)> = chunk.iter().map(|(h, f)| (*h, &***f)).collect();
        stored.extend(db.put_details(&rows).await?);
    }
    let mut remember = Vec::with_capacity(unknown.len());
    for (h, f) in &unknown {
        let id = stored
            .get(h)
            .ok_or_else(|| StoreError::corrupt("a stored finding detail got no id"))?;
        remember.push((*id, *h, Arc::clone(f)));
    }
    for (id, h) in ids.iter_mut().zip(&hashes) {
        if id.is_none() {
            *id = stored.get(h).copied();
        }
    }
    let ids = ids
        .into_iter()
        .map(|id| id.ok_or_else(|| StoreError::corrupt("a finding detail got no id")))
        .collect::<Result<Vec<i64>>>()?;
    Ok((ids, remember))
}

/// The detail ids of `findings` when every one is cached already.
pub fn cached_ids(cache: &DetailCache, findings: &[Arc<Finding>]) -> Option<Vec<i64>> {
    cache.ids_of(&cache.hashes(findings)).into_iter().collect()
}

/// The one-asset sync's batch inside its write transaction: `cached` (built from
/// details the cache knew, so stored already: no hashing or storing again) when there
/// is one, else one of the details of `content` stored now, with the rows to remember
/// after the commit.
pub async fn batch_in_tx(
    db: &mut dyn FindingsDb,
    cache: &DetailCache,
    cached: Option<FindingsBatch>,
    asset: AssetId,
    wanted: &[&NewFinding],
    content: &[Arc<Finding>],
) -> Result<(FindingsBatch, Remember)> {
    if let Some(batch) = cached {
        return Ok((batch, Remember::new()));
    }
    let (ids, remember) = put_details(db, cache, content).await?;
    Ok((new_batch(asset, wanted, content, &ids), remember))
}

/// The one-asset sync of [`crate::Store::sync_findings`] as a batch: `wanted` as
/// [`dedup_new`] left them, `ids` their detail ids; the level of each advisory is the
/// last one given.
pub fn new_batch(
    asset: AssetId,
    wanted: &[&NewFinding],
    content: &[Arc<Finding>],
    ids: &[i64],
) -> FindingsBatch {
    FindingsBatch {
        levels: wanted
            .iter()
            .map(|nf| AdvisoryLevel {
                advisory: nf.finding.advisory.clone(),
                level: nf.level,
                allowed: nf.allowed,
            })
            .collect(),
        details: Arc::new(BatchDetails::new(
            ids.iter().copied().zip(content.iter().cloned()),
        )),
        assets: vec![(asset, ids.to_vec())],
    }
}

/// The last finding of each identity (package, arch, advisory), in input order.
pub fn dedup_new(findings: &[NewFinding]) -> Vec<&NewFinding> {
    let mut last: HashMap<super::detail::Identity<'_>, usize, Fast> =
        HashMap::with_capacity_and_hasher(findings.len(), Fast::default());
    for (i, f) in findings.iter().enumerate() {
        last.insert(identity(&f.finding), i);
    }
    findings
        .iter()
        .enumerate()
        .filter(|(i, f)| last.get(&identity(&f.finding)) == Some(i))
        .map(|(_, f)| f)
        .collect()
}
