//! Running the package manager and local hooks: argv only (never a shell), stdin
//! closed, `LC_ALL=C`, a deadline, and standard output and error interleaved into one
//! log file on disk (kept in the state directory for the operator) whose end becomes
//! the step's log excerpt.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
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
/// appended to `log_path`. Ok when it exits 0. Only `cmd` itself is killed: for
/// commands that start no long-lived children (queries, downloads, simulations);
/// anything that runs maintainer scripts, scriptlets or local hooks uses
/// [`run_logged_group`] or [`run_capture_group`].
pub fn run_logged(cmd: Command, timeout: Duration, log_path: &Path) -> Outcome {
    run_inner(cmd, timeout, log_path, TAIL_BYTES, false).0
}

/// [`run_logged`], also returning this run's whole output (up to 16 MiB) for parsing.
pub fn run_capture(cmd: Command, timeout: Duration, log_path: &Path) -> (Outcome, String) {
    let (out, text, _) = run_inner(cmd, timeout, log_path, MAX_CAPTURE_BYTES, false);
    (out, text)
}

/// [`run_logged`] for a command whose children must not outlive it (dpkg and the
/// maintainer scripts it runs, local hooks): it starts in a process group of its own,
/// and at the timeout the whole group is killed. Also returns whether the timeout ended it.
pub fn run_logged_group(cmd: Command, timeout: Duration, log_path: &Path) -> (Outcome, bool) {
    let (out, _, timed_out) = run_inner(cmd, timeout, log_path, TAIL_BYTES, true);
    (out, timed_out)
}

/// [`run_capture`] in a process group of its own, killed whole at the timeout as
/// [`run_logged_group`] does: for a package manager whose scriptlets run as its
/// children (dnf) and whose output is read afterwards.
pub fn run_capture_group(cmd: Command, timeout: Duration, log_path: &Path) -> (Outcome, String) {
    let (out, text, _) = run_inner(cmd, timeout, log_path, MAX_CAPTURE_BYTES, true);
    (out, text)
}

/// `SIGKILL` to every process of the group `pgid` (`kill -KILL -- -PGID`: the standard
/// library signals one process only, and the agent has no unsafe code).
fn kill_group(pgid: u32) -> Result<(), String> {
    let out = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{pgid}")])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run kill: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "kill -s KILL -- -{pgid}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Runs `cmd` (in its own process group when `group`) as [`run_logged`] describes;
/// returns the outcome, at most `keep` bytes of the output's end, and whether the
/// timeout ended it.
fn run_inner(
    mut cmd: Command,
    timeout: Duration,
    log_path: &Path,
    keep: u64,
    group: bool,
) -> (Outcome, String, bool) {
    let what = describe(&cmd);
    let file = match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
    {
        Ok(f) => f,
        Err(e) => {
            let why = format!("cannot open {}: {e}", log_path.display());
            return (Outcome::fail(why), String::new(), false);
        }
    };
    let start = file.metadata().map(|m| m.len()).unwrap_or(0);
    let (out, err) = match (file.try_clone(), file.try_clone()) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            return (
                Outcome::fail(format!("log file: {e}")),
                String::new(),
                false,
            )
        }
    };
    cmd.env("LC_ALL", "C")
        .env("LANGUAGE", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    if group {
        cmd.process_group(0);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return (
                Outcome::fail(format!("$ {what}\ncannot run it: {e}")),
                String::new(),
                false,
            )
        }
    };
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let ended = loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break Ok(()),
            Ok(Some(status)) => break Err(format!("{status}")),
            Ok(None) if Instant::now() >= deadline => {
                timed_out = true;
                let killed = if group {
                    // The child leads its group: the group id is its pid.
                    match kill_group(child.id()) {
                        Ok(()) => "killed with its process group".to_owned(),
                        Err(why) => format!("killed, but not its process group ({why})"),
                    }
                } else {
                    "killed".to_owned()
                };
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!("timed out after {} s; {killed}", timeout.as_secs()));
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
    (outcome, output, timed_out)
}

/// How a command run by [`run_piped`] ended, and the start of its output.
#[derive(Debug)]
pub struct Piped {
    pub status: std::process::ExitStatus,
    /// Standard output, at most the cap given (the rest is read and dropped).
    pub stdout: String,
    /// Standard error, at most the cap given.
    pub stderr: String,
}

/// Runs `cmd` with stdin closed and `LC_ALL=C` until it exits or `timeout` passes
/// (then it is killed: `Err`), keeping at most `cap` bytes of each output stream. For
/// short queries whose answer is their exit status; nothing is logged to disk.
pub fn run_piped(mut cmd: Command, timeout: Duration, cap: usize) -> Result<Piped, String> {
    let what = describe(&cmd);
    cmd.env("LC_ALL", "C")
        .env("LANGUAGE", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("cannot run {what}: {e}"))?;
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(out) = child.stdout.take() {
        let tx = tx.clone();
        std::thread::spawn(move || tx.send((true, read_capped(out, cap))));
    }
    if let Some(err) = child.stderr.take() {
        std::thread::spawn(move || tx.send((false, read_capped(err, cap))));
    }
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{what} timed out after {} s; killed",
                    timeout.as_secs()
                ));
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("waiting for {what}: {e}"));
            }
        }
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    // A grandchild holding a pipe open must not hang the agent: wait a little, go on.
    for _ in 0..2 {
        match rx.recv_timeout(Duration::from_secs(2)) {
            Ok((true, text)) => stdout = text,
            Ok((false, text)) => stderr = text,
            Err(_) => break,
        }
    }
    Ok(Piped {
        status,
        stdout,
        stderr,
    })
}

/// Reads all of `from`, keeping the first `cap` bytes (lossy UTF-8).
fn read_capped(mut from: impl Read, cap: usize) -> String {
    let mut kept = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        let room = cap.saturating_sub(kept.len()).min(n);
        kept.extend_from_slice(&buf[..room]);
    }
    String::from_utf8_lossy(&kept).into_owned()
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
    use crate::deploy::testing::{running, still_running};

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

    /// Runs `sh` with a child that would outlive its killed parent (as a maintainer
    /// script of dpkg, or a scriptlet of dnf) through `run` with a short timeout;
    /// returns the outcome and the child's pid.
    fn with_a_lingering_child(
        run: impl FnOnce(Command, Duration, &Path) -> Outcome,
    ) -> (Outcome, String) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
        let log = dir.path().join("g.log");
        let pid_file = dir.path().join("child.pid");
        let script = format!(
            "echo started; sleep 300 & echo $! > '{}'; wait",
            pid_file.display()
        );
        let o = run(
            cmd(&["sh", "-c", &script]),
            Duration::from_millis(500),
            &log,
        );
        let pid = std::fs::read_to_string(&pid_file).unwrap_or_default();
        assert!(!pid.trim().is_empty(), "no pid of the child");
        (o, pid.trim().to_owned())
    }

    #[test]
    fn a_timed_out_group_is_killed_with_its_children() {
        let (o, pid) = with_a_lingering_child(|c, t, log| {
            let (o, timed_out) = run_logged_group(c, t, log);
            assert!(timed_out, "{o:?}");
            o
        });
        assert!(
            !o.ok && o.log.contains("killed with its process group"),
            "{o:?}"
        );
        assert!(!still_running(&pid), "sleep {pid} still runs");
        // Captured, the output is kept too.
        let mut text = String::new();
        let (o, pid) = with_a_lingering_child(|c, t, log| {
            let (o, captured) = run_capture_group(c, t, log);
            text = captured;
            o
        });
        assert!(
            !o.ok && o.log.contains("killed with its process group"),
            "{o:?}"
        );
        assert!(!still_running(&pid), "sleep {pid} still runs");
        assert_eq!(text, "started\n");
        // Without a group, only the parent is killed: the child lingers (the reason
        // the package manager's runs are grouped).
        let (o, pid) = with_a_lingering_child(run_logged);
        assert!(!o.ok && o.log.contains("timed out"), "{o:?}");
        assert!(running(&pid), "sleep {pid} is gone");
        let _ = Command::new("kill").args(["-KILL", &pid]).status();

        let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
        let t = Duration::from_secs(5);
        let (o, timed_out) = run_logged_group(cmd(&["true"]), t, &dir.path().join("t.log"));
        assert!(o.ok && !timed_out, "{o:?}");
        let (o, text) = run_capture_group(cmd(&["echo", "x"]), t, &dir.path().join("t.log"));
        assert!(o.ok && text == "x\n", "{o:?}");
    }

    #[test]
    fn piped_runs_keep_the_status_and_at_most_the_cap() {
        let t = Duration::from_secs(5);
        let p = run_piped(cmd(&["sh", "-c", "echo out; echo err >&2; exit 4"]), t, 100);
        let p = p.unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!((p.status.code(), p.stdout.as_str()), (Some(4), "out\n"));
        assert_eq!(p.stderr, "err\n");
        let p = run_piped(cmd(&["head", "-c", "100000", "/dev/zero"]), t, 1000);
        assert_eq!(p.map(|p| p.stdout.len()).ok(), Some(1000));
        let e = run_piped(cmd(&["sleep", "5"]), Duration::from_millis(100), 100);
        assert!(e.as_ref().is_err_and(|e| e.contains("timed out")), "{e:?}");
        let e = run_piped(cmd(&["/nonexistent/x"]), t, 100);
        assert!(e.as_ref().is_err_and(|e| e.contains("cannot run")), "{e:?}");
    }
}
