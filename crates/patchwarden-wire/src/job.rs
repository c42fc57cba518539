//! Jobs: what the server asks an agent to do. The agent executes only these typed
//! operations — never a shell command from the server — and only from a job signed
//! with the server key it pinned, addressed to it, unexpired and not seen before.

use crate::sign::{verify, SecretKey, SignatureError};
use jiff::{SignedDuration, Timestamp};
use patchwarden_domain::package::InstalledPackage;
use serde::{Deserialize, Serialize};

/// Install or upgrade one package to an exact version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageTarget {
    pub name: String,
    pub version: String,
    /// Limit to one architecture (multi-arch hosts); none = the package's own.
    #[serde(default)]
    pub arch: Option<String>,
}

/// One typed step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Operation {
    /// Refresh the package manager's metadata (`apt-get update`, `dnf makecache`).
    RefreshMetadata,
    /// Bring these packages to these versions, from the configured repositories only.
    Install { packages: Vec<PackageTarget> },
    /// Restore the package set recorded before deployment `deployment` (from the
    /// agent's own backup of package files).
    Rollback { deployment: String },
    /// Run the health checks the agent's local configuration defines (by name; empty
    /// = all of them).
    HealthChecks { names: Vec<String> },
    /// Reboot, subject to the job's reboot policy.
    Reboot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RebootPolicy {
    Never,
    IfNeeded,
    Always,
}

/// A unit of work for one agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// Unique id; an agent runs a job id at most once.
    pub id: String,
    pub agent_id: i64,
    /// The deployment this job belongs to, for the record.
    pub deployment: Option<String>,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    pub operations: Vec<Operation>,
    /// On a failed install, verification or health check: roll back at once (true),
    /// or report and wait for an approved revocation job (false).
    pub rollback_on_failure: bool,
    pub reboot: RebootPolicy,
}

/// A job as sent: the exact JSON text that was signed, and the signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedJob {
    pub job: String,
    pub signature: String,
}

/// Why an agent refused a job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobRejected {
    #[error("job signature: {0}")]
    Signature(#[from] SignatureError),
    #[error("job is not valid JSON for this protocol: {0}")]
    Malformed(String),
    #[error("job is addressed to agent {to}, not {me}")]
    WrongAgent { to: i64, me: i64 },
    #[error("job expired at {0}")]
    Expired(Timestamp),
    #[error("job claims to be issued at {0}, too far in the future (clock skew?)")]
    FromTheFuture(Timestamp),
    #[error("job {0} was already received: replay refused")]
    Replayed(String),
}

const JOB_DOMAIN: &[u8] = b"PW-JOB-1\n";

fn message(job_json: &str) -> Vec<u8> {
    let mut m = JOB_DOMAIN.to_vec();
    m.extend_from_slice(job_json.as_bytes());
    m
}

impl SignedJob {
    /// Serialises and signs a job with the server's job key.
    pub fn sign(job: &Job, key: &SecretKey) -> Self {
        let text = serde_json::to_string(job).unwrap_or_default();
        let signature = key.sign(&message(&text));
        Self {
            job: text,
            signature,
        }
    }

    /// Verifies everything an agent must check before acting: the signature against
    /// the pinned server key first (nothing unsigned is even parsed), then the
    /// addressee, the validity window (allowing `skew` either way) and replay.
    pub fn open(
        &self,
        server_key_b64: &str,
        me: i64,
        now: Timestamp,
        skew: SignedDuration,
        seen_before: impl Fn(&str) -> bool,
    ) -> Result<Job, JobRejected> {
        verify(server_key_b64, &message(&self.job), &self.signature)?;
        let job: Job =
            serde_json::from_str(&self.job).map_err(|e| JobRejected::Malformed(e.to_string()))?;
        if job.agent_id != me {
            return Err(JobRejected::WrongAgent {
                to: job.agent_id,
                me,
            });
        }
        if now.checked_sub(skew).is_ok_and(|t| t > job.expires_at) {
            return Err(JobRejected::Expired(job.expires_at));
        }
        if now.checked_add(skew).is_ok_and(|t| t < job.issued_at) {
            return Err(JobRejected::FromTheFuture(job.issued_at));
        }
        if seen_before(&job.id) {
            return Err(JobRejected::Replayed(job.id));
        }
        Ok(job)
    }
}

/// State of a job as the agent reports it. Every status but `running` is final.
///
/// Compatibility: the statuses are a closed set of strings; a server that predates a
/// status refuses a check-in whose reports carry it, so a server is upgraded before its
/// agents (the server and agent of one release agree).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Running,
    Succeeded,
    /// Failed, and nothing is left to undo: nothing was changed, or a rollback failed
    /// (see the steps).
    Failed,
    RolledBack,
    /// The install, its verification, a health check or a local hook failed, the job
    /// did not allow an automatic rollback (`rollback_on_failure` false) and packages
    /// were changed: the host is left as the failure left it until an approved
    /// revocation job — a `Rollback { deployment }` naming the job's deployment, else
    /// its id — restores the package set recorded before the change, which the report
    /// carries in [`JobReport::before`] (a report without it is refused:
    /// [`JobReport::check`]).
    AwaitingRevocation,
    /// The agent stopped (killed, rebooted) in the middle; the report says how far it got.
    Interrupted,
    /// Refused before doing anything (see the steps for why).
    Rejected,
}

/// One step's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepReport {
    /// `snapshot`, `backup`, `install`, `verify`, `health:<name>`, `rollback`, `reboot` ...
    pub step: String,
    pub ok: bool,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    /// The end of the tool's output (bounded).
    pub log_excerpt: String,
}

/// What the agent says about one job.
///
/// Parsed through [`JobReport::check`]: a report that breaks its rules is refused by
/// the parser (the server's check-in body, the agent's spool), so none is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "UncheckedJobReport")]
pub struct JobReport {
    pub job_id: String,
    pub status: JobStatus,
    pub steps: Vec<StepReport>,
    /// The package set before the change (what a rollback restores). Always present
    /// with [`JobStatus::AwaitingRevocation`].
    pub before: Option<Vec<InstalledPackage>>,
    /// Installed versions of the targeted packages afterwards.
    pub after: Option<Vec<InstalledPackage>>,
    pub reboot_required: bool,
}

/// Why a [`JobReport`] is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidReport {
    #[error(
        "job {0}: an awaiting_revocation report must carry before, the package set \
         recorded before the change (what the revocation restores)"
    )]
    AwaitingRevocationWithoutBefore(String),
}

impl JobReport {
    /// The rules every report keeps: a [`JobStatus::AwaitingRevocation`] report
    /// carries [`JobReport::before`] (without it no one can tell what the revocation
    /// is to restore).
    pub fn check(&self) -> Result<(), InvalidReport> {
        if self.status == JobStatus::AwaitingRevocation && self.before.is_none() {
            return Err(InvalidReport::AwaitingRevocationWithoutBefore(
                self.job_id.clone(),
            ));
        }
        Ok(())
    }
}

/// A [`JobReport`] as read, before [`JobReport::check`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UncheckedJobReport {
    job_id: String,
    status: JobStatus,
    steps: Vec<StepReport>,
    before: Option<Vec<InstalledPackage>>,
    after: Option<Vec<InstalledPackage>>,
    reboot_required: bool,
}

impl TryFrom<UncheckedJobReport> for JobReport {
    type Error = InvalidReport;

    fn try_from(r: UncheckedJobReport) -> Result<Self, InvalidReport> {
        let report = JobReport {
            job_id: r.job_id,
            status: r.status,
            steps: r.steps,
            before: r.before,
            after: r.after,
            reboot_required: r.reboot_required,
        };
        report.check()?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(agent: i64, issued: Timestamp) -> Job {
        Job {
            id: "job-1".into(),
            agent_id: agent,
            deployment: Some("dep-9".into()),
            issued_at: issued,
            expires_at: issued.checked_add(SignedDuration::from_hours(1)).unwrap(),
            operations: vec![
                Operation::RefreshMetadata,
                Operation::Install {
                    packages: vec![PackageTarget {
                        name: "openssl".into(),
                        version: "3.0.11-1~deb12u2".into(),
                        arch: None,
                    }],
                },
                Operation::HealthChecks { names: vec![] },
            ],
            rollback_on_failure: true,
            reboot: RebootPolicy::IfNeeded,
        }
    }

    #[test]
    fn job_statuses_round_trip_as_snake_case_strings() {
        let all = [
            (JobStatus::Running, "running"),
            (JobStatus::Succeeded, "succeeded"),
            (JobStatus::Failed, "failed"),
            (JobStatus::RolledBack, "rolled_back"),
            (JobStatus::AwaitingRevocation, "awaiting_revocation"),
            (JobStatus::Interrupted, "interrupted"),
            (JobStatus::Rejected, "rejected"),
        ];
        for (status, text) in all {
            let json = serde_json::to_value(status).unwrap();
            assert_eq!(json, serde_json::json!(text));
            assert_eq!(serde_json::from_value::<JobStatus>(json).unwrap(), status);
        }
        assert!(serde_json::from_str::<JobStatus>("\"awaitingrevocation\"").is_err());
        // A whole report, with the package set a revocation restores.
        let report = JobReport {
            job_id: "job-1".into(),
            status: JobStatus::AwaitingRevocation,
            steps: Vec::new(),
            before: Some(vec![InstalledPackage {
                name: "openssl".into(),
                version: "3.0.11-1~deb12u1".into(),
                arch: "amd64".into(),
                source_name: None,
                source_version: None,
            }]),
            after: Some(Vec::new()),
            reboot_required: false,
        };
        let text = serde_json::to_string(&report).unwrap();
        assert!(
            text.contains("\"status\":\"awaiting_revocation\""),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<JobReport>(&text).unwrap(), report);
    }

    #[test]
    fn an_awaiting_revocation_report_without_before_is_refused() {
        let report = |status, before: Option<Vec<InstalledPackage>>| JobReport {
            job_id: "job-1".into(),
            status,
            steps: Vec::new(),
            before,
            after: None,
            reboot_required: false,
        };
        let missing = report(JobStatus::AwaitingRevocation, None);
        assert_eq!(
            missing.check(),
            Err(InvalidReport::AwaitingRevocationWithoutBefore(
                "job-1".into()
            ))
        );
        // Refused by the parser too, with the reason, whether `before` is null or absent.
        let text = serde_json::to_string(&missing).unwrap();
        assert!(text.contains("\"before\":null"), "{text}");
        let err = serde_json::from_str::<JobReport>(&text).unwrap_err();
        assert!(
            err.to_string()
                .contains("job job-1: an awaiting_revocation report must carry before"),
            "{err}"
        );
        let absent = text.replace("\"before\":null,", "");
        assert!(
            serde_json::from_str::<JobReport>(&absent).is_err(),
            "{absent}"
        );
        // Present (an empty set is a recorded set), or another status: accepted.
        let kept = report(JobStatus::AwaitingRevocation, Some(Vec::new()));
        assert_eq!(kept.check(), Ok(()));
        let text = serde_json::to_string(&kept).unwrap();
        assert_eq!(serde_json::from_str::<JobReport>(&text).unwrap(), kept);
        for status in [
            JobStatus::Running,
            JobStatus::Succeeded,
            JobStatus::Failed,
            JobStatus::RolledBack,
            JobStatus::Interrupted,
            JobStatus::Rejected,
        ] {
            let r = report(status, None);
            assert_eq!(r.check(), Ok(()), "{status:?}");
            let text = serde_json::to_string(&r).unwrap();
            assert_eq!(serde_json::from_str::<JobReport>(&text).unwrap(), r);
        }
        // Unknown fields are still refused.
        let odd = text.replace("\"job_id\"", "\"shell\":\"x\",\"job_id\"");
        let err = serde_json::from_str::<JobReport>(&odd).unwrap_err();
        assert!(err.to_string().contains("unknown field `shell`"), "{err}");
    }

    #[test]
    fn an_agent_accepts_only_what_it_must() {
        let server = SecretKey::generate();
        let pk = server.public_b64();
        let t0: Timestamp = "2026-11-25T10:00:00Z".parse().unwrap();
        let skew = SignedDuration::from_mins(5);
        let never = |_: &str| false;
        let sj = SignedJob::sign(&job(7, t0), &server);
        assert_eq!(sj.open(&pk, 7, t0, skew, never).unwrap(), job(7, t0));
        // Signed by someone else.
        let forged = SignedJob::sign(&job(7, t0), &SecretKey::generate());
        assert!(matches!(
            forged.open(&pk, 7, t0, skew, never),
            Err(JobRejected::Signature(SignatureError::Invalid))
        ));
        // Altered after signing: e.g. another version, or a shell command smuggled in.
        let mut altered = sj.clone();
        altered.job = altered.job.replace("deb12u2", "deb12u9");
        assert!(matches!(
            altered.open(&pk, 7, t0, skew, never),
            Err(JobRejected::Signature(_))
        ));
        let mut unsigned = sj.clone();
        unsigned.signature = String::new();
        assert!(matches!(
            unsigned.open(&pk, 7, t0, skew, never),
            Err(JobRejected::Signature(_))
        ));
        // For another agent, expired, from the future, replayed.
        assert_eq!(
            sj.open(&pk, 8, t0, skew, never),
            Err(JobRejected::WrongAgent { to: 7, me: 8 })
        );
        let late = t0.checked_add(SignedDuration::from_mins(66)).unwrap();
        assert!(matches!(
            sj.open(&pk, 7, late, skew, never),
            Err(JobRejected::Expired(_))
        ));
        let early = t0.checked_sub(SignedDuration::from_mins(6)).unwrap();
        assert!(matches!(
            sj.open(&pk, 7, early, skew, never),
            Err(JobRejected::FromTheFuture(_))
        ));
        assert_eq!(
            sj.open(&pk, 7, t0, skew, |id| id == "job-1"),
            Err(JobRejected::Replayed("job-1".into()))
        );
        // Unknown operations are not executed by a lenient parser.
        let odd = SignedJob {
            job: sj
                .job
                .replace("\"op\":\"reboot\"", "\"op\":\"shell\"")
                .replace(
                    "\"op\":\"refresh_metadata\"",
                    "\"op\":\"shell\",\"command\":\"rm -rf /\"",
                ),
            signature: String::new(),
        };
        let resigned = SignedJob {
            signature: server.sign(&message(&odd.job)),
            ..odd
        };
        assert!(matches!(
            resigned.open(&pk, 7, t0, skew, never),
            Err(JobRejected::Malformed(_))
        ));
    }
}
