//! Constructors shared by the unit tests of the deploy modules.

use patchwarden_domain::package::InstalledPackage;

/// An installed package `name` `version` for `arch`, with no source package.
pub(super) fn pkg(name: &str, version: &str, arch: &str) -> InstalledPackage {
    InstalledPackage {
        name: name.into(),
        version: version.into(),
        arch: arch.into(),
        source_name: None,
        source_version: None,
    }
}
