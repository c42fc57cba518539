//! `patchwarden-agent`: runs on each managed host. For now it reads and prints the
//! local package inventory; reporting to the server comes later.
//!
//! Invariant: this binary depends only on `patchwarden-domain`, `patchwarden-wire` and
//! `patchwarden-inventory`, never on server crates.

#![forbid(unsafe_code)]

mod inventory;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// The Patchwarden endpoint agent.
///
/// Reads what is installed on this host (dpkg, rpm or apk package database, OS release,
/// host name, kernel) and reports it to the Patchwarden server.
#[derive(Debug, Parser)]
#[command(name = "patchwarden-agent", version, about, long_about)]
struct Cli {
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
    Inventory(inventory::InventoryArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inventory(args) => inventory::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("patchwarden-agent: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
