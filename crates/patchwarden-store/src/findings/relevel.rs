//! Levels live per advisory (`advisory_levels`): re-levelling updates one row per
//! advisory, and every open finding of the advisory, on every asset, has the new level
//! and a deadline counted from its own first-seen time. Closed findings keep theirs.

use super::sync::{changed_levels, last_levels};
use super::FindingsDb;
use crate::audit_drafts as drafts;
use crate::{AdvisoryLevel, AuditCtx, Result};
use std::collections::HashSet;

const CHUNK: usize = 500;
/// Assets read per statement when counting.
const PAGE: u32 = 256;

/// [`crate::Store::relevel_findings`]: stores the levels that differ; returns how many
/// open findings took a new level or deadline.
pub async fn relevel(
    db: &mut dyn FindingsDb,
    ctx: &AuditCtx,
    levels: &[AdvisoryLevel],
) -> Result<u64> {
    let levels = last_levels(levels);
    let changed = changed_levels(db, &levels).await?;
    let refs: Vec<&AdvisoryLevel> = changed.iter().collect();
    write_levels(db, ctx, &refs).await
}

/// Writes `levels`, each differing from the stored one or new. When a stored level
/// changed, the open findings of those advisories are counted and one
/// `finding.relevel` event records it; returns that count.
pub(super) async fn write_levels(
    db: &mut dyn FindingsDb,
    ctx: &AuditCtx,
    levels: &[&AdvisoryLevel],
) -> Result<u64> {
    if levels.is_empty() {
        return Ok(0);
    }
    let mut existing = HashSet::new();
    for chunk in levels.chunks(CHUNK) {
        let names: Vec<&str> = chunk.iter().map(|l| l.advisory.as_str()).collect();
        existing.extend(db.levels(&names).await?.into_iter().map(|l| l.advisory));
        db.put_levels(chunk).await?;
    }
    // A level stored for the first time has no open finding yet (every open finding's
    // advisory has a level): only replaced ones change findings.
    let replaced: Vec<&str> = levels
        .iter()
        .map(|l| l.advisory.as_str())
        .filter(|a| existing.contains(*a))
        .collect();
    if replaced.is_empty() {
        return Ok(0);
    }
    let changed = count_open_of(db, &replaced).await?;
    let draft = drafts::finding_relevel(ctx, replaced.len(), changed);
    db.audit(vec![(draft, ctx.at)]).await?;
    Ok(changed)
}

/// Open findings (suppressed ones included) of these advisories on every asset.
async fn count_open_of(db: &mut dyn FindingsDb, advisories: &[&str]) -> Result<u64> {
    let details: HashSet<i64> = db.detail_ids_of(advisories).await?.into_iter().collect();
    if details.is_empty() {
        return Ok(0);
    }
    let mut count = 0u64;
    let mut next = 0;
    loop {
        let page = db.rows_from(next, PAGE).await?;
        let Some((last, _)) = page.last() else {
            return Ok(count);
        };
        next = last + 1;
        for (_, row) in &page {
            count += row
                .open
                .iter()
                .filter(|f| details.contains(&f.detail))
                .count() as u64;
        }
    }
}
