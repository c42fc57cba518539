//! PostgreSQL backend of the Patchwarden store: large fleets and several server
//! replicas on one database.
//!
//! Audit appends are serialised across replicas by locking the single `audit_head` row
//! (`SELECT ... FOR UPDATE`) inside each mutation's transaction, so `seq` stays
//! gap-free. Forward-only migrations from `migrations/` are embedded and applied by
//! [`PostgresStore::connect`]. Error messages never contain the database password:
//! URLs pass through [`redact_url`].

#![forbid(unsafe_code)]

mod advisories;
mod agents;
mod assets;
mod audit;
mod convert;
mod enrichment;
mod error;
mod findings;
mod inventory;
mod jobs;
mod match_inputs;
mod redact;
mod rows;
mod scans;
mod store;
mod tokens;
mod users;

pub use redact::redact_url;

use error::db_err;
use patchwarden_store::findings::detail::DetailCache;
use patchwarden_store::inventory_sets::Interner;
use patchwarden_store::{Result, StoreError};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// How long a caller waits for a pooled connection before the store reports
/// [`StoreError::Unavailable`].
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// Prefix of the schemas made by [`PostgresStore::connect_in_fresh_schema`].
const TEST_SCHEMA_PREFIX: &str = "pw_test_";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The store on one PostgreSQL database (or, for tests, one schema of it).
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// The URL without its password, to name the database in errors.
    redacted_url: String,
    /// Set when the store lives in a schema made by `connect_in_fresh_schema`.
    schema: Option<String>,
    /// Committed `packages` rows (`patchwarden_store::inventory_sets`).
    packages: Arc<Interner>,
    /// Committed `finding_details` rows (`patchwarden_store::findings::detail`).
    details: Arc<DetailCache>,
}

fn parse_options(url: &str) -> Result<PgConnectOptions> {
    PgConnectOptions::from_str(url).map_err(|e| {
        StoreError::Unavailable(format!(
            "invalid database URL {}: {}",
            redact_url(url),
            redact::scrub(&e.to_string(), url)
        ))
    })
}

fn unavailable(url: &str, what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!(
        "{what} {}: {}",
        redact_url(url),
        redact::scrub(&e.to_string(), url)
    ))
}

impl PostgresStore {
    /// Connects a pool of at most `max_connections` to `url` and applies the
    /// migrations. Errors name the URL without its password.
    pub async fn connect(url: &str, max_connections: u32) -> Result<PostgresStore> {
        let opts = parse_options(url)?;
        // One direct connection first: a pool would retry until its timeout, this
        // fails at once with the server's reason.
        PgConnection::connect_with(&opts)
            .await
            .map_err(|e| unavailable(url, "cannot connect to", e))?
            .close()
            .await
            .map_err(db_err)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(opts)
            .await
            .map_err(|e| unavailable(url, "cannot connect to", e))?;
        Self::migrate(pool, url, None).await
    }

    /// For tests: creates a uniquely named schema (`pw_test_<uuid>`), points every
    /// pooled connection at it and migrates it, so concurrent test runs on one
    /// database never see each other's rows. Drop it with
    /// [`PostgresStore::drop_test_schema`].
    pub async fn connect_in_fresh_schema(url: &str) -> Result<PostgresStore> {
        let opts = parse_options(url)?;
        let schema = format!("{TEST_SCHEMA_PREFIX}{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect_with(&opts)
            .await
            .map_err(|e| unavailable(url, "cannot connect to", e))?;
        conn.execute(format!("CREATE SCHEMA {schema}").as_str())
            .await
            .map_err(db_err)?;
        conn.close().await.map_err(db_err)?;
        let search_path = format!("SET search_path TO {schema}");
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .after_connect(move |conn, _meta| {
                let sql = search_path.clone();
                Box::pin(async move {
                    conn.execute(sql.as_str()).await?;
                    Ok(())
                })
            })
            .connect_with(opts)
            .await
            .map_err(|e| unavailable(url, "cannot connect to", e))?;
        Self::migrate(pool, url, Some(schema)).await
    }

    async fn migrate(pool: PgPool, url: &str, schema: Option<String>) -> Result<PostgresStore> {
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| unavailable(url, "cannot migrate", e))?;
        convert::findings_v1(&pool).await?;
        tracing::info!(url = %redact_url(url), schema = ?schema, "postgres store ready");
        Ok(PostgresStore {
            pool,
            redacted_url: redact_url(url),
            schema,
            packages: Arc::new(Interner::default()),
            details: Arc::default(),
        })
    }

    /// The schema made by [`PostgresStore::connect_in_fresh_schema`], if any.
    pub fn test_schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// Drops a schema made by [`PostgresStore::connect_in_fresh_schema`] and
    /// everything in it. Refuses any other schema name.
    pub async fn drop_test_schema(url: &str, schema: &str) -> Result<()> {
        let valid = schema.strip_prefix(TEST_SCHEMA_PREFIX).is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
        if !valid {
            return Err(StoreError::Invalid(format!(
                "{schema:?} is not a test schema"
            )));
        }
        let mut conn = PgConnection::connect_with(&parse_options(url)?)
            .await
            .map_err(|e| unavailable(url, "cannot connect to", e))?;
        conn.execute(format!("DROP SCHEMA IF EXISTS {schema} CASCADE").as_str())
            .await
            .map_err(db_err)?;
        conn.close().await.map_err(db_err)
    }

    /// Names the database in [`StoreError::Unavailable`] messages.
    fn named<T>(&self, r: Result<T>) -> Result<T> {
        r.map_err(|e| match e {
            StoreError::Unavailable(msg) => {
                StoreError::Unavailable(format!("{}: {msg}", self.redacted_url))
            }
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connection_errors_never_show_the_password() {
        // Nothing listens on port 1: the connection is refused at once.
        let url = "postgres://patchwarden:hunter2@127.0.0.1:1/pw";
        let err = PostgresStore::connect(url, 1).await.unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, StoreError::Unavailable(_)), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
        assert!(
            msg.contains("postgres://patchwarden:***@127.0.0.1:1/pw"),
            "{msg}"
        );
        let err = PostgresStore::connect("postgres://u:hunter2@h:notaport/x", 1)
            .await
            .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[tokio::test]
    async fn only_test_schemas_are_dropped() {
        for bad in [
            "public",
            "pw_test_",
            "pw_test_x; DROP TABLE users",
            "PW_TEST_A",
        ] {
            let r = PostgresStore::drop_test_schema("postgres://127.0.0.1:1/x", bad).await;
            assert!(matches!(r, Err(StoreError::Invalid(_))), "{bad}: {r:?}");
        }
    }
}
