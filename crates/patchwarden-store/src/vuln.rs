//! Records for advisories, CVE enrichment and findings.

use jiff::{SignedDuration, Timestamp};
use patchwarden_domain::advisory::Advisory;
use patchwarden_domain::finding::{Finding, FindingStatus};
use patchwarden_domain::ids::AssetId;
use patchwarden_domain::level::Level;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Result of [`crate::Store::upsert_advisories`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvisoryUpsert {
    pub inserted: u32,
    pub updated: u32,
    pub unchanged: u32,
    /// Ids inserted or changed, in input order: what matching must re-evaluate.
    pub changed: Vec<String>,
}

/// An advisory as stored, with when it arrived and last changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAdvisory {
    pub advisory: Advisory,
    /// SHA-256 of the canonical JSON of `advisory`; an import with the same hash
    /// changes nothing.
    pub content_hash: String,
    pub imported_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvisoryFilter {
    /// Only ids greater than this (keyset pagination by id).
    pub after: Option<String>,
    pub limit: u32,
    pub source: Option<String>,
    /// Only advisories whose id or aliases contain this CVE id.
    pub cve: Option<String>,
}

impl Default for AdvisoryFilter {
    fn default() -> Self {
        Self {
            after: None,
            limit: 1000,
            source: None,
            cve: None,
        }
    }
}

/// A finding to record for an asset, with its level and the time allowed to fix it.
/// The level and the time allowed are the advisory's: they apply to every open finding
/// of the advisory, on every asset (a level depends only on the advisory and its CVEs'
/// enrichment).
///
/// The finding is shared: matching hands the same content to every host that has the
/// package, and a sync stores it by reference.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFinding {
    pub finding: Arc<Finding>,
    pub level: Level,
    /// Deadline = first seen + this (PROCESS.md section 2).
    pub allowed: SignedDuration,
}

/// What matching needs of one asset: its release and package format, and its
/// inventory as the ascending ids of its packages (see `Store::packages_by_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetPackages {
    pub id: AssetId,
    pub os: patchwarden_domain::asset::OsInfo,
    pub format: Option<patchwarden_domain::package::PackageFormat>,
    pub package_ids: Vec<i64>,
}

/// The columns both backends select for [`AssetPackages`]: asset id, the four OS
/// columns (family, distribution, release, arch), package format, and the
/// `package_ids` of its inventory set (none without an inventory).
pub type AssetPackagesColumns = (
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<Vec<u8>>,
);

impl AssetPackages {
    /// Parses a row of [`AssetPackagesColumns`].
    pub fn from_columns(
        (id, family, distribution, release, arch, format, ids): AssetPackagesColumns,
    ) -> crate::Result<Self> {
        use crate::StoreError;
        Ok(Self {
            id: AssetId::new(id),
            os: patchwarden_domain::asset::OsInfo {
                family: family.parse().map_err(StoreError::corrupt)?,
                distribution,
                release,
                arch,
            },
            format: format
                .map(|f| f.parse())
                .transpose()
                .map_err(StoreError::corrupt)?,
            package_ids: match ids {
                Some(bytes) => crate::inventory_sets::decode_ids(&bytes)?,
                None => Vec::new(),
            },
        })
    }
}

/// The findings of many assets at once (a fleet re-match): every distinct finding once,
/// stored beforehand with [`crate::Store::store_finding_details`], and per asset the
/// ids of its findings.
#[derive(Debug, Clone)]
pub struct FindingsBatch {
    /// The level of every advisory the details name (applied first where it changed).
    pub levels: Vec<AdvisoryLevel>,
    /// Every detail the assets name (shared: a fleet re-match hands every page the
    /// same table).
    pub details: std::sync::Arc<crate::findings::batch::BatchDetails>,
    /// Per asset, the ids of its details, naming each (package, arch, advisory) at
    /// most once (the caller chooses among duplicates; the store does not look again).
    /// Each new finding opens in this order; ascending ids spare the sync a sort.
    pub assets: Vec<(AssetId, Vec<i64>)>,
}

/// The level an advisory's findings have now (after its enrichment changed), and the
/// time allowed to fix them at that level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvisoryLevel {
    pub advisory: String,
    pub level: Level,
    pub allowed: SignedDuration,
}

/// A stored finding. Identity: (asset, package, arch, advisory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredFinding {
    pub id: i64,
    pub asset_id: AssetId,
    #[serde(flatten)]
    pub finding: Finding,
    pub level: Level,
    /// When the advisory was registered against this asset, or when a suppression of
    /// the finding last ended: the deadline clock starts here, so time spent suppressed
    /// never counts against the deadline.
    pub first_seen_at: Timestamp,
    /// `first_seen_at` + the time allowed for the level. It does not apply while the
    /// finding is suppressed.
    pub deadline_at: Timestamp,
    /// When the installed version reached the fix (or the package went away).
    pub closed_at: Option<Timestamp>,
}

impl StoredFinding {
    /// Not closed. A suppressed finding is open but is not work: see
    /// [`StoredFinding::is_open_work`].
    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }

    /// Open and not suppressed: something to fix, with a deadline that runs.
    pub fn is_open_work(&self) -> bool {
        self.is_open() && self.finding.suppressed.is_none()
    }

    /// Time from registration to remediation, once closed.
    pub fn remediation_time(&self) -> Option<SignedDuration> {
        self.closed_at.map(|c| c.duration_since(self.first_seen_at))
    }

    pub fn status(&self) -> FindingStatus {
        self.finding.status
    }
}

/// Result of [`crate::Store::sync_findings`]. `opened`, `kept` and `closed` count rows,
/// suppressed or not; `suppressed` and `unsuppressed` count the rows whose suppression
/// started or ended in this sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingsChange {
    pub opened: u32,
    /// Still open, possibly with a new installed version, level, evidence or
    /// suppression.
    pub kept: u32,
    pub closed: u32,
    /// Opened suppressed, or kept and suppressed now but not before.
    #[serde(default)]
    pub suppressed: u32,
    /// Kept and no longer suppressed: open work again, its deadline clock restarted.
    #[serde(default)]
    pub unsuppressed: u32,
}

impl FindingsChange {
    /// Adds another sync's counts to these.
    pub fn add(&mut self, other: &FindingsChange) {
        self.opened += other.opened;
        self.kept += other.kept;
        self.closed += other.closed;
        self.suppressed += other.suppressed;
        self.unsuppressed += other.unsuppressed;
    }

    /// Whether the sync opened, closed, suppressed or unsuppressed anything: what the
    /// audit log records.
    pub fn is_notable(&self) -> bool {
        self.opened > 0 || self.closed > 0 || self.suppressed > 0 || self.unsuppressed > 0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingFilter {
    pub asset: Option<AssetId>,
    /// Only open (default) or also closed findings.
    pub include_closed: bool,
    /// Also findings suppressed by a VEX not-affected statement. They are never open
    /// work, so every count of open findings leaves them out (the default).
    pub include_suppressed: bool,
    pub level: Option<Level>,
    pub advisory: Option<String>,
    pub cve: Option<String>,
    /// Only ids greater than this.
    pub after: Option<i64>,
    pub limit: u32,
}

impl Default for FindingFilter {
    fn default() -> Self {
        Self {
            asset: None,
            include_closed: false,
            include_suppressed: false,
            level: None,
            advisory: None,
            cve: None,
            after: None,
            limit: 1000,
        }
    }
}

/// The canonical JSON of `advisory` (object keys sorted) and its SHA-256 in hex: what
/// backends store as the body and the content hash, so that both compute the same.
pub fn advisory_canonical_json(advisory: &Advisory) -> Result<(String, String), crate::StoreError> {
    use sha2::{Digest, Sha256};
    let value = serde_json::to_value(advisory)
        .map_err(|e| crate::StoreError::Invalid(format!("advisory {}: {e}", advisory.id)))?;
    let json = value.to_string();
    let hash = hex::encode(Sha256::digest(json.as_bytes()));
    Ok((json, hash))
}
