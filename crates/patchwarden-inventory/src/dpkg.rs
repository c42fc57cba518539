//! dpkg: the `/var/lib/dpkg/status` database and `dpkg-query -W` output.

use crate::parsed::{numbered, unless_same, Collector, Parsed};
use patchwarden_domain::package::InstalledPackage;

/// The `dpkg-query -W -f` format that [`parse_dpkg_query`] reads best: package, version,
/// architecture, source name, source version and the status abbreviation (`ii `).
pub const DPKG_QUERY_FORMAT: &str =
    "${Package}\\t${Version}\\t${Architecture}\\t${source:Package}\\t${source:Version}\\t${db:Status-Abbrev}\\n";

/// dpkg package states whose files are on disk at the recorded version: `installed`,
/// and the two trigger states of a configured package.
const INSTALLED_STATES: &[&str] = &["installed", "triggers-pending", "triggers-awaited"];

/// Whether a `Status:` value (`want flag state`, e.g. `install ok installed`,
/// `hold ok installed`) describes an installed package. `None` if it is malformed.
pub fn status_is_installed(status: &str) -> Option<bool> {
    let words: Vec<&str> = status.split_whitespace().collect();
    match words.as_slice() {
        [_want, _flag, state] => Some(INSTALLED_STATES.contains(state)),
        _ => None,
    }
}

/// Splits a `Source:` value, `name` or `name (version)`.
pub fn split_source(value: &str) -> Option<(String, Option<String>)> {
    let value = value.trim();
    match value.split_once('(') {
        None if !value.is_empty() && !value.contains(char::is_whitespace) => {
            Some((value.to_owned(), None))
        }
        None => None,
        Some((name, rest)) => {
            let name = name.trim();
            let version = rest.strip_suffix(')')?.trim();
            if name.is_empty() || version.is_empty() || name.contains(char::is_whitespace) {
                return None;
            }
            Some((name.to_owned(), Some(version.to_owned())))
        }
    }
}

/// The fields of one stanza that matter here.
#[derive(Debug, Default)]
struct Stanza {
    start: usize,
    package: Option<String>,
    version: Option<String>,
    arch: Option<String>,
    status: Option<String>,
    source: Option<String>,
    problem: Option<String>,
}

impl Stanza {
    fn set(&mut self, key: &str, value: &str) {
        let slot = match key.to_ascii_lowercase().as_str() {
            "package" => &mut self.package,
            "version" => &mut self.version,
            "architecture" => &mut self.arch,
            "status" => &mut self.status,
            "source" => &mut self.source,
            _ => return,
        };
        if slot.is_some() {
            self.problem.get_or_insert(format!("duplicate {key} field"));
        } else {
            *slot = Some(value.to_owned());
        }
    }

    fn finish(self, out: &mut Collector) {
        let line = self.start;
        let name = self.package.clone().unwrap_or_else(|| "?".to_owned());
        if let Some(problem) = self.problem {
            out.warn(
                line,
                format!("stanza of package {name:.80} skipped: {problem}"),
            );
            return;
        }
        let Some(package) = self.package else {
            out.warn(line, "stanza without a Package field skipped");
            return;
        };
        let Some(status) = self.status else {
            out.warn(
                line,
                format!("package {package:.80} has no Status field; skipped"),
            );
            return;
        };
        match status_is_installed(&status) {
            Some(true) => {}
            Some(false) => return,
            None => {
                out.warn(
                    line,
                    format!("package {package:.80}: malformed Status {status:.80?}"),
                );
                return;
            }
        }
        let Some(version) = self.version else {
            out.warn(
                line,
                format!("installed package {package:.80} has no Version; skipped"),
            );
            return;
        };
        let (source_name, source_version) = match self.source.as_deref().map(split_source) {
            None => (None, None),
            Some(Some((name, version))) => (Some(name), version),
            Some(None) => {
                out.warn(
                    line,
                    format!("package {package:.80}: malformed Source field"),
                );
                return;
            }
        };
        out.package(
            line,
            InstalledPackage {
                source_name: unless_same(source_name, &package),
                source_version: unless_same(source_version, &version),
                name: package,
                version,
                arch: self.arch.unwrap_or_default(),
            },
        );
    }
}

/// Parses a dpkg status file: RFC 822-style stanzas separated by blank lines, with
/// continuation lines starting with a space or tab. Only installed packages are
/// returned (see [`status_is_installed`]); half-installed, config-files and
/// not-installed packages are left out silently.
pub fn parse_status(text: &str) -> Parsed {
    let mut out = Collector::default();
    let mut stanza: Option<Stanza> = None;
    for (n, line) in numbered(text) {
        if line.trim().is_empty() {
            if let Some(s) = stanza.take() {
                s.finish(&mut out);
            }
            continue;
        }
        if out.too_long(n, line) {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if stanza.is_none() {
                out.warn(n, "continuation line outside a stanza ignored");
            }
            continue;
        }
        let current = stanza.get_or_insert_with(|| Stanza {
            start: n,
            ..Stanza::default()
        });
        match line.split_once(':') {
            Some((key, value)) if !key.is_empty() && !key.contains(char::is_whitespace) => {
                current.set(key, value.trim());
            }
            _ => out.warn(n, format!("not a `Field: value` line: {line:.80?}")),
        }
    }
    if let Some(s) = stanza {
        s.finish(&mut out);
    }
    out.finish()
}

/// Parses `dpkg-query -W` output with tab-separated columns: package, version,
/// architecture, then optionally source name, source version and `db:Status-Abbrev`
/// (see [`DPKG_QUERY_FORMAT`]). With a status column, only packages whose state letter
/// (second character) is `i`, `t` or `W` are returned; without it every line counts.
/// Empty lines are ignored.
pub fn parse_dpkg_query(text: &str) -> Parsed {
    let mut out = Collector::default();
    for (n, line) in numbered(text) {
        if line.trim().is_empty() || out.too_long(n, line) {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').map(str::trim).collect();
        if !(3..=6).contains(&cols.len()) {
            out.warn(
                n,
                format!("expected 3 to 6 tab-separated columns, got {}", cols.len()),
            );
            continue;
        }
        if let Some(abbrev) = cols.get(5) {
            match abbrev.chars().nth(1) {
                Some('i' | 't' | 'W') => {}
                Some(_) => continue,
                None => {
                    out.warn(n, format!("malformed status abbreviation {abbrev:.20?}"));
                    continue;
                }
            }
        }
        let nonempty = |i: usize| cols.get(i).filter(|s| !s.is_empty()).map(|s| s.to_string());
        let (name, version) = (cols[0].to_owned(), cols[1].to_owned());
        out.package(
            n,
            InstalledPackage {
                source_name: unless_same(nonempty(3), &name),
                source_version: unless_same(nonempty(4), &version),
                arch: cols[2].to_owned(),
                name,
                version,
            },
        );
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_states() {
        assert_eq!(status_is_installed("install ok installed"), Some(true));
        assert_eq!(status_is_installed("hold ok installed"), Some(true));
        assert_eq!(
            status_is_installed("install ok triggers-pending"),
            Some(true)
        );
        assert_eq!(
            status_is_installed("install reinstreq half-installed"),
            Some(false)
        );
        assert_eq!(
            status_is_installed("deinstall ok config-files"),
            Some(false)
        );
        assert_eq!(status_is_installed("unknown ok not-installed"), Some(false));
        assert_eq!(status_is_installed("installed"), None);
    }

    #[test]
    fn source_field() {
        assert_eq!(split_source("acl"), Some(("acl".into(), None)));
        assert_eq!(
            split_source("util-linux (2.38.1-5)"),
            Some(("util-linux".into(), Some("2.38.1-5".into())))
        );
        assert_eq!(split_source("a b"), None);
        assert_eq!(split_source("x (1.0"), None);
        assert_eq!(split_source("(1.0)"), None);
    }

    #[test]
    fn stanzas_states_and_malformed_input() {
        let text = "Package: a\nStatus: install ok installed\nVersion: 1.0-1\nArchitecture: amd64\n\
                    Description: x\n long\n .\n\n\
                    Package: b\nStatus: deinstall ok config-files\nVersion: 2\n\n\n\
                    Package: c\nStatus: hold ok installed\nVersion: 3\nArchitecture: all\n\
                    Source: csrc (2)\n\n\
                    Package: d\nStatus: install ok installed\n\n\
                    garbage line\nPackage: e\nPackage: e\nStatus: install ok installed\nVersion: 1\n\n\
                    Package: f\r\nstatus: install ok half-installed\r\nVersion: 1\r\n";
        let p = parse_status(text);
        let names: Vec<&str> = p.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        assert_eq!(p.packages[1].source_name.as_deref(), Some("csrc"));
        assert_eq!(p.packages[1].source_version.as_deref(), Some("2"));
        assert_eq!(p.packages[1].version, "3");
        let lines: Vec<usize> = p.warnings.iter().map(|w| w.line).collect();
        assert_eq!(lines, [20, 23, 23], "{:#?}", p.warnings);
        assert!(
            p.warnings[0].reason.contains("no Version"),
            "{:?}",
            p.warnings
        );
        assert!(
            p.warnings[2].reason.contains("duplicate"),
            "{:?}",
            p.warnings
        );
    }

    #[test]
    fn query_tsv() {
        let text = "libc6\t2.36-9\tamd64\tglibc\t2.36-9\tii \n\
                    old\t1\tamd64\told\t1\trc \nplain\t1\tall\n\nbad line\n";
        let p = parse_dpkg_query(text);
        assert_eq!(p.packages.len(), 2);
        assert_eq!(p.packages[0].source_name.as_deref(), Some("glibc"));
        assert_eq!(p.packages[0].source_version, None);
        assert_eq!(p.warnings.len(), 1);
        assert_eq!(p.warnings[0].line, 5);
    }
}
