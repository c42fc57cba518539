//! Password login with throttling against guessing.

use crate::auth::secret::{random_secret, sha256_hex};
use crate::error::ApiError;
use crate::state::AppState;
use axum::http::StatusCode;
use jiff::SignedDuration;
use patchwarden_domain::audit::{Actor, ActorKind, AuditDraft, Origin};
use patchwarden_domain::user::Username;
use patchwarden_store::{AuditCtx, NewSession, User};

/// A fresh session: the cookie secret (never stored) and the anti-CSRF token.
#[derive(Debug)]
pub struct LoggedIn {
    pub user: User,
    pub secret: String,
    pub csrf_token: String,
    pub expires_at: jiff::Timestamp,
}

fn throttle_keys(username: &str, origin: &Origin) -> Vec<String> {
    let mut keys = vec![format!("user:{username}")];
    if let Some(ip) = &origin.source_ip {
        keys.push(format!("ip:{ip}"));
    }
    keys
}

/// Checks the password and opens a session. Refuses with 429 once a user name or a
/// client address has `login_max_failures` failures inside the window; every failure
/// is audited. The answer for an unknown user and for a wrong password is the same.
pub async fn login(
    state: &AppState,
    origin: Origin,
    username: &str,
    password: &str,
    user_agent: Option<String>,
) -> Result<LoggedIn, ApiError> {
    let cfg = &state.config.auth;
    let now = state.clock.now();
    let name = Username::parse(username)
        .map(|u| u.to_string())
        .unwrap_or_else(|_| username.chars().take(64).collect());
    let keys = throttle_keys(&name, &origin);
    let window =
        SignedDuration::from_secs(i64::try_from(cfg.login_window_secs).unwrap_or(i64::MAX / 2));
    let since = now.checked_sub(window).unwrap_or(jiff::Timestamp::MIN);
    for key in &keys {
        if state.store.count_login_failures(key, since).await? >= u64::from(cfg.login_max_failures)
        {
            return Err(ApiError {
                retry_after: Some(cfg.login_window_secs),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_login_attempts",
                    "too many failed logins; wait and try again",
                )
            });
        }
    }
    let creds = match Username::parse(username) {
        Ok(u) => state.store.get_user_credentials(&u).await?,
        Err(_) => None,
    };
    let ok = state
        .passwords
        .verify(password, creds.as_ref().map(|(_, h)| h.as_str()))
        .await;
    let user = match creds {
        Some((user, _)) if ok && !user.disabled => user,
        _ => {
            state.store.record_login_failure(&keys, now).await?;
            let ctx = AuditCtx {
                actor: Actor {
                    kind: ActorKind::User,
                    id: None,
                    name: name.clone(),
                },
                origin,
                at: now,
            };
            let draft = AuditDraft::new(&ctx.actor, &ctx.origin, "session.login_failed", "user")
                .target(&name);
            state.store.append_audit(&ctx, draft).await?;
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "unknown user name or wrong password",
            ));
        }
    };
    for key in &keys {
        state.store.clear_login_failures(key).await?;
    }
    let secret = random_secret("");
    let csrf_token = random_secret("");
    let ttl = SignedDuration::from_mins(i64::try_from(cfg.session_ttl_minutes).unwrap_or(60));
    let expires_at = now.checked_add(ttl).unwrap_or(jiff::Timestamp::MAX);
    let ctx = AuditCtx {
        actor: Actor {
            kind: ActorKind::User,
            id: Some(user.id.get()),
            name: user.username.to_string(),
        },
        origin: origin.clone(),
        at: now,
    };
    state
        .store
        .create_session(
            &ctx,
            &NewSession {
                token_hash: sha256_hex(&secret),
                csrf_token: csrf_token.clone(),
                user_id: user.id,
                expires_at,
                source_ip: origin.source_ip.clone(),
                user_agent: user_agent.map(|s| s.chars().take(256).collect()),
            },
        )
        .await?;
    Ok(LoggedIn {
        user,
        secret,
        csrf_token,
        expires_at,
    })
}
