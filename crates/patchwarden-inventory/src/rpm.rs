//! rpm: `rpm -qa` output in three shapes.
//!
//! - [`parse_rpm_query`]: our own [`RPM_QUERY_FORMAT`], the only shape that carries
//!   epoch, architecture and source rpm reliably. The agent uses it.
//! - [`parse_rpm_nvra`]: plain `rpm -qa` lines (`openssl-libs-3.0.7-27.el9.x86_64`),
//!   and Nessus plugin 22869 lines (`dhclient-4.1.1-31.P1.el6|12`, epoch after `|`).
//!   Plain `rpm -qa` does not print epochs, so versions read this way may lack one.
//! - [`parse_rpm_evr_tsv`]: `NAME\tEVR[\tSIZE]` lines, optionally preceded by a
//!   modularity label column, as produced by scanners' query formats.
//!
//! Versions are written `epoch:version-release`, the epoch only when it is non-zero.
//! `gpg-pubkey` entries (imported signing keys, not software) are skipped silently.

use crate::parsed::{numbered, unless_same, Collector, Parsed};
use patchwarden_domain::package::InstalledPackage;

/// The query format the agent passes to `rpm -qa --queryformat` (rpm itself expands the
/// `\t` and `\n` escapes): name, epoch (`(none)` if unset), version, release,
/// architecture, source rpm file name.
pub const RPM_QUERY_FORMAT: &str =
    "%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\n";

/// Architectures recognised as the last dot-separated part of an NVRA.
pub const KNOWN_ARCHES: &[&str] = &[
    "x86_64",
    "x86_64_v2",
    "x86_64_v3",
    "x86_64_v4",
    "i386",
    "i486",
    "i586",
    "i686",
    "athlon",
    "geode",
    "noarch",
    "aarch64",
    "ppc",
    "ppc64",
    "ppc64le",
    "ppc64p7",
    "ppc64iseries",
    "ppc64pseries",
    "s390",
    "s390x",
    "armv5tel",
    "armv6l",
    "armv6hl",
    "armv7l",
    "armv7hl",
    "armv7hnl",
    "armhfp",
    "ia64",
    "sparc",
    "sparcv9",
    "sparc64",
    "alpha",
    "mips",
    "mipsel",
    "mips64",
    "mips64el",
    "riscv64",
    "loongarch64",
    "src",
    "nosrc",
];

/// Name of the pseudo-packages holding imported signing keys.
const GPG_PUBKEY: &str = "gpg-pubkey";

/// Joins an EVR the way rpm prints it: no epoch when it is absent or zero.
/// Returns `None` when the epoch is not a number.
pub fn evr(epoch: &str, version: &str, release: &str) -> Option<String> {
    let epoch = epoch.trim();
    let vr = format!("{version}-{release}");
    if epoch.is_empty() || epoch == "(none)" {
        return Some(vr);
    }
    if !epoch.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match epoch.trim_start_matches('0') {
        "" => Some(vr),
        e => Some(format!("{e}:{vr}")),
    }
}

/// Splits `name-version-release` at its last two dashes.
pub fn split_nvr(nvr: &str) -> Option<(&str, &str, &str)> {
    let (nv, release) = nvr.rsplit_once('-')?;
    let (name, version) = nv.rsplit_once('-')?;
    if name.is_empty() || version.is_empty() || release.is_empty() {
        return None;
    }
    Some((name, version, release))
}

/// Splits `name-version-release.arch`; the arch is recognised only from
/// [`KNOWN_ARCHES`], so an NVR without arch is returned with an empty arch.
pub fn split_nvra(nvra: &str) -> Option<(&str, &str, &str, &str)> {
    let (nvr, arch) = match nvra.rsplit_once('.') {
        Some((nvr, arch)) if KNOWN_ARCHES.contains(&arch) => (nvr, arch),
        _ => (nvra, ""),
    };
    let (n, v, r) = split_nvr(nvr)?;
    Some((n, v, r, arch))
}

/// Source package name and `version-release` from a source rpm file name
/// (`openssl-3.0.7-27.el9.src.rpm`).
pub fn split_source_rpm(srpm: &str) -> Option<(&str, String)> {
    let stem = srpm.strip_suffix(".rpm")?;
    let stem = stem
        .strip_suffix(".src")
        .or_else(|| stem.strip_suffix(".nosrc"))?;
    let (n, v, r) = split_nvr(stem)?;
    Some((n, format!("{v}-{r}")))
}

fn arch_field(arch: &str) -> String {
    if arch == "(none)" {
        String::new()
    } else {
        arch.to_owned()
    }
}

/// Parses output of `rpm -qa --queryformat` with [`RPM_QUERY_FORMAT`].
pub fn parse_rpm_query(text: &str) -> Parsed {
    let mut out = Collector::default();
    for (n, line) in numbered(text) {
        if line.trim().is_empty() || out.too_long(n, line) {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').map(str::trim).collect();
        let [name, epoch, version, release, arch, srpm] = cols.as_slice() else {
            out.warn(
                n,
                format!("expected 6 tab-separated columns, got {}", cols.len()),
            );
            continue;
        };
        if *name == GPG_PUBKEY {
            continue;
        }
        let Some(full) = evr(epoch, version, release) else {
            out.warn(
                n,
                format!("package {name:.80}: epoch {epoch:.20?} is not a number"),
            );
            continue;
        };
        let (source_name, source_version) = match *srpm {
            "(none)" | "" => (None, None),
            s => match split_source_rpm(s) {
                Some((sn, svr)) => {
                    // SRPM file names carry no epoch; the source has the binary's.
                    let binary_vr = format!("{version}-{release}");
                    let epoch_prefix = full.strip_suffix(binary_vr.as_str()).unwrap_or("");
                    let sv = (svr != binary_vr).then(|| format!("{epoch_prefix}{svr}"));
                    (Some(sn.to_owned()), sv)
                }
                None => {
                    out.warn(
                        n,
                        format!("package {name:.80}: malformed source rpm {s:.80?}"),
                    );
                    continue;
                }
            },
        };
        out.package(
            n,
            InstalledPackage {
                source_name: unless_same(source_name, name),
                source_version,
                name: (*name).to_owned(),
                version: full,
                arch: arch_field(arch),
            },
        );
    }
    out.finish()
}

/// Parses plain `rpm -qa` output (one NVRA a line) and the Nessus `NVR|epoch` variant.
/// Blank lines and lines starting with `#` are ignored.
pub fn parse_rpm_nvra(text: &str) -> Parsed {
    let mut out = Collector::default();
    for (n, line) in numbered(text) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || out.too_long(n, line) {
            continue;
        }
        let (nvra, epoch) = line.split_once('|').unwrap_or((line, ""));
        let Some((name, version, release, arch)) = split_nvra(nvra.trim()) else {
            out.warn(n, format!("not a name-version-release[.arch]: {line:.80?}"));
            continue;
        };
        if name == GPG_PUBKEY {
            continue;
        }
        let Some(full) = evr(epoch, version, release) else {
            out.warn(
                n,
                format!("package {name:.80}: epoch {epoch:.20?} is not a number"),
            );
            continue;
        };
        out.package(
            n,
            InstalledPackage {
                name: name.to_owned(),
                version: full,
                arch: arch.to_owned(),
                source_name: None,
                source_version: None,
            },
        );
    }
    out.finish()
}

/// Parses `NAME\tEVR` lines with an optional third SIZE column, or
/// `MODULARITYLABEL\tNAME\tEVR\tSIZE` lines (four columns). The EVR may start with
/// `epoch:`; a zero or `(none)` epoch is dropped. Architecture is not known (empty).
pub fn parse_rpm_evr_tsv(text: &str) -> Parsed {
    let mut out = Collector::default();
    for (n, line) in numbered(text) {
        if line.trim().is_empty() || out.too_long(n, line) {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').map(str::trim).collect();
        let (name, full) = match cols.as_slice() {
            [name, evr] | [name, evr, _] | [_, name, evr, _] => (*name, *evr),
            _ => {
                out.warn(
                    n,
                    format!("expected 2 to 4 tab-separated columns, got {}", cols.len()),
                );
                continue;
            }
        };
        if name == GPG_PUBKEY {
            continue;
        }
        let (epoch, vr) = full.split_once(':').unwrap_or(("", full));
        let version = vr
            .rsplit_once('-')
            .and_then(|(v, r)| evr(epoch, v, r).filter(|_| !v.is_empty() && !r.is_empty()));
        let Some(version) = version else {
            out.warn(
                n,
                format!("package {name:.80}: not an [epoch:]version-release: {full:.80?}"),
            );
            continue;
        };
        out.package(
            n,
            InstalledPackage {
                name: name.to_owned(),
                version,
                arch: String::new(),
                source_name: None,
                source_version: None,
            },
        );
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvra_splitting() {
        assert_eq!(
            split_nvra("openssl-libs-3.0.7-27.el9.x86_64"),
            Some(("openssl-libs", "3.0.7", "27.el9", "x86_64"))
        );
        assert_eq!(
            split_nvra("pygpgme-0.1-18.20090824bzr68.el6"),
            Some(("pygpgme", "0.1", "18.20090824bzr68.el6", ""))
        );
        assert_eq!(split_nvra("noversion.x86_64"), None);
        assert_eq!(split_nvra("a-1"), None);
        assert_eq!(split_nvra("-1-2"), None);
    }

    #[test]
    fn epochs() {
        assert_eq!(evr("(none)", "1.0", "1").as_deref(), Some("1.0-1"));
        assert_eq!(evr("0", "1.0", "1").as_deref(), Some("1.0-1"));
        assert_eq!(
            evr("12", "4.1.1", "31.P1.el6").as_deref(),
            Some("12:4.1.1-31.P1.el6")
        );
        assert_eq!(evr("x", "1", "1"), None);
    }

    #[test]
    fn query_format_lines() {
        let text = "openssl-libs\t1\t3.0.7\t27.el9\tx86_64\topenssl-3.0.7-27.el9.src.rpm\n\
                    bash\t(none)\t5.1.8\t6.el9\tx86_64\tbash-5.1.8-6.el9.src.rpm\n\
                    gpg-pubkey\t(none)\tfd431d51\t4ae0493b\t(none)\t(none)\n\
                    broken\tx\t1\t1\tnoarch\t(none)\nshort\t1\n\
                    odd\t0\t1\t1\tnoarch\tnot-an-srpm\n";
        let p = parse_rpm_query(text);
        assert_eq!(p.packages.len(), 2, "{:?}", p.warnings);
        let ssl = &p.packages[0];
        assert_eq!(ssl.version, "1:3.0.7-27.el9");
        assert_eq!(ssl.source_name.as_deref(), Some("openssl"));
        assert_eq!(ssl.source_version, None);
        assert_eq!(p.packages[1].source_name, None);
        let lines: Vec<usize> = p.warnings.iter().map(|w| w.line).collect();
        assert_eq!(lines, [4, 5, 6]);
    }

    #[test]
    fn nessus_and_plain_lines() {
        let text = "# header\nkernel-2.6.32-279.el6.x86_64\ndhclient-4.1.1-31.P1.el6|12\n\
                    gpg-pubkey-c105b9de-4e0fd3a3|(none)\nnonsense\n";
        let p = parse_rpm_nvra(text);
        assert_eq!(p.packages.len(), 2);
        assert_eq!(p.packages[0].arch, "x86_64");
        assert_eq!(p.packages[1].version, "12:4.1.1-31.P1.el6");
        assert_eq!(p.warnings.len(), 1);
        assert_eq!(p.warnings[0].line, 5);
    }
}
