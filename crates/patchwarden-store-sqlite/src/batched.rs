//! The usual way a group commit (`group_commit`) is written: the whole group in a few
//! multi-row statements, however many reports and contacts it holds.
//!
//! Every statement sent is a round trip to the connection's worker thread (two thread
//! switches), and written one report at a time a group took about ten per report (its
//! savepoint, the asset, the tuples, the set, the asset again, three for the audit
//! chain). Here a group takes two round trips after its `BEGIN` (three when it brings
//! tuples the cache lacks, whose ids are decided in `inventory::Tuples` after reading
//! the rows the cache may not have yet): one read (its assets and the audit head), and
//! every write (new tuples, sets, assets, audit events and head, contacts) as one
//! string of statements, each multi-row. sqlx runs the statements of a string in order and binds
//! the anonymous `?` parameters across them in order, so the string carries all binds.
//!
//! A report that cannot be written (its asset is gone) fails here alone, before
//! anything is written. When the group needs the per-report path — an asset reported
//! twice, or an asset whose inventory changed after the report was prepared (its counts
//! are made again there) — this writes nothing and says so; when a statement fails, the
//! caller rolls the transaction back and writes the group again one report at a time,
//! each in its own savepoint, so the failing one is found and fails alone.

use crate::audit;
use crate::error::db_err;
use crate::group_commit::{Done, Request};
use crate::inventory::{self, Tuples};
use patchwarden_domain::clock::to_micros;
use patchwarden_domain::ids::AssetId;
use patchwarden_domain::package::InstalledPackage;
use patchwarden_store::audit_drafts as drafts;
use patchwarden_store::inventory_sets::Interner;
use patchwarden_store::inventory_sets::{encode_ids, Prepared};
use patchwarden_store::{AgentContact, AuditCtx, InventoryChange, Result, StoreError};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::collections::{HashMap, HashSet};

/// A report of the group that changes its asset's inventory.
struct Change<'a> {
    at: i64,
    id: i64,
    p: &'a Prepared,
    ids: Vec<i64>,
}

/// What the per-request writes would have given each request, and the package rows
/// to cache after the commit; `None` when the group must take the per-report path
/// (nothing was written then).
pub(crate) async fn write(
    conn: &mut SqliteConnection,
    interner: &Interner,
    tuples: &mut Tuples,
    requests: &[Request],
) -> Result<Option<Vec<Done>>> {
    let reports: Vec<(&AuditCtx, AssetId, &Prepared)> = requests
        .iter()
        .filter_map(|r| match r {
            Request::Inventory {
                ctx, id, prepared, ..
            } => Some((ctx, *id, prepared)),
            Request::Contact { .. } | Request::Findings { .. } => None,
        })
        .collect();
    let mut seen = HashSet::with_capacity(reports.len());
    if !reports.iter().all(|(_, id, _)| seen.insert(*id)) {
        return Ok(None);
    }
    let (head, current) = if reports.is_empty() {
        (None, HashMap::new())
    } else {
        let (head, current) = read(conn, reports.iter().map(|(_, id, _)| id.get())).await?;
        (Some(head), current)
    };
    // Each report's outcome, before the writes.
    let mut outcomes: Vec<Result<InventoryChange>> = Vec::with_capacity(reports.len());
    let mut touched = Vec::new();
    let mut changes = Vec::new();
    let mut audits = Vec::new();
    for &(ctx, id, p) in &reports {
        let hash = &p.change.hash;
        let outcome = match current.get(&id.get()) {
            None => Err(StoreError::NotFound { entity: "asset" }),
            Some(Some(now)) if now == hash => {
                touched.push((id.get(), to_micros(ctx.at)));
                Ok(p.unchanged())
            }
            Some(now) if *now != p.based_on => return Ok(None),
            Some(now) => {
                let draft = drafts::inventory_replace(ctx, id, now.as_deref(), &p.change);
                audits.push((draft, ctx.at));
                changes.push(Change {
                    at: to_micros(ctx.at),
                    id: id.get(),
                    p,
                    ids: p.known.clone(),
                });
                Ok(p.change.clone())
            }
        };
        outcomes.push(outcome);
    }
    let mark = tuples.mark();
    intern(conn, interner, tuples, &mut changes).await?;
    let mut blobs = Vec::with_capacity(changes.len());
    for c in &mut changes {
        blobs.push(encode_ids(&mut c.ids)?);
    }
    let contacts = last_contacts(requests);
    let events = match head {
        Some(head) => audit::seal_after(head, audits),
        None => Vec::new(),
    };
    // Everything else in one round trip to the connection's thread.
    let mut q = QueryBuilder::<Sqlite>::new("");
    let mut any = inventory::push_inserts(&mut q, &tuples.fresh()[mark..]);
    any |= push_sets(&mut q, &changes, &blobs);
    any |= push_assets(&mut q, &changes, &touched);
    any |= audit::push_append(&mut q, &events);
    // Last: its RETURNING rows are the only rows the statements give.
    any |= push_contacts(&mut q, &contacts);
    let found: Vec<(i64,)> = if any {
        crate::sql::build_as(&mut q)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?
    } else {
        Vec::new()
    };
    let found: HashSet<i64> = found.into_iter().map(|(id,)| id).collect();
    let missing_agents: HashSet<i64> = contacts
        .iter()
        .map(|c| c.0)
        .filter(|id| !found.contains(id))
        .collect();
    let mut outcomes = outcomes.into_iter();
    let done = requests
        .iter()
        .map(|r| match r {
            Request::Inventory { .. } => Done::Inventory(
                outcomes
                    .next()
                    .unwrap_or_else(|| Err(StoreError::corrupt("a report's outcome went astray"))),
            ),
            Request::Contact { agent, .. } => Done::Contact(if missing_agents.contains(agent) {
                Err(StoreError::NotFound { entity: "agent" })
            } else {
                Ok(())
            }),
            // Written after the rest of the group (`group_commit::sync_all`).
            Request::Findings { .. } => Done::Findings(Err(crate::group_commit::not_yet())),
        })
        .collect();
    Ok(Some(done))
}

/// The audit head and the inventory hash of each of `ids` that exists, in one
/// statement (the head joined to the group's assets).
async fn read(
    conn: &mut SqliteConnection,
    ids: impl Iterator<Item = i64>,
) -> Result<((i64, String), HashMap<i64, Option<String>>)> {
    let mut q = QueryBuilder::<Sqlite>::new(
        "SELECT h.seq, h.hash, a.id, a.inventory_hash FROM audit_head h \
         LEFT JOIN assets a ON a.id IN ",
    );
    crate::sql::push_list(&mut q, ids);
    q.push(" WHERE h.id = 1");
    let rows: Vec<(i64, String, Option<i64>, Option<String>)> = crate::sql::build_as(&mut q)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    let Some((seq, hash, _, _)) = rows.first() else {
        return Err(StoreError::corrupt("the audit head is missing"));
    };
    let head = (*seq, hash.clone());
    let current = rows
        .into_iter()
        .filter_map(|(_, _, id, hash)| Some((id?, hash)))
        .collect();
    Ok((head, current))
}

/// Completes every change's ids with those of the packages the cache did not know
/// when the report was prepared ([`Tuples::resolve`], which gives a tuple several
/// reports of the group bring one id; the new ones are inserted with the group's other
/// writes).
async fn intern(
    conn: &mut SqliteConnection,
    interner: &Interner,
    tuples: &mut Tuples,
    changes: &mut [Change<'_>],
) -> Result<()> {
    for c in changes.iter_mut() {
        let missing: Vec<&InstalledPackage> = c.p.missing.iter().collect();
        let ids = tuples.resolve(&mut *conn, interner, &missing).await?;
        c.ids.extend(ids);
    }
    Ok(())
}

/// One row of `inventory_sets` per new content (a set stored already is kept); whether
/// a statement was pushed.
fn push_sets<'a>(
    q: &mut QueryBuilder<'a, Sqlite>,
    changes: &'a [Change<'_>],
    blobs: &'a [Vec<u8>],
) -> bool {
    if changes.is_empty() {
        return false;
    }
    // 5 binds a row; a group holds at most 64 requests.
    q.push("INSERT INTO inventory_sets (hash, format, package_count, package_ids, created_at) ");
    q.push_values(changes.iter().zip(blobs), |mut b, (c, blob)| {
        b.push_bind(c.p.change.hash.as_str())
            .push_bind(c.p.format.as_str())
            .push_bind(c.p.count)
            .push_bind(blob.as_slice())
            .push_bind(c.at);
    });
    q.push(" ON CONFLICT (hash) DO NOTHING; ");
    true
}

/// Points each changed asset at its new set, and records when unchanged ones were
/// seen; whether a statement was pushed.
fn push_assets<'a>(
    q: &mut QueryBuilder<'a, Sqlite>,
    changes: &'a [Change<'_>],
    touched: &[(i64, i64)],
) -> bool {
    if !changes.is_empty() {
        q.push("WITH v (id, format, count, hash, at) AS (");
        q.push_values(changes, |mut b, c| {
            b.push_bind(c.id)
                .push_bind(c.p.format.as_str())
                .push_bind(c.p.count)
                .push_bind(c.p.change.hash.as_str())
                .push_bind(c.at);
        });
        q.push(
            ") UPDATE assets SET package_format = v.format, package_count = v.count, \
             inventory_hash = v.hash, last_seen_at = v.at FROM v WHERE assets.id = v.id; ",
        );
    }
    if !touched.is_empty() {
        q.push("WITH v (id, at) AS (");
        q.push_values(touched, |mut b, (id, at)| {
            b.push_bind(*id).push_bind(*at);
        });
        q.push(") UPDATE assets SET last_seen_at = v.at FROM v WHERE assets.id = v.id; ");
    }
    !changes.is_empty() || !touched.is_empty()
}

/// A contact to record: agent, instant (µs), what it said, its restart list as JSON.
type ContactRow<'a> = (i64, i64, &'a AgentContact, String);

/// The group's contacts, the last one of an agent that made several.
fn last_contacts(requests: &[Request]) -> Vec<ContactRow<'_>> {
    let mut last: HashMap<i64, (jiff::Timestamp, &AgentContact)> = HashMap::new();
    for r in requests {
        if let Request::Contact {
            agent, at, contact, ..
        } = r
        {
            last.insert(*agent, (*at, contact));
        }
    }
    last.into_iter()
        .map(|(id, (at, c))| (id, to_micros(at), c, crate::agents::restart_json(c)))
        .collect()
}

/// Records the contacts in one statement that returns the id of each agent found;
/// whether a statement was pushed.
fn push_contacts<'a>(q: &mut QueryBuilder<'a, Sqlite>, rows: &'a [ContactRow<'_>]) -> bool {
    if rows.is_empty() {
        return false;
    }
    q.push("WITH v (id, at, version, kernel, reboot, restart) AS (");
    q.push_values(rows, |mut b, (id, at, c, restart)| {
        b.push_bind(*id)
            .push_bind(*at)
            .push_bind(c.agent_version.as_str())
            .push_bind(c.kernel_running.as_deref())
            .push_bind(c.reboot_required)
            .push_bind(restart.as_str());
    });
    q.push(
        ") UPDATE agents SET last_seen_at = v.at, agent_version = v.version, \
         kernel_running = v.kernel, reboot_required = v.reboot, restart_needed = v.restart \
         FROM v WHERE agents.id = v.id RETURNING agents.id; ",
    );
    true
}
