//! Constructors and process checks shared by the unit tests of the deploy modules.

use patchwarden_domain::package::InstalledPackage;
use std::path::Path;
use std::time::{Duration, Instant};

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

/// Whether process `pid` runs (gone, or a zombie waiting for init to reap it, does
/// not).
pub(super) fn running(pid: &str) -> bool {
    let stat = Path::new("/proc").join(pid).join("stat");
    let state = std::fs::read_to_string(stat).unwrap_or_default();
    state
        .rsplit_once(") ")
        .is_some_and(|(_, rest)| !rest.starts_with('Z'))
}

/// Whether process `pid` still runs after up to 5 s: a `SIGKILL` sent takes effect
/// when the process is next scheduled, not when `kill` returns.
pub(super) fn still_running(pid: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while running(pid) {
        if Instant::now() >= deadline {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
