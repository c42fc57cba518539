//! `patchwarden-agent`: runs on each managed host. Reads the local inventory, enrols
//! with a server, checks in on an interval (a small heartbeat when nothing changed),
//! spools job reports until the server acknowledges them, and runs the jobs the server
//! signed with the key pinned at enrolment.
//!
//! Invariant: this binary depends only on `patchwarden-domain`, `patchwarden-wire` and
//! `patchwarden-inventory`, never on server crates.

#![forbid(unsafe_code)]

mod checkin;
mod cli;
mod client;
mod config;
mod deploy;
mod facts;
mod health;
mod inventory;
mod jobs;
mod pending;
mod spool;
mod state;
mod watch;

use clap::Parser;
use std::process::ExitCode;

/// A line on standard error (the journal, under systemd).
pub(crate) fn info(msg: &str) {
    eprintln!("patchwarden-agent: {msg}");
}

pub(crate) fn warn(msg: &str) {
    eprintln!("patchwarden-agent: warning: {msg}");
}

fn main() -> ExitCode {
    match cli::run(cli::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(cli::Failure::Revoked(e)) => {
            eprintln!("patchwarden-agent: error: {e:#}; stopping");
            ExitCode::from(cli::EXIT_REVOKED)
        }
        Err(cli::Failure::Other(e)) => {
            eprintln!("patchwarden-agent: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
