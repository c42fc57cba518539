//! Re-matching the whole fleet without re-scanning host by host.
//!
//! Assets are read a page at a time with their inventories as package ids (never as
//! strings). Each unique (release, format, package) is evaluated once for the whole
//! run, and its findings are stored once as shared details; a host is then a list of
//! detail positions put together from its package ids by array lookups. Each page is
//! one batch sync (`Store::sync_findings_batch`): a host whose findings did not change
//! costs one digest comparison and no write.

use super::matching::{level_of, Loaded};
use crate::error::ApiError;
use crate::state::AppState;
use patchwarden_domain::advisory::DistroRelease;
use patchwarden_domain::finding::Finding;
use patchwarden_domain::ids::AssetId;
use patchwarden_domain::package::{InstalledPackage, PackageFormat};
use patchwarden_match::distro_key;
use patchwarden_store::{AdvisoryLevel, AuditCtx, FindingsBatch, FindingsChange};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Assets read, and synced in one transaction, at a time.
const PAGE: u32 = 1000;
/// An entry not interned yet, in [`Fleet::entry_of`].
const NONE: u32 = u32::MAX;
/// Package ids above this are refused (the tables are indexed by them).
const MAX_PACKAGE_ID: i64 = 1 << 31;

/// What one run has evaluated so far, valid for one index generation.
#[derive(Debug, Default)]
struct Fleet {
    generation: u64,
    distros: HashMap<DistroRelease, u16>,
    /// Per (release, format), the entry of each package id, or [`NONE`].
    entry_of: HashMap<(u16, PackageFormat), Vec<u32>>,
    /// Entry `e`'s details are `entry_details[offsets[e]..offsets[e + 1]]`.
    offsets: Vec<u32>,
    entry_details: Vec<u32>,
    /// Every detail found: its stored id (0 until stored) and content.
    details: Vec<(i64, Arc<Finding>)>,
    /// Per detail, the number of its (package, arch, advisory).
    identity: Vec<u32>,
    identities: HashMap<(String, String, String), u32>,
    /// Per detail, whether it is a package-manager signal finding.
    signal: Vec<bool>,
    /// The level of every advisory of the index.
    levels: HashMap<String, AdvisoryLevel>,
    /// Package tuples read so far.
    packages: HashMap<i64, InstalledPackage>,
}

impl Fleet {
    fn new(loaded: &Loaded) -> Self {
        let levels = loaded
            .index
            .advisories()
            .iter()
            .map(|a| {
                let level = level_of(loaded, &a.id);
                let l = AdvisoryLevel {
                    advisory: a.id.clone(),
                    level,
                    allowed: level.default_deadline(),
                };
                (a.id.clone(), l)
            })
            .collect();
        Self {
            generation: loaded.generation,
            offsets: vec![0],
            levels,
            ..Self::default()
        }
    }

    fn distro(&mut self, d: &DistroRelease) -> u16 {
        let next = u16::try_from(self.distros.len()).unwrap_or(u16::MAX);
        *self.distros.entry(d.clone()).or_insert(next)
    }

    fn add_detail(&mut self, f: Finding) -> u32 {
        let pos = u32::try_from(self.details.len()).unwrap_or(u32::MAX);
        let key = (f.package.clone(), f.arch.clone(), f.advisory.clone());
        let next = u32::try_from(self.identities.len()).unwrap_or(u32::MAX);
        self.identity
            .push(*self.identities.entry(key).or_insert(next));
        self.signal
            .push(f.source == patchwarden_match::signal::SOURCE);
        self.details.push((0, Arc::new(f)));
        pos
    }

    fn entry_details(&self, e: u32) -> &[u32] {
        let (a, b) = (self.offsets[e as usize], self.offsets[e as usize + 1]);
        &self.entry_details[a as usize..b as usize]
    }
}

/// One asset of a page, as the run sees it.
struct Host {
    id: AssetId,
    /// `None` for an asset without a package format or a known release: its findings
    /// are none.
    key: Option<(u16, PackageFormat)>,
    packages: Vec<i64>,
}

/// Re-matches every asset: see the module documentation. Returns the number of assets
/// and what changed.
pub async fn rematch_all(
    state: &AppState,
    ctx: &AuditCtx,
) -> Result<(usize, FindingsChange), ApiError> {
    let mut fleet = fresh(state, ctx).await?;
    let mut total = FindingsChange::default();
    let mut hosts = 0;
    let mut after = None;
    loop {
        let page = state.store.list_asset_package_ids(after, PAGE).await?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.id);
        hosts += page.len();
        let page: Vec<Host> = page
            .into_iter()
            .map(|(a, packages)| Host {
                id: a.id,
                key: match (a.package_format, distro_key(&a.os)) {
                    (Some(f), Some(d)) => Some((fleet.distro(&d), f)),
                    _ => None,
                },
                packages,
            })
            .collect();
        if !evaluate(state, &mut fleet, &page).await? {
            // The index changed under the run: start over with the new one (the
            // assets already synced are matched again, which changes nothing).
            fleet = fresh(state, ctx).await?;
            after = None;
            hosts = 0;
            total = FindingsChange::default();
            continue;
        }
        let batch = assemble(&fleet, &page)?;
        total.add(&state.store.sync_findings_batch(ctx, &batch).await?);
    }
    Ok((hosts, total))
}

/// A new run over the current index, with every advisory's level applied first (the
/// re-levelling a changed rule or enrichment calls for).
async fn fresh(state: &AppState, ctx: &AuditCtx) -> Result<Fleet, ApiError> {
    let fleet = {
        let loaded = state
            .engine
            .read(state.store.as_ref(), &state.config.levels)
            .await?;
        Fleet::new(&loaded)
    };
    let levels: Vec<AdvisoryLevel> = fleet.levels.values().cloned().collect();
    for chunk in levels.chunks(5000) {
        state.store.relevel_findings(ctx, chunk).await?;
    }
    Ok(fleet)
}

/// Interns and evaluates the page's packages not seen yet, and stores the new
/// findings' details. `false` when the index is no longer the one the run started on.
async fn evaluate(state: &AppState, fleet: &mut Fleet, page: &[Host]) -> Result<bool, ApiError> {
    let mut new_entries: Vec<(u16, PackageFormat, i64)> = Vec::new();
    for h in page {
        let Some(key) = h.key else { continue };
        let map = fleet.entry_of.entry(key).or_default();
        for &pid in &h.packages {
            if !(1..MAX_PACKAGE_ID).contains(&pid) {
                return Err(ApiError::internal(format!("package id {pid} out of range")));
            }
            let slot = pid as usize;
            if map.len() <= slot {
                map.resize(slot + 1, NONE);
            }
            if map[slot] == NONE {
                map[slot] = NONE - 1; // pending, once
                new_entries.push((key.0, key.1, pid));
            }
        }
    }
    if new_entries.is_empty() {
        return Ok(true);
    }
    let unknown: Vec<i64> = new_entries
        .iter()
        .map(|(_, _, pid)| *pid)
        .filter(|pid| !fleet.packages.contains_key(pid))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    for chunk in unknown.chunks(5000) {
        fleet
            .packages
            .extend(state.store.packages_by_id(chunk).await?);
    }
    let first_new = fleet.details.len();
    {
        let loaded = state
            .engine
            .read(state.store.as_ref(), &state.config.levels)
            .await?;
        if loaded.generation != fleet.generation {
            return Ok(false);
        }
        let distros: HashMap<u16, DistroRelease> =
            fleet.distros.iter().map(|(d, n)| (*n, d.clone())).collect();
        let mut hits = Vec::new();
        for (d, format, pid) in new_entries {
            let entry = u32::try_from(fleet.offsets.len() - 1).unwrap_or(NONE);
            if let (Some(distro), Some(pkg)) = (distros.get(&d), fleet.packages.get(&pid)) {
                if loaded.index.mentions(distro, pkg) {
                    hits.clear();
                    loaded.index.hits(distro, format, pkg, &mut hits);
                    let found = loaded.index.findings(distro, pkg, &hits);
                    for f in found {
                        let pos = fleet.add_detail(f);
                        fleet.entry_details.push(pos);
                    }
                }
            }
            fleet
                .offsets
                .push(u32::try_from(fleet.entry_details.len()).unwrap_or(NONE));
            if let Some(map) = fleet.entry_of.get_mut(&(d, format)) {
                map[pid as usize] = entry;
            }
        }
    }
    let fresh: Vec<&Finding> = fleet.details[first_new..]
        .iter()
        .map(|(_, f)| &**f)
        .collect();
    let ids = state.store.store_finding_details(&fresh).await?;
    for ((id, _), stored) in fleet.details[first_new..].iter_mut().zip(ids) {
        *id = stored;
    }
    Ok(true)
}

/// The page as one batch: each host's findings (one per package, arch and advisory,
/// the first installed version as text of several; signal findings a feed explains
/// left out), with the page's details and their advisories' levels.
fn assemble(fleet: &Fleet, page: &[Host]) -> Result<FindingsBatch, ApiError> {
    let mut batch = FindingsBatch::default();
    // Page-local position of each of the fleet's details, or NONE.
    let mut local = vec![NONE; fleet.details.len()];
    let mut stamp = vec![usize::MAX; fleet.identities.len()];
    let mut slot = vec![0usize; fleet.identities.len()];
    let mut list: Vec<u32> = Vec::new();
    for (k, h) in page.iter().enumerate() {
        list.clear();
        if let Some(key) = h.key {
            let map = fleet
                .entry_of
                .get(&key)
                .ok_or_else(|| ApiError::internal("a page's packages were not interned"))?;
            let mut signals = false;
            for &pid in &h.packages {
                let e = map.get(pid as usize).copied().unwrap_or(NONE);
                if e >= NONE - 1 {
                    return Err(ApiError::internal("a page's package was not evaluated"));
                }
                for &dp in fleet.entry_details(e) {
                    signals |= fleet.signal[dp as usize];
                    list.push(dp);
                }
            }
            if signals {
                let refs: Vec<&Finding> = list
                    .iter()
                    .map(|dp| &*fleet.details[*dp as usize].1)
                    .collect();
                let drop = patchwarden_match::signal::explained(&refs, key.1);
                let mut drop = drop.into_iter();
                list.retain(|_| !drop.next().unwrap_or(false));
            }
            // One per identity: the first installed version as text.
            let mut kept = 0;
            for i in 0..list.len() {
                let dp = list[i];
                let n = fleet.identity[dp as usize] as usize;
                if stamp[n] == k {
                    let other = &mut list[slot[n]];
                    let installed = |p: u32| fleet.details[p as usize].1.installed.as_str();
                    if installed(dp) < installed(*other) {
                        *other = dp;
                    }
                } else {
                    stamp[n] = k;
                    slot[n] = kept;
                    list[kept] = dp;
                    kept += 1;
                }
            }
            list.truncate(kept);
        }
        let mut positions = Vec::with_capacity(list.len());
        for dp in &list {
            let p = &mut local[*dp as usize];
            if *p == NONE {
                *p = u32::try_from(batch.details.len()).unwrap_or(NONE);
                batch.details.push(fleet.details[*dp as usize].clone());
            }
            positions.push(*p);
        }
        batch.assets.push((h.id, positions));
    }
    let advisories: HashSet<&str> = batch
        .details
        .iter()
        .map(|(_, f)| f.advisory.as_str())
        .collect();
    batch.levels = advisories
        .into_iter()
        .filter_map(|a| fleet.levels.get(a).cloned())
        .collect();
    Ok(batch)
}
