//! Users and login sessions.

use crate::audit;
use crate::error::{conflict, db_err};
use crate::rows::{self, USER_COLS};
use patchwarden_domain::clock::to_micros;
use patchwarden_domain::ids::UserId;
use patchwarden_domain::user::Username;
use patchwarden_store::audit_drafts as drafts;
use patchwarden_store::{
    AuditCtx, NewSession, NewUser, Result, Session, StoreError, User, UserPatch,
};
use sqlx::{PgConnection, PgPool};

pub(crate) async fn load(conn: &mut PgConnection, id: UserId) -> Result<User> {
    let sql = format!("SELECT {USER_COLS} FROM users u WHERE u.id = $1");
    let row = sqlx::query(&sql)
        .bind(id.get())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .ok_or(StoreError::NotFound { entity: "user" })?;
    rows::user(&row)
}

pub(crate) async fn create(pool: &PgPool, ctx: &AuditCtx, new: &NewUser) -> Result<User> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO users (username, display_name, email, password_hash, roles, disabled, \
         must_change_password, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, FALSE, $6, $7, $7) RETURNING id",
    )
    .bind(new.username.as_str())
    .bind(&new.display_name)
    .bind(&new.email)
    .bind(&new.password_hash)
    .bind(new.roles.to_csv())
    .bind(new.must_change_password)
    .bind(to_micros(ctx.at))
    .fetch_one(&mut *tx)
    .await
    .map_err(conflict(|| format!("user name {} is taken", new.username)))?;
    let user = load(&mut tx, UserId::new(id)).await?;
    audit::append(&mut tx, drafts::user_create(ctx, &user), ctx.at).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(user)
}

pub(crate) async fn credentials(
    conn: &mut PgConnection,
    name: &Username,
) -> Result<Option<(User, String)>> {
    let sql = format!("SELECT {USER_COLS}, u.password_hash FROM users u WHERE u.username = $1");
    let row = sqlx::query(&sql)
        .bind(name.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    match row {
        None => Ok(None),
        Some(row) => {
            let hash: String = sqlx::Row::try_get(&row, "password_hash").map_err(db_err)?;
            Ok(Some((rows::user(&row)?, hash)))
        }
    }
}

pub(crate) async fn list(conn: &mut PgConnection) -> Result<Vec<User>> {
    let sql = format!("SELECT {USER_COLS} FROM users u ORDER BY u.username");
    let rows = sqlx::query(&sql)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    rows.iter().map(rows::user).collect()
}

pub(crate) async fn count(conn: &mut PgConnection) -> Result<u64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    u64::try_from(n).map_err(StoreError::corrupt)
}

pub(crate) async fn update(
    pool: &PgPool,
    ctx: &AuditCtx,
    id: UserId,
    p: &UserPatch,
) -> Result<User> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
        .bind(id.get())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    let before = load(&mut tx, id).await?;
    sqlx::query(
        "UPDATE users SET display_name = $1, email = $2, roles = $3, disabled = $4, \
         updated_at = $5 WHERE id = $6",
    )
    .bind(p.display_name.as_ref().unwrap_or(&before.display_name))
    .bind(p.email.as_ref().unwrap_or(&before.email))
    .bind(p.roles.as_ref().unwrap_or(&before.roles).to_csv())
    .bind(p.disabled.unwrap_or(before.disabled))
    .bind(to_micros(ctx.at))
    .bind(id.get())
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    let after = load(&mut tx, id).await?;
    audit::append(&mut tx, drafts::user_update(ctx, &before, &after), ctx.at).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(after)
}

pub(crate) async fn set_password(
    pool: &PgPool,
    ctx: &AuditCtx,
    id: UserId,
    hash: &str,
    must_change: bool,
) -> Result<()> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let done = sqlx::query(
        "UPDATE users SET password_hash = $1, must_change_password = $2, updated_at = $3 \
         WHERE id = $4",
    )
    .bind(hash)
    .bind(must_change)
    .bind(to_micros(ctx.at))
    .bind(id.get())
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound { entity: "user" });
    }
    audit::append(&mut tx, drafts::user_password(ctx, id, must_change), ctx.at).await?;
    tx.commit().await.map_err(db_err)
}

pub(crate) async fn create_session(pool: &PgPool, ctx: &AuditCtx, new: &NewSession) -> Result<()> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let at = to_micros(ctx.at);
    let done = sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
        .bind(at)
        .bind(new.user_id.get())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound { entity: "user" });
    }
    sqlx::query(
        "INSERT INTO sessions (token_hash, csrf_token, user_id, created_at, expires_at, \
         source_ip, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&new.token_hash)
    .bind(&new.csrf_token)
    .bind(new.user_id.get())
    .bind(at)
    .bind(to_micros(new.expires_at))
    .bind(&new.source_ip)
    .bind(&new.user_agent)
    .execute(&mut *tx)
    .await
    .map_err(conflict(|| "session already exists".to_owned()))?;
    audit::append(&mut tx, drafts::session_create(ctx, new), ctx.at).await?;
    tx.commit().await.map_err(db_err)
}

pub(crate) async fn get_session(
    conn: &mut PgConnection,
    token_hash: &str,
    now: jiff::Timestamp,
) -> Result<Option<(Session, User)>> {
    let sql = format!(
        "SELECT s.user_id AS s_user_id, s.csrf_token, s.created_at AS s_created_at, \
         s.expires_at AS s_expires_at, s.source_ip, {USER_COLS} \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2"
    );
    let row = sqlx::query(&sql)
        .bind(token_hash)
        .bind(to_micros(now))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    row.map(|r| Ok((rows::session(&r)?, rows::user(&r)?)))
        .transpose()
}

pub(crate) async fn delete_session(pool: &PgPool, ctx: &AuditCtx, token_hash: &str) -> Result<()> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let user: Option<(i64,)> =
        sqlx::query_as("DELETE FROM sessions WHERE token_hash = $1 RETURNING user_id")
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
    let draft = drafts::session_delete(ctx, user.map(|(u,)| UserId::new(u)));
    audit::append(&mut tx, draft, ctx.at).await?;
    tx.commit().await.map_err(db_err)
}

pub(crate) async fn delete_user_sessions(pool: &PgPool, id: UserId) -> Result<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(id.get())
        .execute(pool)
        .await
        .map_err(db_err)?;
    Ok(done.rows_affected())
}

pub(crate) async fn purge_sessions(pool: &PgPool, now: jiff::Timestamp) -> Result<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(to_micros(now))
        .execute(pool)
        .await
        .map_err(db_err)?;
    Ok(done.rows_affected())
}
