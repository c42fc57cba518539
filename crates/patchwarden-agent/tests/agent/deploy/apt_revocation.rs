//! apt/dpkg deployments whose job does not allow an automatic rollback: a failure that
//! left packages changed waits for an approved revocation (`awaiting_revocation`, with
//! the recorded package set); one that changed nothing is plain `failed`.

use super::apt::{apt, apt_v1_v2, apt_web_with_health_check};
use super::{
    assert_before_after, assert_report, deploy_job, install, install_job, rollback_job, step_ok,
};
use patchwarden_pmtest::PkgSpec;
use patchwarden_wire::job::{JobStatus, Operation, RebootPolicy};
use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn apt_health_check_failing_without_automatic_rollback_awaits_revocation_at_v2() {
    let Some(t) = apt_web_with_health_check() else {
        return;
    };
    let mut j = deploy_job(
        "manual",
        vec![install("pwtest-web", "2.0-1"), Operation::Reboot],
        false,
    );
    j.reboot = RebootPolicy::Always;
    let r = t.d.run(j);
    assert_report(
        &r,
        JobStatus::AwaitingRevocation,
        &[
            ("plan", true),
            ("backup", true),
            ("install", true),
            ("verify", true),
            ("health:web", false),
            ("rollback", true),
            ("reboot", true),
        ],
    );
    let waiting = &r.steps[5].log_excerpt;
    assert!(
        waiting.contains("rollback_on_failure is false")
            && waiting.contains("waiting for a Rollback job for deployment dep-manual"),
        "{waiting}"
    );
    // Left at v2, fully installed; the report carries v1 as the set to restore.
    t.assert_installed("pwtest-web", "2.0-1");
    t.assert_status("pwtest-web", "ii");
    assert_before_after(&r, "pwtest-web", Some("1.0-1"), Some("2.0-1"));
    // Not finished: no reboot, whatever the policy.
    assert!(r.steps[6].log_excerpt.contains("the job failed"));
    assert!(!t.d.rebooted.exists());

    // The approved revocation restores the recorded set from the backup.
    let r = t.d.run(rollback_job("manual-rb", "dep-manual"));
    assert_eq!(r.status, JobStatus::RolledBack, "{:#?}", r.steps);
    assert!(step_ok(&r, "health:web"), "healthy again: {:#?}", r.steps);
    t.assert_installed("pwtest-web", "1.0-1");
    t.d.host_untouched();
}

#[test]
fn apt_install_failing_without_a_change_and_without_automatic_rollback_is_plain_failed() {
    let Some(t) = apt_v1_v2("pwtest-gone") else {
        return;
    };
    // v2 leaves the repository after the plan and the backup: apt cannot fetch it and
    // installs nothing.
    let v2_file = t.repo.repo_dir().join("pool/pwtest-gone_2.0-1_all.deb");
    assert!(v2_file.is_file());
    t.d.add_config(&format!("[hooks]\npre = [\"rm\", \"-f\", {v2_file:?}]\n"));
    let r = t.d.run(install_job("gone", "pwtest-gone", "2.0-1", false));
    assert_report(
        &r,
        JobStatus::Failed,
        &[
            ("plan", true),
            ("backup", true),
            ("hook:pre", true),
            ("install", false),
            ("rollback", true),
        ],
    );
    assert!(
        r.steps[4].log_excerpt.contains("nothing to restore"),
        "{}",
        r.steps[4].log_excerpt
    );
    t.assert_status("pwtest-gone", "ii");
    t.assert_installed("pwtest-gone", "1.0-1");
    assert_before_after(&r, "pwtest-gone", Some("1.0-1"), Some("1.0-1"));
    t.d.host_untouched();
}

/// A `.deb` of `name` `version` that pre-depends on `pre` (which dpkg must then
/// configure before it unpacks `name`), built with dpkg-deb in `dir`.
fn pre_depending_deb(dir: &Path, name: &str, version: &str, pre: &str) -> PathBuf {
    let stage = dir.join(format!("stage-{name}"));
    std::fs::create_dir_all(stage.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(stage.join(format!("usr/share/{name}"))).unwrap();
    std::fs::write(stage.join(format!("usr/share/{name}/version")), version).unwrap();
    let control = format!(
        "Package: {name}\nVersion: {version}\nArchitecture: all\nPre-Depends: {pre}\n\
         Maintainer: Patchwarden tests <tests@example.invalid>\n\
         Description: Patchwarden test package {name}\n"
    );
    std::fs::write(stage.join("DEBIAN/control"), control).unwrap();
    let deb = dir.join(format!("{name}_{version}_all.deb"));
    let out = Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zgzip", "--build"])
        .arg(&stage)
        .arg(&deb)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    deb
}

#[test]
fn apt_new_dependency_left_half_configured_without_automatic_rollback_awaits_revocation() {
    // v2 pre-depends on a package absent before, whose postinst fails: dpkg leaves the
    // dependency half-configured and never unpacks v2. The dependency is in neither
    // package list (the inventory holds fully installed packages only).
    let dep = PkgSpec::new("pwtest-newdep", "1.0-1").failing_postinst();
    let Some(t) = apt(PkgSpec::new("pwtest-app", "1.0-1"), &[dep], "") else {
        return;
    };
    let built = tempfile::tempdir().unwrap();
    let v2 = pre_depending_deb(built.path(), "pwtest-app", "2.0-1", "pwtest-newdep");
    t.repo.add_file(&v2).unwrap();
    t.repo.publish().unwrap();
    t.root.update().unwrap();
    let r = t.d.run(install_job("newdep", "pwtest-app", "2.0-1", false));
    t.assert_status("pwtest-app", "ii");
    t.assert_installed("pwtest-app", "1.0-1");
    t.assert_status("pwtest-newdep", "iF");
    assert_before_after(&r, "pwtest-newdep", None, None);
    assert_report(
        &r,
        JobStatus::AwaitingRevocation,
        &[
            ("plan", true),
            ("backup", true),
            ("install", false),
            ("rollback", true),
        ],
    );
    let waiting = &r.steps[3].log_excerpt;
    for said in [
        "Not fully installed now: pwtest-newdep:all 1.0-1 (iF)",
        "waiting for a Rollback job for deployment dep-newdep",
    ] {
        assert!(waiting.contains(said), "{said:?} in {waiting}");
    }
    // The approved revocation removes the half-configured dependency.
    let r = t.d.run(rollback_job("newdep-rb", "dep-newdep"));
    assert_eq!(r.status, JobStatus::RolledBack, "{:#?}", r.steps);
    t.assert_installed("pwtest-app", "1.0-1");
    let dep_state = t.root.status_abbrev("pwtest-newdep").unwrap();
    assert!(
        matches!(dep_state.as_deref(), None | Some("un" | "rc")),
        "{dep_state:?}"
    );
    t.d.host_untouched();
}
