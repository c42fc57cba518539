//! The normalised model every scanner format is parsed into.

use patchwarden_domain::package::InstalledPackage;
use serde::{Deserialize, Serialize};

/// Which scanner produced a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scanner {
    /// Tenable Nessus (`.nessus` v2 XML or CSV export).
    Nessus,
    /// OpenVAS / Greenbone (GMP XML report or CSV export).
    OpenVas,
}

/// The file format a report was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    /// XML (`NessusClientData_v2`, GMP `report` / `get_reports_response`).
    Xml,
    /// A CSV export.
    Csv,
}

/// One imported scanner report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanReport {
    /// The scanner that wrote the file.
    pub scanner: Scanner,
    /// The format the file was in.
    pub format: ReportFormat,
    /// Report (scan) name as the scanner gives it; empty when it gives none.
    pub name: String,
    /// When the scan started (earliest host start for Nessus).
    pub started: Option<jiff::Timestamp>,
    /// When the scan finished (latest host end for Nessus).
    pub finished: Option<jiff::Timestamp>,
    /// Scanned hosts, in file order.
    pub hosts: Vec<ScannedHost>,
    /// Records that could not be imported, with the reason; the rest of the file imported.
    pub rejected: Vec<Rejected>,
}

impl ScanReport {
    /// All findings of all hosts.
    pub fn findings(&self) -> impl Iterator<Item = &ScanFinding> {
        self.hosts.iter().flat_map(|h| h.findings.iter())
    }
}

/// A record of the file that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// Which record: e.g. `ReportHost "10.0.0.1" / ReportItem pluginID 22869`.
    pub record: String,
    /// Why it was rejected.
    pub reason: String,
}

/// One scanned host (an asset without, or besides, an agent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScannedHost {
    /// Host name as the scanner names the host (NetBIOS name, report name or GMP hostname).
    pub hostname: Option<String>,
    /// Fully qualified domain name, when resolved.
    pub fqdn: Option<String>,
    /// IP address as the scanner wrote it (not validated: scanners write what they saw).
    pub ip: Option<String>,
    /// Operating system as the scanner identified it.
    pub os: Option<String>,
    /// MAC address(es), one per line when several.
    pub mac: Option<String>,
    /// Whether the scan logged in to the host (local checks ran).
    pub credentialed: bool,
    /// Findings on this host, in file order.
    pub findings: Vec<ScanFinding>,
    /// Full package list from a credentialed scan (Nessus plugin 22869) when it names
    /// package versions; `None` when the scan gave none. `gpg-pubkey` entries are left out.
    pub installed_packages: Option<Vec<InstalledPackage>>,
}

/// Severity as the scanner rated it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Nessus 0 ("None"/info), OpenVAS "Log", "Debug" or "False Positive".
    Info,
    /// Nessus 1, OpenVAS "Low".
    Low,
    /// Nessus 2, OpenVAS "Medium".
    Medium,
    /// Nessus 3, OpenVAS "High".
    High,
    /// Nessus 4, OpenVAS "Critical" (GVM 24 and later).
    Critical,
}

impl Severity {
    /// From the Nessus `severity` attribute (0-4).
    pub fn from_nessus(s: &str) -> Option<Self> {
        match s.trim() {
            "0" => Some(Self::Info),
            "1" => Some(Self::Low),
            "2" => Some(Self::Medium),
            "3" => Some(Self::High),
            "4" => Some(Self::Critical),
            _ => None,
        }
    }

    /// From a threat / risk label (`Log`, `Low`, …, `Critical`, `None`), any case.
    pub fn from_label(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "log" | "debug" | "info" | "false positive" => Some(Self::Info),
            "low" => Some(Self::Low),
            "medium" => Some(Self::Medium),
            "high" => Some(Self::High),
            "critical" => Some(Self::Critical),
            _ => None,
        }
    }

    /// From a GMP severity score, with the NVD classes GVM reports use
    /// (0 log, 0.1-3.9 low, 4.0-6.9 medium, 7.0-10.0 high).
    pub fn from_score(score: f32) -> Self {
        if score <= 0.0 {
            Self::Info
        } else if score < 4.0 {
            Self::Low
        } else if score < 7.0 {
            Self::Medium
        } else {
            Self::High
        }
    }
}

/// CVSS data as the scanner gave it; every part is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cvss {
    /// CVSS v2 vector (`AV:N/AC:L/Au:N/C:P/I:P/A:P`, without the `CVSS2#` prefix).
    pub v2_vector: Option<String>,
    /// CVSS v2 base score.
    pub v2_score: Option<f32>,
    /// CVSS v3.x vector (`CVSS:3.1/AV:N/…`).
    pub v3_vector: Option<String>,
    /// CVSS v3.x base score.
    pub v3_score: Option<f32>,
}

/// One finding (Nessus ReportItem / GMP result) on a host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanFinding {
    /// Nessus plugin id (`22869`) or OpenVAS NVT OID (`1.3.6.1.4.1.25623.1.0.832260`).
    pub plugin_id: String,
    /// Plugin / NVT name.
    pub name: String,
    /// Plugin family / NVT family.
    pub family: Option<String>,
    /// Severity as the scanner rated it.
    pub severity: Severity,
    /// CVSS vectors and scores, when given.
    pub cvss: Cvss,
    /// CVE ids, upper-case, de-duplicated, in file order.
    pub cves: Vec<String>,
    /// Port; `None` for host-level findings (Nessus port 0, GMP `general/…`).
    pub port: Option<u16>,
    /// Transport protocol (`tcp`, `udp`, `icmp`), lower-case.
    pub protocol: Option<String>,
    /// Service name (Nessus `svc_name`).
    pub service: Option<String>,
    /// The fix the scanner recommends.
    pub solution: Option<String>,
    /// The plugin's description (Nessus `synopsis`/`description`, GMP `summary`), capped.
    pub description: Option<String>,
    /// What the scanner saw on this host (Nessus `plugin_output`, GMP result
    /// `description`), capped.
    pub output: Option<String>,
    /// Installed vs fixed package versions of a credentialed local check. One finding can
    /// name several packages (a kernel advisory lists kernel, kernel-devel, …).
    pub local_checks: Vec<LocalCheck>,
}

/// An installed package version a credentialed check found older than the fix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LocalCheck {
    /// Package name (`openssl`).
    pub package: String,
    /// Installed version: rpm `[E:]V-R` without arch, or the deb version.
    pub installed: String,
    /// Fixed version in the same form.
    pub fixed: String,
}

/// Collects rejected records, keeping at most [`crate::limits::MAX_REJECTED`].
#[derive(Debug, Default)]
pub(crate) struct Rejects {
    list: Vec<Rejected>,
    dropped: usize,
}

impl Rejects {
    pub(crate) fn push(&mut self, record: impl Into<String>, reason: impl Into<String>) {
        if self.list.len() < crate::limits::MAX_REJECTED {
            self.list.push(Rejected {
                record: record.into(),
                reason: reason.into(),
            });
        } else {
            self.dropped += 1;
        }
    }

    pub(crate) fn append(&mut self, other: Rejects) {
        for r in other.list {
            self.push(r.record, r.reason);
        }
        self.dropped += other.dropped;
    }

    pub(crate) fn finish(mut self) -> Vec<Rejected> {
        if self.dropped > 0 {
            self.list.push(Rejected {
                record: "(more records)".into(),
                reason: format!("{} further rejected records were not listed", self.dropped),
            });
        }
        self.list
    }
}
