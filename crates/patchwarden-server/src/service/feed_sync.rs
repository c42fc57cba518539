//! Fetching advisory feeds over HTTP(S): download with a size cap and a timeout, verify
//! the publisher's SHA-256 when one is configured, parse, store, re-match. Runs on a
//! schedule in `patchwarden serve` and on demand in `patchwarden advisories sync`.

use crate::config::{FeedSource, FeedsConfig};
use crate::service::matching::{store_import, ImportSummary};
use crate::state::AppState;
use patchwarden_store::AuditCtx;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Outcome of one feed.
#[derive(Debug, Serialize)]
pub struct FeedResult {
    pub name: String,
    pub url: String,
    /// Bytes downloaded.
    pub bytes: u64,
    pub summary: Option<ImportSummary>,
    /// Why the feed was not imported (network, checksum, size ...).
    pub error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} is larger than {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("checksum mismatch for {url}: published {published}, downloaded {actual}")]
    Checksum {
        url: String,
        published: String,
        actual: String,
    },
    #[error("cannot read the published checksum at {url}: {reason}")]
    BadChecksum { url: String, reason: String },
}

impl FetchError {
    /// Whether this looks like "no network here" rather than a bad feed.
    pub fn is_offline(&self) -> bool {
        matches!(self, FetchError::Unreachable { .. })
    }
}

fn client(cfg: &FeedsConfig) -> Result<reqwest::Client, FetchError> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(cfg.timeout_secs.max(1)))
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("patchwarden/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| FetchError::Unreachable {
            url: String::new(),
            reason: e.to_string(),
        })
}

/// Downloads `url` into memory, refusing more than `limit` bytes.
pub async fn download(
    http: &reqwest::Client,
    url: &str,
    limit: u64,
) -> Result<Vec<u8>, FetchError> {
    let unreachable = |e: reqwest::Error| FetchError::Unreachable {
        url: url.to_owned(),
        reason: e.without_url().to_string(),
    };
    let mut resp = http.get(url).send().await.map_err(unreachable)?;
    if !resp.status().is_success() {
        return Err(FetchError::Status {
            url: url.to_owned(),
            status: resp.status().as_u16(),
        });
    }
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(FetchError::TooLarge {
            url: url.to_owned(),
            limit,
        });
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(unreachable)? {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(FetchError::TooLarge {
                url: url.to_owned(),
                limit,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Downloads one feed and verifies its checksum when the source publishes one.
pub async fn fetch(
    http: &reqwest::Client,
    cfg: &FeedsConfig,
    src: &FeedSource,
) -> Result<Vec<u8>, FetchError> {
    let body = download(http, &src.url, cfg.max_bytes).await?;
    if let Some(sum_url) = &src.sha256_url {
        let text = download(http, sum_url, 64 * 1024).await?;
        let text = String::from_utf8_lossy(&text);
        let file = file_name(&src.url);
        let published =
            patchwarden_advisory::integrity::parse_sidecar(&text, &file).map_err(|reason| {
                FetchError::BadChecksum {
                    url: sum_url.clone(),
                    reason,
                }
            })?;
        let actual = hex::encode(Sha256::digest(&body));
        if !published.eq_ignore_ascii_case(&actual) {
            return Err(FetchError::Checksum {
                url: src.url.clone(),
                published,
                actual,
            });
        }
    }
    Ok(body)
}

/// The last path segment of a URL, without query: the name the parsers see.
fn file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or("feed")
        .to_owned()
}

/// Parses downloaded bytes as the file they are (zip, gzip, JSON, list ...).
fn parse(name: &str, bytes: Vec<u8>) -> patchwarden_advisory::ImportResult {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(_) => return patchwarden_advisory::import_bytes(name, &bytes),
    };
    let path = dir.path().join(name);
    if std::fs::write(&path, &bytes).is_err() {
        return patchwarden_advisory::import_bytes(name, &bytes);
    }
    match patchwarden_advisory::import_path(&path) {
        Ok(mut r) => {
            // Report the URL's file name, not the temporary path.
            let tmp = dir.path().display().to_string();
            for rej in r.rejected.iter_mut().chain(r.skipped.iter_mut()) {
                rej.file = rej
                    .file
                    .replace(&tmp, "")
                    .trim_start_matches('/')
                    .to_owned();
            }
            r
        }
        Err(_) => patchwarden_advisory::import_bytes(name, &bytes),
    }
}

/// Fetches, verifies, parses and stores every configured feed, one after the other. A
/// failing feed is reported and the others still land.
pub async fn sync_all(state: &AppState, ctx: &AuditCtx, sources: &[FeedSource]) -> Vec<FeedResult> {
    let cfg = &state.config.feeds;
    let http = match client(cfg) {
        Ok(c) => c,
        Err(e) => {
            return sources
                .iter()
                .map(|s| FeedResult {
                    name: s.name.clone(),
                    url: s.url.clone(),
                    bytes: 0,
                    summary: None,
                    error: Some(e.to_string()),
                })
                .collect()
        }
    };
    let mut out = Vec::new();
    for src in sources {
        let mut res = FeedResult {
            name: src.name.clone(),
            url: src.url.clone(),
            bytes: 0,
            summary: None,
            error: None,
        };
        match fetch(&http, cfg, src).await {
            Err(e) => {
                tracing::warn!(feed = %src.name, error = %e, "feed not imported");
                res.error = Some(e.to_string());
            }
            Ok(bytes) => {
                res.bytes = bytes.len() as u64;
                let name = file_name(&src.url);
                let parsed = tokio::task::spawn_blocking(move || {
                    let mut r = parse(&name, bytes);
                    r.merge_enrichment();
                    r
                })
                .await;
                match parsed {
                    Err(e) => res.error = Some(format!("parser failed: {e}")),
                    Ok(parsed) => match store_import(state, ctx, parsed).await {
                        Ok(s) => {
                            tracing::info!(feed = %src.name, new = s.advisories.inserted, updated = s.advisories.updated, "feed imported");
                            res.summary = Some(s);
                        }
                        Err(e) => res.error = Some(e.message),
                    },
                }
            }
        }
        out.push(res);
    }
    out
}

/// The scheduled sync: every `feeds.interval_minutes` until `stop` fires.
pub async fn run_schedule(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let minutes = state.config.feeds.interval_minutes;
    if minutes == 0 || state.config.feeds.sources.is_empty() {
        return;
    }
    let every = Duration::from_secs(minutes.saturating_mul(60));
    loop {
        let ctx = AuditCtx::system("feed-sync", state.clock.now());
        let sources = state.config.feeds.sources.clone();
        tokio::select! {
            _ = sync_all(&state, &ctx, &sources) => {}
            _ = stop.changed() => return,
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn names_from_urls() {
        assert_eq!(file_name("https://x.org/Debian/all.zip"), "all.zip");
        assert_eq!(file_name("https://x.org/a/kev.json?x=1#f"), "kev.json");
        assert_eq!(file_name("https://x.org/"), "x.org");
    }
}
