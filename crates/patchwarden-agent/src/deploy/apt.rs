//! apt and dpkg. Every `apt-get` runs with `DEBIAN_FRONTEND=noninteractive`, the
//! configured `APT_CONFIG` (an alternate root's own configuration), `--force-confdef
//! --force-confold` (keep changed configuration files) and `--allow-downgrades` (a job
//! names exact versions). dpkg's own options — needed for `dpkg --audit` and
//! `dpkg --configure -a` — are read from that configuration (`apt-config dump`,
//! `DPkg::Options`), so apt and dpkg always agree on the root.
//!
//! Backup: for each installed version the transaction replaces or removes, the `.deb`
//! in apt's archive cache (`Dir::Cache::archives`, checked with `dpkg-deb -f`), else
//! `apt-get download NAME:ARCH=VERSION` from the repositories (which still have it
//! before the upgrade), else `dpkg-repack NAME:ARCH` when installed (`--root=<root>` on
//! an alternate root whose dpkg database is `<root>/var/lib/dpkg`, where dpkg-repack
//! looks for it), checked with `dpkg-deb -f` like the others. The files are copied into
//! the state directory, out of reach of `apt-get clean`. Restore:
//! `apt-get install /path/to/saved.deb … new-package-` (apt resolves the local files,
//! downgrades, and removes what the deployment added), after `dpkg --configure -a` when
//! an interrupted dpkg left its journal.
//!
//! Every `apt-get` run that may start dpkg runs in a process group of its own, killed
//! whole at the package-manager timeout, so that a hung maintainer script (dpkg's
//! child) does not outlive it.
//!
//! That `dpkg --configure -a` runs the maintainer scripts the interruption cut short,
//! and one of them may hang. It gets a bound of its own, shorter than the package
//! manager's timeout ([`recovery_timeout`]); past it dpkg's whole process group (the
//! scripts included) is killed, dpkg's journal is merged so that apt runs again, and
//! the install from the backup is tried once more — the package whose script hung is
//! then replaced by its saved version like any half-configured one.

use super::backup::SavedPackage;
use super::manager::{all_saved, without_epoch, Manager, Unsettled};
use super::run::{run_capture, run_logged, run_logged_group, Outcome};
use patchwarden_domain::package::InstalledPackage;
use patchwarden_wire::job::PackageTarget;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

#[derive(Debug)]
pub struct Apt {
    apt_config: Option<PathBuf>,
    root: PathBuf,
    timeout: Duration,
    /// The bound on `dpkg --configure -a` in a rollback ([`recovery_timeout`]).
    recovery: Duration,
}

/// `dpkg --configure -a` in a rollback gets this share of the package-manager timeout…
const RECOVERY_SHARE: u32 = 4;
/// …but at least this long (or the whole timeout, when that is shorter)…
const RECOVERY_MIN: Duration = Duration::from_secs(10);
/// …and at most this long.
const RECOVERY_MAX: Duration = Duration::from_secs(300);

/// How long the rollback's `dpkg --configure -a` may run: a quarter of the
/// package-manager timeout (`package_manager.timeout_secs`, through which an operator
/// sets it), between 10 s and 5 minutes. It only finishes what an interrupted dpkg left
/// (typically the postinst of the very deployment being rolled back), so it needs far
/// less than a whole install; a hung maintainer script must not spend the time the
/// install from the backup needs after it. With the default timeout (1800 s) it is 5
/// minutes.
pub fn recovery_timeout(timeout: Duration) -> Duration {
    (timeout / RECOVERY_SHARE).clamp(RECOVERY_MIN.min(timeout), RECOVERY_MAX)
}

/// Options of every changing `apt-get` run.
const CHANGE_ARGS: &[&str] = &[
    "-q",
    "-y",
    "--allow-downgrades",
    "-o",
    "Dpkg::Options::=--force-confdef",
    "-o",
    "Dpkg::Options::=--force-confold",
];

fn spec(t: &PackageTarget) -> String {
    match &t.arch {
        Some(a) => format!("{}:{a}={}", t.name, t.version),
        None => format!("{}={}", t.name, t.version),
    }
}

fn deb_file_name(name: &str, version: &str, arch: &str) -> String {
    format!("{name}_{}_{arch}.deb", version.replace(':', "%3a"))
}

/// The package `dpkg-repack` is told to pack: `NAME:ARCH`, because a bare name is
/// ambiguous when the package is installed for two architectures (`Multi-Arch: same`)
/// and dpkg-query, which dpkg-repack asks, then refuses it. An `all` package (and one
/// whose architecture is unknown) is only ever installed once, under its bare name.
fn repack_spec(p: &InstalledPackage) -> String {
    match p.arch.as_str() {
        "" | "all" => p.name.clone(),
        arch => format!("{}:{arch}", p.name),
    }
}

/// Names in `Inst`/`Remv`/`Purg` lines of an `apt-get -s` run.
pub fn simulated_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            match words.next()? {
                "Inst" | "Remv" | "Purg" => words.next(),
                _ => None,
            }
        })
        .map(|n| n.split(':').next().unwrap_or(n).to_owned())
        .collect();
    names.sort();
    names.dedup();
    names
}

impl Apt {
    pub fn new(apt_config: Option<PathBuf>, root: &Path, timeout: Duration) -> Self {
        Self {
            apt_config,
            root: root.to_owned(),
            timeout,
            recovery: recovery_timeout(timeout),
        }
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("DEBIAN_FRONTEND", "noninteractive")
            .env("APT_LISTCHANGES_FRONTEND", "none");
        if let Some(c) = &self.apt_config {
            cmd.env("APT_CONFIG", c);
        }
        cmd
    }

    /// `apt-config dump` as (key, value) pairs.
    fn config(&self, log: &Path) -> Vec<(String, String)> {
        let mut cmd = self.command("apt-config");
        cmd.arg("dump");
        let (_, text) = run_capture(cmd, self.timeout, log);
        text.lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(' ')?;
                let v = v.strip_suffix(';')?.trim_matches('"');
                Some((k.to_owned(), v.to_owned()))
            })
            .collect()
    }

    /// dpkg's options from the apt configuration (each once, in order).
    fn dpkg_args(&self, log: &Path) -> Vec<String> {
        let mut args: Vec<String> = Vec::new();
        for (k, v) in self.config(log) {
            if k.eq_ignore_ascii_case("DPkg::Options::") && !v.is_empty() && !args.contains(&v) {
                args.push(v);
            }
        }
        args
    }

    /// `Dir` / `Dir::Cache` / `Dir::Cache::archives`.
    fn archives(&self, log: &Path) -> PathBuf {
        let cfg = self.config(log);
        let get = |key: &str, default: &str| {
            cfg.iter()
                .find(|(k, _)| k == key)
                .map_or(default.to_owned(), |(_, v)| v.clone())
        };
        Path::new(&get("Dir", "/"))
            .join(get("Dir::Cache", "var/cache/apt"))
            .join(get("Dir::Cache::archives", "archives/"))
    }

    /// Whether `file` is the package `p` (per its control fields).
    fn is_package(&self, file: &Path, p: &InstalledPackage, log: &Path) -> bool {
        let mut cmd = Command::new("dpkg-deb");
        cmd.arg("-f")
            .arg(file)
            .args(["Package", "Version", "Architecture"]);
        let (out, text) = run_capture(cmd, self.timeout, log);
        let want = format!(
            "Package: {}\nVersion: {}\nArchitecture: {}\n",
            p.name, p.version, p.arch
        );
        out.ok && text == want
    }

    /// The installed files of `p` packed again by `dpkg-repack` into `dest` (named like
    /// the other saved files), when dpkg-repack is installed and reads the same dpkg
    /// database as apt: on `/`, or with `--root` when apt's dpkg keeps its database at
    /// `<root>/var/lib/dpkg`.
    fn repack(
        &self,
        p: &InstalledPackage,
        dest: &Path,
        log: &Path,
        notes: &mut String,
    ) -> Option<SavedPackage> {
        if !crate::health::in_path("dpkg-repack") {
            notes.push_str("dpkg-repack is not installed\n");
            return None;
        }
        let mut cmd = Command::new("dpkg-repack");
        if self.root != Path::new("/") {
            let admindir = self.root.join("var/lib/dpkg");
            let other = self.dpkg_args(log).into_iter().find(|a| {
                a.strip_prefix("--admindir=")
                    .is_some_and(|d| Path::new(d.trim_end_matches('/')) != admindir)
            });
            if let Some(other) = other {
                notes.push_str(&format!(
                    "dpkg-repack not used: apt's dpkg has {other}, dpkg-repack --root reads {}\n",
                    admindir.display()
                ));
                return None;
            }
            cmd.arg(format!("--root={}", self.root.display()));
        }
        cmd.current_dir(dest).arg(repack_spec(p));
        notes.push_str(&run_logged(cmd, self.timeout, log).log);
        // dpkg-deb names its output without the epoch.
        let built = dest.join(format!(
            "{}_{}_{}.deb",
            p.name,
            without_epoch(&p.version),
            p.arch
        ));
        if !built.is_file() {
            notes.push_str(&format!(
                "dpkg-repack made no {}\n",
                built.file_name().unwrap_or_default().to_string_lossy()
            ));
            return None;
        }
        let file = deb_file_name(&p.name, &p.version, &p.arch);
        if built != dest.join(&file) {
            if let Err(e) = std::fs::rename(&built, dest.join(&file)) {
                notes.push_str(&format!("cannot rename {}: {e}\n", built.display()));
                return None;
            }
        }
        if self.is_package(&dest.join(&file), p, log) {
            // In the step's log too: the one trace of where the saved file came from.
            let line = format!("repacked {file} with dpkg-repack from the installed files");
            append_line(log, &line);
            notes.push_str(&line);
            notes.push('\n');
            Some(saved_package(p, file))
        } else {
            notes.push_str(&format!(
                "{file} from dpkg-repack is not {} {} {} per dpkg-deb -f; not kept\n",
                p.name, p.version, p.arch
            ));
            let _ = std::fs::remove_file(dest.join(&file));
            None
        }
    }

    /// A changing `apt-get` run (update, install, restore). dpkg runs maintainer
    /// scripts as its children, so the run gets a process group of its own and at the
    /// timeout the whole group is killed: a hung script does not outlive apt-get.
    fn get(&self, args: &[&str], extra: &[String], log: &Path) -> Outcome {
        let mut cmd = self.command("apt-get");
        cmd.args(args).args(extra);
        run_logged_group(cmd, self.timeout, log).0
    }
}

impl Manager for Apt {
    fn kind(&self) -> &'static str {
        "apt"
    }

    fn refresh(&self, log: &Path) -> Outcome {
        self.get(&["-q", "update"], &[], log)
    }

    fn plan(&self, targets: &[PackageTarget], log: &Path) -> Result<Vec<String>, Outcome> {
        let mut cmd = self.command("apt-get");
        cmd.arg("-s")
            .args(CHANGE_ARGS)
            .arg("install")
            .args(targets.iter().map(spec));
        let (out, text) = run_capture(cmd, self.timeout, log);
        if out.ok {
            Ok(simulated_names(&text))
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
        let archives = self.archives(log);
        let mut saved = Vec::new();
        let mut notes = String::new();
        let mut download = Vec::new();
        for p in installed {
            let file = deb_file_name(&p.name, &p.version, &p.arch);
            let cached = archives.join(&file);
            if cached.is_file() && self.is_package(&cached, p, log) {
                match std::fs::copy(&cached, dest.join(&file)) {
                    Ok(_) => {
                        notes.push_str(&format!("kept {file} from {}\n", archives.display()));
                        saved.push(saved_package(p, file));
                        continue;
                    }
                    Err(e) => notes.push_str(&format!("cannot copy {}: {e}\n", cached.display())),
                }
            }
            download.push(p);
        }
        if !download.is_empty() {
            let specs: Vec<String> = download
                .iter()
                .map(|p| format!("{}:{}={}", p.name, p.arch, p.version))
                .collect();
            let mut cmd = self.command("apt-get");
            cmd.current_dir(dest).args(["-q", "download"]).args(&specs);
            let out = run_logged(cmd, self.timeout, log);
            notes.push_str(&out.log);
            for p in download {
                let file = deb_file_name(&p.name, &p.version, &p.arch);
                if dest.join(&file).is_file() && self.is_package(&dest.join(&file), p, log) {
                    saved.push(saved_package(p, file));
                } else if let Some(s) = self.repack(p, dest, log, &mut notes) {
                    saved.push(s);
                }
            }
        }
        all_saved(installed, saved, &notes)
    }

    fn install(&self, targets: &[PackageTarget], log: &Path) -> Outcome {
        let specs: Vec<String> = targets.iter().map(spec).collect();
        self.get(
            CHANGE_ARGS,
            &[&["install".to_owned()][..], &specs].concat(),
            log,
        )
    }

    fn restore(&self, files: &[PathBuf], remove: &[String], log: &Path) -> Outcome {
        if files.is_empty() && remove.is_empty() {
            return Outcome::success("every package is already at its recorded version");
        }
        let mut args = vec!["install".to_owned()];
        args.extend(files.iter().map(|f| f.display().to_string()));
        args.extend(remove.iter().map(|n| format!("{n}-")));
        let first = self.get(CHANGE_ARGS, &args, log);
        if first.ok || !first.log.contains("dpkg was interrupted") {
            return first;
        }
        let dpkg_args = self.dpkg_args(log);
        let mut cmd = Command::new("dpkg");
        cmd.args(&dpkg_args).args(["--configure", "-a"]);
        let (fix, hung) = run_logged_group(cmd, self.recovery, log);
        let mut logs = vec![first.log, fix.log];
        let mut said = String::new();
        if hung {
            // The killed run left its entries in dpkg's journal (`updates/`), and apt
            // refuses to start while it has any. Every dpkg run that opens the database
            // for writing merges them into the status file first; `--set-selections`
            // reading no input changes nothing else (stdin is closed).
            let mut merge = Command::new("dpkg");
            merge.args(&dpkg_args).arg("--set-selections");
            logs.push(run_logged(merge, self.recovery, log).log);
            said = format!(
                "dpkg --configure -a did not finish within {} s (the rollback's bound for \
                 it: a quarter of the package-manager timeout, 10 s to 5 min), a maintainer \
                 script hangs: it was killed (see above), dpkg's journal merged, and the \
                 install from the backup tried again",
                self.recovery.as_secs()
            );
            append_line(log, &said);
        }
        let again = self.get(CHANGE_ARGS, &args, log);
        logs.push(again.log);
        if !said.is_empty() {
            // Last, so that the step's excerpt (the log's end) keeps it.
            logs.push(said);
        }
        Outcome {
            ok: again.ok,
            log: logs.join("\n"),
        }
    }

    fn check_db(&self, names: &[String], log: &Path) -> Outcome {
        let dpkg_args = self.dpkg_args(log);
        let mut cmd = Command::new("dpkg");
        cmd.args(&dpkg_args).arg("--audit");
        let (audit, text) = run_capture(cmd, self.timeout, log);
        let clean = audit.ok && text.trim().is_empty();
        let mut query = Command::new("dpkg-query");
        query
            .args(dpkg_args.iter().filter(|a| a.starts_with("--admindir=")))
            .arg("-W")
            .arg("-f=${Package} ${Version} ${Architecture} ${db:Status-Abbrev}\\n")
            .args(names);
        let state = run_logged(query, self.timeout, log);
        let verdict = if clean {
            "dpkg --audit: the package database is consistent"
        } else {
            "dpkg --audit: the package database needs attention"
        };
        Outcome {
            ok: clean,
            log: format!("{}\n{}\n{verdict}", audit.log, state.log),
        }
    }

    fn unsettled(&self, log: &Path) -> Result<Vec<Unsettled>, String> {
        let dpkg_args = self.dpkg_args(log);
        let mut query = Command::new("dpkg-query");
        query
            .args(dpkg_args.iter().filter(|a| a.starts_with("--admindir=")))
            .arg("-W")
            .arg(UNSETTLED_FORMAT);
        let (out, text) = run_capture(query, self.timeout, log);
        if out.ok {
            Ok(unsettled_in(&text))
        } else {
            Err(format!("cannot list the packages' states: {}", out.log))
        }
    }
}

/// `dpkg-query -W` format for [`unsettled_in`].
const UNSETTLED_FORMAT: &str = "-f=${db:Status-Abbrev}\t${Package}\t${Architecture}\t${Version}\n";

/// The packages of a `dpkg-query -W` listing ([`UNSETTLED_FORMAT`]) that are neither
/// installed, absent nor left as configuration files, or that need reinstallation
/// (error flag `R`). Other lines (dpkg-query's warnings) are skipped.
pub fn unsettled_in(text: &str) -> Vec<Unsettled> {
    let mut found: Vec<Unsettled> = text
        .lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            let (abbrev, name, arch, version) = (f.next()?, f.next()?, f.next()?, f.next()?);
            let mut c = abbrev.chars();
            let (_want, state, error) = (c.next()?, c.next()?, c.next().unwrap_or(' '));
            let settled = matches!(state, 'i' | 'n' | 'c') && error == ' ';
            (!settled && f.next().is_none()).then(|| Unsettled {
                name: name.to_owned(),
                arch: arch.to_owned(),
                version: version.to_owned(),
                state: abbrev.trim_end().to_owned(),
            })
        })
        .collect();
    found.sort();
    found
}

/// Appends a line of the agent's own to a step's log file.
fn append_line(log: &Path, line: &str) {
    if let Err(e) = std::fs::OpenOptions::new()
        .append(true)
        .open(log)
        .and_then(|mut f| std::io::Write::write_all(&mut f, format!("{line}\n").as_bytes()))
    {
        crate::warn(&format!("{}: {e}", log.display()));
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
    use crate::deploy::testing::pkg;

    #[test]
    fn simulation_names_what_changes() {
        let text = "Reading package lists...\nInst pwt [1.0] (2.0 localhost [all])\n\
                    Inst libc6:amd64 [2.36-9] (2.36-9+deb12u4 Debian:12/stable [amd64])\n\
                    Remv old-thing [0.1]\nInst newdep (1.0 localhost [all])\n\
                    Conf pwt (2.0 localhost [all])\n";
        assert_eq!(
            simulated_names(text),
            ["libc6", "newdep", "old-thing", "pwt"]
        );
        assert_eq!(deb_file_name("a", "1:2.0", "all"), "a_1%3a2.0_all.deb");
    }

    #[test]
    fn half_done_packages_are_unsettled() {
        let text = "ii \tpwt\tall\t1.0-1\nrc \told\tamd64\t0.1\nun \tgone\t\t\n\
                    iF \tnewdep\tall\t1.0-1\niU \tapp\tall\t2.0-1\n\
                    iHR\tbroken\tamd64\t3\niiR\treinst\tall\t4\n\
                    iW \tman-db\tamd64\t2.11\n\
                    dpkg-query: warning: something odd\n";
        let found: Vec<String> = unsettled_in(text).iter().map(|u| u.to_string()).collect();
        assert_eq!(
            found,
            [
                "app:all 2.0-1 (iU)",
                "broken:amd64 3 (iHR)",
                "man-db:amd64 2.11 (iW)",
                "newdep:all 1.0-1 (iF)",
                "reinst:all 4 (iiR)",
            ]
        );
    }

    #[test]
    fn the_recovery_bound_is_a_share_of_the_timeout_within_limits() {
        let s = Duration::from_secs;
        assert_eq!(recovery_timeout(s(60)), s(15));
        assert_eq!(recovery_timeout(s(1800)), s(300));
        assert_eq!(recovery_timeout(s(20)), s(10));
        assert_eq!(recovery_timeout(s(4)), s(4));
    }

    #[test]
    fn dpkg_repack_is_told_the_architecture() {
        assert_eq!(repack_spec(&pkg("libc6", "2.36-9", "amd64")), "libc6:amd64");
        assert_eq!(repack_spec(&pkg("libc6", "2.36-9", "i386")), "libc6:i386");
        assert_eq!(repack_spec(&pkg("tzdata", "2024a-0", "all")), "tzdata");
        assert_eq!(repack_spec(&pkg("odd", "1", "")), "odd");
    }

    /// A `Multi-Arch: same` package `.deb` for `arch`, built with dpkg-deb in `dir`.
    fn multi_arch_deb(dir: &Path, arch: &str) -> PathBuf {
        let stage = dir.join(format!("stage-{arch}"));
        let lib = stage.join(format!("usr/lib/pwtest-ma-{arch}"));
        std::fs::create_dir_all(stage.join("DEBIAN")).unwrap();
        std::fs::create_dir_all(&lib).unwrap();
        std::fs::write(lib.join("lib.txt"), arch).unwrap();
        let control = format!(
            "Package: pwtest-ma\nVersion: 1:1.0-1\nArchitecture: {arch}\nMulti-Arch: same\n\
             Maintainer: Patchwarden tests <tests@example.invalid>\n\
             Description: Patchwarden test package pwtest-ma\n"
        );
        std::fs::write(stage.join("DEBIAN/control"), control).unwrap();
        let deb = dir.join(format!("pwtest-ma_{arch}.deb"));
        let out = Command::new("dpkg-deb")
            .args(["--root-owner-group", "--build"])
            .arg(&stage)
            .arg(&deb)
            .output();
        assert!(out.is_ok_and(|o| o.status.success()), "dpkg-deb --build");
        deb
    }

    /// One package installed for two architectures: each is repacked on its own.
    #[test]
    fn dpkg_repack_packs_the_one_architecture_asked_for() {
        use patchwarden_pmtest::{tools_and_root_present, tools_present};
        use patchwarden_pmtest::{AptRoot, APT_TOOLS, DPKG_REPACK_TOOLS};
        if !tools_and_root_present(APT_TOOLS).unwrap() || !tools_present(DPKG_REPACK_TOOLS).unwrap()
        {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = AptRoot::new(&dir.path().join("root")).unwrap();
        let native = Command::new("dpkg")
            .arg("--print-architecture")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap();
        let foreign = if native == "i386" { "amd64" } else { "i386" };
        let add = root.dpkg_any(&["--add-architecture", foreign]);
        assert!(add.is_ok_and(|o| o.status.success()), "--add-architecture");
        let debs: Vec<String> = [native.as_str(), foreign]
            .iter()
            .map(|a| multi_arch_deb(dir.path(), a).display().to_string())
            .collect();
        let installed = root.dpkg_any(&["-i", &debs[0], &debs[1]]).unwrap();
        assert!(installed.status.success(), "{installed:?}");
        let apt = Apt::new(Some(root.apt_conf()), root.path(), Duration::from_secs(60));
        let dest = dir.path().join("saved");
        std::fs::create_dir_all(&dest).unwrap();
        let log = dir.path().join("backup.log");
        for arch in [native.as_str(), foreign] {
            let p = pkg("pwtest-ma", "1:1.0-1", arch);
            let mut notes = String::new();
            let saved = apt.repack(&p, &dest, &log, &mut notes);
            let file = format!("pwtest-ma_1%3a1.0-1_{arch}.deb");
            assert_eq!(saved.map(|s| s.file), Some(file.clone()), "{notes}");
            let fields = Command::new("dpkg-deb")
                .arg("-f")
                .arg(dest.join(&file))
                .args(["Architecture", "Version"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap();
            assert_eq!(fields, format!("Architecture: {arch}\nVersion: 1:1.0-1\n"));
        }
    }
}
