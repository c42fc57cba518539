//! The command line: `inventory`, `enroll`, `checkin`, `run`, `config`.

use crate::checkin::{read_inventory, Agent, CycleError};
use crate::client::{Client, ClientError};
use crate::config::{check_server_url, AgentConfig, DEFAULT_CONFIG_PATH, DEFAULT_CONFIG_TOML};
use crate::inventory::{self, InventoryArgs};
use crate::state::{sha256_hex, Enrollment, StateDir};
use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use patchwarden_domain::asset::Hostname;
use patchwarden_wire::agent::EnrollRequest;
use patchwarden_wire::sign::{check_public_key, SecretKey};
use std::path::PathBuf;

/// Exit code when the server revoked this agent (a service manager should not
/// restart it: `RestartPreventExitStatus=3`).
pub const EXIT_REVOKED: u8 = 3;

/// The Patchwarden endpoint agent.
///
/// Reads what is installed on this host (dpkg, rpm or apk package database, OS release,
/// host name, kernel) and reports it to the Patchwarden server; runs the jobs the
/// server signs, within what the local configuration allows.
#[derive(Debug, Parser)]
#[command(name = "patchwarden-agent", version, about, long_about)]
pub struct Cli {
    /// Configuration file (TOML).
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "PATCHWARDEN_AGENT_CONFIG",
        default_value = DEFAULT_CONFIG_PATH
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the local package inventory.
    ///
    /// Detects the package database under --root (var/lib/dpkg/status,
    /// lib/apk/db/installed, or an rpm database read with `rpm --root`), and prints the
    /// inventory report the agent would send: JSON (the wire `InventoryReport`) or a
    /// table. Malformed records are skipped and reported on standard error.
    Inventory(InventoryArgs),
    /// Enrol this host with a server, using a token an administrator created.
    ///
    /// Generates the agent's Ed25519 key, pins the server's job-signing key and (with
    /// --ca-cert or `ca_cert`) the CA certificate of the server, and stores them in the
    /// state directory.
    Enroll(EnrollArgs),
    /// Check in once (deliver spooled reports, run the jobs of the reply) and exit.
    Checkin,
    /// Check in on the configured interval until stopped (SIGTERM) or revoked.
    Run,
    /// Configuration helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Args)]
struct EnrollArgs {
    /// Server URL, e.g. https://patchwarden.example.org:8443 (default: `server_url`).
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// The enrolment token (prefer the environment variable: argv is visible to all).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "PATCHWARDEN_ENROLL_TOKEN",
        hide_env_values = true
    )]
    token: String,
    /// PEM CA certificate to trust for the server, and only it (default: `ca_cert`).
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// Host name to enrol under, instead of the one the system reports.
    #[arg(long, value_name = "NAME")]
    hostname: Option<String>,
    /// Replace an existing enrolment (a new key; the old agent id is abandoned).
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the commented default configuration.
    Default,
    /// Check the configuration file and print it with the defaults filled in.
    Check,
}

/// Why the program stops.
#[derive(Debug)]
pub enum Failure {
    Revoked(anyhow::Error),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        match e.downcast_ref::<ClientError>() {
            Some(ClientError::Revoked(_)) => Self::Revoked(e),
            _ => Self::Other(e),
        }
    }
}

pub fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Inventory(args) => Ok(inventory::run(&args)?),
        Command::Config(ConfigCommand::Default) => {
            print!("{DEFAULT_CONFIG_TOML}");
            Ok(())
        }
        Command::Config(ConfigCommand::Check) => {
            let cfg = AgentConfig::load(&cli.config, false)?;
            print!(
                "{}",
                toml::to_string(&cfg).context("printing the configuration")?
            );
            Ok(())
        }
        Command::Enroll(args) => {
            let cfg = AgentConfig::load(&cli.config, true)?;
            runtime()?.block_on(enroll(&cfg, args))?;
            Ok(())
        }
        Command::Checkin => {
            let cfg = AgentConfig::load(&cli.config, false)?;
            let rt = runtime()?;
            let mut agent = Agent::open(cfg, rt.handle().clone())?;
            match rt.block_on(agent.cycle()) {
                Ok(_) => Ok(()),
                Err(CycleError::Fatal(e) | CycleError::Retry(e)) => Err(e.into()),
            }
        }
        Command::Run => {
            let cfg = AgentConfig::load(&cli.config, false)?;
            let rt = runtime()?;
            let mut agent = Agent::open(cfg, rt.handle().clone())?;
            Ok(rt.block_on(agent.run_loop())?)
        }
    }
}

/// A single-threaded runtime: the agent does one thing at a time and stays small.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

async fn enroll(cfg: &AgentConfig, args: EnrollArgs) -> Result<()> {
    let state = StateDir::open(&cfg.state_dir)?;
    if state.is_enrolled() && !args.force {
        let (e, _) = state.load_enrollment()?;
        bail!(
            "already enrolled as agent {} with {}; pass --force to enrol again",
            e.agent_id,
            e.server_url
        );
    }
    let server = args
        .server
        .or_else(|| cfg.server_url.clone())
        .context("no server: pass --server URL or set server_url")?;
    let url = check_server_url(&server)?;
    let ca_pem = match args.ca_cert.as_ref().or(cfg.ca_cert.as_ref()) {
        Some(path) => Some(
            std::fs::read(path)
                .with_context(|| format!("cannot read the CA certificate {}", path.display()))?,
        ),
        None => None,
    };
    let client = Client::new(url.clone(), ca_pem.as_deref())?;
    let inventory = read_inventory(cfg, None)?.report;
    let hostname = match args.hostname {
        Some(h) => Hostname::parse(&h)?,
        None => inventory.hostname,
    };
    let key = SecretKey::generate();
    let response = client
        .enroll(&EnrollRequest {
            token: args.token,
            hostname,
            os: inventory.os,
            public_key: key.public_b64(),
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
        })
        .await?;
    check_public_key(&response.server_job_key)
        .context("the server's job key in the enrolment reply is not a valid Ed25519 key")?;
    let enrollment = Enrollment {
        agent_id: response.agent_id,
        asset_id: response.asset_id,
        server_url: server,
        server_job_key: response.server_job_key,
        ca_cert_sha256: ca_pem.as_deref().map(sha256_hex),
        enrolled_at: jiff::Timestamp::now(),
    };
    state.save_enrollment(&key, ca_pem.as_deref(), &enrollment)?;
    println!(
        "enrolled as agent {} (asset {}) with {}; state in {}",
        enrollment.agent_id,
        enrollment.asset_id,
        enrollment.server_url,
        state.path().display()
    );
    Ok(())
}
