//! Test kit: boots the real Patchwarden server on `127.0.0.1:0` with a temporary SQLite
//! database and a manual clock, and returns a typed client.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jiff::Timestamp;
use patchwarden_domain::clock::{Clock, ManualClock};
use patchwarden_domain::role::{Role, RoleSet};
use patchwarden_domain::user::Username;
use patchwarden_server::config::Config;
use patchwarden_server::server::Server;
use patchwarden_server::AppState;
use patchwarden_store::{AuditCtx, NewToken, Store, User};
use reqwest::StatusCode;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Whether tests that need an outside tool or service must run (`.ci/run` sets it).
pub fn require_all_tests() -> bool {
    std::env::var("PATCHWARDEN_REQUIRE_ALL_TESTS").is_ok_and(|v| v == "1")
}

/// Prints why a test is skipped, or fails it when every test is required.
pub fn skip(reason: &str) {
    if require_all_tests() {
        panic!("test needs {reason}, and PATCHWARDEN_REQUIRE_ALL_TESTS=1 forbids skipping");
    }
    eprintln!("SKIP: {reason}");
}

/// A config for tests: cheap password hashing, small limits.
pub fn test_config(db_url: &str) -> Config {
    let mut cfg = Config::default();
    cfg.database.url = db_url.to_owned();
    cfg.server.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    cfg.auth.argon2_memory_kib = 64;
    cfg.auth.argon2_iterations = 1;
    cfg.server.max_body_bytes = 1024 * 1024;
    cfg
}

/// A running server with its own temporary database.
#[derive(Debug)]
pub struct TestServer {
    pub base: String,
    pub state: AppState,
    pub clock: ManualClock,
    dir: Option<tempfile::TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts with a config adjusted by `tweak`.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let mut cfg = test_config(&url);
        tweak(&mut cfg);
        let store: Arc<dyn Store> = patchwarden_server::server::open_store(&cfg).await.unwrap();
        let clock = ManualClock::new(Timestamp::now());
        let state = AppState::new(store, Arc::new(clock.clone()) as Arc<dyn Clock>, cfg);
        let server = Server::bind(state.clone()).await.unwrap();
        let base = format!("{}://{}", server.scheme(), server.local_addr);
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            server
                .run(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        Self {
            base,
            state,
            clock,
            dir: Some(dir),
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    pub fn store(&self) -> &dyn Store {
        self.state.store.as_ref()
    }

    /// A client without credentials.
    pub fn anonymous(&self) -> Client {
        Client::new(&self.base, None)
    }

    /// Creates a user with these roles (password `password-<name>`), returns it and a
    /// client authenticated with a fresh API token of theirs.
    pub async fn user_with_roles(&self, name: &str, roles: &[Role]) -> (User, Client) {
        let ctx = AuditCtx::system("testkit", self.clock.now());
        let created = patchwarden_server::service::users::create(
            &self.state,
            &ctx,
            Username::parse(name).unwrap(),
            None,
            None,
            Some(&format!("password-{name}")),
            RoleSet::new(roles.iter().copied()),
        )
        .await
        .unwrap();
        let secret = self.token_for(&created.user).await;
        (created.user, Client::new(&self.base, Some(secret)))
    }

    /// A fresh API token secret for `user`.
    pub async fn token_for(&self, user: &User) -> String {
        let secret = patchwarden_server::auth::secret::random_secret("pw_");
        let ctx = AuditCtx::system("testkit", self.clock.now());
        self.store()
            .create_token(
                &ctx,
                &NewToken {
                    user_id: user.id,
                    name: "test".into(),
                    prefix: secret.chars().take(9).collect(),
                    token_hash: patchwarden_server::auth::secret::sha256_hex(&secret),
                    expires_at: None,
                },
            )
            .await
            .unwrap();
        secret
    }

    /// An administrator client.
    pub async fn admin(&self) -> Client {
        self.user_with_roles("root-admin", &[Role::Administrator])
            .await
            .1
    }

    /// The temporary directory holding the database.
    pub fn dir(&self) -> &std::path::Path {
        self.dir
            .as_ref()
            .map(|d| d.path())
            .unwrap_or(std::path::Path::new("."))
    }

    /// URL of the SQLite database, for tools that open it directly.
    pub fn db_url(&self) -> String {
        format!("sqlite://{}", self.dir().join("test.db").display())
    }

    /// Stops the server, waits for it to close the database, and hands over the
    /// directory (deleted when the returned value is dropped).
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
        self.dir.take().unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A JSON client for the API.
#[derive(Debug, Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
    /// For cookie sessions: the anti-CSRF token from login.
    pub csrf: Option<String>,
}

/// A response: status, headers and the body parsed as JSON (`Null` when empty or not
/// JSON; `text` keeps the raw body).
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub json: Value,
    pub text: String,
}

impl Resp {
    /// The stable error code of an error response.
    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }
}

impl Client {
    pub fn new(base: &str, token: Option<String>) -> Self {
        Self {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .unwrap(),
            base: base.to_owned(),
            token,
            csrf: None,
        }
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Resp {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(c) = &self.csrf {
            req = req.header("x-csrf-token", c);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        Self::finish(req.send().await.unwrap()).await
    }

    pub async fn finish(resp: reqwest::Response) -> Resp {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            json,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(reqwest::Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Resp {
        self.send(reqwest::Method::DELETE, path, None).await
    }
}
