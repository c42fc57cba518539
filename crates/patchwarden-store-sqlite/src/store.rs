//! The [`Store`] implementation: each method delegates to the module that owns the
//! tables; writes go through the single writer connection, reads through the pool.

use crate::agent_cache::Scope;
use crate::error::db_err;
use crate::{
    advisories, agents, assets, audit, enrichment, inventory, jobs, match_inputs, scans, tokens,
    users, SqliteStore,
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
use std::sync::Arc;

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.read)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn warm_up(&self) -> Result<()> {
        inventory::catch_up(&mut *self.reader().await?, &self.packages).await
    }

    async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }

    async fn create_asset(&self, ctx: &AuditCtx, new: &NewAsset) -> Result<Asset> {
        assets::create(&self.write, ctx, new).await
    }

    async fn get_asset(&self, id: AssetId) -> Result<Asset> {
        assets::load(&mut *self.reader().await?, id).await
    }

    async fn find_asset_by_hostname(&self, hostname: &str) -> Result<Option<Asset>> {
        assets::find_by_hostname(&mut *self.reader().await?, hostname).await
    }

    async fn list_assets(&self, filter: &AssetFilter) -> Result<Vec<Asset>> {
        assets::list(&mut *self.reader().await?, filter).await
    }

    async fn count_assets(&self) -> Result<u64> {
        assets::count(&mut *self.reader().await?).await
    }

    async fn update_asset(&self, ctx: &AuditCtx, id: AssetId, patch: &AssetPatch) -> Result<Asset> {
        self.changing_agents(
            Scope::Asset(id),
            assets::update(&self.write, ctx, id, patch),
        )
        .await
    }

    async fn delete_asset(&self, ctx: &AuditCtx, id: AssetId) -> Result<()> {
        self.changing_agents(Scope::Asset(id), assets::delete(&self.write, ctx, id))
            .await
    }

    async fn replace_checked_inventory(
        &self,
        ctx: &AuditCtx,
        id: AssetId,
        inv: &CheckedInventory<'_>,
    ) -> Result<InventoryChange> {
        // Everything but the writes happens here, in parallel with other reports; the
        // writer task only applies the result (group commit), then forgets this asset's
        // agents in the agent cache.
        let (prepared, read) =
            inventory::prepare(&mut *self.reader().await?, &self.packages, id, inv).await?;
        self.packages.remember(read);
        self.writer.replace(ctx, id, prepared).await
    }

    async fn replace_checked_inventory_of(
        &self,
        ctx: &AuditCtx,
        asset: &Asset,
        inv: &CheckedInventory<'_>,
    ) -> Result<InventoryChange> {
        self.record_agent_report(ctx, None, asset, inv).await
    }

    async fn record_agent_report(
        &self,
        ctx: &AuditCtx,
        contact: Option<(i64, jiff::Timestamp, &AgentContact)>,
        asset: &Asset,
        inv: &CheckedInventory<'_>,
    ) -> Result<InventoryChange> {
        let prepared = self.prepare_report(asset, inv).await?;
        match contact {
            // One commit for both (a first report always records its agent's contact).
            Some(c) => {
                self.writer
                    .replace_with_contact(ctx, asset.id, prepared, c)
                    .await
            }
            None => self.writer.replace(ctx, asset.id, prepared).await,
        }
    }

    async fn get_inventory(&self, id: AssetId) -> Result<Vec<InstalledPackage>> {
        inventory::get(&mut *self.reader().await?, &self.packages, id).await
    }

    async fn list_asset_packages(
        &self,
        after: Option<AssetId>,
        limit: u32,
    ) -> Result<Vec<AssetPackages>> {
        match_inputs::asset_packages(&mut *self.reader().await?, after, limit).await
    }

    async fn packages_by_id(&self, ids: &[i64]) -> Result<Vec<(i64, InstalledPackage)>> {
        match_inputs::packages_by_id(&mut *self.reader().await?, ids).await
    }

    async fn create_user(&self, ctx: &AuditCtx, new: &NewUser) -> Result<User> {
        users::create(&self.write, ctx, new).await
    }

    async fn get_user(&self, id: UserId) -> Result<User> {
        users::load(&mut *self.reader().await?, id).await
    }

    async fn get_user_credentials(&self, username: &Username) -> Result<Option<(User, String)>> {
        users::credentials(&mut *self.reader().await?, username).await
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        users::list(&mut *self.reader().await?).await
    }

    async fn count_users(&self) -> Result<u64> {
        users::count(&mut *self.reader().await?).await
    }

    async fn update_user(&self, ctx: &AuditCtx, id: UserId, patch: &UserPatch) -> Result<User> {
        users::update(&self.write, ctx, id, patch).await
    }

    async fn set_password(
        &self,
        ctx: &AuditCtx,
        id: UserId,
        password_hash: &str,
        must_change_password: bool,
    ) -> Result<()> {
        users::set_password(&self.write, ctx, id, password_hash, must_change_password).await
    }

    async fn create_session(&self, ctx: &AuditCtx, new: &NewSession) -> Result<()> {
        users::create_session(&self.write, ctx, new).await
    }

    async fn get_session(
        &self,
        token_hash: &str,
        now: jiff::Timestamp,
    ) -> Result<Option<(Session, User)>> {
        users::get_session(&mut *self.reader().await?, token_hash, now).await
    }

    async fn delete_session(&self, ctx: &AuditCtx, token_hash: &str) -> Result<()> {
        users::delete_session(&self.write, ctx, token_hash).await
    }

    async fn delete_user_sessions(&self, id: UserId) -> Result<u64> {
        users::delete_user_sessions(&self.write, id).await
    }

    async fn purge_expired_sessions(&self, now: jiff::Timestamp) -> Result<u64> {
        users::purge_sessions(&self.write, now).await
    }

    async fn create_token(&self, ctx: &AuditCtx, new: &NewToken) -> Result<ApiToken> {
        tokens::create(&self.write, ctx, new).await
    }

    async fn find_token(
        &self,
        token_hash: &str,
        now: jiff::Timestamp,
    ) -> Result<Option<(ApiToken, User)>> {
        tokens::find(&mut *self.reader().await?, token_hash, now).await
    }

    async fn get_token(&self, id: TokenId) -> Result<ApiToken> {
        tokens::get(&mut *self.reader().await?, id).await
    }

    async fn list_tokens(&self, user: Option<UserId>) -> Result<Vec<ApiToken>> {
        tokens::list(&mut *self.reader().await?, user).await
    }

    async fn revoke_token(&self, ctx: &AuditCtx, id: TokenId) -> Result<ApiToken> {
        tokens::revoke(&self.write, ctx, id).await
    }

    async fn touch_token(&self, id: TokenId, at: jiff::Timestamp) -> Result<()> {
        tokens::touch(&self.write, id, at).await
    }

    async fn record_login_failure(&self, keys: &[String], at: jiff::Timestamp) -> Result<()> {
        tokens::record_failure(&self.write, keys, at).await
    }

    async fn count_login_failures(&self, key: &str, since: jiff::Timestamp) -> Result<u64> {
        tokens::count_failures(&mut *self.reader().await?, key, since).await
    }

    async fn clear_login_failures(&self, key: &str) -> Result<()> {
        tokens::clear_failures(&self.write, key).await
    }

    async fn append_audit(&self, ctx: &AuditCtx, draft: AuditDraft) -> Result<AuditEvent> {
        let mut tx = self
            .write
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err)?;
        let ev = audit::append(&mut tx, draft, ctx.at).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(ev)
    }

    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>> {
        audit::list(&mut *self.reader().await?, filter).await
    }

    async fn audit_head(&self) -> Result<Option<(i64, String)>> {
        audit::head(&mut *self.reader().await?).await
    }

    async fn upsert_advisories(
        &self,
        ctx: &AuditCtx,
        items: &[Advisory],
    ) -> Result<AdvisoryUpsert> {
        advisories::upsert(&self.write, ctx, items).await
    }

    async fn get_advisory(&self, id: &str) -> Result<StoredAdvisory> {
        advisories::get(&mut *self.reader().await?, id).await
    }

    async fn list_advisories(&self, filter: &AdvisoryFilter) -> Result<Vec<StoredAdvisory>> {
        advisories::list(&mut *self.reader().await?, filter).await
    }

    async fn count_advisories(&self) -> Result<u64> {
        advisories::count(&mut *self.reader().await?).await
    }

    async fn upsert_enrichment(&self, ctx: &AuditCtx, items: &[CveEnrichment]) -> Result<u32> {
        enrichment::upsert(&self.write, ctx, items).await
    }

    async fn get_enrichment(&self, cves: &[String]) -> Result<Vec<CveEnrichment>> {
        enrichment::get(&mut *self.reader().await?, cves).await
    }

    async fn sync_findings(
        &self,
        ctx: &AuditCtx,
        asset: AssetId,
        items: &[NewFinding],
    ) -> Result<FindingsChange> {
        self.sync_findings_of(ctx, asset, items).await
    }

    async fn store_finding_details(&self, findings: &[Arc<Finding>]) -> Result<Vec<i64>> {
        self.store_finding_details_of(findings).await
    }

    async fn sync_findings_batch(
        &self,
        ctx: &AuditCtx,
        batch: &FindingsBatch,
    ) -> Result<FindingsChange> {
        self.sync_findings_batch_of(ctx, batch).await
    }

    async fn relevel_findings(&self, ctx: &AuditCtx, levels: &[AdvisoryLevel]) -> Result<u64> {
        self.relevel_findings_of(ctx, levels).await
    }

    async fn list_findings(&self, filter: &FindingFilter) -> Result<Vec<StoredFinding>> {
        self.list_findings_of(filter).await
    }

    async fn assets_with_packages(&self, names: &[String]) -> Result<Vec<AssetId>> {
        inventory::assets_with_packages(&mut *self.reader().await?, names).await
    }

    async fn record_scan_import(
        &self,
        ctx: &AuditCtx,
        import: &NewScanImport,
    ) -> Result<ScanImport> {
        scans::record(&self.write, ctx, import).await
    }

    async fn list_scan_imports(&self, after: Option<i64>, limit: u32) -> Result<Vec<ScanImport>> {
        scans::list_imports(&mut *self.reader().await?, after, limit).await
    }

    async fn list_scan_findings(
        &self,
        filter: &ScanFindingFilter,
    ) -> Result<Vec<StoredScanFinding>> {
        scans::list_findings(&mut *self.reader().await?, filter).await
    }

    async fn find_assets_by_ip(&self, ip: &str) -> Result<Vec<Asset>> {
        scans::find_by_ip(&mut *self.reader().await?, ip).await
    }

    async fn list_asset_addresses(&self, id: AssetId) -> Result<Vec<AssetAddress>> {
        let mut conn = self.reader().await?;
        assets::load(&mut conn, id).await?;
        scans::addresses(&mut conn, id).await
    }

    async fn create_enrollment_token(
        &self,
        ctx: &AuditCtx,
        new: &NewEnrollmentToken,
    ) -> Result<EnrollmentToken> {
        agents::create_token(&self.write, ctx, new).await
    }

    async fn list_enrollment_tokens(&self) -> Result<Vec<EnrollmentToken>> {
        agents::list_tokens(&mut *self.reader().await?).await
    }

    async fn revoke_enrollment_token(&self, ctx: &AuditCtx, id: i64) -> Result<EnrollmentToken> {
        self.changing_agents(Scope::All, agents::revoke_token(&self.write, ctx, id))
            .await
    }

    async fn enroll_agent(
        &self,
        ctx: &AuditCtx,
        token_hash: &str,
        new: &NewAgent,
    ) -> Result<Option<Enrolled>> {
        self.changing_agents(
            Scope::All,
            agents::enroll(&self.write, ctx, token_hash, new),
        )
        .await
    }

    async fn get_agent(&self, id: i64) -> Result<Agent> {
        let generation = match self.agents.get(id) {
            Ok(agent) => return Ok(agent),
            Err(generation) => generation,
        };
        let agent = agents::load_agent(&mut *self.reader().await?, id).await?;
        self.agents.store(generation, &agent);
        Ok(agent)
    }

    async fn list_agents(&self) -> Result<Vec<Agent>> {
        agents::list_agents(&mut *self.reader().await?).await
    }

    async fn revoke_agent(&self, ctx: &AuditCtx, id: i64) -> Result<Agent> {
        self.changing_agents(Scope::All, agents::revoke_agent(&self.write, ctx, id))
            .await
    }

    async fn record_agent_contact(
        &self,
        id: i64,
        at: jiff::Timestamp,
        c: &AgentContact,
    ) -> Result<()> {
        // Group-committed; the writer applies it to the agent cache.
        self.writer.contact(id, at, c).await
    }

    async fn server_key(&self, ctx: &AuditCtx, key: &NewServerKey) -> Result<String> {
        agents::server_key(&self.write, ctx, key).await
    }

    async fn create_job(&self, ctx: &AuditCtx, new: &NewJob) -> Result<StoredJob> {
        self.changing_agents(Scope::All, jobs::create(&self.write, ctx, new))
            .await
    }

    async fn get_job(&self, id: &str) -> Result<StoredJob> {
        jobs::get(&mut *self.reader().await?, id).await
    }

    async fn list_job_reports(&self, id: &str) -> Result<Vec<StoredJobReport>> {
        jobs::reports(&mut *self.reader().await?, id).await
    }

    async fn deliver_jobs(&self, agent: i64, now: jiff::Timestamp) -> Result<Vec<StoredJob>> {
        // Most check-ins have nothing waiting: answer those from a reader, without
        // taking the single writer.
        if !jobs::any_pending(&mut *self.reader().await?, agent, now).await? {
            return Ok(Vec::new());
        }
        self.changing_agents(Scope::Agent(agent), jobs::deliver(&self.write, agent, now))
            .await
    }

    async fn record_job_reports(
        &self,
        ctx: &AuditCtx,
        agent: i64,
        reports: &[NewJobReport],
    ) -> Result<ReportsRecorded> {
        self.changing_agents(
            Scope::Agent(agent),
            jobs::record_reports(&self.write, ctx, agent, reports),
        )
        .await
    }
}
