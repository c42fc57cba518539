//! Agents: enrolment with a token, check-ins (inventory, pending security updates,
//! job reports) and the server's job-signing key. The HTTP edge has already checked
//! the agent's signature (`api::agents::AgentSigned`) when these run.

use crate::error::{ApiError, ApiResult};
use crate::service::matching::rematch_asset_with;
use crate::state::AppState;
use axum::http::StatusCode;
use patchwarden_domain::asset::{clean_text, AssetKind, Criticality, Environment, OsInfo};
use patchwarden_domain::audit::{Actor, ActorKind, Origin};
use patchwarden_match::signal::SecurityUpdate;
use patchwarden_store::{
    Agent, AgentContact, AssetPatch, AuditCtx, NewAgent, NewAsset, NewJobReport, NewServerKey,
    StoreError,
};
use patchwarden_wire::agent::{CheckIn, CheckInReply, EnrollRequest, EnrollResponse};
use patchwarden_wire::job::SignedJob;
use patchwarden_wire::sign::{check_public_key, SecretKey};

/// How often agents are asked to check in.
pub const CHECKIN_INTERVAL_SECS: u64 = 300;
/// Most processes kept from one report of processes needing a restart.
pub const MAX_RESTART_NEEDED: usize = 1000;

/// A contact is recorded at most this often when nothing else changed.
pub const CONTACT_RECORD_SECS: i64 = 60;

/// Name of the job-signing key in the store.
pub const JOB_KEY_NAME: &str = "job_signing";
/// Prefix of enrolment token secrets.
pub const ENROLL_TOKEN_PREFIX: &str = "pwe_";

/// The server's job-signing key: created once in the store (so that every replica
/// signs with the same key), then kept in memory.
pub async fn job_key(state: &AppState) -> ApiResult<SecretKey> {
    state
        .job_key
        .get_or_try_init(|| async {
            let candidate = SecretKey::generate();
            let ctx = AuditCtx::system("job-key", state.clock.now());
            let secret = state
                .store
                .server_key(
                    &ctx,
                    &NewServerKey {
                        name: JOB_KEY_NAME.to_owned(),
                        secret: candidate.to_b64(),
                        public: candidate.public_b64(),
                    },
                )
                .await?;
            SecretKey::from_b64(&secret).map_err(|e| ApiError::internal(format!("job key: {e}")))
        })
        .await
        .cloned()
}

fn invalid_token() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        "the enrolment token is unknown, expired, revoked or already used",
    )
}

/// Enrols an agent with a token: consumes the token, attaches to (or creates) the
/// asset of the host name, stores the agent's public key.
pub async fn enroll(
    state: &AppState,
    origin: Origin,
    req: EnrollRequest,
) -> ApiResult<EnrollResponse> {
    check_public_key(&req.public_key)
        .map_err(|e| patchwarden_domain::ValidationError::new("public_key", e.to_string()))?;
    let os = OsInfo {
        family: req.os.family,
        distribution: clean_text("os.distribution", &req.os.distribution, 64)?.to_ascii_lowercase(),
        release: clean_text("os.release", &req.os.release, 64)?,
        arch: clean_text("os.arch", &req.os.arch, 32)?,
    };
    let new = NewAgent {
        asset: NewAsset {
            hostname: req.hostname,
            kind: AssetKind::Server,
            os,
            // Unknown hosts are treated with the strictest deadlines until classified.
            environment: Environment::Production,
            criticality: Criticality::Standard,
            owner: None,
            groups: Vec::new(),
            protected_data: false,
        },
        public_key: req.public_key.trim().to_owned(),
        agent_version: clean_text("agent_version", &req.agent_version, 64)?,
    };
    let hash = crate::auth::secret::sha256_hex(req.token.trim());
    let ctx = AuditCtx {
        actor: Actor {
            kind: ActorKind::Agent,
            id: None,
            name: format!("agent enrolling {}", new.asset.hostname),
        },
        origin,
        at: state.clock.now(),
    };
    let enrolled = match state.store.enroll_agent(&ctx, &hash, &new).await {
        // Two first enrolments of one new host name on replicas at once: the asset
        // exists now, so the retry attaches to it.
        Err(StoreError::Conflict { .. }) => state.store.enroll_agent(&ctx, &hash, &new).await?,
        other => other?,
    }
    .ok_or_else(invalid_token)?;
    let key = job_key(state).await?;
    tracing::info!(agent = enrolled.agent.id, asset = %enrolled.agent.asset_id, "agent enrolled");
    Ok(EnrollResponse {
        agent_id: enrolled.agent.id,
        asset_id: enrolled.agent.asset_id.get(),
        server_job_key: key.public_b64(),
        checkin_interval_secs: CHECKIN_INTERVAL_SECS,
    })
}

/// The audit context of changes an agent's check-in makes.
pub fn agent_ctx(state: &AppState, agent: &Agent, origin: Origin) -> AuditCtx {
    AuditCtx {
        actor: Actor {
            kind: ActorKind::Agent,
            id: Some(agent.id),
            name: agent.hostname.clone(),
        },
        origin,
        at: state.clock.now(),
    }
}

/// One check-in of an authenticated agent.
pub async fn checkin(
    state: &AppState,
    agent: &Agent,
    origin: Origin,
    c: CheckIn,
) -> ApiResult<CheckInReply> {
    let ctx = agent_ctx(state, agent, origin);
    let asset_id = agent.asset_id;
    let contact = AgentContact {
        agent_version: clean_text("agent_version", &c.agent_version, 64)?,
        kernel_running: c
            .kernel_running
            .as_deref()
            .map(|k| clean_text("kernel_running", k, 256))
            .transpose()?,
        reboot_required: c.reboot_required,
        restart_needed: c
            .restart_needed
            .iter()
            .take(MAX_RESTART_NEEDED)
            .map(|p| clean_text("restart_needed", p, 128))
            .collect::<Result<_, _>>()?,
    };
    // Last-seen is informative: a check-in that changes nothing else within a minute of
    // the last recorded contact writes nothing here (every write is an fsynced commit;
    // an inventory report records the asset's last-seen with the inventory).
    let recent = agent
        .last_seen_at
        .is_some_and(|t| ctx.at.duration_since(t).as_secs() < CONTACT_RECORD_SECS);
    let same = contact.agent_version == agent.agent_version
        && contact.kernel_running == agent.kernel_running
        && contact.reboot_required == agent.reboot_required
        && contact.restart_needed == agent.restart_needed;
    let due = !(recent && same);
    let record_contact = || async {
        if due {
            state
                .store
                .record_agent_contact(agent.id, ctx.at, &contact)
                .await?;
        }
        ApiResult::Ok(())
    };
    let mut stored_hash = None;
    if let Some(inv) = &c.inventory {
        let checked = match inv.check() {
            Ok(_) if inv.inventory_hash != c.inventory_hash => {
                Err(patchwarden_domain::ValidationError::new(
                    "inventory_hash",
                    "differs from the hash of the inventory sent",
                ))
            }
            other => other,
        };
        let checked = match checked {
            Ok(checked) => checked,
            Err(e) => {
                // The agent was heard from even though its report is refused.
                record_contact().await?;
                return Err(e.into());
            }
        };
        let mut asset = state.store.get_asset(asset_id).await?;
        if asset.os != inv.os {
            let patch = AssetPatch {
                os: Some(inv.os.clone()),
                ..AssetPatch::default()
            };
            asset = state.store.update_asset(&ctx, asset_id, &patch).await?;
        }
        // The contact and the report share a commit where the store can.
        let stored = state
            .store
            .record_agent_report(
                &ctx,
                due.then_some((agent.id, ctx.at, &contact)),
                &asset,
                &checked,
            )
            .await?;
        asset.package_format = Some(inv.format);
        asset.inventory_hash = Some(stored.hash);
        let packages: Vec<_> = inv.package_refs().collect();
        rematch_asset_with(state, &ctx, &asset, &packages).await?;
        stored_hash = asset.inventory_hash;
    } else {
        record_contact().await?;
    }
    if let Some(pending) = &c.pending_updates {
        security_signal(state, &ctx, asset_id, pending).await?;
    }
    let mut acknowledged = Vec::new();
    if !c.reports.is_empty() {
        let mut items = Vec::with_capacity(c.reports.len());
        for r in &c.reports {
            let status = serde_json::to_value(r.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let report_json = serde_json::to_string(r).map_err(ApiError::internal)?;
            items.push(NewJobReport {
                job_id: r.job_id.clone(),
                status,
                report_json,
            });
        }
        let rec = state
            .store
            .record_job_reports(&ctx, agent.id, &items)
            .await?;
        if !rec.unknown.is_empty() {
            // Acknowledged anyway: the agent would otherwise resend them forever.
            tracing::warn!(agent = agent.id, jobs = ?rec.unknown, "reports for jobs this agent does not have");
        }
        acknowledged.extend(rec.stored);
        acknowledged.extend(rec.unknown);
    }
    // The agent record was read with its asset's inventory hash and whether any of its
    // jobs is unfinished, so an unchanged check-in needs no further read.
    let stored_hash = stored_hash.or_else(|| agent.asset_inventory_hash.clone());
    let jobs = if agent.unfinished_jobs {
        state
            .store
            .deliver_jobs(agent.id, ctx.at)
            .await?
            .into_iter()
            .map(|j| SignedJob {
                job: j.job_json,
                signature: j.signature,
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(CheckInReply {
        send_inventory: stored_hash.as_deref() != Some(c.inventory_hash.as_str()),
        jobs,
        next_checkin_secs: CHECKIN_INTERVAL_SECS,
        acknowledged,
    })
}

/// Security updates the host's package manager offers become advisories that
/// matching treats like any other (as `quickstart` does for the local host).
async fn security_signal(
    state: &AppState,
    ctx: &AuditCtx,
    asset_id: patchwarden_domain::ids::AssetId,
    pending: &[patchwarden_wire::agent::PendingUpdate],
) -> ApiResult<()> {
    let asset = state.store.get_asset(asset_id).await?;
    let (Some(format), Some(distro)) = (
        asset.package_format,
        patchwarden_match::distro_key(&asset.os),
    ) else {
        return Ok(());
    };
    let updates: Vec<SecurityUpdate<'_>> = pending
        .iter()
        .filter(|u| u.security)
        .map(|u| SecurityUpdate {
            name: &u.name,
            arch: &u.arch,
            candidate: &u.candidate,
            origin: if u.origin.is_empty() {
                "security"
            } else {
                &u.origin
            },
        })
        .collect();
    crate::service::matching::store_security_signal(state, ctx, &distro, format, &updates).await
}
