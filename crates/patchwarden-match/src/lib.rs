//! The matching engine.
//!
//! An [`AdvisoryIndex`] is built once from normalised advisories: every range is parsed
//! into byte-comparable version keys up front, and statements are keyed by
//! (distribution release, package name, binary/source). Matching a package is then a
//! hash lookup plus key comparisons; [`fleet::match_fleet`] evaluates each unique
//! (release, package, version, arch) once and fans the result out to every host that
//! has it. Every [`Finding`] carries a one-line evidence string that says why.

#![forbid(unsafe_code)]

mod distro;
pub mod fleet;
mod index;
pub mod level;
pub mod signal;

pub use distro::distro_key;
pub use index::{AdvisoryIndex, Finding, FindingStatus, Hit, HitKind, Release};
