//! Planning one asset's findings sync: which findings open, stay (first-seen time
//! kept) and close, from the stored `asset_findings` row and the wanted details.

use super::detail::identity;
use super::open_set::{OpenFinding, MAX_SEQ};
use crate::{FindingsChange, Result, StoreError};
use patchwarden_domain::finding::Finding;
use std::collections::HashMap;
use std::sync::Arc;

/// One asset's `asset_findings` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetFindingsRow {
    /// The number the next opened finding gets (1 for an asset that never had one).
    pub next_seq: u32,
    /// Open findings (suppressed ones included), by ascending number.
    pub open: Vec<OpenFinding>,
    /// [`wanted_digest`] of what the last sync wanted; `None` when unknown.
    pub digest: Option<Vec<u8>>,
}

impl Default for AssetFindingsRow {
    fn default() -> Self {
        Self {
            next_seq: 1,
            open: Vec::new(),
            digest: None,
        }
    }
}

/// A digest of the detail ids a sync wants (in any order): an asset whose stored
/// digest equals it has exactly these findings open already.
pub fn wanted_digest(wanted: &[i64]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let sorted;
    let ids = if wanted.is_sorted() {
        wanted
    } else {
        let mut copy = wanted.to_vec();
        copy.sort_unstable();
        sorted = copy;
        &sorted
    };
    let mut bytes = Vec::with_capacity(8 + ids.len() * 8);
    bytes.extend_from_slice(&(ids.len() as u64).to_le_bytes());
    for id in ids {
        bytes.extend_from_slice(&id.to_le_bytes());
    }
    Sha256::digest(&bytes).to_vec()
}

/// The details at hand, by id.
pub type Details = HashMap<i64, Arc<Finding>>;

/// A detail a sync wants: its id and whether it is suppressed (planning an asset
/// without open findings never reads more of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted {
    pub id: i64,
    pub suppressed: bool,
}

/// The content of a detail the plan compares by identity.
pub type Content<'a> = dyn Fn(i64) -> Option<&'a Finding> + 'a;

pub(super) fn detail(details: &Details, id: i64) -> Result<&Finding> {
    details.get(&id).map(|f| &**f).ok_or_else(|| missing(id))
}

fn missing(id: i64) -> StoreError {
    StoreError::corrupt(format!("finding detail {id} is missing"))
}

/// What a sync of one asset writes.
#[derive(Debug, Clone)]
pub struct SyncPlan {
    pub change: FindingsChange,
    /// The asset's row after the sync.
    pub row: AssetFindingsRow,
    /// Findings that close, as they were open.
    pub closing: Vec<OpenFinding>,
}

impl SyncPlan {
    /// Whether the stored row must be written (anything but the digest differs, or
    /// the digest does).
    pub fn writes_row(&self, stored: &AssetFindingsRow) -> bool {
        self.row != *stored
    }
}

/// Plans a sync at `at` (storage microseconds). `wanted` holds one detail per
/// identity, `digest` is their [`wanted_digest`]; `content` gives the content of every
/// wanted and open detail, asked only when the asset has open findings. A wanted
/// detail already open stays as it is. A wanted finding whose identity is open under
/// another detail (a new installed version, new evidence, a suppression starting or
/// ending) keeps its number and first-seen time, except that a suppression that ends
/// restarts the deadline clock at `at`, so time spent suppressed never makes a finding
/// overdue. Other wanted findings open with the next numbers, in order; open findings
/// nobody wants close.
pub fn plan_sync(
    at: i64,
    stored: &AssetFindingsRow,
    wanted: &[Wanted],
    digest: Vec<u8>,
    content: &Content<'_>,
) -> Result<SyncPlan> {
    let detail = |id: i64| content(id).ok_or_else(|| missing(id));
    let mut change = FindingsChange::default();
    let mut by_detail: HashMap<i64, usize> = HashMap::with_capacity(stored.open.len());
    for (i, f) in stored.open.iter().enumerate() {
        by_detail.entry(f.detail).or_insert(i);
    }
    let mut taken = vec![false; stored.open.len()];
    let mut open = Vec::with_capacity(wanted.len());
    let mut rest = Vec::new();
    for w in wanted {
        match by_detail.get(&w.id) {
            Some(&i) if !taken[i] => {
                taken[i] = true;
                change.kept += 1;
                open.push(stored.open[i]);
            }
            _ => rest.push(*w),
        }
    }
    let mut by_identity: HashMap<super::detail::Identity<'_>, usize> = HashMap::new();
    if !rest.is_empty() {
        for (i, f) in stored.open.iter().enumerate().filter(|(i, _)| !taken[*i]) {
            by_identity.insert(identity(detail(f.detail)?), i);
        }
    }
    let mut next_seq = stored.next_seq.max(1);
    for Wanted {
        id,
        suppressed: now_suppressed,
    } in rest
    {
        let old = match by_identity.is_empty() {
            true => None,
            false => by_identity.remove(&identity(detail(id)?)),
        };
        let Some(i) = old else {
            if next_seq > MAX_SEQ {
                return Err(StoreError::Invalid(
                    "the asset has used up its finding numbers".into(),
                ));
            }
            change.opened += 1;
            change.suppressed += u32::from(now_suppressed);
            open.push(OpenFinding {
                seq: next_seq,
                detail: id,
                first_seen: at,
            });
            next_seq += 1;
            continue;
        };
        taken[i] = true;
        change.kept += 1;
        let old = stored.open[i];
        let was_suppressed = detail(old.detail)?.suppressed.is_some();
        let first_seen = match (was_suppressed, now_suppressed) {
            (true, false) => {
                change.unsuppressed += 1;
                at
            }
            (false, true) => {
                change.suppressed += 1;
                old.first_seen
            }
            _ => old.first_seen,
        };
        open.push(OpenFinding {
            seq: old.seq,
            detail: id,
            first_seen,
        });
    }
    let closing: Vec<OpenFinding> = stored
        .open
        .iter()
        .zip(&taken)
        .filter(|(_, t)| !**t)
        .map(|(f, _)| *f)
        .collect();
    change.closed = u32::try_from(closing.len()).map_err(StoreError::corrupt)?;
    open.sort_unstable_by_key(|f| f.seq);
    Ok(SyncPlan {
        change,
        row: AssetFindingsRow {
            next_seq,
            open,
            digest: Some(digest),
        },
        closing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use patchwarden_domain::finding::FindingStatus;

    fn finding(package: &str, installed: &str, suppressed: bool) -> Finding {
        Finding {
            package: package.into(),
            arch: "x86_64".into(),
            installed: installed.into(),
            fixed: Some("9".into()),
            status: FindingStatus::Vulnerable,
            advisory: "ALSA-1".into(),
            source: "osv".into(),
            cves: vec![],
            distro: "almalinux:9".into(),
            evidence: String::new(),
            suppressed: suppressed.then(|| "VEX".into()),
        }
    }

    fn details() -> Details {
        [
            (1, finding("openssl", "1", false)),
            (2, finding("openssl", "2", false)),
            (3, finding("bash", "1", false)),
            (4, finding("bash", "1", true)),
            (5, finding("curl", "1", false)),
        ]
        .into_iter()
        .map(|(id, f)| (id, Arc::new(f)))
        .collect()
    }

    fn w(d: &Details, ids: &[i64]) -> Vec<Wanted> {
        ids.iter()
            .map(|id| Wanted {
                id: *id,
                suppressed: d[id].suppressed.is_some(),
            })
            .collect()
    }

    fn c<'a>(d: &'a Details) -> impl Fn(i64) -> Option<&'a Finding> + 'a {
        move |id| d.get(&id).map(|f| &**f)
    }

    fn open(seq: u32, detail: i64, first_seen: i64) -> OpenFinding {
        OpenFinding {
            seq,
            detail,
            first_seen,
        }
    }

    #[test]
    fn opens_keeps_and_closes() {
        let d = details();
        let empty = AssetFindingsRow::default();
        let p = plan_sync(100, &empty, &w(&d, &[1, 3]), wanted_digest(&[1, 3]), &c(&d)).unwrap();
        assert_eq!((p.change.opened, p.change.kept, p.change.closed), (2, 0, 0));
        assert_eq!(p.row.open, [open(1, 1, 100), open(2, 3, 100)]);
        assert_eq!(p.row.next_seq, 3);
        assert!(p.writes_row(&empty));

        // The same again: nothing to write.
        let again =
            plan_sync(200, &p.row, &w(&d, &[3, 1]), wanted_digest(&[3, 1]), &c(&d)).unwrap();
        assert!(!again.writes_row(&p.row));
        assert_eq!(again.change.kept, 2);

        // openssl upgraded but still affected (kept, same number and first seen), bash
        // fixed (closed), curl new.
        let next = plan_sync(300, &p.row, &w(&d, &[2, 5]), wanted_digest(&[2, 5]), &c(&d)).unwrap();
        assert_eq!(
            (next.change.opened, next.change.kept, next.change.closed),
            (1, 1, 1)
        );
        assert_eq!(next.row.open, [open(1, 2, 100), open(3, 5, 300)]);
        assert_eq!(next.closing, [open(2, 3, 100)]);
        assert_eq!(next.row.next_seq, 4);
    }

    #[test]
    fn suppression_keeps_the_clock_and_its_end_restarts_it() {
        let d = details();
        let row = AssetFindingsRow {
            next_seq: 2,
            open: vec![open(1, 3, 100)],
            digest: None,
        };
        let on = plan_sync(200, &row, &w(&d, &[4]), wanted_digest(&[4]), &c(&d)).unwrap();
        assert_eq!((on.change.suppressed, on.change.kept), (1, 1));
        assert_eq!(on.row.open, [open(1, 4, 100)]);
        let off = plan_sync(300, &on.row, &w(&d, &[3]), wanted_digest(&[3]), &c(&d)).unwrap();
        assert_eq!((off.change.unsuppressed, off.change.kept), (1, 1));
        assert_eq!(off.row.open, [open(1, 3, 300)]);
        // Opened suppressed.
        let new = plan_sync(
            400,
            &AssetFindingsRow::default(),
            &w(&d, &[4]),
            wanted_digest(&[4]),
            &c(&d),
        )
        .unwrap();
        assert_eq!((new.change.opened, new.change.suppressed), (1, 1));
    }

    #[test]
    fn missing_details_are_corrupt_and_numbers_run_out() {
        let d = details();
        let row = AssetFindingsRow {
            next_seq: 2,
            open: vec![open(1, 9, 1)],
            digest: None,
        };
        assert!(plan_sync(2, &row, &w(&d, &[1]), wanted_digest(&[1]), &c(&d)).is_err());
        // Numbers run out.
        let full = AssetFindingsRow {
            next_seq: MAX_SEQ + 1,
            ..AssetFindingsRow::default()
        };
        assert!(plan_sync(2, &full, &w(&d, &[1]), wanted_digest(&[1]), &c(&d)).is_err());
    }

    #[test]
    fn the_digest_ignores_order() {
        assert_eq!(wanted_digest(&[3, 1]), wanted_digest(&[1, 3]));
        assert_ne!(wanted_digest(&[1]), wanted_digest(&[1, 3]));
        assert_ne!(wanted_digest(&[]), wanted_digest(&[0]));
    }
}
