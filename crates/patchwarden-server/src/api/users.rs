use super::extract::{ApiJson, IdPath};
use crate::auth::{perm, Need};
use crate::error::ApiResult;
use crate::service::users;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use patchwarden_domain::asset::clean_text;
use patchwarden_domain::ids::UserId;
use patchwarden_domain::role::RoleSet;
use patchwarden_domain::user::{check_new_password, Username};
use patchwarden_store::{User, UserPatch};
use serde::Deserialize;
use serde_json::{json, Value};

pub async fn list(
    State(state): State<AppState>,
    _: Need<perm::UserRead>,
) -> ApiResult<Json<Value>> {
    let users = state.store.list_users().await?;
    Ok(Json(json!({ "users": users })))
}

pub async fn get_one(
    State(state): State<AppState>,
    _: Need<perm::UserRead>,
    IdPath(id): IdPath<UserId>,
) -> ApiResult<Json<User>> {
    Ok(Json(state.store.get_user(id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    username: Username,
    display_name: Option<String>,
    email: Option<String>,
    /// Omit to have a one-time password generated.
    password: Option<String>,
    #[serde(default)]
    roles: RoleSet,
}

pub async fn create(
    State(state): State<AppState>,
    Need(caller, ..): Need<perm::UserManage>,
    ApiJson(req): ApiJson<CreateUserRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let created = users::create(
        &state,
        &caller.ctx(&state),
        req.username,
        req.display_name.as_deref(),
        req.email.as_deref(),
        req.password.as_deref(),
        req.roles,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "user": created.user, "one_time_password": created.one_time_password })),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    display_name: Option<String>,
    /// Empty string clears it.
    email: Option<String>,
    roles: Option<RoleSet>,
    disabled: Option<bool>,
}

pub async fn update(
    State(state): State<AppState>,
    Need(caller, ..): Need<perm::UserManage>,
    IdPath(id): IdPath<UserId>,
    ApiJson(req): ApiJson<UpdateUserRequest>,
) -> ApiResult<Json<User>> {
    let patch = UserPatch {
        display_name: req
            .display_name
            .map(|d| clean_text("display_name", &d, 200))
            .transpose()?,
        email: req
            .email
            .map(|e| clean_text("email", &e, 254).map(|e| Some(e).filter(|e| !e.is_empty())))
            .transpose()?,
        roles: req.roles,
        disabled: req.disabled,
    };
    let user = state
        .store
        .update_user(&caller.ctx(&state), id, &patch)
        .await?;
    if user.disabled {
        state.store.delete_user_sessions(id).await?;
    }
    Ok(Json(user))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// Omit to have a one-time password generated.
    password: Option<String>,
}

pub async fn reset_password(
    State(state): State<AppState>,
    Need(caller, ..): Need<perm::UserManage>,
    IdPath(id): IdPath<UserId>,
    ApiJson(req): ApiJson<ResetPasswordRequest>,
) -> ApiResult<Json<Value>> {
    let user = state.store.get_user(id).await?;
    let (password, one_time) = match req.password {
        Some(p) => {
            check_new_password(&p)?;
            (p, false)
        }
        None => (crate::auth::secret::random_password(), true),
    };
    let hash = state.passwords.hash(&password).await?;
    state
        .store
        .set_password(&caller.ctx(&state), id, &hash, one_time)
        .await?;
    state.store.delete_user_sessions(id).await?;
    let user = state.store.get_user(user.id).await?;
    Ok(Json(json!({
        "user": user,
        "one_time_password": one_time.then_some(password),
    })))
}
