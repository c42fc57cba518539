//! Agent endpoints — enrolment with a token and signed check-ins — and their
//! administration: enrolment tokens and agents (list, revoke).
//!
//! An agent proves who it is with [`AgentSigned`], an extractor of its own (distinct
//! from the session-user and API-token extractors): the Ed25519 signature of the key
//! stored at enrolment over method, path, timestamp and the raw body as received.

use super::extract::{ApiJson, IdPath};
use crate::auth::secret::{random_secret, sha256_hex};
use crate::auth::{extract_origin, perm, Need};
use crate::error::{ApiError, ApiResult};
use crate::service::agents::{self as service, ENROLL_TOKEN_PREFIX};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use jiff::SignedDuration;
use patchwarden_domain::asset::clean_text;
use patchwarden_domain::audit::Origin;
use patchwarden_domain::ValidationError;
use patchwarden_store::{Agent, EnrollmentToken, NewEnrollmentToken, StoreError};
use patchwarden_wire::agent::{
    CheckIn, CheckInReply, EnrollRequest, EnrollResponse, CHECKIN_FRAMED_MEDIA_TYPE,
};
use patchwarden_wire::sign::{
    request_message, HEADER_AGENT_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, MAX_CLOCK_SKEW_SECS,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::io::Read;

/// An enrolled, unrevoked agent whose signature over this request verified.
#[derive(Debug, Clone)]
pub struct AgentIdentity {
    pub agent: Agent,
    pub origin: Origin,
}

/// A request signed by an agent: who it is and the (decompressed, parsed) body.
#[derive(Debug, Clone)]
pub struct AgentSigned<T> {
    pub identity: AgentIdentity,
    pub body: T,
}

/// A body an agent signs, read from its decompressed bytes and its media type.
pub trait AgentBody: Sized {
    /// The body, or why it cannot be read.
    fn read(media_type: Option<&str>, body: Vec<u8>) -> Result<Self, String>;
}

impl AgentBody for CheckIn {
    /// Framed (protocol revision 3, [`CHECKIN_FRAMED_MEDIA_TYPE`]) or JSON (revisions 1
    /// and 2, whatever other media type is named).
    fn read(media_type: Option<&str>, body: Vec<u8>) -> Result<Self, String> {
        match media_type {
            Some(t) if t.eq_ignore_ascii_case(CHECKIN_FRAMED_MEDIA_TYPE) => {
                CheckIn::from_framed(body).map_err(|e| e.to_string())
            }
            _ => serde_json::from_slice(&body).map_err(|e| e.to_string()),
        }
    }
}

fn unauthenticated(why: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", why)
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "the request body is larger than server.max_body_bytes allows",
    )
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The body's bytes: gzip is inflated with a cap of `max` bytes.
fn decoded(headers: &HeaderMap, raw: &[u8], max: usize) -> ApiResult<Vec<u8>> {
    match header_str(headers, header::CONTENT_ENCODING.as_str()) {
        None | Some("identity") => Ok(raw.to_vec()),
        Some(e) if e.eq_ignore_ascii_case("gzip") => {
            let mut out = Vec::new();
            let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
            flate2::read::GzDecoder::new(raw)
                .take(limit)
                .read_to_end(&mut out)
                .map_err(|_| ApiError::bad_request("invalid_body", "the gzip body is corrupt"))?;
            if out.len() > max {
                return Err(too_large());
            }
            Ok(out)
        }
        Some(_) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "only gzip content encoding is accepted",
        )),
    }
}

impl<T: AgentBody> FromRequest<AppState> for AgentSigned<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let origin = extract_origin(&parts, state);
        let (method, path) = (parts.method.clone(), parts.uri.path().to_owned());
        let headers = parts.headers.clone();
        // Without the agent headers this is not an agent request at all.
        let (Some(id), Some(ts), Some(sig)) = (
            header_str(&headers, HEADER_AGENT_ID),
            header_str(&headers, HEADER_TIMESTAMP),
            header_str(&headers, HEADER_SIGNATURE),
        ) else {
            return Err(ApiError::bad_request(
                "missing_agent_signature",
                format!(
                    "agent requests carry {HEADER_AGENT_ID}, {HEADER_TIMESTAMP} and \
                     {HEADER_SIGNATURE} headers"
                ),
            ));
        };
        let (Ok(id), Ok(ts)) = (id.parse::<i64>(), ts.parse::<i64>()) else {
            return Err(ApiError::bad_request(
                "missing_agent_signature",
                "the agent id and timestamp headers must be integers",
            ));
        };
        let raw = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    too_large()
                } else {
                    ApiError::bad_request("invalid_body", e.body_text())
                }
            })?;
        // Unknown agents and bad signatures get one answer: which ids exist is not told.
        let bad_signature = "the request signature does not verify for this agent";
        let agent = match state.store.get_agent(id).await {
            Ok(a) => a,
            Err(StoreError::NotFound { .. }) => return Err(unauthenticated(bad_signature)),
            Err(e) => return Err(e.into()),
        };
        let msg = request_message(method.as_str(), &path, ts, &raw);
        if state.verify_agent(&agent.public_key, &msg, sig).is_err() {
            return Err(unauthenticated(bad_signature));
        }
        let off = state.clock.now().as_second().saturating_sub(ts);
        if off.abs() > MAX_CLOCK_SKEW_SECS {
            return Err(unauthenticated(&format!(
                "the request timestamp is {}s off the server's clock (at most \
                 {MAX_CLOCK_SKEW_SECS}s allowed): check the agent's time sync",
                off.abs()
            )));
        }
        if agent.revoked_at.is_some() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "agent_revoked",
                "this agent was revoked; re-enrol it to report again",
            ));
        }
        let bytes = decoded(&headers, &raw, state.config.server.max_body_bytes)?;
        // The media type without its parameters (`; charset=…`).
        let media_type = header_str(&headers, header::CONTENT_TYPE.as_str())
            .and_then(|t| t.split(';').next())
            .map(str::trim);
        let body = T::read(media_type, bytes)
            .map_err(|why| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", why))?;
        Ok(AgentSigned {
            identity: AgentIdentity { agent, origin },
            body,
        })
    }
}

/// Where an unauthenticated request came from, for the audit log.
#[derive(Debug, Clone)]
pub struct RequestOrigin(pub Origin);

impl FromRequestParts<AppState> for RequestOrigin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Self(extract_origin(parts, state)))
    }
}

/// `POST /api/v1/agent/enroll`: a token buys a per-agent identity.
pub async fn enroll(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(req): ApiJson<EnrollRequest>,
) -> ApiResult<(StatusCode, Json<EnrollResponse>)> {
    let resp = service::enroll(&state, origin, req).await?;
    Ok((StatusCode::CREATED, Json(resp)))
}

/// `POST /api/v1/agent/checkin`, signed by the agent.
pub async fn checkin(
    State(state): State<AppState>,
    signed: AgentSigned<CheckIn>,
) -> ApiResult<Json<CheckInReply>> {
    let AgentIdentity { agent, origin } = signed.identity;
    Ok(Json(
        service::checkin(&state, &agent, origin, signed.body).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    name: String,
    #[serde(default)]
    reusable: bool,
    /// Hours until the token expires (default 24, at most a year).
    expires_in_hours: Option<u32>,
}

pub async fn create_token(
    State(state): State<AppState>,
    Need(caller, ..): Need<perm::AgentEnroll>,
    ApiJson(req): ApiJson<CreateTokenRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let name = clean_text("name", &req.name, 100)?;
    if name.is_empty() {
        return Err(ValidationError::new("name", "is empty").into());
    }
    let hours = match req.expires_in_hours.unwrap_or(24) {
        h @ 1..=8760 => h,
        _ => return Err(ValidationError::new("expires_in_hours", "must be 1 to 8760").into()),
    };
    let now = state.clock.now();
    let expires_at = now
        .checked_add(SignedDuration::from_hours(i64::from(hours)))
        .map_err(ApiError::internal)?;
    let secret = random_secret(ENROLL_TOKEN_PREFIX);
    let token = state
        .store
        .create_enrollment_token(
            &caller.ctx(&state),
            &NewEnrollmentToken {
                name,
                prefix: secret.chars().take(ENROLL_TOKEN_PREFIX.len() + 6).collect(),
                token_hash: sha256_hex(&secret),
                reusable: req.reusable,
                expires_at,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "token": token, "secret": secret })),
    ))
}

pub async fn list_tokens(
    State(state): State<AppState>,
    _: Need<perm::AgentEnroll>,
) -> ApiResult<Json<Value>> {
    let tokens = state.store.list_enrollment_tokens().await?;
    Ok(Json(json!({ "tokens": tokens })))
}

pub async fn revoke_token(
    State(state): State<AppState>,
    Need(caller, ..): Need<perm::AgentEnroll>,
    IdPath(id): IdPath<i64>,
) -> ApiResult<Json<EnrollmentToken>> {
    Ok(Json(
        state
            .store
            .revoke_enrollment_token(&caller.ctx(&state), id)
            .await?,
    ))
}

pub async fn list_agents(
    State(state): State<AppState>,
    _: Need<perm::AssetRead>,
) -> ApiResult<Json<Value>> {
    let agents = state.store.list_agents().await?;
    Ok(Json(json!({ "agents": agents })))
}

/// Revokes an agent: it is refused (403 `agent_revoked`) at its next contact.
pub async fn revoke_agent(
    State(state): State<AppState>,
    Need(caller, ..): Need<perm::AgentEnroll>,
    IdPath(id): IdPath<i64>,
) -> ApiResult<Json<Agent>> {
    Ok(Json(
        state.store.revoke_agent(&caller.ctx(&state), id).await?,
    ))
}
