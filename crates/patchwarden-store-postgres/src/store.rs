//! The [`Store`] implementation: each method delegates to the module that owns the
//! tables and names the database in `Unavailable` errors.

use crate::error::db_err;
use crate::{
    advisories, agents, assets, audit, enrichment, inventory, jobs, match_inputs, scans, tokens,
    users, PostgresStore,
};
use async_trait::async_trait;
use patchwarden_domain::advisory::{Advisory, CveEnrichment};
use patchwarden_domain::audit::{AuditDraft, AuditEvent};
use patchwarden_domain::finding::Finding;
use patchwarden_domain::ids::{AssetId, TokenId, UserId};
use patchwarden_domain::package::{CheckedInventory, InstalledPackage};
use patchwarden_domain::user::Username;
use patchwarden_store::{
    AdvisoryFilter, AdvisoryLevel, AdvisoryUpsert, Agent, AgentContact, ApiToken, Asset,
    AssetAddress, AssetFilter, AssetPackages, AssetPatch, AuditCtx, AuditFilter, Enrolled,
    EnrollmentToken, FindingFilter, FindingsBatch, FindingsChange, InventoryChange, NewAgent,
    NewAsset, NewEnrollmentToken, NewFinding, NewJob, NewJobReport, NewScanImport, NewServerKey,
    NewSession, NewToken, NewUser, ReportsRecorded, Result, ScanFindingFilter, ScanImport, Session,
    Store, StoredAdvisory, StoredFinding, StoredJob, StoredJobReport, StoredScanFinding, User,
    UserPatch,
};
use sqlx::pool::PoolConnection;
use sqlx::Postgres;
use std::sync::Arc;

impl PostgresStore {
    pub(crate) async fn reader(&self) -> Result<PoolConnection<Postgres>> {
        self.named(self.pool.acquire().await.map_err(db_err))
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<()> {
        let r = sqlx::query("SELECT 1").execute(&self.pool).await;
        self.named(r.map(|_| ()).map_err(db_err))
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn create_asset(&self, ctx: &AuditCtx, new: &NewAsset) -> Result<Asset> {
        self.named(assets::create(&self.pool, ctx, new).await)
    }

    async fn get_asset(&self, id: AssetId) -> Result<Asset> {
        self.named(assets::load(&mut *self.reader().await?, id).await)
    }

    async fn find_asset_by_hostname(&self, hostname: &str) -> Result<Option<Asset>> {
        self.named(assets::find_by_hostname(&mut *self.reader().await?, hostname).await)
    }

    async fn list_assets(&self, filter: &AssetFilter) -> Result<Vec<Asset>> {
        self.named(assets::list(&mut *self.reader().await?, filter).await)
    }

    async fn count_assets(&self) -> Result<u64> {
        self.named(assets::count(&mut *self.reader().await?).await)
    }

    async fn update_asset(&self, ctx: &AuditCtx, id: AssetId, patch: &AssetPatch) -> Result<Asset> {
        self.named(assets::update(&self.pool, ctx, id, patch).await)
    }

    async fn delete_asset(&self, ctx: &AuditCtx, id: AssetId) -> Result<()> {
        self.named(assets::delete(&self.pool, ctx, id).await)
    }

    async fn replace_checked_inventory(
        &self,
        ctx: &AuditCtx,
        id: AssetId,
        inv: &CheckedInventory<'_>,
    ) -> Result<InventoryChange> {
        self.named(inventory::replace(&self.pool, &self.packages, ctx, id, inv).await)
    }

    async fn get_inventory(&self, id: AssetId) -> Result<Vec<InstalledPackage>> {
        self.named(inventory::get(&mut *self.reader().await?, &self.packages, id).await)
    }

    async fn list_asset_packages(
        &self,
        after: Option<AssetId>,
        limit: u32,
    ) -> Result<Vec<AssetPackages>> {
        let mut conn = self.reader().await?;
        self.named(match_inputs::asset_packages(&mut conn, after, limit).await)
    }

    async fn packages_by_id(&self, ids: &[i64]) -> Result<Vec<(i64, InstalledPackage)>> {
        self.named(match_inputs::packages_by_id(&mut *self.reader().await?, ids).await)
    }

    async fn create_user(&self, ctx: &AuditCtx, new: &NewUser) -> Result<User> {
        self.named(users::create(&self.pool, ctx, new).await)
    }

    async fn get_user(&self, id: UserId) -> Result<User> {
        self.named(users::load(&mut *self.reader().await?, id).await)
    }

    async fn get_user_credentials(&self, username: &Username) -> Result<Option<(User, String)>> {
        self.named(users::credentials(&mut *self.reader().await?, username).await)
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        self.named(users::list(&mut *self.reader().await?).await)
    }

    async fn count_users(&self) -> Result<u64> {
        self.named(users::count(&mut *self.reader().await?).await)
    }

    async fn update_user(&self, ctx: &AuditCtx, id: UserId, patch: &UserPatch) -> Result<User> {
        self.named(users::update(&self.pool, ctx, id, patch).await)
    }

    async fn set_password(
        &self,
        ctx: &AuditCtx,
        id: UserId,
        password_hash: &str,
        must_change_password: bool,
    ) -> Result<()> {
        self.named(
            users::set_password(&self.pool, ctx, id, password_hash, must_change_password).await,
        )
    }

    async fn create_session(&self, ctx: &AuditCtx, new: &NewSession) -> Result<()> {
        self.named(users::create_session(&self.pool, ctx, new).await)
    }

    async fn get_session(
        &self,
        token_hash: &str,
        now: jiff::Timestamp,
    ) -> Result<Option<(Session, User)>> {
        self.named(users::get_session(&mut *self.reader().await?, token_hash, now).await)
    }

    async fn delete_session(&self, ctx: &AuditCtx, token_hash: &str) -> Result<()> {
        self.named(users::delete_session(&self.pool, ctx, token_hash).await)
    }

    async fn delete_user_sessions(&self, id: UserId) -> Result<u64> {
        self.named(users::delete_user_sessions(&self.pool, id).await)
    }

    async fn purge_expired_sessions(&self, now: jiff::Timestamp) -> Result<u64> {
        self.named(users::purge_sessions(&self.pool, now).await)
    }

    async fn create_token(&self, ctx: &AuditCtx, new: &NewToken) -> Result<ApiToken> {
        self.named(tokens::create(&self.pool, ctx, new).await)
    }

    async fn find_token(
        &self,
        token_hash: &str,
        now: jiff::Timestamp,
    ) -> Result<Option<(ApiToken, User)>> {
        self.named(tokens::find(&mut *self.reader().await?, token_hash, now).await)
    }

    async fn get_token(&self, id: TokenId) -> Result<ApiToken> {
        self.named(tokens::get(&mut *self.reader().await?, id).await)
    }

    async fn list_tokens(&self, user: Option<UserId>) -> Result<Vec<ApiToken>> {
        self.named(tokens::list(&mut *self.reader().await?, user).await)
    }

    async fn revoke_token(&self, ctx: &AuditCtx, id: TokenId) -> Result<ApiToken> {
        self.named(tokens::revoke(&self.pool, ctx, id).await)
    }

    async fn touch_token(&self, id: TokenId, at: jiff::Timestamp) -> Result<()> {
        self.named(tokens::touch(&self.pool, id, at).await)
    }

    async fn record_login_failure(&self, keys: &[String], at: jiff::Timestamp) -> Result<()> {
        self.named(tokens::record_failure(&self.pool, keys, at).await)
    }

    async fn count_login_failures(&self, key: &str, since: jiff::Timestamp) -> Result<u64> {
        self.named(tokens::count_failures(&mut *self.reader().await?, key, since).await)
    }

    async fn clear_login_failures(&self, key: &str) -> Result<()> {
        self.named(tokens::clear_failures(&self.pool, key).await)
    }

    async fn append_audit(&self, ctx: &AuditCtx, draft: AuditDraft) -> Result<AuditEvent> {
        self.named(audit::append_alone(&self.pool, draft, ctx.at).await)
    }

    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>> {
        self.named(audit::list(&mut *self.reader().await?, filter).await)
    }

    async fn audit_head(&self) -> Result<Option<(i64, String)>> {
        self.named(audit::head(&mut *self.reader().await?).await)
    }

    async fn upsert_advisories(
        &self,
        ctx: &AuditCtx,
        items: &[Advisory],
    ) -> Result<AdvisoryUpsert> {
        self.named(advisories::upsert(&self.pool, ctx, items).await)
    }

    async fn get_advisory(&self, id: &str) -> Result<StoredAdvisory> {
        self.named(advisories::get(&mut *self.reader().await?, id).await)
    }

    async fn list_advisories(&self, filter: &AdvisoryFilter) -> Result<Vec<StoredAdvisory>> {
        self.named(advisories::list(&mut *self.reader().await?, filter).await)
    }

    async fn count_advisories(&self) -> Result<u64> {
        self.named(advisories::count(&mut *self.reader().await?).await)
    }

    async fn upsert_enrichment(&self, ctx: &AuditCtx, items: &[CveEnrichment]) -> Result<u32> {
        self.named(enrichment::upsert(&self.pool, ctx, items).await)
    }

    async fn get_enrichment(&self, cves: &[String]) -> Result<Vec<CveEnrichment>> {
        self.named(enrichment::get(&mut *self.reader().await?, cves).await)
    }

    async fn sync_findings(
        &self,
        ctx: &AuditCtx,
        asset: AssetId,
        items: &[NewFinding],
    ) -> Result<FindingsChange> {
        self.named(self.sync_findings_of(ctx, asset, items).await)
    }

    async fn store_finding_details(&self, findings: &[Arc<Finding>]) -> Result<Vec<i64>> {
        self.named(self.store_finding_details_of(findings).await)
    }

    async fn sync_findings_batch(
        &self,
        ctx: &AuditCtx,
        batch: &FindingsBatch,
    ) -> Result<FindingsChange> {
        self.named(self.sync_findings_batch_of(ctx, batch).await)
    }

    async fn relevel_findings(&self, ctx: &AuditCtx, levels: &[AdvisoryLevel]) -> Result<u64> {
        self.named(self.relevel_findings_of(ctx, levels).await)
    }

    async fn list_findings(&self, filter: &FindingFilter) -> Result<Vec<StoredFinding>> {
        self.named(self.list_findings_of(filter).await)
    }

    async fn assets_with_packages(&self, names: &[String]) -> Result<Vec<AssetId>> {
        self.named(inventory::assets_with_packages(&mut *self.reader().await?, names).await)
    }

    async fn record_scan_import(
        &self,
        ctx: &AuditCtx,
        import: &NewScanImport,
    ) -> Result<ScanImport> {
        self.named(scans::record(&self.pool, ctx, import).await)
    }

    async fn list_scan_imports(&self, after: Option<i64>, limit: u32) -> Result<Vec<ScanImport>> {
        self.named(scans::list_imports(&mut *self.reader().await?, after, limit).await)
    }

    async fn list_scan_findings(
        &self,
        filter: &ScanFindingFilter,
    ) -> Result<Vec<StoredScanFinding>> {
        self.named(scans::list_findings(&mut *self.reader().await?, filter).await)
    }

    async fn find_assets_by_ip(&self, ip: &str) -> Result<Vec<Asset>> {
        self.named(scans::find_by_ip(&mut *self.reader().await?, ip).await)
    }

    async fn list_asset_addresses(&self, id: AssetId) -> Result<Vec<AssetAddress>> {
        let mut conn = self.reader().await?;
        self.named(assets::load(&mut conn, id).await)?;
        self.named(scans::addresses(&mut conn, id).await)
    }

    async fn create_enrollment_token(
        &self,
        ctx: &AuditCtx,
        new: &NewEnrollmentToken,
    ) -> Result<EnrollmentToken> {
        self.named(agents::create_token(&self.pool, ctx, new).await)
    }

    async fn list_enrollment_tokens(&self) -> Result<Vec<EnrollmentToken>> {
        self.named(agents::list_tokens(&mut *self.reader().await?).await)
    }

    async fn revoke_enrollment_token(&self, ctx: &AuditCtx, id: i64) -> Result<EnrollmentToken> {
        self.named(agents::revoke_token(&self.pool, ctx, id).await)
    }

    async fn enroll_agent(
        &self,
        ctx: &AuditCtx,
        token_hash: &str,
        new: &NewAgent,
    ) -> Result<Option<Enrolled>> {
        self.named(agents::enroll(&self.pool, ctx, token_hash, new).await)
    }

    async fn get_agent(&self, id: i64) -> Result<Agent> {
        self.named(agents::load_agent(&mut *self.reader().await?, id).await)
    }

    async fn list_agents(&self) -> Result<Vec<Agent>> {
        self.named(agents::list_agents(&mut *self.reader().await?).await)
    }

    async fn revoke_agent(&self, ctx: &AuditCtx, id: i64) -> Result<Agent> {
        self.named(agents::revoke_agent(&self.pool, ctx, id).await)
    }

    async fn record_agent_contact(
        &self,
        id: i64,
        at: jiff::Timestamp,
        c: &AgentContact,
    ) -> Result<()> {
        self.named(agents::contact(&self.pool, id, at, c).await)
    }

    async fn server_key(&self, ctx: &AuditCtx, key: &NewServerKey) -> Result<String> {
        self.named(agents::server_key(&self.pool, ctx, key).await)
    }

    async fn create_job(&self, ctx: &AuditCtx, new: &NewJob) -> Result<StoredJob> {
        self.named(jobs::create(&self.pool, ctx, new).await)
    }

    async fn get_job(&self, id: &str) -> Result<StoredJob> {
        self.named(jobs::get(&mut *self.reader().await?, id).await)
    }

    async fn list_job_reports(&self, id: &str) -> Result<Vec<StoredJobReport>> {
        self.named(jobs::reports(&mut *self.reader().await?, id).await)
    }

    async fn deliver_jobs(&self, agent: i64, now: jiff::Timestamp) -> Result<Vec<StoredJob>> {
        self.named(jobs::deliver(&self.pool, agent, now).await)
    }

    async fn record_job_reports(
        &self,
        ctx: &AuditCtx,
        agent: i64,
        reports: &[NewJobReport],
    ) -> Result<ReportsRecorded> {
        self.named(jobs::record_reports(&self.pool, ctx, agent, reports).await)
    }
}
