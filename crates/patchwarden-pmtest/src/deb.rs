//! `.deb` packages built with `dpkg-deb`, and flat apt repositories indexed with
//! `dpkg-scanpackages` and `apt-ftparchive`.

use crate::error::{PmError, Result};
use crate::spec::PkgSpec;
use crate::tools::{chmod, command, mkdirs, plain_abs_path, run, run_stdout, write};
use std::path::{Path, PathBuf};

/// Builds `spec` into `out_dir/<name>_<version>_<arch>.deb` (a `:` of an epoch becomes
/// `%3a`, as in Debian pools) with `dpkg-deb --root-owner-group --build`; the staging
/// tree is `out_dir/.stage-<name>-<version>`. Returns the `.deb` path.
pub fn build_deb(out_dir: &Path, spec: &PkgSpec) -> Result<PathBuf> {
    spec.check()?;
    let file_version = spec.version.replace(':', "%3a");
    let stage = out_dir.join(format!(".stage-{}-{file_version}", spec.name));
    if stage.exists() {
        std::fs::remove_dir_all(&stage).map_err(PmError::io(&stage))?;
    }
    let debian = stage.join("DEBIAN");
    mkdirs(&debian)?;
    let mut control = format!(
        "Package: {}\nVersion: {}\nArchitecture: {}\nMaintainer: Patchwarden tests <tests@example.invalid>\n",
        spec.name, spec.version, spec.arch
    );
    if !spec.depends.is_empty() {
        control.push_str(&format!("Depends: {}\n", spec.depends.join(", ")));
    }
    control.push_str(&format!(
        "Section: misc\nPriority: optional\nDescription: Patchwarden test package {}\n",
        spec.name
    ));
    write(&debian.join("control"), control)?;
    if let Some(body) = &spec.postinst {
        let script = debian.join("postinst");
        write(&script, format!("#!/bin/sh\nset -e\n{body}\n"))?;
        chmod(&script, 0o755)?;
    }
    for (rel, contents) in &spec.files {
        write(&stage.join(rel), contents)?;
    }
    let deb = out_dir.join(format!("{}_{file_version}_{}.deb", spec.name, spec.arch));
    run(
        command("dpkg-deb", ["--root-owner-group", "-Zgzip", "--build"])
            .arg(&stage)
            .arg(&deb),
    )?;
    std::fs::remove_dir_all(&stage).map_err(PmError::io(&stage))?;
    Ok(deb)
}

/// The `Release` fields of a repository: what apt shows as `Label:Version/Suite` in
/// `apt-get -s` output and what pinning matches on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseMeta {
    /// `Origin:` (e.g. `Debian`).
    pub origin: String,
    /// `Label:` (e.g. `Debian-Security`).
    pub label: String,
    /// `Suite:` (e.g. `bookworm-security`, or `stable-security` as Debian publishes it).
    pub suite: String,
    /// `Codename:` (e.g. `bookworm-security`).
    pub codename: String,
    /// `Version:` (e.g. `12`); empty for none, and then apt prints `Label:Suite`.
    pub version: String,
}

impl ReleaseMeta {
    /// The normal `bookworm` suite: `Origin: Debian`, `Label: Debian`.
    pub fn bookworm() -> Self {
        Self::new("Debian", "Debian", "bookworm", "bookworm", "")
    }

    /// The security suite: `Origin: Debian`, `Label: Debian-Security`,
    /// `Suite`/`Codename: bookworm-security`.
    pub fn bookworm_security() -> Self {
        Self::new(
            "Debian",
            "Debian-Security",
            "bookworm-security",
            "bookworm-security",
            "",
        )
    }

    /// Any fields.
    pub fn new(origin: &str, label: &str, suite: &str, codename: &str, version: &str) -> Self {
        Self {
            origin: origin.to_owned(),
            label: label.to_owned(),
            suite: suite.to_owned(),
            codename: codename.to_owned(),
            version: version.to_owned(),
        }
    }
}

/// A flat apt repository in a directory: `dir/repo/` holds `pool/*.deb`, `Packages` and
/// `Release`; `dir/build/` is the staging area. Add packages, then [`DebRepo::publish`].
#[derive(Debug, Clone)]
pub struct DebRepo {
    dir: PathBuf,
    meta: ReleaseMeta,
}

impl DebRepo {
    /// Creates (or reuses) a repository under `dir`, an absolute path.
    pub fn new(dir: &Path, meta: ReleaseMeta) -> Result<Self> {
        plain_abs_path(dir)?;
        let repo = Self {
            dir: dir.to_owned(),
            meta,
        };
        mkdirs(&repo.pool())?;
        Ok(repo)
    }

    /// The directory apt reads (`deb [trusted=yes] copy:<this> ./`).
    pub fn repo_dir(&self) -> PathBuf {
        self.dir.join("repo")
    }

    fn pool(&self) -> PathBuf {
        self.repo_dir().join("pool")
    }

    /// The `Release` fields.
    pub fn meta(&self) -> &ReleaseMeta {
        &self.meta
    }

    /// Builds `spec` into the pool (not yet indexed: call [`DebRepo::publish`]).
    pub fn add(&self, spec: &PkgSpec) -> Result<PathBuf> {
        build_deb(&self.pool(), spec)
    }

    /// Copies an already built `.deb` into the pool.
    pub fn add_file(&self, deb: &Path) -> Result<PathBuf> {
        let name = deb
            .file_name()
            .ok_or_else(|| PmError::invalid("deb path", format!("{}", deb.display())))?;
        let dest = self.pool().join(name);
        std::fs::copy(deb, &dest).map_err(PmError::io(deb))?;
        Ok(dest)
    }

    /// Deletes a package's `.deb` from the pool (publish again afterwards).
    pub fn remove(&self, name: &str, version: &str, arch: &str) -> Result<()> {
        let file = self
            .pool()
            .join(format!("{name}_{}_{arch}.deb", version.replace(':', "%3a")));
        std::fs::remove_file(&file).map_err(PmError::io(&file))
    }

    /// Writes `Packages` (`dpkg-scanpackages --multiversion pool`) and `Release`
    /// (`apt-ftparchive release` with the [`ReleaseMeta`] fields).
    pub fn publish(&self) -> Result<()> {
        let repo = self.repo_dir();
        let packages = run_stdout(
            command("dpkg-scanpackages", ["--multiversion", "pool", "/dev/null"])
                .current_dir(&repo),
        )?;
        write(&repo.join("Packages"), packages)?;
        let release_path = repo.join("Release");
        if release_path.exists() {
            std::fs::remove_file(&release_path).map_err(PmError::io(&release_path))?;
        }
        let m = &self.meta;
        let mut cmd = command("apt-ftparchive", Vec::<String>::new());
        for (field, value) in [
            ("Origin", &m.origin),
            ("Label", &m.label),
            ("Suite", &m.suite),
            ("Codename", &m.codename),
            ("Version", &m.version),
        ] {
            if !value.is_empty() {
                cmd.arg("-o")
                    .arg(format!("APT::FTPArchive::Release::{field}={value}"));
            }
        }
        let release = run_stdout(cmd.args(["release", "."]).current_dir(&repo))?;
        write(&release_path, release)
    }

    /// The `sources.list` line: `copy:` so apt copies the `.deb`s into its own cache
    /// (`Dir::Cache::archives` of the root), as it would download them.
    pub fn source_line(&self) -> Result<String> {
        Ok(format!(
            "deb [trusted=yes] copy:{} ./",
            plain_abs_path(&self.repo_dir())?
        ))
    }
}
