//! The `patchwarden` command line: server, quickstart and administration.

use crate::config::{Config, Overrides, DEFAULT_CONFIG};
use crate::service::users;
use crate::state::AppState;
use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use patchwarden_domain::clock::{Clock, SystemClock};
use patchwarden_domain::role::{Role, RoleSet};
use patchwarden_domain::user::Username;
use patchwarden_store::AuditCtx;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(
    name = "patchwarden",
    version,
    about = "Patchwarden: self-hosted security patch management",
    long_about = "Patchwarden runs the closed patch loop: inventory, advisories, findings, \
                  evaluation, test ring, maintenance-window deployment, verification and review, \
                  with rollback, deadlines, exceptions, approvals and a tamper-evident audit log.\n\n\
                  Configuration: defaults < --config FILE < PATCHWARDEN_<SECTION>_<KEY> environment \
                  variables < flags. `patchwarden config default` prints every key."
)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct GlobalArgs {
    /// TOML configuration file.
    #[arg(long, short = 'c', global = true, env = "PATCHWARDEN_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL (sqlite://FILE or postgres://...); overrides the config.
    #[arg(long, global = true)]
    database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (REST API and scheduler) until SIGTERM or Ctrl-C.
    Serve {
        /// Address to listen on; overrides server.listen.
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Try Patchwarden on this machine: creates ./patchwarden-data with an embedded
    /// database, prints a one-time administrator password on first run, registers this
    /// machine with its installed packages and serves on 127.0.0.1:8080.
    Quickstart {
        /// Where the data lives (reused on the next run).
        #[arg(long, default_value = "patchwarden-data")]
        data_dir: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Read the package database under this root instead of /.
        #[arg(long, default_value = "/")]
        root: PathBuf,
        /// Set everything up, print the summary and exit without serving.
        #[arg(long)]
        no_serve: bool,
        /// Do not try to download the default feeds (OSV for this distribution, CISA
        /// KEV, EPSS); use the package manager's security-origin signal only.
        #[arg(long)]
        offline: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// User administration.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The tamper-evident audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Advisory feeds.
    #[command(subcommand)]
    Advisories(AdvisoriesCommand),
    /// Vulnerability-scanner reports (Nessus, OpenVAS/Greenbone).
    #[command(subcommand)]
    Scans(ScansCommand),
    /// Configuration.
    #[command(subcommand, name = "config")]
    Configuration(ConfigCommand),
    /// Compare package versions as dpkg, rpm or apk would. No arguments: read `A B`
    /// pairs from standard input and print <, = or > per line. `A B`: print the
    /// answer. `A OP B`: exit 0 if it holds, 1 if not. Invalid versions exit 2.
    Scan(ScanCli),
    Vercmp {
        /// deb, rpm or apk
        #[arg(long, value_parser = parse_scheme)]
        scheme: patchwarden_version::Scheme,
        /// `A B` or `A OP B` (OP: < <= = >= > != or lt le eq ge gt ne)
        #[arg(allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// Scan this machine (or an inventory file) against advisory feeds, with no server:
/// prints each finding with its level, fixed version and advisory.
#[derive(Debug, Args)]
struct ScanCli {
    /// Advisory feeds: OSV files/directories/zips, CSAF, Debian tracker/DSA lists,
    /// Alpine secdb, KEV, EPSS, CVE 5, NVD (repeatable).
    #[arg(long = "advisories", short = 'a', required = true)]
    advisories: Vec<PathBuf>,
    /// Read the package database under this root (default: this machine).
    #[arg(long, default_value = "/", conflicts_with_all = ["dpkg_status", "rpm_qa", "apk_installed"])]
    root: PathBuf,
    /// A dpkg status file or `dpkg-query -W` output.
    #[arg(long)]
    dpkg_status: Option<PathBuf>,
    /// `rpm -qa` output (plain or with patchwarden's query format).
    #[arg(long)]
    rpm_qa: Option<PathBuf>,
    /// An apk installed database (/lib/apk/db/installed).
    #[arg(long)]
    apk_installed: Option<PathBuf>,
    /// Distribution release as ecosystem:release (e.g. almalinux:9); needed for files.
    #[arg(long)]
    distro: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also list findings a not-affected (VEX) statement suppresses.
    #[arg(long)]
    show_suppressed: bool,
    /// Exit 1 if a finding at or above this level exists (critical, high, medium, low, normal).
    #[arg(long, value_parser = parse_level)]
    fail_on: Option<patchwarden_domain::level::Level>,
}

fn parse_level(s: &str) -> Result<patchwarden_domain::level::Level, String> {
    s.parse()
        .map_err(|e: patchwarden_domain::ValidationError| e.reason)
}

fn parse_scheme(s: &str) -> Result<patchwarden_version::Scheme, String> {
    s.parse()
        .map_err(|e: patchwarden_version::UnknownScheme| e.to_string())
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create a local user. Prints a one-time password unless --password-stdin is given.
    CreateUser {
        #[arg(long)]
        username: String,
        /// Role to grant (repeat for several): administrator, security, operator,
        /// application_owner, system_owner, approver, auditor.
        #[arg(long = "role", value_parser = parse_role)]
        roles: Vec<Role>,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new one-time password for a user and end their sessions.
    ResetPassword {
        #[arg(long)]
        username: String,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk the hash chain; exit 1 and name the first broken link if any row was
    /// altered or deleted.
    Verify,
    /// Write every event as one JSON object per line (for a SIEM).
    Export {
        /// Only events after this sequence number.
        #[arg(long)]
        after: Option<i64>,
        /// Output file (default: standard output).
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum AdvisoriesCommand {
    /// Import feed files, directories or zips into the database (for air-gapped sites),
    /// then re-match the assets they touch. Re-importing is idempotent; changed
    /// advisories are updated in place and audited. Malformed records are listed and
    /// skipped.
    Import {
        /// Files, directories or zips (OSV, CSAF/VEX, Debian tracker and DSA/DLA lists,
        /// Alpine secdb, CISA KEV, EPSS, CVE JSON 5, NVD API 2.0).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        /// Draw the progress bar even when standard error is not a terminal.
        #[arg(long)]
        progress: bool,
    },
    /// Fetch the feeds configured in [feeds] now (HTTPS, checksums verified when
    /// published), store them and re-match. Exit 1 if any feed failed.
    Sync {
        /// Print the results as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Re-level every open finding under the current [levels] rule and the stored
    /// KEV/EPSS/CVSS data (run it after changing the rule; imports re-level what they
    /// change by themselves). Deadlines are recounted from each finding's first-seen time.
    Relevel,
}

#[derive(Debug, Subcommand)]
enum ScansCommand {
    /// Import Nessus (.nessus v2, CSV) or OpenVAS/Greenbone (XML, CSV) reports: hosts
    /// attach to assets by host name or address (or become new assets), credentialed
    /// local checks are confirmed or contradicted against agent inventories.
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print the summaries as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the commented default configuration.
    Default,
    /// Load the configuration as the server would and print it, secrets redacted.
    Check,
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse::<Role>().map_err(|e| e.reason)
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(g: &GlobalArgs, listen: Option<SocketAddr>) -> anyhow::Result<Config> {
    Ok(Config::load(
        g.config.as_deref(),
        &Overrides {
            listen,
            database_url: g.database_url.clone(),
        },
    )?)
}

/// Logs go to standard error so that command output on standard out stays clean.
pub fn init_logging(cfg: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&cfg.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match cfg.log.format {
        crate::config::LogFormat::Json => builder.json().try_init(),
        crate::config::LogFormat::Text => builder.try_init(),
    };
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = &cli.global;
    match cli.command {
        Command::Vercmp { scheme, args } => Ok(crate::vercmp::run(scheme, &args)),
        Command::Scan(s) => {
            use crate::scan::{InventorySource, ScanArgs};
            let inventory = if let Some(p) = s.dpkg_status {
                InventorySource::DpkgStatus(p)
            } else if let Some(p) = s.rpm_qa {
                InventorySource::RpmQa(p)
            } else if let Some(p) = s.apk_installed {
                InventorySource::ApkInstalled(p)
            } else {
                InventorySource::Root(s.root)
            };
            crate::scan::run(&ScanArgs {
                inventory,
                distro: s.distro,
                advisories: s.advisories,
                json: s.json,
                show_suppressed: s.show_suppressed,
                fail_on: s.fail_on,
            })
        }
        Command::Configuration(ConfigCommand::Default) => {
            print!("{DEFAULT_CONFIG}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Configuration(ConfigCommand::Check) => {
            let cfg = load_config(g, None)?;
            print!("{}", cfg.to_redacted_toml());
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { listen } => {
            let cfg = load_config(g, listen)?;
            init_logging(&cfg);
            let (state, admin) = crate::server::prepare(cfg).await?;
            if let Some((name, pw)) = admin {
                print_first_admin(&name, &pw);
            }
            let server = crate::server::Server::bind(state).await?;
            tracing::info!(address = %server.local_addr, scheme = server.scheme(), database = server.state.store.backend(), "patchwarden listening");
            println!("listening on {}://{}", server.scheme(), server.local_addr);
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            let scheduler = tokio::spawn(crate::service::feed_sync::run_schedule(
                server.state.clone(),
                stop_rx,
            ));
            server.run(crate::server::shutdown_signal()).await?;
            let _ = stop_tx.send(true);
            let _ = scheduler.await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Quickstart {
            data_dir,
            listen,
            root,
            no_serve,
            offline,
        } => {
            crate::quickstart::run(
                g.config.as_deref(),
                &data_dir,
                &crate::quickstart::Options {
                    listen,
                    root,
                    no_serve,
                    offline,
                },
            )
            .await
        }
        Command::Migrate => {
            let cfg = load_config(g, None)?;
            let store = crate::server::open_store(&cfg).await?;
            store.close().await;
            println!(
                "migrations applied ({})",
                crate::config::redact_url(&cfg.database.url)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin(cmd) => admin(load_config(g, None)?, cmd).await,
        Command::Audit(cmd) => audit(load_config(g, None)?, cmd).await,
        Command::Scans(ScansCommand::Import { files, json }) => {
            let cfg = load_config(g, None)?;
            crate::feeds::scans_cli(cli_state(cfg).await?, &files, json).await
        }
        Command::Advisories(AdvisoriesCommand::Sync { json }) => {
            let cfg = load_config(g, None)?;
            init_logging(&cfg);
            crate::feeds::sync_cli(cli_state(cfg).await?, json).await
        }
        Command::Advisories(AdvisoriesCommand::Relevel) => {
            let cfg = load_config(g, None)?;
            init_logging(&cfg);
            let state = cli_state(cfg).await?;
            let ctx = cli_ctx(&state);
            let n = crate::service::matching::relevel_all(&state, &ctx)
                .await
                .map_err(|e| anyhow::anyhow!(e.internal.unwrap_or(e.message)))?;
            state.store.close().await;
            println!("{n} open findings re-levelled");
            Ok(ExitCode::SUCCESS)
        }
        Command::Advisories(AdvisoriesCommand::Import {
            paths,
            json,
            progress,
        }) => {
            let cfg = load_config(g, None)?;
            crate::feeds::import_cli(cli_state(cfg).await?, &paths, json, progress).await
        }
    }
}

/// Printed once, on first run, to standard output.
pub fn print_first_admin(name: &str, password: &str) {
    println!("First run: created the administrator account.");
    println!("  user name:           {name}");
    println!("  one-time password:   {password}");
    println!("This password is shown only now; you must change it at first login.");
}

pub(crate) async fn cli_state(cfg: Config) -> anyhow::Result<AppState> {
    let store = crate::server::open_store(&cfg).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    Ok(AppState::new(store, clock, cfg))
}

pub(crate) fn cli_ctx(state: &AppState) -> AuditCtx {
    let who = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    AuditCtx::system(&format!("cli:{who}"), state.clock.now())
}

async fn admin(cfg: Config, cmd: AdminCommand) -> anyhow::Result<ExitCode> {
    let state = cli_state(cfg).await?;
    let ctx = cli_ctx(&state);
    let result = match cmd {
        AdminCommand::CreateUser {
            username,
            roles,
            display_name,
            email,
            password_stdin,
        } => {
            let username = Username::parse(&username)?;
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                Some(line.trim_end_matches(['\r', '\n']).to_owned())
            } else {
                None
            };
            let created = users::create(
                &state,
                &ctx,
                username,
                display_name.as_deref(),
                email.as_deref(),
                password.as_deref(),
                RoleSet::new(roles),
            )
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?;
            println!(
                "created user {} (id {}) with roles [{}]",
                created.user.username,
                created.user.id,
                created.user.roles.to_csv()
            );
            if let Some(pw) = created.one_time_password {
                println!("one-time password: {pw}");
                println!("(shown only now; it must be changed at first login)");
            }
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::ResetPassword { username } => {
            let username = Username::parse(&username)?;
            let Some((user, _)) = state.store.get_user_credentials(&username).await? else {
                bail!("no user named {username}");
            };
            let pw = crate::auth::secret::random_password();
            let hash = state
                .passwords
                .hash(&pw)
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
            state.store.set_password(&ctx, user.id, &hash, true).await?;
            state.store.delete_user_sessions(user.id).await?;
            println!("one-time password for {username}: {pw}");
            Ok(ExitCode::SUCCESS)
        }
    };
    state.store.close().await;
    result
}

async fn audit(cfg: Config, cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    let state = cli_state(cfg).await?;
    let result = match cmd {
        AuditCommand::Verify => {
            let v = crate::service::audit::verify(state.store.as_ref()).await?;
            println!("{}", v.message);
            if let (Some(seq), Some(hash)) = (v.head_seq, &v.head_hash) {
                println!("head: event {seq}, hash {hash}");
            }
            Ok(if v.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        AuditCommand::Export { after, output } => {
            let mut out: Box<dyn Write> = match &output {
                Some(p) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(p)
                        .with_context(|| format!("cannot create {}", p.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            let n = crate::service::audit::for_each_event(state.store.as_ref(), after, |ev| {
                serde_json::to_writer(&mut out, ev)
                    .map_err(|e| patchwarden_store::StoreError::Backend(Box::new(e)))?;
                out.write_all(b"\n")
                    .map_err(|e| patchwarden_store::StoreError::Backend(Box::new(e)))
            })
            .await?;
            out.flush()?;
            drop(out);
            if output.is_some() {
                eprintln!("exported {n} events");
            }
            Ok(ExitCode::SUCCESS)
        }
    };
    state.store.close().await;
    result
}
