//! API tokens and login-failure throttling.

use crate::audit;
use crate::error::{conflict, db_err};
use crate::rows::{self, TOKEN_COLS, USER_COLS};
use patchwarden_domain::clock::to_micros;
use patchwarden_domain::ids::{TokenId, UserId};
use patchwarden_store::audit_drafts as drafts;
use patchwarden_store::{ApiToken, AuditCtx, NewToken, Result, StoreError, User};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};

async fn load(conn: &mut SqliteConnection, id: TokenId) -> Result<ApiToken> {
    let sql = format!("SELECT {TOKEN_COLS} FROM api_tokens t WHERE t.id = $1");
    let row = sqlx::query(&sql)
        .bind(id.get())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .ok_or(StoreError::NotFound { entity: "token" })?;
    rows::token(&row)
}

pub(crate) async fn get(conn: &mut SqliteConnection, id: TokenId) -> Result<ApiToken> {
    load(conn, id).await
}

pub(crate) async fn create(pool: &SqlitePool, ctx: &AuditCtx, new: &NewToken) -> Result<ApiToken> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO api_tokens (user_id, name, prefix, token_hash, created_at, expires_at) \
         SELECT id, $2, $3, $4, $5, $6 FROM users WHERE id = $1 RETURNING id",
    )
    .bind(new.user_id.get())
    .bind(&new.name)
    .bind(&new.prefix)
    .bind(&new.token_hash)
    .bind(to_micros(ctx.at))
    .bind(new.expires_at.map(to_micros))
    .fetch_optional(&mut *tx)
    .await
    .map_err(conflict(|| "token already exists".to_owned()))?
    .ok_or(StoreError::NotFound { entity: "user" })?;
    let token = load(&mut tx, TokenId::new(id)).await?;
    audit::append(&mut tx, drafts::token_create(ctx, &token), ctx.at).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(token)
}

pub(crate) async fn find(
    conn: &mut SqliteConnection,
    token_hash: &str,
    now: jiff::Timestamp,
) -> Result<Option<(ApiToken, User)>> {
    let sql = format!(
        "SELECT {TOKEN_COLS}, {USER_COLS} FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL \
         AND (t.expires_at IS NULL OR t.expires_at > $2)"
    );
    let row = sqlx::query(&sql)
        .bind(token_hash)
        .bind(to_micros(now))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    row.map(|r| Ok((rows::token(&r)?, rows::user(&r)?)))
        .transpose()
}

pub(crate) async fn list(
    conn: &mut SqliteConnection,
    user: Option<UserId>,
) -> Result<Vec<ApiToken>> {
    let mut q = QueryBuilder::<Sqlite>::new(format!("SELECT {TOKEN_COLS} FROM api_tokens t"));
    if let Some(u) = user {
        q.push(" WHERE t.user_id = ").push_bind(u.get());
    }
    q.push(" ORDER BY t.created_at DESC, t.id DESC");
    let rows = crate::sql::build(&mut q)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    rows.iter().map(rows::token).collect()
}

pub(crate) async fn revoke(pool: &SqlitePool, ctx: &AuditCtx, id: TokenId) -> Result<ApiToken> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
    let before = load(&mut tx, id).await?;
    if before.revoked_at.is_some() {
        return Ok(before);
    }
    sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2")
        .bind(to_micros(ctx.at))
        .bind(id.get())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    let after = load(&mut tx, id).await?;
    audit::append(&mut tx, drafts::token_revoke(ctx, &before, &after), ctx.at).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(after)
}

pub(crate) async fn touch(pool: &SqlitePool, id: TokenId, at: jiff::Timestamp) -> Result<()> {
    let done = sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
        .bind(to_micros(at))
        .bind(id.get())
        .execute(pool)
        .await
        .map_err(db_err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound { entity: "token" });
    }
    Ok(())
}

pub(crate) async fn record_failure(
    pool: &SqlitePool,
    keys: &[String],
    at: jiff::Timestamp,
) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let at = to_micros(at);
    let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO login_failures (key, at) ");
    q.push_values(keys.iter().take(1000), |mut b, k| {
        b.push_bind(k.as_str()).push_bind(at);
    });
    crate::sql::build(&mut q)
        .execute(pool)
        .await
        .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn count_failures(
    conn: &mut SqliteConnection,
    key: &str,
    since: jiff::Timestamp,
) -> Result<u64> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM login_failures WHERE key = $1 AND at >= $2")
            .bind(key)
            .bind(to_micros(since))
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
    u64::try_from(n).map_err(StoreError::corrupt)
}

pub(crate) async fn clear_failures(pool: &SqlitePool, key: &str) -> Result<()> {
    sqlx::query("DELETE FROM login_failures WHERE key = $1")
        .bind(key)
        .execute(pool)
        .await
        .map_err(db_err)?;
    Ok(())
}
