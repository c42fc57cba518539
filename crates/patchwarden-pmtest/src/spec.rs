//! What a test package contains, shared by the `.deb` and `.rpm` builders.

use crate::error::{PmError, Result};
use std::path::{Component, Path};

/// A tiny package to build: name, version, architecture, dependencies, an optional
/// post-install script and files. Build it with [`crate::build_deb`] or
/// [`crate::build_rpm`] (or add it to a repository).
///
/// - `version` is written as the package manager wants it: `2.0-1` for both (rpm splits
///   version and release at the last `-`; without one the release is `1`).
/// - `arch` is `all` by default; rpm builds map `all` to `noarch` and `amd64` to
///   `x86_64`.
/// - `postinst` is a POSIX shell body for `.deb` packages, run by dpkg with
///   `--force-script-chrootless`: it must use `"$DPKG_ROOT"` as the prefix of every path
///   it touches.
/// - `post_lua` is the body of an rpm `%post -p <lua>` scriptlet. rpm always runs
///   scriptlets chrooted into the alternate root, which has no `/bin/sh`, so rpm test
///   packages use rpm's embedded Lua; paths are inside the root (`/marker`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkgSpec {
    /// Package name.
    pub name: String,
    /// Version, e.g. `2.0-1`.
    pub version: String,
    /// Architecture (`all`, `amd64`, `noarch`, `x86_64`).
    pub arch: String,
    /// Dependencies, each `name` or `name (>= 1.0)` (deb) / `name >= 1.0` (rpm).
    pub depends: Vec<String>,
    /// Shell body of the `.deb` postinst.
    pub postinst: Option<String>,
    /// Lua body of the rpm `%post`.
    pub post_lua: Option<String>,
    /// Files: path relative to the root (`usr/share/pw/version`) and contents.
    pub files: Vec<(String, String)>,
}

impl PkgSpec {
    /// A package with one file, `usr/share/<name>/version`, holding the version.
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            name: name.to_owned(),
            version: version.to_owned(),
            arch: "all".to_owned(),
            depends: Vec::new(),
            postinst: None,
            post_lua: None,
            files: vec![(format!("usr/share/{name}/version"), format!("{version}\n"))],
        }
    }

    /// Sets the architecture.
    pub fn arch(mut self, arch: &str) -> Self {
        arch.clone_into(&mut self.arch);
        self
    }

    /// Adds a dependency.
    pub fn depends(mut self, dep: &str) -> Self {
        self.depends.push(dep.to_owned());
        self
    }

    /// Sets the `.deb` postinst shell body.
    pub fn postinst(mut self, body: &str) -> Self {
        self.postinst = Some(body.to_owned());
        self
    }

    /// Sets the rpm `%post` Lua body.
    pub fn post_lua(mut self, body: &str) -> Self {
        self.post_lua = Some(body.to_owned());
        self
    }

    /// Adds a file (path relative to the root).
    pub fn file(mut self, path: &str, contents: &str) -> Self {
        self.files.push((path.to_owned(), contents.to_owned()));
        self
    }

    /// A post-install step that fails, in both formats (for rollback tests).
    pub fn failing_postinst(self) -> Self {
        self.postinst("echo 'postinst fails on purpose' >&2\nexit 1")
            .post_lua("error(\"post-install fails on purpose\")")
    }

    /// Checks the name, version and file paths before anything is built.
    pub(crate) fn check(&self) -> Result<()> {
        let token_ok = |s: &str| {
            !s.is_empty()
                && s.chars().all(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-' | '~' | ':' | '_')
                })
        };
        if !token_ok(&self.name) || self.name.contains(':') {
            return Err(PmError::invalid("package name", format!("{:?}", self.name)));
        }
        if !token_ok(&self.version) || !token_ok(&self.arch) {
            return Err(PmError::invalid(
                "package version or arch",
                format!("{:?} {:?}", self.version, self.arch),
            ));
        }
        for (path, _) in &self.files {
            let p = Path::new(path);
            let plain = p.components().all(|c| matches!(c, Component::Normal(_)));
            if !plain || p.as_os_str().is_empty() || path.starts_with("DEBIAN") {
                return Err(PmError::invalid(
                    "file path",
                    format!("{path:?} must be relative, without `..`, and not under DEBIAN/"),
                ));
            }
            if path
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '%')
            {
                return Err(PmError::invalid(
                    "file path",
                    format!("{path:?} has characters the spec file cannot hold"),
                ));
            }
        }
        for d in &self.depends {
            if d.contains(['\n', '\r']) {
                return Err(PmError::invalid("dependency", format!("{d:?}")));
            }
        }
        Ok(())
    }
}
