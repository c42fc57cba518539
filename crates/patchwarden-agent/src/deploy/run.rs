//! Running the package manager and local hooks: argv only (never a shell), stdin
//! closed, `LC_ALL=C`, a deadline, and standard output and error interleaved into one
//! log file on disk (kept in the state directory for the operator) whose end becomes
//! the step's log excerpt.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Bytes of a log read back (the report keeps fewer: `jobs::MAX_EXCERPT_BYTES`).
const TAIL_BYTES: u64 = 64 * 1024;

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub ok: bool,
    /// The end of the combined output, then a line saying how it ended.
    pub log: String,
}

impl Outcome {
    pub fn fail(log: impl Into<String>) -> Self {
        Self {
            ok: false,
            log: log.into(),
        }
    }

    pub fn success(log: impl Into<String>) -> Self {
        Self {
            ok: true,
            log: log.into(),
        }
    }
}

/// The command line, for logs (arguments are validated tokens or configured paths).
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Most output read back by [`run_capture`] (simulations of large upgrades).
const MAX_CAPTURE_BYTES: u64 = 16 * 1024 * 1024;

/// Runs `cmd` until it exits or `timeout` passes (then it is killed), with its output
/// appended to `log_path`. Ok when it exits 0.
pub fn run_logged(cmd: Command, timeout: Duration, log_path: &Path) -> Outcome {
    run_inner(cmd, timeout, log_path, TAIL_BYTES).0
}

/// [`run_logged`], also returning this run's whole output (up to 16 MiB) for parsing.
pub fn run_capture(cmd: Command, timeout: Duration, log_path: &Path) -> (Outcome, String) {
    run_inner(cmd, timeout, log_path, MAX_CAPTURE_BYTES)
}

fn run_inner(mut cmd: Command, timeout: Duration, log_path: &Path, keep: u64) -> (Outcome, String) {
    let what = describe(&cmd);
    let file = match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
    {
        Ok(f) => f,
        Err(e) => {
            let why = format!("cannot open {}: {e}", log_path.display());
            return (Outcome::fail(why), String::new());
        }
    };
    let start = file.metadata().map(|m| m.len()).unwrap_or(0);
    let (out, err) = match (file.try_clone(), file.try_clone()) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            return (Outcome::fail(format!("log file: {e}")), String::new())
        }
    };
    cmd.env("LC_ALL", "C")
        .env("LANGUAGE", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return (
                Outcome::fail(format!("$ {what}\ncannot run it: {e}")),
                String::new(),
            )
        }
    };
    let deadline = Instant::now() + timeout;
    let ended = loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break Ok(()),
            Ok(Some(status)) => break Err(format!("{status}")),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!("timed out after {} s; killed", timeout.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => break Err(format!("waiting for it: {e}")),
        }
    };
    let output = tail(log_path, start, keep);
    let outcome = match &ended {
        Ok(()) => Outcome::success(format!("$ {what}\n{}", last(&output))),
        Err(why) => Outcome::fail(format!("$ {what}\n{}{what}: {why}", last(&output))),
    };
    (outcome, output)
}

/// The last [`TAIL_BYTES`] of `s`, cut on a character boundary.
fn last(s: &str) -> &str {
    let mut start = s.len().saturating_sub(TAIL_BYTES as usize);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// The text appended to `path` after byte `start`, at most `keep` bytes of its end.
fn tail(path: &Path, start: u64, keep: u64) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let from = start.max(len.saturating_sub(keep));
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(from)).is_ok() {
        let _ = f.take(keep).read_to_end(&mut buf);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(argv: &[&str]) -> Command {
        let mut c = Command::new(argv[0]);
        c.args(&argv[1..]);
        c
    }

    #[test]
    fn output_is_logged_and_the_end_reported() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
        let log = dir.path().join("x.log");
        let t = Duration::from_secs(5);
        let o = run_logged(cmd(&["sh", "-c", "echo out; echo err >&2"]), t, &log);
        assert!(o.ok && o.log.contains("out\nerr\n"), "{o:?}");
        let o = run_logged(cmd(&["sh", "-c", "echo second; exit 3"]), t, &log);
        assert!(!o.ok && o.log.contains("second") && !o.log.contains("out\n"));
        assert!(o.log.contains("exit status: 3"), "{o:?}");
        let o = run_logged(cmd(&["sleep", "5"]), Duration::from_millis(100), &log);
        assert!(!o.ok && o.log.contains("timed out"), "{o:?}");
        let o = run_logged(cmd(&["/nonexistent/x"]), t, &log);
        assert!(!o.ok && o.log.contains("cannot run"), "{o:?}");
        let all = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(all.starts_with("out\nerr\nsecond\n"), "{all}");
    }
}
