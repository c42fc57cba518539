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
use patchwarden_store::findings::batch::BatchDetails;
use patchwarden_store::{AdvisoryLevel, AuditCtx, FindingsBatch, FindingsChange};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Assets read, and synced in one transaction, at a time (a page of 5,000 AlmaLinux
/// hosts holds about 60 MB of package ids and writes 7 MB).
const PAGE: u32 = 5000;
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
    /// Entry `e`'s details are `entry_details[offsets[e]..offsets[e + 1]]`, by
    /// ascending id, and their ids the same range of `entry_ids`.
    offsets: Vec<u32>,
    entry_details: Vec<u32>,
    entry_ids: Vec<i64>,
    /// Per entry, the number of its package's (name, arch): only entries of one
    /// number can give two findings of one (package, arch, advisory) on a host.
    entry_group: Vec<u32>,
    groups: HashMap<(String, String), u32>,
    /// Per entry, whether any of its details is a package-manager signal finding.
    entry_signal: Vec<bool>,
    /// Every detail found: its stored id (0 until stored) and content.
    details: Vec<(i64, Arc<Finding>)>,
    /// Per detail, the number of its (package, arch, advisory).
    identity: Vec<u32>,
    identities: HashMap<(String, String, String), u32>,
    /// The level of every advisory of the index.
    levels: HashMap<String, AdvisoryLevel>,
    /// `details` as every page's batch shares it, made again after details were added.
    shared: Option<Arc<BatchDetails>>,
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
        self.details.push((0, Arc::new(f)));
        pos
    }

    fn shared(&mut self) -> Arc<BatchDetails> {
        let details = &self.details;
        self.shared
            .get_or_insert_with(|| {
                Arc::new(BatchDetails::new(
                    details.iter().map(|(id, f)| (*id, Arc::clone(f))),
                ))
            })
            .clone()
    }

    fn entry_details(&self, e: u32) -> &[u32] {
        let (a, b) = (self.offsets[e as usize], self.offsets[e as usize + 1]);
        &self.entry_details[a as usize..b as usize]
    }
}

/// Where a run's time went, for the log.
#[derive(Debug, Default)]
struct Spent {
    read: std::time::Duration,
    evaluate: std::time::Duration,
    assemble: std::time::Duration,
    /// Waiting for the previous page's writes to finish.
    wait: std::time::Duration,
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
///
/// While the store writes one page, the next is read, evaluated and put together (on a
/// blocking thread, so the runtime's workers stay free for requests): the database and
/// the matching each keep a core busy.
pub async fn rematch_all(
    state: &AppState,
    ctx: &AuditCtx,
) -> Result<(usize, FindingsChange), ApiError> {
    let mut fleet = fresh(state, ctx).await?;
    let mut total = FindingsChange::default();
    let mut hosts = 0;
    let mut after = None;
    let mut spent = Spent::default();
    let mut writing: Option<tokio::task::JoinHandle<patchwarden_store::Result<FindingsChange>>> =
        None;
    loop {
        let clock = std::time::Instant::now();
        let page = state.store.list_asset_packages(after, PAGE).await?;
        spent.read += clock.elapsed();
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        hosts += page.len();
        let page: Vec<Host> = page
            .into_iter()
            .map(|a| Host {
                id: a.id,
                key: match (a.format, distro_key(&a.os)) {
                    (Some(f), Some(d)) => Some((fleet.distro(&d), f)),
                    _ => None,
                },
                packages: a.package_ids,
            })
            .collect();
        let clock = std::time::Instant::now();
        let current = evaluate(state, &mut fleet, &page).await?;
        spent.evaluate += clock.elapsed();
        if !current {
            // The index changed under the run: start over with the new one (the
            // assets already synced are matched again, which changes nothing).
            if let Some(w) = writing.take() {
                finish(w).await?;
            }
            fleet = fresh(state, ctx).await?;
            after = None;
            hosts = 0;
            total = FindingsChange::default();
            continue;
        }
        let clock = std::time::Instant::now();
        let (back, batch) = tokio::task::spawn_blocking(move || {
            let batch = assemble(&mut fleet, &page);
            (fleet, batch)
        })
        .await
        .map_err(ApiError::internal)?;
        fleet = back;
        let batch = batch?;
        spent.assemble += clock.elapsed();
        let clock = std::time::Instant::now();
        if let Some(w) = writing.take() {
            total.add(&finish(w).await?);
        }
        spent.wait += clock.elapsed();
        let (store, ctx) = (state.store.clone(), ctx.clone());
        writing = Some(tokio::spawn(async move {
            store.sync_findings_batch(&ctx, &batch).await
        }));
    }
    if let Some(w) = writing.take() {
        total.add(&finish(w).await?);
    }
    tracing::info!(
        hosts,
        entries = fleet.offsets.len() - 1,
        details = fleet.details.len(),
        read = ?spent.read,
        evaluate = ?spent.evaluate,
        assemble = ?spent.assemble,
        waiting_for_writes = ?spent.wait,
        "fleet re-matched"
    );
    Ok((hosts, total))
}

async fn finish(
    w: tokio::task::JoinHandle<patchwarden_store::Result<FindingsChange>>,
) -> Result<FindingsChange, ApiError> {
    Ok(w.await.map_err(ApiError::internal)??)
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
            let mut group = NONE;
            let mut signal = false;
            if let (Some(distro), Some(pkg)) = (distros.get(&d), fleet.packages.get(&pid)) {
                let next = u32::try_from(fleet.groups.len()).unwrap_or(NONE);
                group = *fleet
                    .groups
                    .entry((pkg.name.clone(), pkg.arch.clone()))
                    .or_insert(next);
                if loaded.index.mentions(distro, pkg) {
                    hits.clear();
                    loaded.index.hits(distro, format, pkg, &mut hits);
                    let mut found = loaded.index.findings(distro, pkg, &hits);
                    // An advisory can hit one package twice (through a binary and a
                    // source statement): one finding per advisory, the first.
                    let mut seen: HashSet<String> = HashSet::new();
                    found.retain(|f| seen.insert(f.advisory.clone()));
                    for f in found {
                        signal |= f.source == patchwarden_match::signal::SOURCE;
                        let pos = fleet.add_detail(f);
                        fleet.entry_details.push(pos);
                    }
                }
            }
            fleet.entry_group.push(group);
            fleet.entry_signal.push(signal);
            fleet
                .offsets
                .push(u32::try_from(fleet.entry_details.len()).unwrap_or(NONE));
            if let Some(map) = fleet.entry_of.get_mut(&(d, format)) {
                map[pid as usize] = entry;
            }
        }
    }
    if fleet.details.len() > first_new {
        // The shared table is built again, lazily, only when details were added.
        fleet.shared = None;
    }
    let fresh: Vec<Arc<Finding>> = fleet.details[first_new..]
        .iter()
        .map(|(_, f)| Arc::clone(f))
        .collect();
    let ids = state.store.store_finding_details(&fresh).await?;
    for ((id, _), stored) in fleet.details[first_new..].iter_mut().zip(ids) {
        *id = stored;
    }
    // The new entries' details by ascending id: a host's list is then its entries'
    // runs put in order, mostly without a sort.
    let first = fleet.entry_ids.len();
    let start = fleet
        .offsets
        .iter()
        .position(|o| *o as usize >= first)
        .unwrap_or(fleet.offsets.len() - 1);
    for e in start..fleet.offsets.len() - 1 {
        let (a, b) = (fleet.offsets[e] as usize, fleet.offsets[e + 1] as usize);
        let mut run: Vec<(i64, u32)> = fleet.entry_details[a..b]
            .iter()
            .map(|p| (fleet.details[*p as usize].0, *p))
            .collect();
        run.sort_unstable();
        for (k, (id, p)) in run.into_iter().enumerate() {
            fleet.entry_details[a + k] = p;
            fleet.entry_ids.push(id);
        }
    }
    Ok(true)
}

/// The page as one batch over the fleet's details: each host's findings (one per
/// package, arch and advisory, the first installed version as text of several; signal
/// findings a feed explains left out), with every advisory's level.
fn assemble(fleet: &mut Fleet, page: &[Host]) -> Result<FindingsBatch, ApiError> {
    let details = fleet.shared();
    let fleet = &*fleet;
    let mut assets = Vec::with_capacity(page.len());
    let mut group_seen = vec![usize::MAX; fleet.groups.len()];
    let mut identity_seen = vec![usize::MAX; fleet.identities.len()];
    let mut slot = vec![0usize; fleet.identities.len()];
    let mut with_details: Vec<u32> = Vec::new();
    for (k, h) in page.iter().enumerate() {
        if let Some(key) = h.key {
            let map = fleet
                .entry_of
                .get(&key)
                .ok_or_else(|| ApiError::internal("a page's packages were not interned"))?;
            with_details.clear();
            let (mut collide, mut signals) = (false, false);
            for &pid in &h.packages {
                let e = map.get(pid as usize).copied().unwrap_or(NONE);
                if e >= NONE - 1 {
                    return Err(ApiError::internal("a page's package was not evaluated"));
                }
                if fleet.offsets[e as usize] == fleet.offsets[e as usize + 1] {
                    continue;
                }
                with_details.push(e);
                let g = fleet.entry_group[e as usize] as usize;
                collide |= group_seen[g] == k;
                group_seen[g] = k;
                signals |= fleet.entry_signal[e as usize];
            }
            if !(collide || signals) {
                assets.push((h.id, sorted_ids(fleet, &mut with_details)));
                continue;
            }
            let mut list: Vec<u32> = Vec::new();
            for e in &with_details {
                list.extend_from_slice(fleet.entry_details(*e));
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
            if collide {
                keep_first_installed(fleet, &mut list, k, &mut identity_seen, &mut slot);
            }
            let mut ids: Vec<i64> = list.iter().map(|p| fleet.details[*p as usize].0).collect();
            ids.sort_unstable();
            assets.push((h.id, ids));
            continue;
        }
        assets.push((h.id, Vec::new()));
    }
    Ok(FindingsBatch {
        levels: fleet.levels.values().cloned().collect(),
        details,
        assets,
    })
}

/// The ids of these entries' details, ascending: the entries' runs (each ascending)
/// put in order of their first id, sorted whole only when runs overlap.
fn sorted_ids(fleet: &Fleet, entries: &mut [u32]) -> Vec<i64> {
    let first = |e: &u32| fleet.entry_ids[fleet.offsets[*e as usize] as usize];
    entries.sort_unstable_by_key(first);
    let n: usize = entries
        .iter()
        .map(|e| (fleet.offsets[*e as usize + 1] - fleet.offsets[*e as usize]) as usize)
        .sum();
    let mut ids = Vec::with_capacity(n);
    for e in entries.iter() {
        let (a, b) = (fleet.offsets[*e as usize], fleet.offsets[*e as usize + 1]);
        ids.extend_from_slice(&fleet.entry_ids[a as usize..b as usize]);
    }
    if !ids.is_sorted() {
        ids.sort_unstable();
    }
    ids
}

/// One finding per (package, arch, advisory) in `list`: of several, the one whose
/// installed version sorts first as text (see `matching::keep_first_installed`).
fn keep_first_installed(
    fleet: &Fleet,
    list: &mut Vec<u32>,
    host: usize,
    seen: &mut [usize],
    slot: &mut [usize],
) {
    let installed = |p: u32| fleet.details[p as usize].1.installed.as_str();
    let mut kept = 0;
    for i in 0..list.len() {
        let dp = list[i];
        let n = fleet.identity[dp as usize] as usize;
        if seen[n] == host {
            let other = slot[n];
            if installed(dp) < installed(list[other]) {
                list[other] = dp;
            }
        } else {
            seen[n] = host;
            slot[n] = kept;
            list[kept] = dp;
            kept += 1;
        }
    }
    list.truncate(kept);
}
