//! Deployments whose local hooks fail, with apt/dpkg and dnf/rpm (one scenario each,
//! run with both).
//!
//! - A `post` hook failing after a good install and verification counts as a failed
//!   health check does: rolled back when the job's policy allows, else left waiting
//!   for an approved revocation.
//! - A `pre` hook failing after it changed a package the transaction touches is not
//!   plain `failed` (which means that nothing was changed): the change is rolled back
//!   when the job's policy allows, else it waits for an approved revocation.

use super::apt::apt_v1_v2;
use super::dnf::dnf_v1_v2;
use super::{assert_before_after, assert_report, install_job, rollback_job, step_ok, Fixture};
use patchwarden_wire::job::{JobReport, JobStatus};

/// A post hook that fails with status 7.
fn failing_post_hook<T: Fixture>(t: &T) {
    t.d().add_config(
        "[hooks]\npost = [\"sh\", \"-c\", \"echo 'post hook: service did not come back' >&2; exit 7\"]\n",
    );
}

/// A pre hook that installs `name` v2 itself, then fails with status 3.
fn pre_hook_changing_then_failing<T: Fixture>(t: &T, name: &str) {
    let argv = t.install_argv(name, "2.0-1");
    let script = r#""$@" && echo 'pre hook: changed it, then failed' >&2; exit 3"#;
    let mut hook = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        script.to_owned(),
        "sh".to_owned(),
    ];
    hook.extend(argv);
    t.d().add_config(&format!("[hooks]\npre = {hook:?}\n"));
}

/// The step `hook:<name>` failed with exit status `code`, and its log says so and what
/// the hook wrote.
#[track_caller]
fn assert_hook_step_says_it_failed(r: &JobReport, name: &str, code: u8, wrote: &str) {
    let step = format!("hook:{name}");
    let hook = r.steps.iter().find(|s| s.step == step).unwrap();
    assert!(!hook.ok, "{hook:?}");
    for said in [
        wrote.to_owned(),
        format!("exit status: {code}"),
        format!("the {name} hook failed (exit status: {code})"),
    ] {
        assert!(
            hook.log_excerpt.contains(&said),
            "{said:?} in {}",
            hook.log_excerpt
        );
    }
}

/// The automatic rollback left `name` at 1.0-1: its `verify_rollback` step says so,
/// the package database says so, the report's before and after sets say so, and the
/// host's own databases are untouched.
#[track_caller]
fn assert_rolled_back_to_v1<T: Fixture>(t: &T, r: &JobReport, name: &str) {
    let verify = r
        .steps
        .iter()
        .find(|s| s.step == "verify_rollback")
        .unwrap();
    let said = format!("{name}: recorded 1.0-1 {0}, now 1.0-1 {0} — ok", T::ARCH);
    assert!(
        verify.log_excerpt.contains(&said),
        "{said:?} in {}",
        verify.log_excerpt
    );
    t.assert_installed(name, "1.0-1");
    assert_before_after(r, name, Some("1.0-1"), Some("1.0-1"));
    t.d().host_untouched();
}

/// The job (deployment `dep-{id}`) is left at v2, waiting for a Rollback job, with
/// its backup kept.
#[track_caller]
fn assert_awaits_revocation_at_v2<T: Fixture>(t: &T, r: &JobReport, id: &str, name: &str) {
    assert!(step_ok(r, "rollback"));
    let waiting = &r.steps.last().unwrap().log_excerpt;
    assert!(
        waiting.contains(&format!(
            "packages were changed; waiting for a Rollback job for deployment dep-{id}"
        )),
        "{waiting}"
    );
    t.assert_installed(name, "2.0-1");
    assert_before_after(r, name, Some("1.0-1"), Some("2.0-1"));
    let record = t.d().deployment_file(&format!("dep-{id}/backup.json"));
    let kept: serde_json::Value = serde_json::from_slice(&std::fs::read(record).unwrap()).unwrap();
    // Not marked as a failure without a change: a retry is refused until rolled back.
    assert!(kept["failed_unchanged_at"].is_null(), "{kept:#}");
}

fn post_hook_failing_rolls_back_when_the_policy_allows<T: Fixture>(t: T) {
    failing_post_hook(&t);
    let r = t.d().run(install_job("post", "pwtest-post", "2.0-1", true));
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
    assert_hook_step_says_it_failed(&r, "post", 7, "post hook: service did not come back");
    assert_rolled_back_to_v1(&t, &r, "pwtest-post");
}

fn post_hook_failing_without_automatic_rollback_awaits_revocation<T: Fixture>(t: T) {
    failing_post_hook(&t);
    let r = t
        .d()
        .run(install_job("post-nr", "pwtest-post", "2.0-1", false));
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
    assert_hook_step_says_it_failed(&r, "post", 7, "post hook: service did not come back");
    assert_awaits_revocation_at_v2(&t, &r, "post-nr", "pwtest-post");
    t.d().host_untouched();
}

fn pre_hook_changing_then_failing_rolls_back_when_the_policy_allows<T: Fixture>(t: T) {
    pre_hook_changing_then_failing(&t, "pwtest-pre");
    let r = t.d().run(install_job("pre", "pwtest-pre", "2.0-1", true));
    assert_report(
        &r,
        JobStatus::RolledBack,
        &[
            ("plan", true),
            ("backup", true),
            ("hook:pre", false),
            ("rollback", true),
            ("verify_rollback", true),
            ("package-db", true),
        ],
    );
    assert_hook_step_says_it_failed(&r, "pre", 3, "pre hook: changed it, then failed");
    assert_rolled_back_to_v1(&t, &r, "pwtest-pre");
}

fn pre_hook_changing_then_failing_without_automatic_rollback_awaits_revocation<T: Fixture>(t: T) {
    pre_hook_changing_then_failing(&t, "pwtest-pre");
    let r = t
        .d()
        .run(install_job("pre-nr", "pwtest-pre", "2.0-1", false));
    assert_report(
        &r,
        JobStatus::AwaitingRevocation,
        &[
            ("plan", true),
            ("backup", true),
            ("hook:pre", false),
            ("rollback", true),
        ],
    );
    assert_hook_step_says_it_failed(&r, "pre", 3, "pre hook: changed it, then failed");
    assert_awaits_revocation_at_v2(&t, &r, "pre-nr", "pwtest-pre");
    // The approved revocation restores v1 from the backup made before the hook ran.
    let r = t.d().run(rollback_job("pre-nr-rb", "dep-pre-nr"));
    assert_eq!(r.status, JobStatus::RolledBack, "{:#?}", r.steps);
    t.assert_installed("pwtest-pre", "1.0-1");
    t.d().host_untouched();
}

on_apt_and_dnf! {
    apt_failing_post_hook_after_a_good_install_rolls_back_when_the_policy_allows,
    dnf_failing_post_hook_after_a_good_install_rolls_back_when_the_policy_allows:
        "pwtest-post" => post_hook_failing_rolls_back_when_the_policy_allows;
    apt_failing_post_hook_without_automatic_rollback_awaits_revocation_at_v2,
    dnf_failing_post_hook_without_automatic_rollback_awaits_revocation_at_v2:
        "pwtest-post" => post_hook_failing_without_automatic_rollback_awaits_revocation;
    apt_pre_hook_that_changed_a_package_then_failed_rolls_back_when_the_policy_allows,
    dnf_pre_hook_that_changed_a_package_then_failed_rolls_back_when_the_policy_allows:
        "pwtest-pre" => pre_hook_changing_then_failing_rolls_back_when_the_policy_allows;
    apt_pre_hook_that_changed_a_package_then_failed_awaits_revocation_not_plain_failed,
    dnf_pre_hook_that_changed_a_package_then_failed_awaits_revocation_not_plain_failed:
        "pwtest-pre" => pre_hook_changing_then_failing_without_automatic_rollback_awaits_revocation;
}
