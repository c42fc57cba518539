//! dnf/rpm deployments: upgrade, a `%post` failure rolled back from the backup after
//! v1 left the repository, automatically or by a rollback job, and an install timing
//! out in a hung scriptlet.

use super::{
    assert_before_after, assert_report, assert_root_says, deploy_job, install, install_job,
    rollback_job, version_in, Deployed, Fixture,
};
use patchwarden_pmtest::{tools_and_root_present, DnfRoot, PkgSpec, RpmRepo, DNF_TOOLS};
use patchwarden_wire::job::{JobStatus, Operation};
use std::path::{Path, PathBuf};

pub(super) struct Dnf {
    pub(super) d: Deployed,
    pub(super) root: DnfRoot,
    pub(super) repo: RpmRepo,
}

/// `name` 1.0-1 installed, 2.0-1 in the repository too.
pub(super) fn dnf_v1_v2(name: &str) -> Option<Dnf> {
    let v2 = PkgSpec::new(name, "2.0-1");
    dnf(PkgSpec::new(name, "1.0-1"), &[v2], "")
}

/// A root with `v1` installed from a repository holding `more` too; `extra` is TOML
/// that may name `{repo}` (the repository directory).
fn dnf(v1: PkgSpec, more: &[PkgSpec], extra: &str) -> Option<Dnf> {
    dnf_with_timeout(v1, more, extra, 120)
}

/// [`dnf`] with the package-manager timeout (`timeout_secs`) given.
fn dnf_with_timeout(v1: PkgSpec, more: &[PkgSpec], extra: &str, timeout_secs: u64) -> Option<Dnf> {
    if !tools_and_root_present(DNF_TOOLS).unwrap() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let repo = RpmRepo::new(&dir.path().join("repo"), "local").unwrap();
    repo.add(&v1).unwrap();
    for s in more {
        repo.add(s).unwrap();
    }
    repo.publish(&[]).unwrap();
    let root = DnfRoot::new(&dir.path().join("root"), "9").unwrap();
    root.add_repo(&repo).unwrap();
    root.install(&[&format!("{}-{}", v1.name, v1.version)])
        .unwrap();
    let pm = format!(
        "kind = \"dnf\"\ndnf_args = {:?}\ntimeout_secs = {timeout_secs}",
        root.dnf_options()
    );
    let extra = extra.replace("{repo}", &repo.repo_dir().display().to_string());
    let d = Deployed::new(dir, root.path(), &pm, &extra);
    Some(Dnf { d, root, repo })
}

impl Fixture for Dnf {
    const ARCH: &'static str = "noarch";

    fn d(&self) -> &Deployed {
        &self.d
    }

    /// `name` is installed at `version` per the root's rpm database.
    #[track_caller]
    fn assert_installed(&self, name: &str, version: &str) {
        assert_root_says(self.root.installed_version(name), version);
    }

    fn repo_file(&self, name: &str, version: &str) -> PathBuf {
        self.repo
            .repo_dir()
            .join(format!("{name}-{version}.noarch.rpm"))
    }

    fn install_argv(&self, name: &str, version: &str) -> Vec<String> {
        let mut argv = vec![
            "dnf".to_owned(),
            format!("--installroot={}", self.root.path().display()),
        ];
        argv.extend(self.root.dnf_options());
        argv.extend(["-y", "install"].map(str::to_owned));
        argv.push(format!("{name}-{version}"));
        argv
    }
}

/// A pre hook that takes v1 out of the repository after the backup was made.
fn drop_v1_hook(file: &str) -> String {
    format!(
        "[hooks]\npre = [\"sh\", \"-c\", \"rm {{repo}}/{file} && createrepo_c --quiet \
         --no-database {{repo}}\"]\n"
    )
}

/// dnf's answer for `spec` in the repositories: `None` when there is no match.
fn repo_lookup(t: &Dnf, spec: &str) -> Option<String> {
    let out = t
        .root
        .dnf_any(&["--refresh", "--assumeno", "install", spec])
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (!text.contains("No match for argument")).then_some(text)
}

#[test]
fn dnf_upgrade_v1_to_v2_is_verified() {
    let v2 = PkgSpec::new("pwtest-app", "2.0-1");
    let Some(t) = dnf(PkgSpec::new("pwtest-app", "1.0-1"), &[v2], "") else {
        return;
    };
    let ops = vec![Operation::RefreshMetadata, install("pwtest-app", "2.0-1")];
    let r = t.d.run(deploy_job("up", ops, true));
    assert_report(
        &r,
        JobStatus::Succeeded,
        &[
            ("refresh_metadata", true),
            ("plan", true),
            ("backup", true),
            ("install", true),
            ("verify", true),
        ],
    );
    t.assert_installed("pwtest-app", "2.0-1");
    assert_before_after(&r, "pwtest-app", Some("1.0-1"), Some("2.0-1"));
    let kept =
        t.d.deployment_file("dep-up/packages/pwtest-app-1.0-1.noarch.rpm");
    assert!(kept.is_file(), "{:#?}", r.steps[2]);
    t.d.host_untouched();
}

/// Names too long for dnf's 80-column table wrap onto two lines: the plan still names
/// exactly the packages of the transaction (not the arch or repository of the second
/// line).
#[test]
fn dnf_plan_reads_wrapped_rows_of_long_names() {
    let long = "pwtest-a-package-whose-name-is-far-too-long-for-the-name-column";
    let dep = format!("{long}-dep");
    let v2 = PkgSpec::new(long, "2.0-1").depends(&dep);
    let more = [v2, PkgSpec::new(&dep, "1.0-1")];
    let Some(t) = dnf(PkgSpec::new(long, "1.0-1"), &more, "") else {
        return;
    };
    let r = t.d.run(install_job("long", long, "2.0-1", true));
    assert_eq!(r.status, JobStatus::Succeeded, "{:#?}", r.steps);
    let plan = &r.steps[0];
    assert_eq!(plan.step, "plan");
    assert_eq!(
        plan.log_excerpt,
        format!("the transaction changes: {long}, {dep}"),
    );
    t.assert_installed(&dep, "1.0-1");
    t.d.host_untouched();
}

#[test]
fn dnf_failing_post_is_rolled_back_from_the_backup_after_v1_left_the_repository() {
    let bad = PkgSpec::new("pwtest-bad", "2.0-1").failing_postinst();
    let hook = drop_v1_hook("pwtest-bad-1.0-1.noarch.rpm");
    let Some(t) = dnf(PkgSpec::new("pwtest-bad", "1.0-1"), &[bad], &hook) else {
        return;
    };
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
    // dnf exits 0 when %post fails (rpm keeps v2): the scriptlet error is the failure.
    assert!(
        r.steps[3].log_excerpt.contains("scriptlet failed"),
        "{}",
        r.steps[3].log_excerpt
    );
    let v1_file = t.repo.repo_dir().join("pwtest-bad-1.0-1.noarch.rpm");
    assert!(!v1_file.exists(), "v1 is still in the repository");
    t.assert_installed("pwtest-bad", "1.0-1");
    assert_eq!(version_in(&r.after, "pwtest-bad").as_deref(), Some("1.0-1"));
    t.d.host_untouched();
}

#[test]
fn dnf_without_automatic_rollback_awaits_revocation_and_a_rollback_job_restores_v1() {
    let bad = PkgSpec::new("pwtest-bad", "2.0-1").failing_postinst();
    let hook = drop_v1_hook("pwtest-bad-1.0-1.noarch.rpm");
    let Some(t) = dnf(PkgSpec::new("pwtest-bad", "1.0-1"), &[bad], &hook) else {
        return;
    };
    let r = t.d.run(install_job("norb", "pwtest-bad", "2.0-1", false));
    assert_eq!(r.status, JobStatus::AwaitingRevocation, "{:#?}", r.steps);
    t.assert_installed("pwtest-bad", "2.0-1");
    assert_before_after(&r, "pwtest-bad", Some("1.0-1"), Some("2.0-1"));
    if let Some(found) = repo_lookup(&t, "pwtest-bad-1.0-1") {
        panic!("v1 is still in the repository: {found}\n{:#?}", r.steps);
    }
    let r = t.d.run(rollback_job("rb", "dep-norb"));
    assert_eq!(r.status, JobStatus::RolledBack, "{:#?}", r.steps);
    t.assert_installed("pwtest-bad", "1.0-1");
    t.d.host_untouched();
}

/// The processes whose root directory is `root`: rpm runs scriptlets chrooted there.
fn chrooted_in(root: &Path) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| std::fs::read_link(e.path().join("root")).is_ok_and(|r| r == root))
        // A zombie (killed, not yet reaped) runs no more.
        .filter(|e| {
            std::fs::read_to_string(e.path().join("stat")).is_ok_and(|s| {
                s.rsplit_once(") ")
                    .is_some_and(|(_, r)| !r.starts_with('Z'))
            })
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn dnf_install_timing_out_kills_the_hung_scriptlet_and_what_it_forked() {
    // v2's %post forks (the child is a copy of dnf, chrooted into the root), and both
    // wait as long as the block file exists.
    let lua = "posix.fork()\n\
               while posix.stat(\"/var/lib/pwtest-fork.block\") do posix.sleep(1) end";
    // timeout_secs = 20: ample for the plan and the backup, then the install times out.
    let Some(t) = dnf_with_timeout(
        PkgSpec::new("pwtest-fork", "1.0-1"),
        &[PkgSpec::new("pwtest-fork", "2.0-1").post_lua(lua)],
        "",
        20,
    ) else {
        return;
    };
    let root = t.root.path().canonicalize().unwrap();
    let block = root.join("var/lib/pwtest-fork.block");
    std::fs::write(&block, "").unwrap();
    let r = t.d.run(install_job("fork", "pwtest-fork", "2.0-1", false));
    // A SIGKILL acts when the process is next scheduled: give the killed ones 5 s to go.
    let mut left = chrooted_in(&root);
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        left = chrooted_in(&root);
    }
    // Whatever happened, nothing is left blocked on the file once the test ends.
    std::fs::remove_file(&block).unwrap();
    // dnf and the scriptlet's fork were killed together (the fork used to live on).
    assert_eq!(left, Vec::<String>::new(), "processes left in the root");
    let install = r.steps.iter().find(|s| s.step == "install").unwrap();
    assert!(!install.ok, "{install:?}");
    assert!(
        install
            .log_excerpt
            .contains("timed out after 20 s; killed with its process group"),
        "{}",
        install.log_excerpt
    );
    assert_eq!(r.status, JobStatus::AwaitingRevocation, "{:#?}", r.steps);
    t.d.host_untouched();
}
