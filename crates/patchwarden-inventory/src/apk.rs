//! Alpine: the apk installed database, `/lib/apk/db/installed`.

use crate::parsed::{numbered, unless_same, Collector, Parsed};
use patchwarden_domain::package::InstalledPackage;

#[derive(Debug, Default)]
struct Record {
    start: usize,
    name: Option<String>,
    version: Option<String>,
    arch: Option<String>,
    origin: Option<String>,
    problem: Option<String>,
}

impl Record {
    fn finish(self, out: &mut Collector) {
        let line = self.start;
        let shown = self.name.clone().unwrap_or_else(|| "?".to_owned());
        if let Some(problem) = self.problem {
            out.warn(
                line,
                format!("record of package {shown:.80} skipped: {problem}"),
            );
            return;
        }
        let (Some(name), Some(version)) = (self.name, self.version) else {
            out.warn(
                line,
                format!("record of package {shown:.80} without P: or V: skipped"),
            );
            return;
        };
        out.package(
            line,
            InstalledPackage {
                source_name: unless_same(self.origin, &name),
                source_version: None,
                name,
                version,
                arch: self.arch.unwrap_or_default(),
            },
        );
    }
}

/// Parses an apk installed database: records separated by blank lines, one `K:value`
/// line per field. Used: `P` name, `V` version, `A` arch, `o` origin (the source
/// package, whose version is always the package's own). Other keys (file lists,
/// checksums ...) are ignored.
pub fn parse_apk_installed(text: &str) -> Parsed {
    let mut out = Collector::default();
    let mut record: Option<Record> = None;
    for (n, line) in numbered(text) {
        if line.trim().is_empty() {
            if let Some(r) = record.take() {
                r.finish(&mut out);
            }
            continue;
        }
        if out.too_long(n, line) {
            continue;
        }
        let current = record.get_or_insert_with(|| Record {
            start: n,
            ..Record::default()
        });
        let mut chars = line.chars();
        let (Some(key), Some(':')) = (chars.next(), chars.next()) else {
            out.warn(n, format!("not a `K:value` line: {line:.80?}"));
            continue;
        };
        let slot = match key {
            'P' => &mut current.name,
            'V' => &mut current.version,
            'A' => &mut current.arch,
            'o' => &mut current.origin,
            _ => continue,
        };
        if slot.is_some() {
            current
                .problem
                .get_or_insert(format!("duplicate {key}: line {n}"));
        } else {
            *slot = Some(chars.as_str().trim().to_owned());
        }
    }
    if let Some(r) = record {
        r.finish(&mut out);
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records() {
        let text = "C:Q1abc=\nP:libssl3\nV:3.1.0-r4\nA:x86_64\no:openssl\nF:lib\n\n\
                    P:zlib\nV:1.2.13-r1\nA:x86_64\no:zlib\n\nP:nov\nA:x86_64\n\n\
                    P:a\nP:b\nV:1\n\nbinary\u{0}junk\n";
        let p = parse_apk_installed(text);
        assert_eq!(p.packages.len(), 2);
        assert_eq!(p.packages[0].source_name.as_deref(), Some("openssl"));
        assert_eq!(p.packages[1].source_name, None);
        let lines: Vec<usize> = p.warnings.iter().map(|w| w.line).collect();
        assert_eq!(lines, [13, 16, 20, 20], "{:#?}", p.warnings);
    }
}
