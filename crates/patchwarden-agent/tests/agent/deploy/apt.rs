//! apt/dpkg deployments: upgrade, rollback from the backup, waiting for a rollback
//! job, health checks, reboot policy, an agent killed mid-install, refusals.

use super::{
    assert_before_after, assert_report, assert_root_says, deploy_job, install, install_job,
    retry_job, rollback_job, step_ok, steps, version_in, Deployed, Fixture,
};
use crate::host::{assert_ok, wait_until};
use patchwarden_pmtest::{
    tools_and_root_present, AptRoot, DebRepo, PkgSpec, ReleaseMeta, APT_TOOLS,
};
use patchwarden_wire::job::{JobStatus, Operation, RebootPolicy};
use std::path::PathBuf;

/// A root with `name` v1 installed from a repository holding `more` too.
pub(super) struct Apt {
    pub(super) d: Deployed,
    pub(super) root: AptRoot,
    pub(super) repo: DebRepo,
}

pub(super) fn apt(v1: PkgSpec, more: &[PkgSpec], extra: &str) -> Option<Apt> {
    apt_with_timeout(v1, more, extra, 120)
}

/// `name` 1.0-1 installed, 2.0-1 in the repository too.
pub(super) fn apt_v1_v2(name: &str) -> Option<Apt> {
    let v2 = PkgSpec::new(name, "2.0-1");
    apt(PkgSpec::new(name, "1.0-1"), &[v2], "")
}

/// [`apt`] with the package-manager timeout (`timeout_secs`) given.
pub(super) fn apt_with_timeout(
    v1: PkgSpec,
    more: &[PkgSpec],
    extra: &str,
    timeout_secs: u64,
) -> Option<Apt> {
    if !tools_and_root_present(APT_TOOLS).unwrap() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let repo = DebRepo::new(&dir.path().join("repo"), ReleaseMeta::bookworm()).unwrap();
    repo.add(&v1).unwrap();
    for s in more {
        repo.add(s).unwrap();
    }
    repo.publish().unwrap();
    let root = AptRoot::new(&dir.path().join("root")).unwrap();
    root.add_repo(&repo).unwrap();
    root.update().unwrap();
    root.install(&[&format!("{}={}", v1.name, v1.version)])
        .unwrap();
    let pm = format!(
        "kind = \"apt\"\napt_config = {:?}\ntimeout_secs = {timeout_secs}",
        root.apt_conf()
    );
    let d = Deployed::new(dir, root.path(), &pm, extra);
    Some(Apt { d, root, repo })
}

/// v1 of `pwtest-web` (with the file its health check tests) installed, v2 (without)
/// in the repository, and the health check `web`.
pub(super) fn apt_web_with_health_check() -> Option<Apt> {
    let v1 = PkgSpec::new("pwtest-web", "1.0-1").file("usr/share/pwtest-web/healthy", "yes\n");
    let v2 = PkgSpec::new("pwtest-web", "2.0-1");
    let t = apt(v1, &[v2], "")?;
    let check = format!(
        "[[health_checks]]\nname = \"web\"\nkind = \"command\"\nargv = [\"test\", \"-f\", {:?}]\n",
        t.root.path().join("usr/share/pwtest-web/healthy")
    );
    t.d.add_config(&check);
    Some(t)
}

pub(super) fn clear_archives(root: &AptRoot) {
    for e in std::fs::read_dir(root.archives()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "deb") {
            std::fs::remove_file(p).unwrap();
        }
    }
}

impl Fixture for Apt {
    const ARCH: &'static str = "all";

    fn d(&self) -> &Deployed {
        &self.d
    }

    #[track_caller]
    fn assert_installed(&self, name: &str, version: &str) {
        Apt::assert_installed(self, name, version);
    }

    fn repo_file(&self, name: &str, version: &str) -> PathBuf {
        self.repo
            .repo_dir()
            .join(format!("pool/{name}_{version}_all.deb"))
    }

    fn install_argv(&self, name: &str, version: &str) -> Vec<String> {
        [
            "env",
            &format!("APT_CONFIG={}", self.root.apt_conf().display()),
            "DEBIAN_FRONTEND=noninteractive",
            "apt-get",
            "-q",
            "-y",
            "install",
            &format!("{name}={version}"),
        ]
        .map(str::to_owned)
        .to_vec()
    }
}

impl Apt {
    /// Takes `name` `version` (`all`) out of the repository and updates the root's lists.
    pub(super) fn remove_from_repo(&self, name: &str, version: &str) {
        self.repo.remove(name, version, "all").unwrap();
        self.repo.publish().unwrap();
        self.root.update().unwrap();
    }

    /// `name` is installed at `version` per the root's dpkg database.
    #[track_caller]
    pub(super) fn assert_installed(&self, name: &str, version: &str) {
        assert_root_says(self.root.installed_version(name), version);
    }

    /// `name` has the dpkg status abbreviation `status` (`ii`, `iF`, …).
    #[track_caller]
    pub(super) fn assert_status(&self, name: &str, status: &str) {
        assert_root_says(self.root.status_abbrev(name), status);
    }
}

#[test]
fn apt_upgrade_v1_to_v2_is_verified() {
    let Some(t) = apt_v1_v2("pwtest-app") else {
        return;
    };
    let snapshot_ran = t.d.host.dir.path().join("snapshot-ran");
    t.d.add_config(&format!(
        "[hooks]\nsnapshot = [\"touch\", {snapshot_ran:?}]\n"
    ));
    // Not in apt's cache: the backup downloads v1 while the repository has it.
    clear_archives(&t.root);
    let ops = vec![Operation::RefreshMetadata, install("pwtest-app", "2.0-1")];
    let r = t.d.run(deploy_job("up", ops, true));
    assert_report(
        &r,
        JobStatus::Succeeded,
        &[
            ("refresh_metadata", true),
            ("plan", true),
            ("hook:snapshot", true),
            ("backup", true),
            ("install", true),
            ("verify", true),
        ],
    );
    assert!(snapshot_ran.exists());
    t.assert_installed("pwtest-app", "2.0-1");
    assert_before_after(&r, "pwtest-app", Some("1.0-1"), Some("2.0-1"));
    assert!(r.steps[5]
        .log_excerpt
        .contains("wanted 2.0-1, installed 2.0-1 all — ok"));
    let kept =
        t.d.deployment_file("dep-up/packages/pwtest-app_1.0-1_all.deb");
    assert!(kept.is_file(), "{:#?}", r.steps[3]);
    assert!(!r.reboot_required && !t.d.rebooted.exists());
    t.d.host_untouched();
}

#[test]
fn apt_failing_postinst_is_rolled_back_from_the_backup_after_v1_left_the_repository() {
    let bad = PkgSpec::new("pwtest-bad", "2.0-1").failing_postinst();
    let Some(t) = apt(PkgSpec::new("pwtest-bad", "1.0-1"), &[bad], "") else {
        return;
    };
    // v1 leaves the repository; apt's cache still has it (copied at install), and the
    // pre hook empties that cache after the backup, so only the backup is left.
    t.remove_from_repo("pwtest-bad", "1.0-1");
    let hooks = format!(
        "[hooks]\npre = [\"find\", {:?}, \"-name\", \"*.deb\", \"-delete\"]\n",
        t.root.archives()
    );
    t.d.add_config(&hooks);
    let r = t.d.run(install_job("bad", "pwtest-bad", "2.0-1", true));
    assert_report(
        &r,
        JobStatus::RolledBack,
        &[
            ("plan", true),
            ("backup", true),
            ("hook:pre", true),
            ("install", false),
            ("rollback", true),
            ("verify_rollback", true),
            ("package-db", true),
        ],
    );
    assert!(r.steps[3].log_excerpt.contains("postinst fails on purpose"));
    assert!(r.steps[4]
        .log_excerpt
        .contains("deployments/dep-bad/packages/pwtest-bad_1.0-1_all.deb"));
    t.assert_installed("pwtest-bad", "1.0-1");
    t.assert_status("pwtest-bad", "ii");
    assert_eq!(version_in(&r.after, "pwtest-bad").as_deref(), Some("1.0-1"));
    assert!(!t.root.archives().join("pwtest-bad_1.0-1_all.deb").exists());
    t.d.host_untouched();
}

#[test]
fn apt_without_automatic_rollback_awaits_revocation_and_a_rollback_job_restores_v1() {
    let bad = PkgSpec::new("pwtest-bad", "2.0-1").failing_postinst();
    let Some(t) = apt(PkgSpec::new("pwtest-bad", "1.0-1"), &[bad], "") else {
        return;
    };
    let r = t.d.run(install_job("norb", "pwtest-bad", "2.0-1", false));
    // Not plain `failed`: v2 is left half-configured, and the report carries the
    // package set a revocation restores.
    assert_eq!(r.status, JobStatus::AwaitingRevocation, "{:#?}", r.steps);
    assert!(step_ok(&r, "rollback"));
    let last = &r.steps.last().unwrap().log_excerpt;
    assert!(
        last.contains("packages were changed; waiting for a Rollback job for deployment dep-norb"),
        "{last}"
    );
    t.assert_status("pwtest-bad", "iF");
    assert_eq!(
        version_in(&r.before, "pwtest-bad").as_deref(),
        Some("1.0-1")
    );
    assert_eq!(
        version_in(&r.after, "pwtest-bad"),
        None,
        "not fully installed"
    );
    assert!(t.d.deployment_file("dep-norb/backup.json").is_file());
    // The deployment cannot be installed over while its backup is live; that refusal
    // changes nothing, so it is plain `failed`.
    let again =
        t.d.run(retry_job("norb-2", "dep-norb", "pwtest-bad", "2.0-1"));
    assert_eq!(again.status, JobStatus::Failed, "{:#?}", again.steps);
    let again_backup = again.steps.iter().find(|s| s.step == "backup").unwrap();
    assert!(
        again_backup.log_excerpt.contains("already has a backup"),
        "{again_backup:?}"
    );

    t.remove_from_repo("pwtest-bad", "1.0-1");
    clear_archives(&t.root);
    let mut rb = rollback_job("rb-1", "dep-norb");
    rb.deployment = Some("dep-norb".into());
    let r = t.d.run(rb);
    assert_eq!(r.status, JobStatus::RolledBack, "{:#?}", r.steps);
    t.assert_installed("pwtest-bad", "1.0-1");
    assert_eq!(
        version_in(&r.before, "pwtest-bad").as_deref(),
        Some("1.0-1")
    );
    // An unknown deployment has nothing to restore.
    let r = t.d.run(rollback_job("rb-2", "nope"));
    assert_eq!(r.status, JobStatus::Failed);
    assert!(r.steps[0]
        .log_excerpt
        .contains("no backup of deployment nope"));
    t.d.host_untouched();
}

#[test]
fn apt_health_check_failing_after_the_install_rolls_back() {
    let Some(t) = apt_web_with_health_check() else {
        return;
    };
    let ops = vec![
        install("pwtest-web", "2.0-1"),
        Operation::HealthChecks {
            names: vec!["web".into()],
        },
    ];
    let r = t.d.run(deploy_job("web", ops, true));
    assert_eq!(r.status, JobStatus::RolledBack, "{:#?}", r.steps);
    let s = steps(&r);
    assert_eq!(
        &s[2..5],
        [("install", true), ("verify", true), ("health:web", false)]
    );
    assert_eq!(
        s.last(),
        Some(&("health:web", true)),
        "healthy again after the rollback"
    );
    t.assert_installed("pwtest-web", "1.0-1");
    t.d.host_untouched();
}

#[test]
fn apt_reboot_policy_if_needed_reboots_and_never_does_not() {
    let creates = "mkdir -p \"$DPKG_ROOT/run\"\ntouch \"$DPKG_ROOT/run/reboot-required\"";
    let Some(t) = apt(
        PkgSpec::new("pwtest-kern", "1.0-1"),
        &[
            PkgSpec::new("pwtest-kern", "2.0-1").postinst(creates),
            PkgSpec::new("pwtest-kern", "3.0-1").postinst(creates),
        ],
        "",
    ) else {
        return;
    };
    let mut never = install_job("k2", "pwtest-kern", "2.0-1", true);
    never.reboot = RebootPolicy::Never;
    let r = t.d.run(never);
    assert_eq!(r.status, JobStatus::Succeeded, "{:#?}", r.steps);
    assert!(r.reboot_required);
    assert!(!t.d.rebooted.exists(), "policy never rebooted");
    assert!(r.steps.iter().all(|s| s.step != "reboot"));

    let mut if_needed = deploy_job(
        "k3",
        vec![install("pwtest-kern", "3.0-1"), Operation::Reboot],
        true,
    );
    if_needed.reboot = RebootPolicy::IfNeeded;
    let r = t.d.run(if_needed);
    assert_eq!(r.status, JobStatus::Succeeded, "{:#?}", r.steps);
    assert!(r.reboot_required);
    assert!(step_ok(&r, "reboot"));
    assert!(t.d.rebooted.exists(), "the reboot command did not run");
    t.d.host_untouched();
}

#[test]
fn apt_agent_killed_mid_install_reports_an_honest_interrupted_state() {
    let slow = "touch \"$DPKG_ROOT/var/lib/pwtest-slow.started\"\nsleep 3";
    let Some(t) = apt(
        PkgSpec::new("pwtest-slow", "1.0-1"),
        &[PkgSpec::new("pwtest-slow", "2.0-1").postinst(slow)],
        "",
    ) else {
        return;
    };
    let mut child =
        t.d.spawn(&install_job("slow", "pwtest-slow", "2.0-1", true));
    let started = t.root.path().join("var/lib/pwtest-slow.started");
    wait_until(60, "the postinst to start", || started.exists());
    child.kill().unwrap(); // SIGKILL; dpkg, orphaned, goes on
    child.wait().unwrap();

    assert_ok(&t.d.host.run(&["checkin"]));
    let r = t.d.report("slow");
    assert_eq!(r.status, JobStatus::Interrupted, "{:#?}", r.steps);
    assert_eq!(r.steps[0].step, "interrupted");
    let db = r
        .steps
        .iter()
        .find(|s| s.step == "package-db")
        .expect("package-db step");
    assert!(db.log_excerpt.contains("pwtest-slow"), "{}", db.log_excerpt);
    assert!(db
        .log_excerpt
        .contains("a backup of deployment dep-slow exists"));
    assert_eq!(
        version_in(&r.before, "pwtest-slow").as_deref(),
        Some("1.0-1")
    );

    // Once the orphaned dpkg is done the database is consistent, and the recorded
    // backup brings v1 back.
    wait_until(60, "dpkg to finish", || {
        t.root.status_abbrev("pwtest-slow").unwrap().as_deref() == Some("ii")
    });
    let audit = t.root.dpkg_any(&["--audit"]).unwrap();
    assert!(
        audit.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&audit.stdout)
    );
    let r = t.d.run(rollback_job("slow-rb", "dep-slow"));
    assert_eq!(r.status, JobStatus::RolledBack, "{:#?}", r.steps);
    t.assert_installed("pwtest-slow", "1.0-1");
    t.d.host_untouched();
}

#[test]
fn unsafe_targets_and_an_unconfined_root_are_rejected_before_anything_runs() {
    let Some(t) = apt(PkgSpec::new("pwtest-x", "1.0-1"), &[], "") else {
        return;
    };
    let r = t.d.run(install_job(
        "inj",
        "-oAPT::Update::Pre-Invoke::=x",
        "1",
        true,
    ));
    assert_eq!(r.status, JobStatus::Rejected);
    assert_eq!(steps(&r), [("install", false)]);
    let r =
        t.d.run(install_job("ver", "pwtest-x", "1.0 --force-all", true));
    assert_eq!(r.status, JobStatus::Rejected);
    // A version the repository does not have: the plan fails, nothing changes.
    let r = t.d.run(install_job("nover", "pwtest-x", "9.9-1", true));
    assert_eq!(r.status, JobStatus::Failed);
    assert_eq!(steps(&r), [("plan", false)]);
    t.assert_installed("pwtest-x", "1.0-1");
    t.d.host_untouched();
}
