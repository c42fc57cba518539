//! `AptRoot`: a directory with its own dpkg database and apt configuration, driven by
//! the real `apt-get` and `dpkg` without touching the host's `/var/lib/dpkg` or
//! `/etc/apt`. The options are documented in the crate docs.

use crate::deb::DebRepo;
use crate::error::{PmError, Result};
use crate::tools::{command, mkdirs, plain_abs_path, run, run_any, run_stdout, write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Directories created under the root.
const DIRS: &[&str] = &[
    "var/lib/dpkg/info",
    "var/lib/dpkg/updates",
    "var/lib/dpkg/triggers",
    "var/lib/apt/lists/partial",
    "var/cache/apt/archives/partial",
    "var/log/apt",
    "etc/apt/apt.conf.d",
    "etc/apt/preferences.d",
    "etc/apt/sources.list.d",
];

/// An alternate root for dpkg and apt. See the crate docs for the options used.
#[derive(Debug, Clone)]
pub struct AptRoot {
    root: PathBuf,
    root_str: String,
}

impl AptRoot {
    /// Creates the layout under `root` (absolute, created if missing): an empty dpkg
    /// database, an empty `sources.list`, and `etc/apt/apt.conf` holding
    /// [`AptRoot::config_items`], which every `apt-get` run reads through `APT_CONFIG`.
    pub fn new(root: &Path) -> Result<Self> {
        let root_str = plain_abs_path(root)?;
        for d in DIRS {
            mkdirs(&root.join(d))?;
        }
        for f in ["var/lib/dpkg/status", "var/lib/dpkg/available"] {
            let p = root.join(f);
            if !p.exists() {
                write(&p, "")?;
            }
        }
        let this = Self {
            root: root.to_owned(),
            root_str,
        };
        let sources = this.sources_list();
        if !sources.exists() {
            write(&sources, "")?;
        }
        let mut conf = String::from("// Written by patchwarden-pmtest.\n");
        for (key, value) in this.config_items() {
            conf.push_str(&format!("{key} \"{value}\";\n"));
        }
        write(&this.apt_conf(), conf)?;
        Ok(this)
    }

    /// The root directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The dpkg database directory (`<root>/var/lib/dpkg`).
    pub fn admindir(&self) -> PathBuf {
        self.root.join("var/lib/dpkg")
    }

    /// `<root>/etc/apt/apt.conf`, passed as `APT_CONFIG`.
    pub fn apt_conf(&self) -> PathBuf {
        self.root.join("etc/apt/apt.conf")
    }

    /// `<root>/etc/apt/sources.list`.
    pub fn sources_list(&self) -> PathBuf {
        self.root.join("etc/apt/sources.list")
    }

    /// `<root>/var/cache/apt/archives`, where apt keeps the `.deb`s it fetched.
    pub fn archives(&self) -> PathBuf {
        self.root.join("var/cache/apt/archives")
    }

    /// The apt configuration that confines apt and dpkg to the root, as (key, value).
    /// `DPkg::Options::` entries append to a list.
    pub fn config_items(&self) -> Vec<(String, String)> {
        let r = &self.root_str;
        let mut items = vec![
            ("Dir".to_owned(), format!("{r}/")),
            (
                "Dir::State::status".to_owned(),
                format!("{r}/var/lib/dpkg/status"),
            ),
            ("APT::Sandbox::User".to_owned(), "root".to_owned()),
            ("Acquire::Languages".to_owned(), "none".to_owned()),
            ("Dpkg::Use-Pty".to_owned(), "0".to_owned()),
        ];
        for opt in [
            format!("--root={r}"),
            format!("--admindir={r}/var/lib/dpkg"),
            format!("--log={r}/var/log/dpkg.log"),
            "--force-script-chrootless".to_owned(),
            "--force-not-root".to_owned(),
        ] {
            items.push(("DPkg::Options::".to_owned(), opt));
        }
        items
    }

    /// The same configuration as `-o KEY=VALUE` arguments, for a program that runs
    /// `apt-get` itself (the host's `/etc/apt/apt.conf.d` is then read too).
    pub fn apt_options(&self) -> Vec<String> {
        self.config_items()
            .into_iter()
            .flat_map(|(k, v)| ["-o".to_owned(), format!("{k}={v}")])
            .collect()
    }

    /// Adds the repository to `sources.list` (call [`AptRoot::update`] afterwards).
    pub fn add_repo(&self, repo: &DebRepo) -> Result<()> {
        let path = self.sources_list();
        let mut text = std::fs::read_to_string(&path).map_err(PmError::io(&path))?;
        text.push_str(&repo.source_line()?);
        text.push('\n');
        write(&path, text)
    }

    /// An `apt-get` command confined to the root (`APT_CONFIG`, non-interactive).
    pub fn apt_get_command(&self) -> Command {
        let mut cmd = Command::new("apt-get");
        cmd.env("APT_CONFIG", self.apt_conf())
            .env("DEBIAN_FRONTEND", "noninteractive")
            .env_remove("APT_LISTCHANGES_FRONTEND");
        cmd
    }

    /// Runs `apt-get ARGS`; a non-zero exit is an error.
    pub fn apt_get(&self, args: &[&str]) -> Result<Output> {
        run(self.apt_get_command().args(args))
    }

    /// Runs `apt-get ARGS` and returns the output whatever the exit status.
    pub fn apt_get_any(&self, args: &[&str]) -> Result<Output> {
        run_any(self.apt_get_command().args(args))
    }

    /// `apt-get update`.
    pub fn update(&self) -> Result<()> {
        self.apt_get(&["-q", "update"]).map(drop)
    }

    /// `apt-get install -y PKGS` (each `name` or `name=version`).
    pub fn install(&self, pkgs: &[&str]) -> Result<Output> {
        let mut args = vec!["-q", "-y", "install"];
        args.extend_from_slice(pkgs);
        self.apt_get(&args)
    }

    /// `apt-get dist-upgrade -y`.
    pub fn dist_upgrade(&self) -> Result<Output> {
        self.apt_get(&["-q", "-y", "dist-upgrade"])
    }

    /// The output of `apt-get -s dist-upgrade` (the simulation; nothing changes).
    pub fn simulate_dist_upgrade(&self) -> Result<String> {
        run_stdout(self.apt_get_command().args(["-s", "dist-upgrade"]))
    }

    /// A `dpkg` command on the root (`--root`, `--admindir`, chrootless scripts).
    pub fn dpkg_command(&self) -> Command {
        let r = &self.root_str;
        command(
            "dpkg",
            [
                format!("--root={r}"),
                format!("--admindir={r}/var/lib/dpkg"),
                format!("--log={r}/var/log/dpkg.log"),
                "--force-script-chrootless".to_owned(),
                "--force-not-root".to_owned(),
            ],
        )
    }

    /// Runs `dpkg ARGS` on the root and returns the output whatever the exit status.
    pub fn dpkg_any(&self, args: &[&str]) -> Result<Output> {
        run_any(self.dpkg_command().args(args))
    }

    /// The installed version of `name` per `dpkg-query` on the root's database, or
    /// `None` when it is not fully installed (`ii`).
    pub fn installed_version(&self, name: &str) -> Result<Option<String>> {
        let out = run_any(&mut command(
            "dpkg-query",
            [
                format!("--admindir={}/var/lib/dpkg", self.root_str),
                "-W".to_owned(),
                "-f=${db:Status-Abbrev}\t${Version}\n".to_owned(),
                name.to_owned(),
            ],
        ))?;
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text.lines().find_map(|l| {
            let (status, version) = l.split_once('\t')?;
            (status.trim_end() == "ii").then(|| version.to_owned())
        }))
    }

    /// The `dpkg-query` status abbreviation of `name` (`ii`, `iF`, `iU`, …), if known.
    pub fn status_abbrev(&self, name: &str) -> Result<Option<String>> {
        let out = run_any(&mut command(
            "dpkg-query",
            [
                format!("--admindir={}/var/lib/dpkg", self.root_str),
                "-W".to_owned(),
                "-f=${db:Status-Abbrev}\n".to_owned(),
                name.to_owned(),
            ],
        ))?;
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text.lines().next().map(|l| l.trim_end().to_owned()))
    }

    /// The ids of the running `dpkg` processes working on this root: argv[0] is `dpkg`
    /// (by base name) and an argument is `--root=<root>`, read from `/proc/*/cmdline`.
    /// Maintainer scripts, whose command lines name the root too, are not matched.
    pub fn dpkg_pids(&self) -> Result<Vec<u32>> {
        let want = format!("--root={}", self.root_str);
        let proc_dir = Path::new("/proc");
        let mut pids = Vec::new();
        for entry in std::fs::read_dir(proc_dir).map_err(PmError::io(proc_dir))? {
            let Ok(entry) = entry else { continue };
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            // A process may exit between the listing and the read.
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            let mut args = cmdline.split(|b| *b == 0).map(String::from_utf8_lossy);
            let is_dpkg = args
                .next()
                .is_some_and(|a0| Path::new(a0.as_ref()).file_name() == Some("dpkg".as_ref()));
            if is_dpkg && args.any(|a| a == want) {
                pids.push(pid);
            }
        }
        Ok(pids)
    }
}
