//! Reading rows back into model types. Every text column that holds a domain value is
//! parsed again, so corrupt rows surface as [`StoreError::Corrupt`].

use crate::error::db_err;
use patchwarden_domain::asset::{Hostname, Label, OsInfo};
use patchwarden_domain::clock::from_micros;
use patchwarden_domain::ids::{AssetId, TokenId, UserId};
use patchwarden_domain::role::RoleSet;
use patchwarden_domain::user::Username;
use patchwarden_store::{ApiToken, Asset, Result, Session, StoreError, User};
use sqlx::postgres::PgRow;
use sqlx::Row;
use std::str::FromStr;

/// Columns of an asset, with its groups as comma-separated text (labels cannot
/// contain commas). Use with `FROM assets a`.
pub(crate) const ASSET_COLS: &str = "a.id, a.hostname, a.kind, a.os_family, a.os_distribution, \
    a.os_release, a.os_arch, a.environment, a.criticality, a.owner, a.protected_data, \
    a.package_format, a.package_count, a.inventory_hash, a.last_seen_at, a.created_at, \
    a.updated_at, (SELECT string_agg(g.label, ',' ORDER BY g.label) FROM asset_groups g \
    WHERE g.asset_id = a.id) AS groups_csv";

/// Columns of a user. Use with `FROM users u`.
pub(crate) const USER_COLS: &str = "u.id AS u_id, u.username, u.display_name, u.email, \
    u.roles, u.disabled, u.must_change_password, u.created_at AS u_created_at, \
    u.updated_at AS u_updated_at, u.last_login_at";

/// Columns of an API token. Use with `FROM api_tokens t`.
pub(crate) const TOKEN_COLS: &str = "t.id AS t_id, t.user_id AS t_user_id, t.name, t.prefix, \
    t.created_at AS t_created_at, t.expires_at, t.last_used_at, t.revoked_at";

fn get<'r, T>(row: &'r PgRow, col: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(col).map_err(db_err)
}

fn parse<T>(row: &PgRow, col: &str) -> Result<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let s: String = get(row, col)?;
    s.parse()
        .map_err(|e| StoreError::corrupt(format!("column {col}: {e}")))
}

fn time(row: &PgRow, col: &str) -> Result<jiff::Timestamp> {
    Ok(from_micros(get(row, col)?))
}

fn opt_time(row: &PgRow, col: &str) -> Result<Option<jiff::Timestamp>> {
    Ok(get::<Option<i64>>(row, col)?.map(from_micros))
}

pub(crate) fn asset(row: &PgRow) -> Result<Asset> {
    let hostname: String = get(row, "hostname")?;
    let groups_csv: Option<String> = get(row, "groups_csv")?;
    let mut groups = groups_csv
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(Label::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(StoreError::corrupt)?;
    groups.sort();
    let format: Option<String> = get(row, "package_format")?;
    let count: i64 = get(row, "package_count")?;
    Ok(Asset {
        id: AssetId::new(get(row, "id")?),
        hostname: Hostname::parse(&hostname).map_err(StoreError::corrupt)?,
        kind: parse(row, "kind")?,
        os: OsInfo {
            family: parse(row, "os_family")?,
            distribution: get(row, "os_distribution")?,
            release: get(row, "os_release")?,
            arch: get(row, "os_arch")?,
        },
        environment: parse(row, "environment")?,
        criticality: parse(row, "criticality")?,
        owner: get(row, "owner")?,
        groups,
        protected_data: get(row, "protected_data")?,
        package_format: format
            .map(|f| f.parse())
            .transpose()
            .map_err(StoreError::corrupt)?,
        package_count: u32::try_from(count).map_err(StoreError::corrupt)?,
        inventory_hash: get(row, "inventory_hash")?,
        last_seen_at: opt_time(row, "last_seen_at")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub(crate) fn user(row: &PgRow) -> Result<User> {
    let username: String = get(row, "username")?;
    let roles: String = get(row, "roles")?;
    Ok(User {
        id: UserId::new(get(row, "u_id")?),
        username: Username::parse(&username).map_err(StoreError::corrupt)?,
        display_name: get(row, "display_name")?,
        email: get(row, "email")?,
        roles: RoleSet::from_csv(&roles).map_err(StoreError::corrupt)?,
        disabled: get(row, "disabled")?,
        must_change_password: get(row, "must_change_password")?,
        created_at: time(row, "u_created_at")?,
        updated_at: time(row, "u_updated_at")?,
        last_login_at: opt_time(row, "last_login_at")?,
    })
}

pub(crate) fn token(row: &PgRow) -> Result<ApiToken> {
    Ok(ApiToken {
        id: TokenId::new(get(row, "t_id")?),
        user_id: UserId::new(get(row, "t_user_id")?),
        name: get(row, "name")?,
        prefix: get(row, "prefix")?,
        created_at: time(row, "t_created_at")?,
        expires_at: opt_time(row, "expires_at")?,
        last_used_at: opt_time(row, "last_used_at")?,
        revoked_at: opt_time(row, "revoked_at")?,
    })
}

/// A session row selected as `s.user_id AS s_user_id, s.csrf_token,
/// s.created_at AS s_created_at, s.expires_at AS s_expires_at, s.source_ip`.
pub(crate) fn session(row: &PgRow) -> Result<Session> {
    Ok(Session {
        user_id: UserId::new(get(row, "s_user_id")?),
        csrf_token: get(row, "csrf_token")?,
        created_at: time(row, "s_created_at")?,
        expires_at: time(row, "s_expires_at")?,
        source_ip: get(row, "source_ip")?,
    })
}
