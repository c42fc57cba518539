//! Deployments for real: the agent binary, driven by signed jobs from the fake server,
//! installs, verifies and rolls back tiny packages with the real apt/dpkg (and, in
//! `deploy_dnf`, dnf/rpm) on an alternate root built by `patchwarden-pmtest`. The host's
//! own package databases are checked to be untouched. Without the tools (or root), the
//! tests print `SKIP:` and pass, unless `PATCHWARDEN_REQUIRE_ALL_TESTS=1`.

mod apt;
mod apt_faults;
mod apt_post_hook;
mod apt_retry;
mod apt_revocation;
mod dnf;

use crate::fake::Fake;
use crate::host::{assert_ok, Host};
use crate::jobs::{job, reports};
use patchwarden_pmtest::HostSnapshot;
use patchwarden_wire::job::{Job, JobReport, Operation, PackageTarget, SignedJob};
use std::path::{Path, PathBuf};

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
        let id = job.id.clone();
        self.fake
            .queue(vec![SignedJob::sign(&job, &self.fake.job_key)]);
        assert_ok(&self.host.run(&["checkin"]));
        self.report(&id)
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

    /// The host's own package databases were not touched.
    pub fn host_untouched(&self) {
        self.snapshot.assert_unchanged().unwrap();
    }
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

/// `(step, ok)` of every step.
pub fn steps(r: &JobReport) -> Vec<(&str, bool)> {
    r.steps.iter().map(|s| (s.step.as_str(), s.ok)).collect()
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
