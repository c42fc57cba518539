use super::extract::ApiJson;
use crate::auth::{Authenticated, CallerVia, SESSION_COOKIE};
use crate::error::{ApiError, ApiResult};
use crate::service::login;
use crate::state::AppState;
use axum::extract::{FromRequestParts, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use patchwarden_domain::user::check_new_password;
use patchwarden_store::User;
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    username: String,
    password: String,
}

/// The request's origin (address, request id) without authentication.
#[derive(Debug)]
pub struct RequestOrigin(patchwarden_domain::audit::Origin);

impl FromRequestParts<AppState> for RequestOrigin {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(RequestOrigin(crate::auth::extract_origin(parts, state)))
    }
}

fn cookie(state: &AppState, value: &str, max_age: i64) -> String {
    let secure = if state.config.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    )
}

pub async fn login(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let s = login::login(&state, origin, &req.username, &req.password, ua).await?;
    let max_age = s
        .expires_at
        .duration_since(state.clock.now())
        .as_secs()
        .max(0);
    let set_cookie =
        HeaderValue::from_str(&cookie(&state, &s.secret, max_age)).map_err(ApiError::internal)?;
    let body = json!({
        "user": s.user,
        "csrf_token": s.csrf_token,
        "expires_at": s.expires_at,
        "must_change_password": s.user.must_change_password,
    });
    Ok(([(header::SET_COOKIE, set_cookie)], Json(body)).into_response())
}

pub async fn logout(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> ApiResult<Response> {
    if let CallerVia::Session { secret_hash } = &caller.via {
        state
            .store
            .delete_session(&caller.ctx(&state), secret_hash)
            .await?;
    }
    let clear = HeaderValue::from_str(&cookie(&state, "", 0)).map_err(ApiError::internal)?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response())
}

pub async fn me(Authenticated(caller): Authenticated) -> Json<User> {
    Json(caller.user)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    current_password: String,
    new_password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    check_new_password(&req.new_password)?;
    if req.new_password == req.current_password {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "new_password: must differ from the current password",
        ));
    }
    let creds = state
        .store
        .get_user_credentials(&caller.user.username)
        .await?;
    let ok = state
        .passwords
        .verify(
            &req.current_password,
            creds.as_ref().map(|(_, h)| h.as_str()),
        )
        .await;
    if !ok {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "invalid_credentials",
            "the current password is wrong",
        ));
    }
    let hash = state.passwords.hash(&req.new_password).await?;
    state
        .store
        .set_password(&caller.ctx(&state), caller.user.id, &hash, false)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
