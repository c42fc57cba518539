//! Matching inside the server: the advisory index is built once from the store and
//! kept in memory; an inventory change re-matches that asset only, an advisory import
//! re-matches only the assets that have a package it names.

use crate::error::ApiError;
use crate::state::AppState;
use patchwarden_domain::advisory::{Advisory, CveEnrichment};
use patchwarden_domain::finding::Finding;
use patchwarden_domain::ids::AssetId;
use patchwarden_domain::level::Level;
use patchwarden_domain::package::{InstalledPackage, PackageFormat};
use patchwarden_match::fleet::{evaluate, PackageTable};
use patchwarden_match::level::{Facts, LevelPolicy};
use patchwarden_match::{distro_key, AdvisoryIndex};
use patchwarden_store::{
    AdvisoryFilter, AdvisoryLevel, Asset, AuditCtx, FindingsChange, NewFinding, Store,
};
use std::collections::{HashMap, HashSet};
use tokio::sync::{RwLock, RwLockReadGuard};

/// The loaded index and the enrichment of every CVE it mentions.
#[derive(Debug)]
pub struct Loaded {
    pub index: AdvisoryIndex,
    pub enrichment: HashMap<String, CveEnrichment>,
    pub policy: LevelPolicy,
}

/// How long a loaded index is trusted before it is rebuilt from the store, so that
/// replicas behind a load balancer pick up imports made through another replica.
pub const INDEX_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(300);

#[derive(Debug)]
struct Cache {
    loaded_at: std::time::Instant,
    loaded: Loaded,
}

/// The index, loaded once from the store, updated in place by imports made here, and
/// rebuilt after [`INDEX_MAX_AGE`] in any case.
#[derive(Debug, Default)]
pub struct MatchEngine {
    cache: RwLock<Option<Cache>>,
}

impl MatchEngine {
    /// Read access to the current index, loading it from the store when needed.
    pub async fn read(
        &self,
        store: &dyn Store,
        policy: &LevelPolicy,
    ) -> Result<RwLockReadGuard<'_, Loaded>, ApiError> {
        loop {
            let guard = self.cache.read().await;
            if let Ok(loaded) = RwLockReadGuard::try_map(guard, |c| {
                c.as_ref()
                    .filter(|c| c.loaded_at.elapsed() < INDEX_MAX_AGE)
                    .map(|c| &c.loaded)
            }) {
                return Ok(loaded);
            }
            let mut slot = self.cache.write().await;
            if slot
                .as_ref()
                .is_none_or(|c| c.loaded_at.elapsed() >= INDEX_MAX_AGE)
            {
                *slot = Some(Cache {
                    loaded_at: std::time::Instant::now(),
                    loaded: load(store, policy).await?,
                });
            }
        }
    }

    /// Applies what an import changed to the loaded index (nothing to do when none is
    /// loaded: the next reader loads the new state).
    pub async fn apply(&self, advisories: Vec<Advisory>, enrichment: &[CveEnrichment]) {
        let mut slot = self.cache.write().await;
        if let Some(c) = slot.as_mut() {
            for a in advisories {
                c.loaded.index.upsert(a);
            }
            for e in enrichment {
                let merged = match c.loaded.enrichment.remove(&e.cve) {
                    Some(mut old) => {
                        if e.kev.is_some() {
                            old.kev.clone_from(&e.kev);
                        }
                        if e.epss.is_some() {
                            old.epss.clone_from(&e.epss);
                        }
                        if !e.cvss.is_empty() {
                            old.cvss.clone_from(&e.cvss);
                        }
                        old
                    }
                    None => e.clone(),
                };
                c.loaded.enrichment.insert(merged.cve.clone(), merged);
            }
        }
    }

    /// Forget the index; the next reader rebuilds it.
    pub async fn invalidate(&self) {
        *self.cache.write().await = None;
    }
}

async fn load(store: &dyn Store, policy: &LevelPolicy) -> Result<Loaded, ApiError> {
    let mut advisories = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_advisories(&AdvisoryFilter {
                after: after.clone(),
                limit: 1000,
                ..AdvisoryFilter::default()
            })
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.advisory.id.clone());
        advisories.extend(page.into_iter().map(|s| s.advisory));
    }
    let cves: Vec<String> = advisories
        .iter()
        .flat_map(|a| a.cves().map(str::to_owned))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut enrichment = HashMap::new();
    for chunk in cves.chunks(5000) {
        for e in store.get_enrichment(chunk).await? {
            enrichment.insert(e.cve.clone(), e);
        }
    }
    Ok(Loaded {
        index: AdvisoryIndex::build(advisories),
        enrichment,
        policy: policy.clone(),
    })
}

/// The asset's current findings as the engine sees them, with levels. Suppressed
/// findings (VEX not-affected) are kept with their reason, so they are stored and can be
/// shown; the store never counts them as open work.
pub async fn findings_for(state: &AppState, asset: AssetId) -> Result<Vec<NewFinding>, ApiError> {
    let a = state.store.get_asset(asset).await?;
    if a.package_format.is_none() || distro_key(&a.os).is_none() {
        return Ok(Vec::new());
    }
    let packages = state.store.get_inventory(asset).await?;
    findings_of(state, &a, &packages).await
}

/// [`findings_for`] with the asset and its inventory already in hand.
pub async fn findings_of(
    state: &AppState,
    a: &Asset,
    packages: &[InstalledPackage],
) -> Result<Vec<NewFinding>, ApiError> {
    let (Some(format), Some(distro)) = (a.package_format, distro_key(&a.os)) else {
        return Ok(Vec::new());
    };
    let loaded = state
        .engine
        .read(state.store.as_ref(), &state.config.levels)
        .await?;
    let idx = &loaded.index;
    let mut hits = Vec::new();
    let mut found = Vec::new();
    for p in packages.iter().filter(|p| idx.mentions(&distro, p)) {
        hits.clear();
        idx.hits(&distro, format, p, &mut hits);
        found.extend(idx.findings(&distro, p, &hits));
    }
    Ok(new_findings(|a| level_of(&loaded, a), format, found))
}

/// Levels and deadlines for an asset's findings, suppressed ones included; when two
/// installed versions of one package (kernels) are hit by one advisory, the first
/// (lowest stored) one is reported. A package-manager security finding that a feed's
/// fix explains is left out (`signal::drop_explained`): it would count one update twice.
fn new_findings(
    level_of: impl Fn(&str) -> Level,
    format: PackageFormat,
    mut found: Vec<Finding>,
) -> Vec<NewFinding> {
    patchwarden_match::signal::drop_explained(&mut found, format);
    let first: Vec<bool> = {
        let mut seen = HashSet::with_capacity(found.len());
        found
            .iter()
            .map(|f| seen.insert((f.package.as_str(), f.arch.as_str(), f.advisory.as_str())))
            .collect()
    };
    // One level per advisory: a host has several findings of most advisories.
    let mut levels: HashMap<String, Level> = HashMap::new();
    found
        .into_iter()
        .zip(first)
        .filter(|(_, first)| *first)
        .map(|(finding, _)| {
            let level = match levels.get(&finding.advisory) {
                Some(l) => *l,
                None => {
                    let l = level_of(&finding.advisory);
                    levels.insert(finding.advisory.clone(), l);
                    l
                }
            };
            NewFinding {
                finding,
                level,
                allowed: level.default_deadline(),
            }
        })
        .collect()
}

fn level_of(loaded: &Loaded, advisory: &str) -> Level {
    loaded
        .index
        .advisory(advisory)
        .map_or(loaded.policy.otherwise, |a| {
            loaded.policy.level(&Facts::of(a, &loaded.enrichment))
        })
}

/// Re-matches one asset and records the result.
pub async fn rematch_asset(
    state: &AppState,
    ctx: &AuditCtx,
    asset: AssetId,
) -> Result<FindingsChange, ApiError> {
    let findings = findings_for(state, asset).await?;
    Ok(state.store.sync_findings(ctx, asset, &findings).await?)
}

/// [`rematch_asset`] with the asset and the inventory just stored for it in hand.
pub async fn rematch_asset_with(
    state: &AppState,
    ctx: &AuditCtx,
    a: &Asset,
    packages: &[InstalledPackage],
) -> Result<FindingsChange, ApiError> {
    let findings = findings_of(state, a, packages).await?;
    Ok(state.store.sync_findings(ctx, a.id, &findings).await?)
}

/// After advisories changed: re-match the assets that have a package they name.
pub async fn rematch_for_advisories(
    state: &AppState,
    ctx: &AuditCtx,
    changed: &[Advisory],
) -> Result<(usize, FindingsChange), ApiError> {
    let names: Vec<String> = changed
        .iter()
        .flat_map(|a| a.affected.iter().map(|ap| ap.name.clone()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let assets = if names.is_empty() {
        Vec::new()
    } else {
        state.store.assets_with_packages(&names).await?
    };
    let mut total = FindingsChange::default();
    for a in &assets {
        total.add(&rematch_asset(state, ctx, *a).await?);
    }
    Ok((assets.len(), total))
}

/// What an import did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportSummary {
    pub files_read: usize,
    pub advisories: patchwarden_store::AdvisoryUpsert,
    pub enrichment_changed: u32,
    pub rejected: Vec<patchwarden_domain::advisory::RejectedRecord>,
    pub skipped: usize,
    pub assets_rematched: usize,
    pub findings: FindingsChange,
    /// Open findings whose level (and deadline) changed because enrichment changed.
    pub findings_relevelled: u64,
}

/// The package manager's security updates for one release, stored as advisories
/// (`patchwarden_match::signal`) and matched like any feed. Nothing to do for none.
pub async fn store_security_signal(
    state: &AppState,
    ctx: &AuditCtx,
    distro: &patchwarden_domain::advisory::DistroRelease,
    format: patchwarden_domain::package::PackageFormat,
    updates: &[patchwarden_match::signal::SecurityUpdate<'_>],
) -> Result<(), ApiError> {
    if updates.is_empty() {
        return Ok(());
    }
    let imported = patchwarden_advisory::ImportResult {
        advisories: patchwarden_match::signal::advisories(distro, format, updates),
        ..Default::default()
    };
    store_import(state, ctx, imported).await.map(|_| ())
}

/// Stores parsed feeds and re-matches what they touch.
pub async fn store_import(
    state: &AppState,
    ctx: &AuditCtx,
    imported: patchwarden_advisory::ImportResult,
) -> Result<ImportSummary, ApiError> {
    let mut upsert = patchwarden_store::AdvisoryUpsert::default();
    for chunk in imported.advisories.chunks(2000) {
        let u = state.store.upsert_advisories(ctx, chunk).await?;
        upsert.inserted += u.inserted;
        upsert.updated += u.updated;
        upsert.unchanged += u.unchanged;
        upsert.changed.extend(u.changed);
    }
    let mut enrichment_changed = 0;
    for chunk in imported.enrichment.chunks(5000) {
        enrichment_changed += state.store.upsert_enrichment(ctx, chunk).await?;
    }
    // The changed advisories as stored (for a repeated id, the last one wins there too).
    let wanted: HashSet<&str> = upsert.changed.iter().map(String::as_str).collect();
    let mut by_id: HashMap<&str, &Advisory> = HashMap::new();
    for a in imported
        .advisories
        .iter()
        .filter(|a| wanted.contains(a.id.as_str()))
    {
        by_id.insert(a.id.as_str(), a);
    }
    let changed: Vec<Advisory> = by_id.into_values().cloned().collect();
    if !changed.is_empty() || enrichment_changed > 0 {
        state
            .engine
            .apply(changed.clone(), &imported.enrichment)
            .await;
    }
    // Changed advisories re-match the assets that have a package they name; changed
    // enrichment (KEV, EPSS, CVSS) only moves levels, which depend on the advisory and
    // its CVEs alone: those findings are re-levelled in place, no asset re-matched.
    let (assets_rematched, findings) = if changed.is_empty() {
        (0, FindingsChange::default())
    } else {
        rematch_for_advisories(state, ctx, &changed).await?
    };
    let findings_relevelled = if enrichment_changed > 0 {
        relevel_for_enrichment(state, ctx, &imported.enrichment).await?
    } else {
        0
    };
    Ok(ImportSummary {
        files_read: imported.files_read,
        advisories: upsert,
        enrichment_changed,
        rejected: imported.rejected,
        skipped: imported.skipped.len(),
        assets_rematched,
        findings,
        findings_relevelled,
    })
}

/// The level of every advisory that names a CVE in `enrichment`, as the loaded index
/// (already updated with it) rates it now, applied to the stored open findings.
async fn relevel_for_enrichment(
    state: &AppState,
    ctx: &AuditCtx,
    enrichment: &[CveEnrichment],
) -> Result<u64, ApiError> {
    let cves: HashSet<&str> = enrichment.iter().map(|e| e.cve.as_str()).collect();
    relevel_where(state, ctx, |a| a.cves().any(|c| cves.contains(c))).await
}

/// Every open finding re-levelled under the configured rule and the stored enrichment
/// (`patchwarden advisories relevel`, after the `[levels]` rule changed). Set-based:
/// no asset is re-matched and only findings whose level or deadline differ are written.
pub async fn relevel_all(state: &AppState, ctx: &AuditCtx) -> Result<u64, ApiError> {
    relevel_where(state, ctx, |_| true).await
}

async fn relevel_where(
    state: &AppState,
    ctx: &AuditCtx,
    wanted: impl Fn(&Advisory) -> bool,
) -> Result<u64, ApiError> {
    let levels: Vec<AdvisoryLevel> = {
        let loaded = state
            .engine
            .read(state.store.as_ref(), &state.config.levels)
            .await?;
        loaded
            .index
            .advisories()
            .iter()
            .filter(|a| wanted(a))
            .map(|a| {
                let level = loaded.policy.level(&Facts::of(a, &loaded.enrichment));
                AdvisoryLevel {
                    advisory: a.id.clone(),
                    level,
                    allowed: level.default_deadline(),
                }
            })
            .collect()
    };
    let mut total = 0;
    for chunk in levels.chunks(5000) {
        total += state.store.relevel_findings(ctx, chunk).await?;
    }
    Ok(total)
}

/// Re-matches every asset without re-scanning host by host: every inventory is read
/// once and interned into a [`PackageTable`], each unique (release, format, package)
/// is evaluated once, and the hits are fanned out to the assets that have it.
pub async fn rematch_all(
    state: &AppState,
    ctx: &AuditCtx,
) -> Result<(usize, FindingsChange), ApiError> {
    let mut table = PackageTable::new();
    let mut hosts: Vec<(AssetId, PackageFormat, Vec<u32>)> = Vec::new();
    let mut after = None;
    loop {
        let page = state
            .store
            .list_assets(&patchwarden_store::AssetFilter {
                after,
                limit: 500,
                ..Default::default()
            })
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for a in &page {
            if let (Some(format), Some(distro)) = (a.package_format, distro_key(&a.os)) {
                let packages = state.store.get_inventory(a.id).await?;
                let entries = table.intern_host(&distro, format, &packages);
                hosts.push((a.id, format, entries));
            } else {
                hosts.push((a.id, PackageFormat::Deb, Vec::new()));
            }
        }
    }
    // Each unique package tuple is evaluated once, for the whole fleet, under one read
    // of the index (hits refer to its advisories by position): each entry's findings and
    // each advisory's level are taken out, so that the read ends before any sync.
    let (per_entry, levels) = {
        let loaded = state
            .engine
            .read(state.store.as_ref(), &state.config.levels)
            .await?;
        let results = evaluate(&loaded.index, &table);
        let per_entry: Vec<Vec<Finding>> = (0..u32::try_from(table.len()).unwrap_or(u32::MAX))
            .map(|e| results.findings_for_host(&loaded.index, &table, &[e]))
            .collect();
        let mut levels: HashMap<String, Level> = HashMap::new();
        for f in per_entry.iter().flatten() {
            if !levels.contains_key(&f.advisory) {
                levels.insert(f.advisory.clone(), level_of(&loaded, &f.advisory));
            }
        }
        (per_entry, levels)
    };
    let otherwise = state.config.levels.otherwise;
    // A few syncs at once, each host's findings put together only when its sync
    // starts (a fleet's findings all at once would not fit in memory: 858 per host in
    // the benchmark fleet); each plans on a reader and takes the single writer only
    // when its asset's findings changed.
    use futures::{StreamExt, TryStreamExt};
    let total = futures::stream::iter(&hosts)
        .map(|(id, format, entries)| {
            let found: Vec<Finding> = entries
                .iter()
                .filter_map(|e| per_entry.get(*e as usize))
                .flatten()
                .cloned()
                .collect();
            let findings = new_findings(
                |a| levels.get(a).copied().unwrap_or(otherwise),
                *format,
                found,
            );
            async move { state.store.sync_findings(ctx, *id, &findings).await }
        })
        .buffer_unordered(SYNCS_IN_FLIGHT)
        .try_fold(FindingsChange::default(), |mut total, c| async move {
            total.add(&c);
            Ok(total)
        })
        .await?;
    Ok((hosts.len(), total))
}

/// Findings syncs [`rematch_all`] keeps in flight.
const SYNCS_IN_FLIGHT: usize = 4;
