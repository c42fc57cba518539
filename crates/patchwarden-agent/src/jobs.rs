//! Jobs from the server: opened (signature, addressee, validity, replay), recorded as
//! seen before they run, executed by an [`Executor`], and reported through the spool.

use crate::spool::Spool;
use crate::state::SeenJobs;
use anyhow::Result;
use jiff::{SignedDuration, Timestamp};
use patchwarden_domain::package::InstalledPackage;
use patchwarden_wire::job::{Job, JobReport, JobStatus, SignedJob, StepReport};
use std::path::PathBuf;

/// How far a job's validity window may be off the local clock.
pub const JOB_SKEW: SignedDuration = SignedDuration::from_mins(5);
/// Longest log excerpt in a step report.
pub const MAX_EXCERPT_BYTES: usize = 4096;

/// Runs an accepted job ([`crate::deploy::PackageExecutor`] in the agent).
pub trait Executor: Send {
    fn run(&mut self, job: &Job) -> JobReport;

    /// Called once the report of the last job is spooled (a reboot waits for this).
    fn after_report(&mut self) {}

    /// Steps and the recorded package set describing a job that an earlier run of the
    /// agent started and never finished.
    fn inspect_interrupted(&self, _job: &Job) -> (Vec<StepReport>, Option<Vec<InstalledPackage>>) {
        (Vec::new(), None)
    }
}

/// A report refusing a job before anything ran.
pub fn rejected(job_id: &str, reason: &str, now: Timestamp) -> JobReport {
    JobReport {
        job_id: job_id.to_owned(),
        status: JobStatus::Rejected,
        steps: vec![step("reject", false, now, now, reason)],
        before: None,
        after: None,
        reboot_required: false,
    }
}

pub fn step(
    name: &str,
    ok: bool,
    started: Timestamp,
    finished: Timestamp,
    log: &str,
) -> StepReport {
    StepReport {
        step: name.to_owned(),
        ok,
        started_at: started,
        finished_at: finished,
        log_excerpt: excerpt(log),
    }
}

/// The end of `log`, at most [`MAX_EXCERPT_BYTES`], cut on a character boundary.
pub fn excerpt(log: &str) -> String {
    if log.len() <= MAX_EXCERPT_BYTES {
        return log.to_owned();
    }
    let mut start = log.len() - MAX_EXCERPT_BYTES;
    while !log.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &log[start..])
}

/// Job ids are used in file contents and logs: keep them plain.
fn acceptable_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

/// What became of one signed job.
#[derive(Debug)]
pub enum Opened {
    Accepted(Job),
    /// Refused; the report is to be spooled.
    Refused(JobReport),
    /// Refused, and not even an id to report it under.
    Dropped(String),
}

/// Checks one signed job with the pinned key. A refused job is reported under the id
/// it claims (unverified, said so in the step) when it has one.
pub fn open(
    signed: &SignedJob,
    server_key: &str,
    agent_id: i64,
    now: Timestamp,
    seen: &SeenJobs,
) -> Opened {
    match signed.open(server_key, agent_id, now, JOB_SKEW, |id| seen.contains(id)) {
        Ok(job) if acceptable_id(&job.id) => Opened::Accepted(job),
        Ok(job) => Opened::Dropped(format!("job id {:?} is not acceptable", job.id)),
        Err(why) => {
            let claimed = serde_json::from_str::<serde_json::Value>(&signed.job)
                .ok()
                .and_then(|v| v["id"].as_str().map(str::to_owned))
                .filter(|id| acceptable_id(id));
            match claimed {
                Some(id) => Opened::Refused(rejected(&id, &format!("refused: {why}"), now)),
                None => Opened::Dropped(format!("refused a job without a usable id: {why}")),
            }
        }
    }
}

/// Runs an accepted job durably: its id goes to `seen_jobs` and a start marker to the
/// spool before it runs; the report is spooled before the marker is removed. A crash
/// anywhere in between leaves a marker that [`recover_interrupted`] turns into an
/// `interrupted` report, and the id refuses a second run.
pub fn begin(job: &Job, seen: &mut SeenJobs, spool: &mut Spool, now: Timestamp) -> Result<PathBuf> {
    seen.record(&job.id)?;
    spool.mark_started(job, now)
}

pub fn finish(spool: &mut Spool, marker: &std::path::Path, report: &JobReport) -> Result<()> {
    spool.push_report(report)?;
    spool.clear_started(marker)
}

/// Reports every job that started but never finished as `interrupted`, with what the
/// executor can tell about it (package database state, the recorded package set).
pub fn recover_interrupted(
    spool: &mut Spool,
    now: Timestamp,
    executor: &dyn Executor,
) -> Result<usize> {
    let started = spool.take_started()?;
    let reported: Vec<String> = spool
        .pending_reports()?
        .into_iter()
        .map(|r| r.job_id)
        .collect();
    let n = started.len();
    for (marker, s) in started {
        if !reported.contains(&s.job.id) {
            crate::warn(&format!(
                "job {} started at {} was interrupted (agent stopped); reporting it",
                s.job.id, s.started_at
            ));
            let (facts, before) = executor.inspect_interrupted(&s.job);
            let mut steps = vec![step(
                "interrupted",
                false,
                s.started_at,
                now,
                "the agent stopped while this job ran (killed, crashed or rebooted); \
                 its outcome is unknown and it will not be run again",
            )];
            steps.extend(facts);
            spool.push_report(&JobReport {
                job_id: s.job.id.clone(),
                status: JobStatus::Interrupted,
                steps,
                before,
                after: None,
                reboot_required: false,
            })?;
        }
        spool.clear_started(&marker)?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::state::StateDir;
    use patchwarden_wire::job::{Operation, RebootPolicy};
    use patchwarden_wire::sign::SecretKey;

    fn job(id: &str, now: Timestamp) -> Job {
        Job {
            id: id.into(),
            agent_id: 1,
            deployment: None,
            issued_at: now,
            expires_at: now + SignedDuration::from_hours(1),
            operations: vec![Operation::HealthChecks { names: vec![] }],
            rollback_on_failure: false,
            reboot: RebootPolicy::Never,
        }
    }

    #[test]
    fn refusals_carry_the_claimed_id_and_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        let seen = state.seen_jobs().unwrap();
        let now = Timestamp::now();
        let server = SecretKey::generate();
        let good = SignedJob::sign(&job("j1", now), &server);
        assert!(matches!(
            open(&good, &server.public_b64(), 1, now, &seen),
            Opened::Accepted(_)
        ));
        let forged = SignedJob::sign(&job("j2", now), &SecretKey::generate());
        let Opened::Refused(r) = open(&forged, &server.public_b64(), 1, now, &seen) else {
            panic!("forged job accepted")
        };
        assert_eq!((r.job_id.as_str(), r.status), ("j2", JobStatus::Rejected));
        assert!(r.steps[0].log_excerpt.contains("signature"));
        let odd = SignedJob::sign(&job("a b\n", now), &server);
        assert!(matches!(
            open(&odd, &server.public_b64(), 1, now, &seen),
            Opened::Dropped(_)
        ));
    }

    struct Nothing;
    impl Executor for Nothing {
        fn run(&mut self, job: &Job) -> JobReport {
            rejected(&job.id, "no", Timestamp::now())
        }
    }

    #[test]
    fn an_unfinished_job_is_reported_interrupted_once() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        let mut seen = state.seen_jobs().unwrap();
        let mut spool = Spool::open(state.spool_dir()).unwrap();
        let now = Timestamp::now();
        begin(&job("j1", now), &mut seen, &mut spool, now).unwrap();
        let marker = begin(&job("j2", now), &mut seen, &mut spool, now).unwrap();
        finish(&mut spool, &marker, &rejected("j2", "x", now)).unwrap();
        // "Restart".
        let mut spool = Spool::open(state.spool_dir()).unwrap();
        assert_eq!(recover_interrupted(&mut spool, now, &Nothing).unwrap(), 1);
        assert_eq!(recover_interrupted(&mut spool, now, &Nothing).unwrap(), 0);
        let reports = spool.pending_reports().unwrap();
        assert_eq!(reports.len(), 2);
        assert_eq!(reports[1].job_id, "j1");
        assert_eq!(reports[1].status, JobStatus::Interrupted);
        assert!(state.seen_jobs().unwrap().contains("j1"));
    }

    #[test]
    fn excerpts_are_bounded_on_char_boundaries() {
        let long = "é".repeat(5000);
        let e = excerpt(&long);
        assert!(e.len() <= MAX_EXCERPT_BYTES + 3);
        assert!(e.starts_with('…'));
    }
}
