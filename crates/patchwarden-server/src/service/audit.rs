//! Audit log verification and export.

use patchwarden_domain::audit::{AuditEvent, BrokenLink, ChainVerifier};
use patchwarden_store::{AuditFilter, Store, StoreError};
use serde::Serialize;

const PAGE: u32 = 1000;

/// Result of walking the whole chain.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub ok: bool,
    /// Events checked before the first broken link (or all of them).
    pub verified: i64,
    pub head_seq: Option<i64>,
    pub head_hash: Option<String>,
    /// The first broken link, if any.
    pub broken: Option<BrokenLink>,
    pub message: String,
}

/// Walks every event in order and checks each link and the recorded head.
pub async fn verify(store: &dyn Store) -> Result<Verification, StoreError> {
    let head = store.audit_head().await?;
    let mut v = ChainVerifier::default();
    let mut after = None;
    let mut broken = None;
    'pages: loop {
        let page = store
            .list_audit(&AuditFilter {
                after,
                limit: PAGE,
                ..AuditFilter::default()
            })
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.seq.get());
        for ev in &page {
            if let Err(b) = v.push(ev) {
                broken = Some(b);
                break 'pages;
            }
        }
    }
    if broken.is_none() {
        broken = v.finish(head.as_ref().map(|(s, h)| (*s, h.as_str()))).err();
    }
    let message = match &broken {
        None => format!("audit chain intact: {} events verified", v.verified()),
        Some(b) => format!("audit chain BROKEN: {b}"),
    };
    Ok(Verification {
        ok: broken.is_none(),
        verified: v.verified(),
        head_seq: head.as_ref().map(|(s, _)| *s),
        head_hash: head.map(|(_, h)| h),
        broken,
        message,
    })
}

/// Calls `sink` with each event after `after`, in order, a page at a time.
pub async fn for_each_event<F>(
    store: &dyn Store,
    after: Option<i64>,
    mut sink: F,
) -> Result<u64, StoreError>
where
    F: FnMut(&AuditEvent) -> Result<(), StoreError>,
{
    let mut after = after;
    let mut n = 0;
    loop {
        let page = store
            .list_audit(&AuditFilter {
                after,
                limit: PAGE,
                ..AuditFilter::default()
            })
            .await?;
        let Some(last) = page.last() else {
            return Ok(n);
        };
        after = Some(last.seq.get());
        for ev in &page {
            sink(ev)?;
            n += 1;
        }
    }
}
