//! Converting the findings of schema 0002–0008 (one `findings` row per asset,
//! package and advisory, renamed `findings_v1` by migration 0009) into the shared
//! model. Backends run it once when they open a database that still has that table,
//! in one transaction that also drops it.

use super::detail::detail_hash;
use super::detail::DetailHash;
use super::open_set::{OpenFinding, MAX_SEQ};
use super::plan::AssetFindingsRow;
use super::{finding_id, ClosedRow};
use crate::{AdvisoryLevel, Result, StoreError};
use jiff::SignedDuration;
use patchwarden_domain::finding::Finding;
use patchwarden_domain::level::Level;
use std::collections::HashMap;

/// A `findings_v1` row, its text columns already parsed.
#[derive(Debug, Clone)]
pub struct V1Row {
    pub asset: i64,
    pub finding: Finding,
    pub level: Level,
    pub first_seen: i64,
    pub deadline: i64,
    pub closed_at: Option<i64>,
}

/// What the old rows become once their details have ids.
#[derive(Debug, Default)]
pub struct Converted {
    pub rows: Vec<(i64, AssetFindingsRow)>,
    pub closed: Vec<ClosedRow>,
    pub levels: Vec<AdvisoryLevel>,
}

/// The distinct details of `rows` (to store first) and a function of their ids that
/// gives the converted rows. `rows` come ordered by asset, then by their old id: the
/// old order numbers the findings of each asset from 1.
#[derive(Debug)]
pub struct V1Plan {
    pub details: Vec<Finding>,
    rows: Vec<(V1Row, usize)>,
}

pub fn plan_v1(rows: Vec<V1Row>) -> V1Plan {
    let mut positions: HashMap<DetailHash, usize> = HashMap::new();
    let mut details = Vec::new();
    let rows = rows
        .into_iter()
        .map(|r| {
            let pos = *positions.entry(detail_hash(&r.finding)).or_insert_with(|| {
                details.push(r.finding.clone());
                details.len() - 1
            });
            (r, pos)
        })
        .collect();
    V1Plan { details, rows }
}

impl V1Plan {
    /// The converted rows, given the stored id of each of `self.details`.
    pub fn resolve(self, ids: &[i64]) -> Result<Converted> {
        let mut out = Converted::default();
        let mut levels: HashMap<String, AdvisoryLevel> = HashMap::new();
        let mut current: Option<(i64, AssetFindingsRow)> = None;
        for (r, pos) in self.rows {
            let detail = *ids
                .get(pos)
                .ok_or_else(|| StoreError::corrupt("a converted detail has no id"))?;
            if current.as_ref().is_none_or(|(a, _)| *a != r.asset) {
                out.rows.extend(current.take());
                current = Some((r.asset, AssetFindingsRow::default()));
            }
            let Some((asset, row)) = current.as_mut() else {
                continue;
            };
            let seq = row.next_seq;
            if seq > MAX_SEQ {
                return Err(StoreError::corrupt(format!(
                    "asset {asset} has more findings than one asset may number"
                )));
            }
            row.next_seq += 1;
            match r.closed_at {
                Some(closed_at) => out.closed.push(ClosedRow {
                    id: finding_id(*asset, seq)?,
                    asset: *asset,
                    detail,
                    level: r.level,
                    first_seen: r.first_seen,
                    deadline: r.deadline,
                    closed_at,
                }),
                None => {
                    row.open.push(OpenFinding {
                        seq,
                        detail,
                        first_seen: r.first_seen,
                    });
                    // The open rows of an advisory had one level in practice; the
                    // newest row's wins.
                    levels.insert(
                        r.finding.advisory.clone(),
                        AdvisoryLevel {
                            advisory: r.finding.advisory.clone(),
                            level: r.level,
                            allowed: SignedDuration::from_micros(
                                r.deadline.saturating_sub(r.first_seen),
                            ),
                        },
                    );
                }
            }
        }
        out.rows.extend(current);
        out.levels = levels.into_values().collect();
        out.levels
            .sort_unstable_by(|a, b| a.advisory.cmp(&b.advisory));
        Ok(out)
    }
}

/// Stores `old` in the shared model through `db` (details, levels, open lists, closed
/// rows), inside the caller's transaction, which then drops `findings_v1`.
pub async fn write_v1(db: &mut dyn super::FindingsDb, old: Vec<V1Row>) -> Result<()> {
    const CHUNK: usize = 500;
    let plan = plan_v1(old);
    let details: Vec<std::sync::Arc<Finding>> = plan
        .details
        .iter()
        .cloned()
        .map(std::sync::Arc::new)
        .collect();
    let (ids, _) = super::put_details(db, &super::detail::DetailCache::default(), &details).await?;
    let converted = plan.resolve(&ids)?;
    let levels: Vec<&AdvisoryLevel> = converted.levels.iter().collect();
    for chunk in levels.chunks(CHUNK) {
        db.put_levels(chunk).await?;
    }
    for chunk in converted.rows.chunks(CHUNK) {
        let refs: Vec<_> = chunk.iter().map(|(a, r)| (*a, r)).collect();
        db.put_rows(&refs).await?;
    }
    for chunk in converted.closed.chunks(CHUNK) {
        db.put_closed(chunk).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use patchwarden_domain::finding::FindingStatus;

    fn row(asset: i64, package: &str, first_seen: i64, closed_at: Option<i64>) -> V1Row {
        V1Row {
            asset,
            finding: Finding {
                package: package.into(),
                arch: "x86_64".into(),
                installed: "1".into(),
                fixed: Some("2".into()),
                status: FindingStatus::Vulnerable,
                advisory: "ALSA-1".into(),
                source: "osv".into(),
                cves: vec![],
                distro: "almalinux:9".into(),
                evidence: "e".into(),
                suppressed: None,
            },
            level: Level::High,
            first_seen,
            deadline: first_seen + 48 * 3_600_000_000,
            closed_at,
        }
    }

    #[test]
    fn rows_are_numbered_per_asset_and_details_shared() {
        let plan = plan_v1(vec![
            row(1, "openssl", 10, Some(20)),
            row(1, "openssl", 30, None),
            row(1, "bash", 30, None),
            row(2, "openssl", 40, None),
        ]);
        assert_eq!(plan.details.len(), 2, "one openssl detail for both assets");
        let c = plan.resolve(&[100, 101]).unwrap();
        assert_eq!(c.closed.len(), 1);
        assert_eq!(c.closed[0].id, finding_id(1, 1).unwrap());
        assert_eq!((c.closed[0].first_seen, c.closed[0].closed_at), (10, 20));
        assert_eq!(c.rows.len(), 2);
        let (a1, r1) = &c.rows[0];
        assert_eq!(*a1, 1);
        assert_eq!(r1.next_seq, 4);
        assert_eq!(
            r1.open,
            [
                OpenFinding {
                    seq: 2,
                    detail: 100,
                    first_seen: 30
                },
                OpenFinding {
                    seq: 3,
                    detail: 101,
                    first_seen: 30
                }
            ]
        );
        assert_eq!(c.rows[1].1.open[0].detail, 100);
        assert_eq!(c.levels.len(), 1);
        assert_eq!(c.levels[0].allowed, SignedDuration::from_hours(48));
        assert!(plan_v1(vec![row(1, "x", 1, None)]).resolve(&[]).is_err());
    }
}
