use super::extract::{ApiJson, IdPath};
use crate::auth::secret::{random_secret, sha256_hex};
use crate::auth::{authorize, Authenticated};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use jiff::SignedDuration;
use patchwarden_domain::asset::clean_text;
use patchwarden_domain::ids::TokenId;
use patchwarden_domain::role::Permission;
use patchwarden_store::{ApiToken, NewToken};
use serde::Deserialize;
use serde_json::{json, Value};

/// Prefix of every API token secret, so secret scanners can recognise leaked ones.
pub const TOKEN_PREFIX: &str = "pw_";

pub async fn list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> ApiResult<Json<Value>> {
    let tokens = state.store.list_tokens(Some(caller.user.id)).await?;
    Ok(Json(json!({ "tokens": tokens })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    name: String,
    /// Days until the token expires; omit for a token that lives until revoked.
    expires_in_days: Option<u32>,
}

pub async fn create(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiJson(req): ApiJson<CreateTokenRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if caller.user.must_change_password {
        return Err(crate::auth::password_change_required());
    }
    let name = clean_text("name", &req.name, 100)?;
    if name.is_empty() {
        return Err(patchwarden_domain::ValidationError::new("name", "is empty").into());
    }
    let now = state.clock.now();
    let expires_at = match req.expires_in_days {
        None => None,
        Some(0) | Some(3651..) => {
            return Err(patchwarden_domain::ValidationError::new(
                "expires_in_days",
                "must be between 1 and 3650",
            )
            .into())
        }
        Some(d) => now
            .checked_add(SignedDuration::from_hours(i64::from(d) * 24))
            .ok(),
    };
    let secret = random_secret(TOKEN_PREFIX);
    let token = state
        .store
        .create_token(
            &caller.ctx(&state),
            &NewToken {
                user_id: caller.user.id,
                name,
                prefix: secret.chars().take(TOKEN_PREFIX.len() + 6).collect(),
                token_hash: sha256_hex(&secret),
                expires_at,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "token": token, "secret": secret })),
    ))
}

pub async fn revoke(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    IdPath(id): IdPath<TokenId>,
) -> ApiResult<Json<ApiToken>> {
    let token = state.store.get_token(id).await?;
    if token.user_id != caller.user.id {
        // Someone else's token: only user managers may revoke it; others learn nothing.
        authorize(&caller, Permission::UserManage).map_err(|_| ApiError::not_found("token"))?;
    }
    Ok(Json(
        state.store.revoke_token(&caller.ctx(&state), id).await?,
    ))
}
