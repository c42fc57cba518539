//! Recent inventories kept as sorted runs of (canonical line, package id), so that a
//! report of a host like one seen before finds most of its ids by one merge walk
//! instead of one look-up in the whole cache per package.
//!
//! The cache's map holds every tuple of the fleet, far more than the processor's
//! caches: each of a report's 1,500 look-ups waits on memory two or three times (the
//! table, the key's bytes), and that was a tenth of a first report's time. Hosts of one
//! release run mostly the same packages, so a report is walked side by side with a
//! kept inventory of its kind: both are sorted, the walk reads memory in order, and
//! only the lines the reference lacks are looked up in the map.
//!
//! A reference holds only ids the cache had (committed rows, which never change), so
//! it is never stale: an id it gives is the one the map would give. Which reference a
//! report is walked with, if any, only decides how many look-ups remain.

use std::cmp::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

/// References kept at most (a few releases or host roles of a fleet).
const KEPT: usize = 8;
/// Lines of a report looked for in a reference to choose it.
const SAMPLES: usize = 8;
/// Lines an inventory has at least to be kept: a small one would push out a
/// reference that serves whole hosts, and saves few look-ups itself.
pub(super) const MIN_LINES: usize = 64;

/// One inventory's lines with the ids the cache had for them, sorted by line.
#[derive(Debug)]
pub(super) struct Reference {
    bytes: Vec<u8>,
    /// Where each line ends in `bytes`.
    ends: Vec<usize>,
    ids: Vec<i64>,
}

impl Reference {
    /// A reference of these lines and their ids (sorted here, distinct lines assumed:
    /// a checked inventory has no line twice).
    pub(super) fn new<'a>(lines: impl IntoIterator<Item = (&'a [u8], i64)>) -> Self {
        let mut pairs: Vec<(&[u8], i64)> = lines.into_iter().collect();
        // A checked inventory comes sorted by (name, arch, version); its lines, whose
        // tab separators sort before every other byte, are then sorted by bytes too,
        // and this finds them so.
        pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut r = Reference {
            bytes: Vec::with_capacity(pairs.iter().map(|(l, _)| l.len()).sum()),
            ends: Vec::with_capacity(pairs.len()),
            ids: Vec::with_capacity(pairs.len()),
        };
        for (line, id) in pairs {
            r.bytes.extend_from_slice(line);
            r.ends.push(r.bytes.len());
            r.ids.push(id);
        }
        r
    }

    fn len(&self) -> usize {
        self.ids.len()
    }

    fn line(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    fn contains(&self, line: &[u8]) -> bool {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.line(mid).cmp(line) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return true,
            }
        }
        false
    }

    /// A walk over the reference, for lines asked in ascending order.
    pub(super) fn walk(&self) -> Walk<'_> {
        Walk {
            reference: self,
            next: 0,
        }
    }
}

/// A cursor that moves forward through a [`Reference`].
pub(super) struct Walk<'r> {
    reference: &'r Reference,
    next: usize,
}

impl Walk<'_> {
    /// The id of `line` when the reference holds it at or after the cursor. Lines
    /// asked out of order are only found less often, never given a wrong id: an id is
    /// given only for a line equal to the reference's.
    pub(super) fn id_of(&mut self, line: &[u8]) -> Option<i64> {
        let r = self.reference;
        while self.next < r.len() {
            match r.line(self.next).cmp(line) {
                Ordering::Less => self.next += 1,
                Ordering::Equal => {
                    self.next += 1;
                    return Some(r.ids[self.next - 1]);
                }
                Ordering::Greater => return None,
            }
        }
        None
    }
}

/// The references kept, the one last chosen or added first.
#[derive(Debug, Default)]
pub(super) struct References {
    kept: Mutex<Vec<Arc<Reference>>>,
}

impl References {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Reference>>> {
        // A list of immutable entries: nothing a panicking holder could break.
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The reference to walk `lines` (sorted) with: the first kept one that holds at
    /// least half of a few lines spread over them (the walk then saves at least half
    /// the look-ups; the interner keeps a new reference when one serves less).
    /// `None` for an empty inventory or when none does.
    pub(super) fn choose(&self, lines: &[&[u8]]) -> Option<Arc<Reference>> {
        if lines.is_empty() {
            return None;
        }
        let n = lines.len().min(SAMPLES);
        let sample: Vec<&[u8]> = (0..n).map(|k| lines[k * lines.len() / n]).collect();
        let mut kept = self.lock();
        let at = kept.iter().position(|r| {
            let held = sample.iter().filter(|l| r.contains(l)).count();
            held * 2 >= n
        })?;
        let chosen = kept.remove(at);
        kept.insert(0, Arc::clone(&chosen));
        Some(chosen)
    }

    /// Keeps `r` first; the reference chosen least recently goes past [`KEPT`].
    pub(super) fn keep(&self, r: Reference) {
        let mut kept = self.lock();
        kept.insert(0, Arc::new(r));
        kept.truncate(KEPT);
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(lines: &[(&str, i64)]) -> Reference {
        Reference::new(lines.iter().map(|(l, id)| (l.as_bytes(), *id)))
    }

    #[test]
    fn a_walk_gives_the_ids_of_equal_lines_only() {
        // Given out of order: kept sorted.
        let r = reference(&[("c\tx", 3), ("a\tx", 1), ("b\tx", 2), ("e\tx", 5)]);
        let mut w = r.walk();
        let asked = ["a\tx", "a\ty", "b\tx", "d\tx", "e\tx", "f\tx"];
        let got: Vec<Option<i64>> = asked.iter().map(|l| w.id_of(l.as_bytes())).collect();
        assert_eq!(got, [Some(1), None, Some(2), None, Some(5), None]);
        // Asked out of order: a line behind the cursor is not found, none is misread.
        let mut w = r.walk();
        assert_eq!(w.id_of(b"c\tx"), Some(3));
        assert_eq!(w.id_of(b"a\tx"), None);
        assert_eq!(w.id_of(b"e\tx"), Some(5));
        // A prefix of a line is another line.
        assert_eq!(r.walk().id_of(b"c\t"), None);
        assert_eq!(r.walk().id_of(b"c\txx"), None);
        assert!(reference(&[]).walk().id_of(b"a").is_none());
    }

    fn as_slices(v: &[Vec<u8>]) -> Vec<&[u8]> {
        v.iter().map(Vec::as_slice).collect()
    }

    #[test]
    fn the_reference_chosen_holds_most_of_the_sample() {
        let refs = References::default();
        let lines = |names: &[&str]| -> Vec<Vec<u8>> {
            names
                .iter()
                .map(|n| format!("{n}\t1").into_bytes())
                .collect()
        };
        let deb = lines(&["a", "b", "c", "d", "e", "f", "g", "h"]);
        let rpm = lines(&["p", "q", "r", "s", "t", "u", "v", "w"]);
        assert!(refs.choose(&[]).is_none());
        assert!(refs.choose(&as_slices(&deb)).is_none());
        refs.keep(Reference::new(as_slices(&deb).into_iter().zip(1..)));
        refs.keep(Reference::new(as_slices(&rpm).into_iter().zip(100..)));
        // Most recent first, but only a reference holding the report's lines is chosen.
        let chosen = refs.choose(&as_slices(&deb)).unwrap();
        assert_eq!(chosen.walk().id_of(b"a\t1"), Some(1));
        // Four of eight lines held: chosen; three: not.
        let mut close = deb.clone();
        for i in [0, 3, 5, 7] {
            close[i].push(b'2');
        }
        assert!(refs.choose(&as_slices(&close)).is_some());
        close[6].push(b'2');
        assert!(refs.choose(&as_slices(&close)).is_none());
        for k in 0..KEPT + 3 {
            let id = i64::try_from(k).unwrap();
            refs.keep(Reference::new([(b"z".as_slice(), id)]));
        }
        assert_eq!(refs.len(), KEPT);
    }
}
