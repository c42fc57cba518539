//! `pw-fleetsim`: many simulated agents against a real Patchwarden server.
//!
//! The fleet mixes Debian 12 and AlmaLinux 9 hosts (`--mix`) with realistic
//! inventories, some hosts behind on security updates (see `hosts`). Each simulated
//! agent enrols with a (reusable) enrolment token, then the simulator measures three
//! phases with `--concurrency` requests in flight:
//! 1. full inventory reports (every agent sends its whole inventory once),
//! 2. unchanged check-ins (small signed heartbeats) for `--seconds`, and
//! 3. changed inventory reports: after a nightly patch run (1 to 5 packages upgraded)
//!    every agent that reported in phase 1 sends its whole inventory again.
//!
//! Requests go only to the server given (use 127.0.0.1); every phase is bounded in
//! count (one report per agent; at most 1,000 heartbeats per agent) and in time.

#![forbid(unsafe_code)]

mod agent;
mod hosts;
mod phase;

use agent::{send, Agent};
use anyhow::{bail, Context};
use clap::Parser;
use hosts::{alma::Alma, debian::Debian, Mix, Shape};
use patchwarden_domain::asset::Hostname;
use patchwarden_wire::InventoryReport;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(
    name = "pw-fleetsim",
    about = "Simulate a fleet of Patchwarden agents against a server",
    after_help = "Relative paths are read from the current directory or, when not \
                  found there, from the repository pw-fleetsim was built in; the \
                  defaults are right when run from the repository root."
)]
struct Args {
    /// Server base URL, e.g. http://127.0.0.1:8080
    #[arg(long)]
    server: String,
    /// A reusable enrolment token.
    #[arg(long, env = "PATCHWARDEN_ENROLL_TOKEN")]
    token: String,
    #[arg(long, default_value_t = 100)]
    agents: usize,
    /// Share of each OS family in the fleet (weights), e.g. debian=70,alma=30.
    #[arg(long, default_value = "debian=70,alma=30")]
    mix: Mix,
    /// Packages per host (about).
    #[arg(long, default_value_t = 1500)]
    packages: usize,
    /// Share of security-updated packages left at an older version.
    #[arg(long, default_value_t = 0.3)]
    behind: f64,
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Length of the unchanged check-in phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Time limit of each inventory-report phase (no report starts after it).
    #[arg(long, default_value_t = 600)]
    report_seconds: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Folder with the Debian 12 package lists.
    #[arg(long, default_value = "../shared/fixtures/inventories/debian12")]
    lists: PathBuf,
    /// Folder with the real RHEL-family `rpm -qa` lists.
    #[arg(long, default_value = "../shared/fixtures/inventories/rpm-qa")]
    rpm_lists: PathBuf,
    /// Folder with the AlmaLinux 9 OSV advisories.
    #[arg(
        long,
        default_value = "../shared/fixtures/advisories/osv-almalinux/advisories/almalinux9"
    )]
    alma_feed: PathBuf,
    /// The server's process id, when it runs on this machine: its CPU time (user +
    /// system, from `/proc/PID/stat`) is read around each phase and printed per request.
    #[arg(long)]
    server_pid: Option<u32>,
}

/// User + system CPU time of process `pid` so far (`/proc/PID/stat`, fields 14 and 15,
/// in clock ticks of 1/100 s: USER_HZ is 100 on every Linux architecture).
fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces; the fields after it do not.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow::anyhow!("/proc/{pid}/stat: no command field"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14, stime field 15.
    let ticks = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i - 3)
            .ok_or_else(|| anyhow::anyhow!("/proc/{pid}/stat: too few fields"))?
            .parse::<u64>()
            .map_err(Into::into)
    };
    Ok(Duration::from_millis((ticks(14)? + ticks(15)?) * 10))
}

/// CPU times read around a phase: the server's (with `--server-pid`) and the
/// simulator's own, which shares the machine's cores with it.
#[derive(Debug, Clone, Copy)]
struct CpuMark {
    server: Option<Duration>,
    own: Option<Duration>,
}

impl CpuMark {
    fn now(server_pid: Option<u32>) -> Self {
        Self {
            server: server_pid.and_then(|p| cpu_time(p).ok()),
            own: cpu_time(std::process::id()).ok(),
        }
    }

    /// Prints the CPU time spent since this mark, per request of the phase.
    fn print_since(self, server_pid: Option<u32>, requests: usize) {
        let after = Self::now(server_pid);
        let per = |spent: Duration| spent.as_secs_f64() * 1e6 / requests.max(1) as f64;
        if let (Some(before), Some(pid)) = (self.server, server_pid) {
            match after.server {
                Some(after) => {
                    let spent = after.saturating_sub(before);
                    println!(
                        "  server CPU: {spent:.2?}, {:.0} µs per request",
                        per(spent)
                    );
                }
                None => eprintln!("warning: reading the CPU time of server process {pid}"),
            }
        }
        if let (Some(before), Some(after)) = (self.own, after.own) {
            let spent = after.saturating_sub(before);
            println!(
                "  simulator CPU (signing, sending): {spent:.2?}, {:.0} µs per request",
                per(spent)
            );
        }
    }
}

/// `path` as given when it exists (or is absolute), else relative to the repository
/// root this binary was built from (`/work/main` → `../shared` is `/work/shared`).
fn fixture(path: &Path) -> PathBuf {
    if path.is_absolute() || path.exists() {
        return path.to_path_buf();
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let there = repo.join(path);
    if there.exists() {
        there
    } else {
        path.to_path_buf()
    }
}

/// Whether phase `name` may go on: the server must not ask again for an inventory it
/// was just sent.
fn accepted(reply: &patchwarden_wire::agent::CheckInReply, name: &str) -> anyhow::Result<()> {
    if reply.send_inventory {
        bail!("{name}: the server still asks for the inventory after a full report");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let server = a.server.trim_end_matches('/').to_owned();
    let loading = Instant::now();
    let debian = match a.mix.debian {
        0 => None,
        _ => Some(Debian::load(&fixture(&a.lists)).context("the Debian 12 lists (--lists)")?),
    };
    let alma = match a.mix.alma {
        0 => None,
        _ => Some(
            Alma::load(&fixture(&a.rpm_lists), &fixture(&a.alma_feed))
                .context("the AlmaLinux 9 data (--rpm-lists, --alma-feed)")?,
        ),
    };
    let shape = Shape {
        packages: a.packages,
        behind: a.behind,
        seed: a.seed,
    };
    let fleet = hosts::fleet(a.mix, a.agents, debian.as_ref(), alma.as_ref(), shape)?;
    drop((debian, alma));
    let is_alma: Vec<bool> = (0..fleet.len()).map(|i| a.mix.is_alma(i)).collect();
    let n_alma = is_alma.iter().filter(|x| **x).count();
    eprintln!(
        "{} hosts ({} Debian 12, {} AlmaLinux 9) generated in {:.1} s",
        fleet.len(),
        fleet.len() - n_alma,
        n_alma,
        loading.elapsed().as_secs_f64()
    );
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(a.concurrency)
        .timeout(Duration::from_secs(120))
        .build()?;
    eprintln!("enrolling {} agents ...", fleet.len());
    let mut agents = Vec::with_capacity(fleet.len());
    for (i, host) in fleet.into_iter().enumerate() {
        let hostname =
            Hostname::parse(&format!("sim-{}-{i}", a.seed)).map_err(|e| anyhow::anyhow!("{e}"))?;
        agents.push(Agent::enroll(&http, &server, &a.token, hostname, host).await?);
    }
    let agents = Arc::new(agents);
    let sizes: Vec<usize> = agents.iter().map(|x| x.report.package_count()).collect();
    eprintln!(
        "packages per host: {}..{}",
        sizes.iter().min().unwrap_or(&0),
        sizes.iter().max().unwrap_or(&0)
    );
    // Per family: `  Debian 12: N (p50 …, p99 …); AlmaLinux 9: N (…)`, and whether
    // the time limit cut the phase short.
    let details = |o: &phase::Outcome, name: &str| {
        let parts: Vec<String> = [("Debian 12", false), ("AlmaLinux 9", true)]
            .into_iter()
            .map(|(family, alma)| (family, o.latencies(|i| is_alma[i] == alma)))
            .filter(|(_, lat)| !lat.is_empty())
            .map(|(family, lat)| format!("{family}: {} ({})", lat.len(), phase::spread(&lat)))
            .collect();
        if !parts.is_empty() {
            println!("  {}", parts.join("; "));
        }
        if o.left > 0 {
            eprintln!(
                "warning: {name}: --report-seconds ended the phase; {} agents did not report",
                o.left
            );
        }
    };

    // Each agent's body (JSON, gzipped) is built before a phase starts: real agents are
    // other machines, so only signing and sending share these cores with the server.
    let bodies = |pick: fn(&Agent) -> &InventoryReport, full: bool| {
        agents
            .iter()
            .map(|ag| agent::body(pick(ag), full))
            .collect::<anyhow::Result<Vec<_>>>()
            .map(Arc::new)
    };
    let cpu = || CpuMark::now(a.server_pid);
    let name = "full inventory reports";
    let full_bodies = bodies(|ag| &ag.report, true)?;
    let before = cpu();
    let (h, s, ag) = (http.clone(), server.clone(), agents.clone());
    let deadline = Instant::now() + Duration::from_secs(a.report_seconds);
    let first = phase::run(
        (0..agents.len()).collect(),
        a.concurrency,
        deadline,
        move |i| {
            let (h, s, ag, b) = (h.clone(), s.clone(), ag.clone(), full_bodies.clone());
            async move { accepted(&send(&h, &s, &ag[i], b[i].clone()).await?, name) }
        },
    )
    .await?;
    println!("{}", first.summary(name));
    before.print_since(a.server_pid, first.count());
    details(&first, name);

    let beats = bodies(|ag| &ag.report, false)?;
    let (h, s, ag) = (http.clone(), server.clone(), agents.clone());
    let n = agents.len();
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    // Bounded: at most 1,000 rounds over the fleet, and the deadline.
    let jobs: Vec<usize> = (0..n.saturating_mul(1000)).map(|k| k % n.max(1)).collect();
    let before = cpu();
    let unchanged = phase::run(jobs, a.concurrency, deadline, move |i| {
        let (h, s, ag, b) = (h.clone(), s.clone(), ag.clone(), beats.clone());
        async move {
            send(&h, &s, &ag[i], b[i].clone()).await?;
            Ok(())
        }
    })
    .await?;
    println!("{}", unchanged.summary("unchanged check-ins"));
    before.print_since(a.server_pid, unchanged.count());

    // Only hosts the server already knows: those whose first report went through.
    let name = "changed inventory reports";
    let mut known: Vec<usize> = first.done().collect();
    known.sort_unstable();
    let patched = bodies(|ag| &ag.patched, true)?;
    let (h, s, ag) = (http.clone(), server.clone(), agents.clone());
    let deadline = Instant::now() + Duration::from_secs(a.report_seconds);
    let before = cpu();
    let changed = phase::run(known, a.concurrency, deadline, move |i| {
        let (h, s, ag, b) = (h.clone(), s.clone(), ag.clone(), patched.clone());
        async move { accepted(&send(&h, &s, &ag[i], b[i].clone()).await?, name) }
    })
    .await?;
    println!("{}", changed.summary(name));
    before.print_since(a.server_pid, changed.count());
    details(&changed, name);
    Ok(())
}
