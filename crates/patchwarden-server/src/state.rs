//! Shared state handed to every handler.

use crate::auth::password::Passwords;
use crate::config::Config;
use patchwarden_domain::clock::Clock;
use patchwarden_store::Store;
use std::ops::Deref;
use std::sync::Arc;

/// Cheap to clone; everything lives behind one `Arc`.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

#[derive(Debug)]
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub config: Config,
    pub passwords: Passwords,
    pub engine: crate::service::matching::MatchEngine,
    /// The job-signing key, loaded from (or created in) the store on first use.
    pub job_key: tokio::sync::OnceCell<patchwarden_wire::sign::SecretKey>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: Config) -> Self {
        let passwords = Passwords::new(&config.auth);
        Self(Arc::new(Shared {
            store,
            clock,
            config,
            passwords,
            engine: crate::service::matching::MatchEngine::default(),
            job_key: tokio::sync::OnceCell::new(),
        }))
    }
}

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}
