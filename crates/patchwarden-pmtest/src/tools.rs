//! Which programs are installed, the skip convention, and running programs.

use crate::error::{PmError, Result};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A program a helper needs, with what it is for and its Debian package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    /// The program name looked up in `PATH`.
    pub program: &'static str,
    /// The Debian package that installs it.
    pub package: &'static str,
}

/// Programs the apt half needs.
pub const APT_TOOLS: &[Tool] = &[
    Tool {
        program: "dpkg",
        package: "dpkg",
    },
    Tool {
        program: "dpkg-deb",
        package: "dpkg",
    },
    Tool {
        program: "dpkg-scanpackages",
        package: "dpkg-dev",
    },
    Tool {
        program: "apt-ftparchive",
        package: "apt-utils",
    },
    Tool {
        program: "apt-get",
        package: "apt",
    },
];

/// `dpkg-repack`, which the agent falls back to when an installed version's `.deb` is
/// neither in apt's cache nor in a repository.
pub const DPKG_REPACK_TOOLS: &[Tool] = &[Tool {
    program: "dpkg-repack",
    package: "dpkg-repack",
}];

/// Programs the dnf half needs.
pub const DNF_TOOLS: &[Tool] = &[
    Tool {
        program: "rpm",
        package: "rpm",
    },
    Tool {
        program: "rpmbuild",
        package: "rpm",
    },
    Tool {
        program: "createrepo_c",
        package: "createrepo-c",
    },
    Tool {
        program: "modifyrepo_c",
        package: "createrepo-c",
    },
    Tool {
        program: "dnf",
        package: "dnf",
    },
];

/// Whether tests that need an outside tool must run (`.ci/run` sets
/// `PATCHWARDEN_REQUIRE_ALL_TESTS=1`).
pub fn require_all_tests() -> bool {
    std::env::var("PATCHWARDEN_REQUIRE_ALL_TESTS").is_ok_and(|v| v == "1")
}

/// The path of `program` in `PATH`, if it is an executable file there.
pub fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The skip convention: `Ok(true)` when every tool is installed; otherwise prints
/// `SKIP: <reason>` and returns `Ok(false)`, or returns [`PmError::MissingTool`] when
/// `PATCHWARDEN_REQUIRE_ALL_TESTS=1`. A test starts with
/// `if !tools_present(APT_TOOLS)? { return Ok(()); }`.
pub fn tools_present(tools: &[Tool]) -> Result<bool> {
    let Some(missing) = tools.iter().find(|t| find_in_path(t.program).is_none()) else {
        return Ok(true);
    };
    let why = format!("Debian package {}", missing.package);
    if require_all_tests() {
        return Err(PmError::MissingTool {
            tool: missing.program.to_owned(),
            why,
        });
    }
    eprintln!("SKIP: `{}` is not installed ({why})", missing.program);
    Ok(false)
}

/// Like [`tools_present`], and also requires running as root (dpkg and rpm keep file
/// ownership, and apt and dnf take their locks, only as root).
pub fn tools_and_root_present(tools: &[Tool]) -> Result<bool> {
    if !tools_present(tools)? {
        return Ok(false);
    }
    if is_root() {
        return Ok(true);
    }
    if require_all_tests() {
        return Err(PmError::MissingTool {
            tool: "root".to_owned(),
            why: "installing packages into an alternate root runs as uid 0".to_owned(),
        });
    }
    eprintln!("SKIP: not running as root");
    Ok(false)
}

/// Whether the process runs as uid 0 (read from `/proc/self/status`).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|rest| rest.split_whitespace().nth(1))
            == Some("0")
    })
}

/// Keeps the last `max` bytes of lossily-decoded output, for error messages.
fn tail(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= max {
        return text.into_owned();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}

/// The command line of `cmd`, for messages.
pub(crate) fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs `cmd` with `LC_ALL=C`, capturing its output; any exit status is returned.
pub fn run_any(cmd: &mut Command) -> Result<Output> {
    cmd.env("LC_ALL", "C").env("LANGUAGE", "C");
    cmd.output().map_err(|source| PmError::Spawn {
        program: cmd.get_program().to_string_lossy().into_owned(),
        source,
    })
}

/// Runs `cmd`; a non-zero exit is a [`PmError::Failed`] carrying the output.
pub fn run(cmd: &mut Command) -> Result<Output> {
    let out = run_any(cmd)?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(failed(cmd, &out))
    }
}

/// The error for a command that ran and failed.
pub fn failed(cmd: &Command, out: &Output) -> PmError {
    PmError::Failed {
        command: describe(cmd),
        status: out.status.to_string(),
        stdout: tail(&out.stdout, 4000),
        stderr: tail(&out.stderr, 4000),
    }
}

/// Runs `cmd` and returns its standard output as (lossy) text.
pub fn run_stdout(cmd: &mut Command) -> Result<String> {
    run(cmd).map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
}

/// A `Command` for `program` with `args`.
pub(crate) fn command<I, S>(program: &str, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut c = Command::new(program);
    c.args(args);
    c
}

/// Creates `dir` and its parents.
pub(crate) fn mkdirs(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(PmError::io(dir))
}

/// Writes `contents` to `path`, creating parent directories.
pub(crate) fn write(path: &Path, contents: impl AsRef<[u8]>) -> Result<()> {
    if let Some(parent) = path.parent() {
        mkdirs(parent)?;
    }
    std::fs::write(path, contents).map_err(PmError::io(path))
}

/// Sets the permission bits of `path`.
pub(crate) fn chmod(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(PmError::io(path))
}

/// Refuses paths that cannot be written safely into apt.conf, `.repo` files or spec
/// files (quotes, whitespace, control characters) or that are not absolute.
pub(crate) fn plain_abs_path(path: &Path) -> Result<String> {
    let s = path
        .to_str()
        .ok_or_else(|| PmError::invalid("path", format!("{} is not UTF-8", path.display())))?;
    if !path.is_absolute() {
        return Err(PmError::invalid("path", format!("{s} is not absolute")));
    }
    if s.chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '\\' | '%' | ';'))
    {
        return Err(PmError::invalid(
            "path",
            format!(
                "{s:?} contains whitespace, quotes or other characters the harness does not escape"
            ),
        ));
    }
    Ok(s.to_owned())
}
