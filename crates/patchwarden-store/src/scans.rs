//! Records for imported vulnerability-scanner reports (Nessus, OpenVAS) and the
//! per-asset results they left, checked against agent inventories where there is one.

use jiff::Timestamp;
use patchwarden_domain::ids::AssetId;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Generates a closed snake_case enum with `as_str`, `ALL`, `Display` and `FromStr`
/// (the domain's `string_enum!` is private to that crate).
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(
                        "unknown {} {other:?}; expected one of: {}",
                        $what,
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl From<$name> for &'static str {
            fn from(v: $name) -> &'static str { v.as_str() }
        }
    };
}

text_enum!(
    /// What the asset's own inventory says about a scanner finding.
    ScanVerdict, "verdict" {
        /// The inventory still has a version older than the scanner's fixed version.
        Confirmed => "confirmed",
        /// The inventory already has the fixed version or newer, or not the package.
        Contradicted => "contradicted",
        /// Nothing to check against: no inventory, no package version (a remote
        /// check), or versions that could not be compared.
        Unverified => "unverified",
    }
);

text_enum!(
    /// Severity as the scanner rated the finding.
    ScanSeverity, "severity" {
        Info => "info",
        Low => "low",
        Medium => "medium",
        High => "high",
        Critical => "critical",
    }
);

/// One finding of one host, as recorded: a scanner finding that names several
/// packages (a kernel advisory) is one record per package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewScanFinding {
    /// Nessus plugin id or OpenVAS NVT OID.
    pub plugin_id: String,
    pub name: String,
    pub severity: ScanSeverity,
    /// CVSS base score the scanner gave (v3 when given, else v2).
    pub cvss: Option<f32>,
    pub cves: Vec<String>,
    pub port: Option<u16>,
    pub protocol: Option<String>,
    /// Package of a credentialed local check; `None` for remote checks.
    pub package: Option<String>,
    pub installed: Option<String>,
    pub fixed: Option<String>,
    pub verdict: ScanVerdict,
    /// One line: what the scanner says and what the inventory has.
    pub evidence: String,
}

/// The results of one scanned host, attached to an asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanHostResult {
    pub asset_id: AssetId,
    /// The host's IP address (validated), remembered as one of the asset's addresses.
    pub ip: Option<String>,
    pub findings: Vec<NewScanFinding>,
}

/// One scanner report to record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewScanImport {
    /// `nessus` or `openvas`.
    pub scanner: String,
    /// `xml` or `csv`.
    pub format: String,
    /// File name as uploaded.
    pub file_name: String,
    /// Report name inside the file (may be empty).
    pub report_name: String,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// Records of the file that were rejected (hosts, findings).
    pub rejected: u32,
    pub hosts: Vec<ScanHostResult>,
}

/// Findings per verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictCounts {
    pub confirmed: u32,
    pub contradicted: u32,
    pub unverified: u32,
}

impl VerdictCounts {
    pub fn add(&mut self, v: ScanVerdict) {
        match v {
            ScanVerdict::Confirmed => self.confirmed += 1,
            ScanVerdict::Contradicted => self.contradicted += 1,
            ScanVerdict::Unverified => self.unverified += 1,
        }
    }

    pub fn total(&self) -> u32 {
        self.confirmed + self.contradicted + self.unverified
    }
}

/// A recorded import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanImport {
    pub id: i64,
    pub scanner: String,
    pub format: String,
    pub file_name: String,
    pub report_name: String,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub imported_at: Timestamp,
    /// Hosts recorded (attached to assets).
    pub hosts: u32,
    /// Finding records stored.
    pub findings: u32,
    pub rejected: u32,
    pub verdicts: VerdictCounts,
    /// Older finding records of the same scanner on these assets that this import
    /// superseded (deleted).
    pub superseded: u32,
}

impl NewScanImport {
    /// The counts an import of these hosts records.
    pub fn counts(&self) -> (u32, u32, VerdictCounts) {
        let mut verdicts = VerdictCounts::default();
        for f in self.hosts.iter().flat_map(|h| h.findings.iter()) {
            verdicts.add(f.verdict);
        }
        let hosts = u32::try_from(self.hosts.len()).unwrap_or(u32::MAX);
        (hosts, verdicts.total(), verdicts)
    }

    /// Checks what the backends rely on: distinct assets, non-empty ids and names.
    pub fn validate(&self) -> Result<(), crate::StoreError> {
        let bad = |m: String| Err(crate::StoreError::Invalid(m));
        if self.scanner.is_empty() || self.format.is_empty() {
            return bad("scan import without scanner or format".into());
        }
        let mut seen = std::collections::HashSet::new();
        for h in &self.hosts {
            if !seen.insert(h.asset_id) {
                return bad(format!(
                    "asset {} appears twice in one scan import",
                    h.asset_id
                ));
            }
            if let Some(f) = h.findings.iter().find(|f| f.plugin_id.is_empty()) {
                return bad(format!("finding {:?} without a plugin id", f.name));
            }
        }
        Ok(())
    }
}

/// A stored finding record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredScanFinding {
    pub id: i64,
    pub asset_id: AssetId,
    pub scan_import_id: i64,
    pub scanner: String,
    #[serde(flatten)]
    pub finding: NewScanFinding,
    /// When the import that recorded it ran.
    pub imported_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanFindingFilter {
    pub asset: Option<AssetId>,
    pub verdict: Option<ScanVerdict>,
    pub severity: Option<ScanSeverity>,
    pub scan_import: Option<i64>,
    /// Only ids greater than this (keyset pagination).
    pub after: Option<i64>,
    pub limit: u32,
}

impl Default for ScanFindingFilter {
    fn default() -> Self {
        Self {
            asset: None,
            verdict: None,
            severity: None,
            scan_import: None,
            after: None,
            limit: 1000,
        }
    }
}

/// An IP address the asset was seen at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetAddress {
    pub asset_id: AssetId,
    pub ip: String,
    /// Where it was learned, e.g. `scan:nessus`.
    pub source: String,
    pub first_seen_at: Timestamp,
    pub last_seen_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip() {
        for v in ScanVerdict::ALL {
            assert_eq!(v.as_str().parse::<ScanVerdict>(), Ok(*v));
        }
        for s in ScanSeverity::ALL {
            assert_eq!(s.as_str().parse::<ScanSeverity>(), Ok(*s));
        }
        assert!("maybe".parse::<ScanVerdict>().is_err());
        assert_eq!(
            serde_json::to_string(&ScanVerdict::Contradicted).ok(),
            Some("\"contradicted\"".into())
        );
    }
}
