//! The spool: reports survive an unreachable server and a SIGKILL, go out in order,
//! and are deleted only when acknowledged; a job cut short is reported interrupted.

use crate::fake::Fake;
use crate::host::{assert_ok, stderr, wait_until, Host};
use crate::jobs::{health, job, reports};
use patchwarden_wire::job::{JobStatus, SignedJob};
use std::time::{Duration, Instant};

fn ids(r: &[patchwarden_wire::job::JobReport]) -> Vec<&str> {
    r.iter().map(|r| r.job_id.as_str()).collect()
}

#[test]
fn reports_wait_for_the_server_and_its_acknowledgement() {
    let mut fake = Fake::start();
    let host = Host::new("");
    host.enroll(&fake.url());
    fake.with(|b| b.ack = false);
    fake.queue(
        ["a", "b", "c"]
            .iter()
            .map(|id| SignedJob::sign(&job(id, 41, health(&[])), &fake.job_key))
            .collect(),
    );
    // Jobs run, their reports go out at once but are not acknowledged: kept.
    assert_ok(&host.run(&["checkin"]));
    assert_eq!(ids(&reports(&fake)), ["a", "b", "c"]);
    assert_eq!(host.spool_files("report-").len(), 3);

    // Unreachable: the check-in fails clearly, the spool is untouched.
    fake.stop();
    let out = host.run(&["checkin"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("unreachable"), "{}", stderr(&out));
    assert_eq!(host.spool_files("report-").len(), 3);
    assert_eq!(host.spool_files("facts.json").len(), 1, "unsent facts kept");

    // Back, and acknowledging: delivered again in order, then deleted.
    fake.restart();
    fake.with(|b| b.ack = true);
    assert_ok(&host.run(&["checkin"]));
    let last = fake.received().pop().unwrap().checkin;
    assert_eq!(ids(&last.reports), ["a", "b", "c"]);
    assert!(host.spool_files("report-").is_empty());
    assert!(host.spool_files("facts.json").is_empty());
}

#[test]
fn a_sigkill_while_sending_loses_nothing() {
    let fake = Fake::start();
    let host = Host::new("");
    host.enroll(&fake.url());
    fake.with(|b| b.hang_on_reports = true);
    fake.queue(vec![
        SignedJob::sign(&job("k1", 41, health(&[])), &fake.job_key),
        SignedJob::sign(&job("k2", 41, health(&[])), &fake.job_key),
    ]);
    let mut child = host.spawn(&["checkin"]);
    // The reports are spooled and the check-in carrying them is in flight.
    wait_until(30, "the report check-in", || fake.with(|b| b.hung) == 1);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(host.spool_files("report-").len(), 2);

    fake.with(|b| b.hang_on_reports = false);
    assert_ok(&host.run(&["checkin"]));
    let got = reports(&fake);
    assert_eq!(ids(&got), ["k1", "k2"]);
    assert!(got.iter().all(|r| r.status == JobStatus::Succeeded));
    assert!(host.spool_files("report-").is_empty());
}

#[test]
fn a_job_killed_midway_is_reported_interrupted_and_not_run_again() {
    let host = Host::new(
        "[[health_checks]]\nname = \"slow\"\nkind = \"command\"\nargv = [\"sleep\", \"30\"]\ntimeout_secs = 60\n",
    );
    let fake = Fake::start();
    host.enroll(&fake.url());
    let slow = SignedJob::sign(&job("slow-1", 41, health(&["slow"])), &fake.job_key);
    fake.queue(vec![slow.clone()]);
    let mut child = host.spawn(&["checkin"]);
    wait_until(30, "the job to start", || {
        !host.spool_files("started-").is_empty()
    });
    child.kill().unwrap();
    child.wait().unwrap();

    // The server sends the job again (it never got a report): refused, not rerun.
    fake.queue(vec![slow]);
    let t0 = Instant::now();
    let out = host.run(&["checkin"]);
    assert_ok(&out);
    assert!(t0.elapsed() < Duration::from_secs(20), "the job ran again");
    assert!(stderr(&out).contains("interrupted"), "{}", stderr(&out));
    let got = reports(&fake);
    let got: Vec<_> = got.iter().map(|r| (r.job_id.as_str(), r.status)).collect();
    assert_eq!(
        got,
        [
            ("slow-1", JobStatus::Interrupted),
            ("slow-1", JobStatus::Rejected)
        ]
    );
    assert!(host.spool_files("started-").is_empty());
}
