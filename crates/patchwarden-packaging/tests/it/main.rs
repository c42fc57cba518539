//! Builds the agent packages from the workspace's debug agent binary, checks their
//! metadata with `dpkg-deb` and `rpm -qp`, and installs, upgrades and removes them in
//! alternate roots with the real dpkg and rpm (`patchwarden-pmtest`), leaving the
//! host's package databases untouched. Tests print `SKIP:` and pass when a tool (or
//! root) is missing, unless `PATCHWARDEN_REQUIRE_ALL_TESTS=1`.

mod deb;
mod meta;
mod rpm;

use patchwarden_packaging::{Compression, Inputs};
use patchwarden_pmtest::Tool;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Programs the `.deb` half needs.
const DEB_TOOLS: &[Tool] = &[
    Tool {
        program: "dpkg",
        package: "dpkg",
    },
    Tool {
        program: "dpkg-deb",
        package: "dpkg",
    },
    Tool {
        program: "dpkg-shlibdeps",
        package: "dpkg-dev",
    },
    Tool {
        program: "strip",
        package: "binutils",
    },
];

/// Programs the `.rpm` half needs.
const RPM_TOOLS: &[Tool] = &[
    Tool {
        program: "rpm",
        package: "rpm",
    },
    Tool {
        program: "rpmbuild",
        package: "rpm",
    },
    Tool {
        program: "strip",
        package: "binutils",
    },
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The debug `patchwarden-agent` binary, built once per test run with the cargo that
/// runs the tests (a no-op when `cargo test --workspace` already built it).
fn agent_binary() -> Result<PathBuf, String> {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let out = Command::new(cargo)
                .current_dir(workspace_root())
                .args([
                    "build",
                    "-p",
                    "patchwarden-agent",
                    "--bin",
                    "patchwarden-agent",
                ])
                .arg("--message-format=json-render-diagnostics")
                .output()
                .map_err(|e| format!("cannot run cargo: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "cargo build -p patchwarden-agent failed:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter(|v| v["target"]["name"] == "patchwarden-agent")
                .find_map(|v| v["executable"].as_str().map(PathBuf::from))
                .ok_or_else(|| "cargo reported no patchwarden-agent executable".to_owned())
        })
        .clone()
}

/// Inputs for the test packages: the debug binary (stripped), fast compression.
fn inputs(version: &str) -> Result<Inputs, Box<dyn std::error::Error>> {
    let mut inputs = Inputs::new(agent_binary()?)?;
    inputs.version = version.to_owned();
    inputs.compression = Compression::Fast;
    Ok(inputs)
}

/// Runs `cmd`, failing with its output when it exits non-zero.
fn run(cmd: &mut Command) -> Result<Output, Box<dyn std::error::Error>> {
    let out = cmd.env("LC_ALL", "C").output()?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed ({})\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(out)
}

/// Standard output of `cmd` as text.
fn stdout(cmd: &mut Command) -> Result<String, Box<dyn std::error::Error>> {
    Ok(String::from_utf8_lossy(&run(cmd)?.stdout).into_owned())
}

/// Checks what the installed agent says about its own files under `root`: the
/// installed config is the binary's default, it parses, and the unit is ours.
fn check_installed(root: &Path) -> TestResult {
    let agent = root.join("usr/bin/patchwarden-agent");
    let config = root.join("etc/patchwarden/agent.toml");
    let default = stdout(Command::new(&agent).args(["config", "default"]))?;
    assert_eq!(
        std::fs::read_to_string(&config)?,
        default,
        "agent.toml is the default"
    );
    stdout(
        Command::new(&agent)
            .arg("--config")
            .arg(&config)
            .args(["config", "check"]),
    )?;
    let unit =
        std::fs::read_to_string(root.join("usr/lib/systemd/system/patchwarden-agent.service"))?;
    assert_eq!(unit, patchwarden_packaging::UNIT);
    Ok(())
}

/// The installed config with a local change, as an administrator would make it.
fn modify_config(root: &Path) -> Result<String, Box<dyn std::error::Error>> {
    let path = root.join("etc/patchwarden/agent.toml");
    let text = std::fs::read_to_string(&path)? + "# changed on this host\n";
    std::fs::write(&path, &text)?;
    Ok(text)
}

fn mode(path: &Path) -> Result<u32, Box<dyn std::error::Error>> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o7777)
}
