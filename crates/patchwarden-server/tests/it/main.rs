//! Integration tests of the server: the real router over a socket (through the testkit)
//! and the real `patchwarden` binary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod agent_jobs;
mod agents;
mod api_basics;
mod audit_chain;
mod auth_flow;
mod cli;
mod durability;
mod feed_sync;
mod findings;
mod openapi_sync;
mod quickstart;
mod rematch_all;
mod role_matrix;
mod scan;
mod scans;
mod suppressed_findings;
mod tls;
mod vercmp;
