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
    /// Agents' public keys already parsed, by their base64 text (a key's text always
    /// parses to the same key, so entries never go stale; the map is emptied when it
    /// reaches [`AGENT_KEYS_MAX`]).
    pub agent_keys:
        std::sync::Mutex<std::collections::HashMap<String, patchwarden_wire::sign::PublicKey>>,
}

/// Parsed agent keys kept at most.
pub const AGENT_KEYS_MAX: usize = 100_000;

impl Shared {
    /// Checks an agent's request signature with its (cached) parsed public key.
    pub fn verify_agent(
        &self,
        public_b64: &str,
        msg: &[u8],
        signature_b64: &str,
    ) -> Result<(), patchwarden_wire::sign::SignatureError> {
        use patchwarden_wire::sign::PublicKey;
        let cached = self.keys().get(public_b64).cloned();
        let key = match cached {
            Some(k) => k,
            None => {
                let k = PublicKey::parse(public_b64)?;
                let mut keys = self.keys();
                if keys.len() >= AGENT_KEYS_MAX {
                    keys.clear();
                }
                keys.insert(public_b64.to_owned(), k.clone());
                k
            }
        };
        key.verify(msg, signature_b64)
    }

    fn keys(
        &self,
    ) -> std::sync::MutexGuard<
        '_,
        std::collections::HashMap<String, patchwarden_wire::sign::PublicKey>,
    > {
        // The map holds no invariant a panicking holder could break half-way.
        self.agent_keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
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
            agent_keys: std::sync::Mutex::default(),
        }))
    }
}

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}
