//! Values the cases (and the backends' own tests) build on.

use crate::SharedStore;
use jiff::{SignedDuration, Timestamp};
use patchwarden_domain::advisory::{
    Advisory, AffectedPackage, Cvss, CvssVersion, DistroRelease, NameKind, PackageState,
    SeverityLevel, VendorSeverity, VersionRange,
};
use patchwarden_domain::asset::{
    AssetKind, Criticality, Environment, Hostname, Label, OsFamily, OsInfo,
};
use patchwarden_domain::audit::{Actor, ActorKind, AuditEvent, Origin};
use patchwarden_domain::finding::{Finding, FindingStatus};
use patchwarden_domain::level::Level;
use patchwarden_domain::package::{InstalledPackage, PackageFormat};
use patchwarden_domain::role::{Role, RoleSet};
use patchwarden_domain::user::Username;
use patchwarden_store::NewFinding;
use patchwarden_store::{AuditCtx, AuditFilter, NewAsset, NewUser};
use std::sync::Arc;

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

/// An AlmaLinux 9 advisory fixing `packages` (binary names) at `fixed`, covering `cves`.
pub fn advisory(id: &str, cves: &[&str], packages: &[&str], fixed: &str) -> Advisory {
    let mut aliases: Vec<String> = cves.iter().map(|c| (*c).to_owned()).collect();
    aliases.sort();
    aliases.dedup();
    Advisory {
        id: id.into(),
        source: "osv".into(),
        aliases,
        published: Some(t0()),
        modified: Some(t(60)),
        title: Some(format!(
            "Important: {} security update",
            packages.join(", ")
        )),
        severity: Some(VendorSeverity {
            level: SeverityLevel::High,
            raw: "Important".into(),
        }),
        cvss: vec![Cvss {
            version: CvssVersion::V3_1,
            vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into(),
            base_score: 9.8,
        }],
        affected: packages
            .iter()
            .map(|p| AffectedPackage {
                distro: DistroRelease {
                    ecosystem: "almalinux".into(),
                    release: "9".into(),
                },
                scheme: PackageFormat::Rpm,
                name: (*p).into(),
                name_kind: NameKind::Binary,
                arches: Vec::new(),
                state: PackageState::Fixed {
                    ranges: vec![VersionRange {
                        introduced: None,
                        fixed: Some(fixed.into()),
                        last_affected: None,
                        limit: None,
                    }],
                },
            })
            .collect(),
        references: vec![format!("https://errata.almalinux.org/9/{id}.html")],
    }
}

/// A vulnerable-package finding from an OSV advisory, allowed `hours` to fix.
pub fn finding(
    package: &str,
    advisory: &str,
    installed: &str,
    level: Level,
    hours: i64,
) -> NewFinding {
    NewFinding {
        finding: Arc::new(Finding {
            package: package.into(),
            arch: "x86_64".into(),
            installed: installed.into(),
            fixed: Some("9.9-1.el9".into()),
            status: FindingStatus::Vulnerable,
            advisory: advisory.into(),
            source: "osv".into(),
            cves: vec![format!("CVE-2024-{}", 1000 + package.len())],
            distro: "almalinux:9".into(),
            evidence: format!(
                "installed {installed} < fixed 9.9-1.el9 per {advisory}, almalinux:9"
            ),
            suppressed: None,
        }),
        level,
        allowed: SignedDuration::from_hours(hours),
    }
}

/// How many audit events have this action.
pub async fn count_events(store: &SharedStore, action: &str) -> usize {
    all_events(store)
        .await
        .iter()
        .filter(|e| e.action == action)
        .count()
}
