//! Roles of PROCESS.md section 6 and the permissions they grant. This table is the one
//! place that decides who may do what; the server checks it in one extractor.

use crate::asset::string_enum;
use crate::ValidationError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

string_enum!(
    /// A role a user (or an API token, through its user) holds.
    Role, "roles" {
        Administrator => "administrator",
        Security => "security",
        Operator => "operator",
        ApplicationOwner => "application_owner",
        SystemOwner => "system_owner",
        Approver => "approver",
        Auditor => "auditor",
    }
);

string_enum!(
    /// One thing a caller may do. Read permissions end in `_read`.
    Permission, "permission" {
        AssetRead => "asset_read",
        AssetWrite => "asset_write",
        UserRead => "user_read",
        UserManage => "user_manage",
        AuditRead => "audit_read",
        PolicyRead => "policy_read",
        PolicyManage => "policy_manage",
        FindingRead => "finding_read",
        AdvisoryManage => "advisory_manage",
        ExceptionManage => "exception_manage",
        ExceptionApprove => "exception_approve",
        ReportRead => "report_read",
        ChangeRequest => "change_request",
        ChangeApprove => "change_approve",
        DeploymentRun => "deployment_run",
        RevocationApprove => "revocation_approve",
        TestReport => "test_report",
        AgentEnroll => "agent_enroll",
    }
);

impl Permission {
    /// Whether the permission only reads. The auditor holds exactly these.
    pub fn is_read_only(self) -> bool {
        self.as_str().ends_with("_read")
    }
}

impl Role {
    /// What the role may do (PROCESS.md section 6).
    pub fn grants(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::Administrator => Permission::ALL,
            Role::Security => &[
                AssetRead,
                FindingRead,
                AdvisoryManage,
                ExceptionManage,
                ReportRead,
                PolicyRead,
                AuditRead,
            ],
            Role::Operator => &[
                AssetRead,
                AssetWrite,
                FindingRead,
                ChangeRequest,
                DeploymentRun,
                AgentEnroll,
                PolicyRead,
            ],
            Role::ApplicationOwner => &[AssetRead, FindingRead, TestReport],
            Role::SystemOwner => &[
                AssetRead,
                FindingRead,
                ChangeApprove,
                RevocationApprove,
                ExceptionApprove,
            ],
            Role::Approver => &[
                AssetRead,
                FindingRead,
                ChangeApprove,
                RevocationApprove,
                ExceptionApprove,
                ReportRead,
            ],
            Role::Auditor => &[
                AssetRead,
                UserRead,
                AuditRead,
                PolicyRead,
                FindingRead,
                ReportRead,
            ],
        }
    }

    pub fn allows(self, p: Permission) -> bool {
        self.grants().contains(&p)
    }
}

/// The roles of one user; empty means the user can only log in and manage their own
/// tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RoleSet(BTreeSet<Role>);

impl RoleSet {
    pub fn new(roles: impl IntoIterator<Item = Role>) -> Self {
        Self(roles.into_iter().collect())
    }

    pub fn allows(&self, p: Permission) -> bool {
        self.0.iter().any(|r| r.allows(p))
    }

    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        self.0.iter().copied()
    }

    pub fn contains(&self, r: Role) -> bool {
        self.0.contains(&r)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Comma-separated, sorted; the storage form.
    pub fn to_csv(&self) -> String {
        self.0
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn from_csv(s: &str) -> Result<Self, ValidationError> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(Role::from_str)
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auditor_reads_everything_and_changes_nothing() {
        let reads: Vec<_> = Permission::ALL
            .iter()
            .copied()
            .filter(|p| p.is_read_only())
            .collect();
        let mut granted = Role::Auditor.grants().to_vec();
        granted.sort();
        let mut reads_sorted = reads.clone();
        reads_sorted.sort();
        assert_eq!(granted, reads_sorted);
    }

    #[test]
    fn administrator_may_do_everything() {
        for p in Permission::ALL {
            assert!(Role::Administrator.allows(*p));
        }
    }

    #[test]
    fn roleset_csv_round_trip() {
        let rs = RoleSet::new([Role::Operator, Role::Auditor]);
        assert_eq!(rs.to_csv(), "operator,auditor");
        assert_eq!(RoleSet::from_csv(&rs.to_csv()).unwrap(), rs);
        assert!(RoleSet::from_csv("operator,king").is_err());
        assert!(RoleSet::from_csv("").unwrap().is_empty());
    }
}
