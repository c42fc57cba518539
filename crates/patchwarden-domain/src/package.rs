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
    use sha2::{Digest, Sha256};
    let mut sorted: Vec<&InstalledPackage> = packages.iter().collect();
    sorted.sort_by(|a, b| (&a.name, &a.arch, &a.version).cmp(&(&b.name, &b.arch, &b.version)));
    // One buffer, hashed once: per-field `update` calls cost more than the copying.
    let mut text = Vec::with_capacity(16 + packages.len() * 64);
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
    fn validates_shape() {
        assert!(pkg("openssl", "3.0.11-1~deb12u2").validate().is_ok());
        assert!(pkg("", "1").validate().is_err());
        assert!(pkg("a b", "1").validate().is_err());
        assert!(pkg("a", "1\n2").validate().is_err());
        assert!(pkg("a", &"9".repeat(300)).validate().is_err());
        assert_eq!("rpm".parse::<PackageFormat>().unwrap(), PackageFormat::Rpm);
    }
}
