//! Running the packaging programs and writing the staging tree.

use crate::error::{PackError, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Which Debian package provides `program`, for error messages.
fn provider(program: &str) -> &'static str {
    match program {
        "dpkg-deb" => "Debian package dpkg",
        "dpkg-shlibdeps" => "Debian package dpkg-dev",
        "rpmbuild" | "rpm" => "Debian package rpm, or rpm-build on RHEL",
        "strip" => "Debian package binutils",
        _ => "see docs/agent.md",
    }
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs `cmd` (C locale, no stdin); a non-zero exit is [`PackError::Failed`].
pub(crate) fn run(cmd: &mut Command) -> Result<Output> {
    cmd.env("LC_ALL", "C").stdin(Stdio::null());
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd.output().map_err(|source| PackError::Spawn {
        hint: provider(&program),
        program,
        source,
    })?;
    if out.status.success() {
        return Ok(out);
    }
    let mut stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let tail: String = stdout
        .chars()
        .rev()
        .take(2000)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    stderr.push_str(&tail);
    Err(PackError::Failed {
        command: describe(cmd),
        status: out.status.to_string(),
        stderr,
    })
}

/// The path of `program` in `PATH`, if it is there.
pub fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Creates `dir` and its parents.
pub(crate) fn mkdirs(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(PackError::io(dir))
}

/// Writes `contents` to `path` (parents created) and sets its mode.
pub(crate) fn write_mode(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    if let Some(parent) = path.parent() {
        mkdirs(parent)?;
    }
    std::fs::write(path, contents).map_err(PackError::io(path))?;
    chmod(path, mode)
}

/// Sets the permission bits of `path`.
pub(crate) fn chmod(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(PackError::io(path))
}

/// Removes `dir` and everything in it, if it exists.
pub(crate) fn remove_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(PackError::io(dir)(e)),
        _ => Ok(()),
    }
}

/// `path` as UTF-8 text without characters that a spec file or a shell line would
/// interpret (whitespace, quotes, `%`, `$`, `\`, `;`), absolute.
pub(crate) fn plain_abs_path(path: &Path) -> Result<String> {
    let s = path
        .to_str()
        .ok_or_else(|| PackError::invalid("path", format!("{} is not UTF-8", path.display())))?;
    let bad = |c: char| {
        c.is_whitespace()
            || c.is_control()
            || matches!(c, '"' | '\'' | '\\' | '%' | ';' | '$' | '`')
    };
    if !path.is_absolute() || s.chars().any(bad) {
        return Err(PackError::invalid(
            "path",
            format!("{s:?} must be absolute, without whitespace, quotes, %, $ or ;"),
        ));
    }
    Ok(s.to_owned())
}
