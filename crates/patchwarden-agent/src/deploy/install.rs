//! The install and rollback flows of [`PackageExecutor`], and their verification.

use super::backup::Backup;
use super::manager::{same_version, Manager, Unsettled};
use super::run::Outcome;
use super::{deployment_of, PackageExecutor};
use crate::jobs::step;
use jiff::Timestamp;
use patchwarden_domain::package::InstalledPackage;
use patchwarden_wire::job::{Job, JobReport, JobStatus, PackageTarget};

/// What a failing snapshot hook means: the job stops before the backup.
const NOTHING_CHANGED: &str = "the deployment stops here; no package was changed";
/// What a failing pre hook means: the job stops before the install, and what the hook
/// itself changed is treated as a failed install's change would be.
const PRE_FAILED: &str = "the deployment stops here, before the install; if the hook \
     changed packages the transaction touches, they are rolled back when the job's \
     rollback_on_failure allows it, else left for an approved rollback job";
/// What a failing post hook means (like a failed health check).
const POST_FAILED: &str = "the deployment counts as failed, as with a failed health \
     check: rolled back when the job's rollback_on_failure allows it, else left for an \
     approved rollback job when packages were changed";

impl PackageExecutor {
    fn packages_now(&self) -> Result<Vec<InstalledPackage>, String> {
        patchwarden_inventory::collect_local(&self.root)
            .map(|inv| inv.packages)
            .map_err(|e| format!("cannot read the package database: {e}"))
    }

    fn fail_step(report: &mut JobReport, name: &str, why: &str) -> JobStatus {
        let t = Timestamp::now();
        report.steps.push(step(name, false, t, t, why));
        JobStatus::Failed
    }

    /// Health checks as steps; whether all passed.
    fn health_steps(&self, job: &Job, report: &mut JobReport) -> bool {
        let steps = self.health.run_named(&Self::health_names(job));
        let ok = steps.iter().all(|s| s.ok);
        report.steps.extend(steps);
        ok
    }

    pub(super) fn install(
        &self,
        job: &Job,
        targets: &[PackageTarget],
        m: &dyn Manager,
        report: &mut JobReport,
    ) -> JobStatus {
        let dep = deployment_of(job);
        let log = |name: &str| self.store.log_path(&job.id, name);
        let before = match self.packages_now() {
            Ok(p) => p,
            Err(e) => return Self::fail_step(report, "backup", &e),
        };
        report.before = Some(before.clone());
        // Packages already in the middle of a change are not this deployment's doing.
        let unsettled_before = match m.unsettled(&log("package-state")) {
            Ok(u) => u,
            Err(e) => return Self::fail_step(report, "backup", &e),
        };

        let started = Timestamp::now();
        let mut touched = match m.plan(targets, &log("plan")) {
            Ok(names) => names,
            Err(out) => {
                let why = format!(
                    "{}\nthe transaction cannot be resolved; nothing was changed",
                    out.log
                );
                report
                    .steps
                    .push(step("plan", false, started, Timestamp::now(), &why));
                return JobStatus::Failed;
            }
        };
        touched.extend(targets.iter().map(|t| t.name.clone()));
        touched.sort();
        touched.dedup();
        let summary = format!("the transaction changes: {}", touched.join(", "));
        report
            .steps
            .push(step("plan", true, started, Timestamp::now(), &summary));

        if let Some(argv) = &self.hooks.snapshot {
            if !self.hook("snapshot", argv, job, report, NOTHING_CHANGED) {
                return JobStatus::Failed;
            }
        }
        let mut backup = None;
        let backed_up = Self::timed(report, "backup", || {
            let dest = match self.store.prepare(dep) {
                Ok(d) => d,
                Err(e) => return Outcome::fail(e),
            };
            let replaced: Vec<InstalledPackage> = before
                .iter()
                .filter(|p| touched.contains(&p.name))
                .cloned()
                .collect();
            let saved = match m.save(&replaced, &dest, &log("backup")) {
                Ok(s) => s,
                Err(out) => return out,
            };
            let record = Backup {
                deployment: dep.to_owned(),
                job_id: job.id.clone(),
                manager: m.kind().to_owned(),
                created_at: Timestamp::now(),
                before: before.clone(),
                targets: targets.to_vec(),
                touched: touched.clone(),
                saved,
                rolled_back_at: None,
                failed_unchanged_at: None,
            };
            if let Err(e) = self.store.save(&record) {
                return Outcome::fail(e);
            }
            let files: Vec<&str> = record.saved.iter().map(|s| s.file.as_str()).collect();
            let text = format!(
                "deployment {dep}: {} package files kept in {} ({}); a Rollback job for this \
                 deployment restores them",
                files.len(),
                dest.display(),
                files.join(", ")
            );
            backup = Some(record);
            Outcome::success(text)
        });
        let Some(mut backup) = backup.filter(|_| backed_up) else {
            return JobStatus::Failed;
        };
        let left_now = || {
            let now = self.packages_now();
            let unsettled_now = m.unsettled(&log("package-state"));
            what_is_left(
                (&before, now.as_deref().map_err(String::as_str)),
                (
                    &unsettled_before,
                    unsettled_now.as_deref().map_err(String::as_str),
                ),
                &touched,
            )
        };
        let touched_now = || {
            self.packages_now()
                .ok()
                .map(|now| touched_only(now, &touched))
        };
        if let Some(argv) = &self.hooks.pre {
            if !self.hook("pre", argv, job, report, PRE_FAILED) {
                // The hook is local code, and may have changed packages before it
                // failed: plain `failed` (and a retry) only when it changed none.
                let left = left_now();
                if left == Left::Unchanged {
                    self.failed_unchanged(&mut backup);
                    return JobStatus::Failed;
                }
                report.after = touched_now();
                return self.undo_or_wait(job, backup, m, report, || left);
            }
        }

        let installed = Self::timed(report, "install", || m.install(targets, &log("install")));
        // A failing post hook fails the deployment as a failing health check does.
        let post_ok = match &self.hooks.post {
            Some(argv) => self.hook("post", argv, job, report, POST_FAILED),
            None => true,
        };
        let verified = installed && Self::timed(report, "verify", || self.verify_targets(targets));
        let healthy = verified && self.health_steps(job, report);
        report.after = touched_now();
        if installed && post_ok && verified && healthy {
            return JobStatus::Succeeded;
        }
        self.undo_or_wait(job, backup, m, report, left_now)
    }

    /// After a failure past the backup: rolls back from `backup` when the job's
    /// `rollback_on_failure` allows it; else reports what `left` tells
    /// ([`left_for_revocation`]: `awaiting_revocation` when packages were changed,
    /// plain `failed` when none was) in a `rollback` step.
    fn undo_or_wait(
        &self,
        job: &Job,
        mut backup: Backup,
        m: &dyn Manager,
        report: &mut JobReport,
        left: impl FnOnce() -> Left,
    ) -> JobStatus {
        if job.rollback_on_failure {
            return self.rollback(job, backup, m, report);
        }
        let left = left();
        if left == Left::Unchanged {
            self.failed_unchanged(&mut backup);
        }
        let (status, why) = left_for_revocation(&left, &backup.deployment);
        let t = Timestamp::now();
        report.steps.push(step("rollback", true, t, t, &why));
        status
    }

    /// Marks `backup` as left by an install that failed without a change, so that a
    /// retry of the deployment may replace it. When the mark cannot be written the
    /// backup stays live and a retry is refused, as after a change.
    fn failed_unchanged(&self, backup: &mut Backup) {
        backup.failed_unchanged_at = Some(Timestamp::now());
        if let Err(e) = self.store.save(backup) {
            crate::warn(&e);
        }
    }

    pub(super) fn rollback_job(
        &self,
        job: &Job,
        deployment: &str,
        m: &dyn Manager,
        report: &mut JobReport,
    ) -> JobStatus {
        match self.store.load(deployment) {
            Ok(Some(b)) if b.manager != m.kind() => Self::fail_step(
                report,
                "rollback",
                &format!("the backup of {deployment} was made with {}", b.manager),
            ),
            Ok(Some(b)) => {
                report.before = Some(b.before.clone());
                self.rollback(job, b, m, report)
            }
            Ok(None) => Self::fail_step(
                report,
                "rollback",
                &format!("no backup of deployment {deployment} on this host"),
            ),
            Err(e) => Self::fail_step(report, "rollback", &e),
        }
    }

    /// Restores the recorded versions from the backup's own package files, then
    /// verifies them, the package database and the health checks.
    fn rollback(
        &self,
        job: &Job,
        mut backup: Backup,
        m: &dyn Manager,
        report: &mut JobReport,
    ) -> JobStatus {
        let log = |name: &str| self.store.log_path(&job.id, name);
        let now = match self.packages_now() {
            Ok(p) => p,
            Err(e) => return Self::fail_step(report, "rollback", &e),
        };
        let dir = self.store.packages_dir(&backup.deployment);
        let files: Vec<_> = backup
            .saved
            .iter()
            .filter(|s| {
                !now.iter()
                    .any(|p| p.name == s.name && p.arch == s.arch && p.version == s.version)
            })
            .map(|s| dir.join(&s.file))
            .collect();
        // Added by the deployment: installed now, or left half-installed (in no
        // inventory, so asked of the package database).
        let unsettled = m.unsettled(&log("package-state")).unwrap_or_else(|e| {
            crate::warn(&e);
            Vec::new()
        });
        let remove: Vec<String> = backup
            .touched
            .iter()
            .filter(|n| !backup.before.iter().any(|p| &p.name == *n))
            .filter(|n| {
                now.iter().any(|p| &p.name == *n) || unsettled.iter().any(|u| &u.name == *n)
            })
            .cloned()
            .collect();
        let restored = Self::timed(report, "rollback", || {
            m.restore(&files, &remove, &log("rollback"))
        });
        let verified = Self::timed(report, "verify_rollback", || self.verify_restored(&backup));
        let db_ok = Self::timed(report, "package-db", || {
            m.check_db(&backup.touched, &log("package-db"))
        });
        let healthy = verified && self.health_steps(job, report);
        report.after = self
            .packages_now()
            .ok()
            .map(|now| touched_only(now, &backup.touched));
        if restored && verified {
            backup.rolled_back_at = Some(Timestamp::now());
            if let Err(e) = self.store.save(&backup) {
                crate::warn(&e);
            }
        }
        if restored && verified && db_ok && healthy {
            JobStatus::RolledBack
        } else {
            JobStatus::Failed
        }
    }

    fn verify_targets(&self, targets: &[PackageTarget]) -> Outcome {
        let now = match self.packages_now() {
            Ok(p) => p,
            Err(e) => return Outcome::fail(e),
        };
        let mut ok = true;
        let mut log = String::new();
        for t in targets {
            let found: Vec<&InstalledPackage> = now
                .iter()
                .filter(|p| p.name == t.name && t.arch.as_ref().is_none_or(|a| &p.arch == a))
                .collect();
            let good = found.iter().any(|p| same_version(&p.version, &t.version));
            ok &= good;
            let have: Vec<String> = found
                .iter()
                .map(|p| format!("{} {}", p.version, p.arch))
                .collect();
            log.push_str(&format!(
                "{}: wanted {}, installed {} — {}\n",
                t.name,
                t.version,
                if have.is_empty() {
                    "nothing".to_owned()
                } else {
                    have.join(", ")
                },
                if good { "ok" } else { "MISMATCH" }
            ));
        }
        Outcome { ok, log }
    }

    fn verify_restored(&self, backup: &Backup) -> Outcome {
        let now = match self.packages_now() {
            Ok(p) => p,
            Err(e) => return Outcome::fail(e),
        };
        let mut ok = true;
        let mut log = String::new();
        for name in &backup.touched {
            let was: Vec<&InstalledPackage> =
                backup.before.iter().filter(|p| &p.name == name).collect();
            let is: Vec<&InstalledPackage> = now.iter().filter(|p| &p.name == name).collect();
            let same = was.len() == is.len()
                && was.iter().all(|w| {
                    is.iter()
                        .any(|i| i.arch == w.arch && i.version == w.version)
                });
            ok &= same;
            let show = |v: &[&InstalledPackage]| match v {
                [] => "absent".to_owned(),
                v => v
                    .iter()
                    .map(|p| format!("{} {}", p.version, p.arch))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            log.push_str(&format!(
                "{name}: recorded {}, now {} — {}\n",
                show(&was),
                show(&is),
                if same { "ok" } else { "MISMATCH" }
            ));
        }
        Outcome { ok, log }
    }
}

/// What a failed install left, as far as the package database tells.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Left {
    /// The packages the transaction touches are as recorded before it, and no package
    /// is newly in the middle of a change.
    Unchanged,
    /// Changed; the packages newly left half-installed, if any.
    Changed(Vec<Unsettled>),
    /// The database could not be read: why.
    Unknown(String),
}

/// Compares the recorded package set and unsettled packages (`before`) with those
/// now: another version or architecture of a touched package, one no longer fully
/// installed, or any package newly neither installed nor absent (a new dependency
/// left half-configured is in neither package list) is a change.
fn what_is_left(
    packages: (&[InstalledPackage], Result<&[InstalledPackage], &str>),
    unsettled: (&[Unsettled], Result<&[Unsettled], &str>),
    touched: &[String],
) -> Left {
    let (now, unsettled_now) = match (packages.1, unsettled.1) {
        (Ok(now), Ok(u)) => (now, u),
        (Err(e), _) | (_, Err(e)) => return Left::Unknown(e.to_owned()),
    };
    let new: Vec<Unsettled> = unsettled_now
        .iter()
        .filter(|u| !unsettled.0.contains(u))
        .cloned()
        .collect();
    if same_packages(packages.0, now, touched) && new.is_empty() {
        Left::Unchanged
    } else {
        Left::Changed(new)
    }
}

/// The outcome of a failed install the job does not roll back, and the `rollback`
/// step's text: `awaiting_revocation` when packages were changed ([`what_is_left`]) or
/// the database cannot be read; plain `failed` when nothing was changed, as nothing is
/// left to restore.
fn left_for_revocation(left: &Left, dep: &str) -> (JobStatus, String) {
    let waiting = format!("waiting for a Rollback job for deployment {dep}");
    match left {
        Left::Unchanged => (
            JobStatus::Failed,
            "not rolled back (rollback_on_failure is false): the packages the transaction \
             touches are as recorded before it and none is left half-installed; nothing \
             to restore"
                .to_owned(),
        ),
        Left::Changed(new) => {
            let half = if new.is_empty() {
                String::new()
            } else {
                let list: Vec<String> = new.iter().map(ToString::to_string).collect();
                format!(". Not fully installed now: {}", list.join(", "))
            };
            (
                JobStatus::AwaitingRevocation,
                format!(
                    "not rolled back (rollback_on_failure is false): packages were changed; \
                     {waiting}{half}"
                ),
            )
        }
        Left::Unknown(e) => (
            JobStatus::AwaitingRevocation,
            format!(
                "not rolled back (rollback_on_failure is false): {e}, so packages may have \
                 changed; {waiting}"
            ),
        ),
    }
}

/// Whether the packages named `touched` are installed at the same versions and
/// architectures in both lists.
fn same_packages(a: &[InstalledPackage], b: &[InstalledPackage], touched: &[String]) -> bool {
    fn pick<'a>(
        list: &'a [InstalledPackage],
        touched: &[String],
    ) -> Vec<(&'a str, &'a str, &'a str)> {
        let mut v: Vec<_> = list
            .iter()
            .filter(|p| touched.contains(&p.name))
            .map(|p| (p.name.as_str(), p.version.as_str(), p.arch.as_str()))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
    pick(a, touched) == pick(b, touched)
}

fn touched_only(now: Vec<InstalledPackage>, touched: &[String]) -> Vec<InstalledPackage> {
    now.into_iter()
        .filter(|p| touched.contains(&p.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::testing::pkg;

    fn half(name: &str, state: &str) -> Unsettled {
        Unsettled {
            name: name.into(),
            arch: "all".into(),
            version: "1".into(),
            state: state.into(),
        }
    }

    #[test]
    fn a_failure_without_rollback_awaits_revocation_only_when_packages_changed() {
        let before = [pkg("app", "1.0-1", "all"), pkg("other", "5", "amd64")];
        let touched = ["app".to_owned(), "libnew".to_owned()];
        let was_half = [half("stuck", "iU")];
        let status = |now: Result<&[InstalledPackage], &str>, half_now: &[Unsettled]| {
            let left = what_is_left((&before, now), (&was_half, Ok(half_now)), &touched);
            left_for_revocation(&left, "dep-1")
        };
        // Nothing the transaction touches changed (an untouched package may), and the
        // package half-installed before still is.
        let (s, why) = status(
            Ok(&[pkg("app", "1.0-1", "all"), pkg("other", "6", "amd64")]),
            &was_half,
        );
        assert_eq!(s, JobStatus::Failed);
        assert!(why.contains("nothing to restore"), "{why}");
        // Upgraded, half-configured (absent from the inventory), another architecture,
        // a new dependency installed: changed.
        for now in [
            vec![pkg("app", "2.0-1", "all")],
            vec![],
            vec![pkg("app", "1.0-1", "amd64")],
            vec![pkg("app", "1.0-1", "all"), pkg("libnew", "1", "all")],
        ] {
            let (s, why) = status(Ok(&now), &was_half);
            assert_eq!(s, JobStatus::AwaitingRevocation, "{now:?}");
            assert!(
                why.contains("waiting for a Rollback job for deployment dep-1"),
                "{why}"
            );
        }
        // A new dependency left half-configured is in neither list: changed, and said.
        let (s, why) = status(
            Ok(&[pkg("app", "1.0-1", "all")]),
            &[half("libnew", "iF"), half("stuck", "iU")],
        );
        assert_eq!(s, JobStatus::AwaitingRevocation);
        assert!(
            why.ends_with("Not fully installed now: libnew:all 1 (iF)"),
            "{why}"
        );
        // Unknown: the backup is kept and a revocation decides.
        let (s, why) = status(Err("cannot read the package database: gone"), &[]);
        assert_eq!(s, JobStatus::AwaitingRevocation);
        assert!(why.contains("may have changed"), "{why}");
        let left = what_is_left(
            (&before, Ok(&before)),
            (&was_half, Err("cannot list the packages' states: x")),
            &touched,
        );
        assert_eq!(
            left,
            Left::Unknown("cannot list the packages' states: x".into())
        );
    }
}
