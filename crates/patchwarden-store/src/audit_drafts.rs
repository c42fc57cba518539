//! The audit events of each store mutation, defined once so that every backend records
//! exactly the same thing. Backends call these inside the mutation's transaction.

use crate::model::*;
use patchwarden_domain::audit::AuditDraft;
use patchwarden_domain::ids::{AssetId, UserId};

fn draft(ctx: &AuditCtx, action: &str, target_type: &str) -> AuditDraft {
    AuditDraft::new(&ctx.actor, &ctx.origin, action, target_type)
}

pub fn asset_create(ctx: &AuditCtx, after: &Asset) -> AuditDraft {
    draft(ctx, "asset.create", "asset")
        .target(after.id)
        .after(after)
}

pub fn asset_update(ctx: &AuditCtx, before: &Asset, after: &Asset) -> AuditDraft {
    draft(ctx, "asset.update", "asset")
        .target(after.id)
        .before(before)
        .after(after)
}

pub fn asset_delete(ctx: &AuditCtx, before: &Asset) -> AuditDraft {
    draft(ctx, "asset.delete", "asset")
        .target(before.id)
        .before(before)
}

/// Inventories are large: the event records the counts and the hashes, not the lists.
pub fn inventory_replace(
    ctx: &AuditCtx,
    id: AssetId,
    old_hash: Option<&str>,
    change: &InventoryChange,
) -> AuditDraft {
    draft(ctx, "asset.inventory", "asset")
        .target(id)
        .before(&serde_json::json!({ "inventory_hash": old_hash }))
        .after(change)
}

pub fn user_create(ctx: &AuditCtx, after: &User) -> AuditDraft {
    draft(ctx, "user.create", "user")
        .target(after.id)
        .after(after)
}

pub fn user_update(ctx: &AuditCtx, before: &User, after: &User) -> AuditDraft {
    draft(ctx, "user.update", "user")
        .target(after.id)
        .before(before)
        .after(after)
}

pub fn user_password(ctx: &AuditCtx, id: UserId, must_change: bool) -> AuditDraft {
    draft(ctx, "user.password", "user")
        .target(id)
        .after(&serde_json::json!({ "must_change_password": must_change }))
}

pub fn session_create(ctx: &AuditCtx, new: &NewSession) -> AuditDraft {
    draft(ctx, "session.login", "user")
        .target(new.user_id)
        .after(&serde_json::json!({ "expires_at": new.expires_at }))
}

pub fn session_delete(ctx: &AuditCtx, user: Option<UserId>) -> AuditDraft {
    let d = draft(ctx, "session.logout", "user");
    match user {
        Some(u) => d.target(u),
        None => d,
    }
}

pub fn token_create(ctx: &AuditCtx, after: &ApiToken) -> AuditDraft {
    draft(ctx, "token.create", "token")
        .target(after.id)
        .after(after)
}

pub fn token_revoke(ctx: &AuditCtx, before: &ApiToken, after: &ApiToken) -> AuditDraft {
    draft(ctx, "token.revoke", "token")
        .target(after.id)
        .before(before)
        .after(after)
}

/// At most this many changed advisory ids are named in an `advisory.import` event.
pub const ADVISORY_IMPORT_IDS: usize = 100;

/// An advisory import that changed something: the counts and the first
/// [`ADVISORY_IMPORT_IDS`] inserted or changed ids.
pub fn advisory_import(ctx: &AuditCtx, result: &crate::AdvisoryUpsert) -> AuditDraft {
    let ids: Vec<&str> = result
        .changed
        .iter()
        .take(ADVISORY_IMPORT_IDS)
        .map(String::as_str)
        .collect();
    draft(ctx, "advisory.import", "advisory").after(&serde_json::json!({
        "inserted": result.inserted,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "changed_count": result.changed.len(),
        "changed": ids,
    }))
}

/// An enrichment import (KEV, EPSS, CVSS) that changed `changed` of `received` CVEs.
pub fn enrichment_import(ctx: &AuditCtx, received: usize, changed: u32) -> AuditDraft {
    draft(ctx, "enrichment.import", "cve")
        .after(&serde_json::json!({ "received": received, "changed": changed }))
}

/// A findings sync of one asset that opened or closed something.
pub fn finding_sync(ctx: &AuditCtx, asset: AssetId, change: &crate::FindingsChange) -> AuditDraft {
    draft(ctx, "finding.sync", "asset")
        .target(asset)
        .after(change)
}

/// Open findings re-levelled after enrichment changed: how many, over how many
/// advisories (the advisories themselves are in the import's own events).
pub fn finding_relevel(ctx: &AuditCtx, advisories: usize, changed: u64) -> AuditDraft {
    draft(ctx, "finding.relevel", "finding").after(&serde_json::json!({
        "advisories": advisories,
        "findings_changed": changed,
    }))
}

/// At most this many asset ids are named in a `scan.import` event.
pub const SCAN_IMPORT_ASSETS: usize = 100;

/// A recorded scanner report: its counts and the first [`SCAN_IMPORT_ASSETS`] assets
/// it attached to (the finding records themselves are in their table).
pub fn scan_import(ctx: &AuditCtx, import: &crate::ScanImport, assets: &[AssetId]) -> AuditDraft {
    let ids: Vec<i64> = assets
        .iter()
        .take(SCAN_IMPORT_ASSETS)
        .map(|a| a.get())
        .collect();
    draft(ctx, "scan.import", "scan_import")
        .target(import.id)
        .after(&serde_json::json!({ "import": import, "assets": ids }))
}

/// An enrolment token was created (the event carries no secret and no hash).
pub fn enrollment_token_create(ctx: &AuditCtx, after: &crate::EnrollmentToken) -> AuditDraft {
    draft(ctx, "agent.token.create", "enrollment_token")
        .target(after.id)
        .after(after)
}

pub fn enrollment_token_revoke(
    ctx: &AuditCtx,
    before: &crate::EnrollmentToken,
    after: &crate::EnrollmentToken,
) -> AuditDraft {
    draft(ctx, "agent.token.revoke", "enrollment_token")
        .target(after.id)
        .before(before)
        .after(after)
}

/// An agent enrolled with a token, for an asset (created or attached to).
pub fn agent_enroll(ctx: &AuditCtx, enrolled: &crate::Enrolled) -> AuditDraft {
    draft(ctx, "agent.enroll", "agent")
        .target(enrolled.agent.id)
        .after(enrolled)
}

pub fn agent_revoke(ctx: &AuditCtx, before: &crate::Agent, after: &crate::Agent) -> AuditDraft {
    draft(ctx, "agent.revoke", "agent")
        .target(after.id)
        .before(before)
        .after(after)
}

/// A server key was created; only its public half is recorded.
pub fn server_key_create(ctx: &AuditCtx, key: &crate::NewServerKey) -> AuditDraft {
    draft(ctx, "server_key.create", "server_key")
        .target(&key.name)
        .after(&serde_json::json!({ "name": key.name, "public": key.public }))
}

/// A signed job was queued for an agent (the signed text is in the event).
pub fn job_create(ctx: &AuditCtx, job: &crate::StoredJob) -> AuditDraft {
    draft(ctx, "job.create", "job").target(&job.id).after(job)
}

/// An agent reported on a job: the status, not the whole report (steps and package
/// lists stay in the report table).
pub fn job_report(
    ctx: &AuditCtx,
    before: &crate::StoredJob,
    after: &crate::StoredJob,
) -> AuditDraft {
    draft(ctx, "job.report", "job")
        .target(&after.id)
        .before(&serde_json::json!({ "status": before.status, "finished_at": before.finished_at }))
        .after(&serde_json::json!({ "status": after.status, "finished_at": after.finished_at }))
}
