//! dnf and rpm. Every `dnf` call gets `--installroot=<root>` (for a root other than
//! `/`) and the configured `dnf_args`; `rpm` queries get `--root` and `rpm_args`.
//!
//! Backup: for each installed version the transaction replaces or removes, the `.rpm`
//! in dnf's package cache (`keepcache=1` leaves it in `var/cache/dnf/*/packages/`),
//! else `dnf reinstall --downloadonly --downloaddir=<backup> NAME-VERSION.ARCH` while
//! the repositories still have it. `dnf history undo` is not used: it needs the old
//! packages in a repository, which is exactly what may be gone. Restore:
//! `dnf install /path/to/saved.rpm …` (dnf up- or downgrades to a local file) and
//! `dnf remove` of what the deployment added.
//!
//! `dnf install`/`remove` (which run scriptlets) run in a process group of their own,
//! killed whole at the package-manager timeout.
//!
//! rpm keeps a package installed when its `%post` scriptlet fails and dnf exits 0; the
//! scriptlet error in the output makes the step fail.

use super::backup::SavedPackage;
use super::manager::{all_saved, without_epoch, Manager, Unsettled};
use super::run::{run_capture, run_capture_group, run_logged, Outcome};
use patchwarden_domain::package::InstalledPackage;
use patchwarden_wire::job::PackageTarget;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

#[derive(Debug)]
pub struct Dnf {
    root: PathBuf,
    dnf_args: Vec<String>,
    rpm_args: Vec<String>,
    timeout: Duration,
}

fn spec(t: &PackageTarget) -> String {
    match &t.arch {
        Some(a) => format!("{}-{}.{a}", t.name, t.version),
        None => format!("{}-{}", t.name, t.version),
    }
}

fn rpm_file_name(p: &InstalledPackage) -> String {
    format!("{}-{}.{}.rpm", p.name, without_epoch(&p.version), p.arch)
}

/// Lines of dnf output that mean a scriptlet failed although dnf exited 0.
fn scriptlet_failed(log: &str) -> bool {
    log.lines().any(|l| {
        (l.contains("Error in ") && l.contains("scriptlet"))
            || l.contains("scriptlet failed")
            || l.starts_with("error: lua script failed")
    })
}

/// Package names in the transaction table dnf (4) prints before asking.
///
/// A row is one space and the package name, then the other columns. A value wider
/// than its column ends the line, and the next column continues on the following line,
/// indented to where it starts (`fmtColumns` in dnf's `cli/output.py`): so a line
/// indented by more than one space continues the row above (a long name's arch and
/// version, or a long version's repository), unless it is a `replacing` line naming an
/// obsoleted package. Rows under `Skipping packages …` are not part of the transaction.
pub fn transaction_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    // The entries follow the second `====` rule (the first frames the header).
    let mut rules = 0;
    let mut skipped = false;
    for line in text.lines() {
        if line.starts_with("====") {
            rules += 1;
            continue;
        }
        if line.starts_with("Transaction Summary") {
            break;
        }
        if rules < 2 {
            continue;
        }
        let Some(row) = line.strip_prefix(' ') else {
            // A section heading (`Upgrading:`), or the note below a skipped one.
            if line.starts_with("Skipping packages") {
                skipped = true;
            } else if line.ends_with(':') && !line.starts_with('(') {
                skipped = false;
            }
            continue;
        };
        let name = match row.trim_start().strip_prefix("replacing ") {
            Some(rest) => rest
                .split_whitespace()
                .next()
                .map(|nva| nva.rsplit_once('.').map_or(nva, |(n, _)| n)),
            None if row.starts_with(' ') => continue,
            None => row.split_whitespace().next(),
        };
        if let Some(n) = name.filter(|_| !skipped) {
            names.push(n.to_owned());
        }
    }
    names.sort();
    names.dedup();
    names
}

impl Dnf {
    pub fn new(root: &Path, dnf_args: &[String], rpm_args: &[String], timeout: Duration) -> Self {
        Self {
            root: root.to_owned(),
            dnf_args: dnf_args.to_vec(),
            rpm_args: rpm_args.to_vec(),
            timeout,
        }
    }

    fn alternate(&self) -> bool {
        self.root != Path::new("/")
    }

    fn dnf(&self) -> Command {
        let mut cmd = Command::new("dnf");
        if self.alternate() {
            cmd.arg(format!("--installroot={}", self.root.display()));
        }
        cmd.args(&self.dnf_args);
        cmd
    }

    fn rpm(&self) -> Command {
        let mut cmd = Command::new("rpm");
        if self.alternate() {
            cmd.arg(format!("--root={}", self.root.display()));
        }
        cmd.args(&self.rpm_args);
        cmd
    }

    /// `dnf -y ARGS`, failing on a scriptlet error too. Scriptlets (and what they
    /// start) are dnf's children: the run gets a process group of its own, killed
    /// whole at the timeout.
    fn change(&self, args: &[String], log: &Path) -> Outcome {
        let mut cmd = self.dnf();
        cmd.arg("-y").args(args);
        let (out, text) = run_capture_group(cmd, self.timeout, log);
        if out.ok && scriptlet_failed(&text) {
            return Outcome::fail(format!(
                "{}\na package scriptlet failed (rpm keeps such a package installed)",
                out.log
            ));
        }
        out
    }

    /// Cached `.rpm` files (keepcache) by file name.
    fn cached(&self, file: &str) -> Option<PathBuf> {
        let cache = self.root.join("var/cache/dnf");
        std::fs::read_dir(cache)
            .ok()?
            .flatten()
            .map(|repo| repo.path().join("packages").join(file))
            .find(|p| p.is_file())
    }
}

impl Manager for Dnf {
    fn kind(&self) -> &'static str {
        "dnf"
    }

    fn refresh(&self, log: &Path) -> Outcome {
        let mut cmd = self.dnf();
        cmd.args(["-y", "makecache"]);
        run_logged(cmd, self.timeout, log)
    }

    fn plan(&self, targets: &[PackageTarget], log: &Path) -> Result<Vec<String>, Outcome> {
        let mut cmd = self.dnf();
        cmd.args(["--assumeno", "install"])
            .args(targets.iter().map(spec));
        let (out, text) = run_capture(cmd, self.timeout, log);
        // `--assumeno` answers "no": dnf exits 1 with "Operation aborted." after a
        // successful resolution, and 0 when there is nothing to do.
        if out.ok || text.contains("Operation aborted.") {
            Ok(transaction_names(&text))
        } else {
            Err(out)
        }
    }

    fn save(
        &self,
        installed: &[InstalledPackage],
        dest: &Path,
        log: &Path,
    ) -> Result<Vec<SavedPackage>, Outcome> {
        let mut saved = Vec::new();
        let mut notes = String::new();
        let mut download = Vec::new();
        for p in installed {
            let file = rpm_file_name(p);
            if let Some(c) = self.cached(&file) {
                if std::fs::copy(&c, dest.join(&file)).is_ok() {
                    notes.push_str(&format!("kept {file} from {}\n", c.display()));
                    saved.push(saved_package(p, file));
                    continue;
                }
            }
            download.push(p);
        }
        if !download.is_empty() {
            let mut cmd = self.dnf();
            cmd.args(["-y", "reinstall", "--downloadonly"])
                .arg(format!("--downloaddir={}", dest.display()))
                .args(
                    download
                        .iter()
                        .map(|p| format!("{}-{}.{}", p.name, without_epoch(&p.version), p.arch)),
                );
            notes.push_str(&run_logged(cmd, self.timeout, log).log);
            for p in download {
                let file = rpm_file_name(p);
                if dest.join(&file).is_file() {
                    saved.push(saved_package(p, file));
                }
            }
        }
        all_saved(installed, saved, &notes)
    }

    fn install(&self, targets: &[PackageTarget], log: &Path) -> Outcome {
        let mut args = vec!["install".to_owned()];
        args.extend(targets.iter().map(spec));
        self.change(&args, log)
    }

    fn restore(&self, files: &[PathBuf], remove: &[String], log: &Path) -> Outcome {
        let mut logs = Vec::new();
        if !files.is_empty() {
            let mut args = vec!["install".to_owned()];
            args.extend(files.iter().map(|f| f.display().to_string()));
            let out = self.change(&args, log);
            if !out.ok {
                return out;
            }
            logs.push(out.log);
        }
        if !remove.is_empty() {
            let mut args = vec!["remove".to_owned()];
            args.extend(remove.iter().cloned());
            let out = self.change(&args, log);
            if !out.ok {
                return out;
            }
            logs.push(out.log);
        }
        if logs.is_empty() {
            logs.push("every package is already at its recorded version".into());
        }
        Outcome::success(logs.join("\n"))
    }

    fn check_db(&self, names: &[String], log: &Path) -> Outcome {
        let mut cmd = self.dnf();
        cmd.arg("check");
        let check = run_logged(cmd, self.timeout, log);
        let mut query = self.rpm();
        query.args(["-q", "--queryformat", "%{NAME} %{EVR} %{ARCH}\\n"]);
        query.args(names);
        let state = run_logged(query, self.timeout, log);
        let verdict = if check.ok {
            "dnf check: the package database is consistent"
        } else {
            "dnf check: the package database has problems"
        };
        Outcome {
            ok: check.ok,
            log: format!("{}\n{}\n{verdict}", check.log, state.log),
        }
    }

    /// None: rpm records no state between installed and absent (a failed scriptlet
    /// leaves the package installed, an interrupted transaction two versions of it,
    /// both of which the inventory shows).
    fn unsettled(&self, _log: &Path) -> Result<Vec<Unsettled>, String> {
        Ok(Vec::new())
    }
}

fn saved_package(p: &InstalledPackage, file: String) -> SavedPackage {
    SavedPackage {
        name: p.name.clone(),
        version: p.version.clone(),
        arch: p.arch.clone(),
        file,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transaction_table_names_the_packages() {
        let text = "Dependencies resolved.\n====\n Package  Arch  Version  Repo  Size\n====\n\
                    Upgrading:\n pwt   noarch  2.0-1  pwtest-local  6.0 k\n\
                    Installing dependencies:\n newdep noarch 1.0-1 pwtest-local 5 k\n\
                    Installing:\n other x86_64 1-1 r 1 k\n     replacing  oldpkg.noarch 0.1-1\n\n\
                    Transaction Summary\n====\n Upgrade 1 Package\n";
        assert_eq!(
            transaction_names(text),
            ["newdep", "oldpkg", "other", "pwt"]
        );
        assert!(scriptlet_failed(
            "Error in POSTIN scriptlet in rpm package pwt\n"
        ));
        assert!(!scriptlet_failed(
            "Running scriptlet: pwt-2.0-1.noarch 1/2\n"
        ));
    }

    /// dnf 4's table as `fmtColumns` lays it out on 80 columns (the width dnf uses
    /// when its output is not a terminal): long names, a long version and a long
    /// repository id overflow their columns onto a second line.
    const WRAPPED: &str = "\
================================================================================
 Package                      Arch   Version                Repository     Size
================================================================================
Installing:
 kernel-core                  x86_64 5.14.0-427.13.1.el9_4  baseos         20 M
     replacing  kernel-core-old.x86_64 5.14.0-70.13.1.el9_0
Upgrading:
 python3-azure-mgmt-containerservice
                              noarch 26.0.0-1.el9           appstream     6.2 M
 vim-enhanced                 x86_64 2:8.2.2637-20.el9_1.0.1.alma.1
                                                            appstream     1.8 M
 openssl-libs                 x86_64 1:3.0.7-27.el9         baseos-security-updates
                                                                          2.2 M
Installing dependencies:
 libreoffice-langpack-pt-BR-extra
                              x86_64 1:7.1.8.1-12.el9       appstream     9.9 M
Installing weak dependencies:
 a-weak-dep-with-a-rather-long-name-too
                              noarch 1.0-1.el9              appstream      10 k
Skipping packages with conflicts:
(add '--best --allowerasing' to command line to force their upgrade):
 tzdata                       noarch 2024a-1.el9            baseos        840 k

Transaction Summary
================================================================================
Install  4 Packages
Upgrade  3 Packages
Skip     1 Package
";

    #[test]
    fn wrapped_rows_name_one_package_each() {
        assert_eq!(
            transaction_names(WRAPPED),
            [
                "a-weak-dep-with-a-rather-long-name-too",
                "kernel-core",
                "kernel-core-old",
                "libreoffice-langpack-pt-BR-extra",
                "openssl-libs",
                "python3-azure-mgmt-containerservice",
                "vim-enhanced",
            ]
        );
    }
}
