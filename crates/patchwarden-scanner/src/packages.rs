//! The package list of Nessus plugin 22869 ("Software Enumeration (SSH)").
//!
//! rpm hosts list `name-version-release|epoch` (epoch `(none)` or a number), dpkg hosts
//! list `dpkg -l` lines (`ii  name  version  arch  description`). Lists without versions
//! (macOS application names) give no package inventory.

use crate::localcheck::split_rpm_nevra;
use patchwarden_domain::package::InstalledPackage;

/// Nessus plugin id of the SSH software enumeration.
pub const SOFTWARE_ENUMERATION_PLUGIN: &str = "22869";

/// Packages read from the plugin output, and lines that looked like packages but were bad.
pub(crate) fn parse(output: &str) -> (Option<Vec<InstalledPackage>>, Vec<String>) {
    let mut packages = Vec::new();
    let mut problems = Vec::new();
    for line in output.lines() {
        let line = line.trim();
        let parsed = if let Some((nvr, epoch)) = line.split_once('|') {
            rpm_line(nvr, epoch.split('|').next().unwrap_or(""))
        } else if let Some(rest) = line.strip_prefix("ii ") {
            dpkg_line(rest)
        } else {
            continue;
        };
        match parsed {
            Some(p) if p.name == "gpg-pubkey" => {}
            Some(p) => match p.validate() {
                Ok(()) => packages.push(p),
                Err(e) => {
                    problems.push(format!("package line {:?}: {e}", crate::text::short(line)))
                }
            },
            None => problems.push(format!(
                "cannot read package line {:?}",
                crate::text::short(line)
            )),
        }
    }
    ((!packages.is_empty()).then_some(packages), problems)
}

fn rpm_line(nvr: &str, epoch: &str) -> Option<InstalledPackage> {
    let (name, vr) = split_rpm_nevra(nvr)?;
    let epoch = epoch.trim();
    let version = match epoch {
        "" | "(none)" => vr,
        e if e.bytes().all(|b| b.is_ascii_digit()) && !vr.contains(':') => format!("{e}:{vr}"),
        _ => return None,
    };
    Some(InstalledPackage {
        name,
        version,
        arch: String::new(),
        source_name: None,
        source_version: None,
    })
}

fn dpkg_line(rest: &str) -> Option<InstalledPackage> {
    let mut cols = rest.split_whitespace();
    let name = cols.next()?;
    let version = cols.next()?;
    let arch = cols.next().unwrap_or("");
    let (name, arch) = match name.split_once(':') {
        Some((n, a)) => (n, if arch.is_empty() { a } else { arch }),
        None => (name, arch),
    };
    Some(InstalledPackage {
        name: name.to_string(),
        version: version.to_string(),
        arch: arch.to_string(),
        source_name: None,
        source_version: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpm_and_dpkg_lists() {
        let rpm = "\nHere is the list of packages installed on the remote CentOS Linux system : \n\n  \
                   MAKEDEV-3.24-6.el6|(none)\n  dhclient-4.1.1-31.P1.el6|12\n  gpg-pubkey-c105b9de-4e0fd3a3|(none)\n";
        let (pkgs, problems) = parse(rpm);
        assert!(problems.is_empty());
        let pkgs = pkgs.unwrap_or_default();
        let got: Vec<_> = pkgs
            .iter()
            .map(|p| format!("{} {}", p.name, p.version))
            .collect();
        assert_eq!(got, ["MAKEDEV 3.24-6.el6", "dhclient 12:4.1.1-31.P1.el6"]);

        let deb =
            "Here is the list of packages installed on the remote Debian Linux system :\n\n  \
                   ii  adduser       3.113+nmu3     all   add and remove users and groups\n  \
                   ii  libc6:amd64   2.36-9+deb12u4 amd64 GNU C Library\n";
        let pkgs = parse(deb).0.unwrap_or_default();
        let got: Vec<_> = pkgs
            .iter()
            .map(|p| format!("{} {} {}", p.name, p.version, p.arch))
            .collect();
        assert_eq!(
            got,
            ["adduser 3.113+nmu3 all", "libc6 2.36-9+deb12u4 amd64"]
        );

        let mac = "Here is the list of packages installed on the remote Mac OS X system : \n\n  iTunes\n  BSD.pkg\n";
        assert_eq!(parse(mac), (None, vec![]));
        let (pkgs, problems) = parse("  broken|(none)\n  ok-1-1|x\n");
        assert_eq!((pkgs, problems.len()), (None, 2));
    }
}
