//! A test host: a root file system with a dpkg database, a state directory and a
//! configuration file, and helpers that run the real agent binary against them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_patchwarden-agent");

pub const STATUS_FIXTURE: &str =
    "../../../shared/fixtures/inventories/format-samples-osv-scalibr/dpkg-var-lib-dpkg-status-valid";

pub struct Host {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub state: PathBuf,
    pub config: PathBuf,
}

impl Host {
    /// A Debian 12 host named web-01, configured with `extra` TOML (health checks...).
    pub fn new(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::copy(STATUS_FIXTURE, root.join("var/lib/dpkg/status")).unwrap();
        std::fs::write(
            root.join("etc/os-release"),
            "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
        )
        .unwrap();
        std::fs::write(root.join("etc/hostname"), "web-01\n").unwrap();
        let state = dir.path().join("state");
        let config = dir.path().join("agent.toml");
        let pending = if extra.contains("pending_updates_secs") {
            ""
        } else {
            "pending_updates_secs = 0\n"
        };
        std::fs::write(
            &config,
            format!(
                "state_dir = {state:?}\nroot = {root:?}\ninterval_secs = 1\njitter_secs = 0\n{pending}{extra}"
            ),
        )
        .unwrap();
        Self {
            dir,
            root,
            state,
            config,
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--config").arg(&self.config).args(args);
        c.env_remove("PATCHWARDEN_ENROLL_TOKEN");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Enrols with the fake server over plain HTTP.
    pub fn enroll(&self, url: &str) {
        let out = self.run(&["enroll", "--server", url, "--token", "pwe_good"]);
        assert_ok(&out);
    }

    pub fn spool_files(&self, prefix: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.state.join("spool"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(prefix))
            .collect();
        names.sort();
        names
    }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "{:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        stderr(out)
    );
}

/// Waits for `cond` up to `secs`.
#[track_caller]
pub fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for a child up to `secs`, killing it on timeout.
pub fn wait_output(mut child: Child, secs: u64) -> Output {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!("agent still running after {secs} s: {}", stderr(&out));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn file_mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}
