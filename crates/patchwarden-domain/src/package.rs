//! Installed software packages, as reported by an agent or read locally.

use crate::asset::string_enum;
use crate::ValidationError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

string_enum!(
    /// Package database / version-ordering scheme of an inventory.
    PackageFormat, "package_format" {
        Deb => "deb",
        Rpm => "rpm",
        Apk => "apk",
    }
);

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstalledPackage {
    pub name: String,
    /// Full version as the package manager prints it (`1:2.36-9+deb12u4`, `2.34-60.el9`).
    pub version: String,
    #[serde(default)]
    pub arch: String,
    /// Source package (dpkg `Source:`, rpm `SOURCERPM` name), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
}

fn token(
    field: &'static str,
    s: &str,
    max: usize,
    allow_empty: bool,
) -> Result<(), ValidationError> {
    if s.is_empty() && !allow_empty {
        return Err(ValidationError::new(field, "is empty"));
    }
    if s.len() > max {
        return Err(ValidationError::new(
            field,
            format!("{s:.40?}… is longer than {max} bytes"),
        ));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ValidationError::new(
            field,
            format!("{s:?} must not contain whitespace or control characters"),
        ));
    }
    Ok(())
}

impl InstalledPackage {
    /// Checks the shape of a package record from outside. Version *syntax* per scheme
    /// is checked by the version-ordering code, not here.
    pub fn validate(&self) -> Result<(), ValidationError> {
        token("packages.name", &self.name, 256, false)?;
        token("packages.version", &self.version, 256, false)?;
        token("packages.arch", &self.arch, 32, true)?;
        if let Some(s) = &self.source_name {
            token("packages.source_name", s, 256, false)?;
        }
        if let Some(s) = &self.source_version {
            token("packages.source_version", s, 256, false)?;
        }
        Ok(())
    }
}

/// SHA-256 (hex) of an inventory in canonical form: packages sorted, one
/// `name\tarch\tversion\tsource_name\tsource_version\n` line each, after the format.
/// Agents and the server compute the same value, so an unchanged inventory need not be
/// sent again.
pub fn inventory_hash(format: PackageFormat, packages: &[InstalledPackage]) -> String {
    hash_sorted(format, &sorted_by_key(packages))
}

fn key(p: &InstalledPackage) -> (&str, &str, &str) {
    (&p.name, &p.arch, &p.version)
}

fn sorted_by_key(packages: &[InstalledPackage]) -> Vec<&InstalledPackage> {
    let mut sorted: Vec<&InstalledPackage> = packages.iter().collect();
    sorted.sort_by(|a, b| key(a).cmp(&key(b)));
    sorted
}

fn hash_sorted(format: PackageFormat, sorted: &[&InstalledPackage]) -> String {
    use sha2::{Digest, Sha256};
    // One buffer, hashed once: per-field `update` calls cost more than the copying.
    let mut text = Vec::with_capacity(16 + sorted.len() * 64);
    text.extend_from_slice(format.as_str().as_bytes());
    text.push(b'\n');
    for p in sorted {
        for (i, f) in [
            p.name.as_str(),
            p.arch.as_str(),
            p.version.as_str(),
            p.source_name.as_deref().unwrap_or(""),
            p.source_version.as_deref().unwrap_or(""),
        ]
        .iter()
        .enumerate()
        {
            if i > 0 {
                text.push(b'\t');
            }
            text.extend_from_slice(f.as_bytes());
        }
        text.push(b'\n');
    }
    let h = Sha256::digest(&text);
    hex::encode(h)
}

/// An inventory with its canonical hash ([`inventory_hash`]) and no (name, arch,
/// version) listed twice. The only way to make one is [`CheckedInventory::new`], which
/// sorts the packages once for both checks, so whoever holds one can trust the hash
/// without computing it again (the server checks an agent's claimed hash with it and
/// hands the same value to the store).
#[derive(Debug, Clone)]
pub struct CheckedInventory<'a> {
    format: PackageFormat,
    packages: &'a [InstalledPackage],
    hash: String,
}

/// A (name, arch, version) listed twice in one inventory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("package {name} {version} ({}) is listed twice", if arch.is_empty() { "no arch" } else { arch.as_str() })]
pub struct DuplicatePackage {
    pub name: String,
    pub arch: String,
    pub version: String,
}

impl<'a> CheckedInventory<'a> {
    pub fn new(
        format: PackageFormat,
        packages: &'a [InstalledPackage],
    ) -> Result<Self, DuplicatePackage> {
        let sorted = sorted_by_key(packages);
        if let Some(w) = sorted.windows(2).find(|w| key(w[0]) == key(w[1])) {
            return Err(DuplicatePackage {
                name: w[0].name.clone(),
                arch: w[0].arch.clone(),
                version: w[0].version.clone(),
            });
        }
        Ok(Self {
            format,
            packages,
            hash: hash_sorted(format, &sorted),
        })
    }

    pub fn format(&self) -> PackageFormat {
        self.format
    }

    /// The packages in the order given.
    pub fn packages(&self) -> &'a [InstalledPackage] {
        self.packages
    }

    pub fn hash(&self) -> &str {
        &self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, version: &str) -> InstalledPackage {
        InstalledPackage {
            name: name.into(),
            version: version.into(),
            arch: "amd64".into(),
            source_name: None,
            source_version: None,
        }
    }

    #[test]
    fn a_checked_inventory_has_the_canonical_hash_and_no_duplicate() {
        let packages = vec![pkg("zlib1g", "1:1.2.13"), pkg("bash", "5.2.15-2+b2")];
        let checked = CheckedInventory::new(PackageFormat::Deb, &packages).unwrap();
        assert_eq!(
            checked.hash(),
            inventory_hash(PackageFormat::Deb, &packages)
        );
        assert_ne!(
            checked.hash(),
            inventory_hash(PackageFormat::Rpm, &packages)
        );
        assert_eq!(checked.packages()[0].name, "zlib1g", "order as given");
        let mut twice = packages.clone();
        twice.push(pkg("bash", "5.2.15-2+b2"));
        let e = CheckedInventory::new(PackageFormat::Deb, &twice).unwrap_err();
        assert_eq!(
            e.to_string(),
            "package bash 5.2.15-2+b2 (amd64) is listed twice"
        );
        // Two versions of one name are not duplicates (kernels).
        twice.pop();
        twice.push(pkg("bash", "5.2.15-2+b3"));
        assert!(CheckedInventory::new(PackageFormat::Deb, &twice).is_ok());
    }

    #[test]
    fn validates_shape() {
        assert!(pkg("openssl", "3.0.11-1~deb12u2").validate().is_ok());
        assert!(pkg("", "1").validate().is_err());
        assert!(pkg("a b", "1").validate().is_err());
        assert!(pkg("a", "1\n2").validate().is_err());
        assert!(pkg("a", &"9".repeat(300)).validate().is_err());
        assert_eq!("rpm".parse::<PackageFormat>().unwrap(), PackageFormat::Rpm);
    }
}
