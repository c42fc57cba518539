//! apt/dpkg deployments whose install, verification and health checks pass but whose
//! local `post` hook fails: that counts as a failed health check does — rolled back
//! when the job's policy allows, else left waiting for an approved revocation.

use super::apt::{apt_v1_v2, Apt};
use super::{assert_before_after, assert_report, install_job, step_ok};
use patchwarden_wire::job::JobStatus;

/// v1 installed, v2 in the repository, and a post hook that fails with status 7.
fn failing_post_hook() -> Option<Apt> {
    let t = apt_v1_v2("pwtest-post")?;
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
    let r = t.d.run(install_job("post", "pwtest-post", "2.0-1", true));
    assert_report(
        &r,
        JobStatus::RolledBack,
        &[
            ("plan", true),
            ("backup", true),
            ("install", true),
            ("hook:post", false),
            ("verify", true),
            ("rollback", true),
            ("verify_rollback", true),
            ("package-db", true),
        ],
    );
    assert_post_hook_step_says_it_failed(&r);
    assert!(r.steps[6]
        .log_excerpt
        .contains("pwtest-post: recorded 1.0-1 all, now 1.0-1 all — ok"));
    t.assert_installed("pwtest-post", "1.0-1");
    assert_before_after(&r, "pwtest-post", Some("1.0-1"), Some("1.0-1"));
    t.d.host_untouched();
}

#[test]
fn apt_failing_post_hook_without_automatic_rollback_awaits_revocation_at_v2() {
    let Some(t) = failing_post_hook() else {
        return;
    };
    let r =
        t.d.run(install_job("post-nr", "pwtest-post", "2.0-1", false));
    assert_report(
        &r,
        JobStatus::AwaitingRevocation,
        &[
            ("plan", true),
            ("backup", true),
            ("install", true),
            ("hook:post", false),
            ("verify", true),
            ("rollback", true),
        ],
    );
    assert_post_hook_step_says_it_failed(&r);
    assert!(step_ok(&r, "rollback"));
    let waiting = &r.steps[5].log_excerpt;
    assert!(
        waiting.contains("waiting for a Rollback job for deployment dep-post-nr"),
        "{waiting}"
    );
    t.assert_installed("pwtest-post", "2.0-1");
    assert_before_after(&r, "pwtest-post", Some("1.0-1"), Some("2.0-1"));
    assert!(t.d.deployment_file("dep-post-nr/backup.json").is_file());
    t.d.host_untouched();
}
