//! Typed, layered configuration: defaults → TOML file → `PATCHWARDEN_*` environment →
//! command-line flags. Unknown keys are rejected with the key named; secrets never
//! appear in `Debug` output or logs.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// Sections that `PATCHWARDEN_<SECTION>_<KEY>` environment variables may set. Other
/// `PATCHWARDEN_*` variables (`PATCHWARDEN_CONFIG`, test switches) are not config keys.
const ENV_SECTIONS: &[&str] = &["server", "database", "auth", "log", "feeds"];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("unknown config key `{key}` (from {origin})")]
    UnknownKey { key: String, origin: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
#[derive(Default)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub log: LogConfig,
    pub feeds: FeedsConfig,
    /// The level rule (PROCESS.md section 2), as data.
    pub levels: patchwarden_match::level::LevelPolicy,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// PEM certificate chain; with `tls_key_file`, the listener speaks HTTPS (rustls).
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// Largest accepted request body; larger ones get 413.
    pub max_body_bytes: usize,
    /// A request that takes longer is answered 408.
    pub request_timeout_secs: u64,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace_secs: u64,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls_cert_file: None,
            tls_key_file: None,
            max_body_bytes: 16 * 1024 * 1024,
            request_timeout_secs: 60,
            shutdown_grace_secs: 20,
            trust_forwarded_for: false,
        }
    }
}

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://path/to/file.db` (default) or `postgres://user:password@host/db`.
    pub url: String,
    /// Read the URL from this file instead (keeps the password out of the config).
    pub url_file: Option<PathBuf>,
    /// Connection pool size (PostgreSQL; SQLite always has one writer).
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://patchwarden-data/patchwarden.db".into(),
            url_file: None,
            max_connections: 16,
        }
    }
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &redact_url(&self.url))
            .field("url_file", &self.url_file)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Lifetime of a login session.
    pub session_ttl_minutes: u64,
    /// Failed logins per user name or client address within the window before further
    /// attempts are refused with 429.
    pub login_max_failures: u32,
    pub login_window_secs: u64,
    /// Mark cookies `Secure`. Defaults to on when the listener has TLS; set it when a
    /// TLS-terminating proxy sits in front.
    pub secure_cookies: Option<bool>,
    /// argon2id cost. The defaults follow OWASP's recommendation (19 MiB, 2 passes).
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    /// Name of the administrator created on first start.
    pub bootstrap_admin: String,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            session_ttl_minutes: 12 * 60,
            login_max_failures: 5,
            login_window_secs: 15 * 60,
            secure_cookies: None,
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            bootstrap_admin: "admin".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter: `info`, `debug`, `patchwarden_server=debug,info` ...
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// Advisory feeds fetched over HTTP(S) on a schedule by `patchwarden serve` (and on
/// demand by `patchwarden advisories sync`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FeedsConfig {
    /// Minutes between two syncs; 0 turns the schedule off.
    pub interval_minutes: u64,
    /// Give up on one download after this many seconds.
    pub timeout_secs: u64,
    /// Refuse bodies larger than this.
    pub max_bytes: u64,
    pub sources: Vec<FeedSource>,
}

impl Default for FeedsConfig {
    fn default() -> Self {
        Self {
            interval_minutes: 360,
            timeout_secs: 300,
            max_bytes: 512 * 1024 * 1024,
            sources: Vec::new(),
        }
    }
}

/// One feed URL.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FeedSource {
    /// A short name for logs and reports.
    pub name: String,
    /// `https://...` (or `http://` on a trusted network) of an OSV `all.zip`, CSAF or
    /// VEX document, Debian tracker JSON or DSA list, KEV, EPSS (`.csv.gz`), ...
    pub url: String,
    /// Where the publisher's SHA-256 of the file is (`<hex>  <name>` or bare hex);
    /// when set, a mismatch refuses the download.
    #[serde(default)]
    pub sha256_url: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

/// Values given on the command line; they win over everything else.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub database_url: Option<String>,
}

impl Config {
    /// Loads the configuration: defaults, then `file` (when given), then the process
    /// environment, then `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(file, &env, overrides)
    }

    /// [`Config::load`] with an explicit environment, for tests.
    pub fn load_from(
        file: Option<&Path>,
        env: &[(String, String)],
        overrides: &Overrides,
    ) -> Result<Self, ConfigError> {
        let known = known_keys();
        let mut merged = Table::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            let table: Table = toml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
            check_keys(&known, &table, "", &format!("file {}", path.display()))?;
            merge(&mut merged, table);
        }
        merge(&mut merged, env_table(env, &known)?);
        let mut cfg: Config = Value::Table(merged)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.message().to_owned()))?;
        if let Some(listen) = overrides.listen {
            cfg.server.listen = listen;
        }
        if let Some(url) = &overrides.database_url {
            cfg.database.url.clone_from(url);
        }
        if let Some(path) = cfg.database.url_file.clone() {
            let url = std::fs::read_to_string(&path)
                .map_err(|source| ConfigError::Read { path, source })?;
            cfg.database.url = url.trim().to_owned();
        }
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if self.server.tls_cert_file.is_some() != self.server.tls_key_file.is_some() {
            return invalid("server.tls_cert_file and server.tls_key_file must be set together");
        }
        if self.server.max_body_bytes < 1024 {
            return invalid("server.max_body_bytes must be at least 1024");
        }
        if !(self.database.url.starts_with("sqlite:")
            || self.database.url.starts_with("postgres://")
            || self.database.url.starts_with("postgresql://"))
        {
            return invalid("database.url must start with sqlite:, postgres:// or postgresql://");
        }
        if self.database.max_connections == 0 {
            return invalid("database.max_connections must be at least 1");
        }
        if self.auth.login_max_failures == 0 || self.auth.session_ttl_minutes == 0 {
            return invalid(
                "auth.login_max_failures and auth.session_ttl_minutes must be positive",
            );
        }
        if self.auth.argon2_memory_kib < 8 || self.auth.argon2_iterations == 0 {
            return invalid(
                "auth.argon2_memory_kib must be at least 8 and argon2_iterations at least 1",
            );
        }
        for f in &self.feeds.sources {
            if !(f.url.starts_with("https://") || f.url.starts_with("http://")) {
                return Err(ConfigError::Invalid(format!(
                    "feeds.sources {:?}: url must start with https:// or http://",
                    f.name
                )));
            }
        }
        if patchwarden_domain::user::Username::parse(&self.auth.bootstrap_admin).is_err() {
            return invalid("auth.bootstrap_admin is not a valid user name");
        }
        Ok(())
    }

    /// Whether cookies get the `Secure` attribute.
    pub fn secure_cookies(&self) -> bool {
        self.auth
            .secure_cookies
            .unwrap_or(self.server.tls_cert_file.is_some())
    }

    /// The effective configuration as TOML with secrets redacted, for `config check`.
    pub fn to_redacted_toml(&self) -> String {
        let mut c = self.clone();
        c.database.url = redact_url(&c.database.url);
        toml::to_string_pretty(&c).unwrap_or_default()
    }
}

/// `sqlite://...` stays as it is; `postgres://user:secret@host/db` becomes
/// `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let user = userinfo.split(':').next().unwrap_or("");
    let redacted = if userinfo.contains(':') {
        format!("{user}:***")
    } else {
        user.to_owned()
    };
    let tail = redact_query_password(tail);
    format!("{scheme}://{redacted}@{host}{tail}")
}

fn redact_query_password(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let q: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => kv.to_owned(),
        })
        .collect();
    format!("{path}?{}", q.join("&"))
}

/// Every valid key, as `section.key`, taken from a fully populated example so that
/// optional keys are known too.
fn known_keys() -> Table {
    let mut ex = Config::default();
    ex.server.tls_cert_file = Some(PathBuf::new());
    ex.server.tls_key_file = Some(PathBuf::new());
    ex.database.url_file = Some(PathBuf::new());
    ex.auth.secure_cookies = Some(false);
    match Value::try_from(ex) {
        Ok(Value::Table(t)) => t,
        _ => Table::new(),
    }
}

fn check_keys(known: &Table, given: &Table, prefix: &str, origin: &str) -> Result<(), ConfigError> {
    for (k, v) in given {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match known.get(k) {
            None => {
                return Err(ConfigError::UnknownKey {
                    key,
                    origin: origin.to_owned(),
                })
            }
            Some(Value::Table(sub)) => match v {
                Value::Table(given_sub) => check_keys(sub, given_sub, &key, origin)?,
                _ => {
                    return Err(ConfigError::Invalid(format!(
                        "`{key}` (from {origin}) must be a table"
                    )))
                }
            },
            Some(_) => {}
        }
    }
    Ok(())
}

fn env_table(env: &[(String, String)], known: &Table) -> Result<Table, ConfigError> {
    let mut out = Table::new();
    for (name, raw) in env {
        let Some(rest) = name.strip_prefix("PATCHWARDEN_") else {
            continue;
        };
        let lower = rest.to_ascii_lowercase();
        let Some((section, key)) = lower.split_once('_') else {
            continue;
        };
        if !ENV_SECTIONS.contains(&section) {
            continue;
        }
        let known_section = known.get(section).and_then(Value::as_table);
        let Some(template) = known_section.and_then(|t| t.get(key)) else {
            return Err(ConfigError::UnknownKey {
                key: format!("{section}.{key}"),
                origin: format!("environment variable {name}"),
            });
        };
        let value = match template {
            Value::String(_) => Value::String(raw.clone()),
            _ => toml::from_str::<Table>(&format!("v = {raw}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| Value::String(raw.clone())),
        };
        let entry = out
            .entry(section.to_owned())
            .or_insert_with(|| Value::Table(Table::new()));
        if let Value::Table(t) = entry {
            t.insert(key.to_owned(), value);
        }
    }
    Ok(out)
}

fn merge(into: &mut Table, from: Table) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(Value::Table(a)), Value::Table(b)) => merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

/// The commented default configuration printed by `patchwarden config default`.
pub const DEFAULT_CONFIG: &str = include_str!("../patchwarden.example.toml");
