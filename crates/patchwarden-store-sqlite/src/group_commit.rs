//! Group commit for the writes agents cause: inventory reports, check-in contacts, and
//! the findings sync of each report's asset.
//!
//! Every commit on the single writer connection waits for an fsync
//! (`synchronous=FULL`), which would cap a fleet at a few hundred reports (or
//! check-ins recording an agent's contact) a second. Writes that arrive while a commit
//! is in flight are therefore queued and written together: one `BEGIN IMMEDIATE`, the
//! whole group in a few multi-row statements (`batched`), one commit for all. When a
//! statement of the group fails, the transaction is rolled back and the group written
//! again with each write in its own savepoint (a failing one is rolled back alone and
//! gets its own error). A caller is answered only after that commit, so an
//! acknowledged write is durable exactly as with one transaction per write.

use crate::agent_cache::{AgentCache, Invalidation, Scope};
use crate::error::db_err;
use crate::findings::Db;
use crate::inventory::{self, Pending, Tuples};
use patchwarden_domain::finding::Finding;
use patchwarden_domain::ids::AssetId;
use patchwarden_store::findings::batch::BatchDetails;
use patchwarden_store::findings::detail::DetailCache;
use patchwarden_store::findings::{self as shared, Remember};
use patchwarden_store::inventory_sets::Interner;
use patchwarden_store::inventory_sets::Prepared;
use patchwarden_store::{
    AgentContact, AuditCtx, FindingsBatch, FindingsChange, InventoryChange, NewFinding, Result,
    StoreError,
};
use sqlx::{SqliteConnection, SqlitePool};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Writes in one transaction at most.
const MAX_BATCH: usize = 64;

pub(crate) enum Request {
    Inventory {
        ctx: AuditCtx,
        id: AssetId,
        prepared: Prepared,
        reply: oneshot::Sender<Result<InventoryChange>>,
    },
    Contact {
        agent: i64,
        at: jiff::Timestamp,
        contact: AgentContact,
        reply: oneshot::Sender<Result<()>>,
    },
    Findings {
        ctx: AuditCtx,
        sync: FindingsSync,
        reply: oneshot::Sender<Result<FindingsChange>>,
    },
}

/// One asset's findings sync (`Store::sync_findings`) as the caller prepared it.
pub(crate) struct FindingsSync {
    pub(crate) asset: AssetId,
    /// The findings wanted, each once (`dedup_new`).
    pub(crate) wanted: Vec<NewFinding>,
    /// Their content, in the same order.
    pub(crate) content: Vec<Arc<Finding>>,
    /// The batch, when every detail was cached (stored already).
    pub(crate) cached: Option<FindingsBatch>,
}

/// What one request's write gave, before the commit.
pub(crate) enum Done {
    Inventory(Result<InventoryChange>),
    Contact(Result<()>),
    Findings(Result<FindingsChange>),
}

/// The queue in front of the writer task.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    queue: mpsc::Sender<Request>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Inventory { id, .. } => {
                f.debug_struct("Inventory").field("asset", id).finish()
            }
            Request::Contact { agent, .. } => {
                f.debug_struct("Contact").field("agent", agent).finish()
            }
            Request::Findings { sync, .. } => f
                .debug_struct("Findings")
                .field("asset", &sync.asset)
                .finish(),
        }
    }
}

fn gone() -> StoreError {
    StoreError::Unavailable("the store is closed".to_owned())
}

impl Writer {
    /// Starts the writer on a thread of its own, with a single-threaded runtime; it
    /// ends when every handle is dropped.
    ///
    /// Each group takes a few round trips to the connection's worker thread, and each
    /// answer wakes the writer. On the server's runtime the writer waited for a worker
    /// thread that was inflating and parsing the next reports (the writer is the one
    /// serial part of a report, so the wait held up every report behind it); on its own
    /// thread the kernel runs it as soon as an answer is there. Measured with the fleet
    /// simulator (docs/benchmarks.md): first reports 637–819/s → 770–1,024/s.
    pub(crate) fn start(
        pool: SqlitePool,
        interner: Arc<Interner>,
        details: Arc<DetailCache>,
        agents: Arc<AgentCache>,
    ) -> Result<Self> {
        let unavailable = |e: std::io::Error| {
            StoreError::Unavailable(format!("cannot start the group-commit writer: {e}"))
        };
        let (queue, rx) = mpsc::channel(1024);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(unavailable)?;
        std::thread::Builder::new()
            .name("pw-group-commit".to_owned())
            .spawn(move || rt.block_on(run(pool, interner, details, agents, rx)))
            .map_err(unavailable)?;
        Ok(Self { queue })
    }

    /// Queues the request `make` builds around its reply channel; its answer.
    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Request) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        self.queue.send(make(reply)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Writes a report prepared by [`inventory::prepare`].
    pub(crate) async fn replace(
        &self,
        ctx: &AuditCtx,
        id: AssetId,
        prepared: Prepared,
    ) -> Result<InventoryChange> {
        self.ask(|reply| Request::Inventory {
            ctx: ctx.clone(),
            id,
            prepared,
            reply,
        })
        .await
    }

    /// An agent's contact and its report (`Store::record_agent_report`): queued next to
    /// each other, so that they share a commit unless a group fills up between them.
    /// Answered when both are written; the report's answer, or the first error.
    pub(crate) async fn replace_with_contact(
        &self,
        ctx: &AuditCtx,
        id: AssetId,
        prepared: Prepared,
        (agent, at, contact): (i64, jiff::Timestamp, &AgentContact),
    ) -> Result<InventoryChange> {
        let (contact_reply, contact_answer) = oneshot::channel();
        let (reply, answer) = oneshot::channel();
        let mut permits = self.queue.reserve_many(2).await.map_err(|_| gone())?;
        for request in [
            Request::Contact {
                agent,
                at,
                contact: contact.clone(),
                reply: contact_reply,
            },
            Request::Inventory {
                ctx: ctx.clone(),
                id,
                prepared,
                reply,
            },
        ] {
            permits.next().ok_or_else(gone)?.send(request);
        }
        let contacted = contact_answer.await.map_err(|_| gone())?;
        let change = answer.await.map_err(|_| gone())?;
        contacted?;
        change
    }

    /// Writes one asset's findings sync (`Store::sync_findings`): in the group's
    /// transaction, in a savepoint of its own, so that it shares the group's commit.
    pub(crate) async fn sync_findings(
        &self,
        ctx: &AuditCtx,
        sync: FindingsSync,
    ) -> Result<FindingsChange> {
        self.ask(|reply| Request::Findings {
            ctx: ctx.clone(),
            sync,
            reply,
        })
        .await
    }

    /// Records what an agent said about itself in a check-in (`Store::record_agent_contact`).
    pub(crate) async fn contact(
        &self,
        agent: i64,
        at: jiff::Timestamp,
        contact: &AgentContact,
    ) -> Result<()> {
        self.ask(|reply| Request::Contact {
            agent,
            at,
            contact: contact.clone(),
            reply,
        })
        .await
    }
}

async fn run(
    pool: SqlitePool,
    interner: Arc<Interner>,
    details: Arc<DetailCache>,
    agents: Arc<AgentCache>,
    mut rx: mpsc::Receiver<Request>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let requests = std::mem::take(&mut batch);
        let caches = Caches {
            interner: &interner,
            details: &details,
        };
        write_batch(&pool, caches, &agents, requests).await;
    }
}

/// The caches a group fills once it committed.
#[derive(Clone, Copy)]
pub(crate) struct Caches<'a> {
    pub(crate) interner: &'a Interner,
    pub(crate) details: &'a DetailCache,
}

/// Rows read or written by a group, to cache once it committed.
#[derive(Default)]
struct Learned {
    packages: Pending,
    details: Remember,
}

async fn write_batch(
    pool: &SqlitePool,
    caches: Caches<'_>,
    agents: &Arc<AgentCache>,
    requests: Vec<Request>,
) {
    let mut done: Vec<Done> = Vec::with_capacity(requests.len());
    let mut learned = Learned::default();
    // The agent cache learns of the batch after the commit and before any caller hears
    // of it (here, not in the caller, whose request may be cancelled while its write is
    // still made): the agents of a reporting asset show its new inventory hash (they
    // are forgotten when the report failed), an agent's contact is applied to its
    // cached row.
    let invalidations: Vec<Option<Invalidation>> = requests
        .iter()
        .map(|r| match r {
            Request::Inventory { id, .. } => Some(agents.invalidation(Scope::Asset(*id), None)),
            Request::Contact { .. } | Request::Findings { .. } => None,
        })
        .collect();
    let outcome = write_all(pool, caches, &requests, &mut done, &mut learned).await;
    let stored = |i: usize| match (&outcome, done.get(i)) {
        (Ok(()), Some(Done::Inventory(Ok(change)))) => Some(change.hash.as_str()),
        _ => None,
    };
    for (i, guard) in invalidations.into_iter().enumerate() {
        match (guard, stored(i)) {
            (Some(guard), Some(hash)) => guard.finish_with_inventory(hash),
            (Some(guard), None) => guard.finish(),
            (None, _) => {}
        }
    }
    match outcome {
        Ok(()) => {
            caches.interner.remember(learned.packages);
            caches.details.remember(learned.details);
            for (r, d) in requests.into_iter().zip(done) {
                match (r, d) {
                    (Request::Inventory { reply, .. }, Done::Inventory(res)) => {
                        let _ = reply.send(res);
                    }
                    (
                        Request::Contact {
                            agent,
                            at,
                            contact,
                            reply,
                        },
                        Done::Contact(res),
                    ) => {
                        if res.is_ok() {
                            agents.apply_contact(agent, at, &contact);
                        } else {
                            agents.invalidation(Scope::Agent(agent), None).finish();
                        }
                        let _ = reply.send(res);
                    }
                    (Request::Findings { reply, .. }, Done::Findings(res)) => {
                        let _ = reply.send(res);
                    }
                    (r, _) => fail(r, &StoreError::corrupt("a write's result went astray")),
                }
            }
        }
        Err(e) => {
            // Nothing of the batch was written: every caller gets the error. A findings
            // sync may have cached detail rows it read in the failed transaction
            // (another sync's of the same asset): the cache is read again.
            caches.details.forget();
            tracing::error!(error = %e, "agent write batch failed");
            for r in requests {
                fail(r, &e);
            }
        }
    }
}

fn fail(r: Request, e: &StoreError) {
    match r {
        Request::Inventory { reply, .. } => {
            let _ = reply.send(Err(copy(e)));
        }
        Request::Contact { reply, .. } => {
            let _ = reply.send(Err(copy(e)));
        }
        Request::Findings { reply, .. } => {
            let _ = reply.send(Err(copy(e)));
        }
    }
}

/// One findings sync inside the group's transaction (the caller's savepoint), its
/// details stored already: the shared prepare and apply.
async fn sync_one(
    conn: &mut SqliteConnection,
    details: &DetailCache,
    ctx: &AuditCtx,
    batch: &FindingsBatch,
) -> Result<FindingsChange> {
    let mut prepared = shared::prepare(&mut Db(&mut *conn), batch).await?;
    let change = shared::apply(&mut Db(&mut *conn), details, ctx, batch, &mut prepared).await?;
    if !prepared.missing.is_empty() {
        return Err(StoreError::NotFound { entity: "asset" });
    }
    Ok(change)
}

/// The group's findings syncs, after the rest of it. First the details none of them
/// found cached, each content once however many syncs bring it (the cache learns of
/// them only after the commit, so two syncs of one group would otherwise store one
/// content twice); then each sync in a savepoint of its own (one that fails is rolled
/// back alone), its answer in its slot of `done`.
async fn sync_all(
    conn: &mut SqliteConnection,
    details: &DetailCache,
    requests: &[Request],
    done: &mut [Done],
    learned: &mut Learned,
) -> Result<()> {
    let syncs: Vec<(usize, &AuditCtx, &FindingsSync)> = requests
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r {
            Request::Findings { ctx, sync, .. } => Some((i, ctx, sync)),
            _ => None,
        })
        .collect();
    let fresh: Vec<Arc<Finding>> = syncs
        .iter()
        .filter(|(_, _, s)| s.cached.is_none())
        .flat_map(|(_, _, s)| s.content.iter().cloned())
        .collect();
    let ids = if fresh.is_empty() {
        Vec::new()
    } else {
        let (ids, remember) = shared::put_details(&mut Db(&mut *conn), details, &fresh).await?;
        learned.details.extend(remember);
        ids
    };
    let mut next = 0;
    let mut batches = Vec::with_capacity(syncs.len());
    for (i, ctx, sync) in syncs {
        let batch = match &sync.cached {
            Some(batch) => batch.clone(),
            None => {
                let wanted: Vec<&NewFinding> = sync.wanted.iter().collect();
                let end = next + sync.content.len();
                let of_sync = ids
                    .get(next..end)
                    .ok_or_else(|| StoreError::corrupt("finding detail ids went astray"))?;
                next = end;
                shared::new_batch(sync.asset, &wanted, &sync.content, of_sync)
            }
        };
        batches.push((i, ctx, batch));
    }
    let mut answer = |i: usize, outcome: Result<FindingsChange>| {
        if let Some(slot) = done.get_mut(i) {
            *slot = Done::Findings(outcome);
        }
    };
    // All in one savepoint first: each savepoint costs two statements, each a round
    // trip to the connection's thread, and a sync fails only when its asset was deleted
    // meanwhile. The syncs of distinct assets are written as one batch (`merge`): the
    // statements of one sync (about ten) then serve the group. When one fails, the
    // savepoint is rolled back and each sync is written again in a savepoint of its
    // own, so that the failing one is rolled back alone.
    if batches.len() > 1 {
        savepoint(&mut *conn).await?;
        let changes = match merge(&batches) {
            Some(merged) => sync_merged(&mut *conn, details, &batches, &merged)
                .await
                .ok(),
            None => {
                let mut changes = Vec::with_capacity(batches.len());
                for (_, ctx, batch) in &batches {
                    match sync_one(&mut *conn, details, ctx, batch).await {
                        Ok(change) => changes.push(change),
                        Err(_) => break,
                    }
                }
                (changes.len() == batches.len()).then_some(changes)
            }
        };
        release(&mut *conn, changes.is_some()).await?;
        if let Some(changes) = changes {
            for ((i, _, _), change) in batches.iter().zip(changes) {
                answer(*i, Ok(change));
            }
            return Ok(());
        }
    }
    for (i, ctx, batch) in &batches {
        let outcome = in_savepoint(conn, details, ctx, batch).await?;
        answer(*i, outcome);
    }
    Ok(())
}

/// The syncs of `batches` as one batch, when each is of one asset and no asset is
/// synced twice (else `None`: a later sync of an asset must see the earlier one's
/// rows). Each sync's levels are given in order, so an advisory takes the last one
/// given, as when the syncs are written one after another.
fn merge(batches: &[(usize, &AuditCtx, FindingsBatch)]) -> Option<FindingsBatch> {
    let mut seen = std::collections::HashSet::with_capacity(batches.len());
    let distinct = batches
        .iter()
        .all(|(_, _, b)| matches!(b.assets.as_slice(), [(asset, _)] if seen.insert(*asset)));
    if !distinct {
        return None;
    }
    Some(FindingsBatch {
        levels: batches
            .iter()
            .flat_map(|(_, _, b)| b.levels.iter().cloned())
            .collect(),
        details: Arc::new(BatchDetails::merged(
            batches.iter().map(|(_, _, b)| &*b.details),
        )),
        assets: batches
            .iter()
            .flat_map(|(_, _, b)| b.assets.iter().cloned())
            .collect(),
    })
}

/// The syncs of `batches`, merged into `merged` ([`merge`]), inside the caller's
/// savepoint: each asset as of its own request (instant and audit actor), and the
/// counts of each sync in order. An asset deleted meanwhile fails them all (the caller
/// then writes them one at a time).
async fn sync_merged(
    conn: &mut SqliteConnection,
    details: &DetailCache,
    batches: &[(usize, &AuditCtx, FindingsBatch)],
    merged: &FindingsBatch,
) -> Result<Vec<FindingsChange>> {
    let contexts: Vec<&AuditCtx> = batches.iter().map(|(_, ctx, _)| *ctx).collect();
    let first = contexts
        .first()
        .copied()
        .ok_or_else(|| StoreError::corrupt("an empty group of findings syncs"))?;
    let mut prepared = shared::prepare(&mut Db(&mut *conn), merged).await?;
    shared::apply_each(
        &mut Db(&mut *conn),
        details,
        first,
        &contexts,
        merged,
        &mut prepared,
    )
    .await?;
    if !prepared.missing.is_empty() {
        return Err(StoreError::NotFound { entity: "asset" });
    }
    Ok(prepared.changes)
}

/// [`sync_one`] in a savepoint: the outer error is the savepoint's own.
async fn in_savepoint(
    conn: &mut SqliteConnection,
    details: &DetailCache,
    ctx: &AuditCtx,
    batch: &FindingsBatch,
) -> Result<Result<FindingsChange>> {
    savepoint(&mut *conn).await?;
    let res = sync_one(&mut *conn, details, ctx, batch).await;
    release(&mut *conn, res.is_ok()).await?;
    Ok(res)
}

/// Opens the savepoint one write of a group is made in.
async fn savepoint(conn: &mut SqliteConnection) -> Result<()> {
    sqlx::query("SAVEPOINT write")
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Ends the savepoint of [`savepoint`], keeping its writes when `keep`.
async fn release(conn: &mut SqliteConnection, keep: bool) -> Result<()> {
    if !keep {
        sqlx::query("ROLLBACK TO write")
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    sqlx::query("RELEASE write")
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

async fn write_one(
    conn: &mut SqliteConnection,
    interner: &Interner,
    tuples: &mut Tuples,
    r: &Request,
    pending: &mut Pending,
) -> (Done, bool) {
    match r {
        Request::Inventory {
            ctx, id, prepared, ..
        } => {
            let res = inventory::apply(&mut *conn, interner, tuples, ctx, *id, prepared).await;
            let ok = res.is_ok();
            (
                Done::Inventory(res.map(|(change, rows)| {
                    pending.extend(rows);
                    change
                })),
                ok,
            )
        }
        // Written by `sync_all`, after the rest of the group.
        Request::Findings { .. } => (Done::Findings(Err(not_yet())), true),
        Request::Contact {
            agent, at, contact, ..
        } => {
            let res = crate::agents::contact(&mut *conn, *agent, *at, contact).await;
            let ok = res.is_ok();
            (Done::Contact(res), ok)
        }
    }
}

async fn write_all(
    pool: &SqlitePool,
    caches: Caches<'_>,
    requests: &[Request],
    done: &mut Vec<Done>,
    learned: &mut Learned,
) -> Result<()> {
    let interner = caches.interner;
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
    let mut tuples = Tuples::default();
    match crate::batched::write(&mut tx, interner, &mut tuples, requests).await {
        Ok(Some(all)) => {
            *done = all;
            sync_all(&mut tx, caches.details, requests, done, learned).await?;
            tx.commit().await.map_err(db_err)?;
            tuples.commit(interner);
            return Ok(());
        }
        // Nothing was written: the group takes the per-write path in this transaction.
        Ok(None) => {}
        Err(e) => {
            // Something of the group may have been written: none of it is kept.
            tracing::warn!(error = %e, "group write failed; writing each request alone");
            tx.rollback().await.map_err(db_err)?;
            tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
            tuples = Tuples::default();
        }
    }
    for r in requests {
        // A contact is one UPDATE, atomic by itself; a report is several statements.
        let savepoint = matches!(r, Request::Inventory { .. });
        if savepoint {
            self::savepoint(&mut tx).await?;
        }
        let mark = tuples.mark();
        let (result, ok) =
            write_one(&mut tx, interner, &mut tuples, r, &mut learned.packages).await;
        if savepoint {
            release(&mut tx, ok).await?;
            if !ok {
                tuples.rollback_to(mark);
            }
        }
        done.push(result);
    }
    sync_all(&mut tx, caches.details, requests, done, learned).await?;
    tx.commit().await.map_err(db_err)?;
    tuples.commit(interner);
    Ok(())
}

/// The answer a findings sync has until `sync_all` writes it.
pub(crate) fn not_yet() -> StoreError {
    StoreError::corrupt("a findings sync was not written")
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

#[cfg(test)]
mod tests;
