//! `pw-package`: builds `target/packages/patchwarden-agent_<v>_<arch>.deb` and
//! `patchwarden-agent-<v>-1.<arch>.rpm` from a built agent binary. See docs/agent.md.

#![forbid(unsafe_code)]

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
use patchwarden_packaging::{build_deb, build_rpm, Arch, Compression, Inputs};
use std::path::PathBuf;

/// Which packages to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Deb,
    Rpm,
    All,
}

/// Build the patchwarden-agent .deb and .rpm with dpkg-deb and rpmbuild.
///
/// Build the binary first: `cargo build --release -p patchwarden-agent`.
#[derive(Debug, Parser)]
#[command(name = "pw-package", version)]
struct Cli {
    /// The agent binary [default: <target dir>/release/patchwarden-agent].
    #[arg(long, value_name = "FILE")]
    binary: Option<PathBuf>,
    /// Output directory [default: <target dir>/packages].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Which packages.
    #[arg(long, value_enum, default_value = "all")]
    format: Format,
    /// Package version [default: the workspace version].
    #[arg(long = "pkg-version", value_name = "VERSION")]
    pkg_version: Option<String>,
    /// Target architecture, deb or rpm name (amd64 / x86_64) [default: this host's].
    #[arg(long, value_name = "ARCH")]
    arch: Option<String>,
    /// The .deb's Depends [default: computed with dpkg-shlibdeps].
    #[arg(long, value_name = "DEPENDS")]
    depends: Option<String>,
    /// Maintainer (deb) and Packager (rpm).
    #[arg(long, value_name = "NAME <EMAIL>")]
    maintainer: Option<String>,
    /// Keep the binary's symbols (default: `strip --strip-unneeded`).
    #[arg(long)]
    no_strip: bool,
    /// gzip -1 instead of xz (for tests).
    #[arg(long)]
    fast: bool,
}

/// The target directory: CARGO_TARGET_DIR, else `target/` of this workspace.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let target = target_dir();
    let binary = cli
        .binary
        .unwrap_or_else(|| target.join("release/patchwarden-agent"));
    if !binary.is_file() {
        anyhow::bail!(
            "{} does not exist: run `cargo build --release -p patchwarden-agent` first, or pass --binary",
            binary.display()
        );
    }
    let mut inputs = Inputs::new(&binary)?;
    if let Some(v) = cli.pkg_version {
        inputs.version = v;
    }
    if let Some(a) = cli.arch {
        inputs.arch = Arch::parse(&a)?;
    }
    if let Some(m) = cli.maintainer {
        inputs.maintainer = m;
    }
    inputs.depends = cli.depends;
    inputs.strip = !cli.no_strip;
    if cli.fast {
        inputs.compression = Compression::Fast;
    }
    let out = cli.out.unwrap_or_else(|| target.join("packages"));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let out = out
        .canonicalize()
        .with_context(|| format!("resolving {}", out.display()))?;
    if matches!(cli.format, Format::Deb | Format::All) {
        let deb = build_deb(&inputs, &out).context("building the .deb")?;
        println!("{}", deb.display());
    }
    if matches!(cli.format, Format::Rpm | Format::All) {
        let rpm = build_rpm(&inputs, &out).context("building the .rpm")?;
        println!("{}", rpm.display());
    }
    Ok(())
}
