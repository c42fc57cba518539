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
        validate_fields(
            &self.name,
            &self.version,
            &self.arch,
            self.source_name.as_deref(),
            self.source_version.as_deref(),
        )
    }
}

/// The field checks of [`InstalledPackage::validate`], for a package held as fields
/// (owned or slices of a canonical text).
fn validate_fields(
    name: &str,
    version: &str,
    arch: &str,
    source_name: Option<&str>,
    source_version: Option<&str>,
) -> Result<(), ValidationError> {
    token("packages.name", name, 256, false)?;
    token("packages.version", version, 256, false)?;
    token("packages.arch", arch, 32, true)?;
    if let Some(s) = source_name {
        token("packages.source_name", s, 256, false)?;
    }
    if let Some(s) = source_version {
        token("packages.source_version", s, 256, false)?;
    }
    Ok(())
}

/// One package, borrowed: from an [`InstalledPackage`] or from an inventory's
/// canonical text ([`CanonicalText`]), so that a report's packages need not each be
/// five owned strings. Absent and empty source fields are both `None`, as in the
/// canonical line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PackageRef<'a> {
    pub name: &'a str,
    pub arch: &'a str,
    pub version: &'a str,
    pub source_name: Option<&'a str>,
    pub source_version: Option<&'a str>,
}

impl<'a> PackageRef<'a> {
    /// The (name, arch, version) an inventory is sorted and deduplicated by.
    pub fn key(&self) -> (&'a str, &'a str, &'a str) {
        (self.name, self.arch, self.version)
    }

    /// The package as an owned value.
    pub fn to_installed(&self) -> InstalledPackage {
        InstalledPackage {
            name: self.name.to_owned(),
            version: self.version.to_owned(),
            arch: self.arch.to_owned(),
            source_name: self.source_name.map(str::to_owned),
            source_version: self.source_version.map(str::to_owned),
        }
    }
}

impl InstalledPackage {
    /// The package borrowed ([`PackageRef`]).
    pub fn borrowed(&self) -> PackageRef<'_> {
        PackageRef {
            name: &self.name,
            arch: &self.arch,
            version: &self.version,
            source_name: non_empty(&self.source_name),
            source_version: non_empty(&self.source_version),
        }
    }
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
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

/// [`push_canonical_line`] onto text.
fn push_canonical_str(out: &mut String, p: &InstalledPackage) {
    for (i, f) in canonical_fields(p).iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        out.push_str(f);
    }
}

/// The canonical text of a sorted inventory (the lines after the format line, which
/// the hash covers too), and where each package's line ends in it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Canonical {
    format: PackageFormat,
    lines: String,
    /// End (exclusive, before its newline) of each package's line, in sorted order.
    ends: Vec<usize>,
}

impl Canonical {
    fn of(format: PackageFormat, sorted: &[&InstalledPackage]) -> Self {
        let mut lines = String::with_capacity(sorted.len() * 64);
        let mut ends = Vec::with_capacity(sorted.len());
        for p in sorted {
            push_canonical_str(&mut lines, p);
            ends.push(lines.len());
            lines.push('\n');
        }
        Self {
            format,
            lines,
            ends,
        }
    }

    /// SHA-256 of the format line and the lines (two updates: as fast as one buffer).
    fn hash(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.format.as_str().as_bytes());
        h.update(b"\n");
        h.update(self.lines.as_bytes());
        hex::encode(h.finalize())
    }

    /// Where the line of the `i`-th package (sorted order) starts.
    fn start(&self, i: usize) -> usize {
        match i {
            0 => 0,
            _ => self.ends[i - 1] + 1,
        }
    }

    /// The line of the `i`-th package (sorted order).
    fn line(&self, i: usize) -> &str {
        &self.lines[self.start(i)..self.ends[i]]
    }
}

/// An inventory with its canonical hash ([`inventory_hash`]) and no (name, arch,
/// version) listed twice. The only ways to make one are [`CheckedInventory::new`],
/// which sorts the packages once for both checks, and [`CheckedInventory::from_text`],
/// whose text was checked while it was read; so whoever holds one can trust the hash
/// without computing it again (the server checks an agent's claimed hash with it and
/// hands the same value to the store), and can use the sorted order and each
/// package's canonical line ([`push_canonical_line`]) without building them again.
#[derive(Debug, Clone)]
pub struct CheckedInventory<'a> {
    sorted: Vec<PackageRef<'a>>,
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
            sorted: sorted.into_iter().map(InstalledPackage::borrowed).collect(),
            canonical,
            hash,
        })
    }

    /// The inventory of a canonical text ([`CanonicalText::parse`] checked its order
    /// and duplicates while reading it), hashed as received.
    pub fn from_text(text: &'a CanonicalText) -> Self {
        Self {
            sorted: text.packages().collect(),
            canonical: Cow::Borrowed(&text.canonical),
            hash: text.canonical.hash(),
        }
    }

    pub fn format(&self) -> PackageFormat {
        self.canonical.format
    }

    /// How many packages it holds.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The packages sorted by (name, arch, version).
    pub fn sorted(&self) -> &[PackageRef<'a>] {
        &self.sorted
    }

    /// Each package (sorted order) with its canonical line ([`push_canonical_line`]).
    pub fn lines(&self) -> impl Iterator<Item = (PackageRef<'a>, &[u8])> + '_ {
        self.sorted
            .iter()
            .enumerate()
            .map(|(i, p)| (*p, self.canonical.line(i).as_bytes()))
    }

    pub fn hash(&self) -> &str {
        &self.hash
    }
}

/// An inventory's canonical text as received: the lines [`inventory_hash`] hashes after
/// the format line, one package each, sorted by (name, arch, version), each ending with
/// a newline. Agents send their inventory in this form (protocol 2), so the server
/// checks order and duplicates while splitting the lines, hashes the bytes it
/// received, and reads the packages as slices of the text ([`PackageRef`]), without
/// sorting, building the text again or copying a field. The only way to make one is
/// [`CanonicalText::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalText {
    canonical: Canonical,
    /// The positions of each line's four tabs in the line.
    tabs: Vec<[usize; 4]>,
}

impl CanonicalText {
    /// Reads `lines`: every line has exactly five tab-separated fields (name, arch,
    /// version, source name, source version; an empty source field is absent), each
    /// field passes [`InstalledPackage::validate`], and the lines are in strictly
    /// ascending (name, arch, version) order, so none is listed twice. The text is
    /// kept as given (not copied), and read in one pass over its separators.
    pub fn parse(format: PackageFormat, lines: String) -> Result<Self, ValidationError> {
        let err = |n: usize, why: String| {
            ValidationError::new("packages_text", format!("line {n}: {why}"))
        };
        if !lines.is_empty() && !lines.ends_with('\n') {
            return Err(ValidationError::new(
                "packages_text",
                "must end with a newline",
            ));
        }
        // About 60 bytes a line.
        let mut tabs: Vec<[usize; 4]> = Vec::with_capacity(lines.len() / 48);
        let mut ends = Vec::with_capacity(lines.len() / 48);
        {
            let bytes = lines.as_bytes();
            // Printable ASCII and separators only: checked for the whole text in one
            // branch-free pass the compiler vectorises, and line by line only if not.
            let plain_text = bytes.iter().fold(true, |ok, &b| ok & plain_or(b, b'\n'));
            let mut prev: Option<(&str, &str, &str)> = None;
            let (mut start, mut found, mut n_tabs) = (0, [0usize; 4], 0);
            // The separators, found with SIMD (`memchr`) rather than byte by byte.
            for i in memchr::memchr2_iter(b'\t', b'\n', bytes) {
                if bytes.get(i) == Some(&b'\t') {
                    if let Some(t) = found.get_mut(n_tabs) {
                        *t = i - start;
                    }
                    n_tabs += 1;
                    continue;
                }
                let n = ends.len() + 1;
                let line = &lines[start..i];
                let plain = plain_text || line.bytes().fold(true, |ok, b| ok & plain_or(b, b'\t'));
                let t = match (plain && n_tabs == 4).then_some(found) {
                    // The common line: printable ASCII, five fields within their limits.
                    Some(t) if fits(line.len(), &t) => t,
                    // Anything else is validated field by field, which says what is
                    // wrong (or accepts a field the byte scan does not know).
                    _ => checked_tabs(line).map_err(|why| err(n, why))?,
                };
                let p = fields_at(line, &t);
                if let Some(before) = prev {
                    if before >= p.key() {
                        return Err(err(
                            n,
                            format!(
                                "{} {} ({}) is not after {} {} ({}): lines must be sorted by \
                                 name, arch and version, each package once",
                                p.name, p.version, p.arch, before.0, before.2, before.1
                            ),
                        ));
                    }
                }
                prev = Some(p.key());
                tabs.push(t);
                ends.push(i);
                (start, n_tabs) = (i + 1, 0);
            }
        }
        Ok(Self {
            canonical: Canonical {
                format,
                lines,
                ends,
            },
            tabs,
        })
    }

    pub fn format(&self) -> PackageFormat {
        self.canonical.format
    }

    /// How many packages (lines) it holds.
    pub fn len(&self) -> usize {
        self.tabs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tabs.is_empty()
    }

    /// The packages, sorted by (name, arch, version), as slices of the text.
    pub fn packages(&self) -> impl ExactSizeIterator<Item = PackageRef<'_>> + '_ {
        self.tabs
            .iter()
            .enumerate()
            .map(|(i, t)| fields_at(self.canonical.line(i), t))
    }

    /// The canonical lines of `packages` (sorted here), as [`CanonicalText::parse`]
    /// reads them.
    pub fn text_of(packages: &[InstalledPackage]) -> String {
        let mut text = String::with_capacity(packages.len() * 64);
        for p in sorted_by_key(packages) {
            push_canonical_str(&mut text, p);
            text.push('\n');
        }
        text
    }

    /// The lines as received (without the format line).
    pub fn lines(&self) -> &str {
        &self.canonical.lines
    }
}

/// The package of `line`, whose tabs are at `tabs`.
fn fields_at<'a>(line: &'a str, tabs: &[usize; 4]) -> PackageRef<'a> {
    let [a, b, c, d] = *tabs;
    let opt = |s: &'a str| (!s.is_empty()).then_some(s);
    PackageRef {
        name: &line[..a],
        arch: &line[a + 1..b],
        version: &line[b + 1..c],
        source_name: opt(&line[c + 1..d]),
        source_version: opt(&line[d + 1..]),
    }
}

/// Whether `b` is printable ASCII (no space) or the separator `sep`.
fn plain_or(b: u8, sep: u8) -> bool {
    b == b'\t' || b == sep || (b > b' ' && b < 0x7f)
}

/// Whether the five fields of a line of `len` bytes with tabs at `tabs` are within the
/// limits of [`InstalledPackage::validate`] (name and version not empty).
fn fits(len: usize, tabs: &[usize; 4]) -> bool {
    let [a, b, c, d] = *tabs;
    // name, arch, version, source name, source version
    let field = [a, b - a - 1, c - b - 1, d - c - 1, len - d - 1];
    field[0] > 0
        && field[0] <= 256
        && field[1] <= 32
        && field[2] > 0
        && field[2] <= 256
        && field[3] <= 256
        && field[4] <= 256
}

/// The four tabs of a line the byte scan of [`CanonicalText::parse`] does not vouch
/// for, each field validated as [`InstalledPackage::validate`] does; why not, otherwise.
fn checked_tabs(line: &str) -> Result<[usize; 4], String> {
    let mut tabs = [0usize; 4];
    let mut n = 0;
    for (i, b) in line.bytes().enumerate() {
        if b == b'\t' {
            match tabs.get_mut(n) {
                Some(t) => *t = i,
                None => return Err("must have exactly five tab-separated fields".into()),
            }
            n += 1;
        }
    }
    if n != 4 {
        return Err("must have exactly five tab-separated fields".into());
    }
    let p = fields_at(line, &tabs);
    validate_fields(p.name, p.version, p.arch, p.source_name, p.source_version)
        .map_err(|e| format!("{}: {}", e.field, e.reason))?;
    Ok(tabs)
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
        assert_eq!(checked.len(), 2);
        let lines: Vec<(&str, Vec<u8>)> =
            checked.lines().map(|(p, l)| (p.name, l.to_vec())).collect();
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
        let received = CanonicalText::parse(PackageFormat::Deb, text.clone()).unwrap();
        assert_eq!(received.lines(), text);
        let checked = CheckedInventory::from_text(&received);
        assert_eq!(
            checked.hash(),
            inventory_hash(PackageFormat::Deb, &packages)
        );
        let mut sorted = packages.clone();
        sort_for_test(&mut sorted);
        let read: Vec<InstalledPackage> = received.packages().map(|p| p.to_installed()).collect();
        assert_eq!(read, sorted);
        assert_eq!(
            received.packages().nth(1).unwrap().source_name,
            Some("glibc")
        );
        assert_eq!(received.packages().nth(1).unwrap().source_version, None);
        let by_new = CheckedInventory::new(PackageFormat::Deb, &packages).unwrap();
        let lines = |c: &CheckedInventory<'_>| {
            c.lines()
                .map(|(p, l)| (p.to_installed(), l.to_vec()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            lines(&checked),
            lines(&by_new),
            "same sorted view and lines"
        );
        let empty = CanonicalText::parse(PackageFormat::Rpm, "".to_owned()).unwrap();
        assert!(empty.is_empty());
        assert_eq!(
            CheckedInventory::from_text(&empty).hash(),
            inventory_hash(PackageFormat::Rpm, &[])
        );
        // `Some("")` and `None` are the same source, in the line and borrowed.
        let mut blank = pkg("a", "1");
        blank.source_name = Some(String::new());
        assert_eq!(blank.borrowed(), pkg("a", "1").borrowed());
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
            let e = CanonicalText::parse(PackageFormat::Deb, text.to_owned()).unwrap_err();
            assert_eq!(e.field, "packages_text");
            assert!(e.reason.starts_with(why), "{text:?}: {}", e.reason);
        }
        let long = format!("{}\tamd64\t1\t\t\n", "n".repeat(257));
        let e = CanonicalText::parse(PackageFormat::Deb, long.clone()).unwrap_err();
        assert!(
            e.reason.starts_with("line 1: packages.name: "),
            "{}",
            e.reason
        );
        let wide = format!("a\t{}\t1\t\t\n", "x".repeat(33));
        let e = CanonicalText::parse(PackageFormat::Deb, wide.clone()).unwrap_err();
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
                CanonicalText::parse(PackageFormat::Deb, bad.to_owned()).is_err(),
                "{bad:?}"
            );
        }
        // What the byte scan leaves to the field checks is still read when valid.
        let read = CanonicalText::parse(PackageFormat::Deb, "café\t\t1\t\t\n".to_owned()).unwrap();
        let p = read.packages().next().unwrap();
        assert_eq!((p.name, p.arch), ("café", ""));
        // One such line among plain ones: each line is then checked on its own.
        let mixed = "b\tamd64\t1\t\t\ncafé\t\t1\t\t\nd\tamd64\t1\t\t\n";
        assert_eq!(
            CanonicalText::parse(PackageFormat::Deb, mixed.to_owned())
                .unwrap()
                .len(),
            3
        );
        let e = CanonicalText::parse(PackageFormat::Deb, format!("{mixed}e\tamd64\t1 2\t\t\n"))
            .unwrap_err();
        assert!(
            e.reason.starts_with("line 4: packages.version"),
            "{}",
            e.reason
        );
        // Two versions of one name and arch are not duplicates (kernels).
        let kernels = "k\tamd64\t1\t\t\nk\tamd64\t2\t\t\n";
        assert_eq!(
            CanonicalText::parse(PackageFormat::Rpm, kernels.to_owned())
                .unwrap()
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
