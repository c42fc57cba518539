//! Group commit for inventory reports.
//!
//! Every commit on the single writer connection waits for an fsync
//! (`synchronous=FULL`), a few milliseconds on ordinary disks, which would cap a fleet
//! at a few hundred reports a second. Reports that arrive while a commit is in flight
//! are therefore queued and written together: one `BEGIN IMMEDIATE`, each report in its
//! own savepoint (a failing one is rolled back alone and gets its own error), one
//! commit for all. A caller is answered only after that commit, so an acknowledged
//! report is durable exactly as with one transaction per report.

use crate::agent_cache::{AgentCache, Invalidation, Scope};
use crate::error::db_err;
use crate::inventory::{self, Pending};
use patchwarden_domain::ids::AssetId;
use patchwarden_store::inventory_sets::Interner;
use patchwarden_store::inventory_sets::Prepared;
use patchwarden_store::{AuditCtx, InventoryChange, Result, StoreError};
use sqlx::SqlitePool;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Reports written in one transaction at most.
const MAX_BATCH: usize = 64;

struct Request {
    ctx: AuditCtx,
    id: AssetId,
    prepared: Prepared,
    reply: oneshot::Sender<Result<InventoryChange>>,
}

/// The queue in front of the writer task.
#[derive(Debug, Clone)]
pub(crate) struct InventoryWriter {
    queue: mpsc::Sender<Request>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request").field("asset", &self.id).finish()
    }
}

impl InventoryWriter {
    /// Starts the writer task; it ends when every handle is dropped.
    pub(crate) fn start(
        pool: SqlitePool,
        interner: Arc<Interner>,
        agents: Arc<AgentCache>,
    ) -> Self {
        let (queue, rx) = mpsc::channel(1024);
        tokio::spawn(run(pool, interner, agents, rx));
        Self { queue }
    }

    /// Writes a report prepared by [`inventory::prepare`].
    pub(crate) async fn replace(
        &self,
        ctx: &AuditCtx,
        id: AssetId,
        prepared: Prepared,
    ) -> Result<InventoryChange> {
        let (reply, answer) = oneshot::channel();
        let gone = || StoreError::Unavailable("the store is closed".to_owned());
        self.queue
            .send(Request {
                ctx: ctx.clone(),
                id,
                prepared,
                reply,
            })
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

async fn run(
    pool: SqlitePool,
    interner: Arc<Interner>,
    agents: Arc<AgentCache>,
    mut rx: mpsc::Receiver<Request>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let requests = std::mem::take(&mut batch);
        write_batch(&pool, &interner, &agents, requests).await;
    }
}

async fn write_batch(
    pool: &SqlitePool,
    interner: &Interner,
    agents: &Arc<AgentCache>,
    requests: Vec<Request>,
) {
    let mut answers: Vec<Result<InventoryChange>> = Vec::with_capacity(requests.len());
    let mut pending: Pending = Vec::new();
    // The agents of these assets show their inventory hash: forgotten after the commit
    // and before any caller hears of it (here, not in the caller, whose request may be
    // cancelled while its report is still written).
    let invalidations: Vec<_> = requests
        .iter()
        .map(|r| agents.invalidation(Scope::Asset(r.id), None))
        .collect();
    let outcome = write_all(pool, interner, &requests, &mut answers, &mut pending).await;
    invalidations.into_iter().for_each(Invalidation::finish);
    match outcome {
        Ok(()) => {
            interner.remember(pending);
            for (r, res) in requests.into_iter().zip(answers) {
                let _ = r.reply.send(res);
            }
        }
        Err(e) => {
            // Nothing of the batch was written: every caller gets the error.
            tracing::error!(error = %e, "inventory batch failed");
            for r in requests {
                let _ = r.reply.send(Err(copy(&e)));
            }
        }
    }
}

async fn write_all(
    pool: &SqlitePool,
    interner: &Interner,
    requests: &[Request],
    answers: &mut Vec<Result<InventoryChange>>,
    pending: &mut Pending,
) -> Result<()> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
    for r in requests {
        sqlx::query("SAVEPOINT report")
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let res = inventory::apply(&mut tx, interner, &r.ctx, r.id, &r.prepared).await;
        if res.is_err() {
            sqlx::query("ROLLBACK TO report")
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        sqlx::query("RELEASE report")
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        answers.push(res.map(|(change, rows)| {
            pending.extend(rows);
            change
        }));
    }
    tx.commit().await.map_err(db_err)
}

/// The same error for another caller (driver errors keep their text only).
fn copy(e: &StoreError) -> StoreError {
    match e {
        StoreError::NotFound { entity } => StoreError::NotFound { entity },
        StoreError::Conflict { what } => StoreError::Conflict { what: what.clone() },
        StoreError::Invalid(s) => StoreError::Invalid(s.clone()),
        StoreError::Unavailable(s) => StoreError::Unavailable(s.clone()),
        StoreError::Corrupt(s) => StoreError::Corrupt(s.clone()),
        StoreError::Backend(b) => StoreError::Backend(b.to_string().into()),
    }
}
