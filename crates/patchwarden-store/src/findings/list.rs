//! Listing findings: open ones come from the assets' `open` columns (in asset order,
//! which is id order), closed ones from `closed_findings`; the two are merged by id.

use super::detail::DetailCache;
use super::open_set::OpenFinding;
use super::plan::detail;
use super::sync::details_of;
use super::{asset_of, deadline, finding_id, ClosedQuery, ClosedRow, FindingsDb};
use crate::{FindingFilter, Result, StoreError, StoredFinding};
use patchwarden_domain::clock::from_micros;
use patchwarden_domain::finding::Finding;
use patchwarden_domain::ids::AssetId;
use std::collections::{HashMap, HashSet};

/// Assets whose open findings are read per statement while listing the fleet.
const PAGE: u32 = 64;

/// An open finding that passed the filter.
struct Open {
    id: i64,
    asset: i64,
    finding: OpenFinding,
}

/// [`crate::Store::list_findings`].
pub async fn list(
    db: &mut dyn FindingsDb,
    cache: &DetailCache,
    f: &FindingFilter,
) -> Result<Vec<StoredFinding>> {
    let after = f.after.unwrap_or(0).max(0);
    let limit = f.limit as usize;
    if limit == 0 {
        return Ok(Vec::new());
    }
    let at_level: Option<HashSet<String>> = match f.level {
        Some(l) => Some(db.advisories_at(l).await?.into_iter().collect()),
        None => None,
    };
    let wanted = |d: &Finding| {
        (f.include_suppressed || d.suppressed.is_none())
            && f.advisory.as_ref().is_none_or(|a| *a == d.advisory)
            && f.cve.as_ref().is_none_or(|c| d.cves.contains(c))
            && at_level.as_ref().is_none_or(|l| l.contains(&d.advisory))
    };
    let mut open: Vec<Open> = Vec::new();
    let mut next = asset_of(after).max(f.asset.map_or(0, AssetId::get));
    while open.len() < limit {
        let rows = match f.asset {
            Some(a) if next > a.get() => break,
            Some(a) => db.rows(&[a.get()]).await?,
            None => db.rows_from(next, PAGE).await?,
        };
        let Some((last, _)) = rows.last() else { break };
        next = last + 1;
        let mut page = Vec::new();
        for (asset, row) in &rows {
            for o in &row.open {
                let id = finding_id(*asset, o.seq)?;
                if id > after {
                    page.push(Open {
                        id,
                        asset: *asset,
                        finding: *o,
                    });
                }
            }
        }
        let ids: Vec<i64> = page.iter().map(|o| o.finding.detail).collect();
        let details = details_of(db, cache, &ids).await?;
        for o in page {
            if open.len() == limit {
                break;
            }
            if wanted(detail(&details, o.finding.detail)?) {
                open.push(o);
            }
        }
        if f.asset.is_some() {
            break;
        }
    }
    let closed = if f.include_closed {
        db.closed(&ClosedQuery {
            after,
            asset: f.asset.map(AssetId::get),
            level: f.level,
            advisory: f.advisory.as_deref(),
            cve: f.cve.as_deref(),
            include_suppressed: f.include_suppressed,
            limit: f.limit,
        })
        .await?
    } else {
        Vec::new()
    };
    materialise(db, cache, open, closed, limit).await
}

/// The first `limit` of both lists (each ascending by id) as stored findings.
async fn materialise(
    db: &mut dyn FindingsDb,
    cache: &DetailCache,
    open: Vec<Open>,
    closed: Vec<ClosedRow>,
    limit: usize,
) -> Result<Vec<StoredFinding>> {
    enum Item {
        Open(Open),
        Closed(ClosedRow),
    }
    let mut items = Vec::with_capacity(limit.min(open.len() + closed.len()));
    let (mut o, mut c) = (open.into_iter().peekable(), closed.into_iter().peekable());
    while items.len() < limit {
        let take_open = match (o.peek(), c.peek()) {
            (Some(x), Some(y)) => x.id < y.id,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        items.push(if take_open {
            o.next().map(Item::Open)
        } else {
            c.next().map(Item::Closed)
        });
    }
    let items: Vec<Item> = items.into_iter().flatten().collect();
    let ids: Vec<i64> = items
        .iter()
        .map(|i| match i {
            Item::Open(o) => o.finding.detail,
            Item::Closed(c) => c.detail,
        })
        .collect();
    let details = details_of(db, cache, &ids).await?;
    let advisories: HashSet<&str> = items
        .iter()
        .filter_map(|i| match i {
            Item::Open(o) => details.get(&o.finding.detail).map(|d| d.advisory.as_str()),
            Item::Closed(_) => None,
        })
        .collect();
    let advisories: Vec<&str> = advisories.into_iter().collect();
    let mut levels = HashMap::new();
    for chunk in advisories.chunks(500) {
        for l in db.levels(chunk).await? {
            levels.insert(l.advisory.clone(), l);
        }
    }
    items
        .into_iter()
        .map(|item| {
            Ok(match item {
                Item::Open(o) => {
                    let d = detail(&details, o.finding.detail)?;
                    let l = levels.get(&d.advisory).ok_or_else(|| {
                        StoreError::corrupt(format!("no level stored for advisory {}", d.advisory))
                    })?;
                    StoredFinding {
                        id: o.id,
                        asset_id: AssetId::new(o.asset),
                        finding: d.clone(),
                        level: l.level,
                        first_seen_at: from_micros(o.finding.first_seen),
                        deadline_at: from_micros(deadline(o.finding.first_seen, l.allowed)),
                        closed_at: None,
                    }
                }
                Item::Closed(c) => StoredFinding {
                    id: c.id,
                    asset_id: AssetId::new(c.asset),
                    finding: detail(&details, c.detail)?.clone(),
                    level: c.level,
                    first_seen_at: from_micros(c.first_seen),
                    deadline_at: from_micros(c.deadline),
                    closed_at: Some(from_micros(c.closed_at)),
                },
            })
        })
        .collect()
}
