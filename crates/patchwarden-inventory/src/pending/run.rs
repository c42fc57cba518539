//! Running apt-get and dnf for their pending updates: a timeout, a cap on the output
//! read, `LC_ALL=C`, and no prompts.

use super::{
    merge_dnf, parse_apt_simulation, parse_dnf_check_update, parse_dnf_updateinfo, Pending,
};
use crate::parsed::ParseWarning;
use crate::rpm::{parse_rpm_query, RPM_QUERY_FORMAT};
use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Read;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a tool may run and how much of its output is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLimits {
    /// The tool is killed after this long.
    pub timeout: Duration,
    /// Bytes of standard output kept; the rest is read and dropped (with a warning).
    pub max_output_bytes: usize,
}

impl Default for RunLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(300),
            max_output_bytes: 32 * 1024 * 1024,
        }
    }
}

/// Why the pending updates could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PendingError {
    /// The program could not be started (usually: not installed).
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The program ran longer than the timeout and was killed.
    #[error("{program} did not finish within {seconds} s and was killed")]
    Timeout {
        /// The program.
        program: String,
        /// The timeout.
        seconds: u64,
    },
    /// The program failed.
    #[error("{program} failed ({status}): {stderr}")]
    Failed {
        /// The program and its subcommand.
        program: String,
        /// Exit status, as text.
        status: String,
        /// The start of its error output.
        stderr: String,
    },
}

struct Captured {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    truncated: bool,
}

/// Reads all of `from`, keeping at most `cap` bytes; true when some were dropped.
fn read_capped(mut from: impl Read, cap: usize) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    let mut dropped = false;
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        let room = cap.saturating_sub(kept.len()).min(n);
        kept.extend_from_slice(&buf[..room]);
        dropped |= room < n;
    }
    (kept, dropped)
}

fn capture(mut cmd: Command, what: &str, limits: RunLimits) -> Result<Captured, PendingError> {
    cmd.env("LC_ALL", "C")
        .env("LANGUAGE", "C")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| PendingError::Spawn {
        program: what.to_owned(),
        source,
    })?;
    let (tx, rx) = mpsc::channel();
    let cap = limits.max_output_bytes;
    if let Some(out) = child.stdout.take() {
        let tx = tx.clone();
        std::thread::spawn(move || tx.send((true, read_capped(out, cap))));
    }
    if let Some(err) = child.stderr.take() {
        std::thread::spawn(move || tx.send((false, read_capped(err, 64 * 1024))));
    }
    let deadline = Instant::now() + limits.timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) | Err(_) => {
                // Killing may fail if it just exited; the wait reaps it either way.
                let _ = child.kill();
                let _ = child.wait();
                return Err(PendingError::Timeout {
                    program: what.to_owned(),
                    seconds: limits.timeout.as_secs(),
                });
            }
        }
    };
    let (mut stdout, mut stderr, mut truncated) = (Vec::new(), Vec::new(), false);
    // A grandchild holding a pipe open must not hang us: wait a little, then go on.
    for _ in 0..2 {
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok((true, (bytes, dropped))) => (stdout, truncated) = (bytes, dropped),
            Ok((false, (bytes, _))) => stderr = bytes,
            Err(_) => break,
        }
    }
    Ok(Captured {
        status,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        truncated,
    })
}

fn failed(what: &str, c: &Captured) -> PendingError {
    PendingError::Failed {
        program: what.to_owned(),
        status: c.status.to_string(),
        stderr: c.stderr.trim().chars().take(1000).collect(),
    }
}

fn truncation(pending: &mut Pending, what: &str, limits: RunLimits) {
    pending.warnings.push(ParseWarning {
        line: 0,
        reason: format!(
            "{what} printed more than {} bytes; the rest was not read",
            limits.max_output_bytes
        ),
    });
}

/// [`pending_updates_apt_with`] with the default [`RunLimits`].
pub fn pending_updates_apt(
    root: &Path,
    extra_apt_args: &[String],
) -> Result<Pending, PendingError> {
    pending_updates_apt_with(root, extra_apt_args, RunLimits::default())
}

/// Runs `apt-get -s -o Debug::NoLocking=1 [-o Dir=<root>/ -o
/// Dir::State::status=<root>/var/lib/dpkg/status] EXTRA… dist-upgrade` and parses it.
/// The root options are added unless `root` is `/`. It reads the package lists apt
/// already has (no `apt-get update`), so it works offline and changes nothing.
pub fn pending_updates_apt_with(
    root: &Path,
    extra_apt_args: &[String],
    limits: RunLimits,
) -> Result<Pending, PendingError> {
    let mut cmd = Command::new("apt-get");
    cmd.args(["-s", "-o", "Debug::NoLocking=1"]);
    if root != Path::new("/") {
        let mut dir = OsString::from("Dir=");
        dir.push(root);
        dir.push("/");
        let mut status = OsString::from("Dir::State::status=");
        status.push(root.join("var/lib/dpkg/status"));
        cmd.arg("-o").arg(dir).arg("-o").arg(status);
    }
    cmd.args(extra_apt_args).arg("dist-upgrade");
    let what = "apt-get -s dist-upgrade";
    let out = capture(cmd, what, limits)?;
    if !out.status.success() {
        return Err(failed(what, &out));
    }
    let mut pending = parse_apt_simulation(&out.stdout);
    if out.truncated {
        truncation(&mut pending, what, limits);
    }
    Ok(pending)
}

/// [`pending_updates_dnf_with`] with the default [`RunLimits`].
pub fn pending_updates_dnf(
    root: &Path,
    extra_dnf_args: &[String],
) -> Result<Pending, PendingError> {
    pending_updates_dnf_with(root, extra_dnf_args, RunLimits::default())
}

fn dnf(root: &Path, extra: &[String], sub: &[&str]) -> Command {
    let mut cmd = Command::new("dnf");
    cmd.arg("-q");
    if root != Path::new("/") {
        let mut opt = OsString::from("--installroot=");
        opt.push(root);
        cmd.arg(opt);
    }
    cmd.args(extra).args(sub);
    cmd
}

/// Runs `dnf -q [--installroot=<root>] EXTRA… check-update` (exit 100 means updates)
/// and `… updateinfo list --security`, merges them with [`merge_dnf`], and fills in
/// installed versions from `rpm [--root <root>] -qa` (a failure there is a warning).
pub fn pending_updates_dnf_with(
    root: &Path,
    extra_dnf_args: &[String],
    limits: RunLimits,
) -> Result<Pending, PendingError> {
    let what = "dnf check-update";
    let out = capture(dnf(root, extra_dnf_args, &["check-update"]), what, limits)?;
    if !matches!(out.status.code(), Some(0 | 100)) {
        return Err(failed(what, &out));
    }
    let mut pending = parse_dnf_check_update(&out.stdout, false);
    if out.truncated {
        truncation(&mut pending, what, limits);
    }
    let what = "dnf updateinfo list --security";
    let sub = ["updateinfo", "list", "--security"];
    let out = capture(dnf(root, extra_dnf_args, &sub), what, limits)?;
    if !out.status.success() {
        return Err(failed(what, &out));
    }
    let mut pending = merge_dnf(pending, &parse_dnf_updateinfo(&out.stdout));
    if out.truncated {
        truncation(&mut pending, what, limits);
    }
    fill_installed(root, &mut pending, limits);
    Ok(pending)
}

fn fill_installed(root: &Path, pending: &mut Pending, limits: RunLimits) {
    let mut cmd = Command::new("rpm");
    if root != Path::new("/") {
        cmd.arg("--root").arg(root);
    }
    cmd.args(["-qa", "--queryformat", RPM_QUERY_FORMAT]);
    let out = match capture(cmd, "rpm -qa", limits) {
        Ok(out) if out.status.success() => out,
        Ok(out) => return note(pending, &failed("rpm -qa", &out).to_string()),
        Err(e) => return note(pending, &e.to_string()),
    };
    let installed: HashMap<(String, String), String> = parse_rpm_query(&out.stdout)
        .packages
        .into_iter()
        .map(|p| ((p.name, p.arch), p.version))
        .collect();
    for u in &mut pending.updates {
        if let Some(v) = installed.get(&(u.name.clone(), u.arch.clone())) {
            u.installed = Some(v.clone());
        }
    }
}

fn note(pending: &mut Pending, reason: &str) {
    pending.warnings.push(ParseWarning {
        line: 0,
        reason: format!("installed versions unknown: {reason}"),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        cmd
    }

    #[test]
    fn a_slow_tool_is_killed_at_the_timeout() {
        let limits = RunLimits {
            timeout: Duration::from_millis(200),
            ..RunLimits::default()
        };
        let started = Instant::now();
        let err = capture(sh("sleep 30"), "sleep", limits).err();
        assert!(matches!(err, Some(PendingError::Timeout { .. })), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn output_beyond_the_cap_is_dropped_and_flagged() {
        let limits = RunLimits {
            max_output_bytes: 1000,
            ..RunLimits::default()
        };
        let out = capture(sh("head -c 100000 /dev/zero; echo err >&2"), "head", limits);
        let out = out.unwrap_or_else(|e| panic!("{e}"));
        assert!(out.status.success());
        assert_eq!(out.stdout.len(), 1000);
        assert!(out.truncated);
        assert_eq!(out.stderr, "err\n");
    }

    #[test]
    fn a_missing_tool_is_a_spawn_error() {
        let err = capture(
            Command::new("/nonexistent/apt-get"),
            "apt-get",
            RunLimits::default(),
        );
        assert!(matches!(err, Err(PendingError::Spawn { .. })));
    }
}
