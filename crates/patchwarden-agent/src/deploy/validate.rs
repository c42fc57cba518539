//! Names and versions from a job become package-manager arguments only after these
//! checks: the characters dpkg and rpm allow in them, nothing starting with `-` (no
//! option injection), no globs or spaces, bounded length.

use patchwarden_wire::job::PackageTarget;

const MAX_LEN: usize = 200;

fn plain(s: &str, extra: &[char]) -> bool {
    !s.is_empty()
        && s.len() <= MAX_LEN
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
}

/// A package name: dpkg allows `[a-z0-9][a-z0-9+.-]+`, rpm also `_` and capitals.
pub fn name_ok(name: &str) -> bool {
    plain(name, &['+', '.', '-', '_'])
}

/// A version: `[epoch:]upstream[-revision]` with dpkg's `~` and rpm's `^`.
pub fn version_ok(version: &str) -> bool {
    plain(version, &['.', '+', '~', '^', '-', ':', '_'])
}

/// An architecture (`amd64`, `x86_64`, `noarch`, `all`).
pub fn arch_ok(arch: &str) -> bool {
    plain(arch, &['_'])
}

/// A deployment id used as a directory name in the state directory.
pub fn deployment_ok(id: &str) -> bool {
    plain(id, &['-', '_', '.', ':']) && !id.contains("..")
}

/// Every target checked; the first refusal explained.
pub fn targets(targets: &[PackageTarget]) -> Result<(), String> {
    if targets.is_empty() {
        return Err("install names no packages".into());
    }
    for t in targets {
        if !name_ok(&t.name) {
            return Err(format!("package name {:?} is not acceptable", t.name));
        }
        if !version_ok(&t.version) {
            return Err(format!(
                "version {:?} of {} is not acceptable",
                t.version, t.name
            ));
        }
        if let Some(a) = &t.arch {
            if !arch_ok(a) {
                return Err(format!(
                    "architecture {a:?} of {} is not acceptable",
                    t.name
                ));
            }
        }
    }
    let mut names: Vec<(&str, Option<&str>)> = targets
        .iter()
        .map(|t| (t.name.as_str(), t.arch.as_deref()))
        .collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err("a package is named twice".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, version: &str, arch: Option<&str>) -> PackageTarget {
        PackageTarget {
            name: name.into(),
            version: version.into(),
            arch: arch.map(Into::into),
        }
    }

    #[test]
    fn real_names_and_versions_pass() {
        for (n, v) in [
            ("libssl3", "3.0.11-1~deb12u2"),
            ("g++-12", "12.2.0-14"),
            ("openssl-libs", "1:3.0.7-27.el9"),
            ("perl-Text_Tabs", "2013.0523-460.el9"),
            ("python3.11", "3.11.2-6+deb12u1"),
            ("kernel", "5.14.0-427.13.1.el9_4"),
            ("vim", "2:9.0^20230101-1"),
        ] {
            assert!(targets(&[t(n, v, None)]).is_ok(), "{n} {v}");
        }
        assert!(targets(&[t("libc6", "2.36-9", Some("amd64"))]).is_ok());
    }

    #[test]
    fn injection_and_globs_are_refused() {
        for (n, v, a) in [
            ("-oDPkg::Pre-Invoke=x", "1", None),
            ("pkg", "--force-all", None),
            ("pkg*", "1", None),
            ("pkg", "1 2", None),
            ("pkg;rm", "1", None),
            ("pkg", "1\n", None),
            ("", "1", None),
            ("pkg", "", None),
            ("pkg", "1", Some("-x")),
            ("pkg", "1", Some("amd64 ")),
            ("pkg/../x", "1", None),
            ("pkg", "[1]", None),
        ] {
            assert!(targets(&[t(n, v, a)]).is_err(), "{n:?} {v:?} {a:?}");
        }
        assert!(targets(&[]).is_err());
        assert!(targets(&[t("a1", "1", None), t("a1", "2", None)]).is_err());
        let long = "a".repeat(MAX_LEN + 1);
        assert!(!name_ok(&long));
        assert!(deployment_ok("dep-9") && !deployment_ok("../x") && !deployment_ok("a..b"));
        assert!(!deployment_ok(".hidden") && !deployment_ok("a/b"));
    }
}
