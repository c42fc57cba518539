//! Findings storage, shared by both backends: the model, the plan of a sync, listing
//! and re-levelling, written once over [`FindingsDb`], the few statements a backend
//! provides.
//!
//! The model (migration 0009) stores what is shared once and keeps per asset only what
//! is the asset's own:
//!
//! - `finding_details`: what a finding says (package, installed and fixed versions,
//!   advisory, CVEs, evidence, suppression), once per distinct content
//!   ([`detail`]). Every host of a fleet that runs the same vulnerable package refers to
//!   the same row.
//! - `advisory_levels`: the level of every finding of an advisory and the time allowed
//!   at that level. A level depends only on the advisory and its CVEs' enrichment, so a
//!   KEV, EPSS or CVSS change re-levels by updating one row per advisory.
//! - `asset_findings`: per asset, its open findings as a compact column of (number,
//!   detail, first seen) ([`open_set`]), the next finding number, and the digest of
//!   what its last sync wanted ([`plan::wanted_digest`]). A re-match that wants what is
//!   open already compares one digest and writes nothing.
//! - `closed_findings`: one row per closed finding with its level, first-seen time,
//!   deadline and closing time, frozen as they were.
//!
//! A finding's id is its asset's id shifted left by 24 bits plus its number within the
//! asset ([`finding_id`]), so ids are stable while a finding is open and after it
//! closes, and ordering by id is ordering by asset, then by opening. Ids stay exact in
//! JSON (below 2^53) for asset ids below 2^29.

pub mod batch;
pub mod convert;
pub mod detail;
mod list;
pub mod open_set;
pub mod plan;
mod relevel;
mod sync;

pub use list::list;
pub use relevel::relevel;
pub use sync::{
    apply, apply_each, batch_in_tx, cached_ids, dedup_new, new_batch, prepare, put_details,
    Prepared, Remember,
};

use crate::{AdvisoryLevel, Result, StoreError};
use async_trait::async_trait;
use detail::DetailHash;
use jiff::Timestamp;
use patchwarden_domain::audit::AuditDraft;
use patchwarden_domain::finding::Finding;
use patchwarden_domain::level::Level;
use plan::AssetFindingsRow;

/// Bits of a finding id that hold its number within the asset.
const SEQ_BITS: u32 = 24;

/// The id of finding number `seq` of `asset`.
pub fn finding_id(asset: i64, seq: u32) -> Result<i64> {
    asset
        .checked_mul(1 << SEQ_BITS)
        .filter(|_| asset > 0)
        .map(|a| a | i64::from(seq))
        .ok_or_else(|| StoreError::Invalid(format!("asset id {asset} is out of range")))
}

/// `first_seen + allowed` in storage microseconds (saturating: an absurd time allowed
/// cannot wrap around).
pub fn deadline(first_seen: i64, allowed: jiff::SignedDuration) -> i64 {
    let allowed = i64::try_from(allowed.as_micros()).unwrap_or(i64::MAX);
    first_seen.saturating_add(allowed)
}

/// The asset a finding id belongs to.
pub fn asset_of(id: i64) -> i64 {
    id >> SEQ_BITS
}

/// A `closed_findings` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedRow {
    pub id: i64,
    pub asset: i64,
    pub detail: i64,
    /// The level it had when it closed.
    pub level: Level,
    /// Storage microseconds, as the next three.
    pub first_seen: i64,
    pub deadline: i64,
    pub closed_at: i64,
}

/// Which closed findings a listing wants (ids above `after`, ascending).
#[derive(Debug, Clone)]
pub struct ClosedQuery<'a> {
    pub after: i64,
    pub asset: Option<i64>,
    pub level: Option<Level>,
    pub advisory: Option<&'a str>,
    /// A whole CVE id among the detail's CVEs.
    pub cve: Option<&'a str>,
    pub include_suppressed: bool,
    pub limit: u32,
}

/// What the findings logic needs from a backend, on one connection (a transaction when
/// writing). Only backends implement it; each method is a statement or a few.
#[async_trait]
pub trait FindingsDb: Send {
    /// The `finding_details` rows with these ids (unknown ids are absent).
    async fn details(&mut self, ids: &[i64]) -> Result<Vec<(i64, Finding)>>;
    /// Stores details the cache does not know (on a backend whose cache is complete,
    /// none of them is stored; otherwise some may be, and are not stored twice);
    /// returns the id of every given one, in any order.
    async fn put_details(
        &mut self,
        new: &[(DetailHash, &Finding)],
    ) -> Result<Vec<(DetailHash, i64)>>;
    /// Ids of the details of these advisories (any number of them).
    async fn detail_ids_of(&mut self, advisories: &[&str]) -> Result<Vec<i64>>;
    /// The stored levels of these advisories (unknown ones are absent).
    async fn levels(&mut self, advisories: &[&str]) -> Result<Vec<AdvisoryLevel>>;
    /// The advisories whose findings have this level.
    async fn advisories_at(&mut self, level: Level) -> Result<Vec<String>>;
    /// Inserts or replaces these levels.
    async fn put_levels(&mut self, levels: &[&AdvisoryLevel]) -> Result<()>;
    /// Of these assets, the ones that exist, with the stored digest of those that have
    /// an `asset_findings` row. Reads only.
    async fn digests(&mut self, assets: &[i64]) -> Result<Vec<(i64, Option<Vec<u8>>)>>;
    /// Of these assets, the ones that exist; where the backend has row locks, they
    /// stay locked until the transaction ends (replicas syncing one asset queue up).
    async fn lock_assets(&mut self, assets: &[i64]) -> Result<Vec<i64>>;
    /// The `asset_findings` rows of these assets (assets without one are absent).
    async fn rows(&mut self, assets: &[i64]) -> Result<Vec<(i64, AssetFindingsRow)>>;
    /// Rows of assets with ids from `first` on, ascending, at most `limit`.
    async fn rows_from(&mut self, first: i64, limit: u32) -> Result<Vec<(i64, AssetFindingsRow)>>;
    /// Inserts or replaces these rows.
    async fn put_rows(&mut self, rows: &[(i64, &AssetFindingsRow)]) -> Result<()>;
    async fn put_closed(&mut self, rows: &[ClosedRow]) -> Result<()>;
    /// Closed findings as the query says, ascending by id.
    async fn closed(&mut self, q: &ClosedQuery<'_>) -> Result<Vec<ClosedRow>>;
    /// Seals and appends these events, in order, each at its instant.
    async fn audit(&mut self, drafts: Vec<(AuditDraft, Timestamp)>) -> Result<()>;
}

/// An `asset_findings` row from its columns.
pub fn row_from_columns(
    next_seq: i64,
    digest: Option<Vec<u8>>,
    open: &[u8],
) -> Result<AssetFindingsRow> {
    let next_seq = u32::try_from(next_seq)
        .ok()
        .filter(|n| *n >= 1 && *n <= open_set::MAX_SEQ + 1)
        .ok_or_else(|| StoreError::corrupt(format!("next finding number {next_seq}")))?;
    Ok(AssetFindingsRow {
        next_seq,
        open: open_set::decode(open)?,
        digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_order_by_asset_then_number() {
        let a = finding_id(7, 1).unwrap();
        let b = finding_id(7, open_set::MAX_SEQ).unwrap();
        let c = finding_id(8, 1).unwrap();
        assert!(a < b && b < c);
        assert_eq!((asset_of(a), asset_of(b), asset_of(c)), (7, 7, 8));
        assert!(finding_id(0, 1).is_err());
        assert!(finding_id(1 << 40, 1).is_err());
        assert!(finding_id((1 << 29) - 1, open_set::MAX_SEQ).unwrap() < 1 << 53);
    }
}
