//! Whether a host needs a reboot: `run/reboot-required` under the root (Debian's
//! packages create it), an installed kernel newer than the running one, or — on an
//! rpm host whose root is `/` — `needs-restarting -r` (yum-utils / dnf-utils) saying so,
//! or, where that wrapper is not installed, the dnf plugin it wraps:
//! `dnf needs-restarting -r` (dnf-plugins-core; dnf 5 ships the command in its plugins).

use super::manager::without_epoch;
use super::run::{describe, run_piped};
use patchwarden_domain::package::{InstalledPackage, PackageFormat};
use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The program asked on rpm hosts, looked up in `PATH`.
const NEEDS_RESTARTING: &str = "needs-restarting";
/// Asked as `dnf needs-restarting -r` when [`NEEDS_RESTARTING`] is not installed.
const DNF: &str = "dnf";
/// It reads the rpm database (a few seconds); past this it is killed and ignored.
const NEEDS_RESTARTING_TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes of each of its output streams kept (it prints a few lines).
const NEEDS_RESTARTING_OUTPUT: usize = 64 * 1024;

/// `run/reboot-required` under the root, or what the package database says
/// ([`packages_need_reboot`], with `probe` on rpm hosts).
pub fn reboot_required(root: &Path, probe: Option<&NeedsRestarting>) -> bool {
    if root.join("run/reboot-required").exists() {
        return true;
    }
    let Ok(inv) = patchwarden_inventory::collect_local(root) else {
        return false;
    };
    packages_need_reboot(
        root,
        inv.format,
        &inv.packages,
        inv.kernel.as_deref(),
        probe,
    )
}

/// The reboot signals that change only with the package database (or a reboot): an
/// installed kernel newer than the `running` one, else, on an rpm host whose root is
/// `/`, `needs-restarting -r`. An image mounted elsewhere is not asked: the tool
/// compares the packages with the boot time of the machine it runs on.
pub(crate) fn packages_need_reboot(
    root: &Path,
    format: PackageFormat,
    packages: &[InstalledPackage],
    running: Option<&str>,
    probe: Option<&NeedsRestarting>,
) -> bool {
    if running.is_some_and(|k| newer_kernel(packages, k)) {
        return true;
    }
    match probe {
        Some(p) if format == PackageFormat::Rpm && root == Path::new("/") => {
            p.reboot_needed().unwrap_or(false)
        }
        _ => false,
    }
}

/// What `needs-restarting -r` (or `dnf needs-restarting -r`) answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Neither the wrapper nor dnf is installed: nothing to ask. (dnf without the
    /// plugin answers [`Answer::Unknown`]: it exits 1 with "No such command".)
    Absent,
    /// Exit 1 with its explanation on standard output: core packages changed since boot.
    Reboot,
    /// Exit 0.
    NoReboot,
    /// Any other exit, exit 1 with nothing on standard output (dnf's own errors exit
    /// 1 too, with only standard error), a timeout, or a failure to start it.
    Unknown(String),
}

/// One way of asking: a program (a path, or a name looked up in `PATH`) and the
/// arguments before `-r`.
#[derive(Debug, Clone)]
struct Form {
    program: PathBuf,
    args: Vec<&'static str>,
}

impl Form {
    fn installed(&self) -> bool {
        match self.program.to_str() {
            Some(name) if !name.contains('/') => crate::health::in_path(name),
            _ => self.program.is_file(),
        }
    }
}

/// `needs-restarting -r`, else `dnf needs-restarting -r`, or other programs answering
/// the same way (tests). The first form whose program is installed is asked; both
/// mean the same by their exit status.
#[derive(Debug, Clone)]
pub struct NeedsRestarting {
    forms: Vec<Form>,
    timeout: Duration,
}

impl NeedsRestarting {
    /// `needs-restarting` from `PATH`, else `dnf needs-restarting`, killed after 60 s.
    pub fn system() -> Self {
        Self::at(NEEDS_RESTARTING, NEEDS_RESTARTING_TIMEOUT).or_plugin(DNF)
    }

    /// `program -r` (a path, or a name looked up in `PATH`) with its own timeout.
    pub fn at(program: impl Into<PathBuf>, timeout: Duration) -> Self {
        Self {
            forms: vec![Form {
                program: program.into(),
                args: Vec::new(),
            }],
            timeout,
        }
    }

    /// Also `dnf needs-restarting -r`, with `dnf` as this program, when the forms
    /// before it are not installed.
    pub fn or_plugin(mut self, dnf: impl Into<PathBuf>) -> Self {
        self.forms.push(Form {
            program: dnf.into(),
            args: vec!["needs-restarting"],
        });
        self
    }

    /// Runs the first installed form with `-r` and reads its exit status.
    pub fn ask(&self) -> Answer {
        let Some(form) = self.forms.iter().find(|f| f.installed()) else {
            return Answer::Absent;
        };
        let mut cmd = Command::new(&form.program);
        cmd.args(&form.args).arg("-r");
        let what = describe(&cmd);
        let out = match run_piped(cmd, self.timeout, NEEDS_RESTARTING_OUTPUT) {
            Ok(out) => out,
            Err(why) => return Answer::Unknown(why),
        };
        match out.status.code() {
            Some(0) => Answer::NoReboot,
            Some(1) if !out.stdout.trim().is_empty() => Answer::Reboot,
            _ => {
                let err: String = out
                    .stderr
                    .trim()
                    .chars()
                    .take(300)
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect();
                Answer::Unknown(format!(
                    "{what}: {}{}{err}",
                    out.status,
                    if err.is_empty() { "" } else { ": " }
                ))
            }
        }
    }

    /// [`Self::ask`] as a yes/no; `None` when absent or unknown (logged as a warning).
    pub fn reboot_needed(&self) -> Option<bool> {
        match self.ask() {
            Answer::Reboot => Some(true),
            Answer::NoReboot => Some(false),
            Answer::Absent => None,
            Answer::Unknown(why) => {
                crate::warn(&format!("reboot check ignored: {why}"));
                None
            }
        }
    }
}

/// Whether the newest installed kernel (`linux-image-<release>`, or rpm `kernel-core`
/// / `kernel` as `version-release.arch`) is not the running one.
pub(crate) fn newer_kernel(packages: &[InstalledPackage], running: &str) -> bool {
    packages
        .iter()
        .filter_map(|p| match p.name.strip_prefix("linux-image-") {
            Some(rel) if rel.starts_with(|c: char| c.is_ascii_digit()) => Some(rel.to_owned()),
            _ if p.name == "kernel-core" || p.name == "kernel" => {
                Some(format!("{}.{}", without_epoch(&p.version), p.arch))
            }
            _ => None,
        })
        .max_by(|a, b| natural_cmp(a, b))
        .is_some_and(|newest| natural_cmp(&newest, running) == Ordering::Greater)
}

/// Compares runs of digits as numbers and everything else as text.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    for (x, y) in chunks(a).into_iter().zip(chunks(b)) {
        let o = match (x, y) {
            ((true, x), (true, y)) => x
                .trim_start_matches('0')
                .len()
                .cmp(&y.trim_start_matches('0').len())
                .then_with(|| x.trim_start_matches('0').cmp(y.trim_start_matches('0'))),
            ((_, x), (_, y)) => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::testing::pkg;

    #[test]
    fn a_newer_installed_kernel_needs_a_reboot() {
        let deb = [
            pkg("linux-image-6.1.0-18-amd64", "6.1.76-1", "amd64"),
            pkg("linux-image-6.1.0-21-amd64", "6.1.90-1", "amd64"),
            pkg("linux-image-amd64", "6.1.90-1", "amd64"),
        ];
        assert!(newer_kernel(&deb, "6.1.0-18-amd64"));
        assert!(!newer_kernel(&deb, "6.1.0-21-amd64"));
        let rpm = [
            pkg("kernel-core", "5.14.0-427.13.1.el9_4", "x86_64"),
            pkg("kernel-core", "5.14.0-70.13.1.el9_0", "x86_64"),
        ];
        assert!(newer_kernel(&rpm, "5.14.0-70.13.1.el9_0.x86_64"));
        assert!(!newer_kernel(&rpm, "5.14.0-427.13.1.el9_4.x86_64"));
        assert!(!newer_kernel(&[pkg("bash", "5.2", "amd64")], "6.1.0"));
        assert_eq!(natural_cmp("6.1.0-9", "6.1.0-10"), Ordering::Less);
    }

    /// A stand-in for `needs-restarting` in `dir`: this Debian test machine has no
    /// yum-utils / dnf-utils, so a script answers with the exit status under test. It
    /// fails unless called with `-r`, and records each call in `<name>.called`.
    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        script_for(dir, name, "-r", body)
    }

    /// A stand-in for `dnf` with the needs-restarting plugin: like [`script`], but it
    /// fails unless called as `dnf needs-restarting -r`.
    fn plugin_script(dir: &Path, name: &str, body: &str) -> PathBuf {
        script_for(dir, name, "needs-restarting -r", body)
    }

    fn script_for(dir: &Path, name: &str, args: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        let called = dir.join(format!("{name}.called"));
        let text = format!(
            "#!/bin/sh\necho >> '{}'\n[ \"$*\" = '{args}' ] || exit 9\n{body}\n",
            called.display()
        );
        std::fs::write(&path, text).unwrap_or_else(|e| unreachable!("{e}"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| unreachable!("{e}"));
        path
    }

    fn calls(dir: &Path, name: &str) -> usize {
        std::fs::read_to_string(dir.join(format!("{name}.called"))).map_or(0, |t| t.lines().count())
    }

    /// `ask`, again when another test thread's fork still held the fresh script open
    /// for writing (ETXTBSY: "Text file busy").
    fn ask(p: &NeedsRestarting) -> Answer {
        for _ in 0..20 {
            match p.ask() {
                Answer::Unknown(why) if why.contains("Text file busy") => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                other => return other,
            }
        }
        p.ask()
    }

    #[test]
    fn needs_restarting_exit_statuses() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
        let d = dir.path();
        let t = Duration::from_secs(10);
        let reboot = script(
            d,
            "reboot",
            "echo 'Core libraries or services have been updated since boot-up:'\n\
             echo '  * kernel'\necho 'Reboot is required to fully utilize these updates.'\nexit 1",
        );
        let fine = script(
            d,
            "fine",
            "echo 'No core libraries or services have been updated since boot-up.'\nexit 0",
        );
        let broken = script(d, "broken", "echo 'Error: rpmdb open failed' >&2\nexit 2");
        let error_1 = script(d, "error_1", "echo 'Error: No such command' >&2\nexit 1");
        let slow = script(d, "slow", "sleep 10\nexit 1");

        assert_eq!(ask(&NeedsRestarting::at(&reboot, t)), Answer::Reboot);
        assert_eq!(ask(&NeedsRestarting::at(&fine, t)), Answer::NoReboot);
        let other = ask(&NeedsRestarting::at(&broken, t));
        assert!(
            matches!(&other, Answer::Unknown(w) if w.contains("exit status: 2") && w.contains("rpmdb open failed")),
            "{other:?}"
        );
        // dnf's own failures exit 1 as well, with nothing on standard output.
        let e1 = ask(&NeedsRestarting::at(&error_1, t));
        assert!(
            matches!(&e1, Answer::Unknown(w) if w.contains("No such command")),
            "{e1:?}"
        );
        let started = std::time::Instant::now();
        let late = ask(&NeedsRestarting::at(&slow, Duration::from_millis(300)));
        assert!(
            matches!(&late, Answer::Unknown(w) if w.contains("timed out")),
            "{late:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(8));
        assert_eq!(
            NeedsRestarting::at(d.join("missing"), t).ask(),
            Answer::Absent
        );
        assert_eq!(
            NeedsRestarting::at("patchwarden-no-such-needs-restarting", t).ask(),
            Answer::Absent
        );
        // `None` for an unknown answer: ignored (with a warning), not a reboot.
        assert_eq!(NeedsRestarting::at(&broken, t).reboot_needed(), None);
    }

    #[test]
    fn without_the_wrapper_the_dnf_plugin_is_asked() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
        let d = dir.path();
        let t = Duration::from_secs(10);
        let missing = d.join("needs-restarting");
        let reboot = plugin_script(
            d,
            "dnf-reboot",
            "echo 'Core libraries or services have been updated since boot-up:'\n\
             echo '  * kernel-core'\necho 'Reboot is required to fully utilize these updates.'\n\
             exit 1",
        );
        let fine = plugin_script(
            d,
            "dnf-fine",
            "echo 'No core libraries or services have been updated since boot-up.'\nexit 0",
        );
        // dnf without dnf-plugins-core: exit 1 with only standard error.
        let no_plugin = plugin_script(
            d,
            "dnf-no-plugin",
            "echo 'No such command: needs-restarting. Please use /usr/bin/dnf --help' >&2\n\
             exit 1",
        );
        let broken = plugin_script(
            d,
            "dnf-broken",
            "echo 'Error: rpmdb open failed' >&2\nexit 2",
        );
        let plugin = |dnf: &Path| NeedsRestarting::at(&missing, t).or_plugin(dnf);

        assert_eq!(ask(&plugin(&reboot)), Answer::Reboot);
        assert_eq!(ask(&plugin(&fine)), Answer::NoReboot);
        let none = ask(&plugin(&no_plugin));
        assert!(
            matches!(&none, Answer::Unknown(w) if w.contains("needs-restarting -r: exit status: 1")
                && w.contains("No such command")),
            "{none:?}"
        );
        let other = ask(&plugin(&broken));
        assert!(
            matches!(&other, Answer::Unknown(w) if w.contains("exit status: 2") && w.contains("rpmdb open failed")),
            "{other:?}"
        );
        assert_eq!(plugin(&reboot).reboot_needed(), Some(true));
        assert_eq!(calls(d, "dnf-reboot"), 2);
        // Neither installed: nothing to ask.
        assert_eq!(plugin(&d.join("no-dnf")).ask(), Answer::Absent);
        // The wrapper, when installed, answers alone.
        let wrapper = script(d, "nr-fine", "exit 0");
        let both = NeedsRestarting::at(&wrapper, t).or_plugin(&reboot);
        assert_eq!(ask(&both), Answer::NoReboot);
        assert_eq!(calls(d, "dnf-reboot"), 2, "the plugin was asked too");
        assert!(calls(d, "nr-fine") >= 1);
    }

    #[test]
    fn needs_restarting_is_asked_only_on_rpm_hosts_at_the_real_root() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
        let d = dir.path();
        let probe = NeedsRestarting::at(
            script(d, "nr", "echo 'Reboot is required.'\nexit 1"),
            Duration::from_secs(10),
        );
        // Let any concurrent fork drop its copy of the script's write descriptor.
        let _ = ask(&probe);
        let before = calls(d, "nr");
        let bash = [pkg("bash", "5.1.8-9.el9", "x86_64")];
        let root = Path::new("/");
        assert!(!packages_need_reboot(
            root,
            PackageFormat::Deb,
            &bash,
            None,
            Some(&probe)
        ));
        assert!(!packages_need_reboot(
            d,
            PackageFormat::Rpm,
            &bash,
            None,
            Some(&probe)
        ));
        assert!(!packages_need_reboot(
            root,
            PackageFormat::Rpm,
            &bash,
            None,
            None
        ));
        assert_eq!(calls(d, "nr"), before, "asked on a dpkg host or an image");
        assert!(packages_need_reboot(
            root,
            PackageFormat::Rpm,
            &bash,
            None,
            Some(&probe)
        ));
        assert_eq!(calls(d, "nr"), before + 1);
        // A newer kernel already answers: not asked.
        let kernels = [pkg("kernel-core", "5.14.0-427.13.1.el9_4", "x86_64")];
        let running = Some("5.14.0-70.13.1.el9_0.x86_64");
        assert!(packages_need_reboot(
            root,
            PackageFormat::Rpm,
            &kernels,
            running,
            Some(&probe)
        ));
        assert_eq!(calls(d, "nr"), before + 1);
    }
}
