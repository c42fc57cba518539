//! Processes that still map shared libraries replaced on disk (after a library
//! upgrade): they run the old, unpatched code until restarted. Read from
//! `<root>/proc/<pid>/maps`, where the kernel marks such mappings `(deleted)`.

use std::io::Read;
use std::path::Path;

/// Most processes reported (sorted by name, then pid).
pub const MAX_REPORTED: usize = 100;
/// Largest `maps` file read per process.
const MAX_MAPS_BYTES: u64 = 4 * 1024 * 1024;

/// `name[pid]` of every process mapping a deleted shared library, sorted, at most
/// [`MAX_REPORTED`]. Unreadable processes (gone, or not ours) are skipped.
pub fn restart_needed(root: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root.join("proc")) else {
        return Vec::new();
    };
    let mut out: Vec<(String, u32)> = entries
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let mut maps = String::new();
            std::fs::File::open(e.path().join("maps"))
                .ok()?
                .take(MAX_MAPS_BYTES)
                .read_to_string(&mut maps)
                .ok()?;
            if !maps.lines().any(maps_deleted_library) {
                return None;
            }
            let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
            let comm: String = comm
                .trim()
                .chars()
                .filter(|c| !c.is_control())
                .take(32)
                .collect();
            Some((if comm.is_empty() { "?".into() } else { comm }, pid))
        })
        .collect();
    out.sort();
    out.into_iter()
        .take(MAX_REPORTED)
        .map(|(name, pid)| format!("{name}[{pid}]"))
        .collect()
}

/// A `maps` line of a shared library that was deleted or replaced on disk.
fn maps_deleted_library(line: &str) -> bool {
    let Some(path) = line.strip_suffix(" (deleted)") else {
        return false;
    };
    let path = path.rsplit(' ').next().unwrap_or("");
    path.starts_with('/')
        && path.contains(".so")
        && !path.starts_with("/dev/")
        && !path.starts_with("/memfd:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_processes_with_replaced_libraries() {
        let dir = tempfile::tempdir().unwrap();
        let proc = dir.path().join("proc");
        let mk = |pid: &str, comm: &str, maps: &str| {
            let p = proc.join(pid);
            std::fs::create_dir_all(&p).unwrap();
            std::fs::write(p.join("comm"), format!("{comm}\n")).unwrap();
            std::fs::write(p.join("maps"), maps).unwrap();
        };
        mk(
            "812",
            "sshd",
            "7f1c2a000000-7f1c2a1b0000 r-xp 00000000 08:01 131 /usr/lib/x86_64-linux-gnu/libssl.so.3 (deleted)\n",
        );
        mk(
            "990",
            "nginx",
            "7f1c2a000000-7f1c2a1b0000 r-xp 00000000 08:01 131 /usr/lib/x86_64-linux-gnu/libssl.so.3\n",
        );
        mk(
            "77",
            "postgres",
            "7f00-7f10 rw-s 00000000 00:01 9 /dev/shm/PostgreSQL.1 (deleted)\n",
        );
        mk("self", "x", "garbage");
        assert_eq!(restart_needed(dir.path()), ["sshd[812]"]);
        assert!(restart_needed(&dir.path().join("nowhere")).is_empty());
    }
}
