//! Integration tests of `patchwarden-inventory`: real third-party fixtures, this
//! machine's real dpkg database, temporary roots, and property tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fixtures;
mod local;
mod pending;
mod pending_props;
mod pending_real;
mod props;
mod this_machine;

use patchwarden_domain::package::InstalledPackage;
use std::path::PathBuf;

/// A file under `/work/shared/fixtures/inventories`, relative to the crate directory.
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from("../../../shared/fixtures/inventories").join(rel)
}

/// Reads a fixture as text (the files are UTF-8).
pub fn read_fixture(rel: &str) -> String {
    let path = fixture(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The package named `name` (the first, if several arches are installed).
pub fn find<'a>(packages: &'a [InstalledPackage], name: &str) -> &'a InstalledPackage {
    packages
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no package {name}"))
}
