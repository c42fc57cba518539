//! Runs the conformance suite against SQLite (always) and PostgreSQL (when
//! `PATCHWARDEN_TEST_POSTGRES_URL` names a server), plus tamper tests that alter the
//! stored audit rows with raw SQL and expect the chain verifier to notice.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use patchwarden_domain::audit::BrokenLink;
use patchwarden_domain::ids::AssetId;
use patchwarden_domain::package::{inventory_hash, InstalledPackage, PackageFormat};
use patchwarden_store::Store;
use patchwarden_store_conformance::fixtures::{ctx, new_asset, t};
use patchwarden_store_conformance::{run_all, verify_chain, SharedStore};
use patchwarden_store_postgres::PostgresStore;
use patchwarden_store_sqlite::SqliteStore;
use sqlx::Connection;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

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

// ---- PostgreSQL --------------------------------------------------------------------

/// The server named by `PATCHWARDEN_TEST_POSTGRES_URL`, or `None` after printing why
/// the test is skipped. With `PATCHWARDEN_REQUIRE_ALL_TESTS=1` a missing URL fails.
fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("PATCHWARDEN_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            let required = std::env::var("PATCHWARDEN_REQUIRE_ALL_TESTS").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "{test}: PATCHWARDEN_REQUIRE_ALL_TESTS=1 but PATCHWARDEN_TEST_POSTGRES_URL is not set"
            );
            println!("SKIP: {test} needs PostgreSQL (set PATCHWARDEN_TEST_POSTGRES_URL)");
            None
        }
    }
}

/// Makes stores in fresh schemas and remembers them, to drop them afterwards.
#[derive(Clone)]
struct PgSchemas {
    url: String,
    made: Arc<Mutex<Vec<String>>>,
}

impl PgSchemas {
    fn new(url: String) -> Self {
        Self {
            url,
            made: Arc::default(),
        }
    }

    async fn store(&self) -> PostgresStore {
        let store = PostgresStore::connect_in_fresh_schema(&self.url)
            .await
            .unwrap();
        self.made
            .lock()
            .unwrap()
            .push(store.test_schema().unwrap().to_owned());
        store
    }

    async fn drop_all(&self) {
        let made = std::mem::take(&mut *self.made.lock().unwrap());
        for schema in made {
            PostgresStore::drop_test_schema(&self.url, &schema)
                .await
                .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_conformance() {
    let Some(url) = postgres_url("postgres_conformance") else {
        return;
    };
    let schemas = PgSchemas::new(url);
    let factory = {
        let schemas = schemas.clone();
        move || {
            let schemas = schemas.clone();
            async move { Arc::new(schemas.store().await) as SharedStore }
        }
    };
    // Run in a task so that the schemas are dropped even when a case fails.
    let outcome = tokio::spawn(run_all(factory)).await;
    schemas.drop_all().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tampering_is_detected() {
    let Some(url) = postgres_url("postgres_tampering_is_detected") else {
        return;
    };
    let schemas = PgSchemas::new(url.clone());
    let outcome = tokio::spawn(postgres_tampering(url, schemas.clone())).await;
    schemas.drop_all().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn postgres_tampering(url: String, schemas: PgSchemas) {
    for (sql, expected) in TAMPERINGS {
        let pg = schemas.store().await;
        let schema = pg.test_schema().unwrap().to_owned();
        let store: SharedStore = Arc::new(pg);
        seed(&store).await;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query(&format!("SET search_path TO {schema}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let mut raw = Raw::Postgres(conn);
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
async fn postgres_connect_and_unavailable_names_the_redacted_url() {
    let test = "postgres_connect_and_unavailable_names_the_redacted_url";
    let Some(url) = postgres_url(test) else {
        return;
    };
    // connect() (whose migrations are then already applied) inside a fresh schema, so
    // the test never leaves tables in the shared database.
    let schemas = PgSchemas::new(url.clone());
    let schema = schemas.store().await.test_schema().unwrap().to_owned();
    let sep = if url.contains('?') { '&' } else { '?' };
    let in_schema = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    let store = PostgresStore::connect(&in_schema, 2).await.unwrap();
    store.ping().await.unwrap();
    assert_eq!(store.backend(), "postgres");
    assert_eq!(store.count_assets().await.unwrap(), 0);
    store.close().await;
    let err = store.count_assets().await.unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, patchwarden_store::StoreError::Unavailable(_)),
        "{msg}"
    );
    let redacted = patchwarden_store_postgres::redact_url(&in_schema);
    assert!(msg.contains(&redacted), "{msg}");
    schemas.drop_all().await;
}

// ---- Migration of stored inventories (0006: content-addressed sets) ------------------

/// Two hosts with the same packages and one with others, as rows of the pre-0006
/// `inventory` table.
fn legacy_inventories() -> Vec<(&'static str, Vec<InstalledPackage>)> {
    let p = |name: &str, version: &str, source: Option<(&str, &str)>| InstalledPackage {
        name: name.into(),
        version: version.into(),
        arch: "amd64".into(),
        source_name: source.map(|s| s.0.to_owned()),
        source_version: source.map(|s| s.1.to_owned()),
    };
    let image = vec![
        p("bash", "5.2.15-2+b2", None),
        p("libc6", "2.36-9+deb12u4", Some(("glibc", "2.36-9+deb12u4"))),
        p("openssl", "3.0.11-1~deb12u2", None),
    ];
    let mut other = image.clone();
    other[2] = p("openssl", "3.0.13-1~deb12u1", None);
    other.push(p("curl", "7.88.1-10+deb12u5", None));
    vec![
        ("a.example.org", image.clone()),
        ("b.example.org", image),
        ("c.example.org", other),
    ]
}

/// Statements that store [`legacy_inventories`] the way migrations 1–5 did.
fn legacy_statements() -> Vec<String> {
    let mut out = Vec::new();
    for (i, (host, pkgs)) in legacy_inventories().into_iter().enumerate() {
        let id = i + 1;
        let hash = inventory_hash(PackageFormat::Deb, &pkgs);
        out.push(format!(
            "INSERT INTO assets (hostname, kind, os_family, os_distribution, os_release, \
             os_arch, environment, criticality, package_format, package_count, \
             inventory_hash, created_at, updated_at) VALUES ('{host}', 'server', 'linux', \
             'debian', '12', 'x86_64', 'production', 'standard', 'deb', {}, '{hash}', 1, 1)",
            pkgs.len()
        ));
        for p in pkgs {
            let q = |s: &Option<String>| s.as_ref().map_or("NULL".to_owned(), |s| format!("'{s}'"));
            out.push(format!(
                "INSERT INTO inventory (asset_id, name, arch, version, source_name, \
                 source_version) VALUES ({id}, '{}', '{}', '{}', {}, {})",
                p.name,
                p.arch,
                p.version,
                q(&p.source_name),
                q(&p.source_version)
            ));
        }
    }
    out
}

/// After the migration every asset reads back its inventory, identical inventories
/// share one set, and the next report is a diff against the migrated one.
async fn check_migrated(store: &SharedStore, sets: i64) {
    assert_eq!(sets, 2, "two distinct inventories, stored once each");
    for (i, (_, mut pkgs)) in legacy_inventories().into_iter().enumerate() {
        pkgs.sort_by(|a, b| a.name.cmp(&b.name));
        let id = AssetId::new(i as i64 + 1);
        assert_eq!(store.get_inventory(id).await.unwrap(), pkgs, "asset {id}");
    }
    let (_, mut next) = legacy_inventories().remove(2);
    let c = store
        .replace_inventory(&ctx(t(100)), AssetId::new(3), PackageFormat::Deb, &next)
        .await
        .unwrap();
    assert!(c.is_unchanged(), "{c:?}");
    next.pop();
    let c = store
        .replace_inventory(&ctx(t(101)), AssetId::new(3), PackageFormat::Deb, &next)
        .await
        .unwrap();
    assert_eq!((c.added, c.removed, c.changed, c.unchanged), (0, 1, 0, 3));
}

fn migrations_before_6(dir: &str) -> sqlx::migrate::Migrator {
    migrations_before(dir, 6)
}

fn migrations_before(dir: &str, version: i64) -> sqlx::migrate::Migrator {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut m = futures_lite_block(sqlx::migrate::Migrator::new(path)).unwrap();
    m.migrations = m
        .migrations
        .iter()
        .filter(|m| m.version < version)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    m
}

/// A SQLite database in a new directory with the migrations before `version` only, and
/// a connection to it.
async fn old_sqlite(
    version: i64,
) -> (
    tempfile::TempDir,
    PathBuf,
    sqlx::sqlite::SqliteConnectOptions,
    sqlx::SqliteConnection,
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
    migrations_before("../patchwarden-store-sqlite/migrations", version)
        .run(&mut conn)
        .await
        .unwrap();
    (dir, path, opts, conn)
}

fn futures_lite_block<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migration_moves_inventories_into_sets() {
    let (_dir, path, opts, mut conn) = old_sqlite(6).await;
    for sql in legacy_statements() {
        sqlx::query(&sql).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();
    let store: SharedStore = Arc::new(SqliteStore::open(path.to_str().unwrap()).await.unwrap());
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
    let (sets,): (i64,) = sqlx::query_as("SELECT count(*) FROM inventory_sets")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    check_migrated(&store, sets).await;
    store.close().await;
}

/// Migration 0010 rebuilds SQLite's `packages` without its indexes: rows keep their ids
/// (sets name them), and a tuple stored before is found again from the store's
/// dictionary, not stored a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migration_keeps_package_ids_without_indexes() {
    let (_dir, path, opts, mut conn) = old_sqlite(10).await;
    let pkg = |name: &str, version: &str, src: Option<&str>| InstalledPackage {
        name: name.into(),
        version: version.into(),
        arch: "amd64".into(),
        source_name: src.map(str::to_owned),
        source_version: src.map(|_| version.to_owned()),
    };
    let old = [
        pkg("bash", "5.2-1", None),
        pkg("libssl3", "3.0.1-1", Some("openssl")),
        pkg("zlib1g", "1.2-3", Some("zlib")),
    ];
    for (id, p) in [3, 8, 20].into_iter().zip(&old) {
        sqlx::query(
            "INSERT INTO packages (id, name, arch, version, source_name, source_version) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(&p.name)
        .bind(&p.arch)
        .bind(&p.version)
        .bind(p.source_name.as_deref().unwrap_or(""))
        .bind(p.source_version.as_deref().unwrap_or(""))
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let hash = inventory_hash(PackageFormat::Deb, &old);
    sqlx::query(
        "INSERT INTO assets (hostname, kind, os_family, os_distribution, os_release, \
         os_arch, environment, criticality, created_at, updated_at, package_format, \
         package_count, inventory_hash) VALUES ('a.example.org', 'server', 'linux', \
         'debian', '12', 'amd64', 'production', 'standard', 1, 1, 'deb', 3, $1)",
    )
    .bind(&hash)
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO inventory_sets (hash, format, package_count, package_ids, created_at) \
         VALUES ($1, 'deb', 3, '3,8,20', 1)",
    )
    .bind(&hash)
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    let store = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
    let (indexes,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'packages'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(indexes, 0, "no index left on packages");
    let a = store
        .list_assets(&patchwarden_store::AssetFilter::default())
        .await
        .unwrap()[0]
        .id;
    assert_eq!(store.get_inventory(a).await.unwrap(), old);
    // Another host with one stored tuple and one new: the new one comes after the
    // highest id, the stored one is not stored again.
    let b = store
        .create_asset(&ctx(t(1)), &new_asset("b.example.org", &[]))
        .await
        .unwrap()
        .id;
    let new = [pkg("curl", "8.0-1", Some("curl")), old[1].clone()];
    store
        .replace_inventory(&ctx(t(2)), b, PackageFormat::Deb, &new)
        .await
        .unwrap();
    let rows: Vec<(i64, String)> = sqlx::query_as("SELECT id, name FROM packages ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let rows: Vec<(i64, &str)> = rows.iter().map(|(id, n)| (*id, n.as_str())).collect();
    assert_eq!(
        rows,
        [(3, "bash"), (8, "libssl3"), (20, "zlib1g"), (21, "curl")],
        "the new tuple after the highest id, the stored one not stored again"
    );
    assert_eq!(store.get_inventory(b).await.unwrap(), new);
    // Name and source-name look-ups come from the dictionary.
    let names = ["openssl".to_owned(), "bash".to_owned()];
    assert_eq!(store.assets_with_packages(&names).await.unwrap(), [a, b]);
    let names = ["zlib".to_owned()];
    assert_eq!(store.assets_with_packages(&names).await.unwrap(), [a]);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migration_moves_inventories_into_sets() {
    let Some(url) = postgres_url("postgres_migration_moves_inventories_into_sets") else {
        return;
    };
    // A fresh schema made (and fully migrated) the usual way names the place; it is
    // emptied and rebuilt with migrations 1–5 only.
    let schemas = PgSchemas::new(url.clone());
    let schema = schemas.store().await.test_schema().unwrap().to_owned();
    let outcome = tokio::spawn(postgres_migration(url, schema)).await;
    schemas.drop_all().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn postgres_migration(url: String, schema: String) {
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    for sql in [
        format!("DROP SCHEMA {schema} CASCADE"),
        format!("CREATE SCHEMA {schema}"),
    ] {
        sqlx::query(&sql).execute(&mut conn).await.unwrap();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    let in_schema = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    // A pool (not a bare connection) keeps this future Send for tokio::spawn.
    let pool = sqlx::PgPool::connect(&in_schema).await.unwrap();
    migrations_before_6("../patchwarden-store-postgres/migrations")
        .run(&pool)
        .await
        .unwrap();
    for sql in legacy_statements() {
        sqlx::query(&sql).execute(&pool).await.unwrap();
    }
    let store: SharedStore = Arc::new(PostgresStore::connect(&in_schema, 2).await.unwrap());
    let (sets,): (i64,) = sqlx::query_as("SELECT count(*) FROM inventory_sets")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    check_migrated(&store, sets).await;
    store.close().await;
}

// ---- Migration of stored findings (0009: shared details, per-asset lists) -------------

const HOUR: i64 = 3_600_000_000;

/// Two assets and their findings as rows of the pre-0009 `findings` table: on the first
/// asset a closed openssl finding, the same one open again, and a suppressed curl one;
/// on the second, the same open openssl finding (one detail, shared).
fn legacy_findings_statements() -> Vec<String> {
    let mut out = Vec::new();
    for host in ["a.example.org", "b.example.org"] {
        out.push(format!(
            "INSERT INTO assets (hostname, kind, os_family, os_distribution, os_release, \
             os_arch, environment, criticality, created_at, updated_at) VALUES ('{host}', \
             'server', 'linux', 'almalinux', '9', 'x86_64', 'production', 'standard', 1, 1)"
        ));
    }
    let ssl = "'openssl', 'x86_64', 'ALSA-1', '1.0-1.el9', '1.0-2.el9', 'vulnerable', 'osv', \
               'CVE-2024-1,CVE-2024-2', 'almalinux:9', \
               'installed 1.0-1.el9 < fixed 1.0-2.el9 per ALSA-1, almalinux:9', NULL, 'high'";
    let curl = "'curl', 'x86_64', 'ALSA-2', '7.0-1.el9', NULL, 'no_fix_yet', 'osv', \
                'CVE-2024-3', 'almalinux:9', 'installed 7.0-1.el9, no fix yet per ALSA-2', \
                'VEX-1 says not affected', 'low'";
    for (asset, cols, first_seen, allowed, closed) in [
        (1, ssl, 10, 48, Some(20)),
        (1, ssl, 30, 48, None),
        (1, curl, 30, 15 * 24, None),
        (2, ssl, 40, 48, None),
    ] {
        out.push(format!(
            "INSERT INTO findings (asset_id, package, arch, advisory_id, installed, fixed, \
             status, source, cves, distro, evidence, suppressed, level, first_seen_at, \
             deadline_at, closed_at) VALUES ({asset}, {cols}, {}, {}, {})",
            first_seen * HOUR,
            (first_seen + allowed) * HOUR,
            closed.map_or("NULL".to_owned(), |c: i64| (c * HOUR).to_string())
        ));
    }
    out
}

/// Every finding reads back with its first-seen time, deadline, level, closing time and
/// suppression; the next sync keeps what is still wanted (first seen kept) and closes
/// the rest.
async fn check_findings_migrated(store: &SharedStore) {
    use patchwarden_store::FindingFilter;
    let micros = |h: i64| jiff::Timestamp::from_microsecond(h * HOUR).unwrap();
    let all = |asset: i64| {
        let store = store.clone();
        async move {
            store
                .list_findings(&FindingFilter {
                    asset: Some(AssetId::new(asset)),
                    include_closed: true,
                    include_suppressed: true,
                    ..FindingFilter::default()
                })
                .await
                .unwrap()
        }
    };
    let a = all(1).await;
    let seen: Vec<_> = a
        .iter()
        .map(|f| {
            (
                f.finding.package.as_str(),
                f.level.as_str(),
                f.first_seen_at,
                f.deadline_at,
                f.closed_at,
                f.finding.suppressed.is_some(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                "openssl",
                "high",
                micros(10),
                micros(58),
                Some(micros(20)),
                false
            ),
            ("openssl", "high", micros(30), micros(78), None, false),
            ("curl", "low", micros(30), micros(30 + 15 * 24), None, true),
        ]
    );
    assert!(
        a[0].id < a[1].id && a[1].id < a[2].id,
        "numbered in the old order"
    );
    assert_eq!(a[1].finding.cves, ["CVE-2024-1", "CVE-2024-2"]);
    let b = all(2).await;
    assert_eq!(b.len(), 1);
    assert_eq!(
        (b[0].first_seen_at, b[0].finding.clone()),
        (micros(40), a[1].finding.clone())
    );
    // The next re-match still wants openssl: kept with its first-seen time; curl closes.
    let again = patchwarden_store::NewFinding {
        finding: a[1].finding.clone().into(),
        level: patchwarden_domain::level::Level::High,
        allowed: jiff::SignedDuration::from_hours(48),
    };
    let c = store
        .sync_findings(&ctx(t(1_000_000)), AssetId::new(1), &[again])
        .await
        .unwrap();
    assert_eq!((c.opened, c.kept, c.closed), (0, 1, 1));
    let a = all(1).await;
    assert_eq!(a.len(), 3);
    assert_eq!(a[1].first_seen_at, micros(30));
    assert!(a[2].closed_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migration_converts_findings() {
    let (_dir, path, opts, mut conn) = old_sqlite(9).await;
    for sql in legacy_findings_statements() {
        sqlx::query(&sql).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();
    let store: SharedStore = Arc::new(SqliteStore::open(path.to_str().unwrap()).await.unwrap());
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
    let (left,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM sqlite_master WHERE name = 'findings_v1'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(left, 0, "the old table is dropped");
    let (details,): (i64,) = sqlx::query_as("SELECT count(*) FROM finding_details")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(details, 2, "one openssl detail for three rows");
    check_findings_migrated(&store).await;
    store.close().await;
    // Opening again converts nothing more.
    let store = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migration_converts_findings() {
    let Some(url) = postgres_url("postgres_migration_converts_findings") else {
        return;
    };
    let schemas = PgSchemas::new(url.clone());
    let schema = schemas.store().await.test_schema().unwrap().to_owned();
    let outcome = tokio::spawn(postgres_findings_migration(url, schema)).await;
    schemas.drop_all().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn postgres_findings_migration(url: String, schema: String) {
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    for sql in [
        format!("DROP SCHEMA {schema} CASCADE"),
        format!("CREATE SCHEMA {schema}"),
    ] {
        sqlx::query(&sql).execute(&mut conn).await.unwrap();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    let in_schema = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    let pool = sqlx::PgPool::connect(&in_schema).await.unwrap();
    migrations_before("../patchwarden-store-postgres/migrations", 9)
        .run(&pool)
        .await
        .unwrap();
    for sql in legacy_findings_statements() {
        sqlx::query(&sql).execute(&pool).await.unwrap();
    }
    let store: SharedStore = Arc::new(PostgresStore::connect(&in_schema, 2).await.unwrap());
    let (left,): (bool,) = sqlx::query_as("SELECT to_regclass('findings_v1') IS NOT NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(!left, "the old table is dropped");
    pool.close().await;
    check_findings_migrated(&store).await;
    store.close().await;
}

/// SQLite knows in memory which assets have findings (an empty sync of any other
/// reads nothing): that knowledge is read again when the store opens, so an asset's
/// findings from before a restart still close when it wants none, and an asset that
/// never had one gets no row.
#[tokio::test]
async fn sqlite_findings_close_after_a_restart() {
    use patchwarden_domain::level::Level;
    use patchwarden_store_conformance::fixtures::finding;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pw.db");
    let open = || SqliteStore::open(path.to_str().unwrap());
    let store = open().await.unwrap();
    let with = store
        .create_asset(&ctx(t(1)), &new_asset("with.example.org", &[]))
        .await
        .unwrap()
        .id;
    let without = store
        .create_asset(&ctx(t(2)), &new_asset("without.example.org", &[]))
        .await
        .unwrap()
        .id;
    let f = finding("openssl", "ALSA-2024:1", "3.0.7-1.el9", Level::High, 48);
    let c = store
        .sync_findings(&ctx(t(3)), with, std::slice::from_ref(&f))
        .await
        .unwrap();
    assert_eq!(c.opened, 1);
    let c = store.sync_findings(&ctx(t(4)), without, &[]).await.unwrap();
    assert_eq!((c.opened, c.kept, c.closed), (0, 0, 0));
    store.close().await;
    drop(store);

    let store = open().await.unwrap();
    let c = store.sync_findings(&ctx(t(5)), with, &[]).await.unwrap();
    assert_eq!(c.closed, 1, "closed although this process never wrote it");
    let c = store.sync_findings(&ctx(t(6)), without, &[]).await.unwrap();
    assert_eq!((c.opened, c.kept, c.closed), (0, 0, 0));
    // And a later finding of the asset that had none opens as usual.
    let c = store
        .sync_findings(&ctx(t(7)), without, std::slice::from_ref(&f))
        .await
        .unwrap();
    assert_eq!(c.opened, 1);
    let c = store.sync_findings(&ctx(t(8)), without, &[]).await.unwrap();
    assert_eq!(c.closed, 1);
    store.close().await;
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&path);
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
    let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM asset_findings")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows, 2);
}
