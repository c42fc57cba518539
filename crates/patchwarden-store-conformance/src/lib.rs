//! One storage test suite, run against every backend.
//!
//! [`run_all`] runs every case in [`CASES`] against a **fresh** store made by the
//! caller's async factory, so that counts and sequence numbers of one case never
//! depend on another. Cases assert with the standard macros and panic on failure: this
//! crate is test support, never linked into a binary.

#![forbid(unsafe_code)]
// Test support: a failed expectation is a panic with a message, by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod advisories;
mod agents;
mod assets;
mod audit;
mod enrichment;
mod findings;
mod findings_batch;
pub mod fixtures;
mod inventory;
mod scans;
mod tokens;
mod users;

use patchwarden_domain::audit::{BrokenLink, ChainVerifier};
use patchwarden_store::{AuditFilter, Store};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A store shared by a case and the tasks it spawns.
pub type SharedStore = Arc<dyn Store>;

/// The future a case returns.
pub type CaseFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A named conformance case.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// Printed before the case runs.
    pub name: &'static str,
    /// The case body, given a fresh store.
    pub run: fn(SharedStore) -> CaseFuture,
}

macro_rules! cases {
    ($($module:ident :: $case:ident),+ $(,)?) => {
        /// Every case, in the order [`run_all`] runs them.
        pub const CASES: &[Case] = &[$(Case {
            name: concat!(stringify!($module), "::", stringify!($case)),
            run: |s| Box::pin($module::$case(s)),
        }),+];
    };
}

cases!(
    assets::crud_and_conflicts,
    assets::filters_and_pagination,
    inventory::replace_diff_and_hash,
    inventory::unchanged_writes_no_event,
    inventory::report_of_an_asset_read_earlier,
    inventory::duplicates_rejected,
    inventory::multi_version_kernels,
    inventory::large_inventory,
    inventory::delete_asset_cascades,
    inventory::concurrent_reports,
    users::users_crud_and_credentials,
    users::sessions,
    tokens::tokens,
    tokens::login_failures,
    audit::every_mutation_is_audited,
    audit::standalone_events_and_filters,
    audit::concurrent_writers,
    advisories::insert_unchanged_update,
    advisories::filters_and_pagination,
    advisories::import_timing,
    enrichment::merge_per_field,
    findings::lifecycle,
    findings::filters_and_cascade,
    findings::assets_with_packages,
    findings::thousands_per_asset,
    findings::relevel,
    findings_batch::batches,
    findings_batch::pages,
    scans::record_and_supersede,
    scans::filters_and_paging,
    scans::refused_and_cascade,
    agents::enrolment,
    agents::one_time_token_under_concurrency,
    agents::server_key_and_jobs,
    agents::get_agent_sees_every_change,
    agents::report_with_contact,
);

/// Runs every case against a fresh store from `factory`, printing each case name.
/// Panics on the first failed case.
pub async fn run_all<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = SharedStore>,
{
    for case in CASES {
        run_case(case, &factory).await;
    }
}

/// Runs one case against a fresh store from `factory`.
pub async fn run_case<F, Fut>(case: &Case, factory: &F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = SharedStore>,
{
    let store = factory().await;
    println!("conformance [{}] {} ...", store.backend(), case.name);
    (case.run)(store.clone()).await;
    verify_chain(store.as_ref())
        .await
        .unwrap_or_else(|e| panic!("{}: audit chain broken after the case: {e}", case.name));
    store.close().await;
    println!("conformance [{}] {} ok", store.backend(), case.name);
}

/// Verifies the whole audit chain of `store` against its head; returns how many events
/// were verified.
pub async fn verify_chain(store: &dyn Store) -> Result<i64, BrokenLink> {
    let mut verifier = ChainVerifier::default();
    let mut after = None;
    loop {
        let page = store
            .list_audit(&AuditFilter {
                after,
                limit: 500,
                ..AuditFilter::default()
            })
            .await
            .expect("list_audit");
        let Some(last) = page.last() else { break };
        after = Some(last.seq.get());
        for ev in &page {
            verifier.push(ev)?;
        }
    }
    let head = store.audit_head().await.expect("audit_head");
    verifier.finish(head.as_ref().map(|(s, h)| (*s, h.as_str())))?;
    Ok(verifier.verified())
}
