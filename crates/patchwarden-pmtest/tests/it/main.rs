//! Tests of the harness itself: real apt and dnf on an alternate root, and proof that
//! the host's own package databases were not touched.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod apt;
mod dnf;
mod spec;
