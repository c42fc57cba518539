//! Alpine apk versions, ordered like apk-tools 3 (`src/version.c`):
//! `digit{.digit}...{letter}{_suffix{#}}...{~hash}{-r#}`.
//!
//! Pre-release suffixes `_alpha _beta _pre _rc` sort below "no suffix",
//! `_cvs _svn _git _hg _p` above it. A digit run with a leading zero
//! (after the first) compares as a string, like apk does.
//!
//! One deliberate extension: apk-tools 2 (Alpine 3.x until 2024) accepted a
//! number right after the letter (`6.6.2p1-r0`, real OpenSSH packages and
//! secdb entries); apk-tools 3 calls that invalid and compares two such
//! versions as equal, which would hide a fix. We accept it and order it the
//! way apk-tools 2 did (letter, then a number); see this crate's README.

use std::cmp::Ordering;
use std::fmt;

/// Why a string is not a valid apk version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApkReason {
    /// The string is empty.
    Empty,
    /// The version does not start with a digit.
    NoLeadingDigit,
    /// `_` followed by something other than a known suffix.
    UnknownSuffix(String),
    /// `~` not followed by lower-case hex digits.
    BadHash,
    /// `-` not followed by `r` and digits.
    BadRevision,
    /// A character that may not appear at this position.
    Unexpected {
        /// The character.
        ch: char,
        /// Its byte offset.
        at: usize,
    },
}

impl fmt::Display for ApkReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("version string is empty"),
            Self::NoLeadingDigit => f.write_str("version does not start with a digit"),
            Self::UnknownSuffix(s) => write!(f, "unknown suffix '_{s}'"),
            Self::BadHash => f.write_str("'~' must be followed by a lower-case hex commit hash"),
            Self::BadRevision => f.write_str("'-' must be followed by 'r' and a number"),
            Self::Unexpected { ch, at } => write!(f, "unexpected {ch:?} at offset {at}"),
        }
    }
}

/// apk-tools' token kinds, in apk-tools' numeric order (it matters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Initial = 0,
    Digit = 1,
    Letter = 2,
    Suffix = 3,
    SuffixNo = 4,
    Hash = 5,
    Revision = 6,
    End = 7,
}

/// Suffix values as in apk-tools; `NONE` (5) is the pivot.
const SUFFIXES: [(&str, u8); 9] = [
    ("alpha", 1),
    ("beta", 2),
    ("pre", 3),
    ("rc", 4),
    ("cvs", 6),
    ("svn", 7),
    ("git", 8),
    ("hg", 9),
    ("p", 10),
];
const SUFFIX_NONE: u8 = 5;

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Kind,
    /// Number (wrapping `u64`, as apk's `apk_blob_pull_uint`), letter byte or
    /// suffix value.
    value: u64,
    /// Span of the token's text in the version string.
    start: u32,
    end: u32,
}

/// A parsed, valid apk version.
#[derive(Debug, Clone)]
pub struct ApkVersion {
    text: Box<str>,
    tokens: Box<[Token]>,
}

fn digits(b: &[u8], i: usize) -> (usize, u64) {
    let mut j = i;
    let mut v: u64 = 0;
    while let Some(d) = b.get(j).filter(|c| c.is_ascii_digit()) {
        v = v.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
        j += 1;
    }
    (j, v)
}

impl ApkVersion {
    /// Parses and validates like apk-tools 3's `apk_version_validate`
    /// (plus the letter-number extension described in the module docs).
    pub fn parse(input: &str) -> Result<Self, ApkReason> {
        let b = input.as_bytes();
        if b.is_empty() {
            return Err(ApkReason::Empty);
        }
        if u32::try_from(b.len()).is_err() {
            return Err(ApkReason::Unexpected {
                ch: ' ',
                at: u32::MAX as usize,
            });
        }
        let (mut i, n) = digits(b, 0);
        if i == 0 {
            return Err(ApkReason::NoLeadingDigit);
        }
        let mut tokens = Vec::with_capacity(8);
        let tok = |kind, value, start: usize, end: usize| Token {
            kind,
            value,
            start: start as u32,
            end: end as u32,
        };
        tokens.push(tok(Kind::Initial, n, 0, i));
        // The state that decides what may follow; a letter-number keeps `Letter`.
        let mut state = Kind::Initial;
        while let Some(&c) = b.get(i) {
            let unexpected = ApkReason::Unexpected {
                ch: input[i..].chars().next().unwrap_or('?'),
                at: i,
            };
            let t = match c {
                b'a'..=b'z' if state <= Kind::Digit => {
                    i += 1;
                    state = Kind::Letter;
                    tok(Kind::Letter, u64::from(c), i - 1, i)
                }
                b'.' if state <= Kind::Digit => {
                    let (j, n) = digits(b, i + 1);
                    if j == i + 1 {
                        return Err(unexpected);
                    }
                    let t = tok(Kind::Digit, n, i + 1, j);
                    (i, state) = (j, Kind::Digit);
                    t
                }
                b'0'..=b'9' if matches!(state, Kind::Suffix | Kind::Letter) => {
                    let (j, n) = digits(b, i);
                    let kind = if state == Kind::Suffix {
                        Kind::SuffixNo
                    } else {
                        Kind::Digit
                    };
                    let t = tok(kind, n, i, j);
                    i = j;
                    if state == Kind::Suffix {
                        state = Kind::SuffixNo;
                    }
                    t
                }
                b'_' if state <= Kind::SuffixNo => {
                    let s = i + 1;
                    let e = s + b[s..].iter().take_while(|c| c.is_ascii_lowercase()).count();
                    let name = &input[s..e];
                    let Some(&(_, v)) = SUFFIXES.iter().find(|(n, _)| *n == name) else {
                        return Err(ApkReason::UnknownSuffix(name.to_owned()));
                    };
                    (i, state) = (e, Kind::Suffix);
                    tok(Kind::Suffix, u64::from(v), s, e)
                }
                b'~' if state < Kind::Hash => {
                    let s = i + 1;
                    let e = s + b[s..]
                        .iter()
                        .take_while(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
                        .count();
                    if e == s {
                        return Err(ApkReason::BadHash);
                    }
                    (i, state) = (e, Kind::Hash);
                    tok(Kind::Hash, 0, s, e)
                }
                b'-' if state < Kind::Revision => {
                    if b.get(i + 1) != Some(&b'r') {
                        return Err(ApkReason::BadRevision);
                    }
                    let (j, n) = digits(b, i + 2);
                    if j == i + 2 {
                        return Err(ApkReason::BadRevision);
                    }
                    let t = tok(Kind::Revision, n, i + 2, j);
                    (i, state) = (j, Kind::Revision);
                    t
                }
                _ => return Err(unexpected),
            };
            tokens.push(t);
        }
        Ok(Self {
            text: input.into(),
            tokens: tokens.into_boxed_slice(),
        })
    }

    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn span(&self, t: &Token) -> &[u8] {
        self.text
            .as_bytes()
            .get(t.start as usize..t.end as usize)
            .unwrap_or_default()
    }

    /// apk-tools' `apk_version_compare` on two valid versions.
    pub fn compare(&self, other: &Self) -> Ordering {
        let end = Token {
            kind: Kind::End,
            value: 0,
            start: 0,
            end: 0,
        };
        let mut k = 0;
        let (ta, tb) = loop {
            let ta = self.tokens.get(k).copied().unwrap_or(end);
            let tb = other.tokens.get(k).copied().unwrap_or(end);
            if ta.kind != tb.kind || ta.kind == Kind::End {
                break (ta, tb);
            }
            let ord = match ta.kind {
                Kind::Digit
                    if self.span(&ta).first() == Some(&b'0')
                        || other.span(&tb).first() == Some(&b'0') =>
                {
                    self.span(&ta).cmp(other.span(&tb))
                }
                Kind::Hash => self.span(&ta).cmp(other.span(&tb)),
                _ => ta.value.cmp(&tb.value),
            };
            if ord != Ordering::Equal {
                return ord;
            }
            k += 1;
        };
        if ta.kind == tb.kind {
            return Ordering::Equal;
        }
        let pre = |t: &Token| t.kind == Kind::Suffix && t.value < u64::from(SUFFIX_NONE);
        if pre(&ta) {
            return Ordering::Less;
        }
        if pre(&tb) {
            return Ordering::Greater;
        }
        tb.kind.cmp(&ta.kind)
    }

    /// A key whose byte order (memcmp) equals [`ApkVersion::compare`].
    pub fn sort_key(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.tokens.len() * 10 + 1);
        for t in self.tokens.iter() {
            match t.kind {
                Kind::Suffix if t.value < u64::from(SUFFIX_NONE) => {
                    out.extend_from_slice(&[0x01, t.value as u8]);
                }
                Kind::Suffix => out.extend_from_slice(&[0x07, t.value as u8]),
                Kind::Letter => out.extend_from_slice(&[0x08, t.value as u8]),
                Kind::Hash => {
                    out.push(0x05);
                    out.extend_from_slice(self.span(t));
                    out.push(0x00);
                }
                Kind::Digit if self.span(t).first() == Some(&b'0') => {
                    out.extend_from_slice(&[0x09, 0x00]);
                    out.extend_from_slice(self.span(t));
                    out.push(0x00);
                }
                Kind::Digit => {
                    out.extend_from_slice(&[0x09, 0x01]);
                    out.extend_from_slice(&t.value.to_be_bytes());
                }
                Kind::Revision | Kind::SuffixNo | Kind::Initial => {
                    // Higher apk kind = lower rank, so these sit in the middle.
                    out.push(match t.kind {
                        Kind::Revision => 0x04,
                        Kind::SuffixNo => 0x06,
                        _ => 0x0a,
                    });
                    out.extend_from_slice(&t.value.to_be_bytes());
                }
                Kind::End => {}
            }
        }
        out.push(0x03);
        out
    }
}

impl fmt::Display for ApkVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> ApkVersion {
        ApkVersion::parse(s).unwrap()
    }

    #[test]
    fn validity() {
        for ok in [
            "1",
            "1.2.3",
            "1.2a",
            "1.2_alpha1_p2",
            "1.0~abc123-r4",
            "6.6.2p1-r0",
            "1.0_rc",
            "01.002",
        ] {
            assert!(ApkVersion::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "a", ".1", "1.", "1..2", "1.2_blah", "1-r", "1-x", "1~", "1~ABC", "1aa", "1a.2",
            "1-r0-r1", "1.2A",
        ] {
            assert!(ApkVersion::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ordering() {
        let lt = |a, b| assert_eq!(v(a).compare(&v(b)), Ordering::Less, "{a} < {b}");
        lt("1.0_alpha", "1.0");
        lt("1.0", "1.0_p1");
        lt("1.0", "1.0-r1");
        lt("1.0_rc1", "1.0_rc2");
        lt("8.2.0", "8.2.001");
        lt("6.0_pre1", "6.0");
        lt("6.6.2_p1", "6.6.2p1");
        lt("6.6.2p1-r0", "6.6.2p2-r0");
    }
}
