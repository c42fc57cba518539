//! The normalised advisory model. Every feed (OSV, CSAF/VEX, the Debian tracker, vendor
//! lists) is parsed into these types at the edge; matching works only on them.
//!
//! Ranges follow the rustsec convention: `introduced` is inclusive, `fixed` exclusive,
//! and versions are compared with the distribution's own ordering. A range may end at
//! its last affected version instead (OSV `last_affected`, inclusive) when no fix is
//! known, and may be capped by a `limit` (exclusive, OSV `limit`) that is not a fix.

use crate::package::PackageFormat;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Where a distribution release's packages come from, as matching keys it:
/// `ecosystem` is the os-release `ID` family name in lower case (`debian`, `ubuntu`,
/// `almalinux`, `rocky`, `rhel`, `alpine` ...), `release` the major release as the
/// distribution names it (`12`, `22.04`, `9`, `3.19`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DistroRelease {
    pub ecosystem: String,
    pub release: String,
}

impl std::fmt::Display for DistroRelease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.ecosystem, self.release)
    }
}

/// Vendor severity as published, normalised to one scale. `raw` keeps the original word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeverityLevel {
    None,
    Negligible,
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorSeverity {
    pub level: SeverityLevel,
    /// The word the source used (`Important`, `moderate`, `urgent` ...).
    pub raw: String,
}

/// CVSS version of a vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CvssVersion {
    #[serde(rename = "2.0")]
    V2,
    #[serde(rename = "3.0")]
    V3_0,
    #[serde(rename = "3.1")]
    V3_1,
    #[serde(rename = "4.0")]
    V4,
}

/// A CVSS vector and its base score, computed from the vector (never trusted from the
/// feed when the vector can be parsed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cvss {
    pub version: CvssVersion,
    pub vector: String,
    pub base_score: f64,
}

/// What a source says about one package in one distribution release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PackageState {
    /// Versions in any of `ranges` are affected; a range's `fixed` is the first good
    /// version. A fixed state always has at least one range with a `fixed` version;
    /// other ranges may be open or end at `last_affected` (no fix known for them).
    Fixed { ranges: Vec<VersionRange> },
    /// Known affected and no fix published yet (ranges may narrow it, e.g. up to a
    /// `last_affected` version; empty = all).
    AffectedNoFix { ranges: Vec<VersionRange> },
    /// Not affected (VEX `known_not_affected`, Debian `<not-affected>`); suppresses
    /// other sources' findings, with the reason shown.
    NotAffected { justification: Option<String> },
    /// The vendor will not fix it (Debian `<no-dsa>`/`<ignored>`, Red Hat "Will not fix").
    WillNotFix { reason: Option<String> },
}

/// `introduced` inclusive (none = from the beginning); the end is `fixed` (exclusive),
/// or `last_affected` (inclusive: the last version known to be affected, no fix
/// known), or neither (open). At most one of `fixed` and `last_affected` is set; the
/// matching index refuses a range with both. Versions are in the package's scheme.
///
/// `limit` (exclusive) caps the range whatever its end: versions at or above it are not
/// affected by this range. It is where the source stopped looking (OSV `limit`), not a
/// fixed version, so it is never shown or used as one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VersionRange {
    pub introduced: Option<String>,
    pub fixed: Option<String>,
    /// Absent from advisories stored before it existed, and not written when unset,
    /// so stored bodies of ranges without it keep their exact JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
    /// Absent and unwritten when unset, like `last_affected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

/// Whether `name` is a binary package or a source package (Debian and the tracker
/// publish source names; matching maps binaries to their source).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameKind {
    Binary,
    Source,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedPackage {
    pub distro: DistroRelease,
    pub scheme: PackageFormat,
    pub name: String,
    pub name_kind: NameKind,
    /// Architectures the statement is limited to (empty = all).
    #[serde(default)]
    pub arches: Vec<String>,
    #[serde(flatten)]
    pub state: PackageState,
}

/// One advisory from one source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    /// The source's own id: `ALSA-2024:0123`, `DSA-5532-1`, `RHSA-2023:7877`,
    /// `USN-6543-1`, `CVE-2024-3094` (tracker/NVD/CVE records).
    pub id: String,
    /// Which feed it came from: `osv`, `csaf`, `csaf-vex`, `debian-tracker`, `dsa-list`,
    /// `alpine-secdb`, `nvd`, `cve5` ...
    pub source: String,
    /// CVE ids and other ids this advisory covers (deduplicated, sorted).
    pub aliases: Vec<String>,
    pub published: Option<Timestamp>,
    pub modified: Option<Timestamp>,
    pub title: Option<String>,
    pub severity: Option<VendorSeverity>,
    pub cvss: Vec<Cvss>,
    pub affected: Vec<AffectedPackage>,
    pub references: Vec<String>,
}

impl Advisory {
    /// The CVE ids among the id and aliases.
    pub fn cves(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.id.as_str())
            .chain(self.aliases.iter().map(String::as_str))
            .filter(|s| s.starts_with("CVE-"))
    }
}

/// Enrichment about one CVE from threat feeds (CISA KEV, EPSS) and generic CVE/NVD
/// records, kept apart from distribution advisories.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CveEnrichment {
    pub cve: String,
    /// Listed in CISA KEV: date added, remediation due date, known ransomware use.
    pub kev: Option<KevEntry>,
    /// EPSS probability (0..1) and percentile (0..1) with the score date.
    pub epss: Option<Epss>,
    /// CVSS from CVE JSON 5 / NVD records, used when the distribution gives none.
    pub cvss: Vec<Cvss>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KevEntry {
    pub date_added: jiff::civil::Date,
    pub due_date: Option<jiff::civil::Date>,
    pub known_ransomware: bool,
    pub vendor: String,
    pub product: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Epss {
    pub probability: f64,
    pub percentile: f64,
    pub date: Option<jiff::civil::Date>,
}

/// A record a parser refused: which file, which record, why. The rest of the feed is
/// still imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedRecord {
    pub file: String,
    pub record: Option<String>,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn range(intro: Option<&str>, fixed: Option<&str>, last: Option<&str>) -> VersionRange {
        VersionRange {
            introduced: intro.map(str::to_owned),
            fixed: fixed.map(str::to_owned),
            last_affected: last.map(str::to_owned),
            limit: None,
        }
    }

    /// Debian 12's source package libfoo, affected with no fix yet in `ranges`.
    fn libfoo_without_fix(ranges: Vec<VersionRange>) -> AffectedPackage {
        AffectedPackage {
            distro: DistroRelease {
                ecosystem: "debian".into(),
                release: "12".into(),
            },
            scheme: PackageFormat::Deb,
            name: "libfoo".into(),
            name_kind: NameKind::Source,
            arches: vec![],
            state: PackageState::AffectedNoFix { ranges },
        }
    }

    #[test]
    fn stored_ranges_without_last_affected_still_read_and_write_the_same() {
        // An affected statement as stored before `last_affected` and `limit` existed.
        let old = r#"{"distro":{"ecosystem":"debian","release":"12"},"scheme":"deb","name":"openssl","name_kind":"source","arches":[],"state":"fixed","ranges":[{"introduced":null,"fixed":"3.0.11-1~deb12u2"}]}"#;
        let ap: AffectedPackage = serde_json::from_str(old).unwrap();
        assert_eq!(
            ap.state,
            PackageState::Fixed {
                ranges: vec![range(None, Some("3.0.11-1~deb12u2"), None)]
            }
        );
        assert_eq!(serde_json::to_string(&ap).unwrap(), old);
    }

    #[test]
    fn last_affected_round_trips() {
        let ap = libfoo_without_fix(vec![range(Some("1.0-1"), None, Some("1.2-3"))]);
        let json = serde_json::to_string(&ap).unwrap();
        assert!(
            json.contains(
                r#""ranges":[{"introduced":"1.0-1","fixed":null,"last_affected":"1.2-3"}]"#
            ),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<AffectedPackage>(&json).unwrap(), ap);
    }

    #[test]
    fn stored_open_ranges_without_limit_still_read_and_write_the_same() {
        // An advisory as stored before `limit` existed: open and last_affected ranges.
        let old = r#"{"id":"OSV-1","source":"osv","aliases":["CVE-2024-1"],"published":null,"modified":null,"title":null,"severity":null,"cvss":[],"affected":[{"distro":{"ecosystem":"debian","release":"12"},"scheme":"deb","name":"libfoo","name_kind":"source","arches":[],"state":"affected_no_fix","ranges":[{"introduced":"1.0-1","fixed":null},{"introduced":"2.0-1","fixed":null,"last_affected":"2.1-1"}]}],"references":[]}"#;
        let adv: Advisory = serde_json::from_str(old).unwrap();
        let PackageState::AffectedNoFix { ranges } = &adv.affected[0].state else {
            panic!("{:?}", adv.affected[0].state);
        };
        assert!(ranges.iter().all(|r| r.limit.is_none()), "{ranges:?}");
        assert_eq!(serde_json::to_string(&adv).unwrap(), old);
    }

    #[test]
    fn limit_round_trips() {
        let ap = libfoo_without_fix(vec![VersionRange {
            limit: Some("2.0-1".into()),
            ..range(Some("1.0-1"), None, None)
        }]);
        let json = serde_json::to_string(&ap).unwrap();
        assert!(
            json.contains(r#""ranges":[{"introduced":"1.0-1","fixed":null,"limit":"2.0-1"}]"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<AffectedPackage>(&json).unwrap(), ap);
    }
}
