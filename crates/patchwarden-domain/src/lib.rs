//! Pure domain types and rules of Patchwarden.
//!
//! This crate does no I/O and knows nothing about HTTP, SQL or an async runtime.
//! Everything that comes from outside (API bodies, agent reports, feeds) is turned into
//! these types at the edge, or rejected there with a [`ValidationError`].

#![forbid(unsafe_code)]

pub mod advisory;
pub mod asset;
pub mod audit;
pub mod clock;
mod error;
pub mod finding;
pub mod ids;
pub mod level;
pub mod package;
pub mod role;
pub mod user;

pub use error::ValidationError;
