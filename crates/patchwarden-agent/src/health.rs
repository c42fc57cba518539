//! The health checks the local configuration defines, run for real (`run_named`, used
//! by `deploy::PackageExecutor` to verify deployments and for health-check jobs). As an
//! `Executor` on its own it runs only health-check jobs and rejects package operations.

use crate::config::HealthCheck;
use crate::jobs::{step, Executor};
use jiff::Timestamp;
use patchwarden_wire::job::{Job, JobReport, JobStatus, Operation, StepReport};
use std::io::Read;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const NOT_SUPPORTED: &str = "operation not supported by this agent build yet";

#[derive(Debug)]
pub struct HealthExecutor {
    checks: Vec<HealthCheck>,
    root: PathBuf,
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl HealthExecutor {
    /// `runtime` drives the HTTP checks; `run` is called off the runtime's thread
    /// (`spawn_blocking`).
    pub fn new(
        checks: Vec<HealthCheck>,
        root: PathBuf,
        runtime: tokio::runtime::Handle,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| anyhow::anyhow!("cannot set up the HTTP health-check client: {e}"))?;
        Ok(Self {
            checks,
            root,
            http,
            runtime,
        })
    }

    fn check(&self, c: &HealthCheck) -> StepReport {
        let started = Timestamp::now();
        let timeout = Duration::from_secs(c.timeout_secs());
        let (ok, log) = match c {
            HealthCheck::Tcp { address, .. } => tcp(address, timeout),
            HealthCheck::Http { url, status, .. } => self.http_status(url, *status, timeout),
            HealthCheck::SystemdUnit { unit, .. } => command(
                &["systemctl".into(), "is-active".into(), unit.clone()],
                timeout,
            ),
            HealthCheck::Command { argv, .. } => command(argv, timeout),
        };
        step(
            &format!("health:{}", c.name()),
            ok,
            started,
            Timestamp::now(),
            &log,
        )
    }

    fn http_status(&self, url: &str, want: u16, timeout: Duration) -> (bool, String) {
        let result = self
            .runtime
            .block_on(self.http.get(url).timeout(timeout).send());
        match result {
            Ok(resp) if resp.status().as_u16() == want => {
                (true, format!("GET {url}: {}", resp.status()))
            }
            Ok(resp) => (
                false,
                format!("GET {url}: {}, expected {want}", resp.status()),
            ),
            Err(e) => (false, format!("GET {url}: {e}")),
        }
    }

    /// Runs the checks named (all of them for an empty list), and a failed step for
    /// each name the local configuration does not define.
    pub fn run_named(&self, names: &[String]) -> Vec<StepReport> {
        let mut steps = Vec::new();
        for name in names {
            if !self.checks.iter().any(|c| c.name() == name) {
                let t = Timestamp::now();
                steps.push(step(
                    &format!("health:{name}"),
                    false,
                    t,
                    t,
                    "no health check of this name in the agent's local configuration",
                ));
            }
        }
        for c in &self.checks {
            if names.is_empty() || names.iter().any(|n| n == c.name()) {
                steps.push(self.check(c));
            }
        }
        steps
    }

    fn reboot_required(&self) -> bool {
        self.root.join("run/reboot-required").exists()
    }
}

impl Executor for HealthExecutor {
    fn run(&mut self, job: &Job) -> JobReport {
        let now = Timestamp::now();
        let mut report = JobReport {
            job_id: job.id.clone(),
            status: JobStatus::Succeeded,
            steps: Vec::new(),
            before: None,
            after: None,
            reboot_required: false,
        };
        // Refuse the whole job before doing anything if any step cannot be done.
        let unsupported: Vec<StepReport> = job
            .operations
            .iter()
            .filter(|op| !matches!(op, Operation::HealthChecks { .. }))
            .map(|op| step(op_name(op), false, now, now, NOT_SUPPORTED))
            .collect();
        if !unsupported.is_empty() {
            report.status = JobStatus::Rejected;
            report.steps = unsupported;
            return report;
        }
        for op in &job.operations {
            if let Operation::HealthChecks { names } = op {
                report.steps.extend(self.run_named(names));
            }
        }
        if report.steps.iter().any(|s| !s.ok) {
            report.status = JobStatus::Failed;
        }
        report.reboot_required = self.reboot_required();
        report
    }
}

pub fn op_name(op: &Operation) -> &'static str {
    match op {
        Operation::RefreshMetadata => "refresh_metadata",
        Operation::Install { .. } => "install",
        Operation::Rollback { .. } => "rollback",
        Operation::HealthChecks { .. } => "health_checks",
        Operation::Reboot => "reboot",
    }
}

/// Whether `program` is an executable file in `PATH`.
pub fn in_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            dir.join(program)
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

fn tcp(address: &str, timeout: Duration) -> (bool, String) {
    let addrs = match address.to_socket_addrs() {
        Ok(a) => a.collect::<Vec<_>>(),
        Err(e) => return (false, format!("{address}: {e}")),
    };
    let mut last = format!("{address}: no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(_) => return (true, format!("connected to {a}")),
            Err(e) => last = format!("{a}: {e}"),
        }
    }
    (false, last)
}

/// Runs `argv` (no shell) with a deadline; ok when it exits 0. Output is collected on
/// threads so a chatty command cannot block on a full pipe.
pub fn command(argv: &[String], timeout: Duration) -> (bool, String) {
    let Some((program, args)) = argv.split_first() else {
        return (false, "empty argv".into());
    };
    let mut child = match Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return (false, format!("cannot run {program}: {e}")),
    };
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|mut r| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    })
    .collect();
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!("timed out after {} s; killed", timeout.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => break Err(format!("waiting for {program}: {e}")),
        }
    };
    let mut output = String::new();
    for r in readers {
        if let Ok(buf) = r.join() {
            output.push_str(&String::from_utf8_lossy(&buf));
        }
    }
    match status {
        Ok(s) if s.success() => (true, output),
        Ok(s) => (false, format!("{output}{program}: {s}")),
        Err(e) => (false, format!("{output}{program}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_succeed_fail_and_time_out() {
        let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let t = Duration::from_secs(5);
        assert_eq!(command(&argv(&["echo", "hi"]), t), (true, "hi\n".into()));
        assert!(!command(&argv(&["false"]), t).0);
        assert!(!command(&argv(&["/nonexistent/x"]), t).0);
        let (ok, log) = command(&argv(&["sleep", "5"]), Duration::from_millis(200));
        assert!(!ok && log.contains("timed out"), "{log}");
    }

    #[test]
    fn tcp_checks_connect_or_explain() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| unreachable!("{e}"));
        let addr = l.local_addr().map(|a| a.to_string()).unwrap_or_default();
        assert!(tcp(&addr, Duration::from_secs(2)).0);
        drop(l);
        let (ok, log) = tcp(&addr, Duration::from_secs(2));
        assert!(!ok && log.contains(&addr), "{log}");
    }
}
