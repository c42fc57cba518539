//! `DnfRoot`: an rpm database and dnf configuration inside a directory, driven by the
//! real `dnf --installroot` and `rpm --root`. The options are in the crate docs.

use crate::error::{PmError, Result};
use crate::rpm::RpmRepo;
use crate::tools::{command, mkdirs, plain_abs_path, run, run_any, run_stdout, write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The dnf configuration written inside the root (dnf uses a config file found inside
/// the installroot before the host's; we also name it with `--config`).
const DNF_CONF: &str = "[main]\ngpgcheck=0\ninstallonly_limit=3\nbest=True\n\
skip_if_unavailable=False\nkeepcache=True\nplugins=0\n";

/// An alternate root for rpm and dnf.
#[derive(Debug, Clone)]
pub struct DnfRoot {
    root: PathBuf,
    root_str: String,
    releasever: String,
}

impl DnfRoot {
    /// Creates the layout under `root` (absolute): `etc/dnf/dnf.conf`,
    /// `etc/yum.repos.d/`, the rpm database directory at rpm's own `%_dbpath` inside
    /// the root, and `var/lib/rpm` pointing to it when that path differs (Debian's rpm
    /// uses `/root/.rpmdb`), so inventory readers find the database where RHEL keeps it.
    pub fn new(root: &Path, releasever: &str) -> Result<Self> {
        let root_str = plain_abs_path(root)?;
        mkdirs(&root.join("etc/yum.repos.d"))?;
        write(&root.join("etc/dnf/dnf.conf"), DNF_CONF)?;
        let dbpath = run_stdout(&mut command("rpm", ["--eval", "%{_dbpath}"]))?;
        let dbpath = dbpath.trim().trim_start_matches('/');
        if dbpath.is_empty() || dbpath.contains("..") {
            return Err(PmError::invalid("rpm %_dbpath", format!("{dbpath:?}")));
        }
        mkdirs(&root.join(dbpath))?;
        if !matches!(dbpath, "var/lib/rpm" | "usr/lib/sysimage/rpm") {
            let link = root.join("var/lib/rpm");
            if !link.exists() {
                mkdirs(&root.join("var/lib"))?;
                let up = format!("../../{dbpath}");
                std::os::unix::fs::symlink(&up, &link).map_err(PmError::io(&link))?;
            }
        }
        Ok(Self {
            root: root.to_owned(),
            root_str,
            releasever: releasever.to_owned(),
        })
    }

    /// The root directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// `<root>/etc/yum.repos.d`.
    pub fn reposdir(&self) -> PathBuf {
        self.root.join("etc/yum.repos.d")
    }

    /// Writes `<reposdir>/<id>.repo` for the repository.
    pub fn add_repo(&self, repo: &RpmRepo) -> Result<()> {
        let path = self.reposdir().join(format!("{}.repo", repo.id()));
        write(&path, repo.repo_section()?)
    }

    /// dnf options that confine it to the root's configuration and test repositories
    /// (without `--installroot`, which a runner adds from its root argument).
    pub fn dnf_options(&self) -> Vec<String> {
        let r = &self.root_str;
        vec![
            format!("--config={r}/etc/dnf/dnf.conf"),
            format!("--setopt=reposdir={r}/etc/yum.repos.d"),
            format!("--releasever={}", self.releasever),
            "--noplugins".to_owned(),
            "--disablerepo=*".to_owned(),
            "--enablerepo=pwtest-*".to_owned(),
        ]
    }

    /// A `dnf` command on the root: `--installroot` plus [`DnfRoot::dnf_options`].
    pub fn dnf_command(&self) -> Command {
        let mut cmd = Command::new("dnf");
        cmd.arg(format!("--installroot={}", self.root_str))
            .args(self.dnf_options());
        cmd
    }

    /// Runs `dnf -y ARGS`; a non-zero exit is an error.
    pub fn dnf(&self, args: &[&str]) -> Result<Output> {
        run(self.dnf_command().arg("-y").args(args))
    }

    /// Runs `dnf -y ARGS` and returns the output whatever the exit status
    /// (`check-update` exits 100 when there are updates).
    pub fn dnf_any(&self, args: &[&str]) -> Result<Output> {
        run_any(self.dnf_command().arg("-y").args(args))
    }

    /// `dnf install -y PKGS` (each `name` or `name-version-release`).
    pub fn install(&self, pkgs: &[&str]) -> Result<Output> {
        let mut args = vec!["install"];
        args.extend_from_slice(pkgs);
        self.dnf(&args)
    }

    /// `dnf upgrade -y`.
    pub fn upgrade(&self) -> Result<Output> {
        self.dnf(&["upgrade"])
    }

    /// An `rpm --root` command.
    pub fn rpm_command(&self) -> Command {
        command("rpm", [format!("--root={}", self.root_str)])
    }

    /// `version-release` of `name` per `rpm --root -q`, or `None` if not installed.
    pub fn installed_version(&self, name: &str) -> Result<Option<String>> {
        let out = run_any(
            self.rpm_command()
                .args(["-q", "--queryformat", "%{VERSION}-%{RELEASE}\\n"])
                .arg(name),
        )?;
        if !out.status.success() {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text.lines().next().map(str::to_owned))
    }
}
