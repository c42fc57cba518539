//! Agents as `get_agent` last read them, so that an agent's check-in (signature check,
//! "send your inventory?", "any job?") needs no database round trip at all.
//!
//! Sound only because one process owns a SQLite file and changes agents only through
//! this store (the CLI has no agent commands): every `Store` method that can change
//! what [`Agent`] shows — the agent row, its asset's host name or inventory hash, its
//! jobs — invalidates here, through an [`Invalidation`] guard, after the write and
//! before the method returns (inventory reports and contacts: in the group-commit
//! writer task, before it answers). When the caller's future is dropped mid-write, the
//! statement sent last (a `COMMIT`, say) still runs on the connection's thread after
//! the drop; the guard then invalidates at once and again once the single writer
//! connection is handed out again, which sqlx does only after that statement ran. The
//! conformance case `agents::get_agent_sees_every_change` fails when any of them is
//! left out. The PostgreSQL store, shared by replicas, has no such cache.
//!
//! Ordering: a reader takes the generation before it reads the row and caches the row
//! only if no write that touched it finished meanwhile; a writer bumps the generation
//! after its commit and records what it touched (its [`Scope`]) with the new
//! generation. A row read before a commit that touched it therefore never lands after
//! it. The last [`RECENT`] generations' scopes are kept: a read that overlapped more
//! writes than that is not cached. (Before, any write at all kept the row out; during
//! a fleet's reports the writer commits every few milliseconds, so most check-ins read
//! their agent again: 6,598 reads for 6,000 reports.)

use patchwarden_domain::ids::AssetId;
use patchwarden_store::{Agent, AgentContact};
use sqlx::SqlitePool;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Agents kept at most; the cache is emptied when it would grow past this.
pub(crate) const MAX_AGENTS: usize = 200_000;

/// Writes whose scope is remembered, for reads that overlapped them.
const RECENT: usize = 1024;

#[derive(Debug, Default)]
struct Inner {
    generation: u64,
    by_id: HashMap<i64, Agent>,
    /// The cached agents of each asset.
    by_asset: HashMap<AssetId, Vec<i64>>,
    /// The scope of each of the last [`RECENT`] generations, the newest last.
    recent: VecDeque<Scope>,
}

impl Inner {
    /// A write finished: a new generation, which touched `scope`.
    fn bump(&mut self, scope: Scope) {
        self.generation += 1;
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(scope);
    }

    /// Whether no write finished since `generation` that touched `agent`.
    fn untouched_since(&self, generation: u64, agent: &Agent) -> bool {
        let Ok(since) = usize::try_from(self.generation.saturating_sub(generation)) else {
            return false;
        };
        if since > self.recent.len() {
            return false;
        }
        self.recent
            .iter()
            .rev()
            .take(since)
            .all(|scope| match scope {
                Scope::Agent(id) => *id != agent.id,
                Scope::Asset(asset) => *asset != agent.asset_id,
                Scope::All => false,
            })
    }

    fn remove(&mut self, id: i64) {
        let Some(agent) = self.by_id.remove(&id) else {
            return;
        };
        if let Some(ids) = self.by_asset.get_mut(&agent.asset_id) {
            ids.retain(|i| *i != id);
            if ids.is_empty() {
                self.by_asset.remove(&agent.asset_id);
            }
        }
    }

    fn clear(&mut self) {
        self.by_id.clear();
        self.by_asset.clear();
    }
}

#[derive(Debug, Default)]
pub(crate) struct AgentCache {
    inner: Mutex<Inner>,
}

/// What a write may have changed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope {
    /// One agent's own row or jobs.
    Agent(i64),
    /// What agents show of this asset.
    Asset(AssetId),
    /// Anything (rare writes: enrolment, revocation, asset changes, jobs).
    All,
}

impl AgentCache {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update below leaves the maps consistent at each step.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached agent, or the generation to pass to [`AgentCache::store`] after
    /// reading it from the database.
    pub(crate) fn get(&self, id: i64) -> Result<Agent, u64> {
        let inner = self.lock();
        inner.by_id.get(&id).cloned().ok_or(inner.generation)
    }

    /// Caches `agent` as read after [`AgentCache::get`] returned `generation`, unless
    /// a write that touched it finished since.
    pub(crate) fn store(&self, generation: u64, agent: &Agent) {
        let mut inner = self.lock();
        if generation > inner.generation || !inner.untouched_since(generation, agent) {
            return;
        }
        if inner.by_id.len() >= MAX_AGENTS {
            inner.clear();
        }
        inner.remove(agent.id);
        inner.by_id.insert(agent.id, agent.clone());
        inner
            .by_asset
            .entry(agent.asset_id)
            .or_default()
            .push(agent.id);
    }

    fn invalidate(&self, scope: Scope) {
        let mut inner = self.lock();
        inner.bump(scope);
        match scope {
            Scope::Agent(id) => inner.remove(id),
            Scope::Asset(asset) => {
                for id in inner.by_asset.remove(&asset).unwrap_or_default() {
                    inner.by_id.remove(&id);
                }
            }
            Scope::All => inner.clear(),
        }
    }

    /// After a committed contact write: the cached row (if any) takes the new values.
    /// Readers that read the row before the commit do not cache it afterwards.
    pub(crate) fn apply_contact(&self, id: i64, at: jiff::Timestamp, c: &AgentContact) {
        let mut inner = self.lock();
        inner.bump(Scope::Agent(id));
        if let Some(a) = inner.by_id.get_mut(&id) {
            a.last_seen_at = Some(at);
            a.agent_version.clone_from(&c.agent_version);
            a.kernel_running.clone_from(&c.kernel_running);
            a.reboot_required = c.reboot_required;
            a.restart_needed.clone_from(&c.restart_needed);
        }
    }

    /// After a committed report of `asset`: its cached agents show inventory `hash`.
    /// Readers that read a row before the commit do not cache it afterwards.
    fn apply_inventory(&self, asset: AssetId, hash: &str) {
        let mut inner = self.lock();
        inner.bump(Scope::Asset(asset));
        let Inner {
            by_id, by_asset, ..
        } = &mut *inner;
        for id in by_asset.get(&asset).into_iter().flatten() {
            if let Some(a) = by_id.get_mut(id) {
                a.asset_inventory_hash = Some(hash.to_owned());
            }
        }
    }

    /// A guard to hold across a write on `writer` (the single writer connection's
    /// pool): [`Invalidation::finish`] after the write, or dropped unfinished when the
    /// write was cancelled. `None` for a write that cannot be cancelled.
    pub(crate) fn invalidation(
        self: &Arc<Self>,
        scope: Scope,
        writer: Option<&SqlitePool>,
    ) -> Invalidation {
        Invalidation {
            cache: Arc::clone(self),
            scope,
            unfinished: writer.cloned(),
            applied: false,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        let inner = self.lock();
        assert_eq!(
            inner.by_id.len(),
            inner.by_asset.values().map(Vec::len).sum::<usize>(),
            "both maps hold the same agents"
        );
        inner.by_id.len()
    }
}

/// See [`AgentCache::invalidation`].
#[derive(Debug)]
pub(crate) struct Invalidation {
    cache: Arc<AgentCache>,
    scope: Scope,
    /// The writer pool while the write may still be running.
    unfinished: Option<SqlitePool>,
    /// The write's effect was applied to the cached rows: nothing to forget.
    applied: bool,
}

impl Invalidation {
    /// The write is over (committed, failed or rolled back).
    pub(crate) fn finish(mut self) {
        self.unfinished = None;
    }

    /// The write is over and committed inventory `hash` for the asset this guard
    /// names: the asset's cached agents show it, where forgetting them would cost each
    /// a database read at its next check-in. Any other scope is forgotten.
    pub(crate) fn finish_with_inventory(mut self, hash: &str) {
        self.unfinished = None;
        if let Scope::Asset(asset) = self.scope {
            self.cache.apply_inventory(asset, hash);
            self.applied = true;
        }
    }
}

impl Drop for Invalidation {
    fn drop(&mut self) {
        if self.applied {
            return;
        }
        self.cache.invalidate(self.scope);
        let Some(writer) = self.unfinished.take() else {
            return;
        };
        // Dropped mid-write: invalidate again once the writer connection is free.
        // Without a runtime (shutting down) nothing can be served from the cache.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (cache, scope) = (Arc::clone(&self.cache), self.scope);
            runtime.spawn(async move {
                let _writer = writer.acquire().await;
                cache.invalidate(scope);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: i64, asset: i64) -> Agent {
        Agent {
            id,
            asset_id: AssetId::new(asset),
            hostname: format!("h{id}"),
            public_key: String::new(),
            agent_version: "1".into(),
            enrollment_token_id: 1,
            enrolled_at: jiff::Timestamp::UNIX_EPOCH,
            last_seen_at: None,
            revoked_at: None,
            kernel_running: None,
            reboot_required: false,
            restart_needed: Vec::new(),
            asset_inventory_hash: None,
            unfinished_jobs: false,
        }
    }

    fn contact() -> AgentContact {
        AgentContact {
            agent_version: "2".into(),
            kernel_running: None,
            reboot_required: false,
            restart_needed: Vec::new(),
        }
    }

    #[test]
    fn a_row_read_before_a_write_that_touched_it_finished_is_not_kept() {
        let c = Arc::new(AgentCache::default());
        // A write finishes between the read and the store, for each scope that
        // touches agent 1 of asset 10.
        let touching = [Scope::Agent(1), Scope::Asset(AssetId::new(10)), Scope::All];
        for scope in touching {
            let g = c.get(1).unwrap_err();
            c.invalidation(Scope::Agent(2), None).finish();
            c.invalidation(scope, None).finish();
            c.invalidation(Scope::Asset(AssetId::new(20)), None)
                .finish();
            c.store(g, &agent(1, 10));
            assert!(c.get(1).is_err(), "{scope:?}");
        }
        // So does a contact or a report applied to cached rows.
        let g = c.get(1).unwrap_err();
        c.apply_contact(1, jiff::Timestamp::UNIX_EPOCH, &contact());
        c.store(g, &agent(1, 10));
        assert!(c.get(1).is_err(), "contact");
        let g = c.get(1).unwrap_err();
        c.apply_inventory(AssetId::new(10), "h");
        c.store(g, &agent(1, 10));
        assert!(c.get(1).is_err(), "report");
        // Writes of other agents and assets only: kept.
        let g = c.get(1).unwrap_err();
        c.invalidation(Scope::Agent(2), None).finish();
        c.apply_contact(3, jiff::Timestamp::UNIX_EPOCH, &contact());
        c.apply_inventory(AssetId::new(20), "h");
        c.store(g, &agent(1, 10));
        assert_eq!(c.get(1).unwrap().id, 1);
        // More writes than are remembered: not kept, whatever they touched.
        c.invalidation(Scope::Agent(1), None).finish();
        let g = c.get(1).unwrap_err();
        for _ in 0..=RECENT {
            c.invalidation(Scope::Agent(2), None).finish();
        }
        c.store(g, &agent(1, 10));
        assert!(c.get(1).is_err(), "forgotten writes");
        let g = c.get(1).unwrap_err();
        for _ in 0..RECENT {
            c.invalidation(Scope::Agent(2), None).finish();
        }
        c.store(g, &agent(1, 10));
        assert!(c.get(1).is_ok(), "as many writes as are remembered");
    }

    #[test]
    fn scopes_forget_what_they_name() {
        let c = Arc::new(AgentCache::default());
        for (id, asset) in [(1, 10), (2, 10), (3, 30)] {
            let g = c.get(id).unwrap_err();
            c.store(g, &agent(id, asset));
        }
        c.invalidation(Scope::Agent(3), None).finish();
        assert_eq!(c.len(), 2);
        {
            let held = c.invalidation(Scope::Asset(AssetId::new(10)), None);
            assert_eq!(c.len(), 2, "nothing happens before the write is over");
            held.finish();
        }
        assert_eq!(c.len(), 0);
        let g = c.get(3).unwrap_err();
        c.store(g, &agent(3, 30));
        c.invalidation(Scope::All, None).finish();
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn a_stored_inventory_is_shown_by_the_assets_cached_agents() {
        let c = Arc::new(AgentCache::default());
        for (id, asset) in [(1, 10), (2, 10), (3, 30)] {
            let g = c.get(id).unwrap_err();
            c.store(g, &agent(id, asset));
        }
        let before_write = c.get(4).unwrap_err();
        c.invalidation(Scope::Asset(AssetId::new(10)), None)
            .finish_with_inventory("h2");
        assert_eq!(c.len(), 3, "kept, not forgotten");
        for id in [1, 2] {
            assert_eq!(
                c.get(id).unwrap().asset_inventory_hash.as_deref(),
                Some("h2")
            );
        }
        assert_eq!(c.get(3).unwrap().asset_inventory_hash, None);
        c.store(before_write, &agent(4, 10));
        assert!(c.get(4).is_err(), "a row read before the write is not kept");
        // Another scope is forgotten as by `finish`.
        c.invalidation(Scope::Agent(3), None)
            .finish_with_inventory("h3");
        assert_eq!(c.len(), 2);
    }

    /// A write cancelled after its `COMMIT` was sent: a row read before that commit
    /// landed and cached after the guard dropped is forgotten once the writer
    /// connection is free again.
    #[tokio::test]
    async fn a_cancelled_write_invalidates_again_when_the_writer_is_free() {
        let writer = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let c = Arc::new(AgentCache::default());
        let in_flight = writer.acquire().await.unwrap();
        drop(c.invalidation(Scope::Agent(1), Some(&writer)));
        let g = c.get(1).unwrap_err();
        c.store(g, &agent(1, 10));
        assert!(c.get(1).is_ok(), "cached while the write may still land");
        drop(in_flight);
        for _ in 0..200 {
            if c.get(1).is_err() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("the stale row stayed cached after the writer was free");
    }

    #[test]
    fn a_full_cache_starts_over() {
        let c = Arc::new(AgentCache::default());
        for id in 0..i64::try_from(MAX_AGENTS).unwrap() + 1 {
            let g = c.get(id).unwrap_err();
            c.store(g, &agent(id, id));
        }
        assert_eq!(c.len(), 1);
    }
}
