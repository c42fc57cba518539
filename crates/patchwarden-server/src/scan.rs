//! `patchwarden scan`: a fast local answer, with no server: this machine's (or a given
//! inventory file's) packages against advisory feeds read from files.

use anyhow::{bail, Context};
use patchwarden_domain::advisory::{CveEnrichment, DistroRelease};
use patchwarden_domain::finding::Finding;
use patchwarden_domain::level::Level;
use patchwarden_domain::package::{InstalledPackage, PackageFormat};
use patchwarden_match::level::{Facts, LevelPolicy};
use patchwarden_match::{distro_key, AdvisoryIndex};
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Where the inventory comes from.
#[derive(Debug, Clone)]
pub enum InventorySource {
    /// A root file system (`/` for this machine).
    Root(PathBuf),
    DpkgStatus(PathBuf),
    RpmQa(PathBuf),
    ApkInstalled(PathBuf),
}

#[derive(Debug, Clone)]
pub struct ScanArgs {
    pub inventory: InventorySource,
    /// `ecosystem:release`, required for file inventories.
    pub distro: Option<String>,
    pub advisories: Vec<PathBuf>,
    pub json: bool,
    pub show_suppressed: bool,
    /// Exit 1 when an open finding at or above this level exists.
    pub fail_on: Option<Level>,
}

/// One line of the answer.
#[derive(Debug, Clone, Serialize)]
pub struct ScanFinding {
    pub level: Level,
    #[serde(flatten)]
    pub finding: Finding,
}

/// The whole answer, as JSON prints it.
#[derive(Debug, Serialize)]
pub struct ScanReport {
    pub distro: String,
    pub format: PackageFormat,
    pub packages: usize,
    pub advisories: usize,
    pub findings: Vec<ScanFinding>,
    pub rejected_records: usize,
}

fn read(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn parse_distro(s: &str) -> anyhow::Result<DistroRelease> {
    match s.split_once(':') {
        Some((e, r)) if !e.is_empty() && !r.is_empty() => Ok(DistroRelease {
            ecosystem: e.to_ascii_lowercase(),
            release: r.to_owned(),
        }),
        _ => bail!("--distro must look like ecosystem:release, e.g. debian:12 or almalinux:9"),
    }
}

/// Reads an inventory; returns its format, packages and (for a root) its release.
pub fn load_inventory(
    src: &InventorySource,
) -> anyhow::Result<(PackageFormat, Vec<InstalledPackage>, Option<DistroRelease>)> {
    use patchwarden_inventory::{apk, dpkg, rpm};
    Ok(match src {
        InventorySource::Root(root) => {
            let local = patchwarden_inventory::collect_local(root).with_context(|| {
                format!("cannot read the package database under {}", root.display())
            })?;
            (local.format, local.packages, distro_key(&local.os))
        }
        InventorySource::DpkgStatus(p) => {
            let text = read(p)?;
            let parsed = if text.contains("Package:") {
                dpkg::parse_status(&text)
            } else {
                dpkg::parse_dpkg_query(&text)
            };
            (PackageFormat::Deb, parsed.packages, None)
        }
        InventorySource::RpmQa(p) => {
            let text = read(p)?;
            let mut parsed = rpm::parse_rpm_query(&text);
            if parsed.packages.is_empty() {
                parsed = rpm::parse_rpm_evr_tsv(&text);
            }
            if parsed.packages.is_empty() {
                parsed = rpm::parse_rpm_nvra(&text);
            }
            (PackageFormat::Rpm, parsed.packages, None)
        }
        InventorySource::ApkInstalled(p) => (
            PackageFormat::Apk,
            apk::parse_apk_installed(&read(p)?).packages,
            None,
        ),
    })
}

/// Matches and decides levels; findings sorted by level (most urgent first), package.
pub fn scan(args: &ScanArgs) -> anyhow::Result<ScanReport> {
    if args.advisories.is_empty() {
        bail!("give advisory feeds with --advisories PATH (files, directories or zips)");
    }
    let (format, packages, found) = load_inventory(&args.inventory)?;
    let distro = match (&args.distro, found) {
        (Some(d), _) => parse_distro(d)?,
        (None, Some(d)) => d,
        (None, None) => {
            bail!("cannot tell the distribution release; give --distro, e.g. --distro almalinux:9")
        }
    };
    let imported = patchwarden_advisory::import_paths(&args.advisories)?;
    let rejected = imported.rejected.len();
    let enrichment: HashMap<String, CveEnrichment> = imported
        .enrichment
        .into_iter()
        .map(|e| (e.cve.clone(), e))
        .collect();
    let index = AdvisoryIndex::build(imported.advisories);
    let policy = LevelPolicy::default();
    let mut findings: Vec<ScanFinding> = packages
        .iter()
        .filter(|p| index.mentions(&distro, p))
        .flat_map(|p| index.match_package(&distro, format, p))
        .filter(|f| args.show_suppressed || f.suppressed.is_none())
        .map(|f| {
            let level = index.advisory(&f.advisory).map_or(policy.otherwise, |a| {
                policy.level(&Facts::of(a, &enrichment))
            });
            ScanFinding { level, finding: f }
        })
        .collect();
    findings.sort_by(|a, b| {
        b.level
            .cmp(&a.level)
            .then_with(|| a.finding.package.cmp(&b.finding.package))
            .then_with(|| a.finding.advisory.cmp(&b.finding.advisory))
    });
    Ok(ScanReport {
        distro: distro.to_string(),
        format,
        packages: packages.len(),
        advisories: index.advisories().len(),
        findings,
        rejected_records: rejected + index.rejected.len(),
    })
}

/// The command: prints a table or JSON; exit 1 with `--fail-on` when warranted.
pub fn run(args: &ScanArgs) -> anyhow::Result<ExitCode> {
    let report = scan(args)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        print_table(&mut out, &report)?;
    }
    out.flush()?;
    let failed = args.fail_on.is_some_and(|t| {
        report
            .findings
            .iter()
            .any(|f| f.level >= t && f.finding.suppressed.is_none())
    });
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_table(out: &mut impl Write, r: &ScanReport) -> std::io::Result<()> {
    writeln!(
        out,
        "{} packages ({}), {}, {} advisories: {} findings",
        r.packages,
        r.format,
        r.distro,
        r.advisories,
        r.findings.len()
    )?;
    if r.findings.is_empty() {
        return Ok(());
    }
    let w = |f: &dyn Fn(&ScanFinding) -> usize, min: usize| {
        r.findings.iter().map(f).max().unwrap_or(0).max(min)
    };
    let wp = w(&|f| f.finding.package.len(), 7);
    let wi = w(&|f| f.finding.installed.len(), 9);
    let wf = w(&|f| f.finding.fixed.as_deref().map_or(1, str::len), 5);
    let wa = w(&|f| f.finding.advisory.len(), 8);
    writeln!(
        out,
        "{:<8}  {:<wp$}  {:<wi$}  {:<wf$}  {:<wa$}  CVES",
        "LEVEL", "PACKAGE", "INSTALLED", "FIXED", "ADVISORY"
    )?;
    for f in &r.findings {
        let fx = &f.finding;
        let mut cves = fx
            .cves
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join(",");
        if fx.cves.len() > 3 {
            cves.push_str(&format!(",+{}", fx.cves.len() - 3));
        }
        writeln!(
            out,
            "{:<8}  {:<wp$}  {:<wi$}  {:<wf$}  {:<wa$}  {}{}",
            f.level.as_str(),
            fx.package,
            fx.installed,
            fx.fixed.as_deref().unwrap_or("-"),
            fx.advisory,
            cves,
            fx.suppressed
                .as_deref()
                .map(|s| format!("  [suppressed: {s}]"))
                .unwrap_or_default()
        )?;
    }
    Ok(())
}
