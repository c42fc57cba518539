//! The `open` column of `asset_findings`: one asset's open findings in a few bytes each.
//!
//! A finding is (number within the asset, detail id, first seen). Findings opened by
//! one sync get consecutive numbers and share their first-seen time, so the list is
//! stored as runs: the gap before the run's first number, the difference of its
//! first-seen time from the run before, its length, then each detail id as the
//! difference from the one before (zig-zag LEB128). A fleet re-match that opens 900
//! findings on a host writes one run of about a byte and a half per finding.

use crate::varint;
use crate::StoreError;

/// The highest finding number of one asset: a finding's id is the asset id shifted
/// left by 24 bits plus this number (see [`super::finding_id`]).
pub const MAX_SEQ: u32 = (1 << 24) - 1;

/// First byte of the column (a format tag, so another layout can follow).
const FORMAT: u8 = 0x01;

/// One open finding of an asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpenFinding {
    /// Its number within the asset (1..=[`MAX_SEQ`]); never reused.
    pub seq: u32,
    /// What it says: a `finding_details` row.
    pub detail: i64,
    /// When its deadline clock started, in storage microseconds.
    pub first_seen: i64,
}

/// Encodes findings ordered by strictly ascending `seq` (what a sync plan produces);
/// any other order is refused.
pub fn encode(open: &[OpenFinding]) -> Result<Vec<u8>, StoreError> {
    if !open.is_sorted_by(|a, b| a.seq < b.seq) || open.first().is_some_and(|f| f.seq == 0) {
        return Err(StoreError::Invalid(
            "open findings must have distinct numbers from 1 in ascending order".into(),
        ));
    }
    let mut out = Vec::with_capacity(8 + open.len() * 2);
    out.push(FORMAT);
    varint::put(&mut out, open.len() as u64);
    let (mut prev_seq, mut prev_seen, mut prev_detail) = (0u32, 0i64, 0i64);
    let mut i = 0;
    while let Some(first) = open.get(i) {
        let len = open[i..]
            .iter()
            .enumerate()
            .take_while(|(k, f)| f.first_seen == first.first_seen && f.seq == first.seq + *k as u32)
            .count();
        varint::put(&mut out, u64::from(first.seq - prev_seq - 1));
        varint::put_signed(&mut out, first.first_seen.wrapping_sub(prev_seen));
        varint::put(&mut out, len as u64);
        for f in &open[i..i + len] {
            varint::put_signed(&mut out, f.detail.wrapping_sub(prev_detail));
            prev_detail = f.detail;
        }
        prev_seq = first.seq + len as u32 - 1;
        prev_seen = first.first_seen;
        i += len;
    }
    Ok(out)
}

/// Decodes the column; anything malformed is [`StoreError::Corrupt`].
pub fn decode(bytes: &[u8]) -> Result<Vec<OpenFinding>, StoreError> {
    decode_inner(bytes).map_err(|why| StoreError::corrupt(format!("open findings: {why}")))
}

fn decode_inner(bytes: &[u8]) -> Result<Vec<OpenFinding>, &'static str> {
    if bytes.first() != Some(&FORMAT) {
        return Err("an unknown format");
    }
    let mut pos = 1;
    let count = varint::get(bytes, &mut pos)?;
    // Every finding takes at least one byte: a count beyond that is a lie, not a
    // reason to allocate.
    if count > (bytes.len() - pos) as u64 {
        return Err("a count larger than the column");
    }
    let mut out = Vec::with_capacity(count as usize);
    let (mut prev_seq, mut prev_seen, mut prev_detail) = (0u64, 0i64, 0i64);
    while (out.len() as u64) < count {
        let first = prev_seq + 1 + varint::get(bytes, &mut pos)?;
        let seen = prev_seen.wrapping_add(varint::get_signed(bytes, &mut pos)?);
        let len = varint::get(bytes, &mut pos)?;
        if len == 0 || len > count - out.len() as u64 {
            return Err("a run of a wrong length");
        }
        let last = first + len - 1;
        if last > u64::from(MAX_SEQ) {
            return Err("a finding number out of range");
        }
        for k in 0..len {
            prev_detail = prev_detail.wrapping_add(varint::get_signed(bytes, &mut pos)?);
            if prev_detail <= 0 {
                return Err("a detail id that is not positive");
            }
            out.push(OpenFinding {
                seq: (first + k) as u32,
                detail: prev_detail,
                first_seen: seen,
            });
        }
        prev_seq = last;
        prev_seen = seen;
    }
    if pos != bytes.len() {
        return Err("bytes after the last finding");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn f(seq: u32, detail: i64, first_seen: i64) -> OpenFinding {
        OpenFinding {
            seq,
            detail,
            first_seen,
        }
    }

    proptest! {
        #[test]
        fn round_trip(
            entries in proptest::collection::btree_map(
                1..=MAX_SEQ,
                (1..i64::MAX, prop_oneof![Just(1_700_000_000_000_000i64), any::<i64>()]),
                0..200,
            )
        ) {
            let open: Vec<OpenFinding> =
                entries.into_iter().map(|(s, (d, t))| f(s, d, t)).collect();
            let bytes = encode(&open).unwrap();
            prop_assert_eq!(decode(&bytes).unwrap(), open);
        }

        #[test]
        fn garbage_is_refused_or_read_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&bytes);
        }
    }

    #[test]
    fn one_sync_is_one_run_of_about_a_byte_per_finding() {
        let t = 1_780_000_000_000_000;
        let open: Vec<OpenFinding> = (1..=900)
            .map(|s| f(s, 40_000 + i64::from(s) * 3, t))
            .collect();
        let bytes = encode(&open).unwrap();
        assert!(bytes.len() < 920, "{} bytes", bytes.len());
        assert_eq!(decode(&bytes).unwrap(), open);
    }

    #[test]
    fn corrupt_columns_are_named() {
        let good = encode(&[f(1, 5, 10), f(2, 6, 10), f(7, 1, 99)]).unwrap();
        assert!(encode(&[f(2, 1, 1), f(2, 2, 1)]).is_err());
        assert!(encode(&[f(0, 1, 1)]).is_err());
        for (bytes, why) in [
            (vec![], "an unknown format"),
            (vec![0x02, 0], "an unknown format"),
            (vec![FORMAT, 100], "a count larger than the column"),
            (good[..good.len() - 1].to_vec(), "a truncated number"),
            (
                [good.as_slice(), &[0]].concat(),
                "bytes after the last finding",
            ),
            (vec![FORMAT, 1, 0, 0, 0, 2], "a run of a wrong length"),
            (
                vec![FORMAT, 1, 0, 0, 1, 1],
                "a detail id that is not positive",
            ),
        ] {
            let err = decode(&bytes).unwrap_err().to_string();
            assert!(err.contains(why), "{bytes:?}: {err}");
        }
        let mut past_max = vec![FORMAT, 1];
        varint::put(&mut past_max, u64::from(MAX_SEQ));
        past_max.extend([0, 1, 2]);
        assert!(decode(&past_max)
            .unwrap_err()
            .to_string()
            .contains("out of range"));
    }
}
