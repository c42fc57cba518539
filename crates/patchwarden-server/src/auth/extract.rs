//! Request extractors that say, in a handler's signature, who may call it.

use super::secret::{ct_eq, sha256_hex};
use super::{authorize, password_change_required};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, Method};
use patchwarden_domain::audit::{Actor, ActorKind, Origin};
use patchwarden_domain::ids::TokenId;
use patchwarden_domain::role::Permission;
use patchwarden_store::{AuditCtx, User};
use std::marker::PhantomData;
use std::net::SocketAddr;

pub const SESSION_COOKIE: &str = "pw_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the caller proved who they are.
#[derive(Debug, Clone)]
pub enum CallerVia {
    /// A login session; `secret_hash` identifies it for logout.
    Session { secret_hash: String },
    /// An API token.
    Token { id: TokenId },
}

/// An authenticated caller, before any permission check.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub via: CallerVia,
    pub origin: Origin,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        match &self.via {
            CallerVia::Session { .. } => Actor {
                kind: ActorKind::User,
                id: Some(self.user.id.get()),
                name: self.user.username.to_string(),
            },
            CallerVia::Token { id } => Actor {
                kind: ActorKind::Token,
                id: Some(id.get()),
                name: self.user.username.to_string(),
            },
        }
    }

    /// The audit context for a change this caller makes now.
    pub fn ctx(&self, state: &AppState) -> AuditCtx {
        AuditCtx {
            actor: self.actor(),
            origin: self.origin.clone(),
            at: state.clock.now(),
        }
    }
}

/// Where the request came from and its id, for the audit log.
pub fn origin_of(parts: &Parts, state: &AppState) -> Origin {
    let forwarded = state
        .config
        .server
        .trust_forwarded_for
        .then(|| {
            parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(|s| s.trim().to_owned())
        })
        .flatten();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip().to_string());
    Origin {
        source_ip: forwarded.or(peer),
        request_id: parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

pub(crate) fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let origin = origin_of(parts, state);
    let now = state.clock.now();
    if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
        let secret = auth
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(ApiError::unauthenticated)?;
        let (token, user) = state
            .store
            .find_token(&sha256_hex(secret.trim()), now)
            .await?
            .ok_or_else(ApiError::unauthenticated)?;
        if user.disabled {
            return Err(ApiError::unauthenticated());
        }
        // Last use is informative; a failure to record it must not fail the request.
        if token
            .last_used_at
            .is_none_or(|t| now.duration_since(t).as_secs() >= 60)
        {
            if let Err(e) = state.store.touch_token(token.id, now).await {
                tracing::warn!(error = %e, "could not record token use");
            }
        }
        return Ok(Caller {
            user,
            via: CallerVia::Token { id: token.id },
            origin,
        });
    }
    let secret = cookie(parts, SESSION_COOKIE).ok_or_else(ApiError::unauthenticated)?;
    let secret_hash = sha256_hex(secret);
    let (session, user) = state
        .store
        .get_session(&secret_hash, now)
        .await?
        .ok_or_else(ApiError::unauthenticated)?;
    if user.disabled {
        return Err(ApiError::unauthenticated());
    }
    // Cookie-authenticated changes must carry the session's anti-CSRF token.
    if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !ct_eq(sent, &session.csrf_token) {
            return Err(ApiError::forbidden(format!(
                "missing or wrong {CSRF_HEADER} header (it is returned by login)"
            ))
            .with_code("csrf_failed"));
        }
    }
    Ok(Caller {
        user,
        via: CallerVia::Session { secret_hash },
        origin,
    })
}

/// Any logged-in caller, including one who must still change a one-time password.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Caller);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state).await.map(Authenticated)
    }
}

/// A permission named as a type, for [`Need`].
pub trait Perm: Send + Sync + 'static {
    const PERMISSION: Permission;
}

/// A caller holding permission `P` (and not held back by a one-time password).
#[derive(Debug, Clone)]
pub struct Need<P: Perm>(pub Caller, pub PhantomData<P>);

impl<P: Perm> FromRequestParts<AppState> for Need<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = authenticate(parts, state).await?;
        if caller.user.must_change_password {
            return Err(password_change_required());
        }
        authorize(&caller, P::PERMISSION)?;
        Ok(Need(caller, PhantomData))
    }
}

/// Marker types, one per [`Permission`].
pub mod perm {
    use super::Perm;
    use patchwarden_domain::role::Permission;

    macro_rules! markers {
        ($($name:ident),+ $(,)?) => {$(
            #[derive(Debug, Clone, Copy)]
            pub struct $name;
            impl Perm for $name {
                const PERMISSION: Permission = Permission::$name;
            }
        )+};
    }

    markers!(
        AssetRead,
        AssetWrite,
        UserRead,
        UserManage,
        AuditRead,
        PolicyRead,
        PolicyManage,
        FindingRead,
        AdvisoryManage,
        ExceptionManage,
        ExceptionApprove,
        ReportRead,
        ChangeRequest,
        ChangeApprove,
        DeploymentRun,
        RevocationApprove,
        TestReport,
        AgentEnroll,
    );
}
