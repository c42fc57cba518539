//! Installed software packages, as reported by an agent or read locally.

use crate::asset::string_enum;
use crate::ValidationError;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
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

/// The fields of a package's canonical line, in order, absent sources as empty.
fn canonical_fields(p: &InstalledPackage) -> [&str; 5] {
    [
        p.name.as_str(),
        p.arch.as_str(),
        p.version.as_str(),
        p.source_name.as_deref().unwrap_or(""),
        p.source_version.as_deref().unwrap_or(""),
    ]
}

/// Appends a package's canonical line without its newline:
/// `name\tarch\tversion\tsource_name\tsource_version`, absent sources as empty fields
/// (so `None` and `Some("")` give the same line). Stores use the line as the identity
/// of a package tuple.
pub fn push_canonical_line(out: &mut Vec<u8>, p: &InstalledPackage) {
    for (i, f) in canonical_fields(p).iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        out.extend_from_slice(f.as_bytes());
    }
}

/// The canonical text of a sorted inventory, and where each package's line ends in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    canonical: Cow<'a, Canonical>,
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
        let canonical: Cow<'a, Canonical> = Cow::Owned(Canonical::of(format, &sorted));
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

/// An inventory's canonical text as received: the lines [`inventory_hash`] hashes after
/// the format line, one package each, sorted by (name, arch, version), each ending with
/// a newline. Agents send their inventory in this form (protocol 2), so the server
/// checks order and duplicates while splitting the lines, and hashes the bytes it
/// received, without sorting or building the text again. The only way to make one is
/// [`CanonicalText::parse`], which also returns the packages the lines name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalText {
    format: PackageFormat,
    canonical: Canonical,
}

impl CanonicalText {
    /// Reads `lines`: every line has exactly five tab-separated fields (name, arch,
    /// version, source name, source version; an empty source field is absent), each
    /// field passes [`InstalledPackage::validate`], and the lines are in strictly
    /// ascending (name, arch, version) order, so none is listed twice. Returns the
    /// packages in that order and the text.
    pub fn parse(
        format: PackageFormat,
        lines: &str,
    ) -> Result<(Vec<InstalledPackage>, Self), ValidationError> {
        let err = |n: usize, why: String| {
            ValidationError::new("packages_text", format!("line {n}: {why}"))
        };
        if !lines.is_empty() && !lines.ends_with('\n') {
            return Err(ValidationError::new(
                "packages_text",
                "must end with a newline",
            ));
        }
        let header = format.as_str().len() + 1;
        let mut text = Vec::with_capacity(header + lines.len());
        text.extend_from_slice(format.as_str().as_bytes());
        text.push(b'\n');
        text.extend_from_slice(lines.as_bytes());
        let count = lines.bytes().filter(|b| *b == b'\n').count();
        let mut packages: Vec<InstalledPackage> = Vec::with_capacity(count);
        let mut ends = Vec::with_capacity(count);
        let mut end = header;
        for (i, line) in lines.split_terminator('\n').enumerate() {
            let n = i + 1;
            let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
            let p = match plain_fields(line) {
                // The common line: printable ASCII, five fields within their limits.
                Some([name, arch, version, sn, sv]) => InstalledPackage {
                    name: name.to_owned(),
                    version: version.to_owned(),
                    arch: arch.to_owned(),
                    source_name: opt(sn),
                    source_version: opt(sv),
                },
                // Anything else is split and validated field by field, which says what
                // is wrong (or accepts a field the byte scan does not know).
                None => {
                    let mut fields = line.split('\t');
                    let mut next = || fields.next();
                    let (Some(name), Some(arch), Some(version), Some(sn), Some(sv), None) =
                        (next(), next(), next(), next(), next(), next())
                    else {
                        return Err(err(n, "must have exactly five tab-separated fields".into()));
                    };
                    let p = InstalledPackage {
                        name: name.to_owned(),
                        version: version.to_owned(),
                        arch: arch.to_owned(),
                        source_name: opt(sn),
                        source_version: opt(sv),
                    };
                    p.validate()
                        .map_err(|e| err(n, format!("{}: {}", e.field, e.reason)))?;
                    p
                }
            };
            if let Some(prev) = packages.last() {
                if key(prev) >= key(&p) {
                    return Err(err(
                        n,
                        format!(
                            "{} {} ({}) is not after {} {} ({}): lines must be sorted by name, \
                             arch and version, each package once",
                            p.name, p.version, p.arch, prev.name, prev.version, prev.arch
                        ),
                    ));
                }
            }
            end += line.len();
            ends.push(end);
            end += 1;
            packages.push(p);
        }
        let canonical = Canonical { text, ends };
        Ok((packages, Self { format, canonical }))
    }

    pub fn format(&self) -> PackageFormat {
        self.format
    }

    /// The canonical lines of `packages` (sorted here), as [`CanonicalText::parse`]
    /// reads them.
    pub fn text_of(packages: &[InstalledPackage]) -> String {
        let mut text = String::with_capacity(packages.len() * 64);
        for p in sorted_by_key(packages) {
            for (i, f) in canonical_fields(p).iter().enumerate() {
                if i > 0 {
                    text.push('\t');
                }
                text.push_str(f);
            }
            text.push('\n');
        }
        text
    }
}

/// The five fields of a canonical line in one pass over its bytes, when every byte is
/// printable ASCII or one of exactly four tabs and each field is within the limits of
/// [`InstalledPackage::validate`] (so the package it makes is valid); `None` otherwise.
fn plain_fields(line: &str) -> Option<[&str; 5]> {
    let mut tabs = [0usize; 4];
    let mut n = 0;
    for (i, &b) in line.as_bytes().iter().enumerate() {
        if b == b'\t' {
            *tabs.get_mut(n)? = i;
            n += 1;
        } else if b <= b' ' || b >= 0x7f {
            return None;
        }
    }
    if n != 4 {
        return None;
    }
    let f = [
        &line[..tabs[0]],
        &line[tabs[0] + 1..tabs[1]],
        &line[tabs[1] + 1..tabs[2]],
        &line[tabs[2] + 1..tabs[3]],
        &line[tabs[3] + 1..],
    ];
    // name, arch, version, source name, source version
    let fits = !f[0].is_empty()
        && f[0].len() <= 256
        && f[1].len() <= 32
        && !f[2].is_empty()
        && f[2].len() <= 256
        && f[3].len() <= 256
        && f[4].len() <= 256;
    fits.then_some(f)
}

/// Whether `line` is the canonical line of `p`, compared field by field in place.
fn is_line_of(line: &[u8], p: &InstalledPackage) -> bool {
    let fields = canonical_fields(p);
    if fields.iter().map(|f| f.len() + 1).sum::<usize>() != line.len() + 1 {
        return false;
    }
    let mut at = 0;
    fields.iter().all(|f| {
        let end = at + f.len();
        let ok = &line[at..end] == f.as_bytes() && line.get(end).is_none_or(|b| *b == b'\t');
        at = end + 1;
        ok
    })
}

impl<'a> CheckedInventory<'a> {
    /// The inventory `packages` read from `text` ([`CanonicalText::parse`] gave both):
    /// order and duplicates were checked while parsing, and the hash is the one of the
    /// text as received. That the two belong together is checked in one pass, field by
    /// field; a mismatch (a caller pairing them wrongly) is refused.
    pub fn from_text(
        packages: &'a [InstalledPackage],
        text: &'a CanonicalText,
    ) -> Result<Self, ValidationError> {
        let canonical = &text.canonical;
        let paired = packages.len() == canonical.ends.len()
            && packages
                .iter()
                .enumerate()
                .all(|(i, p)| is_line_of(canonical.line(i), p));
        if !paired {
            return Err(ValidationError::new(
                "packages",
                "do not match the canonical text they were read from",
            ));
        }
        Ok(Self {
            format: text.format,
            packages,
            sorted: packages.iter().collect(),
            canonical: Cow::Borrowed(canonical),
            hash: canonical.hash(),
        })
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
    fn a_canonical_text_reads_back_as_the_inventory_with_the_same_hash() {
        let mut libc = pkg("libc6", "2.36-9+deb12u4");
        libc.source_name = Some("glibc".into());
        let packages = vec![pkg("zlib1g", "1:1.2.13"), libc, pkg("bash", "5.2.15-2+b2")];
        let text = CanonicalText::text_of(&packages);
        assert_eq!(
            text,
            "bash\tamd64\t5.2.15-2+b2\t\t\nlibc6\tamd64\t2.36-9+deb12u4\tglibc\t\n\
             zlib1g\tamd64\t1:1.2.13\t\t\n"
        );
        let (read, received) = CanonicalText::parse(PackageFormat::Deb, &text).unwrap();
        let checked = CheckedInventory::from_text(&read, &received).unwrap();
        assert_eq!(
            checked.hash(),
            inventory_hash(PackageFormat::Deb, &packages)
        );
        let mut sorted = packages.clone();
        sort_for_test(&mut sorted);
        assert_eq!(read, sorted);
        let mut other = read.clone();
        other[1].source_name = None;
        assert!(CheckedInventory::from_text(&other, &received).is_err());
        assert!(CheckedInventory::from_text(&read[1..], &received).is_err());
        let by_new = CheckedInventory::new(PackageFormat::Deb, &packages).unwrap();
        let lines = |c: &CheckedInventory<'_>| {
            c.lines()
                .map(|(p, l)| (p.clone(), l.to_vec()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            lines(&checked),
            lines(&by_new),
            "same sorted view and lines"
        );
        let (none, empty) = CanonicalText::parse(PackageFormat::Rpm, "").unwrap();
        assert_eq!(
            CheckedInventory::from_text(&none, &empty).unwrap().hash(),
            inventory_hash(PackageFormat::Rpm, &[])
        );
    }

    fn sort_for_test(v: &mut [InstalledPackage]) {
        v.sort_by(|a, b| key(a).cmp(&key(b)));
    }

    #[test]
    fn a_canonical_text_out_of_shape_or_order_is_refused_with_the_line() {
        for (text, why) in [
            ("a\tamd64\t1\t\t", "must end with a newline"),
            ("a\tamd64\t1\t\n", "line 1: must have exactly five"),
            ("a\tamd64\t1\t\t\t\n", "line 1: must have exactly five"),
            ("\tamd64\t1\t\t\n", "line 1: packages.name: is empty"),
            ("a\tamd64\t1 2\t\t\n", "line 1: packages.version"),
            (
                "b\tamd64\t1\t\t\na\tamd64\t1\t\t\n",
                "line 2: a 1 (amd64) is not after b 1",
            ),
            (
                "a\tamd64\t1\t\t\na\tamd64\t1\tsrc\t\n",
                "line 2: a 1 (amd64) is not after a 1",
            ),
            ("a\tamd64\t1\t\t\n\n", "line 2: must have exactly five"),
        ] {
            let e = CanonicalText::parse(PackageFormat::Deb, text).unwrap_err();
            assert_eq!(e.field, "packages_text");
            assert!(e.reason.starts_with(why), "{text:?}: {}", e.reason);
        }
        let long = format!("{}\tamd64\t1\t\t\n", "n".repeat(257));
        let e = CanonicalText::parse(PackageFormat::Deb, &long).unwrap_err();
        assert!(
            e.reason.starts_with("line 1: packages.name: "),
            "{}",
            e.reason
        );
        let wide = format!("a\t{}\t1\t\t\n", "x".repeat(33));
        let e = CanonicalText::parse(PackageFormat::Deb, &wide).unwrap_err();
        assert!(
            e.reason.starts_with("line 1: packages.arch: "),
            "{}",
            e.reason
        );
        for bad in [
            "a\tamd64\t1\u{a0}2\t\t\n",
            "a\x7f\tamd64\t1\t\t\n",
            "a\tamd64\t1\t\t\r\n",
        ] {
            assert!(
                CanonicalText::parse(PackageFormat::Deb, bad).is_err(),
                "{bad:?}"
            );
        }
        // What the byte scan leaves to the field checks is still read when valid.
        let (read, _) = CanonicalText::parse(PackageFormat::Deb, "café\t\t1\t\t\n").unwrap();
        assert_eq!((read[0].name.as_str(), read[0].arch.as_str()), ("café", ""));
        // Two versions of one name and arch are not duplicates (kernels).
        let kernels = "k\tamd64\t1\t\t\nk\tamd64\t2\t\t\n";
        assert_eq!(
            CanonicalText::parse(PackageFormat::Rpm, kernels)
                .unwrap()
                .0
                .len(),
            2
        );
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
