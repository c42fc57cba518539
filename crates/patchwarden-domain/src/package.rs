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
    // Package fields are ASCII in practice: a byte scan (space, ASCII controls and
    // DEL) says the same as the `char` test there, at a fraction of the cost.
    let bad = if s.is_ascii() {
        s.bytes().any(|b| b <= b' ' || b == 0x7f)
    } else {
        s.chars().any(|c| c.is_whitespace() || c.is_control())
    };
    if bad {
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
    Canonical::of(format, &sorted_by_key(packages)).hash()
}

fn key(p: &InstalledPackage) -> (&str, &str, &str) {
    (&p.name, &p.arch, &p.version)
}

fn sorted_by_key(packages: &[InstalledPackage]) -> Vec<&InstalledPackage> {
    let mut sorted: Vec<&InstalledPackage> = packages.iter().collect();
    sorted.sort_by(|a, b| key(a).cmp(&key(b)));
    sorted
}

/// Appends a package's canonical line without its newline:
/// `name\tarch\tversion\tsource_name\tsource_version`, absent sources as empty fields
/// (so `None` and `Some("")` give the same line). Stores use the line as the identity
/// of a package tuple.
pub fn push_canonical_line(out: &mut Vec<u8>, p: &InstalledPackage) {
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
            out.push(b'\t');
        }
        out.extend_from_slice(f.as_bytes());
    }
}

/// The canonical text of a sorted inventory, and where each package's line ends in it.
#[derive(Debug, Clone, Default)]
struct Canonical {
    text: Vec<u8>,
    /// End (exclusive, before its newline) of each package's line, in sorted order.
    ends: Vec<usize>,
}

impl Canonical {
    fn of(format: PackageFormat, sorted: &[&InstalledPackage]) -> Self {
        // One buffer, hashed once: per-field `update` calls cost more than the copying.
        let mut text = Vec::with_capacity(16 + sorted.len() * 64);
        let mut ends = Vec::with_capacity(sorted.len());
        text.extend_from_slice(format.as_str().as_bytes());
        text.push(b'\n');
        for p in sorted {
            push_canonical_line(&mut text, p);
            ends.push(text.len());
            text.push(b'\n');
        }
        Self { text, ends }
    }

    fn hash(&self) -> String {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(&self.text))
    }

    /// The line of the `i`-th package (sorted order).
    fn line(&self, i: usize) -> &[u8] {
        let start = match i {
            0 => self
                .text
                .iter()
                .position(|b| *b == b'\n')
                .map_or(0, |n| n + 1),
            _ => self.ends[i - 1] + 1,
        };
        &self.text[start..self.ends[i]]
    }
}

/// An inventory with its canonical hash ([`inventory_hash`]) and no (name, arch,
/// version) listed twice. The only way to make one is [`CheckedInventory::new`], which
/// sorts the packages once for both checks, so whoever holds one can trust the hash
/// without computing it again (the server checks an agent's claimed hash with it and
/// hands the same value to the store), and can use the sorted order and each
/// package's canonical line ([`push_canonical_line`]) without building them again.
#[derive(Debug, Clone)]
pub struct CheckedInventory<'a> {
    format: PackageFormat,
    packages: &'a [InstalledPackage],
    sorted: Vec<&'a InstalledPackage>,
    canonical: Canonical,
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
        let canonical = Canonical::of(format, &sorted);
        let hash = canonical.hash();
        Ok(Self {
            format,
            packages,
            sorted,
            canonical,
            hash,
        })
    }

    pub fn format(&self) -> PackageFormat {
        self.format
    }

    /// The packages in the order given.
    pub fn packages(&self) -> &'a [InstalledPackage] {
        self.packages
    }

    /// The packages sorted by (name, arch, version).
    pub fn sorted(&self) -> &[&'a InstalledPackage] {
        &self.sorted
    }

    /// Each package (sorted order) with its canonical line ([`push_canonical_line`]).
    pub fn lines(&self) -> impl Iterator<Item = (&'a InstalledPackage, &[u8])> + '_ {
        self.sorted
            .iter()
            .enumerate()
            .map(|(i, p)| (*p, self.canonical.line(i)))
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
        let lines: Vec<(&str, Vec<u8>)> = checked
            .lines()
            .map(|(p, l)| (p.name.as_str(), l.to_vec()))
            .collect();
        assert_eq!(
            lines,
            [
                ("bash", b"bash\tamd64\t5.2.15-2+b2\t\t".to_vec()),
                ("zlib1g", b"zlib1g\tamd64\t1:1.2.13\t\t".to_vec()),
            ],
            "sorted, one canonical line each"
        );
        let mut with_source = pkg("libc6", "2.36-9");
        with_source.source_name = Some("glibc".into());
        let mut line = Vec::new();
        push_canonical_line(&mut line, &with_source);
        assert_eq!(line, b"libc6\tamd64\t2.36-9\tglibc\t");
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
        // The ASCII fast path and the Unicode path agree on what they refuse.
        assert!(pkg("a\u{7f}", "1").validate().is_err());
        assert!(pkg("a\u{a0}b", "1").validate().is_err(), "no-break space");
        assert!(
            pkg("a\u{85}b", "1").validate().is_err(),
            "next line (C1 control)"
        );
        assert!(pkg("café", "1").validate().is_ok());
        assert_eq!("rpm".parse::<PackageFormat>().unwrap(), PackageFormat::Rpm);
    }
}
