//! The Patchwarden server: REST API, scheduler and admin CLI, as a library so that tests
//! drive the router without a socket ([`app::app`]) or boot the real server
//! ([`server::Server`]). The `patchwarden` binary is a thin wrapper around [`cli`].

#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod error;
mod feeds;
pub mod openapi;
pub mod quickstart;
pub mod scan;
pub mod server;
pub mod service;
pub mod state;
mod tls;
pub mod vercmp;

pub use app::app;
pub use state::AppState;
