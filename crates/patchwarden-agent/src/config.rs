//! The agent's local configuration file (TOML). Local only: nothing the server sends
//! can change it, and the commands it names (health checks, hooks) are the only ones
//! the agent runs besides the package manager.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Where `--config` points by default.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/patchwarden/agent.toml";

/// The commented default configuration, printed by `patchwarden-agent config default`.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../patchwarden-agent.example.toml");

/// Default seconds a health check may take.
const DEFAULT_CHECK_TIMEOUT_SECS: u64 = 10;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// The server; defaults to the URL recorded at enrolment.
    #[serde(default)]
    pub server_url: Option<String>,
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// CA certificate (PEM) the agent trusts for the server, pinned at enrolment.
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    #[serde(default = "default_jitter")]
    pub jitter_secs: u64,
    #[serde(default = "default_root")]
    pub root: PathBuf,
    /// Read pending updates (apt/dnf) at most this often; 0 = never.
    #[serde(default = "default_pending")]
    pub pending_updates_secs: u64,
    #[serde(default)]
    pub health_checks: Vec<HealthCheck>,
    #[serde(default)]
    pub hooks: Hooks,
    /// What a reboot runs (argv, no shell); tests point it at a harmless command.
    #[serde(default = "default_reboot_command")]
    pub reboot_command: Vec<String>,
    #[serde(default)]
    pub package_manager: PackageManagerConfig,
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/patchwarden-agent")
}
fn default_interval() -> u64 {
    300
}
fn default_jitter() -> u64 {
    60
}
fn default_root() -> PathBuf {
    PathBuf::from("/")
}
fn default_pending() -> u64 {
    3600
}
fn default_reboot_command() -> Vec<String> {
    vec!["systemctl".to_owned(), "reboot".to_owned()]
}
fn default_pm_timeout() -> u64 {
    1800
}
fn default_timeout() -> u64 {
    DEFAULT_CHECK_TIMEOUT_SECS
}
fn default_status() -> u16 {
    200
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            server_url: None,
            state_dir: default_state_dir(),
            ca_cert: None,
            interval_secs: default_interval(),
            jitter_secs: default_jitter(),
            root: default_root(),
            pending_updates_secs: default_pending(),
            health_checks: Vec::new(),
            hooks: Hooks::default(),
            reboot_command: default_reboot_command(),
            package_manager: PackageManagerConfig::default(),
        }
    }
}

/// One locally defined health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum HealthCheck {
    /// `systemctl is-active UNIT` succeeds.
    SystemdUnit {
        name: String,
        unit: String,
        #[serde(default = "default_timeout")]
        timeout_secs: u64,
    },
    /// A TCP connection to `address` (host:port) opens in time.
    Tcp {
        name: String,
        address: String,
        #[serde(default = "default_timeout")]
        timeout_secs: u64,
    },
    /// `GET url` answers with `status`.
    Http {
        name: String,
        url: String,
        #[serde(default = "default_status")]
        status: u16,
        #[serde(default = "default_timeout")]
        timeout_secs: u64,
    },
    /// `argv` (no shell) exits 0 in time.
    Command {
        name: String,
        argv: Vec<String>,
        #[serde(default = "default_timeout")]
        timeout_secs: u64,
    },
}

impl HealthCheck {
    pub fn name(&self) -> &str {
        match self {
            Self::SystemdUnit { name, .. }
            | Self::Tcp { name, .. }
            | Self::Http { name, .. }
            | Self::Command { name, .. } => name,
        }
    }

    pub fn timeout_secs(&self) -> u64 {
        match self {
            Self::SystemdUnit { timeout_secs, .. }
            | Self::Tcp { timeout_secs, .. }
            | Self::Http { timeout_secs, .. }
            | Self::Command { timeout_secs, .. } => *timeout_secs,
        }
    }
}

/// Local commands around deployments (argv, no shell).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hooks {
    #[serde(default)]
    pub pre: Option<Vec<String>>,
    #[serde(default)]
    pub post: Option<Vec<String>>,
    #[serde(default)]
    pub snapshot: Option<Vec<String>>,
}

/// Which package manager deploys, and how it is confined. On a real host everything
/// but `kind` stays empty; tests point apt and dnf at an alternate `root`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageManagerConfig {
    #[serde(default)]
    pub kind: PackageManagerKind,
    /// An apt configuration file passed as `APT_CONFIG` (required when `root` is not
    /// `/`: it must move `Dir` and dpkg's `--root`/`--admindir` into the root).
    #[serde(default)]
    pub apt_config: Option<PathBuf>,
    /// Arguments added to every `dnf` call (`--installroot` is added for a `root`
    /// other than `/`).
    #[serde(default)]
    pub dnf_args: Vec<String>,
    /// Arguments added to every `rpm` query (`--root` is added likewise).
    #[serde(default)]
    pub rpm_args: Vec<String>,
    /// Longest run of one package-manager command before it is killed.
    #[serde(default = "default_pm_timeout")]
    pub timeout_secs: u64,
}

impl Default for PackageManagerConfig {
    fn default() -> Self {
        Self {
            kind: PackageManagerKind::Auto,
            apt_config: None,
            dnf_args: Vec::new(),
            rpm_args: Vec::new(),
            timeout_secs: default_pm_timeout(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageManagerKind {
    /// apt for a dpkg database under `root`, dnf for an rpm database.
    #[default]
    Auto,
    Apt,
    Dnf,
}

impl AgentConfig {
    /// Parses and checks TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let cfg: Self = toml::from_str(text).with_context(|| format!("in {origin}"))?;
        cfg.check().with_context(|| format!("in {origin}"))?;
        Ok(cfg)
    }

    /// Reads `path`. A missing file is an error unless `missing_ok`, which gives the
    /// defaults (used by `enroll` before the file is written).
    pub fn load(path: &Path, missing_ok: bool) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, &path.display().to_string()),
            Err(e) if missing_ok && e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    fn check(&self) -> Result<()> {
        if let Some(url) = &self.server_url {
            check_server_url(url)?;
        }
        if self.interval_secs == 0 || self.interval_secs > 86_400 {
            bail!("interval_secs must be 1 to 86400");
        }
        if self.jitter_secs > 86_400 {
            bail!("jitter_secs must be at most 86400");
        }
        let mut names = HashSet::new();
        for c in &self.health_checks {
            let name = c.name();
            if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
                bail!("health check name {name:?} must be 1 to 64 characters");
            }
            if !names.insert(name) {
                bail!("health check name {name:?} is used twice");
            }
            if c.timeout_secs() == 0 || c.timeout_secs() > 3600 {
                bail!("health check {name:?}: timeout_secs must be 1 to 3600");
            }
            match c {
                HealthCheck::Command { argv, .. } if argv.is_empty() => {
                    bail!("health check {name:?}: argv is empty")
                }
                HealthCheck::Http { url, .. } => {
                    let u = reqwest::Url::parse(url)
                        .with_context(|| format!("health check {name:?}: url"))?;
                    if !matches!(u.scheme(), "http" | "https") {
                        bail!("health check {name:?}: url must be http or https");
                    }
                }
                _ => {}
            }
        }
        for (key, argv) in [
            ("pre", &self.hooks.pre),
            ("post", &self.hooks.post),
            ("snapshot", &self.hooks.snapshot),
        ] {
            if argv.as_ref().is_some_and(Vec::is_empty) {
                bail!("hooks.{key} is an empty argv");
            }
        }
        if self.reboot_command.is_empty() {
            bail!("reboot_command is an empty argv");
        }
        let pm = &self.package_manager;
        if pm.timeout_secs == 0 || pm.timeout_secs > 86_400 {
            bail!("package_manager.timeout_secs must be 1 to 86400");
        }
        if pm.apt_config.as_ref().is_some_and(|p| !p.is_absolute()) {
            bail!("package_manager.apt_config must be an absolute path");
        }
        Ok(())
    }
}

/// Accepts `https://` (and `http://`, for tests and TLS-terminating proxies on the
/// same host) URLs without query or fragment.
pub fn check_server_url(url: &str) -> Result<reqwest::Url> {
    let u = reqwest::Url::parse(url).with_context(|| format!("server URL {url:?}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        bail!("server URL {url:?} must start with https:// (or http://)");
    }
    if u.query().is_some() || u.fragment().is_some() || u.host_str().is_none() {
        bail!("server URL {url:?} must be a plain https://host[:port][/path]");
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn the_shipped_default_parses_to_the_defaults() {
        let cfg = AgentConfig::parse(DEFAULT_CONFIG_TOML, "default").unwrap();
        assert_eq!(cfg, AgentConfig::default());
    }

    /// A commented-out TOML line, as opposed to a description.
    fn is_toml(line: &str) -> bool {
        if line.starts_with("[[") || line == "[hooks]" || line == "[package_manager]" {
            return true;
        }
        line.split_once(" = ").is_some_and(|(key, value)| {
            key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                && ((value.starts_with('"') && value.ends_with('"'))
                    || (value.starts_with('[') && value.ends_with(']'))
                    || value.chars().all(|c| c.is_ascii_digit()))
        })
    }

    #[test]
    fn every_commented_example_parses() {
        // Uncomment the example sections of the shipped file: they must be valid too.
        let text: String = DEFAULT_CONFIG_TOML
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if is_toml(rest) => format!("{rest}\n"),
                _ => format!("{l}\n"),
            })
            .collect();
        let cfg = AgentConfig::parse(&text, "uncommented").unwrap();
        assert_eq!(cfg.health_checks.len(), 4);
        assert_eq!(
            cfg.server_url.as_deref(),
            Some("https://patchwarden.example.org:8443")
        );
        assert_eq!(
            cfg.hooks.snapshot,
            Some(vec!["/usr/local/sbin/snapshot-root".to_owned()])
        );
        assert_eq!(
            cfg.package_manager.apt_config.as_deref(),
            Some(Path::new("/srv/image/etc/apt/apt.conf"))
        );
        assert!(matches!(
            &cfg.health_checks[1],
            HealthCheck::Tcp { address, timeout_secs: 5, .. } if address == "127.0.0.1:22"
        ));
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = AgentConfig::parse("intervl_secs = 5\n", "t").unwrap_err();
        assert!(format!("{err:#}").contains("intervl_secs"), "{err:#}");
        let err = AgentConfig::parse(
            "[[health_checks]]\nname = \"a\"\nkind = \"tcp\"\naddress = \"x:1\"\nshell = \"rm\"\n",
            "t",
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("shell"), "{err:#}");
        let err = AgentConfig::parse("[hooks]\nrollback = [\"x\"]\n", "t").unwrap_err();
        assert!(format!("{err:#}").contains("rollback"), "{err:#}");
    }

    #[test]
    fn bad_values_are_refused() {
        for (text, needle) in [
            ("interval_secs = 0\n", "interval_secs"),
            ("server_url = \"ftp://x\"\n", "https://"),
            (
                "[[health_checks]]\nname = \"a\"\nkind = \"command\"\nargv = []\n",
                "argv is empty",
            ),
            (
                "[[health_checks]]\nname = \"a\"\nkind = \"tcp\"\naddress = \"x:1\"\n\
                 [[health_checks]]\nname = \"a\"\nkind = \"tcp\"\naddress = \"y:1\"\n",
                "used twice",
            ),
            ("reboot_command = []\n", "reboot_command"),
            (
                "[package_manager]\napt_config = \"etc/apt.conf\"\n",
                "absolute",
            ),
            ("[package_manager]\nkind = \"zypper\"\n", "zypper"),
            ("[package_manager]\ntimeout_secs = 0\n", "timeout_secs"),
        ] {
            let err = AgentConfig::parse(text, "t").unwrap_err();
            assert!(format!("{err:#}").contains(needle), "{text}: {err:#}");
        }
    }
}
