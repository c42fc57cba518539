//! Findings: one package of one asset affected by one advisory, with the evidence.

use serde::{Deserialize, Serialize};

/// How a package stands against one advisory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingStatus {
    /// A fixed version exists and the installed one is older.
    Vulnerable,
    /// Affected; the vendor has not published a fix yet.
    NoFixYet,
    /// Affected; the vendor will not fix it.
    WillNotFix,
}

impl FindingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingStatus::Vulnerable => "vulnerable",
            FindingStatus::NoFixYet => "no_fix_yet",
            FindingStatus::WillNotFix => "will_not_fix",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "vulnerable" => FindingStatus::Vulnerable,
            "no_fix_yet" => FindingStatus::NoFixYet,
            "will_not_fix" => FindingStatus::WillNotFix,
            _ => return None,
        })
    }
}

/// What the matching engine found for one package and one advisory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub package: String,
    pub arch: String,
    pub installed: String,
    pub fixed: Option<String>,
    pub status: FindingStatus,
    pub advisory: String,
    pub source: String,
    pub cves: Vec<String>,
    /// `ecosystem:release` the statement was published for.
    pub distro: String,
    /// `installed 3.0.11-1~deb12u1 < fixed 3.0.11-1~deb12u2 per DSA-5532-1, debian:12`
    pub evidence: String,
    /// Set when a not-affected statement (VEX) covers every CVE of the advisory; the
    /// finding is kept so the reason can be shown, but it is not open work.
    pub suppressed: Option<String>,
}
