//! The agent's integration tests: one binary, one module per area. They run the real
//! `patchwarden-agent` binary against `fake`, a test double of the server's agent
//! endpoints (the real ones are written in parallel).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod checkin;
mod cli;
mod deploy;
mod enroll;
mod fake;
mod footprint;
mod host;
mod jobs;
mod spool;
