//! Enrolment tokens, agents and the server keys. Writes run on the single writer
//! connection inside `BEGIN IMMEDIATE`, so a one-time token's consumption is
//! serialised with every other write.

use crate::error::{conflict, db_err};
use crate::{assets, audit};
use patchwarden_domain::clock::{from_micros, to_micros};
use patchwarden_domain::ids::AssetId;
use patchwarden_store::audit_drafts as drafts;
use patchwarden_store::{
    Agent, AgentContact, AuditCtx, Enrolled, EnrollmentToken, NewAgent, NewEnrollmentToken,
    NewServerKey, Result, StoreError,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};

const TOKEN_COLS: &str = "id, name, prefix, reusable, created_at, expires_at, revoked_at, \
    used_count, last_used_at";

/// Use with `FROM agents g JOIN assets a ON a.id = g.asset_id`.
const AGENT_COLS: &str = "g.id, g.asset_id, a.hostname, g.public_key, g.agent_version, \
    g.enrollment_token_id, g.enrolled_at, g.last_seen_at, g.revoked_at, g.kernel_running, \
    g.reboot_required, g.restart_needed, a.inventory_hash AS asset_inventory_hash, \
    EXISTS (SELECT 1 FROM agent_jobs j WHERE j.agent_id = g.id AND j.finished_at IS NULL) \
    AS unfinished_jobs";

fn get<'r, T>(row: &'r SqliteRow, col: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(col).map_err(db_err)
}

fn opt_time(row: &SqliteRow, col: &str) -> Result<Option<jiff::Timestamp>> {
    Ok(get::<Option<i64>>(row, col)?.map(from_micros))
}

fn token_row(row: &SqliteRow) -> Result<EnrollmentToken> {
    Ok(EnrollmentToken {
        id: get(row, "id")?,
        name: get(row, "name")?,
        prefix: get(row, "prefix")?,
        reusable: get(row, "reusable")?,
        created_at: from_micros(get(row, "created_at")?),
        expires_at: from_micros(get(row, "expires_at")?),
        revoked_at: opt_time(row, "revoked_at")?,
        used_count: u32::try_from(get::<i64>(row, "used_count")?).map_err(StoreError::corrupt)?,
        last_used_at: opt_time(row, "last_used_at")?,
    })
}

fn agent_row(row: &SqliteRow) -> Result<Agent> {
    Ok(Agent {
        id: get(row, "id")?,
        asset_id: AssetId::new(get(row, "asset_id")?),
        hostname: get(row, "hostname")?,
        public_key: get(row, "public_key")?,
        agent_version: get(row, "agent_version")?,
        enrollment_token_id: get(row, "enrollment_token_id")?,
        enrolled_at: from_micros(get(row, "enrolled_at")?),
        last_seen_at: opt_time(row, "last_seen_at")?,
        revoked_at: opt_time(row, "revoked_at")?,
        kernel_running: get(row, "kernel_running")?,
        reboot_required: get(row, "reboot_required")?,
        restart_needed: serde_json::from_str(&get::<String>(row, "restart_needed")?)
            .map_err(|e| StoreError::corrupt(format!("agents.restart_needed: {e}")))?,
        asset_inventory_hash: get(row, "asset_inventory_hash")?,
        unfinished_jobs: get(row, "unfinished_jobs")?,
    })
}

async fn load_token(conn: &mut SqliteConnection, id: i64) -> Result<EnrollmentToken> {
    let sql = format!("SELECT {TOKEN_COLS} FROM enrollment_tokens WHERE id = $1");
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .ok_or(StoreError::NotFound {
            entity: "enrollment token",
        })?;
    token_row(&row)
}

pub(crate) async fn create_token(
    pool: &SqlitePool,
    ctx: &AuditCtx,
    new: &NewEnrollmentToken,
) -> Result<EnrollmentToken> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO enrollment_tokens (name, prefix, token_hash, reusable, created_at, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(&new.name)
    .bind(&new.prefix)
    .bind(&new.token_hash)
    .bind(new.reusable)
    .bind(to_micros(ctx.at))
    .bind(to_micros(new.expires_at))
    .fetch_one(&mut *tx)
    .await
    .map_err(conflict(|| "enrollment token already exists".to_owned()))?;
    let token = load_token(&mut tx, id).await?;
    audit::append(
        &mut tx,
        drafts::enrollment_token_create(ctx, &token),
        ctx.at,
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    Ok(token)
}

pub(crate) async fn list_tokens(conn: &mut SqliteConnection) -> Result<Vec<EnrollmentToken>> {
    let sql =
        format!("SELECT {TOKEN_COLS} FROM enrollment_tokens ORDER BY created_at DESC, id DESC");
    let rows = sqlx::query(&sql)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    rows.iter().map(token_row).collect()
}

pub(crate) async fn revoke_token(
    pool: &SqlitePool,
    ctx: &AuditCtx,
    id: i64,
) -> Result<EnrollmentToken> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
    let before = load_token(&mut tx, id).await?;
    if before.revoked_at.is_some() {
        return Ok(before);
    }
    sqlx::query("UPDATE enrollment_tokens SET revoked_at = $1 WHERE id = $2")
        .bind(to_micros(ctx.at))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    let after = load_token(&mut tx, id).await?;
    let draft = drafts::enrollment_token_revoke(ctx, &before, &after);
    audit::append(&mut tx, draft, ctx.at).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(after)
}

pub(crate) async fn load_agent(conn: &mut SqliteConnection, id: i64) -> Result<Agent> {
    let sql = format!(
        "SELECT {AGENT_COLS} FROM agents g JOIN assets a ON a.id = g.asset_id WHERE g.id = $1"
    );
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .ok_or(StoreError::NotFound { entity: "agent" })?;
    agent_row(&row)
}

pub(crate) async fn list_agents(conn: &mut SqliteConnection) -> Result<Vec<Agent>> {
    let sql = format!(
        "SELECT {AGENT_COLS} FROM agents g JOIN assets a ON a.id = g.asset_id ORDER BY g.id"
    );
    let rows = sqlx::query(&sql)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    rows.iter().map(agent_row).collect()
}

pub(crate) async fn enroll(
    pool: &SqlitePool,
    ctx: &AuditCtx,
    token_hash: &str,
    new: &NewAgent,
) -> Result<Option<Enrolled>> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
    let at = to_micros(ctx.at);
    // The condition and the consumption are one statement: a one-time token whose
    // used_count is no longer 0 matches nothing.
    let consumed: Option<(i64,)> = sqlx::query_as(
        "UPDATE enrollment_tokens SET used_count = used_count + 1, last_used_at = $1 \
         WHERE token_hash = $2 AND revoked_at IS NULL AND expires_at > $1 \
         AND (reusable OR used_count = 0) RETURNING id",
    )
    .bind(at)
    .bind(token_hash)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db_err)?;
    let Some((token_id,)) = consumed else {
        return Ok(None);
    };
    let (asset, asset_created) =
        match assets::find_by_hostname(&mut tx, new.asset.hostname.as_str()).await? {
            Some(a) => (a, false),
            None => (assets::insert(&mut tx, ctx, &new.asset).await?, true),
        };
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO agents (asset_id, enrollment_token_id, public_key, agent_version, \
         enrolled_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(asset.id.get())
    .bind(token_id)
    .bind(&new.public_key)
    .bind(&new.agent_version)
    .bind(at)
    .fetch_one(&mut *tx)
    .await
    .map_err(db_err)?;
    let enrolled = Enrolled {
        agent: load_agent(&mut tx, id).await?,
        asset_created,
    };
    audit::append(&mut tx, drafts::agent_enroll(ctx, &enrolled), ctx.at).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(Some(enrolled))
}

pub(crate) async fn revoke_agent(pool: &SqlitePool, ctx: &AuditCtx, id: i64) -> Result<Agent> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
    let before = load_agent(&mut tx, id).await?;
    if before.revoked_at.is_some() {
        return Ok(before);
    }
    sqlx::query("UPDATE agents SET revoked_at = $1 WHERE id = $2")
        .bind(to_micros(ctx.at))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    let after = load_agent(&mut tx, id).await?;
    audit::append(&mut tx, drafts::agent_revoke(ctx, &before, &after), ctx.at).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(after)
}

/// Inside the group-commit writer's transaction (`group_commit`).
pub(crate) async fn contact(
    conn: &mut SqliteConnection,
    id: i64,
    at: jiff::Timestamp,
    c: &AgentContact,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE agents SET last_seen_at = $1, agent_version = $2, kernel_running = $3, \
         reboot_required = $4, restart_needed = $6 WHERE id = $5",
    )
    .bind(to_micros(at))
    .bind(&c.agent_version)
    .bind(&c.kernel_running)
    .bind(c.reboot_required)
    .bind(id)
    .bind(restart_json(c))
    .execute(conn)
    .await
    .map_err(db_err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound { entity: "agent" });
    }
    Ok(())
}

pub(crate) async fn server_key(
    pool: &SqlitePool,
    ctx: &AuditCtx,
    key: &NewServerKey,
) -> Result<String> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
    let existing: Option<(String,)> =
        sqlx::query_as("SELECT secret FROM server_keys WHERE name = $1")
            .bind(&key.name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
    if let Some((secret,)) = existing {
        return Ok(secret);
    }
    sqlx::query(
        "INSERT INTO server_keys (name, secret, public, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&key.name)
    .bind(&key.secret)
    .bind(&key.public)
    .bind(to_micros(ctx.at))
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    audit::append(&mut tx, drafts::server_key_create(ctx, key), ctx.at).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(key.secret.clone())
}

/// `agents.restart_needed` as stored: the contact's processes as a JSON array.
pub(crate) fn restart_json(c: &AgentContact) -> String {
    serde_json::to_string(&c.restart_needed).unwrap_or_else(|_| "[]".into())
}
