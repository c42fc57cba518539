//! Scanner imports (Nessus, OpenVAS): each scanned host attaches to an asset, and each
//! credentialed local check is checked against the asset's own inventory.
//!
//! Rules:
//! - A host attaches to the asset named by its host name, else by its FQDN, else to the
//!   asset most recently seen at its IP address (loopback and unparsable addresses are
//!   ignored; `localhost` is not a name). Otherwise a new asset is created, named by
//!   the first of those that is a valid host name (an IPv4 address is one), with kind
//!   and OS family guessed from the scanner's OS text (firewalls → security device,
//!   routers/switches → network device, both `network_os`; Windows; Linux with its
//!   distribution and release), environment **production** and criticality
//!   **standard**: scanners find hosts nobody registered, and the strictest rollout
//!   ring is the safe default until someone classifies them.
//! - A local check is `confirmed` when the inventory still has a version of the
//!   package older than the scanner's fixed version, `contradicted` when every version
//!   it has is the fixed one or newer (or it has no such package), `unverified` when
//!   the asset has no inventory or the versions cannot be compared. Findings without a
//!   package (remote checks) are `unverified`. Versions compare in the asset's scheme;
//!   an rpm fix without an epoch takes the installed version's, as Nessus compares.
//! - A report's full package list (Nessus plugin 22869) becomes the inventory of an
//!   asset that has none yet, and that asset is re-matched against the advisories.
//! - Assets are created (each audited) before the import is recorded in one
//!   transaction; a file that does not parse stores nothing.

mod classify;
mod verify;

pub use classify::classify;

use crate::error::ApiError;
use crate::service::matching;
use crate::state::AppState;
use axum::http::StatusCode;
use classify::{scheme_of, usable_ip, usable_name};
use patchwarden_domain::asset::{Criticality, Environment, Hostname};
use patchwarden_domain::ids::AssetId;
use patchwarden_domain::package::PackageFormat;
use patchwarden_scanner::{Rejected, ScanError, ScanReport, ScannedHost};
use patchwarden_store::{
    Asset, AuditCtx, NewAsset, NewScanFinding, NewScanImport, ScanHostResult, ScanVerdict,
    StoreError, VerdictCounts,
};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use verify::{severity, Check};

/// How a scanned host found its asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    Hostname,
    Fqdn,
    Ip,
    Created,
}

/// One host of the report and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct HostSummary {
    pub asset_id: AssetId,
    pub hostname: String,
    pub matched_by: MatchedBy,
    pub ip: Option<String>,
    pub findings: u32,
    pub verdicts: VerdictCounts,
    /// The report's package list became the asset's inventory.
    pub inventory_stored: bool,
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ScanImportSummary {
    pub import_id: i64,
    /// `nessus` or `openvas`.
    pub scanner: String,
    /// `xml` or `csv`.
    pub format: String,
    pub file_name: String,
    pub report_name: String,
    pub hosts_matched: u32,
    pub hosts_created: u32,
    pub hosts: Vec<HostSummary>,
    /// Finding records stored (one per package of a local check).
    pub findings: u32,
    pub verdicts: VerdictCounts,
    /// Older records of the same scanner on these assets that were replaced.
    pub superseded: u32,
    pub inventories_stored: u32,
    /// Records of the file (and hosts) that were not imported, with the reason.
    pub rejected: Vec<Rejected>,
}

/// Maps a file-level parse error to a client error with a stable code.
pub fn scan_error(e: ScanError) -> ApiError {
    let (status, code) = match &e {
        ScanError::Io(_) => (StatusCode::BAD_REQUEST, "unreadable_file"),
        ScanError::NotAScanReport(_) => (StatusCode::UNPROCESSABLE_ENTITY, "not_a_scan_report"),
        ScanError::Dtd => (StatusCode::UNPROCESSABLE_ENTITY, "dtd_refused"),
        ScanError::Xml { .. } | ScanError::Csv { .. } => {
            (StatusCode::UNPROCESSABLE_ENTITY, "malformed_report")
        }
        ScanError::Limit(_) => (StatusCode::PAYLOAD_TOO_LARGE, "report_too_large"),
    };
    ApiError::new(status, code, e.to_string())
}

/// Reads, parses and imports the report at `path` (the `patchwarden scans import` CLI).
pub async fn import_file(
    state: &AppState,
    ctx: &AuditCtx,
    path: &Path,
) -> Result<ScanImportSummary, ApiError> {
    let owned = path.to_owned();
    let report = tokio::task::spawn_blocking(move || patchwarden_scanner::parse_file(owned))
        .await
        .map_err(ApiError::internal)?
        .map_err(scan_error)?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    import_report(state, ctx, &name, report).await
}

/// Parses and imports a report held in memory (the upload API).
pub async fn import_bytes(
    state: &AppState,
    ctx: &AuditCtx,
    file_name: &str,
    bytes: Vec<u8>,
) -> Result<ScanImportSummary, ApiError> {
    let report = tokio::task::spawn_blocking(move || patchwarden_scanner::parse_bytes(&bytes))
        .await
        .map_err(ApiError::internal)?
        .map_err(scan_error)?;
    import_report(state, ctx, file_name, report).await
}

/// One host placed on an asset, with everything the records need.
struct Placed {
    asset: Asset,
    matched_by: MatchedBy,
    ip: Option<String>,
    hosts: Vec<ScannedHost>,
    inventory_stored: bool,
}

/// Imports a parsed report: places hosts, stores package lists, checks local checks
/// against inventories and records the result.
pub async fn import_report(
    state: &AppState,
    ctx: &AuditCtx,
    file_name: &str,
    report: ScanReport,
) -> Result<ScanImportSummary, ApiError> {
    let mut rejected = report.rejected;
    let mut placed: Vec<Placed> = Vec::new();
    let mut index: HashMap<AssetId, usize> = HashMap::new();
    for host in report.hosts {
        let Some((asset, matched_by)) = place(state, ctx, &host).await? else {
            rejected.push(Rejected {
                record: format!("host {}", host_label(&host)),
                reason: "no usable host name or IP address to attach it to an asset".into(),
            });
            continue;
        };
        let ip = usable_ip(host.ip.as_deref());
        match index.get(&asset.id) {
            // Two hosts of one report on one asset: their findings go together.
            Some(&i) => {
                let p = &mut placed[i];
                p.ip = p.ip.take().or(ip);
                p.hosts.push(host);
            }
            None => {
                index.insert(asset.id, placed.len());
                placed.push(Placed {
                    asset,
                    matched_by,
                    ip,
                    hosts: vec![host],
                    inventory_stored: false,
                });
            }
        }
    }
    let mut results = Vec::with_capacity(placed.len());
    for p in &mut placed {
        results.push(host_result(state, ctx, p).await?);
    }
    let new = NewScanImport {
        scanner: scanner_name(report.scanner).into(),
        format: format_name(report.format).into(),
        file_name: file_name.chars().take(255).collect(),
        report_name: report.name,
        started_at: report.started,
        finished_at: report.finished,
        rejected: u32::try_from(rejected.len()).unwrap_or(u32::MAX),
        hosts: results,
    };
    let import = state.store.record_scan_import(ctx, &new).await?;
    let hosts: Vec<HostSummary> = placed
        .iter()
        .zip(&new.hosts)
        .map(|(p, r)| {
            let mut verdicts = VerdictCounts::default();
            r.findings.iter().for_each(|f| verdicts.add(f.verdict));
            HostSummary {
                asset_id: p.asset.id,
                hostname: p.asset.hostname.to_string(),
                matched_by: p.matched_by,
                ip: p.ip.clone(),
                findings: verdicts.total(),
                verdicts,
                inventory_stored: p.inventory_stored,
            }
        })
        .collect();
    let created = hosts
        .iter()
        .filter(|h| h.matched_by == MatchedBy::Created)
        .count();
    Ok(ScanImportSummary {
        import_id: import.id,
        scanner: import.scanner,
        format: import.format,
        file_name: import.file_name,
        report_name: import.report_name,
        hosts_matched: u32::try_from(hosts.len() - created).unwrap_or(u32::MAX),
        hosts_created: u32::try_from(created).unwrap_or(u32::MAX),
        inventories_stored: u32::try_from(hosts.iter().filter(|h| h.inventory_stored).count())
            .unwrap_or(u32::MAX),
        hosts,
        findings: import.findings,
        verdicts: import.verdicts,
        superseded: import.superseded,
        rejected,
    })
}

fn scanner_name(s: patchwarden_scanner::Scanner) -> &'static str {
    match s {
        patchwarden_scanner::Scanner::Nessus => "nessus",
        patchwarden_scanner::Scanner::OpenVas => "openvas",
    }
}

fn format_name(f: patchwarden_scanner::ReportFormat) -> &'static str {
    match f {
        patchwarden_scanner::ReportFormat::Xml => "xml",
        patchwarden_scanner::ReportFormat::Csv => "csv",
    }
}

fn host_label(h: &ScannedHost) -> String {
    let s = h
        .hostname
        .as_deref()
        .or(h.fqdn.as_deref())
        .or(h.ip.as_deref())
        .unwrap_or("(unnamed)");
    format!("{:?}", s.chars().take(80).collect::<String>())
}

/// Finds or creates the host's asset; `None` when nothing identifies the host.
async fn place(
    state: &AppState,
    ctx: &AuditCtx,
    host: &ScannedHost,
) -> Result<Option<(Asset, MatchedBy)>, ApiError> {
    let names = [
        (usable_name(host.hostname.as_deref()), MatchedBy::Hostname),
        (usable_name(host.fqdn.as_deref()), MatchedBy::Fqdn),
    ];
    for (name, how) in &names {
        if let Some(n) = name {
            if let Some(a) = state.store.find_asset_by_hostname(n.as_str()).await? {
                return Ok(Some((a, *how)));
            }
        }
    }
    let ip = usable_ip(host.ip.as_deref());
    if let Some(ip) = &ip {
        if let Some(a) = state.store.find_assets_by_ip(ip).await?.into_iter().next() {
            return Ok(Some((a, MatchedBy::Ip)));
        }
    }
    let from_ip = ip.and_then(|ip| Hostname::parse(&ip.replace(':', "-")).ok());
    let Some(hostname) = names.into_iter().find_map(|(n, _)| n).or(from_ip) else {
        return Ok(None);
    };
    let (kind, os) = classify::classify(host.os.as_deref());
    let new = NewAsset {
        hostname,
        kind,
        os,
        environment: Environment::Production,
        criticality: Criticality::Standard,
        owner: None,
        groups: Vec::new(),
        protected_data: false,
    };
    match state.store.create_asset(ctx, &new).await {
        Ok(a) => Ok(Some((a, MatchedBy::Created))),
        // Registered meanwhile (another import, an agent): attach to it.
        Err(StoreError::Conflict { .. }) => Ok(state
            .store
            .find_asset_by_hostname(new.hostname.as_str())
            .await?
            .map(|a| (a, MatchedBy::Hostname))),
        Err(e) => Err(e.into()),
    }
}

/// Stores a report's package list as the inventory when the asset has none, then
/// builds the host's records with their verdicts.
async fn host_result(
    state: &AppState,
    ctx: &AuditCtx,
    p: &mut Placed,
) -> Result<ScanHostResult, ApiError> {
    let os_text = p.hosts.iter().find_map(|h| h.os.clone());
    let list = p.hosts.iter().find_map(|h| h.installed_packages.as_ref());
    if let (Some(list), None) = (list, p.asset.inventory_hash.as_ref()) {
        // A package list without a known OS is rpm's: dpkg hosts say Debian/Ubuntu.
        let format =
            scheme_of(&p.asset, os_text.as_deref()).map_or(PackageFormat::Rpm, classify::format);
        let mut list = list.clone();
        list.sort();
        list.dedup();
        state
            .store
            .replace_inventory(ctx, p.asset.id, format, &list)
            .await?;
        matching::rematch_asset(state, ctx, p.asset.id).await?;
        p.asset = state.store.get_asset(p.asset.id).await?;
        p.inventory_stored = true;
    }
    let inventory = match p.asset.inventory_hash {
        Some(_) => Some(state.store.get_inventory(p.asset.id).await?),
        None => None,
    };
    let mut versions: HashMap<&str, Vec<&str>> = HashMap::new();
    for pkg in inventory.iter().flatten() {
        versions
            .entry(pkg.name.as_str())
            .or_default()
            .push(pkg.version.as_str());
    }
    let check = Check {
        scheme: scheme_of(&p.asset, os_text.as_deref()),
        versions: inventory.is_some().then_some(&versions),
        from_report: p.inventory_stored,
    };
    let mut findings = Vec::new();
    for f in p.hosts.iter().flat_map(|h| h.findings.iter()) {
        let base = NewScanFinding {
            plugin_id: f.plugin_id.clone(),
            name: f.name.clone(),
            severity: severity(f.severity),
            cvss: f.cvss.v3_score.or(f.cvss.v2_score),
            cves: f.cves.clone(),
            port: f.port,
            protocol: f.protocol.clone(),
            package: None,
            installed: None,
            fixed: None,
            verdict: ScanVerdict::Unverified,
            evidence: "remote check: no package version to compare".into(),
        };
        if f.local_checks.is_empty() {
            findings.push(base);
            continue;
        }
        for lc in &f.local_checks {
            let (verdict, evidence) = check.verdict(lc);
            findings.push(NewScanFinding {
                package: Some(lc.package.clone()),
                installed: Some(lc.installed.clone()),
                fixed: Some(lc.fixed.clone()),
                verdict,
                evidence,
                ..base.clone()
            });
        }
    }
    Ok(ScanHostResult {
        asset_id: p.asset.id,
        ip: p.ip.clone(),
        findings,
    })
}
