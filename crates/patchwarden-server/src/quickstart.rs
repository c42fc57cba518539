//! `patchwarden quickstart`: the main job on the embedded default, on this machine.

use crate::config::{Config, Overrides};
use crate::server::{prepare, shutdown_signal, Server};
use crate::state::AppState;
use anyhow::Context;
use patchwarden_domain::asset::{AssetKind, Criticality, Environment, Hostname};
use patchwarden_store::{AssetPatch, AuditCtx, InventoryChange, NewAsset};
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

/// What `patchwarden quickstart` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    pub listen: SocketAddr,
    pub root: std::path::PathBuf,
    pub no_serve: bool,
    pub offline: bool,
}

/// Sets up `data_dir` (reused when it exists), bootstraps the administrator, registers
/// this machine with its real installed packages, syncs the default feeds when the
/// network allows, then serves until Ctrl-C.
pub async fn run(
    config_file: Option<&Path>,
    data_dir: &Path,
    opts: &Options,
) -> anyhow::Result<ExitCode> {
    let (listen, root, no_serve) = (opts.listen, opts.root.as_path(), opts.no_serve);
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let db = data_dir.join("patchwarden.db");
    let cfg = Config::load(
        config_file,
        &Overrides {
            listen: Some(listen),
            database_url: Some(format!("sqlite://{}", db.display())),
        },
    )?;
    crate::cli::init_logging(&cfg);
    let reused = db.exists();
    let (state, admin) = prepare(cfg).await?;
    println!("Patchwarden quickstart");
    println!(
        "  data:      {} ({})",
        data_dir.display(),
        if reused { "reused" } else { "new" }
    );
    match &admin {
        Some((name, pw)) => crate::cli::print_first_admin(name, pw),
        None => println!("  users:     existing accounts kept (the one-time password was shown on the first run; `patchwarden admin reset-password --username admin` makes a new one)"),
    }
    let os = match patchwarden_inventory::collect_local(root) {
        Ok(local) => Some(local.os),
        Err(_) => None,
    };
    let online = if opts.offline {
        println!("  feeds:     offline (--offline): no download attempted");
        false
    } else {
        sync_default_feeds(&state, os.as_ref()).await
    };
    if !online {
        match security_signal(&state, root).await {
            Ok(msg) => println!("  signal:    {msg}"),
            Err(e) => println!("  signal:    not available: {e:#}"),
        }
    }
    match register_this_machine(&state, root).await {
        Ok(summary) => println!("  this host: {summary}"),
        Err(e) => println!("  this host: not registered: {e:#}"),
    }
    if no_serve {
        state.store.close().await;
        return Ok(ExitCode::SUCCESS);
    }
    let server = Server::bind(state).await?;
    println!(
        "  serving:   {}://{}  (API: /api/v1, OpenAPI: /api/v1/openapi.json; Ctrl-C stops)",
        server.scheme(),
        server.local_addr
    );
    server.run(shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// Reads the local package database and creates or refreshes this host's asset.
pub async fn register_this_machine(state: &AppState, root: &Path) -> anyhow::Result<String> {
    let local = patchwarden_inventory::collect_local(root)
        .context("cannot read this machine's package database")?;
    let hostname = Hostname::parse(local.hostname.as_deref().unwrap_or("localhost"))
        .or_else(|_| Hostname::parse("localhost"))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let ctx = AuditCtx::system("quickstart", state.clock.now());
    let asset = match state
        .store
        .find_asset_by_hostname(hostname.as_str())
        .await?
    {
        Some(existing) => {
            let patch = AssetPatch {
                os: Some(local.os.clone()),
                ..AssetPatch::default()
            };
            if existing.os != local.os {
                state.store.update_asset(&ctx, existing.id, &patch).await?
            } else {
                existing
            }
        }
        None => {
            state
                .store
                .create_asset(
                    &ctx,
                    &NewAsset {
                        hostname: hostname.clone(),
                        kind: AssetKind::Server,
                        os: local.os.clone(),
                        environment: Environment::Development,
                        criticality: Criticality::Standard,
                        owner: None,
                        groups: Vec::new(),
                        protected_data: false,
                    },
                )
                .await?
        }
    };
    let change: InventoryChange = state
        .store
        .replace_inventory(&ctx, asset.id, local.format, &local.packages)
        .await?;
    let findings = crate::service::matching::rematch_asset(state, &ctx, asset.id)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    let open = state
        .store
        .list_findings(&patchwarden_store::FindingFilter {
            asset: Some(asset.id),
            limit: 100_000,
            ..Default::default()
        })
        .await?
        .len();
    let _ = findings;
    let mut summary = format!(
        "{} (asset {}), {} {} {} packages ({}: +{} -{} ~{})",
        asset.hostname,
        asset.id,
        local.os.distribution,
        local.os.release,
        local.packages.len(),
        local.format,
        change.added,
        change.removed,
        change.changed
    );
    summary.push_str(&format!("; {open} open findings"));
    if !local.warnings.is_empty() {
        summary.push_str(&format!(
            ", {} unreadable records skipped",
            local.warnings.len()
        ));
    }
    Ok(summary)
}

/// The feeds a fresh install starts with: the distribution's OSV feed, CISA KEV and
/// EPSS (unless the configuration names its own).
pub fn default_feeds(
    os: Option<&patchwarden_domain::asset::OsInfo>,
) -> Vec<crate::config::FeedSource> {
    let osv_eco = os.and_then(|o| match o.distribution.as_str() {
        "debian" => Some("Debian"),
        "ubuntu" => Some("Ubuntu"),
        "almalinux" => Some("AlmaLinux"),
        "rocky" => Some("Rocky%20Linux"),
        "alpine" => Some("Alpine"),
        _ => None,
    });
    let mut out = Vec::new();
    if let Some(eco) = osv_eco {
        out.push(crate::config::FeedSource {
            name: format!("osv-{}", eco.to_ascii_lowercase().replace("%20", "-")),
            url: format!("https://osv-vulnerabilities.storage.googleapis.com/{eco}/all.zip"),
            sha256_url: None,
        });
    }
    out.push(crate::config::FeedSource {
        name: "cisa-kev".into(),
        url: "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
            .into(),
        sha256_url: None,
    });
    out.push(crate::config::FeedSource {
        name: "epss".into(),
        url: "https://epss.cyentia.com/epss_scores-current.csv.gz".into(),
        sha256_url: None,
    });
    out
}

/// Tries the feeds; says plainly when this machine is offline. Returns whether any
/// feed landed.
async fn sync_default_feeds(
    state: &AppState,
    os: Option<&patchwarden_domain::asset::OsInfo>,
) -> bool {
    let sources = if state.config.feeds.sources.is_empty() {
        default_feeds(os)
    } else {
        state.config.feeds.sources.clone()
    };
    let ctx = AuditCtx::system("quickstart", state.clock.now());
    let results = crate::service::feed_sync::sync_all(state, &ctx, &sources).await;
    let ok: Vec<_> = results.iter().filter(|r| r.summary.is_some()).collect();
    if ok.is_empty() {
        let why = results
            .iter()
            .find_map(|r| r.error.clone())
            .unwrap_or_else(|| "no feed configured".into());
        println!("  feeds:     offline: no feed could be downloaded ({why})");
        println!("             findings below come only from the package manager's security-origin signal;");
        println!("             import feed files with `patchwarden advisories import PATH...` on an air-gapped site");
        return false;
    }
    for r in &results {
        match (&r.summary, &r.error) {
            (Some(s), _) => println!(
                "  feeds:     {}: {} advisories new, {} updated, {} CVE enrichments",
                r.name, s.advisories.inserted, s.advisories.updated, s.enrichment_changed
            ),
            (None, Some(e)) => println!("  feeds:     {}: not downloaded ({e})", r.name),
            _ => {}
        }
    }
    true
}

/// The package manager's security-origin signal for this machine: security updates
/// apt or dnf offers become advisories (`patchwarden_match::signal`), stored and
/// matched like any other.
pub async fn security_signal(state: &AppState, root: &Path) -> anyhow::Result<String> {
    use patchwarden_domain::package::PackageFormat;
    use patchwarden_inventory::pending::{pending_updates_apt, pending_updates_dnf};
    use patchwarden_match::signal::SecurityUpdate;
    let local = patchwarden_inventory::collect_local(root)?;
    let distro = patchwarden_match::distro_key(&local.os)
        .ok_or_else(|| anyhow::anyhow!("unknown distribution release"))?;
    let root_buf = root.to_path_buf();
    let format = local.format;
    let pending = tokio::task::spawn_blocking(move || match format {
        PackageFormat::Deb => pending_updates_apt(&root_buf, &[]).map_err(anyhow::Error::from),
        PackageFormat::Rpm => pending_updates_dnf(&root_buf, &[]).map_err(anyhow::Error::from),
        PackageFormat::Apk => Err(anyhow::anyhow!("apk has no security-origin metadata")),
    })
    .await??;
    let security: Vec<_> = pending.security().collect();
    let updates: Vec<SecurityUpdate<'_>> = security
        .iter()
        .map(|u| SecurityUpdate {
            name: &u.name,
            arch: &u.arch,
            candidate: &u.candidate,
            origin: u
                .origins
                .first()
                .or(u.advisories.first())
                .map_or("security", String::as_str),
        })
        .collect();
    let ctx = AuditCtx::system("quickstart", state.clock.now());
    crate::service::matching::store_security_signal(state, &ctx, &distro, format, &updates)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    Ok(format!(
        "{} of {} pending updates come from a security archive (apt/dnf metadata as last refreshed)",
        security.len(),
        pending.updates.len()
    ))
}
