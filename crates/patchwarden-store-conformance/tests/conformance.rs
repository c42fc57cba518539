//! Runs the conformance suite against SQLite (always) and PostgreSQL (when
//! `PATCHWARDEN_TEST_POSTGRES_URL` names a server), plus tamper tests that alter the
//! stored audit rows with raw SQL and expect the chain verifier to notice.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use patchwarden_domain::audit::BrokenLink;
use patchwarden_store::Store;
use patchwarden_store_conformance::fixtures::{ctx, new_asset, t};
use patchwarden_store_conformance::{run_all, verify_chain, SharedStore};
use patchwarden_store_sqlite::SqliteStore;
use sqlx::Connection;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A raw connection to the store's database, for tampering.
enum Raw {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Raw {
    async fn exec(&mut self, sql: &str) {
        let done = match self {
            Raw::Sqlite(c) => sqlx::query(sql)
                .execute(&mut *c)
                .await
                .unwrap()
                .rows_affected(),
            Raw::Postgres(c) => sqlx::query(sql)
                .execute(&mut *c)
                .await
                .unwrap()
                .rows_affected(),
        };
        assert_eq!(done, 1, "{sql} touched {done} rows");
    }
}

/// Five `asset.create` events.
async fn seed(store: &SharedStore) {
    for i in 0..5 {
        let host = format!("web-{i}.example.org");
        store
            .create_asset(&ctx(t(i)), &new_asset(&host, &["web"]))
            .await
            .unwrap();
    }
    assert_eq!(verify_chain(store.as_ref()).await, Ok(5));
}

const TAMPERINGS: [(&str, BrokenLink); 3] = [
    (
        "UPDATE audit_events SET after_json = replace(after_json, 'web-2', 'web-9') WHERE seq = 3",
        BrokenLink::Altered { seq: 3 },
    ),
    (
        "DELETE FROM audit_events WHERE seq = 3",
        BrokenLink::Missing {
            expected: 3,
            found: 4,
        },
    ),
    (
        "DELETE FROM audit_events WHERE seq = 5",
        BrokenLink::Truncated { last: 4, head: 5 },
    ),
];

// ---- SQLite ------------------------------------------------------------------------

fn sqlite_factory(
    dir: PathBuf,
) -> impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = SharedStore>>> {
    let n = Arc::new(AtomicUsize::new(0));
    move || {
        let path = dir.join(format!("case-{}/pw.db", n.fetch_add(1, Ordering::SeqCst)));
        Box::pin(async move {
            let url = format!("sqlite://{}", path.display());
            Arc::new(SqliteStore::open(&url).await.unwrap()) as SharedStore
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_conformance() {
    let dir = tempfile::tempdir().unwrap();
    run_all(sqlite_factory(dir.path().to_owned())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_tampering_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (sql, expected)) in TAMPERINGS.into_iter().enumerate() {
        let path = dir.path().join(format!("tamper-{i}.db"));
        let store: SharedStore = Arc::new(SqliteStore::open(path.to_str().unwrap()).await.unwrap());
        seed(&store).await;
        let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&path);
        let mut raw = Raw::Sqlite(sqlx::SqliteConnection::connect_with(&opts).await.unwrap());
        raw.exec(sql).await;
        assert_eq!(
            verify_chain(store.as_ref()).await,
            Err(expected),
            "after {sql}"
        );
        store.close().await;
    }
}

#[tokio::test]
async fn sqlite_open_accepts_urls_and_creates_directories() {
    let dir = tempfile::tempdir().unwrap();
    for (i, form) in ["sqlite://{}", "sqlite:{}", "{}"].iter().enumerate() {
        let path = dir.path().join(format!("nested-{i}/deeper/pw.db"));
        let url = form.replace("{}", path.to_str().unwrap());
        let store = SqliteStore::open(&url).await.unwrap();
        assert!(path.exists(), "{url} created {}", path.display());
        store.ping().await.unwrap();
        assert_eq!(store.backend(), "sqlite");
        store.close().await;
        // Reopening applies no migration twice and keeps the data.
        let again = SqliteStore::open(&url).await.unwrap();
        assert_eq!(again.count_assets().await.unwrap(), 0);
        again.close().await;
    }
}
