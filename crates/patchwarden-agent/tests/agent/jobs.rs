//! Jobs: refused unless signed by the pinned key, addressed to this agent, valid and
//! new; health checks run for real; package operations refused when apt could not be
//! confined to the configured root.

use crate::fake::Fake;
use crate::host::{assert_ok, Host};
use jiff::{SignedDuration, Timestamp};
use patchwarden_wire::job::{
    Job, JobReport, JobStatus, Operation, PackageTarget, RebootPolicy, SignedJob,
};
use patchwarden_wire::sign::SecretKey;

pub fn job(id: &str, agent_id: i64, operations: Vec<Operation>) -> Job {
    let now = Timestamp::now();
    Job {
        id: id.into(),
        agent_id,
        deployment: None,
        issued_at: now,
        expires_at: now + SignedDuration::from_hours(1),
        operations,
        rollback_on_failure: false,
        reboot: RebootPolicy::Never,
    }
}

pub fn health(names: &[&str]) -> Vec<Operation> {
    vec![Operation::HealthChecks {
        names: names.iter().map(|s| s.to_string()).collect(),
    }]
}

/// Every report the fake received, in order.
pub fn reports(fake: &Fake) -> Vec<JobReport> {
    fake.received()
        .into_iter()
        .flat_map(|r| r.checkin.reports)
        .collect()
}

#[test]
fn forged_replayed_expired_and_misaddressed_jobs_are_rejected() {
    let fake = Fake::start();
    let host = Host::new("");
    host.enroll(&fake.url());
    let key = &fake.job_key;
    let mut expired = job("j-expired", 41, health(&[]));
    expired.issued_at -= SignedDuration::from_hours(3);
    expired.expires_at = expired.issued_at + SignedDuration::from_hours(1);
    let good = SignedJob::sign(&job("j-good", 41, health(&[])), key);
    fake.queue(vec![
        SignedJob::sign(&job("j-forged", 41, health(&[])), &SecretKey::generate()),
        SignedJob::sign(&expired, key),
        SignedJob::sign(&job("j-other", 42, health(&[])), key),
        good.clone(),
        good.clone(),
    ]);
    assert_ok(&host.run(&["checkin"]));
    // Replayed in a later reply, after a restart.
    fake.queue(vec![good]);
    assert_ok(&host.run(&["checkin"]));

    let got: Vec<(String, JobStatus, String)> = reports(&fake)
        .into_iter()
        .map(|r| {
            (
                r.job_id,
                r.status,
                r.steps
                    .first()
                    .map(|s| s.log_excerpt.clone())
                    .unwrap_or_default(),
            )
        })
        .collect();
    let expect = [
        ("j-forged", JobStatus::Rejected, "signature"),
        ("j-expired", JobStatus::Rejected, "expired"),
        ("j-other", JobStatus::Rejected, "addressed to agent 42"),
        ("j-good", JobStatus::Succeeded, ""),
        ("j-good", JobStatus::Rejected, "replay refused"),
        ("j-good", JobStatus::Rejected, "replay refused"),
    ];
    assert_eq!(got.len(), expect.len(), "{got:#?}");
    for ((id, status, log), (eid, estatus, elog)) in got.iter().zip(expect) {
        assert_eq!((id.as_str(), *status), (eid, estatus), "{got:#?}");
        assert!(log.contains(elog), "{id}: {log}");
    }
    // All acknowledged: the spool is empty.
    assert!(host.spool_files("report-").is_empty());
}

#[test]
fn health_checks_run_for_real_and_unconfined_package_operations_are_refused() {
    let open = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    let host = Host::new(&format!(
        "[[health_checks]]\nname = \"port\"\nkind = \"tcp\"\naddress = \"{}\"\ntimeout_secs = 2\n\
         [[health_checks]]\nname = \"closed\"\nkind = \"tcp\"\naddress = \"{closed_addr}\"\ntimeout_secs = 2\n\
         [[health_checks]]\nname = \"true\"\nkind = \"command\"\nargv = [\"true\"]\n",
        open.local_addr().unwrap()
    ));
    let fake = Fake::start();
    host.enroll(&fake.url());
    let key = &fake.job_key;
    let install = vec![
        Operation::Install {
            packages: vec![PackageTarget {
                name: "openssl".into(),
                version: "3.0.15-1~deb12u1".into(),
                arch: None,
            }],
        },
        Operation::HealthChecks { names: vec![] },
    ];
    fake.queue(vec![
        SignedJob::sign(&job("h-port", 41, health(&["port", "true"])), key),
        SignedJob::sign(&job("h-closed", 41, health(&["closed"])), key),
        SignedJob::sign(&job("h-missing", 41, health(&["nope"])), key),
        SignedJob::sign(&job("install", 41, install), key),
    ]);
    assert_ok(&host.run(&["checkin"]));
    let r = reports(&fake);
    assert_eq!(r.len(), 4, "{r:#?}");
    assert_eq!(r[0].status, JobStatus::Succeeded, "{r:#?}");
    let steps: Vec<_> = r[0].steps.iter().map(|s| (s.step.as_str(), s.ok)).collect();
    assert_eq!(steps, [("health:port", true), ("health:true", true)]);
    assert_eq!(r[1].status, JobStatus::Failed);
    assert_eq!(r[1].steps[0].step, "health:closed");
    assert!(
        r[1].steps[0].log_excerpt.contains("refused"),
        "{:?}",
        r[1].steps
    );
    assert_eq!(r[2].status, JobStatus::Failed);
    assert!(r[2].steps[0]
        .log_excerpt
        .contains("no health check of this name"));
    assert_eq!(r[3].status, JobStatus::Rejected);
    assert_eq!(r[3].steps.len(), 1, "nothing ran: {:?}", r[3].steps);
    assert_eq!(r[3].steps[0].step, "install");
    // The root is not `/` and no apt_config confines apt to it: apt would change
    // the machine running the test.
    assert!(
        r[3].steps[0]
            .log_excerpt
            .contains("package_manager.apt_config is not set"),
        "{:?}",
        r[3].steps
    );
}
