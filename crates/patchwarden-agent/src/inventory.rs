//! `patchwarden-agent inventory`: read the local inventory and print it.

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use patchwarden_domain::asset::Hostname;
use patchwarden_inventory::collect_local;
use patchwarden_wire::InventoryReport;
use std::io::Write;
use std::path::PathBuf;

/// Output formats of `inventory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// The wire `InventoryReport`, as sent to the server.
    Json,
    /// A human-readable summary and package table.
    Table,
}

/// Arguments of `inventory`.
#[derive(Debug, Args)]
pub struct InventoryArgs {
    /// Root directory of the system to inventory: `/` for this host, or a mounted
    /// image or container file system.
    #[arg(long, value_name = "PATH", default_value = "/")]
    pub root: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Json)]
    pub format: OutputFormat,
    /// Host name to report, instead of ROOT/etc/hostname or the kernel's.
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
}

/// Collects the inventory under `args.root` and prints it to standard output.
pub fn run(args: &InventoryArgs) -> Result<()> {
    let inv = collect_local(&args.root)
        .with_context(|| format!("reading the inventory under {}", args.root.display()))?;
    for w in &inv.warnings {
        eprintln!("patchwarden-agent: warning: {w}");
    }
    let raw_hostname = args.hostname.clone().or(inv.hostname).with_context(|| {
        format!(
            "no host name under {} (etc/hostname, proc/sys/kernel/hostname); pass --hostname",
            args.root.display()
        )
    })?;
    let hostname = Hostname::parse(&raw_hostname)?;
    let report = InventoryReport::new(
        hostname,
        inv.os,
        inv.kernel,
        inv.format,
        inv.packages,
        jiff::Timestamp::now(),
    );
    let mut text = Vec::new();
    match args.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut text, &report)?;
            text.push(b'\n');
        }
        OutputFormat::Table => write_table(&mut text, &report)?,
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(&text).and_then(|()| out.flush()) {
        // `patchwarden-agent inventory | head` is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other.context("writing to standard output")?),
    }
}

/// Writes a summary followed by one aligned row per package.
fn write_table(out: &mut impl Write, r: &InventoryReport) -> std::io::Result<()> {
    writeln!(out, "host:      {}", r.hostname)?;
    writeln!(
        out,
        "os:        {} {} ({}, {})",
        r.os.distribution, r.os.release, r.os.family, r.os.arch
    )?;
    writeln!(out, "kernel:    {}", r.kernel.as_deref().unwrap_or("-"))?;
    writeln!(out, "format:    {}", r.format)?;
    writeln!(out, "packages:  {}", r.package_count())?;
    let packages = r.packages();
    writeln!(out, "hash:      {}", r.inventory_hash)?;
    writeln!(out)?;
    let source = |p: &patchwarden_domain::package::InstalledPackage| match (
        &p.source_name,
        &p.source_version,
    ) {
        (None, None) => String::new(),
        (name, version) => format!(
            "{} {}",
            name.as_deref().unwrap_or(&p.name),
            version.as_deref().unwrap_or("")
        )
        .trim_end()
        .to_owned(),
    };
    let width = |f: &dyn Fn(&patchwarden_domain::package::InstalledPackage) -> usize, min| {
        packages.iter().map(f).max().unwrap_or(0).max(min)
    };
    let wn = width(&|p| p.name.chars().count(), 4);
    let wv = width(&|p| p.version.chars().count(), 7);
    let wa = width(&|p| p.arch.chars().count(), 4);
    writeln!(
        out,
        "{:wn$}  {:wv$}  {:wa$}  SOURCE",
        "NAME", "VERSION", "ARCH"
    )?;
    for p in packages.iter() {
        let line = format!(
            "{:wn$}  {:wv$}  {:wa$}  {}",
            p.name,
            p.version,
            p.arch,
            source(p)
        );
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}
