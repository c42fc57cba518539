//! `pw-fleetsim`: many simulated agents against a real Patchwarden server.
//!
//! Each simulated agent enrols with a (reusable) enrolment token, then the simulator
//! measures two phases with `--concurrency` requests in flight:
//! 1. full inventory reports (every agent sends its whole inventory once), and
//! 2. unchanged check-ins (small signed heartbeats) for `--seconds`.
//!
//! Requests go only to the server given (use 127.0.0.1); loops are bounded in count
//! and time.

#![forbid(unsafe_code)]

mod hosts;

use anyhow::{bail, Context};
use clap::Parser;
use patchwarden_domain::asset::{Hostname, OsFamily, OsInfo};
use patchwarden_domain::package::PackageFormat;
use patchwarden_wire::agent::{CheckIn, CheckInReply, EnrollRequest, EnrollResponse};
use patchwarden_wire::sign::{
    request_message, SecretKey, HEADER_AGENT_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};
use patchwarden_wire::InventoryReport;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(
    name = "pw-fleetsim",
    about = "Simulate a fleet of Patchwarden agents against a server"
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
    #[arg(long, default_value_t = 1500)]
    packages: usize,
    /// Share of security-updated packages left at the older release version.
    #[arg(long, default_value_t = 0.3)]
    behind: f64,
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Length of the unchanged check-in phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Folder with the Debian 12 package lists.
    #[arg(long, default_value = "../shared/fixtures/inventories/debian12")]
    lists: PathBuf,
}

struct Agent {
    id: i64,
    key: SecretKey,
    report: InventoryReport,
}

fn gzip(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes)?;
    Ok(e.finish()?)
}

async fn checkin(
    http: &reqwest::Client,
    server: &str,
    agent: &Agent,
    full: bool,
) -> anyhow::Result<CheckInReply> {
    let body = CheckIn {
        agent_version: "fleetsim".into(),
        sent_at: jiff::Timestamp::now(),
        inventory_hash: agent.report.inventory_hash.clone(),
        inventory: full.then(|| agent.report.clone()),
        pending_updates: None,
        kernel_running: None,
        reboot_required: false,
        restart_needed: Vec::new(),
        reports: Vec::new(),
    };
    let bytes = gzip(&serde_json::to_vec(&body)?)?;
    let path = "/api/v1/agent/checkin";
    let ts = jiff::Timestamp::now().as_second();
    let sig = agent.key.sign(&request_message("POST", path, ts, &bytes));
    let resp = http
        .post(format!("{server}{path}"))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .header(HEADER_AGENT_ID, agent.id.to_string())
        .header(HEADER_TIMESTAMP, ts.to_string())
        .header(HEADER_SIGNATURE, sig)
        .body(bytes)
        .send()
        .await?;
    let status = resp.status();
    if !status.is_success() {
        bail!(
            "check-in answered {status}: {}",
            resp.text().await.unwrap_or_default()
        );
    }
    Ok(resp.json().await?)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs `work(agent index)` for every index in `jobs` with `concurrency` in flight;
/// returns the wall time and each request's latency.
async fn phase<F, Fut>(
    jobs: Vec<usize>,
    concurrency: usize,
    deadline: Option<Instant>,
    work: F,
) -> anyhow::Result<(Duration, Vec<Duration>)>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let work = Arc::new(work);
    let queue = Arc::new(std::sync::Mutex::new(jobs.into_iter()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (work, queue) = (work.clone(), queue.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let next = queue
                    .lock()
                    .map_err(|_| anyhow::anyhow!("poisoned"))?
                    .next();
                let Some(i) = next else { break };
                let t = Instant::now();
                work(i).await?;
                lat.push(t.elapsed());
            }
            anyhow::Ok(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    all.sort_unstable();
    Ok((started.elapsed(), all))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let server = a.server.trim_end_matches('/').to_owned();
    let catalogue = hosts::Catalogue::load(&a.lists)?;
    let fleet = catalogue.fleet(a.agents, a.packages, a.behind, a.seed);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(a.concurrency)
        .build()?;
    let os = OsInfo {
        family: OsFamily::Linux,
        distribution: "debian".into(),
        release: "12".into(),
        arch: "amd64".into(),
    };
    eprintln!("enrolling {} agents ...", fleet.len());
    let mut agents = Vec::with_capacity(fleet.len());
    for (i, packages) in fleet.into_iter().enumerate() {
        let key = SecretKey::generate();
        let hostname =
            Hostname::parse(&format!("sim-{}-{i}", a.seed)).map_err(|e| anyhow::anyhow!("{e}"))?;
        let req = EnrollRequest {
            token: a.token.clone(),
            hostname: hostname.clone(),
            os: os.clone(),
            public_key: key.public_b64(),
            agent_version: "fleetsim".into(),
        };
        let resp = http
            .post(format!("{server}/api/v1/agent/enroll"))
            .json(&req)
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!(
                "enrolment answered {}: {}",
                resp.status(),
                resp.text().await.unwrap_or_default()
            );
        }
        let e: EnrollResponse = resp.json().await.context("enrolment reply")?;
        let report = InventoryReport::new(
            hostname,
            os.clone(),
            None,
            PackageFormat::Deb,
            packages,
            jiff::Timestamp::now(),
        );
        agents.push(Agent {
            id: e.agent_id,
            key,
            report,
        });
    }
    let agents = Arc::new(agents);
    let sizes: Vec<usize> = agents.iter().map(|x| x.report.packages.len()).collect();
    eprintln!(
        "packages per host: {}..{}",
        sizes.iter().min().unwrap_or(&0),
        sizes.iter().max().unwrap_or(&0)
    );

    let (h, s, ag) = (http.clone(), server.clone(), agents.clone());
    let (wall, lat) = phase((0..agents.len()).collect(), a.concurrency, None, move |i| {
        let (h, s, ag) = (h.clone(), s.clone(), ag.clone());
        async move {
            let r = checkin(&h, &s, &ag[i], true).await?;
            if r.send_inventory {
                bail!("server still asks for the inventory after a full report");
            }
            Ok(())
        }
    })
    .await?;
    println!(
        "full inventory reports: {} in {:.2} s = {:.0}/s (p50 {:?}, p99 {:?})",
        lat.len(),
        wall.as_secs_f64(),
        lat.len() as f64 / wall.as_secs_f64(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );

    let (h, s, ag) = (http.clone(), server.clone(), agents.clone());
    let n = agents.len();
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    // Bounded: at most 1,000 rounds over the fleet, and the deadline.
    let jobs: Vec<usize> = (0..n.saturating_mul(1000)).map(|k| k % n.max(1)).collect();
    let (wall, lat) = phase(jobs, a.concurrency, Some(deadline), move |i| {
        let (h, s, ag) = (h.clone(), s.clone(), ag.clone());
        async move {
            checkin(&h, &s, &ag[i], false).await?;
            Ok(())
        }
    })
    .await?;
    println!(
        "unchanged check-ins: {} in {:.2} s = {:.0}/s (p50 {:?}, p99 {:?})",
        lat.len(),
        wall.as_secs_f64(),
        lat.len() as f64 / wall.as_secs_f64(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );
    Ok(())
}
