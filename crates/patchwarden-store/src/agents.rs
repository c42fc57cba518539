//! Records for endpoint agents: enrolment tokens, enrolled agents, the server's
//! job-signing key, and the signed jobs queued for agents with the reports they sent.
//!
//! The store keeps a job as the exact JSON text that was signed plus its signature,
//! and a report as the agent's JSON: it does not interpret the wire protocol, it only
//! needs to know which reports are final (see [`NewJobReport::is_final`]).

use crate::NewAsset;
use jiff::Timestamp;
use patchwarden_domain::ids::AssetId;
use serde::{Deserialize, Serialize};

/// A new enrolment token; only the SHA-256 of its secret is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEnrollmentToken {
    pub name: String,
    /// First characters of the secret, shown in listings.
    pub prefix: String,
    /// SHA-256 (hex) of the secret.
    #[serde(skip_serializing)]
    pub token_hash: String,
    /// May enrol any number of agents until it expires; otherwise exactly one.
    pub reusable: bool,
    pub expires_at: Timestamp,
}

/// An enrolment token as listed (never its secret or hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollmentToken {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub reusable: bool,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    /// Agents enrolled with it.
    pub used_count: u32,
    pub last_used_at: Option<Timestamp>,
}

impl EnrollmentToken {
    /// Whether it would enrol an agent at `now`.
    pub fn is_usable(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none()
            && self.expires_at > now
            && (self.reusable || self.used_count == 0)
    }
}

/// What an agent presents at enrolment. `asset` is the asset to create when no asset
/// has the host name yet; an existing one is attached to as it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAgent {
    pub asset: NewAsset,
    /// The agent's Ed25519 public key (base64).
    pub public_key: String,
    pub agent_version: String,
}

/// An enrolled agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    pub id: i64,
    pub asset_id: AssetId,
    /// The host name of its asset (at the time of reading).
    pub hostname: String,
    pub public_key: String,
    pub agent_version: String,
    /// The enrolment token it used.
    pub enrollment_token_id: i64,
    pub enrolled_at: Timestamp,
    pub last_seen_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub kernel_running: Option<String>,
    pub reboot_required: bool,
    /// Processes still mapping shared libraries that were replaced on disk
    /// (`name[pid]`): they need a restart to use the patched code.
    pub restart_needed: Vec<String>,
    /// The inventory hash of its asset when read, so that a check-in can answer
    /// "send your inventory" without reading the asset again (not part of the API).
    #[serde(skip)]
    pub asset_inventory_hash: Option<String>,
    /// Whether a job of this agent was unfinished when read; when not, a check-in
    /// skips job delivery (not part of the API).
    #[serde(skip)]
    pub unfinished_jobs: bool,
}

/// What an agent said about itself in a check-in (recorded without an audit event,
/// like a token's last use).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentContact {
    pub agent_version: String,
    pub kernel_running: Option<String>,
    pub reboot_required: bool,
    pub restart_needed: Vec<String>,
}

/// The server key stored once and shared by every replica (for jobs: an Ed25519 seed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewServerKey {
    /// e.g. `job_signing`.
    pub name: String,
    /// The secret (base64); never audited.
    pub secret: String,
    /// The public half (base64), recorded in the audit event.
    pub public: String,
}

/// A signed job to queue for an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewJob {
    /// Unique id (a UUID), as in the signed text.
    pub id: String,
    pub agent_id: i64,
    /// The exact JSON text that was signed.
    pub job_json: String,
    pub signature: String,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A queued job with what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredJob {
    pub id: String,
    pub agent_id: i64,
    pub asset_id: AssetId,
    pub job_json: String,
    pub signature: String,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
    /// First time it was handed to the agent.
    pub delivered_at: Option<Timestamp>,
    /// The status of the latest report (`None` before any).
    pub status: Option<String>,
    /// When the first final report arrived; a finished job is never sent again.
    pub finished_at: Option<Timestamp>,
}

/// One report of an agent about one of its jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewJobReport {
    pub job_id: String,
    /// The wire status (`running`, `succeeded`, `failed`, ...).
    pub status: String,
    /// The whole report as the agent sent it (JSON).
    pub report_json: String,
}

impl NewJobReport {
    /// Statuses after which the job is over.
    pub fn is_final(&self) -> bool {
        self.status != "running"
    }
}

/// A stored report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredJobReport {
    pub id: i64,
    pub job_id: String,
    pub status: String,
    pub report_json: String,
    pub received_at: Timestamp,
}

/// What [`crate::Store::record_job_reports`] did with each report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportsRecorded {
    /// Reports stored against a job of this agent.
    pub stored: Vec<String>,
    /// Reports naming a job this agent does not have (not stored).
    pub unknown: Vec<String>,
}

/// Result of a successful enrolment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolled {
    pub agent: Agent,
    /// The asset was created by this enrolment (rather than attached to).
    pub asset_created: bool,
}
