//! Builds the `patchwarden-agent` packages from an already-built binary, with the
//! distributions' own tools only: `dpkg-deb --build --root-owner-group` for the `.deb`
//! and `rpmbuild -bb` on a generated spec for the `.rpm` (the binary is copied in;
//! nothing is compiled inside rpmbuild). The packaged files — systemd unit, maintainer
//! scripts, rpm Lua scriptlets — live in `packaging/agent/` and are embedded here at
//! compile time; the default configuration is the agent's own commented default
//! (`crates/patchwarden-agent/patchwarden-agent.example.toml`, what
//! `patchwarden-agent config default` prints).
//!
//! ```text
//! target/release/patchwarden-agent ─► stage (layout.rs) ─► dpkg-deb ─► patchwarden-agent_<v>_<arch>.deb
//!                                                        └► rpmbuild ─► patchwarden-agent-<v>-1.<arch>.rpm
//! ```

#![forbid(unsafe_code)]

mod deb;
mod error;
mod layout;
mod rpm;
mod tools;

pub use deb::{build_deb, shlib_depends};
pub use error::{PackError, Result};
pub use layout::{
    Content, Entry, CONFFILE, DEFAULT_CONFIG, FILES, POSTINST, POSTRM, PRERM, RPM_POST, RPM_POSTUN,
    RPM_PREUN, STATE_DIR, UNIT,
};
pub use rpm::{build_rpm, spec_file};
pub use tools::find_in_path;

use std::path::PathBuf;

/// The package name, for both formats.
pub const PACKAGE: &str = "patchwarden-agent";

/// A CPU architecture as Debian and rpm name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arch {
    /// dpkg's name (`amd64`).
    pub deb: &'static str,
    /// rpm's name (`x86_64`).
    pub rpm: &'static str,
}

/// The architectures the builder knows: (deb, rpm).
const ARCHES: &[Arch] = &[
    Arch {
        deb: "amd64",
        rpm: "x86_64",
    },
    Arch {
        deb: "arm64",
        rpm: "aarch64",
    },
    Arch {
        deb: "armhf",
        rpm: "armv7hl",
    },
    Arch {
        deb: "i386",
        rpm: "i686",
    },
    Arch {
        deb: "ppc64el",
        rpm: "ppc64le",
    },
    Arch {
        deb: "riscv64",
        rpm: "riscv64",
    },
    Arch {
        deb: "s390x",
        rpm: "s390x",
    },
];

impl Arch {
    /// Looks up an architecture by its deb or rpm name (or Rust's, `x86_64`).
    pub fn parse(name: &str) -> Result<Self> {
        ARCHES
            .iter()
            .find(|a| a.deb == name || a.rpm == name)
            .copied()
            .ok_or_else(|| {
                let known: Vec<_> = ARCHES.iter().map(|a| a.deb).collect();
                PackError::invalid(
                    "architecture",
                    format!("{name:?}; known: {}", known.join(", ")),
                )
            })
    }

    /// The architecture this program was compiled for.
    pub fn host() -> Result<Self> {
        match std::env::consts::ARCH {
            "x86" => Self::parse("i386"),
            "arm" => Self::parse("armhf"),
            "powerpc64" => Self::parse("ppc64el"),
            other => Self::parse(other),
        }
    }
}

/// Payload compression of both packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// xz, what both distributions use for their own packages (the default).
    Xz,
    /// gzip level 1: fast, for tests.
    Fast,
}

/// What to package.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The `patchwarden-agent` executable to package (release or debug build).
    pub binary: PathBuf,
    /// Upstream version (`0.1.0`); a `-` (pre-release) becomes `~`, which sorts before
    /// the release in both dpkg and rpm.
    pub version: String,
    /// Target architecture.
    pub arch: Arch,
    /// `Maintainer:` of the `.deb` and `Packager:` of the `.rpm`.
    pub maintainer: String,
    /// The `.deb`'s `Depends:`; `None` computes it with `dpkg-shlibdeps`.
    pub depends: Option<String>,
    /// Strip the binary's symbols (with `strip`, from binutils) before packaging.
    pub strip: bool,
    /// Payload compression.
    pub compression: Compression,
}

impl Inputs {
    /// Defaults for `binary`: version of this workspace, host architecture, stripped,
    /// xz, `Depends` from `dpkg-shlibdeps`.
    pub fn new(binary: impl Into<PathBuf>) -> Result<Self> {
        Ok(Self {
            binary: binary.into(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            arch: Arch::host()?,
            maintainer: "Patchwarden maintainers <patchwarden@example.invalid>".to_owned(),
            depends: None,
            strip: true,
            compression: Compression::Xz,
        })
    }

    /// The version as both package formats write it (`-` → `~`), checked to contain
    /// only characters both allow.
    pub fn package_version(&self) -> Result<String> {
        let v = self.version.replace('-', "~");
        let ok = v.chars().next().is_some_and(|c| c.is_ascii_digit())
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~'));
        if ok {
            Ok(v)
        } else {
            Err(PackError::invalid(
                "version",
                format!(
                    "{:?}: digits first, then letters, digits, . + ~ -",
                    self.version
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_use_tilde_for_pre_releases_and_refuse_odd_characters() {
        let mut inputs = Inputs::new("/bin/true").unwrap();
        assert_eq!(inputs.package_version().unwrap(), env!("CARGO_PKG_VERSION"));
        inputs.version = "1.2.0-rc.1".to_owned();
        assert_eq!(inputs.package_version().unwrap(), "1.2.0~rc.1");
        for bad in [
            "",
            "v1.0",
            "1.0 beta",
            "1.0%{x}",
            "1.0\nRelease: 9",
            "1:1.0",
        ] {
            inputs.version = bad.to_owned();
            assert!(inputs.package_version().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn arches_map_between_deb_and_rpm_names() {
        assert_eq!(Arch::parse("amd64").unwrap().rpm, "x86_64");
        assert_eq!(Arch::parse("x86_64").unwrap().deb, "amd64");
        assert_eq!(Arch::parse("aarch64").unwrap().deb, "arm64");
        assert!(Arch::parse("sparc").is_err());
        assert!(Arch::host().is_ok());
    }

    #[test]
    fn spec_marks_the_config_noreplace_and_uses_lua_scriptlets() {
        let inputs = Inputs::new("/bin/true").unwrap();
        let spec = spec_file(&inputs, std::path::Path::new("/tmp/stage")).unwrap();
        assert!(
            spec.contains("%config(noreplace) %attr(0644,root,root) /etc/patchwarden/agent.toml\n")
        );
        assert!(spec.contains("%dir %attr(0700,root,root) /var/lib/patchwarden-agent\n"));
        for section in ["%post", "%preun", "%postun"] {
            assert!(
                spec.contains(&format!("\n{section} -p <lua>\n")),
                "{section}"
            );
        }
        assert!(
            !spec.contains("copyright"),
            "Debian's copyright file is deb-only"
        );
        assert!(spec_file(&inputs, std::path::Path::new("/tmp/a b")).is_err());
        assert!(spec_file(&inputs, std::path::Path::new("relative")).is_err());
    }
}
