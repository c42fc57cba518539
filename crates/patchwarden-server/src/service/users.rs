//! User accounts: creation with hashed passwords, the first-run administrator.

use crate::auth::secret::random_password;
use crate::error::ApiError;
use crate::state::AppState;
use patchwarden_domain::asset::clean_text;
use patchwarden_domain::role::{Role, RoleSet};
use patchwarden_domain::user::{check_new_password, Username};
use patchwarden_store::{AuditCtx, NewUser, User};

/// A new user and, when the server generated it, the one-time password to hand over.
#[derive(Debug)]
pub struct Created {
    pub user: User,
    pub one_time_password: Option<String>,
}

/// Creates a user. Without a password, a one-time password is generated and must be
/// changed at first login.
pub async fn create(
    state: &AppState,
    ctx: &AuditCtx,
    username: Username,
    display_name: Option<&str>,
    email: Option<&str>,
    password: Option<&str>,
    roles: RoleSet,
) -> Result<Created, ApiError> {
    let (password, one_time) = match password {
        Some(p) => {
            check_new_password(p)?;
            (p.to_owned(), false)
        }
        None => (random_password(), true),
    };
    let display_name = clean_text(
        "display_name",
        display_name.unwrap_or(username.as_str()),
        200,
    )?;
    let email = email
        .map(|e| clean_text("email", e, 254))
        .transpose()?
        .filter(|e| !e.is_empty());
    let password_hash = state.passwords.hash(&password).await?;
    let user = state
        .store
        .create_user(
            ctx,
            &NewUser {
                username,
                display_name,
                email,
                password_hash,
                roles,
                must_change_password: one_time,
            },
        )
        .await?;
    Ok(Created {
        user,
        one_time_password: one_time.then_some(password),
    })
}

/// On first start (no users at all), creates the administrator named in
/// `auth.bootstrap_admin` with a one-time password, which is returned exactly once.
/// Never a fixed default password.
pub async fn bootstrap_admin(state: &AppState) -> Result<Option<(String, String)>, ApiError> {
    if state.store.count_users().await? > 0 {
        return Ok(None);
    }
    let name = Username::parse(&state.config.auth.bootstrap_admin)?;
    let ctx = AuditCtx::system("bootstrap", state.clock.now());
    let created = create(
        state,
        &ctx,
        name.clone(),
        Some("Administrator"),
        None,
        None,
        RoleSet::new([Role::Administrator]),
    )
    .await?;
    Ok(created.one_time_password.map(|pw| (name.to_string(), pw)))
}
