//! apt/dpkg deployments that go wrong below the agent: dpkg itself killed while a
//! postinst runs, that postinst hanging again when the rollback finishes dpkg's work,
//! and a backup that only `dpkg-repack` can make.

use super::apt::{apt, apt_with_timeout, clear_archives, Apt};
use super::{assert_before_after, assert_report, install_job, version_in, ROLLED_BACK};
use crate::host::{assert_ok, wait_output, wait_until};
use patchwarden_pmtest::{tools_present, PkgSpec, DPKG_REPACK_TOOLS};
use patchwarden_wire::job::JobStatus;
use std::process::Command;

/// The one dpkg running on the root of `t` (other tests run dpkg on their own roots
/// meanwhile).
#[track_caller]
fn the_dpkg(t: &Apt) -> String {
    let pids = t.root.dpkg_pids().unwrap();
    assert_eq!(pids.len(), 1, "dpkg processes on the root: {pids:?}");
    pids[0].to_string()
}

#[track_caller]
fn kill(pid: &str) {
    assert_ok(&Command::new("kill").args(["-KILL", pid]).output().unwrap());
}

/// The rolled-back `name` is v1 again, fully installed (`ii`).
#[track_caller]
fn assert_v1_restored(t: &Apt, name: &str) {
    t.assert_installed(name, "1.0-1");
    t.assert_status(name, "ii");
}

/// `dpkg --audit` finds nothing half-done on the root.
#[track_caller]
fn assert_audit_clean(t: &Apt) {
    let audit = t.root.dpkg_any(&["--audit"]).unwrap();
    assert!(audit.stdout.is_empty(), "{audit:?}");
}

#[test]
fn apt_dpkg_killed_mid_postinst_is_rolled_back_from_a_half_configured_v2() {
    // v2's postinst hangs while the block file exists, then fails: the orphaned script
    // and the run `dpkg --configure -a` starts again both end in an error.
    let hang = "touch \"$DPKG_ROOT/var/lib/pwtest-hang.started\"\n\
                while [ -e \"$DPKG_ROOT/var/lib/pwtest-hang.block\" ]; do sleep 0.1; done\n\
                echo 'pwtest-hang: configuration abandoned' >&2\nexit 1";
    let Some(t) = apt(
        PkgSpec::new("pwtest-hang", "1.0-1"),
        &[PkgSpec::new("pwtest-hang", "2.0-1").postinst(hang)],
        "",
    ) else {
        return;
    };
    let block = t.root.path().join("var/lib/pwtest-hang.block");
    std::fs::write(&block, "").unwrap();
    let child =
        t.d.spawn(&install_job("hang", "pwtest-hang", "2.0-1", true));
    let started = t.root.path().join("var/lib/pwtest-hang.started");
    wait_until(60, "the postinst to start", || started.exists());
    kill(&the_dpkg(&t));
    std::fs::remove_file(&block).unwrap();
    assert_ok(&wait_output(child, 300));

    let r = t.d.report("hang");
    assert_report(&r, JobStatus::RolledBack, &ROLLED_BACK);
    let install_log = &r.steps[2].log_excerpt;
    assert!(
        install_log.contains("Sub-process /usr/bin/dpkg exited unexpectedly"),
        "{install_log}"
    );
    // The rollback found dpkg's journal, ran `dpkg --configure -a` (v2's postinst failed
    // again), and installed v1 over the half-configured v2.
    let rollback_log = &r.steps[3].log_excerpt;
    for said in [
        "dpkg was interrupted",
        "--configure -a",
        "pwtest-hang: configuration abandoned",
        "Unpacking pwtest-hang (1.0-1) over (2.0-1)",
        "deployments/dep-hang/packages/pwtest-hang_1.0-1_all.deb",
    ] {
        assert!(rollback_log.contains(said), "{said:?} in {rollback_log}");
    }
    assert_v1_restored(&t, "pwtest-hang");
    assert_before_after(&r, "pwtest-hang", Some("1.0-1"), Some("1.0-1"));
    assert_audit_clean(&t);
    t.d.host_untouched();
}

/// Whether process `pid` still runs after up to 5 s of waiting for it to go (a zombie,
/// killed and not yet reaped, does not run; a SIGKILL acts when the process is next
/// scheduled, so a check right after the kill could still see it).
fn running(pid: &str) -> bool {
    let runs = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
            .unwrap_or(false)
    };
    for _ in 0..50 {
        if !runs() {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    runs()
}

#[test]
fn apt_rollback_bounds_a_hung_dpkg_configure_and_still_restores_v1() {
    // v2's postinst hangs as long as the block file exists, recording each run's pid.
    let hang = "echo $$ >> \"$DPKG_ROOT/var/lib/pwtest-stuck.pids\"\n\
                while [ -e \"$DPKG_ROOT/var/lib/pwtest-stuck.block\" ]; do sleep 0.1; done";
    // timeout_secs = 60: the rollback's `dpkg --configure -a` gets 15 s of it.
    let Some(t) = apt_with_timeout(
        PkgSpec::new("pwtest-stuck", "1.0-1"),
        &[PkgSpec::new("pwtest-stuck", "2.0-1").postinst(hang)],
        "",
        60,
    ) else {
        return;
    };
    let block = t.root.path().join("var/lib/pwtest-stuck.block");
    let pids = t.root.path().join("var/lib/pwtest-stuck.pids");
    let runs = || {
        std::fs::read_to_string(&pids)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    std::fs::write(&block, "").unwrap();
    let child =
        t.d.spawn(&install_job("stuck", "pwtest-stuck", "2.0-1", true));
    wait_until(60, "the postinst to start", || !runs().is_empty());
    // The install's dpkg dies mid-postinst (its journal left behind), then the orphaned
    // script: the rollback must run `dpkg --configure -a`, where the script hangs again.
    for pid in [the_dpkg(&t), runs()[0].clone()] {
        kill(&pid);
    }
    let out = wait_output(child, 300);
    std::fs::remove_file(&block).unwrap();
    assert_ok(&out);

    let r = t.d.report("stuck");
    assert_report(&r, JobStatus::RolledBack, &ROLLED_BACK);
    // The second run of the postinst (by `dpkg --configure -a`) was killed with dpkg.
    let runs = runs();
    assert_eq!(runs.len(), 2, "postinst runs: {runs:?}");
    assert!(
        !running(&runs[1]),
        "the hung postinst {} still runs",
        runs[1]
    );
    let rollback = &r.steps[3];
    for said in [
        "--configure -a",
        "timed out after 15 s; killed with its process group",
        "dpkg --configure -a did not finish within 15 s",
        "the install from the backup tried again",
        "Unpacking pwtest-stuck (1.0-1) over (2.0-1)",
    ] {
        assert!(
            rollback.log_excerpt.contains(said),
            "{said:?} in {}",
            rollback.log_excerpt
        );
    }
    // Bounded by the recovery bound, not by the package-manager timeout (60 s), which
    // it used to wait out (and then fail: apt refused to run over the killed dpkg's
    // journal, with the orphaned script still running).
    let took = rollback.finished_at.as_second() - rollback.started_at.as_second();
    assert!(took < 60, "the rollback took {took} s");
    let full = std::fs::read_to_string(t.d.host.state.join("logs/stuck.rollback.log")).unwrap();
    assert!(full.contains("dpkg was interrupted"), "{full}");
    assert_v1_restored(&t, "pwtest-stuck");
    assert_eq!(
        version_in(&r.after, "pwtest-stuck").as_deref(),
        Some("1.0-1")
    );
    assert_audit_clean(&t);
    t.d.host_untouched();
}

#[test]
fn apt_install_timing_out_kills_the_hung_postinst_with_apt_get_and_dpkg() {
    // v2's postinst hangs as long as the block file exists, recording its pid.
    let hang = "echo $$ >> \"$DPKG_ROOT/var/lib/pwtest-slow.pids\"\n\
                while [ -e \"$DPKG_ROOT/var/lib/pwtest-slow.block\" ]; do sleep 0.1; done";
    // timeout_secs = 20: ample for the plan and the backup, then the install times out.
    let Some(t) = apt_with_timeout(
        PkgSpec::new("pwtest-slow", "1.0-1"),
        &[PkgSpec::new("pwtest-slow", "2.0-1").postinst(hang)],
        "",
        20,
    ) else {
        return;
    };
    let block = t.root.path().join("var/lib/pwtest-slow.block");
    std::fs::write(&block, "").unwrap();
    let r = t.d.run(install_job("slow", "pwtest-slow", "2.0-1", false));
    let runs = std::fs::read_to_string(t.root.path().join("var/lib/pwtest-slow.pids"));
    // Whatever happened, nothing is left blocked on the file once the test ends.
    std::fs::remove_file(&block).unwrap();
    let runs = runs.unwrap();
    let runs: Vec<&str> = runs.lines().collect();
    // apt-get, dpkg (its child) and the postinst (dpkg's child) were killed together:
    // the script does not hang on (it used to, with dpkg, after apt-get was killed).
    assert_eq!(runs.len(), 1, "postinst runs: {runs:?}");
    assert!(
        !running(runs[0]),
        "the hung postinst {} still runs",
        runs[0]
    );
    assert_eq!(
        t.root.dpkg_pids().unwrap(),
        Vec::<u32>::new(),
        "dpkg still runs"
    );
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
    let install = &r.steps[2].log_excerpt;
    assert!(
        install.contains("timed out after 20 s; killed with its process group"),
        "{install}"
    );
    t.assert_status("pwtest-slow", "iF");
    t.d.host_untouched();
}

#[test]
fn apt_backup_falls_back_to_dpkg_repack_and_the_rollback_restores_from_it() {
    if !tools_present(DPKG_REPACK_TOOLS).unwrap() {
        return;
    }
    let v1 = PkgSpec::new("pwtest-repack", "1.0-1").file("usr/share/pwtest-repack/v1", "one\n");
    let bad = PkgSpec::new("pwtest-repack", "2.0-1").failing_postinst();
    let Some(t) = apt(v1, &[bad], "") else {
        return;
    };
    // No .deb of v1 anywhere: not in the repository, not in apt's cache.
    t.remove_from_repo("pwtest-repack", "1.0-1");
    clear_archives(&t.root);
    let r = t.d.run(install_job("rp", "pwtest-repack", "2.0-1", true));
    assert_report(&r, JobStatus::RolledBack, &ROLLED_BACK);
    let backup_log = std::fs::read_to_string(t.d.host.state.join("logs/rp.backup.log")).unwrap();
    assert!(
        backup_log.contains("repacked pwtest-repack_1.0-1_all.deb with dpkg-repack"),
        "{backup_log}"
    );
    let kept =
        t.d.deployment_file("dep-rp/packages/pwtest-repack_1.0-1_all.deb");
    assert!(r.steps[3]
        .log_excerpt
        .contains("deployments/dep-rp/packages/pwtest-repack_1.0-1_all.deb"));
    // The repacked file is v1 with v1's files.
    let contents = Command::new("dpkg-deb")
        .arg("-c")
        .arg(&kept)
        .output()
        .unwrap();
    assert_ok(&contents);
    assert!(String::from_utf8_lossy(&contents.stdout).contains("./usr/share/pwtest-repack/v1"));
    assert_v1_restored(&t, "pwtest-repack");
    assert_eq!(
        std::fs::read_to_string(t.root.path().join("usr/share/pwtest-repack/v1")).unwrap(),
        "one\n"
    );
    t.d.host_untouched();
}
