//! Reads what is installed on a Linux host: the dpkg, rpm and apk package databases,
//! `/etc/os-release`, the host name and the kernel release.
//!
//! Two layers:
//! - **pure parsers** ([`dpkg`], [`rpm`], [`apk`], [`os_release`], [`arch`]) that take
//!   text and return [`Parsed`] packages plus [`ParseWarning`]s. They never fail and never
//!   panic: a malformed stanza or line is reported and skipped;
//! - **local collection** ([`collect_local`]) that finds the package database under a
//!   root directory, reads it with size caps and lossy UTF-8 decoding, and (for rpm
//!   only) runs the `rpm` binary;
//! - **pending updates** ([`pending`]): `apt-get -s dist-upgrade` and dnf
//!   `check-update`/`updateinfo` output parsed into updates flagged as security when
//!   the candidate comes from a security archive or advisory, and runners for the tools.
//!
//! No async runtime and no network here: this crate is used by the agent and by tests.
//!
//! # Canonical package records
//! Every parser produces the same shape for the same host, so that
//! [`patchwarden_domain::package::inventory_hash`] does not depend on how the list was
//! read:
//! - `source_name` is `None` when the source package has the binary package's name;
//! - `source_version` is `None` when the source version equals the binary's version
//!   (the usual case; it differs for Debian binNMUs such as `2.38.1-5+b1` from
//!   `util-linux (2.38.1-5)`);
//! - rpm versions are `epoch:version-release`, with the epoch only when it is non-zero,
//!   the way rpm prints an EVR.

#![forbid(unsafe_code)]

pub mod apk;
pub mod arch;
pub mod dpkg;
mod error;
mod local;
pub mod os_release;
mod parsed;
pub mod pending;
mod rootfs;
pub mod rpm;

pub use error::InventoryError;
pub use local::{collect_local, LocalInventory, LocalWarning};
pub use parsed::{ParseWarning, Parsed, MAX_LINE_BYTES, MAX_WARNINGS};
