//! Matching inside the server: the advisory index is built once from the store and
//! kept in memory; an inventory change re-matches that asset only, an advisory import
//! re-matches only the assets that have a package it names.

use super::memo::{Keys, Matched, PackageMemo};
use crate::error::ApiError;
use crate::state::AppState;
use patchwarden_domain::advisory::{Advisory, CveEnrichment};
use patchwarden_domain::finding::Finding;
use patchwarden_domain::ids::AssetId;
use patchwarden_domain::level::Level;
use patchwarden_domain::package::{InstalledPackage, PackageFormat, PackageRef};
use patchwarden_match::level::{Facts, LevelPolicy};
use patchwarden_match::{distro_key, AdvisoryIndex};
use patchwarden_store::{
    AdvisoryFilter, AdvisoryLevel, Asset, AuditCtx, FindingsChange, NewFinding, Store,
};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::{RwLock, RwLockReadGuard};

/// The loaded index and the enrichment of every CVE it mentions.
#[derive(Debug)]
pub struct Loaded {
    pub index: AdvisoryIndex,
    pub enrichment: HashMap<String, CveEnrichment>,
    pub policy: LevelPolicy,
    /// Changes whenever the index or the enrichment does (a load, an import applied):
    /// results computed under one generation are valid while it lasts.
    pub generation: u64,
    /// What each package matched under this generation.
    pub memo: PackageMemo,
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
    generations: std::sync::atomic::AtomicU64,
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
                let mut loaded = load(store, policy).await?;
                loaded.generation = self.next_generation();
                *slot = Some(Cache {
                    loaded_at: std::time::Instant::now(),
                    loaded,
                });
            }
        }
    }

    /// Applies what an import changed to the loaded index (nothing to do when none is
    /// loaded: the next reader loads the new state).
    pub async fn apply(&self, advisories: Vec<Advisory>, enrichment: &[CveEnrichment]) {
        let mut slot = self.cache.write().await;
        if let Some(c) = slot.as_mut() {
            c.loaded.generation = self.next_generation();
            c.loaded.memo.clear();
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

    fn next_generation(&self) -> u64 {
        self.generations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1
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
        generation: 0,
        memo: PackageMemo::default(),
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
    let refs: Vec<PackageRef<'_>> = packages.iter().map(InstalledPackage::borrowed).collect();
    findings_of(state, &a, &refs).await
}

/// [`findings_for`] with the asset and its inventory already in hand. Only packages
/// an advisory names are looked at; each distinct package is matched once per loaded
/// index ([`PackageMemo`]) and its findings shared by every host that has it.
pub async fn findings_of(
    state: &AppState,
    a: &Asset,
    packages: &[PackageRef<'_>],
) -> Result<Vec<NewFinding>, ApiError> {
    let (Some(format), Some(distro)) = (a.package_format, distro_key(&a.os)) else {
        return Ok(Vec::new());
    };
    let loaded = state
        .engine
        .read(state.store.as_ref(), &state.config.levels)
        .await?;
    let idx = &loaded.index;
    let Some(release) = idx.release(&distro) else {
        // No advisory names a package of this release.
        return Ok(Vec::new());
    };
    let named: Vec<&PackageRef<'_>> = packages
        .iter()
        .filter(|p| release.mentions_name(p.name, p.source_name))
        .collect();
    let mut keys = Keys::with_capacity(named.len());
    for p in &named {
        keys.push(&distro, format, p);
    }
    let mut known = loaded.memo.get_all(&keys);
    let mut hits = Vec::new();
    let mut computed = Vec::new();
    for (i, (p, slot)) in named.iter().zip(known.iter_mut()).enumerate() {
        if slot.is_some() {
            continue;
        }
        let pkg = p.to_installed();
        hits.clear();
        idx.hits(&distro, format, &pkg, &mut hits);
        let m: Matched = idx
            .findings(&distro, &pkg, &hits)
            .into_iter()
            .map(|f| {
                let level = level_of(&loaded, &f.advisory);
                (Arc::new(f), level)
            })
            .collect();
        computed.push((i, Matched::clone(&m)));
        *slot = Some(m);
    }
    if !computed.is_empty() {
        loaded.memo.put_all(&keys, computed);
    }
    let found = known.iter().flatten().flat_map(|m| m.iter().cloned());
    Ok(new_findings(format, found.collect()))
}

/// Levels and deadlines for an asset's findings, suppressed ones included; when two
/// installed versions of one package (kernels) are hit by one advisory, the one whose
/// version sorts first as text (the first stored) is reported ([`keep_first_installed`],
/// the rule of the fleet re-match too). A package-manager security finding that a
/// feed's fix explains is left out (`signal::drop_explained`): it would count one
/// update twice.
fn new_findings(format: PackageFormat, mut found: Vec<(Arc<Finding>, Level)>) -> Vec<NewFinding> {
    patchwarden_match::signal::drop_explained_by(&mut found, format, |(f, _)| &**f);
    let keep = keep_first_installed(&found.iter().map(|(f, _)| &**f).collect::<Vec<_>>());
    found
        .into_iter()
        .zip(keep)
        .filter(|(_, keep)| *keep)
        .map(|((finding, level), _)| NewFinding {
            finding,
            level,
            allowed: level.default_deadline(),
        })
        .collect()
}

/// Of one host's findings, by position, the one to keep of each (package, arch,
/// advisory): the one whose installed version sorts first as text, the first of equals.
pub(super) fn keep_first_installed(found: &[&Finding]) -> Vec<bool> {
    // foldhash: one of these is built for every report's findings.
    let mut best: HashMap<(&str, &str, &str), usize, foldhash::fast::RandomState> =
        HashMap::with_capacity_and_hasher(found.len(), Default::default());
    for (i, f) in found.iter().enumerate() {
        let key = (f.package.as_str(), f.arch.as_str(), f.advisory.as_str());
        match best.entry(key) {
            std::collections::hash_map::Entry::Occupied(mut e) => {
                if f.installed < found[*e.get()].installed {
                    e.insert(i);
                }
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(i);
            }
        }
    }
    let mut keep = vec![false; found.len()];
    for i in best.into_values() {
        keep[i] = true;
    }
    keep
}

pub(super) fn level_of(loaded: &Loaded, advisory: &str) -> Level {
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
    packages: &[PackageRef<'_>],
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

pub use super::rematch::rematch_all;
