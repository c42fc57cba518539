//! Records the store reads and writes.

use jiff::Timestamp;
use patchwarden_domain::asset::{AssetKind, Criticality, Environment, Hostname, Label, OsInfo};
use patchwarden_domain::audit::{Actor, Origin};
use patchwarden_domain::ids::{AssetId, TokenId, UserId};
use patchwarden_domain::package::PackageFormat;
use patchwarden_domain::role::RoleSet;
use patchwarden_domain::user::Username;
use serde::{Deserialize, Serialize};

/// Who is changing something, from where, and when (from the injected clock). Every
/// mutating store method takes one and appends its audit event with it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditCtx {
    pub actor: Actor,
    pub origin: Origin,
    pub at: Timestamp,
}

impl AuditCtx {
    pub fn system(name: &str, at: Timestamp) -> Self {
        Self {
            actor: Actor::system(name),
            origin: Origin::default(),
            at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAsset {
    pub hostname: Hostname,
    pub kind: AssetKind,
    pub os: OsInfo,
    pub environment: Environment,
    pub criticality: Criticality,
    /// Person or team responsible (free text, e.g. an e-mail address).
    pub owner: Option<String>,
    /// Groups and tags, sorted and unique.
    pub groups: Vec<Label>,
    /// Holds protected (e.g. personal or regulated) data: exceptions need the data
    /// owner's approval.
    pub protected_data: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Asset {
    pub id: AssetId,
    pub hostname: Hostname,
    pub kind: AssetKind,
    pub os: OsInfo,
    pub environment: Environment,
    pub criticality: Criticality,
    pub owner: Option<String>,
    pub groups: Vec<Label>,
    pub protected_data: bool,
    pub package_format: Option<PackageFormat>,
    pub package_count: u32,
    /// SHA-256 of the canonical inventory, hex; none before the first inventory.
    pub inventory_hash: Option<String>,
    pub last_seen_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Partial update: `None` leaves a field as it is. `owner: Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AssetPatch {
    pub hostname: Option<Hostname>,
    pub kind: Option<AssetKind>,
    pub os: Option<OsInfo>,
    pub environment: Option<Environment>,
    pub criticality: Option<Criticality>,
    pub owner: Option<Option<String>>,
    pub groups: Option<Vec<Label>>,
    pub protected_data: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetFilter {
    /// Only ids greater than this (keyset pagination).
    pub after: Option<AssetId>,
    pub limit: u32,
    pub environment: Option<Environment>,
    pub criticality: Option<Criticality>,
    /// Only assets in this group.
    pub group: Option<Label>,
    /// Host name contains this (case-insensitive).
    pub hostname_contains: Option<String>,
}

impl Default for AssetFilter {
    fn default() -> Self {
        Self {
            after: None,
            limit: 100,
            environment: None,
            criticality: None,
            group: None,
            hostname_contains: None,
        }
    }
}

/// Result of [`crate::Store::replace_inventory`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryChange {
    pub added: u32,
    pub removed: u32,
    /// Same (name, arch), different version.
    pub changed: u32,
    pub unchanged: u32,
    pub hash: String,
}

impl InventoryChange {
    pub fn is_unchanged(&self) -> bool {
        self.added == 0 && self.removed == 0 && self.changed == 0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewUser {
    pub username: Username,
    pub display_name: String,
    pub email: Option<String>,
    /// argon2id PHC string; never logged or audited.
    #[serde(skip_serializing)]
    pub password_hash: String,
    pub roles: RoleSet,
    pub must_change_password: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub display_name: String,
    pub email: Option<String>,
    pub roles: RoleSet,
    pub disabled: bool,
    pub must_change_password: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_login_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserPatch {
    pub display_name: Option<String>,
    pub email: Option<Option<String>>,
    pub roles: Option<RoleSet>,
    pub disabled: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewSession {
    /// SHA-256 (hex) of the cookie secret; the secret itself is never stored.
    pub token_hash: String,
    /// Per-session anti-CSRF token, compared with the `x-csrf-token` header.
    pub csrf_token: String,
    pub user_id: UserId,
    pub expires_at: Timestamp,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub user_id: UserId,
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub source_ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewToken {
    pub user_id: UserId,
    pub name: String,
    /// First characters of the secret, shown in listings so a user can tell tokens apart.
    pub prefix: String,
    /// SHA-256 (hex) of the secret.
    pub token_hash: String,
    pub expires_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: TokenId,
    pub user_id: UserId,
    pub name: String,
    pub prefix: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

impl ApiToken {
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditFilter {
    /// Only events with `seq` greater than this.
    pub after: Option<i64>,
    pub limit: u32,
    /// Only events whose action starts with this (e.g. `asset.`).
    pub action_prefix: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
}

impl Default for AuditFilter {
    fn default() -> Self {
        Self {
            after: None,
            limit: 1000,
            action_prefix: None,
            target_type: None,
            target_id: None,
        }
    }
}
