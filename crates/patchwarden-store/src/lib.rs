//! The storage trait of Patchwarden.
//!
//! [`Store`] is shaped after the domain, not after tables: each method is one thing the
//! service layer needs, and each state change appends its audit event **in the same
//! transaction** (see [`audit_drafts`]), so the audit log can never miss a change that
//! was committed. Backends (`patchwarden-store-sqlite`, `patchwarden-store-postgres`) are
//! the only crates that contain SQL; `patchwarden-store-conformance` runs the same cases
//! against each of them.

#![forbid(unsafe_code)]

mod agents;
pub mod audit_drafts;
mod error;
pub mod findings;
pub mod inventory_diff;
pub mod inventory_sets;
mod model;
mod scans;
mod varint;
mod vuln;

/// The hasher of the crate's in-memory maps on the report path (package lines, finding
/// contents, a sync's findings and advisories): foldhash rather than SipHash, which
/// showed in profiles; the seed is still random per process.
pub(crate) type Fast = foldhash::fast::RandomState;

pub use agents::*;
pub use error::StoreError;
pub use model::*;
pub use scans::*;
pub use vuln::*;

use async_trait::async_trait;
use patchwarden_domain::advisory::{Advisory, CveEnrichment};
use patchwarden_domain::audit::{AuditDraft, AuditEvent};
use patchwarden_domain::finding::Finding;
use patchwarden_domain::ids::{AssetId, TokenId, UserId};
use patchwarden_domain::package::{CheckedInventory, InstalledPackage, PackageFormat};
use patchwarden_domain::user::Username;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything the server persists. Implementations must be safe to share between tasks
/// and, for PostgreSQL, between several server replicas.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Backend name for logs and `/readyz` (`sqlite`, `postgres`).
    fn backend(&self) -> &'static str;

    /// Cheap round trip to the database, for `/readyz`.
    async fn ping(&self) -> Result<()>;

    /// Waits for in-flight writes and closes the connections.
    async fn close(&self);

    /// Loads what a backend keeps in memory and would otherwise read at its first
    /// write (SQLite: the whole package tuple dictionary), so that a server does it
    /// before it accepts requests rather than while holding the writer.
    async fn warm_up(&self) -> Result<()> {
        Ok(())
    }

    // ---- assets -------------------------------------------------------------------

    /// Creates an asset. [`StoreError::Conflict`] when the host name is taken.
    async fn create_asset(&self, ctx: &AuditCtx, new: &NewAsset) -> Result<Asset>;
    async fn get_asset(&self, id: AssetId) -> Result<Asset>;
    async fn find_asset_by_hostname(&self, hostname: &str) -> Result<Option<Asset>>;
    /// Assets ordered by id, keyset-paginated by `filter.after`.
    async fn list_assets(&self, filter: &AssetFilter) -> Result<Vec<Asset>>;
    async fn count_assets(&self) -> Result<u64>;
    /// Applies the fields that are `Some`; returns the updated asset.
    async fn update_asset(&self, ctx: &AuditCtx, id: AssetId, patch: &AssetPatch) -> Result<Asset>;
    /// Deletes the asset and its inventory.
    async fn delete_asset(&self, ctx: &AuditCtx, id: AssetId) -> Result<()>;

    /// Replaces the asset's package inventory with `packages` (exact duplicates by
    /// (name, arch, version) are refused with `Invalid`), sets `last_seen_at` to
    /// `ctx.at` and records the content hash. Returns what changed. An unchanged
    /// inventory writes no audit event.
    async fn replace_inventory(
        &self,
        ctx: &AuditCtx,
        id: AssetId,
        format: PackageFormat,
        packages: &[InstalledPackage],
    ) -> Result<InventoryChange> {
        let checked = CheckedInventory::new(format, packages)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.replace_checked_inventory(ctx, id, &checked).await
    }
    /// [`Store::replace_inventory`] with the hash and the duplicate check done already
    /// (an agent's report, checked against the hash it claims).
    async fn replace_checked_inventory(
        &self,
        ctx: &AuditCtx,
        id: AssetId,
        inventory: &CheckedInventory<'_>,
    ) -> Result<InventoryChange>;
    /// [`Store::replace_checked_inventory`] for a caller that has just read the asset
    /// (`asset` as read): a backend may count the change against the inventory the
    /// asset held then instead of reading the asset again. The write still checks what
    /// the asset holds when it is made, and counts again when another report landed in
    /// between, so the answer is the same.
    async fn replace_checked_inventory_of(
        &self,
        ctx: &AuditCtx,
        asset: &Asset,
        inventory: &CheckedInventory<'_>,
    ) -> Result<InventoryChange> {
        self.replace_checked_inventory(ctx, asset.id, inventory)
            .await
    }
    /// An agent's check-in that carries an inventory: its contact, when one is due
    /// (`(agent id, at, contact)` as for [`Store::record_agent_contact`]), and
    /// [`Store::replace_checked_inventory_of`]. Answered when both are durable; a
    /// backend may write them in one commit. The default records the contact, then
    /// the inventory.
    async fn record_agent_report(
        &self,
        ctx: &AuditCtx,
        contact: Option<(i64, jiff::Timestamp, &AgentContact)>,
        asset: &Asset,
        inventory: &CheckedInventory<'_>,
    ) -> Result<InventoryChange> {
        if let Some((agent, at, c)) = contact {
            self.record_agent_contact(agent, at, c).await?;
        }
        self.replace_checked_inventory_of(ctx, asset, inventory)
            .await
    }
    /// The asset's packages ordered by (name, arch, version).
    async fn get_inventory(&self, id: AssetId) -> Result<Vec<InstalledPackage>>;
    /// Assets ordered by id after `after`, at most `limit`, each with what matching
    /// needs: what a fleet re-match reads, without building every host's package
    /// strings.
    async fn list_asset_packages(
        &self,
        after: Option<AssetId>,
        limit: u32,
    ) -> Result<Vec<AssetPackages>>;
    /// The package tuples with these ids (unknown ids are absent).
    async fn packages_by_id(&self, ids: &[i64]) -> Result<Vec<(i64, InstalledPackage)>>;

    // ---- users --------------------------------------------------------------------

    async fn create_user(&self, ctx: &AuditCtx, new: &NewUser) -> Result<User>;
    async fn get_user(&self, id: UserId) -> Result<User>;
    /// The user and their password hash, for login.
    async fn get_user_credentials(&self, username: &Username) -> Result<Option<(User, String)>>;
    async fn list_users(&self) -> Result<Vec<User>>;
    async fn count_users(&self) -> Result<u64>;
    async fn update_user(&self, ctx: &AuditCtx, id: UserId, patch: &UserPatch) -> Result<User>;
    /// Sets a new password hash; the audit event never contains the hash.
    async fn set_password(
        &self,
        ctx: &AuditCtx,
        id: UserId,
        password_hash: &str,
        must_change_password: bool,
    ) -> Result<()>;

    // ---- sessions -----------------------------------------------------------------

    /// Stores a login session (only the hash of its secret) and audits the login.
    async fn create_session(&self, ctx: &AuditCtx, new: &NewSession) -> Result<()>;
    /// The live session with this secret hash and its user; expired sessions are not
    /// returned.
    async fn get_session(
        &self,
        token_hash: &str,
        now: jiff::Timestamp,
    ) -> Result<Option<(Session, User)>>;
    /// Deletes the session (logout) and audits it. Unknown hashes are not an error.
    async fn delete_session(&self, ctx: &AuditCtx, token_hash: &str) -> Result<()>;
    /// Deletes every session of the user (password change, disable).
    async fn delete_user_sessions(&self, id: UserId) -> Result<u64>;
    /// Removes expired sessions; returns how many.
    async fn purge_expired_sessions(&self, now: jiff::Timestamp) -> Result<u64>;

    // ---- API tokens ---------------------------------------------------------------

    async fn create_token(&self, ctx: &AuditCtx, new: &NewToken) -> Result<ApiToken>;
    /// The active token with this secret hash and its owner; revoked and expired tokens
    /// are not returned.
    async fn find_token(
        &self,
        token_hash: &str,
        now: jiff::Timestamp,
    ) -> Result<Option<(ApiToken, User)>>;
    async fn get_token(&self, id: TokenId) -> Result<ApiToken>;
    /// Tokens of one user, or of everybody with `None`; newest first.
    async fn list_tokens(&self, user: Option<UserId>) -> Result<Vec<ApiToken>>;
    /// Marks the token revoked at `ctx.at`. Revoking twice is a no-op.
    async fn revoke_token(&self, ctx: &AuditCtx, id: TokenId) -> Result<ApiToken>;
    /// Records the last use; may be skipped by the caller when recent.
    async fn touch_token(&self, id: TokenId, at: jiff::Timestamp) -> Result<()>;

    // ---- login throttling -------------------------------------------------------------

    /// Records a failed login for each key (e.g. `user:alice`, `ip:10.0.0.1`).
    async fn record_login_failure(&self, keys: &[String], at: jiff::Timestamp) -> Result<()>;
    /// Failures recorded for `key` at or after `since`.
    async fn count_login_failures(&self, key: &str, since: jiff::Timestamp) -> Result<u64>;
    /// Forgets the failures of `key` (after a successful login).
    async fn clear_login_failures(&self, key: &str) -> Result<()>;

    // ---- audit log ----------------------------------------------------------------

    /// Appends a stand-alone event (a login failure, a CLI action) and returns it sealed.
    async fn append_audit(&self, ctx: &AuditCtx, draft: AuditDraft) -> Result<AuditEvent>;
    /// Events in `seq` order after `filter.after`, at most `filter.limit`.
    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>>;
    /// The last event's `(seq, hash)`, kept apart from the events so that deleting the
    /// newest rows is detected too.
    async fn audit_head(&self) -> Result<Option<(i64, String)>>;

    // ---- advisories and enrichment -----------------------------------------------

    /// Inserts new advisories and replaces changed ones (by id; "changed" = different
    /// content hash), in one transaction, with one `advisory.import` audit event
    /// carrying the counts and changed ids when anything changed. Ids repeated in one
    /// batch: the last wins.
    async fn upsert_advisories(
        &self,
        ctx: &AuditCtx,
        advisories: &[Advisory],
    ) -> Result<AdvisoryUpsert>;
    async fn get_advisory(&self, id: &str) -> Result<StoredAdvisory>;
    /// Advisories ordered by id after `filter.after`.
    async fn list_advisories(&self, filter: &AdvisoryFilter) -> Result<Vec<StoredAdvisory>>;
    async fn count_advisories(&self) -> Result<u64>;
    /// Merges enrichment per CVE: fields given (`Some`, non-empty CVSS list) replace the
    /// stored ones, absent fields keep theirs. Returns how many CVEs changed.
    async fn upsert_enrichment(&self, ctx: &AuditCtx, items: &[CveEnrichment]) -> Result<u32>;
    /// Stored enrichment for these CVEs (unknown CVEs are simply absent).
    async fn get_enrichment(&self, cves: &[String]) -> Result<Vec<CveEnrichment>>;

    // ---- findings -----------------------------------------------------------------

    /// Makes `findings` the open findings of the asset: new ones open with
    /// `first_seen_at = ctx.at`; ones still present (same package, arch and advisory)
    /// stay open with their first-seen time (installed version, evidence, suppression
    /// are updated); open ones no longer present close at `ctx.at`. A later finding of
    /// the same package, arch and advisory replaces an earlier one. The level and the
    /// time allowed are the advisory's, for every asset: where one differs from the
    /// stored one it is applied as [`Store::relevel_findings`] would. One `finding.sync`
    /// audit event with the counts when anything opened, closed, was suppressed or
    /// unsuppressed. `NotFound` for an unknown asset.
    async fn sync_findings(
        &self,
        ctx: &AuditCtx,
        asset: AssetId,
        findings: &[NewFinding],
    ) -> Result<FindingsChange>;
    /// Stores what each finding says once per distinct content (rows shared by every
    /// asset with the same finding, never changed) and returns their ids, in order:
    /// the `details` of a [`FindingsBatch`].
    async fn store_finding_details(&self, findings: &[std::sync::Arc<Finding>])
        -> Result<Vec<i64>>;
    /// [`Store::sync_findings`] for many assets at once (a fleet re-match), in one
    /// transaction: the assets whose findings are already what they want cost one
    /// digest comparison each. Assets that no longer exist are skipped.
    async fn sync_findings_batch(
        &self,
        ctx: &AuditCtx,
        batch: &FindingsBatch,
    ) -> Result<FindingsChange>;
    /// Sets the level of every open finding of each given advisory and recomputes its
    /// deadline from its first-seen time, in place and set-based (no asset is
    /// re-matched): what a change of CISA KEV, EPSS or CVSS data needs, since a level
    /// depends only on the advisory and its CVEs' enrichment. Closed findings keep
    /// their level. One `finding.relevel` audit event when a stored level changed.
    /// Returns the number of open findings whose level or deadline changed.
    async fn relevel_findings(&self, ctx: &AuditCtx, levels: &[AdvisoryLevel]) -> Result<u64>;
    /// Findings ordered by id.
    async fn list_findings(&self, filter: &FindingFilter) -> Result<Vec<StoredFinding>>;
    /// Assets that have a package whose name or source name is one of `names`
    /// (incremental matching after an advisory import).
    async fn assets_with_packages(&self, names: &[String]) -> Result<Vec<AssetId>>;

    // ---- scanner imports ----------------------------------------------------------

    /// Records one imported scanner report in one transaction: a `scan_imports` row
    /// with its counts; for each host, the asset's earlier finding records **from the
    /// same scanner** are deleted (a newer scan supersedes the older one) and the new
    /// ones inserted; each host's IP is remembered among the asset's addresses. One
    /// `scan.import` audit event. Unknown assets are `NotFound`, an asset named twice
    /// is `Invalid`.
    async fn record_scan_import(
        &self,
        ctx: &AuditCtx,
        import: &NewScanImport,
    ) -> Result<ScanImport>;
    /// Imports ordered by id after `after`, at most `limit`.
    async fn list_scan_imports(&self, after: Option<i64>, limit: u32) -> Result<Vec<ScanImport>>;
    /// Scanner finding records ordered by id.
    async fn list_scan_findings(
        &self,
        filter: &ScanFindingFilter,
    ) -> Result<Vec<StoredScanFinding>>;
    /// Assets seen at this IP address, most recently seen first.
    async fn find_assets_by_ip(&self, ip: &str) -> Result<Vec<Asset>>;
    /// The addresses an asset was seen at, ordered by IP.
    async fn list_asset_addresses(&self, id: AssetId) -> Result<Vec<AssetAddress>>;

    // ---- agents -------------------------------------------------------------------

    /// Stores a new enrolment token (only its hash) and audits it.
    async fn create_enrollment_token(
        &self,
        ctx: &AuditCtx,
        new: &NewEnrollmentToken,
    ) -> Result<EnrollmentToken>;
    /// Every enrolment token, newest first.
    async fn list_enrollment_tokens(&self) -> Result<Vec<EnrollmentToken>>;
    /// Marks the token revoked at `ctx.at`. Revoking twice is a no-op.
    async fn revoke_enrollment_token(&self, ctx: &AuditCtx, id: i64) -> Result<EnrollmentToken>;
    /// In one transaction: consumes the token with this hash if it is usable at
    /// `ctx.at` (not revoked, not expired, reusable or never used) — so a one-time
    /// token enrols exactly one agent even under concurrent requests —, attaches to
    /// the asset with `new.asset.hostname` or creates it, and stores the agent.
    /// `None` when no usable token has this hash (nothing is written).
    async fn enroll_agent(
        &self,
        ctx: &AuditCtx,
        token_hash: &str,
        new: &NewAgent,
    ) -> Result<Option<Enrolled>>;
    async fn get_agent(&self, id: i64) -> Result<Agent>;
    /// Agents ordered by id.
    async fn list_agents(&self) -> Result<Vec<Agent>>;
    /// Marks the agent revoked at `ctx.at`. Revoking twice is a no-op.
    async fn revoke_agent(&self, ctx: &AuditCtx, id: i64) -> Result<Agent>;
    /// Records a check-in: last seen at `at` and what the agent said about itself.
    async fn record_agent_contact(
        &self,
        id: i64,
        at: jiff::Timestamp,
        c: &AgentContact,
    ) -> Result<()>;

    /// The secret of the server key `key.name`: the stored one, or `key.secret`
    /// stored (and audited) now when there is none yet. Every replica gets the same.
    async fn server_key(&self, ctx: &AuditCtx, key: &NewServerKey) -> Result<String>;

    /// Queues a signed job for an agent. `NotFound` for an unknown agent.
    async fn create_job(&self, ctx: &AuditCtx, new: &NewJob) -> Result<StoredJob>;
    async fn get_job(&self, id: &str) -> Result<StoredJob>;
    /// The reports of a job, oldest first.
    async fn list_job_reports(&self, id: &str) -> Result<Vec<StoredJobReport>>;
    /// The agent's jobs to send at `now`: not finished, not expired, oldest first;
    /// marks never-delivered ones delivered at `now`.
    async fn deliver_jobs(&self, agent: i64, now: jiff::Timestamp) -> Result<Vec<StoredJob>>;
    /// Stores each report against its job if the job is this agent's; the first
    /// final report finishes the job. One `job.report` audit event per stored report.
    async fn record_job_reports(
        &self,
        ctx: &AuditCtx,
        agent: i64,
        reports: &[NewJobReport],
    ) -> Result<ReportsRecorded>;
}
