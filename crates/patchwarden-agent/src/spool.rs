//! The on-disk spool: job reports waiting for the server's acknowledgement (numbered
//! `report-<n>.json`, sent in number order and deleted only when a reply acknowledges
//! their job id), markers of jobs started but not finished (`started-<n>.json`), and
//! the facts of the last check-in not yet delivered (`facts.json`).

use crate::state::write_atomic;
use anyhow::{Context, Result};
use patchwarden_wire::agent::CheckIn;
use patchwarden_wire::job::{Job, JobReport};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

const REPORT: &str = "report-";
const STARTED: &str = "started-";
const FACTS: &str = "facts.json";

/// Most reports sent in one check-in; the rest follow in the next ones, in order.
pub const MAX_REPORTS_PER_CHECKIN: usize = 100;

/// A job that was accepted and began to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Started {
    pub job: Job,
    pub started_at: jiff::Timestamp,
}

#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    next: u64,
}

impl Spool {
    /// Opens the spool directory (created by `StateDir::open`).
    pub fn open(dir: PathBuf) -> Result<Self> {
        let mut spool = Self { dir, next: 1 };
        let max = spool
            .numbered(REPORT)?
            .into_iter()
            .chain(spool.numbered(STARTED)?)
            .map(|(n, _)| n)
            .max()
            .unwrap_or(0);
        spool.next = max + 1;
        Ok(spool)
    }

    fn numbered(&self, prefix: &str) -> Result<Vec<(u64, PathBuf)>> {
        let mut out = Vec::new();
        let entries = fs::read_dir(&self.dir)
            .with_context(|| format!("cannot list the spool {}", self.dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot list {}", self.dir.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let number = name
                .strip_prefix(prefix)
                .and_then(|r| r.strip_suffix(".json"))
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(n) = number {
                out.push((n, entry.path()));
            }
        }
        out.sort();
        Ok(out)
    }

    fn write_numbered(&mut self, prefix: &str, json: &[u8]) -> Result<PathBuf> {
        let path = self.dir.join(format!("{prefix}{:012}.json", self.next));
        write_atomic(&path, json, 0o600)
            .context("spooling failed (is the disk full?); reports spooled earlier are kept")?;
        self.next += 1;
        Ok(path)
    }

    /// Adds a report to the end of the queue.
    pub fn push_report(&mut self, report: &JobReport) -> Result<()> {
        let json = serde_json::to_vec(report)?;
        self.write_numbered(REPORT, &json).map(|_| ())
    }

    /// Waiting reports, oldest first (at most [`MAX_REPORTS_PER_CHECKIN`]). A file that
    /// cannot be parsed is renamed `*.corrupt` and skipped, with a warning.
    pub fn pending_reports(&self) -> Result<Vec<JobReport>> {
        let mut out = Vec::new();
        for (_, path) in self.numbered(REPORT)? {
            if out.len() == MAX_REPORTS_PER_CHECKIN {
                break;
            }
            match read_json::<JobReport>(&path) {
                Ok(Some(r)) => out.push(r),
                Ok(None) => {}
                Err(e) => set_aside(&path, &e),
            }
        }
        Ok(out)
    }

    /// Deletes the reports of these job ids (the server stored them).
    pub fn acknowledge(&self, job_ids: &[String]) -> Result<usize> {
        let mut removed = 0;
        if job_ids.is_empty() {
            return Ok(0);
        }
        for (_, path) in self.numbered(REPORT)? {
            if let Ok(Some(r)) = read_json::<JobReport>(&path) {
                if job_ids.contains(&r.job_id) {
                    remove(&path)?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// Records that `job` is about to run; returns the marker to remove once its
    /// report is spooled.
    pub fn mark_started(&mut self, job: &Job, now: jiff::Timestamp) -> Result<PathBuf> {
        let json = serde_json::to_vec(&Started {
            job: job.clone(),
            started_at: now,
        })?;
        self.write_numbered(STARTED, &json)
    }

    pub fn clear_started(&self, marker: &Path) -> Result<()> {
        remove(marker)
    }

    /// Jobs that started and never got their report (the agent was killed): removes
    /// the markers and returns them, oldest first.
    pub fn take_started(&self) -> Result<Vec<(PathBuf, Started)>> {
        let mut out = Vec::new();
        for (_, path) in self.numbered(STARTED)? {
            match read_json::<Started>(&path) {
                Ok(Some(s)) => out.push((path, s)),
                Ok(None) => {}
                Err(e) => set_aside(&path, &e),
            }
        }
        Ok(out)
    }

    /// Keeps the facts of a check-in about to be sent (without its reports, which
    /// are spooled on their own).
    pub fn save_facts(&self, facts: &CheckIn) -> Result<()> {
        let json = serde_json::to_vec(facts)?;
        write_atomic(&self.dir.join(FACTS), &json, 0o600)
            .context("spooling the check-in facts failed (is the disk full?)")
    }

    /// The facts of the last check-in that did not reach the server.
    pub fn load_facts(&self) -> Result<Option<CheckIn>> {
        read_json(&self.dir.join(FACTS))
    }

    pub fn clear_facts(&self) -> Result<()> {
        remove(&self.dir.join(FACTS))
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
            format!("{} is not a valid spool file", path.display())
        })?)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn set_aside(path: &Path, e: &anyhow::Error) {
    crate::warn(&format!("{e:#}; moving it aside as .corrupt"));
    let _ = fs::rename(path, path.with_extension("corrupt"));
}

fn remove(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use patchwarden_wire::job::JobStatus;

    fn report(id: &str) -> JobReport {
        JobReport {
            job_id: id.into(),
            status: JobStatus::Succeeded,
            steps: vec![],
            before: None,
            after: None,
            reboot_required: false,
        }
    }

    #[test]
    fn reports_keep_their_order_across_reopen_until_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path().to_owned()).unwrap();
        for id in ["a", "b", "c"] {
            spool.push_report(&report(id)).unwrap();
        }
        let mut spool = Spool::open(dir.path().to_owned()).unwrap();
        spool.push_report(&report("d")).unwrap();
        let ids = |s: &Spool| -> Vec<String> {
            s.pending_reports()
                .unwrap()
                .into_iter()
                .map(|r| r.job_id)
                .collect()
        };
        assert_eq!(ids(&spool), ["a", "b", "c", "d"]);
        assert_eq!(spool.acknowledge(&["b".into(), "x".into()]).unwrap(), 1);
        assert_eq!(ids(&spool), ["a", "c", "d"]);
        fs::write(dir.path().join("report-000000000003.json"), b"{garbage").unwrap();
        assert_eq!(ids(&spool), ["a", "d"]);
        assert!(dir.path().join("report-000000000003.corrupt").exists());
    }

    #[test]
    fn a_failed_write_keeps_what_was_spooled() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path().to_owned()).unwrap();
        spool.push_report(&report("a")).unwrap();
        // The spool directory disappears (as good as a full disk for the writer).
        let moved = dir.path().with_extension("moved");
        fs::rename(dir.path(), &moved).unwrap();
        let err = spool.push_report(&report("b")).unwrap_err();
        assert!(format!("{err:#}").contains("disk full"), "{err:#}");
        fs::rename(&moved, dir.path()).unwrap();
        let left: Vec<_> = spool.pending_reports().unwrap();
        assert_eq!(left, vec![report("a")]);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
