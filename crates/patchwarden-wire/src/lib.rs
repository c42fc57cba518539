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
    inventory_hash, CanonicalText, CheckedInventory, InstalledPackage, PackageFormat, PackageRef,
};
use patchwarden_domain::ValidationError;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Revision of this protocol. Bumped on any incompatible change to a wire type.
/// Revision 2: an inventory travels as its canonical text (`packages_text`); a server
/// still reads revision 1's array of package objects (`packages`), so servers are
/// upgraded before their agents.
/// Revision 3: a check-in travels framed ([`agent::CHECKIN_FRAMED_MEDIA_TYPE`]): its
/// JSON without the packages, a newline, then the canonical text as it is, so the
/// server reads no JSON string of 1,500 escaped lines. A server still reads revisions
/// 1 and 2 (`application/json`).
pub const PROTOCOL_VERSION: u32 = 3;

/// Most packages one report may carry (the largest real hosts have a few thousand).
pub const MAX_PACKAGES: usize = 100_000;

/// Longest kernel release string accepted.
const MAX_KERNEL_LEN: usize = 256;

/// What an agent found installed on its host.
///
/// On the wire the packages are the inventory's canonical text, `packages_text`
/// ([`CanonicalText`]: one `name\tarch\tversion\tsource_name\tsource_version` line
/// each, sorted), which the server checks and hashes without sorting or building it
/// again, and reads as slices of the text ([`InventoryReport::package_refs`]) rather
/// than five owned strings per package; a report with the revision-1 array `packages`
/// of objects is still read.
#[derive(Debug, Clone)]
pub struct InventoryReport {
    /// The host's name (validated when deserialized).
    pub hostname: Hostname,
    /// Operating system and machine architecture.
    pub os: OsInfo,
    /// Running kernel release (`uname -r`), when known.
    pub kernel: Option<String>,
    /// Which package database the list comes from.
    pub format: PackageFormat,
    /// Every installed package: as built or read from revision 1's array, or the
    /// canonical text the report arrived as.
    packages: Packages,
    /// [`inventory_hash`] of `format` and the packages.
    pub inventory_hash: String,
    /// When the agent read the package database.
    pub collected_at: Timestamp,
}

#[derive(Debug, Clone)]
enum Packages {
    List(Vec<InstalledPackage>),
    Text(CanonicalText),
}

/// Equal when everything but how the packages are held is equal.
impl PartialEq for InventoryReport {
    fn eq(&self, other: &Self) -> bool {
        self.hostname == other.hostname
            && self.os == other.os
            && self.kernel == other.kernel
            && self.format == other.format
            && self.package_refs().eq(other.package_refs())
            && self.inventory_hash == other.inventory_hash
            && self.collected_at == other.collected_at
    }
}

impl Eq for InventoryReport {}

/// [`InventoryReport`] without its packages, as a framed check-in carries it. The same
/// fields as [`InventoryReportWire`] but the packages: serde cannot flatten one into the
/// other while refusing unknown fields.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InventoryHead<'a> {
    hostname: Cow<'a, Hostname>,
    os: Cow<'a, OsInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kernel: Option<Cow<'a, str>>,
    format: PackageFormat,
    inventory_hash: Cow<'a, str>,
    collected_at: Timestamp,
}

/// [`InventoryReport`] as it travels (either form of the packages when read).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InventoryReportWire<'a> {
    hostname: Cow<'a, Hostname>,
    os: Cow<'a, OsInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kernel: Option<Cow<'a, str>>,
    format: PackageFormat,
    /// Revision 1: one object per package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    packages: Option<Vec<InstalledPackage>>,
    /// Revision 2: the canonical text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    packages_text: Option<Cow<'a, str>>,
    inventory_hash: Cow<'a, str>,
    collected_at: Timestamp,
}

impl Serialize for InventoryReport {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = self.packages_text();
        InventoryReportWire {
            hostname: Cow::Borrowed(&self.hostname),
            os: Cow::Borrowed(&self.os),
            kernel: self.kernel.as_deref().map(Cow::Borrowed),
            format: self.format,
            packages: None,
            packages_text: Some(text),
            inventory_hash: Cow::Borrowed(&self.inventory_hash),
            collected_at: self.collected_at,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for InventoryReport {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let w = InventoryReportWire::deserialize(deserializer)?;
        let packages = match (w.packages, w.packages_text) {
            (Some(list), None) => Packages::List(list),
            (None, Some(text)) => Packages::Text(
                CanonicalText::parse(w.format, text.into_owned()).map_err(D::Error::custom)?,
            ),
            _ => {
                return Err(D::Error::custom(
                    "an inventory needs exactly one of packages_text and packages",
                ))
            }
        };
        Ok(Self {
            hostname: w.hostname.into_owned(),
            os: w.os.into_owned(),
            kernel: w.kernel.map(Cow::into_owned),
            format: w.format,
            packages,
            inventory_hash: w.inventory_hash.into_owned(),
            collected_at: w.collected_at,
        })
    }
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
            packages: Packages::List(packages),
            inventory_hash,
            collected_at,
        }
    }

    /// The packages' canonical text: as received, or built from the list.
    pub fn packages_text(&self) -> Cow<'_, str> {
        match &self.packages {
            Packages::List(list) => Cow::Owned(CanonicalText::text_of(list)),
            Packages::Text(text) => Cow::Borrowed(text.lines()),
        }
    }

    /// Everything but the packages: the head of a framed check-in's inventory.
    pub(crate) fn head(&self) -> InventoryHead<'_> {
        InventoryHead {
            hostname: Cow::Borrowed(&self.hostname),
            os: Cow::Borrowed(&self.os),
            kernel: self.kernel.as_deref().map(Cow::Borrowed),
            format: self.format,
            inventory_hash: Cow::Borrowed(&self.inventory_hash),
            collected_at: self.collected_at,
        }
    }

    /// A report read from a framed check-in: its head, then the packages' canonical
    /// text (checked as the JSON form's `packages_text` is).
    pub(crate) fn from_head(
        head: InventoryHead<'_>,
        text: String,
    ) -> Result<Self, ValidationError> {
        Ok(Self {
            hostname: head.hostname.into_owned(),
            os: head.os.into_owned(),
            kernel: head.kernel.map(Cow::into_owned),
            format: head.format,
            packages: Packages::Text(CanonicalText::parse(head.format, text)?),
            inventory_hash: head.inventory_hash.into_owned(),
            collected_at: head.collected_at,
        })
    }

    /// How many packages the report holds.
    pub fn package_count(&self) -> usize {
        match &self.packages {
            Packages::List(list) => list.len(),
            Packages::Text(text) => text.len(),
        }
    }

    /// Each package, borrowed, in the order held (a report read from its canonical
    /// text holds them sorted).
    pub fn package_refs(&self) -> Box<dyn Iterator<Item = PackageRef<'_>> + '_> {
        match &self.packages {
            Packages::List(list) => Box::new(list.iter().map(InstalledPackage::borrowed)),
            Packages::Text(text) => Box::new(text.packages()),
        }
    }

    /// The packages as owned values, in the order held (built for a report read from
    /// its canonical text: use [`InventoryReport::package_refs`] where a borrow does).
    pub fn packages(&self) -> Cow<'_, [InstalledPackage]> {
        match &self.packages {
            Packages::List(list) => Cow::Borrowed(list),
            Packages::Text(text) => Cow::Owned(text.packages().map(|p| p.to_installed()).collect()),
        }
    }

    /// Checks what deserialization cannot: package count and shape, no (name, arch,
    /// version) twice, kernel string, and that `inventory_hash` matches the packages.
    /// The server calls this on every report and keeps the checked inventory, whose
    /// hash it need not compute again.
    pub fn check(&self) -> Result<CheckedInventory<'_>, ValidationError> {
        if self.package_count() > MAX_PACKAGES {
            return Err(ValidationError::new(
                "packages",
                format!("more than {MAX_PACKAGES} packages"),
            ));
        }
        if let Some(k) = &self.kernel {
            if k.is_empty() || k.len() > MAX_KERNEL_LEN || k.chars().any(char::is_control) {
                return Err(ValidationError::new(
                    "kernel",
                    format!("must be 1 to {MAX_KERNEL_LEN} bytes without control characters"),
                ));
            }
        }
        let checked = match &self.packages {
            // Read from its canonical text: shape, order and duplicates were checked
            // while it was read, and it is hashed as received.
            Packages::Text(text) if text.format() == self.format => {
                CheckedInventory::from_text(text)
            }
            Packages::Text(_) => {
                return Err(ValidationError::new(
                    "format",
                    "differs from the format the packages were read with",
                ))
            }
            Packages::List(list) => {
                for p in list {
                    p.validate()?;
                }
                CheckedInventory::new(self.format, list)
                    .map_err(|e| ValidationError::new("packages", e.to_string()))?
            }
        };
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
    fn packages_travel_as_canonical_text_and_the_revision_1_array_is_still_read() {
        let r = report();
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json["packages_text"],
            "libc6\tamd64\t2.36-9+deb12u4\tglibc\t\n"
        );
        assert!(json.get("packages").is_none());
        let back: InventoryReport = serde_json::from_value(json.clone()).unwrap();
        assert!(matches!(back.packages, Packages::Text(_)));
        assert_eq!(back.check().unwrap().hash(), r.inventory_hash);
        assert_eq!(back.packages(), r.packages());
        assert_eq!(back.package_count(), 1);
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            json,
            "sent on as received"
        );

        let mut v1 = json.clone();
        v1.as_object_mut().unwrap().remove("packages_text");
        v1["packages"] = serde_json::to_value(r.packages()).unwrap();
        let back: InventoryReport = serde_json::from_value(v1.clone()).unwrap();
        assert_eq!(back, r);
        assert!(matches!(back.packages, Packages::List(_)));
        assert_eq!(back.check().unwrap().hash(), r.inventory_hash);

        // Both forms, or neither, is refused; so is text out of order.
        let mut both = v1.clone();
        both["packages_text"] = json["packages_text"].clone();
        let mut neither = v1;
        neither.as_object_mut().unwrap().remove("packages");
        let mut unsorted = json.clone();
        unsorted["packages_text"] = "zlib1g\tamd64\t1\t\t\nbash\tamd64\t5\t\t\n".into();
        for (body, why) in [
            (both, "exactly one of"),
            (neither, "exactly one of"),
            (unsorted, "line 2: bash 5 (amd64) is not after zlib1g 1"),
        ] {
            let e = serde_json::from_value::<InventoryReport>(body).unwrap_err();
            assert!(e.to_string().contains(why), "{e}");
        }
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
        json["packages_text"] = "libc6\tamd64\t2.36-9+deb12u5\tglibc\t\n".into();
        let r: InventoryReport = serde_json::from_value(json).unwrap();
        assert_eq!(r.check().unwrap_err().field, "inventory_hash");

        // Revision 1's array, tampered with the same way.
        let mut json = serde_json::to_value(report()).unwrap();
        json.as_object_mut().unwrap().remove("packages_text");
        json["packages"] = serde_json::json!([{
            "name": "libc6", "version": "2.36-9+deb12u5", "arch": "amd64", "source_name": "glibc"
        }]);
        let r: InventoryReport = serde_json::from_value(json).unwrap();
        assert_eq!(r.check().unwrap_err().field, "inventory_hash");

        let mut r = report();
        r.kernel = Some("a\nb".into());
        assert_eq!(r.check().unwrap_err().field, "kernel");

        // A report read from its text, whose format was changed afterwards.
        let json = serde_json::to_value(report()).unwrap();
        let mut r: InventoryReport = serde_json::from_value(json).unwrap();
        r.format = PackageFormat::Rpm;
        assert_eq!(r.check().unwrap_err().field, "format");
    }
}
