//! Authentication (session cookies, API tokens) and authorisation (roles → permissions).
//!
//! Authorisation happens in exactly one place, [`authorize`], called by the [`Need`]
//! extractor; a handler's signature says what it needs (`Need<perm::AssetWrite>`).

mod extract;
pub mod password;
pub mod secret;

pub use extract::{
    origin_of as extract_origin, perm, Authenticated, Caller, CallerVia, Need, Perm, SESSION_COOKIE,
};

use crate::error::ApiError;
use axum::http::StatusCode;
use patchwarden_domain::role::Permission;

/// The one authorisation check: does the caller's role set grant `p`?
pub fn authorize(caller: &Caller, p: Permission) -> Result<(), ApiError> {
    if caller.user.roles.allows(p) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "this needs the `{p}` permission, which none of your roles grants"
        )))
    }
}

/// Until a one-time password is replaced, a user may only see who they are, change the
/// password and log out.
pub(crate) fn password_change_required() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "password_change_required",
        "change your one-time password first (POST /api/v1/auth/password)",
    )
}
