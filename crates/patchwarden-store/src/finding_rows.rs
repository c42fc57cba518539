//! The backend-independent half of storing findings: the identity key, "last wins"
//! de-duplication, deadlines, the plan of a sync, and turning stored columns back into
//! domain types. Both backends call these; only the SQL differs between them.

use crate::{FindingsChange, NewFinding, Result, StoreError, StoredFinding};
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

/// A digest of the findings a sync wants (after [`dedup_findings`]): every column a
/// sync writes from them (the finding, its level and the time allowed), in key order,
/// so the same findings in any order digest the same. Stored with the asset by every
/// sync; a later sync that wants the same findings finds them in place without reading
/// them back (see `Store::sync_findings`).
pub fn findings_digest(wanted: &[&NewFinding]) -> String {
    use sha2::{Digest, Sha256};
    let mut sorted: Vec<&NewFinding> = wanted.to_vec();
    sorted.sort_unstable_by(|a, b| finding_key(&a.finding).cmp(&finding_key(&b.finding)));
    // One buffer, hashed once. Every field is length-prefixed and an absent one has
    // its own tag, so no two different lists of findings give the same bytes.
    fn field(buf: &mut Vec<u8>, value: Option<&str>) {
        match value {
            None => buf.push(0),
            Some(v) => {
                buf.push(1);
                buf.extend_from_slice(&(v.len() as u64).to_le_bytes());
                buf.extend_from_slice(v.as_bytes());
            }
        }
    }
    let mut buf = Vec::with_capacity(sorted.len() * 200);
    buf.extend_from_slice(&(sorted.len() as u64).to_le_bytes());
    for nf in sorted {
        let f = &nf.finding;
        for value in [
            Some(f.package.as_str()),
            Some(&f.arch),
            Some(&f.advisory),
            Some(&f.installed),
            f.fixed.as_deref(),
            Some(f.status.as_str()),
            Some(&f.source),
            Some(&f.distro),
            Some(&f.evidence),
            f.suppressed.as_deref(),
            Some(nf.level.as_str()),
        ] {
            field(&mut buf, value);
        }
        buf.extend_from_slice(&(f.cves.len() as u64).to_le_bytes());
        for c in &f.cves {
            field(&mut buf, Some(c));
        }
        buf.extend_from_slice(&nf.allowed.as_micros().to_le_bytes());
    }
    hex::encode(Sha256::digest(&buf))
}

/// Whether a sync that changes no row should still take the writer to record the
/// digest: only when reading the rows back next time would cost more than the write
/// (an fsynced commit) costs now.
pub fn digest_worth_writing(open_rows: usize) -> bool {
    open_rows >= DIGEST_MIN_ROWS
}

/// See [`digest_worth_writing`]: reading back fewer open rows than this is cheaper
/// than a commit.
pub const DIGEST_MIN_ROWS: usize = 32;

/// What a sync reports when the stored digest shows the asset already has `wanted`:
/// every finding kept, nothing opened, closed or changed.
pub fn unchanged(wanted: &[&NewFinding]) -> FindingsChange {
    FindingsChange {
        kept: u32::try_from(wanted.len()).unwrap_or(u32::MAX),
        ..FindingsChange::default()
    }
}

/// A kept row whose columns change.
#[derive(Debug, Clone)]
pub struct RowUpdate<'a> {
    pub id: i64,
    pub new: &'a NewFinding,
    /// Storage microseconds.
    pub first_seen_at: i64,
    /// Storage microseconds.
    pub deadline_at: i64,
}

/// What a sync of one asset's findings writes.
#[derive(Debug, Clone)]
pub struct SyncPlan<'a> {
    pub change: FindingsChange,
    /// Ids of the rows to close, ascending.
    pub closing: Vec<i64>,
    pub updates: Vec<RowUpdate<'a>>,
    /// New rows (first seen at the sync's instant) with their deadline in storage
    /// microseconds.
    pub inserts: Vec<(&'a NewFinding, i64)>,
}

impl SyncPlan<'_> {
    pub fn writes_nothing(&self) -> bool {
        self.closing.is_empty() && self.updates.is_empty() && self.inserts.is_empty()
    }
}

/// Plans a sync at `at` from the asset's open rows (suppressed ones included) and the
/// wanted findings ([`dedup_findings`]). A wanted finding with an open row keeps it and
/// its first-seen time, updated in place (suppression included); a suppression that
/// ends restarts the deadline clock at `at`, so time spent suppressed never makes a
/// finding overdue. Open rows nobody wants close; wanted findings without a row open.
pub fn plan_sync<'a>(
    at: Timestamp,
    open: &[StoredFinding],
    wanted: &[&'a NewFinding],
) -> Result<SyncPlan<'a>> {
    let mut by_key: HashMap<FindingKey<'_>, &StoredFinding> =
        open.iter().map(|f| (finding_key(&f.finding), f)).collect();
    let mut change = FindingsChange::default();
    let (mut inserts, mut updates) = (Vec::new(), Vec::new());
    for &nf in wanted {
        let now_suppressed = nf.finding.suppressed.is_some();
        let Some(old) = by_key.remove(&finding_key(&nf.finding)) else {
            change.opened += 1;
            change.suppressed += u32::from(now_suppressed);
            inserts.push((nf, deadline_micros(at, nf.allowed)?));
            continue;
        };
        change.kept += 1;
        let was_suppressed = old.finding.suppressed.is_some();
        let first_seen = match (was_suppressed, now_suppressed) {
            (true, false) => {
                change.unsuppressed += 1;
                at
            }
            (false, true) => {
                change.suppressed += 1;
                old.first_seen_at
            }
            _ => old.first_seen_at,
        };
        let due = deadline_micros(first_seen, nf.allowed)?;
        let same = old.finding == nf.finding
            && old.level == nf.level
            && old.first_seen_at == first_seen
            && to_micros(old.deadline_at) == due;
        if !same {
            updates.push(RowUpdate {
                id: old.id,
                new: nf,
                first_seen_at: to_micros(first_seen),
                deadline_at: due,
            });
        }
    }
    let mut closing: Vec<i64> = by_key.values().map(|f| f.id).collect();
    closing.sort_unstable();
    change.closed = u32::try_from(closing.len()).map_err(StoreError::corrupt)?;
    Ok(SyncPlan {
        change,
        closing,
        updates,
        inserts,
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use patchwarden_domain::finding::FindingStatus;
    use patchwarden_domain::level::Level;

    type Change = Box<dyn Fn(&mut NewFinding)>;

    fn nf(package: &str, advisory: &str, level: Level) -> NewFinding {
        NewFinding {
            finding: Finding {
                package: package.into(),
                arch: "x86_64".into(),
                installed: "1.0-1.el9".into(),
                fixed: Some("1.0-2.el9".into()),
                status: FindingStatus::Vulnerable,
                advisory: advisory.into(),
                source: "osv".into(),
                cves: vec!["CVE-2024-0001".into(), "CVE-2024-0002".into()],
                distro: "almalinux:9".into(),
                evidence: "installed 1.0-1.el9 < fixed 1.0-2.el9".into(),
                suppressed: None,
            },
            level,
            allowed: level.default_deadline(),
        }
    }

    #[test]
    fn digest_ignores_order_and_sees_every_column() {
        let (a, b) = (
            nf("openssl", "ALSA-1", Level::High),
            nf("bash", "ALSA-2", Level::Low),
        );
        let base = findings_digest(&[&a, &b]);
        assert_eq!(base, findings_digest(&[&b, &a]));
        assert_ne!(base, findings_digest(&[&a]));
        assert_ne!(findings_digest(&[]), findings_digest(&[&a]));
        let changes: Vec<Change> = vec![
            Box::new(|n| n.level = Level::Critical),
            Box::new(|n| n.allowed = SignedDuration::from_hours(1)),
            Box::new(|n| n.finding.installed = "1.0-1.1.el9".into()),
            Box::new(|n| n.finding.fixed = None),
            Box::new(|n| n.finding.suppressed = Some(String::new())),
            Box::new(|n| n.finding.evidence.push('.')),
            Box::new(|n| n.finding.cves = vec!["CVE-2024-0001,CVE-2024-0002".into()]),
            Box::new(|n| n.finding.cves.pop().map_or((), drop)),
            Box::new(|n| n.finding.status = FindingStatus::NoFixYet),
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut changed = a.clone();
            change(&mut changed);
            assert_ne!(base, findings_digest(&[&changed, &b]), "change {i}");
        }
        // A field boundary moved between two fields is a different digest too.
        let mut x = a.clone();
        x.finding.package = "open".into();
        x.finding.arch = "sslx86_64".into();
        assert_ne!(base, findings_digest(&[&x, &b]));
    }
}
