//! Package version orderings for Patchwarden: Debian (dpkg), RPM (librpm)
//! and Alpine (apk-tools), written here and checked against the real tools.
//!
//! Each scheme has a parsed type with `compare` and `sort_key`; the key is a
//! byte string whose memcmp order equals `compare`, so "installed < fixed"
//! can be an index range scan in SQL (`BLOB`/`bytea` columns compare with
//! memcmp).
//!
//! ```
//! use patchwarden_version::{compare_str, parse, Scheme};
//! use std::cmp::Ordering;
//!
//! assert_eq!(compare_str(Scheme::Deb, "1.0~rc1-1", "1.0-1"), Ok(Ordering::Less));
//! let a = parse(Scheme::Rpm, "1:2.0-1.el9").unwrap();
//! let b = parse(Scheme::Rpm, "2.0-2.el9").unwrap();
//! assert!(a.sort_key() > b.sort_key());
//! ```
#![forbid(unsafe_code)]

pub mod apk;
pub mod deb;
mod key;
pub mod rpm;
#[cfg(feature = "serde")]
mod serde_impl;

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

pub use apk::{ApkReason, ApkVersion};
pub use deb::{DebReason, DebVersion};
pub use rpm::{RpmReason, RpmVersion};

/// A version ordering scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    /// Debian and derivatives (dpkg).
    Deb,
    /// RPM-based distributions (librpm).
    Rpm,
    /// Alpine Linux (apk-tools).
    Apk,
}

impl Scheme {
    /// All schemes.
    pub const ALL: [Scheme; 3] = [Scheme::Deb, Scheme::Rpm, Scheme::Apk];

    /// The lower-case name: `deb`, `rpm` or `apk`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Deb => "deb",
            Scheme::Rpm => "rpm",
            Scheme::Apk => "apk",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scheme name was not `deb`, `rpm` or `apk`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown version scheme '{0}' (expected deb, rpm or apk)")]
pub struct UnknownScheme(pub String);

impl FromStr for Scheme {
    type Err = UnknownScheme;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "deb" | "dpkg" => Ok(Scheme::Deb),
            "rpm" => Ok(Scheme::Rpm),
            "apk" => Ok(Scheme::Apk),
            other => Err(UnknownScheme(other.to_owned())),
        }
    }
}

/// A version string that is not valid in its scheme. The messages read like
/// the tools' own (dpkg's texts are verbatim).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// dpkg would refuse (or warn about) this version.
    #[error("version '{version}' has bad syntax: {reason}")]
    Deb {
        /// The input.
        version: String,
        /// dpkg's reason.
        reason: DebReason,
    },
    /// Not an RPM EVR.
    #[error("invalid rpm version '{version}': {reason}")]
    Rpm {
        /// The input.
        version: String,
        /// Why.
        reason: RpmReason,
    },
    /// apk-tools would call this version invalid.
    #[error("'{version}' is not a valid apk version: {reason}")]
    Apk {
        /// The input.
        version: String,
        /// Why.
        reason: ApkReason,
    },
}

/// A parsed version of any scheme.
#[derive(Debug, Clone)]
pub enum Version {
    /// A Debian version.
    Deb(DebVersion),
    /// An RPM EVR.
    Rpm(RpmVersion),
    /// An Alpine version.
    Apk(ApkVersion),
}

impl Version {
    /// The scheme of this version.
    pub fn scheme(&self) -> Scheme {
        match self {
            Version::Deb(_) => Scheme::Deb,
            Version::Rpm(_) => Scheme::Rpm,
            Version::Apk(_) => Scheme::Apk,
        }
    }

    /// The version as written (dpkg versions with surrounding blanks trimmed).
    pub fn as_str(&self) -> &str {
        match self {
            Version::Deb(v) => v.as_str(),
            Version::Rpm(v) => v.as_str(),
            Version::Apk(v) => v.as_str(),
        }
    }

    /// Compares two versions of the same scheme; `None` across schemes.
    pub fn compare(&self, other: &Version) -> Option<Ordering> {
        match (self, other) {
            (Version::Deb(a), Version::Deb(b)) => Some(a.compare(b)),
            (Version::Rpm(a), Version::Rpm(b)) => Some(a.compare(b)),
            (Version::Apk(a), Version::Apk(b)) => Some(a.compare(b)),
            _ => None,
        }
    }

    /// The byte-comparable key: for two versions `a`, `b` of one scheme,
    /// `a.sort_key().cmp(&b.sort_key()) == a.compare(&b)`.
    /// Keys of different schemes must not be compared with each other.
    pub fn sort_key(&self) -> Vec<u8> {
        match self {
            Version::Deb(v) => v.sort_key(),
            Version::Rpm(v) => v.sort_key(),
            Version::Apk(v) => v.sort_key(),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses `input` as a version of `scheme`.
pub fn parse(scheme: Scheme, input: &str) -> Result<Version, ParseError> {
    let version = || input.to_owned();
    match scheme {
        Scheme::Deb => DebVersion::parse(input)
            .map(Version::Deb)
            .map_err(|reason| ParseError::Deb {
                version: version(),
                reason,
            }),
        Scheme::Rpm => RpmVersion::parse(input)
            .map(Version::Rpm)
            .map_err(|reason| ParseError::Rpm {
                version: version(),
                reason,
            }),
        Scheme::Apk => ApkVersion::parse(input)
            .map(Version::Apk)
            .map_err(|reason| ParseError::Apk {
                version: version(),
                reason,
            }),
    }
}

/// Parses both strings and compares them (`a` relative to `b`).
pub fn compare_str(scheme: Scheme, a: &str, b: &str) -> Result<Ordering, ParseError> {
    let (a, b) = (parse(scheme, a)?, parse(scheme, b)?);
    // Same scheme by construction, so `compare` always answers.
    Ok(a.compare(&b).unwrap_or(Ordering::Equal))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_names_round_trip() {
        for s in Scheme::ALL {
            assert_eq!(s.as_str().parse::<Scheme>(), Ok(s));
        }
        assert!("pep440".parse::<Scheme>().is_err());
    }

    #[test]
    fn error_messages_read_like_the_tools() {
        let e = parse(Scheme::Deb, "0:").unwrap_err();
        assert_eq!(
            e.to_string(),
            "version '0:' has bad syntax: nothing after colon in version number"
        );
        let e = parse(Scheme::Rpm, "1 2").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid rpm version '1 2': Illegal char ' ' (0x20)"
        );
        let e = parse(Scheme::Apk, "1.2_blah").unwrap_err();
        assert_eq!(
            e.to_string(),
            "'1.2_blah' is not a valid apk version: unknown suffix '_blah'"
        );
    }

    #[test]
    fn cross_scheme_compare_is_none() {
        let a = parse(Scheme::Deb, "1").unwrap();
        let b = parse(Scheme::Rpm, "1").unwrap();
        assert_eq!(a.compare(&b), None);
        assert_eq!(
            compare_str(Scheme::Apk, "1.0", "1.0-r1"),
            Ok(Ordering::Less)
        );
    }
}
