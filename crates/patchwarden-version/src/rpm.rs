//! RPM versions: `[epoch:]version[-release]`, ordered like librpm 4.18
//! (`rpmverParse` + `rpmverCmp`, i.e. `rpm.vercmp` in rpm's Lua and
//! `rpm.ver` in python3-rpm).
//!
//! Quirks kept on purpose because rpm has them: only ASCII letters and digits
//! form segments (every other byte, including non-ASCII, is a separator);
//! a missing release sorts before any release, even an empty one (`1 < 1-`);
//! the epoch is whatever digits precede the first `:` (`a:1` has no epoch).

use std::cmp::Ordering;
use std::fmt;

use crate::key::{cmp_decimal, push_decimal};

/// Why a string is refused as an RPM version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RpmReason {
    /// The string is empty (`rpmverParse` returns NULL: "invalid version").
    Empty,
    /// A whitespace or control character; rpm's spec parser says
    /// `Illegal char ' ' (0x20)` for these.
    IllegalChar(char),
}

impl fmt::Display for RpmReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("version string is empty"),
            Self::IllegalChar(c) => write!(f, "Illegal char {:?} (0x{:02x})", c, u32::from(*c)),
        }
    }
}

/// A parsed RPM EVR.
#[derive(Debug, Clone)]
pub struct RpmVersion {
    text: Box<str>,
    /// Length of the epoch digits, when a `:` follows them.
    epoch_len: Option<usize>,
    /// Byte offset of the `-` before the release, when there is one.
    release_dash: Option<usize>,
}

impl RpmVersion {
    /// Splits like librpm's `parseEVR`. Empty strings, whitespace and control
    /// characters are refused (rpm itself never produces them in an EVR).
    pub fn parse(input: &str) -> Result<Self, RpmReason> {
        if input.is_empty() {
            return Err(RpmReason::Empty);
        }
        if let Some(c) = input.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(RpmReason::IllegalChar(c));
        }
        let b = input.as_bytes();
        let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let epoch_len = (b.get(digits) == Some(&b':')).then_some(digits);
        let release_dash = b[digits..]
            .iter()
            .rposition(|&c| c == b'-')
            .map(|p| p + digits);
        Ok(Self {
            text: input.into(),
            epoch_len,
            release_dash,
        })
    }

    /// The epoch digits as written; `None` when there is no `epoch:` prefix.
    /// An empty epoch (`:1`) reads as `"0"`, as in rpm.
    pub fn epoch(&self) -> Option<&str> {
        self.epoch_len
            .map(|n| if n == 0 { "0" } else { &self.text[..n] })
    }

    /// The version part.
    pub fn version(&self) -> &str {
        let start = self.epoch_len.map_or(0, |n| n + 1);
        let end = self.release_dash.unwrap_or(self.text.len());
        self.text.get(start..end).unwrap_or_default()
    }

    /// The release part, `None` when there is no `-`.
    pub fn release(&self) -> Option<&str> {
        self.release_dash
            .map(|d| self.text.get(d + 1..).unwrap_or_default())
    }

    /// The string as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `rpmverCmp`: epoch (missing = 0), version, release (missing < any).
    pub fn compare(&self, other: &Self) -> Ordering {
        fn e(v: &RpmVersion) -> &[u8] {
            v.epoch().unwrap_or("0").as_bytes()
        }
        rpmvercmp(e(self), e(other))
            .then_with(|| rpmvercmp(self.version().as_bytes(), other.version().as_bytes()))
            .then_with(|| match (self.release(), other.release()) {
                (Some(a), Some(b)) => rpmvercmp(a.as_bytes(), b.as_bytes()),
                (a, b) => a.is_some().cmp(&b.is_some()),
            })
    }

    /// A key whose byte order (memcmp) equals [`RpmVersion::compare`].
    pub fn sort_key(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.text.len() + 16);
        push_decimal(&mut out, self.epoch().unwrap_or("0").as_bytes());
        push_segments_key(&mut out, self.version().as_bytes());
        match self.release() {
            None => out.push(0x00),
            Some(r) => {
                out.push(0x01);
                push_segments_key(&mut out, r.as_bytes());
            }
        }
        out
    }
}

impl fmt::Display for RpmVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// One unit of `rpmvercmp`'s walk over a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seg<'a> {
    Tilde,
    Caret,
    Alpha(&'a [u8]),
    Num(&'a [u8]),
}

/// Yields the segments of a version string; separators vanish.
struct Segments<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Iterator for Segments<'a> {
    type Item = Seg<'a>;
    fn next(&mut self) -> Option<Seg<'a>> {
        let s = self.s;
        while self.i < s.len()
            && !s[self.i].is_ascii_alphanumeric()
            && !matches!(s[self.i], b'~' | b'^')
        {
            self.i += 1;
        }
        let start = self.i;
        let c = *s.get(start)?;
        self.i += 1;
        Some(match c {
            b'~' => Seg::Tilde,
            b'^' => Seg::Caret,
            c if c.is_ascii_digit() => {
                while s.get(self.i).is_some_and(u8::is_ascii_digit) {
                    self.i += 1;
                }
                Seg::Num(&s[start..self.i])
            }
            _ => {
                while s.get(self.i).is_some_and(u8::is_ascii_alphabetic) {
                    self.i += 1;
                }
                Seg::Alpha(&s[start..self.i])
            }
        })
    }
}

/// Rank of a segment (or of the end, `None`) when kinds differ:
/// `~` < end < `^` < letters < digits.
fn rank(seg: Option<Seg<'_>>) -> u8 {
    match seg {
        Some(Seg::Tilde) => 1,
        None => 2,
        Some(Seg::Caret) => 3,
        Some(Seg::Alpha(_)) => 4,
        Some(Seg::Num(_)) => 5,
    }
}

/// librpm's `rpmvercmp` on byte strings.
pub(crate) fn rpmvercmp(a: &[u8], b: &[u8]) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let mut sa = Segments { s: a, i: 0 };
    let mut sb = Segments { s: b, i: 0 };
    loop {
        let (x, y) = (sa.next(), sb.next());
        let ord = match (x, y) {
            (None, None) => return Ordering::Equal,
            (Some(Seg::Alpha(p)), Some(Seg::Alpha(q))) => p.cmp(q),
            (Some(Seg::Num(p)), Some(Seg::Num(q))) => cmp_decimal(p, q),
            _ => rank(x).cmp(&rank(y)),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
}

/// Encodes the segment sequence, then the end marker. Each segment encoding
/// starts with its rank byte and is prefix-free.
fn push_segments_key(out: &mut Vec<u8>, s: &[u8]) {
    for seg in (Segments { s, i: 0 }) {
        out.push(rank(Some(seg)));
        match seg {
            Seg::Tilde | Seg::Caret => {}
            Seg::Alpha(p) => {
                out.extend_from_slice(p);
                out.push(0x00);
            }
            Seg::Num(p) => push_decimal(out, p),
        }
    }
    out.push(rank(None));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> RpmVersion {
        RpmVersion::parse(s).unwrap()
    }

    #[test]
    fn evr_split_like_parse_evr() {
        let x = v("1:2-3-4");
        assert_eq!(
            (x.epoch(), x.version(), x.release()),
            (Some("1"), "2-3", Some("4"))
        );
        let y = v("a:1");
        assert_eq!((y.epoch(), y.version(), y.release()), (None, "a:1", None));
        assert_eq!(v(":1").epoch(), Some("0"));
        assert_eq!(v("1-").release(), Some(""));
        assert!(RpmVersion::parse("").is_err());
        assert!(RpmVersion::parse("1 2").is_err());
    }

    #[test]
    fn rpm_quirks() {
        assert_eq!(v("1").compare(&v("1-")), Ordering::Less);
        assert_eq!(v("0:1").compare(&v("1")), Ordering::Equal);
        assert_eq!(v("1.0^").compare(&v("1.0")), Ordering::Greater);
        assert_eq!(v("1.0~rc1").compare(&v("1.0")), Ordering::Less);
        assert_eq!(v("1b.fc17").compare(&v("1.fc17")), Ordering::Less);
        assert_eq!(v("1.1.α").compare(&v("1.1.ββ")), Ordering::Equal);
    }
}
