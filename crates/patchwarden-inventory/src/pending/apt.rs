//! `apt-get -s dist-upgrade` / `apt-get -s upgrade` simulation output.
//!
//! The lines read are `Inst` lines, in any of these shapes (apt 1.x–2.x):
//!
//! ```text
//! Inst libssl3 [3.0.11-1~deb12u1] (3.0.11-1~deb12u2 Debian-Security:12/stable-security [amd64])
//! Inst libgcrypt20 [1.10.1-3] (1.10.1-3+deb12u1 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64]) []
//! Inst libext2fs2 [1.47.0-2] (1.47.0-2+b2 Debian:12.15/oldstable [amd64]) [e2fsprogs:amd64 on libext2fs2:amd64] [e2fsprogs:amd64 ]
//! Inst newpkg (1.0 Debian:bookworm [all])
//! Inst libc6:i386 [2.36-9] (2.36-9+deb12u4 Debian:12.5/stable [i386])
//! ```
//!
//! Every origin is `Label:Version/Suite`, or `Label:Suite` when the archive's Release has
//! no `Version`. `Conf`, `Remv` and other lines are ignored.

use super::{excerpt, plausible_token, Pending, PendingUpdate, Warnings};
use crate::parsed::numbered;

/// Whether an apt origin (`Label:Version/Suite`, `Label:Suite` or a bare suite) is a
/// security archive: the suite ends with `-security` (Debian ≥ 11, Ubuntu, Ubuntu ESM
/// `jammy-apps-security`), or the label is `Debian-Security` or otherwise ends with
/// `-Security` (Debian ≤ 10 used the suite `buster/updates`).
pub fn is_security_origin(origin: &str) -> bool {
    let origin = origin.trim();
    let (label, rest) = origin.split_once(':').unwrap_or(("", origin));
    let suite = rest.rsplit_once('/').map_or(rest, |(_, s)| s);
    let ends_ci = |s: &str, suffix: &str| {
        s.len() >= suffix.len()
            && s.is_char_boundary(s.len() - suffix.len())
            && s[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    ends_ci(suite, "-security") || ends_ci(label, "-security")
}

/// Parses the simulation output. Only lines starting with `Inst ` are interpreted.
pub fn parse_apt_simulation(text: &str) -> Pending {
    let mut warnings = Warnings::default();
    let mut updates = Vec::new();
    for (n, line) in numbered(text) {
        let Some(rest) = line.strip_prefix("Inst") else {
            continue;
        };
        if !(rest.is_empty() || rest.starts_with(' ')) || warnings.too_long(n, line) {
            continue;
        }
        match parse_inst(rest.trim()) {
            Ok(u) => updates.push(u),
            Err(reason) => warnings.warn(n, format!("{reason}: {}", excerpt(line))),
        }
    }
    Pending {
        updates,
        warnings: warnings.finish(),
    }
}

fn parse_inst(rest: &str) -> Result<PendingUpdate, &'static str> {
    let (name_token, after) = rest
        .split_once(' ')
        .ok_or("Inst line without a candidate version")?;
    let mut after = after.trim_start();
    let installed = if let Some(inner) = after.strip_prefix('[') {
        let (old, tail) = inner
            .split_once(']')
            .ok_or("unclosed [ around the installed version")?;
        after = tail.trim_start();
        Some(old.trim().to_owned())
    } else {
        None
    };
    let inner = after
        .strip_prefix('(')
        .and_then(|s| s.split_once(')'))
        .map(|(inner, _trailer)| inner.trim())
        .ok_or("no (candidate origin [arch]) group")?;
    let (candidate, described) = inner.split_once(' ').unwrap_or((inner, ""));
    let described = described.trim();
    let (origins_text, arch) = match described.strip_suffix(']').and_then(|s| s.rsplit_once('[')) {
        Some((origins, arch)) => (origins.trim(), arch.trim()),
        None => (described, ""),
    };
    let (name, name_arch) = match name_token.split_once(':') {
        Some((n, a)) => (n, a),
        None => (name_token, ""),
    };
    let arch = if arch.is_empty() { name_arch } else { arch };
    if !plausible_token(name) || !plausible_token(candidate) {
        return Err("implausible package name or candidate version");
    }
    if installed.as_deref().is_some_and(|v| !plausible_token(v)) {
        return Err("implausible installed version");
    }
    if !arch.is_empty() && !plausible_token(arch) {
        return Err("implausible architecture");
    }
    let origins: Vec<String> = origins_text
        .split(", ")
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(str::to_owned)
        .collect();
    let security = origins.iter().any(|o| is_security_origin(o));
    Ok(PendingUpdate {
        name: name.to_owned(),
        arch: arch.to_owned(),
        installed,
        candidate: candidate.to_owned(),
        origins,
        security,
        advisories: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_origins() {
        for o in [
            "Debian-Security:12/stable-security",
            "Debian-Security:bookworm-security",
            "Debian-Security:10/oldoldstable",
            "Ubuntu:22.04/jammy-security",
            "UbuntuESMApps:22.04/jammy-apps-security",
            "bookworm-security",
        ] {
            assert!(is_security_origin(o), "{o}");
        }
        for o in [
            "Debian:12.5/stable",
            "Debian:bookworm",
            "Ubuntu:22.04/jammy-updates",
            "Debian Backports:bookworm-backports",
            "",
            "security",
        ] {
            assert!(!is_security_origin(o), "{o}");
        }
    }
}
