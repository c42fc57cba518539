//! The backend-independent half of storing findings: the identity key, "last wins"
//! de-duplication, deadlines, and turning stored columns back into domain types. Both
//! backends call these; only the SQL differs between them.

use crate::{NewFinding, Result, StoreError, StoredFinding};
use jiff::{SignedDuration, Timestamp};
use patchwarden_domain::clock::{from_micros, to_micros};
use patchwarden_domain::finding::{Finding, FindingStatus};
use patchwarden_domain::ids::AssetId;
use std::collections::HashMap;

/// A finding's identity: (package, arch, advisory).
pub type FindingKey<'a> = (&'a str, &'a str, &'a str);

pub fn finding_key(f: &Finding) -> FindingKey<'_> {
    (&f.package, &f.arch, &f.advisory)
}

/// `first_seen + allowed` in storage microseconds.
pub fn deadline_micros(first_seen: Timestamp, allowed: SignedDuration) -> Result<i64> {
    first_seen
        .checked_add(allowed)
        .map(to_micros)
        .map_err(|e| StoreError::Invalid(format!("deadline out of range: {e}")))
}

/// The last finding of each key (last wins), in input order.
pub fn dedup_findings(findings: &[NewFinding]) -> Vec<&NewFinding> {
    let mut last: HashMap<FindingKey<'_>, usize> = HashMap::with_capacity(findings.len());
    for (i, f) in findings.iter().enumerate() {
        last.insert(finding_key(&f.finding), i);
    }
    findings
        .iter()
        .enumerate()
        .filter(|(i, f)| last.get(&finding_key(&f.finding)) == Some(i))
        .map(|(_, f)| f)
        .collect()
}

/// A `findings` row as the database returns it.
#[derive(Debug, Clone)]
pub struct FindingColumns {
    pub id: i64,
    pub asset_id: i64,
    pub package: String,
    pub arch: String,
    pub installed: String,
    pub fixed: Option<String>,
    pub status: String,
    pub advisory_id: String,
    pub source: String,
    /// Comma-separated.
    pub cves: String,
    pub distro: String,
    pub evidence: String,
    pub suppressed: Option<String>,
    pub level: String,
    pub first_seen_at: i64,
    pub deadline_at: i64,
    pub closed_at: Option<i64>,
}

impl FindingColumns {
    /// Parses the text columns again, so a corrupt row surfaces as
    /// [`StoreError::Corrupt`].
    pub fn into_stored(self) -> Result<StoredFinding> {
        let status = FindingStatus::parse(&self.status)
            .ok_or_else(|| StoreError::corrupt(format!("finding status {:?}", self.status)))?;
        Ok(StoredFinding {
            id: self.id,
            asset_id: AssetId::new(self.asset_id),
            finding: Finding {
                package: self.package,
                arch: self.arch,
                installed: self.installed,
                fixed: self.fixed,
                status,
                advisory: self.advisory_id,
                source: self.source,
                cves: self
                    .cves
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
                    .collect(),
                distro: self.distro,
                evidence: self.evidence,
                suppressed: self.suppressed,
            },
            level: self
                .level
                .parse()
                .map_err(|e| StoreError::corrupt(format!("finding level: {e}")))?,
            first_seen_at: from_micros(self.first_seen_at),
            deadline_at: from_micros(self.deadline_at),
            closed_at: self.closed_at.map(from_micros),
        })
    }
}
