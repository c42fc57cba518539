//! The agent ↔ server protocol: the JSON bodies both sides exchange.
//!
//! Deliberately absent: HTTP, TLS, retry logic. This crate only says what the bytes
//! mean, so the agent can depend on it without pulling in server code. Every type
//! rejects unknown fields, so a mismatch between agent and server versions is an error
//! rather than silently dropped data; [`PROTOCOL_VERSION`] names the revision.

#![forbid(unsafe_code)]

pub mod agent;
pub mod job;
pub mod sign;

use jiff::Timestamp;
use patchwarden_domain::asset::{Hostname, OsInfo};
use patchwarden_domain::package::{
    inventory_hash, CheckedInventory, InstalledPackage, PackageFormat,
};
use patchwarden_domain::ValidationError;
use serde::{Deserialize, Serialize};

/// Revision of this protocol. Bumped on any incompatible change to a wire type; the
/// transport sends it with every agent request.
pub const PROTOCOL_VERSION: u32 = 1;

/// Most packages one report may carry (the largest real hosts have a few thousand).
pub const MAX_PACKAGES: usize = 100_000;

/// Longest kernel release string accepted.
const MAX_KERNEL_LEN: usize = 256;

/// What an agent found installed on its host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryReport {
    /// The host's name (validated when deserialized).
    pub hostname: Hostname,
    /// Operating system and machine architecture.
    pub os: OsInfo,
    /// Running kernel release (`uname -r`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// Which package database the list comes from.
    pub format: PackageFormat,
    /// Every installed package.
    pub packages: Vec<InstalledPackage>,
    /// [`inventory_hash`] of `format` and `packages`.
    pub inventory_hash: String,
    /// When the agent read the package database.
    pub collected_at: Timestamp,
}

impl InventoryReport {
    /// Builds a report, computing [`InventoryReport::inventory_hash`].
    pub fn new(
        hostname: Hostname,
        os: OsInfo,
        kernel: Option<String>,
        format: PackageFormat,
        packages: Vec<InstalledPackage>,
        collected_at: Timestamp,
    ) -> Self {
        let inventory_hash = inventory_hash(format, &packages);
        Self {
            hostname,
            os,
            kernel,
            format,
            packages,
            inventory_hash,
            collected_at,
        }
    }

    /// Checks what deserialization cannot: package count and shape, no (name, arch,
    /// version) twice, kernel string, and that `inventory_hash` matches the packages.
    /// The server calls this on every report and keeps the checked inventory, whose
    /// hash it need not compute again.
    pub fn check(&self) -> Result<CheckedInventory<'_>, ValidationError> {
        if self.packages.len() > MAX_PACKAGES {
            return Err(ValidationError::new(
                "packages",
                format!("more than {MAX_PACKAGES} packages"),
            ));
        }
        for p in &self.packages {
            p.validate()?;
        }
        if let Some(k) = &self.kernel {
            if k.is_empty() || k.len() > MAX_KERNEL_LEN || k.chars().any(char::is_control) {
                return Err(ValidationError::new(
                    "kernel",
                    format!("must be 1 to {MAX_KERNEL_LEN} bytes without control characters"),
                ));
            }
        }
        let checked = CheckedInventory::new(self.format, &self.packages)
            .map_err(|e| ValidationError::new("packages", e.to_string()))?;
        if self.inventory_hash != checked.hash() {
            return Err(ValidationError::new(
                "inventory_hash",
                "does not match the packages in the report",
            ));
        }
        Ok(checked)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use patchwarden_domain::asset::OsFamily;

    fn report() -> InventoryReport {
        InventoryReport::new(
            Hostname::parse("web-01").unwrap(),
            OsInfo {
                family: OsFamily::Linux,
                distribution: "debian".into(),
                release: "12".into(),
                arch: "amd64".into(),
            },
            Some("6.1.0-18-amd64".into()),
            PackageFormat::Deb,
            vec![InstalledPackage {
                name: "libc6".into(),
                version: "2.36-9+deb12u4".into(),
                arch: "amd64".into(),
                source_name: Some("glibc".into()),
                source_version: None,
            }],
            "2025-01-02T03:04:05Z".parse().unwrap(),
        )
    }

    #[test]
    fn round_trips_and_checks() {
        let r = report();
        r.check().unwrap();
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["collected_at"], "2025-01-02T03:04:05Z");
        assert_eq!(json["format"], "deb");
        assert_eq!(json["os"]["family"], "linux");
        let back: InventoryReport = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn rejects_unknown_fields_bad_hostnames_and_tampering() {
        let mut json = serde_json::to_value(report()).unwrap();
        json["extra"] = 1.into();
        assert!(serde_json::from_value::<InventoryReport>(json).is_err());

        let mut json = serde_json::to_value(report()).unwrap();
        json["hostname"] = "not a host".into();
        assert!(serde_json::from_value::<InventoryReport>(json).is_err());

        let mut json = serde_json::to_value(report()).unwrap();
        json["packages"][0]["version"] = "2.36-9+deb12u5".into();
        let r: InventoryReport = serde_json::from_value(json).unwrap();
        assert_eq!(r.check().unwrap_err().field, "inventory_hash");

        let mut r = report();
        r.kernel = Some("a\nb".into());
        assert_eq!(r.check().unwrap_err().field, "kernel");
    }
}
