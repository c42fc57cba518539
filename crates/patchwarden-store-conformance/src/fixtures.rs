//! Values the cases (and the backends' own tests) build on.

use crate::SharedStore;
use jiff::{SignedDuration, Timestamp};
use patchwarden_domain::asset::{
    AssetKind, Criticality, Environment, Hostname, Label, OsFamily, OsInfo,
};
use patchwarden_domain::audit::{Actor, ActorKind, AuditEvent, Origin};
use patchwarden_domain::package::InstalledPackage;
use patchwarden_domain::role::{Role, RoleSet};
use patchwarden_domain::user::Username;
use patchwarden_store::{AuditCtx, AuditFilter, NewAsset, NewUser};

/// A fixed instant with a sub-second part, so that microsecond round trips are tested.
pub fn t0() -> Timestamp {
    Timestamp::from_microsecond(1_735_689_600_123_456).unwrap()
}

/// `t0` plus `secs` seconds.
pub fn t(secs: i64) -> Timestamp {
    t0() + SignedDuration::from_secs(secs)
}

/// A user acting from an address with a request id.
pub fn ctx(at: Timestamp) -> AuditCtx {
    AuditCtx {
        actor: Actor {
            kind: ActorKind::User,
            id: Some(1),
            name: "admin".into(),
        },
        origin: Origin {
            source_ip: Some("192.0.2.10".into()),
            request_id: Some("req-1".into()),
        },
        at,
    }
}

/// A production Debian server in the given groups.
pub fn new_asset(hostname: &str, groups: &[&str]) -> NewAsset {
    NewAsset {
        hostname: Hostname::parse(hostname).unwrap(),
        kind: AssetKind::Server,
        os: OsInfo {
            family: OsFamily::Linux,
            distribution: "debian".into(),
            release: "12".into(),
            arch: "amd64".into(),
        },
        environment: Environment::Production,
        criticality: Criticality::Standard,
        owner: Some("ops@example.org".into()),
        groups: groups.iter().map(|g| Label::parse(g).unwrap()).collect(),
        protected_data: false,
    }
}

/// An operator account.
pub fn new_user(name: &str) -> NewUser {
    NewUser {
        username: Username::parse(name).unwrap(),
        display_name: format!("User {name}"),
        email: Some(format!("{name}@example.org")),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$hash-of-{name}"),
        roles: RoleSet::new([Role::Operator]),
        must_change_password: false,
    }
}

/// A package without source fields.
pub fn pkg(name: &str, arch: &str, version: &str) -> InstalledPackage {
    InstalledPackage {
        name: name.into(),
        version: version.into(),
        arch: arch.into(),
        source_name: None,
        source_version: None,
    }
}

/// Every audit event of the store, in order.
pub async fn all_events(store: &SharedStore) -> Vec<AuditEvent> {
    store
        .list_audit(&AuditFilter {
            limit: 100_000,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
}

/// The newest audit event.
pub async fn last_event(store: &SharedStore) -> AuditEvent {
    all_events(store).await.pop().expect("no audit event")
}
