//! `.rpm` packages built with `rpmbuild` from a generated spec file, and yum/dnf
//! repositories made with `createrepo_c`, with an optional `updateinfo.xml` added by
//! `modifyrepo_c`.

use crate::error::{PmError, Result};
use crate::spec::PkgSpec;
use crate::tools::{command, mkdirs, plain_abs_path, run, write};
use std::path::{Path, PathBuf};

/// Epoch, version, release and rpm architecture of a [`PkgSpec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmEvra {
    /// Epoch, `0` when the spec version has none.
    pub epoch: String,
    /// Version (before the last `-`).
    pub version: String,
    /// Release (after the last `-`, else `1`).
    pub release: String,
    /// rpm architecture (`noarch` for `all`, `x86_64` for `amd64`).
    pub arch: String,
}

impl RpmEvra {
    /// Splits the spec's version the rpm way.
    pub fn of(spec: &PkgSpec) -> Self {
        let (epoch, rest) = match spec.version.split_once(':') {
            Some((e, rest)) => (e.to_owned(), rest),
            None => ("0".to_owned(), spec.version.as_str()),
        };
        let (version, release) = rest.rsplit_once('-').unwrap_or((rest, "1"));
        let arch = match spec.arch.as_str() {
            "all" => "noarch",
            "amd64" => "x86_64",
            "arm64" => "aarch64",
            other => other,
        };
        Self {
            epoch,
            version: version.to_owned(),
            release: release.to_owned(),
            arch: arch.to_owned(),
        }
    }

    /// The file name rpmbuild gives the package.
    pub fn file_name(&self, name: &str) -> String {
        format!("{name}-{}-{}.{}.rpm", self.version, self.release, self.arch)
    }
}

fn spec_file(spec: &PkgSpec, evra: &RpmEvra, stage: &str) -> Result<String> {
    if spec.postinst.is_some() && spec.post_lua.is_none() {
        return Err(PmError::invalid(
            "rpm package",
            format!(
                "{} has a shell postinst but no post_lua: rpm runs scriptlets chrooted into \
                 the alternate root, which has no /bin/sh; use PkgSpec::post_lua",
                spec.name
            ),
        ));
    }
    let mut s = format!(
        "Name: {}\nVersion: {}\nRelease: {}\nSummary: Patchwarden test package {}\n\
         License: MIT\nAutoReqProv: no\n",
        spec.name, evra.version, evra.release, spec.name
    );
    if evra.epoch != "0" {
        s.push_str(&format!("Epoch: {}\n", evra.epoch));
    }
    if evra.arch == "noarch" {
        s.push_str("BuildArch: noarch\n");
    }
    for dep in &spec.depends {
        s.push_str(&format!("Requires: {}\n", dep.replace('%', "%%")));
    }
    s.push_str("\n%description\nA package built by patchwarden-pmtest.\n\n");
    s.push_str(&format!(
        "%install\nmkdir -p %{{buildroot}}\ncp -a {stage}/. %{{buildroot}}/\n\n"
    ));
    if let Some(lua) = &spec.post_lua {
        s.push_str(&format!("%post -p <lua>\n{}\n\n", lua.replace('%', "%%")));
    }
    s.push_str("%files\n");
    for (path, _) in &spec.files {
        s.push_str(&format!("/{path}\n"));
    }
    Ok(s)
}

/// Builds `spec` with `rpmbuild -bb` (its own `_topdir` under `out_dir`) and moves the
/// package to `out_dir`. Returns the `.rpm` path.
pub fn build_rpm(out_dir: &Path, spec: &PkgSpec) -> Result<PathBuf> {
    spec.check()?;
    let evra = RpmEvra::of(spec);
    let file_name = evra.file_name(&spec.name);
    let top = out_dir.join(format!(".rpmbuild-{}", file_name));
    if top.exists() {
        std::fs::remove_dir_all(&top).map_err(PmError::io(&top))?;
    }
    let stage = top.join("stage");
    mkdirs(&stage)?;
    for (rel, contents) in &spec.files {
        write(&stage.join(rel), contents)?;
    }
    let spec_path = top.join("SPECS").join(format!("{}.spec", spec.name));
    write(
        &spec_path,
        spec_file(spec, &evra, &plain_abs_path(&stage)?)?,
    )?;
    let topdir = plain_abs_path(&top)?;
    let mut cmd = command("rpmbuild", ["-bb", "--quiet"]);
    cmd.arg("--define")
        .arg(format!("_topdir {topdir}"))
        .arg("--define")
        .arg("_build_id_links none")
        .arg("--define")
        .arg("__os_install_post %{nil}")
        // rpmbuild opens the rpm database (Debian's rpm keeps it in /root/.rpmdb and
        // creates it on first use): a private one keeps the build off the host's.
        .arg("--define")
        .arg(format!("_dbpath {topdir}/rpmdb"));
    if evra.arch != "noarch" {
        cmd.arg("--target").arg(&evra.arch);
    }
    run(cmd.arg(&spec_path))?;
    let built = top.join("RPMS").join(&evra.arch).join(&file_name);
    let dest = out_dir.join(&file_name);
    std::fs::rename(&built, &dest).map_err(PmError::io(&built))?;
    std::fs::remove_dir_all(&top).map_err(PmError::io(&top))?;
    Ok(dest)
}

/// An `updateinfo.xml` entry: an advisory naming fixed packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advisory {
    /// Advisory id (`PWSA-2026:0001`).
    pub id: String,
    /// `security`, `bugfix` or `enhancement`.
    pub kind: String,
    /// `Critical`, `Important`, `Moderate`, `Low`.
    pub severity: String,
    /// CVE ids referenced.
    pub cves: Vec<String>,
    /// The fixed packages (name and EVRA).
    pub packages: Vec<(String, RpmEvra)>,
}

impl Advisory {
    /// A security advisory.
    pub fn security(id: &str, severity: &str) -> Self {
        Self {
            id: id.to_owned(),
            kind: "security".to_owned(),
            severity: severity.to_owned(),
            cves: Vec::new(),
            packages: Vec::new(),
        }
    }

    /// Names a CVE.
    pub fn cve(mut self, cve: &str) -> Self {
        self.cves.push(cve.to_owned());
        self
    }

    /// Names a fixed package.
    pub fn package(mut self, spec: &PkgSpec) -> Self {
        self.packages.push((spec.name.clone(), RpmEvra::of(spec)));
        self
    }
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The `updateinfo.xml` document for `advisories`.
pub fn updateinfo_xml(advisories: &[Advisory]) -> String {
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<updates>\n");
    for a in advisories {
        s.push_str(&format!(
            "  <update from=\"tests@example.invalid\" status=\"final\" type=\"{}\" version=\"1\">\n\
             \x20   <id>{}</id>\n    <title>{} update</title>\n    <severity>{}</severity>\n\
             \x20   <issued date=\"2026-01-01 00:00:00\"/>\n    <references>\n",
            xml(&a.kind),
            xml(&a.id),
            xml(&a.id),
            xml(&a.severity)
        ));
        for cve in &a.cves {
            s.push_str(&format!(
                "      <reference href=\"https://example.invalid/{0}\" id=\"{0}\" type=\"cve\" title=\"{0}\"/>\n",
                xml(cve)
            ));
        }
        s.push_str("    </references>\n    <description>Test advisory.</description>\n");
        s.push_str("    <pkglist><collection short=\"pwtest\"><name>pwtest</name>\n");
        for (name, e) in &a.packages {
            s.push_str(&format!(
                "      <package name=\"{}\" version=\"{}\" release=\"{}\" epoch=\"{}\" arch=\"{}\"><filename>{}</filename></package>\n",
                xml(name),
                xml(&e.version),
                xml(&e.release),
                xml(&e.epoch),
                xml(&e.arch),
                xml(&e.file_name(name))
            ));
        }
        s.push_str("    </collection></pkglist>\n  </update>\n");
    }
    s.push_str("</updates>\n");
    s
}

/// A yum/dnf repository: `dir/repo/` holds the packages and `repodata/`.
#[derive(Debug, Clone)]
pub struct RpmRepo {
    dir: PathBuf,
    id: String,
}

impl RpmRepo {
    /// Creates (or reuses) a repository under `dir` (absolute); `id` names it in the
    /// `.repo` file as `pwtest-<id>` (letters, digits, `-`, `_`).
    pub fn new(dir: &Path, id: &str) -> Result<Self> {
        plain_abs_path(dir)?;
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(PmError::invalid("repository id", format!("{id:?}")));
        }
        let repo = Self {
            dir: dir.to_owned(),
            id: format!("pwtest-{id}"),
        };
        mkdirs(&repo.repo_dir())?;
        Ok(repo)
    }

    /// The directory served as `baseurl=file://…`.
    pub fn repo_dir(&self) -> PathBuf {
        self.dir.join("repo")
    }

    /// The repository id (`pwtest-<id>`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Builds `spec` into the repository (index it with [`RpmRepo::publish`]).
    pub fn add(&self, spec: &PkgSpec) -> Result<PathBuf> {
        build_rpm(&self.repo_dir(), spec)
    }

    /// Deletes a package file (publish again afterwards).
    pub fn remove(&self, spec: &PkgSpec) -> Result<()> {
        let file = self
            .repo_dir()
            .join(RpmEvra::of(spec).file_name(&spec.name));
        std::fs::remove_file(&file).map_err(PmError::io(&file))
    }

    /// Runs `createrepo_c`, then adds `updateinfo.xml` with `modifyrepo_c` when there
    /// are advisories.
    pub fn publish(&self, advisories: &[Advisory]) -> Result<()> {
        let repo = self.repo_dir();
        run(command("createrepo_c", ["--quiet", "--no-database"]).arg(&repo))?;
        if advisories.is_empty() {
            return Ok(());
        }
        let xml_path = self.dir.join("updateinfo.xml");
        write(&xml_path, updateinfo_xml(advisories))?;
        run(command("modifyrepo_c", ["--mdtype=updateinfo"])
            .arg(&xml_path)
            .arg(repo.join("repodata")))
        .map(drop)
    }

    /// The `.repo` file section for this repository (no GPG checks, never cached).
    pub fn repo_section(&self) -> Result<String> {
        Ok(format!(
            "[{id}]\nname={id}\nbaseurl=file://{dir}\nenabled=1\ngpgcheck=0\n\
             repo_gpgcheck=0\nmetadata_expire=0\nskip_if_unavailable=0\n",
            id = self.id,
            dir = plain_abs_path(&self.repo_dir())?
        ))
    }
}
