//! apt/dpkg deployments whose install, verification and health checks pass but whose
//! local `post` hook fails: that counts as a failed health check does — rolled back
//! when the job's policy allows, else left waiting for an approved revocation.

use super::apt::{apt, Apt};
use super::{deploy_job, install, step_ok, steps, version_in};
use patchwarden_pmtest::PkgSpec;
use patchwarden_wire::job::JobStatus;

/// v1 installed, v2 in the repository, and a post hook that fails with status 7.
fn failing_post_hook() -> Option<Apt> {
    let v2 = PkgSpec::new("pwtest-post", "2.0-1");
    let t = apt(PkgSpec::new("pwtest-post", "1.0-1"), &[v2], "")?;
    t.d.add_config(
        "[hooks]\npost = [\"sh\", \"-c\", \"echo 'post hook: service did not come back' >&2; exit 7\"]\n",
    );
    Some(t)
}

#[track_caller]
fn assert_post_hook_step_says_it_failed(r: &patchwarden_wire::job::JobReport) {
    let hook = r.steps.iter().find(|s| s.step == "hook:post").unwrap();
    assert!(!hook.ok, "{hook:?}");
    for said in [
        "post hook: service did not come back",
        "exit status: 7",
        "the post hook failed (exit status: 7)",
    ] {
        assert!(
            hook.log_excerpt.contains(said),
            "{said:?} in {}",
            hook.log_excerpt
        );
    }
}

#[test]
fn apt_failing_post_hook_after_a_good_install_rolls_back_when_the_policy_allows() {
    let Some(t) = failing_post_hook() else {
        return;
    };
    let r = t.d.run(deploy_job(
        "post",
        vec![install("pwtest-post", "2.0-1")],
        true,
    ));
    assert_eq!(r.status, JobStatus::RolledBack, "{:#?}", r.steps);
    assert_eq!(
        steps(&r),
        [
            ("plan", true),
            ("backup", true),
            ("install", true),
            ("hook:post", false),
            ("verify", true),
            ("rollback", true),
            ("verify_rollback", true),
            ("package-db", true),
        ]
    );
    assert_post_hook_step_says_it_failed(&r);
    assert!(r.steps[6]
        .log_excerpt
        .contains("pwtest-post: recorded 1.0-1 all, now 1.0-1 all — ok"));
    assert_eq!(
        t.root.installed_version("pwtest-post").unwrap().as_deref(),
        Some("1.0-1")
    );
    assert_eq!(
        version_in(&r.before, "pwtest-post").as_deref(),
        Some("1.0-1")
    );
    assert_eq!(
        version_in(&r.after, "pwtest-post").as_deref(),
        Some("1.0-1")
    );
    t.d.host_untouched();
}

#[test]
fn apt_failing_post_hook_without_automatic_rollback_awaits_revocation_at_v2() {
    let Some(t) = failing_post_hook() else {
        return;
    };
    let r = t.d.run(deploy_job(
        "post-nr",
        vec![install("pwtest-post", "2.0-1")],
        false,
    ));
    assert_eq!(r.status, JobStatus::AwaitingRevocation, "{:#?}", r.steps);
    assert_eq!(
        steps(&r),
        [
            ("plan", true),
            ("backup", true),
            ("install", true),
            ("hook:post", false),
            ("verify", true),
            ("rollback", true),
        ]
    );
    assert_post_hook_step_says_it_failed(&r);
    assert!(step_ok(&r, "rollback"));
    let waiting = &r.steps[5].log_excerpt;
    assert!(
        waiting.contains("waiting for a Rollback job for deployment dep-post-nr"),
        "{waiting}"
    );
    assert_eq!(
        t.root.installed_version("pwtest-post").unwrap().as_deref(),
        Some("2.0-1")
    );
    assert_eq!(
        version_in(&r.before, "pwtest-post").as_deref(),
        Some("1.0-1")
    );
    assert_eq!(
        version_in(&r.after, "pwtest-post").as_deref(),
        Some("2.0-1")
    );
    assert!(t
        .d
        .host
        .state
        .join("deployments/dep-post-nr/backup.json")
        .is_file());
    t.d.host_untouched();
}
