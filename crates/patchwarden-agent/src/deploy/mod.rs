//! The package executor: runs install, rollback, metadata refresh, health-check and
//! reboot jobs for real with apt/dpkg or dnf/rpm, confined to the configured root.
//!
//! An install ("bring these packages to these versions") goes: record the package
//! set → simulate the transaction (`plan`) → `snapshot` hook → save the installed
//! versions of every package the transaction touches (`backup`) → `pre` hook →
//! install → `post` hook → verify the versions → health checks. On a failure of any
//! of the last four (a failing `post` hook counts as a failed health check) the job
//! rolls back from the backup when `rollback_on_failure`; else it reports
//! `awaiting_revocation` (with the recorded package set) when packages were changed,
//! and the backup waits for a `Rollback { deployment }` job, or plain `failed` when
//! nothing was changed. A failing `pre` hook is plain `failed` when it changed no
//! package the transaction touches (and left none newly half-installed); when it did,
//! the same rule applies as after a failed install. Plain `failed` always means that
//! nothing was changed. See `apt.rs`/`dnf.rs` for how each package manager backs up
//! and restores, and `backup.rs` for the on-disk layout.

mod apt;
mod backup;
mod dnf;
mod install;
mod manager;
pub(crate) mod reboot;
mod run;
#[cfg(test)]
mod testing;
mod validate;

use crate::config::{AgentConfig, Hooks};
use crate::health::{op_name, HealthExecutor};
use crate::jobs::{step, Executor};
use backup::Store;
use jiff::Timestamp;
use manager::Manager;
use patchwarden_domain::package::InstalledPackage;
use patchwarden_wire::job::{Job, JobReport, JobStatus, Operation, RebootPolicy, StepReport};
use reboot::{reboot_required, NeedsRestarting};
use run::Outcome;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// Longest a reboot command may take to return.
const REBOOT_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug)]
pub struct PackageExecutor {
    health: HealthExecutor,
    root: PathBuf,
    store: Store,
    hooks: Hooks,
    reboot_command: Vec<String>,
    /// The package manager, or why package operations are refused.
    manager: Result<Box<dyn Manager>, String>,
    timeout: Duration,
    /// Set by a job whose policy asks for a reboot; run once its report is spooled.
    reboot_after: Option<String>,
    /// Asked on rpm hosts whether the job made a reboot necessary.
    needs_restarting: NeedsRestarting,
}

impl PackageExecutor {
    pub fn new(cfg: &AgentConfig, health: HealthExecutor) -> Self {
        Self {
            health,
            root: cfg.root.clone(),
            store: Store::new(&cfg.state_dir),
            hooks: cfg.hooks.clone(),
            reboot_command: cfg.reboot_command.clone(),
            manager: manager::select(&cfg.root, &cfg.package_manager),
            timeout: Duration::from_secs(cfg.package_manager.timeout_secs),
            reboot_after: None,
            needs_restarting: NeedsRestarting::system(),
        }
    }

    fn manager(&self) -> Result<&dyn Manager, String> {
        self.manager.as_deref().map_err(Clone::clone)
    }

    /// Everything that must hold before anything runs; the offending operation's name
    /// and the reason otherwise.
    fn precheck(&self, job: &Job) -> Result<(), (&'static str, String)> {
        let count = |f: fn(&Operation) -> bool| job.operations.iter().filter(|o| f(o)).count();
        let installs = count(|o| matches!(o, Operation::Install { .. }));
        let rollbacks = count(|o| matches!(o, Operation::Rollback { .. }));
        if installs + rollbacks > 1 {
            return Err((
                "install",
                "a job may hold one install or one rollback, not more".into(),
            ));
        }
        for op in &job.operations {
            let name = op_name(op);
            match op {
                Operation::Install { packages } => {
                    validate::targets(packages).map_err(|e| (name, e))?;
                    let dep = deployment_of(job);
                    if !validate::deployment_ok(dep) {
                        return Err((name, format!("deployment id {dep:?} is not acceptable")));
                    }
                }
                Operation::Rollback { deployment } if !validate::deployment_ok(deployment) => {
                    return Err((
                        name,
                        format!("deployment id {deployment:?} is not acceptable"),
                    ));
                }
                Operation::HealthChecks { .. } | Operation::Reboot => continue,
                _ => {}
            }
            self.manager().map_err(|e| (name, e))?;
        }
        Ok(())
    }

    /// A step timed around `f`; returns whether it succeeded.
    fn timed(report: &mut JobReport, name: &str, f: impl FnOnce() -> Outcome) -> bool {
        let started = Timestamp::now();
        let out = f();
        report
            .steps
            .push(step(name, out.ok, started, Timestamp::now(), &out.log));
        out.ok
    }

    /// Runs a local hook (argv from the local configuration only) as step `hook:<name>`,
    /// in a process group of its own killed whole at the timeout: nothing a hook
    /// started outlives it when it hangs (one that exits in time leaves its children
    /// be).
    /// When it fails, the step's log ends with `the <name> hook failed (<how>): ` and
    /// `if_failed`, what its failure means for the job.
    fn hook(
        &self,
        name: &str,
        argv: &[String],
        job: &Job,
        report: &mut JobReport,
        if_failed: &str,
    ) -> bool {
        let Some((program, args)) = argv.split_first() else {
            return true;
        };
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env("PATCHWARDEN_JOB_ID", &job.id)
            .env("PATCHWARDEN_DEPLOYMENT", deployment_of(job))
            .env("PATCHWARDEN_ROOT", &self.root);
        let what = run::describe(&cmd);
        let log = self.store.log_path(&job.id, &format!("hook-{name}"));
        Self::timed(report, &format!("hook:{name}"), || {
            let (mut out, _) = run::run_logged_group(cmd, self.timeout, &log);
            if !out.ok {
                // run_logged_group's last line is `<command>: <exit status, timeout, …>`.
                let how = out
                    .log
                    .lines()
                    .last()
                    .and_then(|l| l.strip_prefix(what.as_str()))
                    .and_then(|l| l.strip_prefix(": "))
                    .unwrap_or("see above");
                out.log = format!("{}\nthe {name} hook failed ({how}): {if_failed}", out.log);
            }
            out
        })
    }

    /// The health checks a job names (all of them when it names none).
    fn health_names(job: &Job) -> Vec<String> {
        job.operations
            .iter()
            .find_map(|op| match op {
                Operation::HealthChecks { names } => Some(names.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// Facts about a job an earlier run of the agent started and never finished: the
    /// state of the package database and of the packages it touched, and the package
    /// set recorded before it, when it got that far.
    pub fn inspect_interrupted(
        &self,
        job: &Job,
    ) -> (Vec<StepReport>, Option<Vec<InstalledPackage>>) {
        let touches = job.operations.iter().find_map(|op| match op {
            Operation::Install { .. } => Some(deployment_of(job).to_owned()),
            Operation::Rollback { deployment } => Some(deployment.clone()),
            _ => None,
        });
        let (Some(dep), Ok(m)) = (touches, self.manager()) else {
            return (Vec::new(), None);
        };
        if !validate::deployment_ok(&dep) {
            return (Vec::new(), None);
        }
        let backup = self.store.load(&dep).ok().flatten();
        let mut names: Vec<String> = job
            .operations
            .iter()
            .flat_map(|op| match op {
                Operation::Install { packages } => {
                    packages.iter().map(|p| p.name.clone()).collect()
                }
                _ => Vec::new(),
            })
            .filter(|n| validate::name_ok(n))
            .collect();
        if let Some(b) = &backup {
            names.extend(b.touched.iter().cloned());
        }
        names.sort();
        names.dedup();
        let mut report = JobReport {
            job_id: job.id.clone(),
            status: JobStatus::Interrupted,
            steps: Vec::new(),
            before: None,
            after: None,
            reboot_required: false,
        };
        let log = self.store.log_path(&job.id, "package-db");
        let backed_up = match &backup {
            Some(b) => format!(
                "a backup of deployment {dep} exists ({} package files): a Rollback job restores it",
                b.saved.len()
            ),
            None => format!("no backup of deployment {dep} was recorded: nothing was installed"),
        };
        Self::timed(&mut report, "package-db", || {
            let out = m.check_db(&names, &log);
            Outcome {
                ok: out.ok,
                log: format!("{}\n{backed_up}", out.log),
            }
        });
        (report.steps, backup.map(|b| b.before))
    }
}

impl Executor for PackageExecutor {
    fn run(&mut self, job: &Job) -> JobReport {
        let now = Timestamp::now();
        if let Err((name, why)) = self.precheck(job) {
            let mut r = crate::jobs::rejected(&job.id, &why, now);
            r.steps[0].step = name.to_owned();
            return r;
        }
        let mut report = JobReport {
            job_id: job.id.clone(),
            status: JobStatus::Succeeded,
            steps: Vec::new(),
            before: None,
            after: None,
            reboot_required: false,
        };
        let changes = job
            .operations
            .iter()
            .any(|o| matches!(o, Operation::Install { .. } | Operation::Rollback { .. }));
        for op in &job.operations {
            let status = match (op, self.manager()) {
                (Operation::RefreshMetadata, Ok(m)) => {
                    let log = self.store.log_path(&job.id, "refresh");
                    match Self::timed(&mut report, "refresh_metadata", || m.refresh(&log)) {
                        true => JobStatus::Succeeded,
                        false => JobStatus::Failed,
                    }
                }
                (Operation::Install { packages }, Ok(m)) => {
                    self.install(job, packages, m, &mut report)
                }
                (Operation::Rollback { deployment }, Ok(m)) => {
                    self.rollback_job(job, deployment, m, &mut report)
                }
                // Part of the install's or rollback's verification.
                (Operation::HealthChecks { .. }, _) if changes => continue,
                (Operation::HealthChecks { names }, _) => {
                    let steps = self.health.run_named(names);
                    let ok = steps.iter().all(|s| s.ok);
                    report.steps.extend(steps);
                    if ok {
                        JobStatus::Succeeded
                    } else {
                        JobStatus::Failed
                    }
                }
                (Operation::Reboot, _) => continue,
                (_, Err(why)) => {
                    let t = Timestamp::now();
                    report.steps.push(step(op_name(op), false, t, t, &why));
                    JobStatus::Failed
                }
            };
            if status != JobStatus::Succeeded {
                report.status = status;
            }
            if status == JobStatus::Failed
                || matches!(op, Operation::Install { .. }) && status != JobStatus::Succeeded
            {
                break;
            }
        }
        report.reboot_required = reboot_required(&self.root, Some(&self.needs_restarting));
        self.decide_reboot(job, &mut report);
        report
    }

    fn after_report(&mut self) {
        let Some(job_id) = self.reboot_after.take() else {
            return;
        };
        let Some((program, args)) = self.reboot_command.split_first() else {
            return;
        };
        crate::info(&format!("rebooting after job {job_id}"));
        let mut cmd = Command::new(program);
        cmd.args(args);
        let log = self.store.log_path(&job_id, "reboot");
        let out = run::run_logged(cmd, REBOOT_TIMEOUT, &log);
        if !out.ok {
            crate::warn(&format!("the reboot command failed: {}", out.log.trim()));
        }
    }

    fn inspect_interrupted(&self, job: &Job) -> (Vec<StepReport>, Option<Vec<InstalledPackage>>) {
        PackageExecutor::inspect_interrupted(self, job)
    }
}

impl PackageExecutor {
    /// Reboot as the job's policy allows, after a job that did not fail.
    fn decide_reboot(&mut self, job: &Job, report: &mut JobReport) {
        let asked = job
            .operations
            .iter()
            .any(|o| matches!(o, Operation::Reboot));
        let done = matches!(report.status, JobStatus::Succeeded | JobStatus::RolledBack);
        let (reboot, why) = match job.reboot {
            _ if !done => (false, "not rebooting: the job failed"),
            RebootPolicy::Never => (false, "not rebooting: the job's reboot policy is never"),
            RebootPolicy::IfNeeded if !report.reboot_required => {
                (false, "not rebooting: no reboot is needed")
            }
            RebootPolicy::IfNeeded => (true, "a reboot is needed"),
            RebootPolicy::Always => (true, "the job's reboot policy is always"),
        };
        if !reboot && !asked {
            return;
        }
        let log = if reboot {
            self.reboot_after = Some(job.id.clone());
            format!(
                "{why}: running {:?} once this report is spooled; the report is sent when the \
                 agent is back",
                self.reboot_command
            )
        } else {
            why.to_owned()
        };
        let t = Timestamp::now();
        report.steps.push(step("reboot", true, t, t, &log));
    }
}

/// The deployment a job's backup is filed under: its deployment id, else its own id.
pub fn deployment_of(job: &Job) -> &str {
    job.deployment.as_deref().unwrap_or(&job.id)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use patchwarden_wire::job::RebootPolicy;
    use testing::still_running;

    #[test]
    fn a_hook_timing_out_is_killed_with_what_it_forked() {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut cfg = AgentConfig {
            state_dir: dir.path().join("state"),
            root: dir.path().join("root"),
            ..AgentConfig::default()
        };
        cfg.package_manager.timeout_secs = 1;
        let health =
            HealthExecutor::new(Vec::new(), cfg.root.clone(), runtime.handle().clone()).unwrap();
        let executor = PackageExecutor::new(&cfg, health);
        let now = Timestamp::now();
        let job = Job {
            id: "hung".into(),
            agent_id: 1,
            deployment: Some("dep-hung".into()),
            issued_at: now,
            expires_at: now,
            operations: Vec::new(),
            rollback_on_failure: false,
            reboot: RebootPolicy::Never,
        };
        let mut report = JobReport {
            job_id: job.id.clone(),
            status: JobStatus::Running,
            steps: Vec::new(),
            before: None,
            after: None,
            reboot_required: false,
        };
        // The hook forks a long sleep (which would outlive a hook killed alone), then
        // hangs itself past the timeout.
        let pid_file = dir.path().join("child.pid");
        let script =
            r#"sleep 300 & echo $! > "$1"; echo "forked $PATCHWARDEN_DEPLOYMENT"; sleep 300"#;
        let argv = ["sh", "-c", script, "sh"]
            .map(String::from)
            .into_iter()
            .chain([pid_file.display().to_string()])
            .collect::<Vec<_>>();
        let started = std::time::Instant::now();
        let ok = executor.hook("pre", &argv, &job, &mut report, "it means this");
        assert!(started.elapsed() < Duration::from_secs(30));
        assert!(!ok);
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let pid = pid.trim();
        assert!(!pid.is_empty(), "no pid of the forked child");
        let left = still_running(pid);
        if left {
            let _ = Command::new("kill").args(["-KILL", pid]).status();
        }
        assert!(!left, "the hook's child sleep {pid} outlived it");
        let [step] = report.steps.as_slice() else {
            panic!("{:#?}", report.steps)
        };
        assert_eq!((step.step.as_str(), step.ok), ("hook:pre", false));
        for said in [
            "forked dep-hung",
            "the pre hook failed (timed out after 1 s; killed with its process group): \
             it means this",
        ] {
            assert!(
                step.log_excerpt.contains(said),
                "{said:?} in {}",
                step.log_excerpt
            );
        }
    }
}
