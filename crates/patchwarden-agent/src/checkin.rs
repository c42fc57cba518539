//! Check-ins: collect the facts, send them (the full inventory only when the server
//! does not have its hash), deliver spooled reports, run the jobs of the reply; and
//! the `run` loop around it with jitter, exponential backoff and clean shutdown.

use crate::client::{Client, ClientError, SKEW_WARNING_SECS};
use crate::config::{check_server_url, AgentConfig};
use crate::deploy::reboot::{packages_need_reboot, NeedsRestarting};
use crate::deploy::PackageExecutor;
use crate::health::HealthExecutor;
use crate::jobs::{self, Executor, Opened};
use crate::pending::PendingTracker;
use crate::spool::Spool;
use crate::state::{sha256_hex, Enrollment, SeenJobs, StateDir};
use crate::watch::{self, Cached};
use crate::{info, warn};
use anyhow::{anyhow, bail, Context, Result};
use jiff::Timestamp;
use patchwarden_domain::asset::Hostname;
use patchwarden_wire::agent::CheckIn;
use patchwarden_wire::sign::SecretKey;
use patchwarden_wire::InventoryReport;
use rand::Rng;
use std::path::Path;
use std::time::{Duration, Instant};

/// Exchanges in one cycle at most (a reply with jobs is followed at once by a
/// check-in carrying their reports).
const MAX_ROUNDS: usize = 3;
/// Longest wait between failed attempts.
pub const MAX_BACKOFF_SECS: u64 = 30 * 60;
const FIRST_BACKOFF_SECS: u64 = 5;

/// How a cycle failed.
#[derive(Debug)]
pub enum CycleError {
    /// Stop: retrying cannot help (revoked, broken local state).
    Fatal(anyhow::Error),
    /// Try again later, with backoff; spooled reports stay spooled.
    Retry(anyhow::Error),
}

impl From<ClientError> for CycleError {
    fn from(e: ClientError) -> Self {
        if e.is_fatal() {
            Self::Fatal(e.into())
        } else {
            Self::Retry(e.into())
        }
    }
}

pub struct Agent {
    cfg: AgentConfig,
    state: StateDir,
    enrollment: Enrollment,
    key: SecretKey,
    client: Client,
    spool: Spool,
    seen: SeenJobs,
    executor: Option<Box<dyn Executor>>,
    pending: PendingTracker,
    /// The inventory, read again only when the package database changed.
    inventory: Cached<Inventory>,
    needs_restarting: NeedsRestarting,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("agent_id", &self.enrollment.agent_id)
            .field("server", &self.enrollment.server_url)
            .finish_non_exhaustive()
    }
}

/// What one exchange produced.
struct Round {
    next_secs: u64,
    more: bool,
}

impl Agent {
    /// Loads the enrolment, checks the pins, and reports jobs a previous run left
    /// unfinished as interrupted.
    pub fn open(cfg: AgentConfig, runtime: tokio::runtime::Handle) -> Result<Self> {
        let state = StateDir::open(&cfg.state_dir)?;
        let (enrollment, key) = state.load_enrollment()?;
        let url = check_server_url(&enrollment.server_url)?;
        if let Some(configured) = &cfg.server_url {
            if check_server_url(configured)? != url {
                bail!(
                    "server_url {configured} in the configuration is not the server this agent \
                     enrolled with ({}); re-enrol with `patchwarden-agent enroll --force`",
                    enrollment.server_url
                );
            }
        }
        let ca = state.load_pinned_ca(&enrollment)?;
        if let Some(path) = &cfg.ca_cert {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read ca_cert {}", path.display()))?;
            if Some(sha256_hex(&pem)) != enrollment.ca_cert_sha256 {
                bail!(
                    "ca_cert {} is not the CA certificate pinned at enrolment; re-enrol to \
                     change the pin",
                    path.display()
                );
            }
        }
        if url.scheme() == "http" {
            warn("the server URL is plain http://: traffic is not encrypted");
        }
        let client = Client::new(url, ca.as_deref())?;
        let mut spool = Spool::open(state.spool_dir())?;
        let health = HealthExecutor::new(cfg.health_checks.clone(), cfg.root.clone(), runtime)?;
        let executor = PackageExecutor::new(&cfg, health);
        jobs::recover_interrupted(&mut spool, Timestamp::now(), &executor)?;
        let seen = state.seen_jobs()?;
        let pending = PendingTracker::new(state.sent_pending()?);
        let inventory = Cached::new(&cfg.root, watch::MAX_AGE);
        Ok(Self {
            cfg,
            state,
            enrollment,
            key,
            client,
            spool,
            seen,
            executor: Some(Box::new(executor)),
            pending,
            inventory,
            needs_restarting: NeedsRestarting::system(),
        })
    }

    /// This host's facts now (the inventory read again only when the package database
    /// changed), or the last unsent ones when the package database cannot be read.
    fn facts(&mut self) -> Result<CheckIn> {
        let (cfg, probe) = (&self.cfg, &self.needs_restarting);
        match self
            .inventory
            .get(Instant::now(), || read_inventory(cfg, Some(probe)))
        {
            Ok(inv) => Ok(facts_of(inv, &cfg.root)),
            Err(e) => match self.spool.load_facts()? {
                Some(old) => {
                    warn(&format!(
                        "{e:#}; sending the last facts collected ({})",
                        old.sent_at
                    ));
                    Ok(old)
                }
                None => Err(e),
            },
        }
    }

    /// One cycle: an exchange, followed at once by up to two more when the reply
    /// produced reports or asked for the inventory. Returns the seconds to wait.
    pub async fn cycle(&mut self) -> Result<u64, CycleError> {
        let mut rounds = 0;
        loop {
            let round = self.round().await?;
            rounds += 1;
            if !round.more || rounds == MAX_ROUNDS {
                return Ok(round.next_secs);
            }
        }
    }

    async fn round(&mut self) -> Result<Round, CycleError> {
        let mut checkin = self.facts().map_err(CycleError::Retry)?;
        if let Some(inv) = &checkin.inventory {
            self.pending.refresh(
                &self.cfg.root,
                inv.format,
                &inv.inventory_hash,
                Duration::from_secs(self.cfg.pending_updates_secs),
            );
        }
        let acked = self.state.acked_inventory().map_err(CycleError::Fatal)?;
        if acked.as_deref() == Some(checkin.inventory_hash.as_str()) {
            checkin.inventory = None;
        }
        let sent_inventory = checkin.inventory.is_some();
        checkin.pending_updates = self.pending.to_send(sent_inventory);
        if let Err(e) = self.spool.save_facts(&checkin) {
            warn(&format!("{e:#}"));
        }
        checkin.reports = self.spool.pending_reports().map_err(CycleError::Retry)?;
        let now = Timestamp::now();
        checkin.sent_at = now;
        let framed = checkin
            .to_framed()
            .map_err(|e| CycleError::Fatal(e.into()))?;
        let ex = self
            .client
            .checkin(
                &self.key,
                self.enrollment.agent_id,
                &framed,
                now.as_second(),
            )
            .await?;
        if let Some(skew) = ex.skew_secs.filter(|s| s.abs() > SKEW_WARNING_SECS) {
            warn(&format!(
                "the local clock is {}s {} the server's (Date header): fix time sync; \
                 the server refuses requests more than 300 s off",
                skew.abs(),
                if skew > 0 { "behind" } else { "ahead of" }
            ));
        }
        let reply = ex.reply;
        let _ = self.spool.clear_facts();
        if let Some(hash) = self.pending.delivered(checkin.pending_updates.as_deref()) {
            if let Err(e) = self.state.set_sent_pending(Some(&hash)) {
                warn(&format!("{e:#}"));
            }
        }
        let ack = if reply.send_inventory {
            None
        } else if sent_inventory {
            Some(checkin.inventory_hash.as_str())
        } else {
            acked.as_deref()
        };
        if ack != acked.as_deref() {
            self.state
                .set_acked_inventory(ack)
                .map_err(CycleError::Retry)?;
        }
        self.spool
            .acknowledge(&reply.acknowledged)
            .map_err(CycleError::Retry)?;
        let new_reports = self.run_jobs(&reply.jobs).await?;
        Ok(Round {
            next_secs: match reply.next_checkin_secs {
                0 => self.cfg.interval_secs,
                n => n.min(86_400),
            },
            more: new_reports > 0 || (reply.send_inventory && !sent_inventory),
        })
    }

    /// Opens and runs the jobs of a reply; returns how many reports were spooled.
    async fn run_jobs(
        &mut self,
        signed: &[patchwarden_wire::job::SignedJob],
    ) -> Result<usize, CycleError> {
        let mut spooled = 0;
        for sj in signed {
            let now = Timestamp::now();
            let opened = jobs::open(
                sj,
                &self.enrollment.server_job_key,
                self.enrollment.agent_id,
                now,
                &self.seen,
            );
            let job = match opened {
                Opened::Accepted(job) => job,
                Opened::Refused(report) => {
                    warn(&format!(
                        "job {} refused: {}",
                        report.job_id,
                        report.steps.first().map_or("", |s| s.log_excerpt.as_str())
                    ));
                    self.spool.push_report(&report).map_err(CycleError::Retry)?;
                    spooled += 1;
                    continue;
                }
                Opened::Dropped(why) => {
                    warn(&why);
                    continue;
                }
            };
            let marker = jobs::begin(&job, &mut self.seen, &mut self.spool, now)
                .map_err(CycleError::Retry)?;
            // It may change packages however the database files look afterwards.
            self.inventory.invalidate();
            info(&format!("running job {}", job.id));
            let mut executor = self
                .executor
                .take()
                .ok_or_else(|| CycleError::Fatal(anyhow!("no job executor")))?;
            let (mut executor, report) = tokio::task::spawn_blocking(move || {
                let report = executor.run(&job);
                (executor, report)
            })
            .await
            .map_err(|e| CycleError::Fatal(anyhow!("the job executor crashed: {e}")))?;
            info(&format!("job {} {:?}", report.job_id, report.status));
            let finished = jobs::finish(&mut self.spool, &marker, &report);
            if finished.is_ok() {
                // A reboot only once the report is safely spooled.
                executor = tokio::task::spawn_blocking(move || {
                    executor.after_report();
                    executor
                })
                .await
                .map_err(|e| CycleError::Fatal(anyhow!("the job executor crashed: {e}")))?;
            }
            self.executor = Some(executor);
            finished.map_err(CycleError::Retry)?;
            spooled += 1;
        }
        Ok(spooled)
    }

    /// Checks in until revoked or told to stop (SIGTERM, SIGINT).
    pub async fn run_loop(&mut self) -> Result<()> {
        let mut failures: u32 = 0;
        let mut stop = Shutdown::new()?;
        info(&format!(
            "agent {} reporting to {}",
            self.enrollment.agent_id, self.enrollment.server_url
        ));
        loop {
            let wait = match self.cycle().await {
                Ok(next) => {
                    failures = 0;
                    next + rand::thread_rng().gen_range(0..=self.cfg.jitter_secs)
                }
                Err(CycleError::Fatal(e)) => return Err(e),
                Err(CycleError::Retry(e)) => {
                    failures = failures.saturating_add(1);
                    let d = backoff(failures);
                    warn(&format!("check-in failed: {e:#}; retrying in {d} s"));
                    d
                }
            };
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(wait)) => {}
                () = stop.wait() => {
                    info("stopping");
                    return Ok(());
                }
            }
        }
    }
}

/// Exponential backoff with jitter: a random wait in [base/2, base], base doubling
/// from 5 s up to [`MAX_BACKOFF_SECS`].
pub fn backoff(failures: u32) -> u64 {
    let base = FIRST_BACKOFF_SECS
        .saturating_mul(1u64 << failures.saturating_sub(1).min(20))
        .min(MAX_BACKOFF_SECS);
    rand::thread_rng().gen_range(base / 2..=base)
}

/// What the package database says, kept by [`Cached`] until a database file changes.
#[derive(Debug, Clone)]
pub struct Inventory {
    pub report: InventoryReport,
    /// An installed kernel newer than the running one, or `needs-restarting -r`.
    reboot_for_packages: bool,
}

/// Reads the inventory under the configured root (its warnings are logged) and the
/// reboot signals that depend on it; `probe` is asked on rpm hosts.
pub fn read_inventory(cfg: &AgentConfig, probe: Option<&NeedsRestarting>) -> Result<Inventory> {
    let root = &cfg.root;
    let inv = patchwarden_inventory::collect_local(root)
        .with_context(|| format!("reading the inventory under {}", root.display()))?;
    for w in &inv.warnings {
        warn(&w.to_string());
    }
    let name = inv
        .hostname
        .clone()
        .with_context(|| format!("no host name under {}", root.display()))?;
    let hostname = Hostname::parse(&name)?;
    let reboot_for_packages = packages_need_reboot(
        root,
        inv.format,
        &inv.packages,
        inv.kernel.as_deref(),
        probe,
    );
    let report = InventoryReport::new(
        hostname,
        inv.os,
        inv.kernel,
        inv.format,
        inv.packages,
        Timestamp::now(),
    );
    Ok(Inventory {
        report,
        reboot_for_packages,
    })
}

/// The facts of a check-in: the inventory (with its hash), and the signals read every
/// time: Debian's `run/reboot-required` flag file and the processes still mapping
/// replaced libraries.
pub fn facts_of(inv: &Inventory, root: &Path) -> CheckIn {
    let report = inv.report.clone();
    CheckIn {
        agent_version: env!("CARGO_PKG_VERSION").to_owned(),
        sent_at: report.collected_at,
        inventory_hash: report.inventory_hash.clone(),
        kernel_running: report.kernel.clone(),
        reboot_required: inv.reboot_for_packages || root.join("run/reboot-required").exists(),
        inventory: Some(report),
        pending_updates: None,
        restart_needed: crate::facts::restart_needed(root),
        reports: Vec::new(),
    }
}

/// SIGTERM or SIGINT.
struct Shutdown {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Shutdown {
    fn new() -> Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            term: signal(SignalKind::terminate()).context("SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("SIGINT handler")?,
        })
    }

    async fn wait(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_with_jitter() {
        for n in 1..40 {
            let d = backoff(n);
            let base = (5u64 << (n - 1).min(20)).min(MAX_BACKOFF_SECS);
            assert!(d >= base / 2 && d <= base, "{n}: {d}");
        }
        assert!(backoff(30) >= MAX_BACKOFF_SECS / 2);
    }
}
