//! A cheap watch on the package database, so that a check-in re-reads and hashes the
//! inventory only when it may have changed: the size, modification and change times,
//! inode and device of each database file under the root are compared with those of
//! the last read (a few `stat` calls, portable, no inotify), and the inventory is read
//! again anyway once it is [`MAX_AGE`] old, as a safety net.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The package database files, relative to the root: dpkg's status file, apk's
/// installed db, and rpm's database (sqlite with its write-ahead log, ndb, Berkeley
/// DB) in both of its locations. Absent files are watched too: appearing is a change.
pub const WATCHED: &[&str] = &[
    "var/lib/dpkg/status",
    "lib/apk/db/installed",
    "usr/lib/sysimage/rpm/rpmdb.sqlite",
    "usr/lib/sysimage/rpm/rpmdb.sqlite-wal",
    "usr/lib/sysimage/rpm/Packages.db",
    "usr/lib/sysimage/rpm/Packages",
    "var/lib/rpm/rpmdb.sqlite",
    "var/lib/rpm/rpmdb.sqlite-wal",
    "var/lib/rpm/Packages.db",
    "var/lib/rpm/Packages",
];

/// The inventory is read again at least this often, changed or not.
pub const MAX_AGE: Duration = Duration::from_secs(6 * 3600);

/// What `stat` says about one file (symbolic links followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    ino: u64,
    dev: u64,
}

/// The stamp of each [`WATCHED`] file under `root`, `None` where there is none.
pub fn stamps(root: &Path) -> Vec<Option<Stamp>> {
    WATCHED
        .iter()
        .map(|rel| {
            std::fs::metadata(root.join(rel)).ok().map(|m| Stamp {
                len: m.len(),
                mtime: (m.mtime(), m.mtime_nsec()),
                ctime: (m.ctime(), m.ctime_nsec()),
                ino: m.ino(),
                dev: m.dev(),
            })
        })
        .collect()
}

#[derive(Debug)]
struct Entry<T> {
    at: Instant,
    stamps: Vec<Option<Stamp>>,
    value: T,
}

/// A value read from the package database under `root`, kept while the database
/// files are unchanged and younger than `max_age`.
#[derive(Debug)]
pub struct Cached<T> {
    root: PathBuf,
    max_age: Duration,
    last: Option<Entry<T>>,
}

impl<T> Cached<T> {
    pub fn new(root: &Path, max_age: Duration) -> Self {
        Self {
            root: root.to_owned(),
            max_age,
            last: None,
        }
    }

    /// The value of the last read when no database file changed since and it is
    /// younger than `max_age` at `now`; else `read()` (whose error is not kept: the
    /// next call reads again). The files are stamped before the read, so a change
    /// during it is seen next time.
    pub fn get<E>(&mut self, now: Instant, read: impl FnOnce() -> Result<T, E>) -> Result<&T, E> {
        let stamps = stamps(&self.root);
        let entry = match self.last.take() {
            Some(e) if e.stamps == stamps && now.saturating_duration_since(e.at) < self.max_age => {
                e
            }
            _ => Entry {
                at: now,
                stamps,
                value: read()?,
            },
        };
        Ok(&self.last.insert(entry).value)
    }

    /// Forgets the value: the next [`Self::get`] reads (after a job that may have
    /// changed packages, whatever the stamps say).
    pub fn invalidate(&mut self) {
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::cell::Cell;
    use std::fs::File;
    use std::time::SystemTime;

    /// Reads through `c`, returning the value and counting the reads in `reads`.
    fn get(c: &mut Cached<u32>, now: Instant, reads: &Cell<u32>) -> u32 {
        let value = *c
            .get(now, || {
                reads.set(reads.get() + 1);
                Ok::<_, ()>(reads.get())
            })
            .unwrap();
        value
    }

    #[test]
    fn the_database_is_read_again_only_when_it_changed_or_is_old() {
        let dir = tempfile::tempdir().unwrap();
        let status = dir.path().join("var/lib/dpkg/status");
        std::fs::create_dir_all(status.parent().unwrap()).unwrap();
        std::fs::write(&status, "Package: a\nVersion: 1\n").unwrap();
        let mut c = Cached::new(dir.path(), MAX_AGE);
        let reads = Cell::new(0);
        let t0 = Instant::now();

        assert_eq!(get(&mut c, t0, &reads), 1);
        // Unchanged stat: the value of the first read, nothing read.
        assert_eq!(get(&mut c, t0 + Duration::from_secs(300), &reads), 1);
        assert_eq!(get(&mut c, t0 + Duration::from_secs(600), &reads), 1);

        // dpkg's way: a new file renamed over the old one (same size, new inode).
        let new = dir.path().join("var/lib/dpkg/status-new");
        std::fs::write(&new, "Package: a\nVersion: 2\n").unwrap();
        std::fs::rename(&new, &status).unwrap();
        assert_eq!(get(&mut c, t0 + Duration::from_secs(900), &reads), 2);
        assert_eq!(get(&mut c, t0 + Duration::from_secs(901), &reads), 2);

        // Touched in place: same inode and size, another modification time.
        let later = SystemTime::now() + Duration::from_secs(3600);
        File::options()
            .write(true)
            .open(&status)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert_eq!(get(&mut c, t0 + Duration::from_secs(1200), &reads), 3);

        // Rewritten in place with other content and size.
        std::fs::write(&status, "Package: a\nVersion: 3.0\n").unwrap();
        assert_eq!(get(&mut c, t0 + Duration::from_secs(1500), &reads), 4);

        // Unchanged, but older than the maximum age: read again.
        let at = t0 + Duration::from_secs(1500);
        assert_eq!(
            get(&mut c, at + MAX_AGE - Duration::from_secs(1), &reads),
            4
        );
        assert_eq!(get(&mut c, at + MAX_AGE, &reads), 5);

        // Another database appearing (an rpm db) is a change too.
        let rpm = dir.path().join("var/lib/rpm");
        std::fs::create_dir_all(&rpm).unwrap();
        std::fs::write(rpm.join("rpmdb.sqlite"), "x").unwrap();
        assert_eq!(get(&mut c, at + MAX_AGE, &reads), 6);

        // After a job: read again whatever the stamps say.
        c.invalidate();
        assert_eq!(get(&mut c, at + MAX_AGE, &reads), 7);
        assert_eq!(get(&mut c, at + MAX_AGE, &reads), 7);
    }

    #[test]
    fn a_failed_read_is_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut c: Cached<u32> = Cached::new(dir.path(), MAX_AGE);
        let t0 = Instant::now();
        assert_eq!(c.get(t0, || Err("no database")), Err("no database"));
        assert_eq!(c.get(t0, || Ok::<_, &str>(1)), Ok(&1));
        assert_eq!(c.get(t0, || Err("not read")), Ok(&1));
    }
}
