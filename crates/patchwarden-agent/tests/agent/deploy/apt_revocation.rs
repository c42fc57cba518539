//! apt/dpkg deployments whose job does not allow an automatic rollback: a failure that
//! left packages changed waits for an approved revocation (`awaiting_revocation`, with
//! the recorded package set); one that changed nothing is plain `failed`.

use super::apt::apt;
use super::{deploy_job, install, step_ok, steps, version_in};
use crate::jobs::job;
use patchwarden_pmtest::PkgSpec;
use patchwarden_wire::job::{JobStatus, Operation, RebootPolicy};

#[test]
fn apt_health_check_failing_without_automatic_rollback_awaits_revocation_at_v2() {
    let v1 = PkgSpec::new("pwtest-web", "1.0-1").file("usr/share/pwtest-web/healthy", "yes\n");
    let v2 = PkgSpec::new("pwtest-web", "2.0-1");
    let Some(t) = apt(v1, &[v2], "") else {
        return;
    };
    let check = format!(
        "[[health_checks]]\nname = \"web\"\nkind = \"command\"\nargv = [\"test\", \"-f\", {:?}]\n",
        t.root.path().join("usr/share/pwtest-web/healthy")
    );
    t.d.add_config(&check);
    let mut j = deploy_job(
        "manual",
        vec![install("pwtest-web", "2.0-1"), Operation::Reboot],
        false,
    );
    j.reboot = RebootPolicy::Always;
    let r = t.d.run(j);
    assert_eq!(r.status, JobStatus::AwaitingRevocation, "{:#?}", r.steps);
    assert_eq!(
        steps(&r),
        [
            ("plan", true),
            ("backup", true),
            ("install", true),
            ("verify", true),
            ("health:web", false),
            ("rollback", true),
            ("reboot", true),
        ]
    );
    let waiting = &r.steps[5].log_excerpt;
    assert!(
        waiting.contains("rollback_on_failure is false")
            && waiting.contains("waiting for a Rollback job for deployment dep-manual"),
        "{waiting}"
    );
    // Left at v2, fully installed; the report carries v1 as the set to restore.
    assert_eq!(
        t.root.installed_version("pwtest-web").unwrap().as_deref(),
        Some("2.0-1")
    );
    assert_eq!(
        t.root.status_abbrev("pwtest-web").unwrap().as_deref(),
        Some("ii")
    );
    assert_eq!(
        version_in(&r.before, "pwtest-web").as_deref(),
        Some("1.0-1")
    );
    assert_eq!(version_in(&r.after, "pwtest-web").as_deref(), Some("2.0-1"));
    // Not finished: no reboot, whatever the policy.
    assert!(r.steps[6].log_excerpt.contains("the job failed"));
    assert!(!t.d.rebooted.exists());

    // The approved revocation restores the recorded set from the backup.
    let r = t.d.run(job(
        "manual-rb",
        41,
        vec![Operation::Rollback {
            deployment: "dep-manual".into(),
        }],
    ));
    assert_eq!(r.status, JobStatus::RolledBack, "{:#?}", r.steps);
    assert!(step_ok(&r, "health:web"), "healthy again: {:#?}", r.steps);
    assert_eq!(
        t.root.installed_version("pwtest-web").unwrap().as_deref(),
        Some("1.0-1")
    );
    t.d.host_untouched();
}

#[test]
fn apt_install_failing_without_a_change_and_without_automatic_rollback_is_plain_failed() {
    let v2 = PkgSpec::new("pwtest-gone", "2.0-1");
    let Some(t) = apt(PkgSpec::new("pwtest-gone", "1.0-1"), &[v2], "") else {
        return;
    };
    // v2 leaves the repository after the plan and the backup: apt cannot fetch it and
    // installs nothing.
    let v2_file = t.repo.repo_dir().join("pool/pwtest-gone_2.0-1_all.deb");
    assert!(v2_file.is_file());
    t.d.add_config(&format!("[hooks]\npre = [\"rm\", \"-f\", {v2_file:?}]\n"));
    let r = t.d.run(deploy_job(
        "gone",
        vec![install("pwtest-gone", "2.0-1")],
        false,
    ));
    assert_eq!(r.status, JobStatus::Failed, "{:#?}", r.steps);
    assert_eq!(
        steps(&r),
        [
            ("plan", true),
            ("backup", true),
            ("hook:pre", true),
            ("install", false),
            ("rollback", true),
        ]
    );
    assert!(
        r.steps[4].log_excerpt.contains("nothing to restore"),
        "{}",
        r.steps[4].log_excerpt
    );
    assert_eq!(
        t.root.status_abbrev("pwtest-gone").unwrap().as_deref(),
        Some("ii")
    );
    assert_eq!(
        t.root.installed_version("pwtest-gone").unwrap().as_deref(),
        Some("1.0-1")
    );
    assert_eq!(
        version_in(&r.before, "pwtest-gone").as_deref(),
        Some("1.0-1")
    );
    assert_eq!(
        version_in(&r.after, "pwtest-gone").as_deref(),
        Some("1.0-1")
    );
    t.d.host_untouched();
}
