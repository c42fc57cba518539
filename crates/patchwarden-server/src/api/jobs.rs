//! Jobs for agents: queue a typed, signed job for an asset's agent, and read a job
//! with the reports its agent sent. Also the OpenAPI schemas of the agent routes.

use super::extract::{ApiJson, IdPath};
use crate::auth::{perm, Need};
use crate::error::{ApiError, ApiResult};
use crate::service::agents::job_key;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use jiff::{SignedDuration, Timestamp};
use patchwarden_domain::ids::AssetId;
use patchwarden_domain::ValidationError;
use patchwarden_store::{NewJob, StoredJob};
use patchwarden_wire::job::{Job, JobReport, Operation, RebootPolicy, SignedJob};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// What a job's `status` can be: `queued`, then the agent's `JobStatus` as it
/// serialises (checked against it by a test).
const JOB_STATUSES: [&str; 8] = [
    "queued",
    "running",
    "succeeded",
    "failed",
    "rolled_back",
    "awaiting_revocation",
    "interrupted",
    "rejected",
];

/// Most operations one job may carry.
const MAX_OPERATIONS: usize = 32;
/// Most packages one install operation may name.
const MAX_TARGETS: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueJobRequest {
    operations: Vec<Operation>,
    #[serde(default)]
    rollback_on_failure: bool,
    #[serde(default = "never")]
    reboot: RebootPolicy,
    /// Minutes the job stays valid (default 60, at most 7 days).
    expires_in_minutes: Option<u32>,
}

fn never() -> RebootPolicy {
    RebootPolicy::Never
}

fn check(ops: &[Operation]) -> Result<(), ValidationError> {
    if ops.is_empty() || ops.len() > MAX_OPERATIONS {
        return Err(ValidationError::new(
            "operations",
            format!("1 to {MAX_OPERATIONS} operations"),
        ));
    }
    for op in ops {
        if let Operation::Install { packages } = op {
            if packages.is_empty() || packages.len() > MAX_TARGETS {
                return Err(ValidationError::new(
                    "operations",
                    format!("an install names 1 to {MAX_TARGETS} packages"),
                ));
            }
            if packages
                .iter()
                .any(|p| p.name.trim().is_empty() || p.version.trim().is_empty())
            {
                return Err(ValidationError::new(
                    "operations",
                    "every package needs a name and an exact version",
                ));
            }
        }
    }
    Ok(())
}

/// A job with what its agent reported.
#[derive(Debug, Serialize)]
pub struct JobView {
    pub id: String,
    pub agent_id: i64,
    pub asset_id: AssetId,
    pub job: Job,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    /// Status of the latest report; `queued` before any.
    pub status: String,
    pub finished_at: Option<Timestamp>,
    pub reports: Vec<ReportView>,
}

#[derive(Debug, Serialize)]
pub struct ReportView {
    pub received_at: Timestamp,
    #[serde(flatten)]
    pub report: StoredReport,
}

/// A stored report as shown: the agent's report, or, when what was stored no longer
/// parses as one (stored before a check `JobReport` now makes, such as `before` being
/// required with `awaiting_revocation`), the stored JSON as it is under `raw`, with
/// why it did not parse under `unparsed`. A report once accepted is never a 500.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum StoredReport {
    Parsed(JobReport),
    Unparsed {
        /// Why the stored report does not parse as a `JobReport` today.
        unparsed: String,
        /// The stored report: its JSON value, or its text when it is not JSON at all.
        raw: Value,
    },
}

impl StoredReport {
    /// Reads the `report_json` of stored report `id` of job `job`; one that no longer
    /// parses is kept as its raw value, with a warning logged.
    fn read(job: &str, id: i64, report_json: &str) -> Self {
        match serde_json::from_str::<JobReport>(report_json) {
            Ok(report) => Self::Parsed(report),
            Err(e) => {
                tracing::warn!(
                    job,
                    report = id,
                    error = %e,
                    "a stored job report no longer parses; shown as stored"
                );
                let raw = serde_json::from_str(report_json)
                    .unwrap_or_else(|_| Value::String(report_json.to_owned()));
                Self::Unparsed {
                    unparsed: e.to_string(),
                    raw,
                }
            }
        }
    }
}

fn view(stored: StoredJob, reports: Vec<ReportView>) -> ApiResult<JobView> {
    let job: Job = serde_json::from_str(&stored.job_json).map_err(ApiError::internal)?;
    Ok(JobView {
        id: stored.id,
        agent_id: stored.agent_id,
        asset_id: stored.asset_id,
        job,
        created_at: stored.created_at,
        delivered_at: stored.delivered_at,
        status: stored.status.unwrap_or_else(|| "queued".to_owned()),
        finished_at: stored.finished_at,
        reports,
    })
}

/// `POST /api/v1/assets/{id}/jobs`: signs and queues a job for the asset's agent.
pub async fn queue(
    State(state): State<AppState>,
    Need(caller, ..): Need<perm::DeploymentRun>,
    IdPath(asset): IdPath<AssetId>,
    ApiJson(req): ApiJson<QueueJobRequest>,
) -> ApiResult<(StatusCode, Json<JobView>)> {
    check(&req.operations)?;
    let minutes = match req.expires_in_minutes.unwrap_or(60) {
        m @ 1..=10_080 => m,
        _ => return Err(ValidationError::new("expires_in_minutes", "must be 1 to 10080").into()),
    };
    state.store.get_asset(asset).await?;
    let agent = state
        .store
        .list_agents()
        .await?
        .into_iter()
        .filter(|a| a.asset_id == asset && a.revoked_at.is_none())
        .max_by_key(|a| a.id)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "no_agent",
                "this asset has no enrolled, unrevoked agent",
            )
        })?;
    let ctx = caller.ctx(&state);
    let job = Job {
        id: uuid::Uuid::new_v4().to_string(),
        agent_id: agent.id,
        deployment: None,
        issued_at: ctx.at,
        expires_at: ctx
            .at
            .checked_add(SignedDuration::from_mins(i64::from(minutes)))
            .map_err(ApiError::internal)?,
        operations: req.operations,
        rollback_on_failure: req.rollback_on_failure,
        reboot: req.reboot,
    };
    let signed = SignedJob::sign(&job, &job_key(&state).await?);
    let stored = state
        .store
        .create_job(
            &ctx,
            &NewJob {
                id: job.id.clone(),
                agent_id: agent.id,
                job_json: signed.job,
                signature: signed.signature,
                issued_at: job.issued_at,
                expires_at: job.expires_at,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(view(stored, Vec::new())?)))
}

/// `GET /api/v1/jobs/{id}`: the job and every report (steps, timing, log excerpts).
pub async fn get_one(
    State(state): State<AppState>,
    _: Need<perm::FindingRead>,
    Path(id): Path<String>,
) -> ApiResult<Json<JobView>> {
    let stored = state.store.get_job(&id).await?;
    let mut reports = Vec::new();
    for r in state.store.list_job_reports(&id).await? {
        reports.push(ReportView {
            received_at: r.received_at,
            report: StoredReport::read(&id, r.id, &r.report_json),
        });
    }
    Ok(Json(view(stored, reports)?))
}

/// OpenAPI schemas of the agent and job routes.
pub fn schemas() -> Map<String, Value> {
    let s = json!({ "type": "string" });
    let b = json!({ "type": "boolean" });
    let i = json!({ "type": "integer", "format": "int64" });
    let t = json!({ "type": "string", "format": "date-time" });
    let opt = |v: &Value| json!({ "oneOf": [v, { "type": "null" }] });
    let r = |n: &str| json!({ "$ref": format!("#/components/schemas/{n}") });
    let obj = |req: &[&str], props: Value| json!({ "type": "object", "required": req, "properties": props });
    let arr = |v: Value| json!({ "type": "array", "items": v });
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_owned(), v);
    };
    put(
        "EnrollRequest",
        obj(
            &["token", "hostname", "os", "public_key", "agent_version"],
            json!({ "token": { "type": "string", "description": "pwe_... from POST /api/v1/agents/enrollment-tokens" }, "hostname": s, "os": r("OsInfo"), "public_key": { "type": "string", "description": "the agent's Ed25519 public key, base64" }, "agent_version": s }),
        ),
    );
    put(
        "EnrollResponse",
        obj(
            &[
                "agent_id",
                "asset_id",
                "server_job_key",
                "checkin_interval_secs",
            ],
            json!({ "agent_id": i, "asset_id": i, "server_job_key": { "type": "string", "description": "the server's Ed25519 job-signing public key, base64" }, "checkin_interval_secs": i }),
        ),
    );
    put(
        "CheckIn",
        json!({ "type": "object", "description": "patchwarden_wire::agent::CheckIn, optionally gzipped (Content-Encoding: gzip); signed with the headers x-patchwarden-agent, x-patchwarden-timestamp and x-patchwarden-signature (Ed25519 over method, path, timestamp and the SHA-256 of the body as sent)", "required": ["agent_version", "sent_at", "inventory_hash", "reboot_required", "reports"] }),
    );
    put(
        "SignedJob",
        obj(
            &["job", "signature"],
            json!({ "job": { "type": "string", "description": "the Job as the exact JSON text that was signed" }, "signature": s }),
        ),
    );
    put(
        "CheckInReply",
        obj(
            &[
                "send_inventory",
                "jobs",
                "next_checkin_secs",
                "acknowledged",
            ],
            json!({ "send_inventory": b, "jobs": arr(r("SignedJob")), "next_checkin_secs": i, "acknowledged": arr(s.clone()) }),
        ),
    );
    put(
        "CreateEnrollmentTokenRequest",
        obj(
            &["name"],
            json!({ "name": s, "reusable": b, "expires_in_hours": { "type": "integer", "minimum": 1, "maximum": 8760 } }),
        ),
    );
    put(
        "EnrollmentToken",
        obj(
            &[
                "id",
                "name",
                "prefix",
                "reusable",
                "created_at",
                "expires_at",
                "used_count",
            ],
            json!({ "id": i, "name": s, "prefix": s, "reusable": b, "created_at": t, "expires_at": t, "revoked_at": opt(&t), "used_count": i, "last_used_at": opt(&t) }),
        ),
    );
    put(
        "CreatedEnrollmentToken",
        obj(
            &["token", "secret"],
            json!({ "token": r("EnrollmentToken"), "secret": { "type": "string", "description": "pwe_...; shown once" } }),
        ),
    );
    put(
        "EnrollmentTokenList",
        obj(&["tokens"], json!({ "tokens": arr(r("EnrollmentToken")) })),
    );
    put(
        "Agent",
        obj(
            &[
                "id",
                "asset_id",
                "hostname",
                "public_key",
                "agent_version",
                "enrollment_token_id",
                "enrolled_at",
                "reboot_required",
                "restart_needed",
            ],
            json!({ "id": i, "asset_id": i, "hostname": s, "public_key": s, "agent_version": s, "enrollment_token_id": i, "enrolled_at": t, "last_seen_at": opt(&t), "revoked_at": opt(&t), "kernel_running": opt(&s), "reboot_required": b, "restart_needed": { "type": "array", "items": s, "description": "processes still mapping replaced shared libraries, name[pid]" } }),
        ),
    );
    put(
        "AgentList",
        obj(&["agents"], json!({ "agents": arr(r("Agent")) })),
    );
    put(
        "QueueJobRequest",
        obj(
            &["operations"],
            json!({ "operations": arr(json!({ "type": "object", "description": "{\"op\": \"refresh_metadata\" | \"install\" (packages: [{name, version, arch?}]) | \"rollback\" (deployment) | \"health_checks\" (names) | \"reboot\"}", "required": ["op"] })), "rollback_on_failure": b, "reboot": { "type": "string", "enum": ["never", "if_needed", "always"] }, "expires_in_minutes": { "type": "integer", "minimum": 1, "maximum": 10080 } }),
        ),
    );
    put(
        "AgentJob",
        obj(
            &[
                "id",
                "agent_id",
                "asset_id",
                "job",
                "created_at",
                "status",
                "reports",
            ],
            json!({ "id": s, "agent_id": i, "asset_id": i, "job": { "type": "object", "description": "patchwarden_wire::job::Job as signed" }, "created_at": t, "delivered_at": opt(&t), "status": { "type": "string", "enum": JOB_STATUSES, "description": "queued, or the status of the agent's report: running, succeeded, failed (nothing left to undo), rolled_back, awaiting_revocation (failed without automatic rollback and left the host changed: a rollback job naming the job's deployment, else its id, restores the report's before), interrupted, rejected" }, "finished_at": opt(&t), "reports": arr(json!({ "type": "object", "description": "patchwarden_wire::job::JobReport (status, steps with step, ok, started_at, finished_at, log_excerpt; before: the package set recorded before the change, always present with awaiting_revocation; after; reboot_required) plus received_at; a stored report that no longer parses as one (stored before a check it now makes) is shown as received_at, unparsed (why) and raw (the report as stored)" })) }),
        ),
    );
    m
}

#[cfg(test)]
mod tests {
    use super::JOB_STATUSES;
    use patchwarden_wire::job::JobStatus;

    #[test]
    fn the_documented_statuses_are_the_wire_statuses() {
        let wire = [
            JobStatus::Running,
            JobStatus::Succeeded,
            JobStatus::Failed,
            JobStatus::RolledBack,
            JobStatus::AwaitingRevocation,
            JobStatus::Interrupted,
            JobStatus::Rejected,
        ];
        let mut want = vec!["queued".to_owned()];
        for s in wire {
            // A new wire status stops this match compiling: list it above and in
            // JOB_STATUSES.
            match s {
                JobStatus::Running
                | JobStatus::Succeeded
                | JobStatus::Failed
                | JobStatus::RolledBack
                | JobStatus::AwaitingRevocation
                | JobStatus::Interrupted
                | JobStatus::Rejected => {}
            }
            want.push(
                serde_json::to_value(s)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        assert_eq!(JOB_STATUSES.to_vec(), want);
    }
}
