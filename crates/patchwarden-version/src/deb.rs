//! Debian / dpkg versions: `[epoch:]upstream[-revision]`.
//!
//! Parsing follows libdpkg's `parseversion` (including its error texts), and
//! ordering follows dpkg's `verrevcmp`: `~` sorts before everything (even the
//! end of the string), letters sort before non-letters, digit runs compare
//! numerically.

use std::cmp::Ordering;
use std::fmt;

use crate::key::{cmp_decimal, push_decimal};

/// Why dpkg would refuse a version string; the texts are dpkg's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DebReason {
    /// `version string is empty`
    Empty,
    /// `version string has embedded spaces`
    EmbeddedSpaces,
    /// `epoch in version is empty`
    EpochEmpty,
    /// `epoch in version is not number`
    EpochNotNumber,
    /// `epoch in version is negative`
    EpochNegative,
    /// `epoch in version is too big`
    EpochTooBig,
    /// `nothing after colon in version number`
    NothingAfterColon,
    /// `revision number is empty`
    RevisionEmpty,
    /// `version number is empty`
    UpstreamEmpty,
    /// `version number does not start with digit`
    UpstreamNoLeadingDigit,
    /// `invalid character in version number`
    UpstreamInvalidChar,
    /// `invalid character in revision number`
    RevisionInvalidChar,
}

impl fmt::Display for DebReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "version string is empty",
            Self::EmbeddedSpaces => "version string has embedded spaces",
            Self::EpochEmpty => "epoch in version is empty",
            Self::EpochNotNumber => "epoch in version is not number",
            Self::EpochNegative => "epoch in version is negative",
            Self::EpochTooBig => "epoch in version is too big",
            Self::NothingAfterColon => "nothing after colon in version number",
            Self::RevisionEmpty => "revision number is empty",
            Self::UpstreamEmpty => "version number is empty",
            Self::UpstreamNoLeadingDigit => "version number does not start with digit",
            Self::UpstreamInvalidChar => "invalid character in version number",
            Self::RevisionInvalidChar => "invalid character in revision number",
        })
    }
}

/// A parsed, valid Debian version.
#[derive(Debug, Clone)]
pub struct DebVersion {
    epoch: u32,
    /// The version with surrounding blanks trimmed, as dpkg keeps it.
    text: Box<str>,
    /// Byte offset of the upstream part in `text` (after `epoch:`).
    upstream_start: usize,
    /// Byte offset of the `-` before the revision, or `text.len()`.
    upstream_end: usize,
}

impl DebVersion {
    /// Parses like libdpkg's `parseversion`; every case dpkg reports (as an
    /// error or as a warning) is an error here.
    pub fn parse(input: &str) -> Result<Self, DebReason> {
        let blank = |c: u8| c == b' ' || c == b'\t';
        let bytes = input.as_bytes();
        let start = bytes
            .iter()
            .position(|&c| !blank(c))
            .ok_or(DebReason::Empty)?;
        let end = bytes[start..]
            .iter()
            .position(|&c| blank(c))
            .map_or(bytes.len(), |p| start + p);
        if bytes[end..].iter().any(|&c| !blank(c)) {
            return Err(DebReason::EmbeddedSpaces);
        }
        let text = &input[start..end];
        let t = text.as_bytes();
        let (epoch, upstream_start) = match t.iter().position(|&c| c == b':') {
            Some(colon) => (parse_epoch(&t[..colon])?, colon + 1),
            None => (0, 0),
        };
        // dpkg looks at the raw string here, trailing blanks included.
        if upstream_start > 0 && start + upstream_start == bytes.len() {
            return Err(DebReason::NothingAfterColon);
        }
        let rest = &t[upstream_start..];
        let upstream_end = match rest.iter().rposition(|&c| c == b'-') {
            Some(h) if h + 1 == rest.len() => return Err(DebReason::RevisionEmpty),
            Some(h) => upstream_start + h,
            None => t.len(),
        };
        let upstream = &t[upstream_start..upstream_end];
        match upstream.first() {
            None => return Err(DebReason::UpstreamEmpty),
            Some(c) if !c.is_ascii_digit() => return Err(DebReason::UpstreamNoLeadingDigit),
            Some(_) => {}
        }
        if !upstream
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || b".-+~:".contains(&c))
        {
            return Err(DebReason::UpstreamInvalidChar);
        }
        let revision = t.get(upstream_end + 1..).unwrap_or_default();
        if !revision
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || b".+~".contains(&c))
        {
            return Err(DebReason::RevisionInvalidChar);
        }
        Ok(Self {
            epoch,
            text: text.into(),
            upstream_start,
            upstream_end,
        })
    }

    /// The epoch (0 when absent).
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The upstream version (between `epoch:` and the last `-`).
    pub fn upstream(&self) -> &str {
        self.text
            .get(self.upstream_start..self.upstream_end)
            .unwrap_or_default()
    }

    /// The Debian revision (after the last `-`), empty when absent.
    pub fn revision(&self) -> &str {
        self.text.get(self.upstream_end + 1..).unwrap_or_default()
    }

    /// The version as written (surrounding blanks trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// dpkg's ordering: epoch, then upstream, then revision with `verrevcmp`.
    pub fn compare(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(self.upstream().as_bytes(), other.upstream().as_bytes()))
            .then_with(|| verrevcmp(self.revision().as_bytes(), other.revision().as_bytes()))
    }

    /// A key whose byte order (memcmp) equals [`DebVersion::compare`].
    pub fn sort_key(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.text.len() + 16);
        out.extend_from_slice(&self.epoch.to_be_bytes());
        push_part_key(&mut out, self.upstream().as_bytes());
        push_part_key(&mut out, self.revision().as_bytes());
        out
    }
}

impl fmt::Display for DebVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `strtol`-like epoch parsing with dpkg's checks, in dpkg's order.
fn parse_epoch(s: &[u8]) -> Result<u32, DebReason> {
    let mut i = s
        .iter()
        .take_while(|c| c.is_ascii_whitespace() || **c == 0x0b)
        .count();
    let negative = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits = &s[i..];
    let n = digits.iter().take_while(|c| c.is_ascii_digit()).count();
    if n == 0 {
        return Err(DebReason::EpochEmpty);
    }
    if n != digits.len() {
        return Err(DebReason::EpochNotNumber);
    }
    let is_zero = digits.iter().all(|&c| c == b'0');
    if negative && !is_zero {
        return Err(DebReason::EpochNegative);
    }
    let mut value: u64 = 0;
    for &d in digits {
        value = value.saturating_mul(10).saturating_add(u64::from(d - b'0'));
    }
    u32::try_from(value)
        .ok()
        .filter(|v| *v <= i32::MAX as u32)
        .ok_or(DebReason::EpochTooBig)
}

/// dpkg's character weight: `~` < end of part < letters < everything else.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`, on byte strings.
pub(crate) fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        let (si, sj) = (i, j);
        while digit(a, i) {
            i += 1;
        }
        while digit(b, j) {
            j += 1;
        }
        let ord = cmp_decimal(&a[si..i], &b[sj..j]);
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// Byte weights for the non-digit runs; see [`order`].
const TILDE: u8 = 0x01;
const END_OF_RUN: u8 = 0x02;

/// Encodes one `verrevcmp` string: (non-digit run, number) pairs, each run
/// closed by `END_OF_RUN`, and one final `END_OF_RUN` standing for the
/// implicit ("", 0) padding dpkg compares a shorter string with.
fn push_part_key(out: &mut Vec<u8>, s: &[u8]) {
    let mut i = 0;
    loop {
        while let Some(&c) = s.get(i).filter(|c| !c.is_ascii_digit()) {
            out.push(match c {
                b'~' => TILDE,
                c if c.is_ascii_alphabetic() => c,
                // dpkg's `parseversion` only admits ASCII punctuation here.
                c => 0x80 | c,
            });
            i += 1;
        }
        out.push(END_OF_RUN);
        let start = i;
        while s.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        push_decimal(out, &s[start..i]);
        if i >= s.len() {
            break;
        }
    }
    out.push(END_OF_RUN);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> DebVersion {
        DebVersion::parse(s).unwrap()
    }

    #[test]
    fn parts() {
        let x = v(" 2:1.0-1-3+b1 ");
        assert_eq!(
            (x.epoch(), x.upstream(), x.revision()),
            (2, "1.0-1", "3+b1")
        );
        assert_eq!(x.to_string(), "2:1.0-1-3+b1");
        assert_eq!(v("1.0").revision(), "");
    }

    #[test]
    fn dpkg_reasons() {
        let err = |s| DebVersion::parse(s).unwrap_err();
        assert_eq!(err(""), DebReason::Empty);
        assert_eq!(err("1 2"), DebReason::EmbeddedSpaces);
        assert_eq!(err("a:1"), DebReason::EpochEmpty);
        assert_eq!(err("1a:1"), DebReason::EpochNotNumber);
        assert_eq!(err("-1:1"), DebReason::EpochNegative);
        assert_eq!(err("2147483648:1"), DebReason::EpochTooBig);
        assert_eq!(err("1:"), DebReason::NothingAfterColon);
        assert_eq!(err("1-"), DebReason::RevisionEmpty);
        assert_eq!(err("1:-1"), DebReason::UpstreamEmpty);
        assert_eq!(err("a1"), DebReason::UpstreamNoLeadingDigit);
        assert_eq!(err("1_2"), DebReason::UpstreamInvalidChar);
        assert_eq!(err("1-2:3"), DebReason::EpochNotNumber);
        assert_eq!(err("1:1-2:3"), DebReason::RevisionInvalidChar);
        assert_eq!(v("2147483647:1").epoch(), i32::MAX as u32);
    }

    #[test]
    fn ordering_basics() {
        let lt = |a, b| assert_eq!(v(a).compare(&v(b)), Ordering::Less, "{a} < {b}");
        lt("1.0~rc1", "1.0");
        lt("1.0", "1.0a");
        lt("1.0a", "1.0+");
        lt("1.0", "1.0.1");
        lt("1:0.1", "2:0.0");
        lt("1.9", "1.10");
        assert_eq!(v("1.0").compare(&v("1.0-0")), Ordering::Equal);
        assert_eq!(v("1.0").compare(&v("1.")), Ordering::Equal);
        assert_eq!(v("1").compare(&v("1.0")), Ordering::Less);
        assert_eq!(
            DebVersion::parse("1: ").unwrap_err(),
            DebReason::UpstreamEmpty
        );
        assert_eq!(v("1.0").compare(&v("1.00")), Ordering::Equal);
    }
}
