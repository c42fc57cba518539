//! SQLite backend of the Patchwarden store: the embedded default.
//!
//! One file in WAL mode, foreign keys on, `synchronous=FULL`, a 5 s busy timeout.
//! Exactly one connection writes (a pool of one, every write transaction started with
//! `BEGIN IMMEDIATE`), so audit appends are serialised without extra locking; reads go
//! through a separate pool of `query_only` connections. Forward-only migrations from
//! `migrations/` are embedded and applied by [`SqliteStore::open`].

#![forbid(unsafe_code)]

mod advisories;
mod agent_cache;
mod agents;
mod assets;
mod audit;
mod batched;
mod convert;
mod enrichment;
mod error;
mod findings;
mod group_commit;
mod inventory;
mod jobs;
mod match_inputs;
mod rows;
mod scans;
mod sql;
mod store;
mod tokens;
mod users;

use error::db_err;
use patchwarden_store::findings::detail::DetailCache;
use patchwarden_store::inventory_sets::{Interner, Prepared};
use patchwarden_store::{Result, StoreError};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Sqlite;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long a connection waits for a lock held by another connection or process.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections of the read pool.
const READERS: u32 = 8;

/// The store on one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Exactly one connection: every write goes through it.
    write: SqlitePool,
    /// `query_only` connections for reads.
    read: SqlitePool,
    path: PathBuf,
    /// Committed `packages` rows (`patchwarden_store::inventory_sets`).
    packages: Arc<Interner>,
    /// Inventory reports and agents' contacts, written with group commit.
    writer: group_commit::Writer,
    /// Agents for check-ins without a database read (see `agent_cache`).
    agents: Arc<agent_cache::AgentCache>,
    /// Committed `finding_details` rows (`patchwarden_store::findings::detail`).
    details: Arc<DetailCache>,
    /// Every asset that has an `asset_findings` row, and perhaps a few that do not:
    /// read when the store opens, and an asset is added before a write that may give
    /// it a row. An asset not in it has never had a finding, so a sync that wants
    /// none for it has nothing to read or write (an agent's report on a host no
    /// advisory names).
    finding_rows: Arc<std::sync::Mutex<std::collections::HashSet<i64>>>,
}

/// The file path of `sqlite://path`, `sqlite:path` or a plain path (any `?options`
/// suffix of a URL is ignored).
pub fn database_path(url_or_path: &str) -> PathBuf {
    let rest = url_or_path
        .strip_prefix("sqlite://")
        .or_else(|| url_or_path.strip_prefix("sqlite:"));
    match rest {
        Some(r) => PathBuf::from(r.split('?').next().unwrap_or(r)),
        None => PathBuf::from(url_or_path),
    }
}

impl SqliteStore {
    /// Opens (creating the file and its directory if missing) and migrates the
    /// database at `url_or_path`: `sqlite://path`, `sqlite:path` or a plain path.
    pub async fn open(url_or_path: &str) -> Result<SqliteStore> {
        let path = database_path(url_or_path);
        if path.as_os_str().is_empty() || path == Path::new(":memory:") {
            return Err(StoreError::Invalid(format!(
                "{url_or_path:?} does not name a database file"
            )));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir).await.map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let opts = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .synchronous(SqliteSynchronous::Full)
            // Statement and savepoint journals (one savepoint per report in a group
            // commit) are kept in memory rather than in temporary files: they only
            // undo a statement or savepoint inside a transaction, never a commit.
            .pragma("temp_store", "memory");
        let unavailable = |e: sqlx::Error| {
            StoreError::Unavailable(format!("cannot open {}: {e}", path.display()))
        };
        // A connection to a local file cannot drop out from under the pool, so the ping
        // sqlx sends before handing out an idle connection (a round trip to the
        // connection's worker thread) would only cost time: every request takes one.
        let write = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts.clone())
            .await
            .map_err(unavailable)?;
        sqlx::migrate!("./migrations")
            .run(&write)
            .await
            .map_err(|e| StoreError::Unavailable(format!("migrating {}: {e}", path.display())))?;
        convert::findings_v1(&write).await?;
        let rows: Vec<(i64,)> = sqlx::query_as("SELECT asset_id FROM asset_findings")
            .fetch_all(&write)
            .await
            .map_err(unavailable)?;
        let finding_rows = Arc::new(std::sync::Mutex::new(
            rows.into_iter().map(|(id,)| id).collect(),
        ));
        let read = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(READERS)
            .connect_with(opts.pragma("query_only", "ON"))
            .await
            .map_err(unavailable)?;
        tracing::info!(path = %path.display(), "sqlite store open");
        let packages = Arc::new(Interner::default());
        let details = Arc::new(DetailCache::default());
        let agents = Arc::new(agent_cache::AgentCache::default());
        let writer = group_commit::Writer::start(
            write.clone(),
            packages.clone(),
            details.clone(),
            agents.clone(),
        )?;
        Ok(SqliteStore {
            write,
            read,
            path,
            packages,
            writer,
            agents,
            details,
            finding_rows,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `write` (on the writer) and then forgets `scope` in the agent cache, also
    /// when this future is dropped before the write is over (see `agent_cache`).
    async fn changing_agents<T>(
        &self,
        scope: agent_cache::Scope,
        write: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let agents = self.agents.invalidation(scope, Some(&self.write));
        let out = write.await;
        agents.finish();
        out
    }

    /// Whether `asset` may have an `asset_findings` row (see `finding_rows`).
    fn may_have_finding_row(&self, asset: i64) -> bool {
        self.finding_rows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&asset)
    }

    /// Called before a write that may give these assets a row.
    fn will_have_finding_rows(&self, assets: impl IntoIterator<Item = i64>) {
        self.finding_rows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(assets);
    }

    async fn reader(&self) -> Result<PoolConnection<Sqlite>> {
        self.read.acquire().await.map_err(db_err)
    }

    /// An agent's report made ready for the group commit. A first report, or one of
    /// the inventory the asset holds, needs no read at all: a reader (a round trip to
    /// its thread, and sqlx's ping when it is handed back) only to count against
    /// another stored inventory.
    async fn prepare_report(
        &self,
        asset: &patchwarden_store::Asset,
        inv: &patchwarden_domain::package::CheckedInventory<'_>,
    ) -> Result<Prepared> {
        let based_on = asset.inventory_hash.clone();
        let (prepared, read) = match &based_on {
            Some(h) if h != inv.hash() => {
                let mut conn = self.reader().await?;
                inventory::prepare_against(&mut conn, &self.packages, based_on, inv).await?
            }
            _ => (
                Prepared::new(&self.packages, inv, based_on, &[], &[])?,
                Vec::new(),
            ),
        };
        self.packages.remember(read);
        Ok(prepared)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patchwarden_store::Store;

    #[tokio::test]
    async fn one_writer_wal_full_sync_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("pw.db").to_str().unwrap())
            .await
            .unwrap();
        assert_eq!(store.write.options().get_max_connections(), 1);
        let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(&store.write)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        for (pragma, want) in [
            ("foreign_keys", 1),
            ("synchronous", 2),
            ("busy_timeout", 5000),
        ] {
            for pool in [&store.write, &store.read] {
                let (v,): (i64,) = sqlx::query_as(&format!("PRAGMA {pragma}"))
                    .fetch_one(pool)
                    .await
                    .unwrap();
                assert_eq!(v, want, "{pragma}");
            }
        }
        let denied = sqlx::query("DELETE FROM assets").execute(&store.read).await;
        assert!(denied.is_err(), "the read pool cannot write");
        store.close().await;
    }

    #[test]
    fn accepts_urls_and_paths() {
        assert_eq!(
            database_path("sqlite:///var/lib/pw/db.sqlite"),
            PathBuf::from("/var/lib/pw/db.sqlite")
        );
        assert_eq!(
            database_path("sqlite://data/pw.db?mode=rwc"),
            PathBuf::from("data/pw.db")
        );
        assert_eq!(database_path("sqlite:pw.db"), PathBuf::from("pw.db"));
        assert_eq!(database_path("/tmp/x/pw.db"), PathBuf::from("/tmp/x/pw.db"));
    }
}
