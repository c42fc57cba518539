//! Running the server: open the store, bootstrap, bind, serve (plain or TLS) until a
//! shutdown signal, then drain in-flight requests within the grace period.

use crate::config::Config;
use crate::state::AppState;
use anyhow::Context;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use patchwarden_domain::clock::{Clock, SystemClock};
use patchwarden_store::Store;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// Opens the configured database: `sqlite:` URLs select the embedded backend,
/// `postgres://` URLs PostgreSQL. Migrations are applied here.
pub async fn open_store(cfg: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = &cfg.database.url;
    let shown = crate::config::redact_url(url);
    let store: Arc<dyn Store> = if url.starts_with("postgres://")
        || url.starts_with("postgresql://")
    {
        Arc::new(
            patchwarden_store_postgres::PostgresStore::connect(url, cfg.database.max_connections)
                .await
                .with_context(|| format!("cannot open the database at {shown}"))?,
        )
    } else {
        Arc::new(
            patchwarden_store_sqlite::SqliteStore::open(url)
                .await
                .with_context(|| format!("cannot open the database at {shown}"))?,
        )
    };
    Ok(store)
}

/// A bound server, ready to run.
pub struct Server {
    pub state: AppState,
    pub listener: TcpListener,
    pub local_addr: SocketAddr,
    tls: Option<TlsAcceptor>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Server {
    /// Binds the listener and loads TLS material, so that a bad address or certificate
    /// fails before anything runs.
    pub async fn bind(state: AppState) -> anyhow::Result<Self> {
        let cfg = &state.config.server;
        let tls = match (&cfg.tls_cert_file, &cfg.tls_key_file) {
            (Some(cert), Some(key)) => Some(crate::tls::acceptor(cert, key)?),
            _ => None,
        };
        let listener = TcpListener::bind(cfg.listen)
            .await
            .with_context(|| format!("cannot listen on {}", cfg.listen))?;
        let local_addr = listener.local_addr()?;
        Ok(Self {
            state,
            listener,
            local_addr,
            tls,
        })
    }

    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// Serves until `shutdown` resolves, then stops accepting and waits up to
    /// `server.shutdown_grace_secs` for in-flight requests.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let grace = Duration::from_secs(self.state.config.server.shutdown_grace_secs);
        let store = self.state.store.clone();
        let app = crate::app::app(self.state);
        match self.tls {
            None => {
                let serve = axum::serve(
                    self.listener,
                    app.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(shutdown);
                serve.await.context("server failed")?;
            }
            Some(acceptor) => serve_tls(self.listener, acceptor, app, shutdown, grace).await,
        }
        store.close().await;
        Ok(())
    }
}

async fn serve_tls(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            res = listener.accept() => match res {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, %peer, "TLS handshake failed");
                        return;
                    }
                    Err(_) => return,
                };
            let svc = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    app.clone().oneshot(req.map(axum::body::Body::new))
                },
            );
            let builder = auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), svc);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace period over; closing remaining connections");
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested");
}

/// Opens the store, builds the state with the system clock and creates the first-run
/// administrator. Returns the state and, on first run only, `(name, one-time password)`.
pub async fn prepare(cfg: Config) -> anyhow::Result<(AppState, Option<(String, String)>)> {
    let store = open_store(&cfg).await?;
    store
        .warm_up()
        .await
        .context("cannot read the package dictionary")?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let state = AppState::new(store, clock, cfg);
    // The advisory index is built now, not by the first agent report (which would wait
    // for it, with every report behind it).
    drop(
        state
            .engine
            .read(state.store.as_ref(), &state.config.levels)
            .await
            .map_err(|e| anyhow::anyhow!("cannot load the advisory index: {}", e.message))?,
    );
    let admin = crate::service::users::bootstrap_admin(&state)
        .await
        .map_err(|e| anyhow::anyhow!("cannot create the first administrator: {}", e.message))?;
    Ok((state, admin))
}
