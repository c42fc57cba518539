//! Enrolment and check-in bodies.

use crate::job::{JobReport, SignedJob};
use crate::InventoryReport;
use jiff::Timestamp;
use patchwarden_domain::asset::{Hostname, OsInfo};
use serde::{Deserialize, Serialize};

/// `POST /api/v1/agent/enroll`: an enrolment token buys a per-agent identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// The enrolment token an administrator created (`pwe_...`).
    pub token: String,
    pub hostname: Hostname,
    pub os: OsInfo,
    /// The agent's own Ed25519 public key (base64); it signs every later request.
    pub public_key: String,
    pub agent_version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollResponse {
    pub agent_id: i64,
    /// The asset this agent reports for.
    pub asset_id: i64,
    /// The server's job-signing public key (base64), pinned by the agent.
    pub server_job_key: String,
    pub checkin_interval_secs: u64,
}

/// A package update the host's package manager offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingUpdate {
    pub name: String,
    pub arch: String,
    pub installed: String,
    pub candidate: String,
    /// Where the candidate comes from (`Debian-Security:12/stable-security`, an
    /// updateinfo id ...).
    pub origin: String,
    /// From a security archive or a security advisory.
    pub security: bool,
}

/// `POST /api/v1/agent/checkin`, signed by the agent's key. Small when nothing
/// changed: the inventory is sent only when its hash differs from what the server has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckIn {
    pub agent_version: String,
    pub sent_at: Timestamp,
    pub inventory_hash: String,
    /// The full inventory, when changed (or asked for).
    pub inventory: Option<InventoryReport>,
    pub pending_updates: Option<Vec<PendingUpdate>>,
    pub kernel_running: Option<String>,
    pub reboot_required: bool,
    /// Processes that still map shared libraries replaced on disk (`name[pid]`), where
    /// the agent can see them: they need a restart to run the patched code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restart_needed: Vec<String>,
    /// Results of jobs since the last acknowledged check-in, oldest first.
    pub reports: Vec<JobReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckInReply {
    /// The server does not have this inventory hash: send the full inventory next time.
    pub send_inventory: bool,
    pub jobs: Vec<SignedJob>,
    pub next_checkin_secs: u64,
    /// Reports the server stored (by job id), so the agent can drop them from its spool.
    pub acknowledged: Vec<String>,
}
