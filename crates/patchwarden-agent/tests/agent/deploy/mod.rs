//! Deployments for real: the agent binary, driven by signed jobs from the fake server,
//! installs, verifies and rolls back tiny packages with the real apt/dpkg (and, in
//! `deploy_dnf`, dnf/rpm) on an alternate root built by `patchwarden-pmtest`. The host's
//! own package databases are checked to be untouched. Without the tools (or root), the
//! tests print `SKIP:` and pass, unless `PATCHWARDEN_REQUIRE_ALL_TESTS=1`.

/// A scenario written once over [`Fixture`], run as one test per package manager: the
/// apt test with `apt_v1_v2(package)`, the dnf test with `dnf_v1_v2(package)` (each in
/// scope where this is used, and each skipping as its fixture does).
macro_rules! on_apt_and_dnf {
    ($($apt:ident, $dnf:ident: $package:literal => $scenario:ident;)+) => {$(
        #[test]
        fn $apt() {
            if let Some(t) = apt_v1_v2($package) {
                $scenario(t);
            }
        }

        #[test]
        fn $dnf() {
            if let Some(t) = dnf_v1_v2($package) {
                $scenario(t);
            }
        }
    )+};
}

mod apt;
mod apt_faults;
mod apt_revocation;
mod dnf;
mod hooks;
mod retry;

use crate::fake::Fake;
use crate::host::{assert_ok, Host};
use crate::jobs::{job, reports};
use patchwarden_pmtest::{HostSnapshot, PmError};
use patchwarden_wire::job::{Job, JobReport, JobStatus, Operation, PackageTarget, SignedJob};
use std::path::{Path, PathBuf};
use std::process::Child;

/// An enrolled agent whose root is a pmtest root, and the fake server.
pub struct Deployed {
    pub host: Host,
    pub fake: Fake,
    pub rebooted: PathBuf,
    snapshot: HostSnapshot,
    _guard: std::sync::RwLockReadGuard<'static, ()>,
}

/// Held shared by the deployment tests, whose [`HostSnapshot`] covers `/var/log/apt`,
/// and exclusively by tests that run apt on this machine itself (`apt-get -s` rewrites
/// `/var/log/apt/eipp.log.xz`).
pub static HOST_APT: std::sync::RwLock<()> = std::sync::RwLock::new(());

impl Deployed {
    /// Writes the agent configuration (`pm` is the `[package_manager]` body, `extra`
    /// more TOML tables) for `root` and enrols.
    pub fn new(dir: tempfile::TempDir, root: &Path, pm: &str, extra: &str) -> Self {
        let guard = HOST_APT.read().unwrap_or_else(|e| e.into_inner());
        let snapshot = HostSnapshot::capture().unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/hostname"), "db-01\n").unwrap();
        std::fs::write(
            root.join("etc/os-release"),
            "ID=debian\nVERSION_ID=\"12\"\n",
        )
        .unwrap();
        let state = dir.path().join("state");
        let config = dir.path().join("agent.toml");
        let rebooted = dir.path().join("rebooted");
        std::fs::write(
            &config,
            format!(
                "state_dir = {state:?}\nroot = {root:?}\ninterval_secs = 1\njitter_secs = 0\n\
                 pending_updates_secs = 0\nreboot_command = [\"touch\", {rebooted:?}]\n\
                 [package_manager]\n{pm}\n{extra}"
            ),
        )
        .unwrap();
        let host = Host {
            dir,
            root: root.to_owned(),
            state,
            config,
        };
        let fake = Fake::start();
        host.enroll(&fake.url());
        Self {
            host,
            fake,
            rebooted,
            snapshot,
            _guard: guard,
        }
    }

    /// Sends one job, checks in once, and returns its report.
    pub fn run(&self, job: Job) -> JobReport {
        self.queue(&job);
        assert_ok(&self.host.run(&["checkin"]));
        self.report(&job.id)
    }

    /// Sends one job and starts the check-in that runs it, for the test to interfere
    /// with meanwhile.
    pub fn spawn(&self, job: &Job) -> Child {
        self.queue(job);
        self.host.spawn(&["checkin"])
    }

    fn queue(&self, job: &Job) {
        self.fake
            .queue(vec![SignedJob::sign(job, &self.fake.job_key)]);
    }

    pub fn report(&self, id: &str) -> JobReport {
        reports(&self.fake)
            .into_iter()
            .rev()
            .find(|r| r.job_id == id)
            .unwrap_or_else(|| panic!("no report for {id}"))
    }

    /// Appends TOML to the agent's configuration (read again by each run).
    pub fn add_config(&self, toml: &str) {
        let old = std::fs::read_to_string(&self.host.config).unwrap();
        std::fs::write(&self.host.config, old + toml).unwrap();
    }

    /// `rel` in the agent's deployment store (`dep-X/backup.json`, `dep-X/packages/…`).
    pub fn deployment_file(&self, rel: &str) -> PathBuf {
        self.host.state.join("deployments").join(rel)
    }

    /// The host's own package databases were not touched.
    pub fn host_untouched(&self) {
        self.snapshot.assert_unchanged().unwrap();
    }
}

/// What the scenarios run with both package managers need of a root (`apt::Apt`,
/// `dnf::Dnf`): the agent deploying to it, its package database, and its repository
/// of tiny architecture-independent packages.
pub trait Fixture {
    /// The architecture of the test packages: `all` (dpkg) or `noarch` (rpm).
    const ARCH: &'static str;
    fn d(&self) -> &Deployed;
    /// `name` is installed at `version` per the root's package database.
    fn assert_installed(&self, name: &str, version: &str);
    /// The package file of `name` `version` in the repository (a backup keeps it
    /// under the same file name).
    fn repo_file(&self, name: &str, version: &str) -> PathBuf;
    /// A command line (for a local hook) that installs `name` `version` on the root
    /// from the repository.
    fn install_argv(&self, name: &str, version: &str) -> Vec<String>;
}

pub fn install(name: &str, version: &str) -> Operation {
    Operation::Install {
        packages: vec![PackageTarget {
            name: name.into(),
            version: version.into(),
            arch: None,
        }],
    }
}

pub fn deploy_job(id: &str, ops: Vec<Operation>, rollback: bool) -> Job {
    let mut j = job(id, 41, ops);
    j.deployment = Some(format!("dep-{id}"));
    j.rollback_on_failure = rollback;
    j
}

/// A [`deploy_job`] (deployment `dep-{id}`) that installs `name` `version` only.
pub fn install_job(id: &str, name: &str, version: &str, rollback: bool) -> Job {
    deploy_job(id, vec![install(name, version)], rollback)
}

/// An [`install_job`] in the existing `deployment`: a retry of it.
pub fn retry_job(id: &str, deployment: &str, name: &str, version: &str) -> Job {
    let mut j = install_job(id, name, version, false);
    j.deployment = Some(deployment.into());
    j
}

/// A job that restores the backup of `deployment`.
pub fn rollback_job(id: &str, deployment: &str) -> Job {
    job(
        id,
        41,
        vec![Operation::Rollback {
            deployment: deployment.into(),
        }],
    )
}

/// The steps of an install that failed and was rolled back from the backup.
pub const ROLLED_BACK: [(&str, bool); 6] = [
    ("plan", true),
    ("backup", true),
    ("install", false),
    ("rollback", true),
    ("verify_rollback", true),
    ("package-db", true),
];

/// `(step, ok)` of every step.
pub fn steps(r: &JobReport) -> Vec<(&str, bool)> {
    r.steps.iter().map(|s| (s.step.as_str(), s.ok)).collect()
}

/// The job ended with `status` after exactly these `(step, ok)`.
#[track_caller]
pub fn assert_report(r: &JobReport, status: JobStatus, want: &[(&str, bool)]) {
    assert_eq!(r.status, status, "{:#?}", r.steps);
    assert_eq!(steps(r), want);
}

#[track_caller]
pub fn step_ok(r: &JobReport, name: &str) -> bool {
    r.steps
        .iter()
        .rfind(|s| s.step == name)
        .unwrap_or_else(|| panic!("no step {name}: {:#?}", r.steps))
        .ok
}

pub fn version_in(
    list: &Option<Vec<patchwarden_domain::package::InstalledPackage>>,
    name: &str,
) -> Option<String> {
    list.as_ref()?
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.version.clone())
}

/// `name` is at `before` in the report's package set before the job and at `after`
/// in the one after it (`None`: not fully installed).
#[track_caller]
pub fn assert_before_after(r: &JobReport, name: &str, before: Option<&str>, after: Option<&str>) {
    assert_eq!(version_in(&r.before, name).as_deref(), before);
    assert_eq!(version_in(&r.after, name).as_deref(), after);
}

/// A root's answer (`installed_version`, `status_abbrev`) is `want`.
#[track_caller]
pub fn assert_root_says(answer: Result<Option<String>, PmError>, want: &str) {
    assert_eq!(answer.unwrap().as_deref(), Some(want));
}
