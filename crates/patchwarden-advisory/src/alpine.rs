//! Alpine secdb (`secdb.alpinelinux.org/vX.Y/{main,community}.{yaml,json}`): per
//! package, `secfixes` maps the first fixed version to the ids it fixes. A version of
//! `0` means the package was never affected.
//!
//! One [`Advisory`] per CVE per file (id = the CVE, source `alpine-secdb`), with one
//! fixed statement per package. Names are aports origin (source) packages.

use crate::common::{record_id, token};
use crate::ImportResult;
use patchwarden_domain::advisory::{
    Advisory, AffectedPackage, DistroRelease, NameKind, PackageState, VersionRange,
};
use patchwarden_domain::package::PackageFormat;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The `source` tag of advisories from this parser.
pub const SOURCE: &str = "alpine-secdb";

#[derive(Default, Deserialize)]
struct RawDb {
    distroversion: String,
    packages: Vec<RawPkgWrap>,
}

#[derive(Default, Deserialize)]
struct RawPkgWrap {
    pkg: RawPkg,
}

#[derive(Default, Deserialize)]
struct RawPkg {
    name: Option<String>,
    #[serde(default)]
    secfixes: Option<BTreeMap<String, Option<Vec<String>>>>,
}

/// Parses the JSON form of a secdb file.
pub fn parse_json(file: &str, v: Value) -> ImportResult {
    match serde_json::from_value::<RawDb>(v) {
        Ok(db) => convert(file, db),
        Err(e) => {
            let mut out = ImportResult::default();
            out.reject(file, None, format!("not an Alpine secdb document: {e}"));
            out
        }
    }
}

/// Parses the YAML form of a secdb file. Only the secdb shape is understood (a small
/// line-based reader, not a general YAML parser).
pub fn parse_yaml(file: &str, text: &str) -> ImportResult {
    let mut db = RawDb::default();
    let mut in_secfixes = false;
    let mut version: Option<String> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l == "---" {
            continue;
        }
        if indent == 0 && !l.starts_with('-') {
            in_secfixes = false;
            if let Some(v) = l.strip_prefix("distroversion:") {
                db.distroversion = unquote(v).to_owned();
            }
            continue;
        }
        if l == "- pkg:" {
            in_secfixes = false;
            version = None;
            db.packages.push(RawPkgWrap::default());
            continue;
        }
        let Some(pkg) = db.packages.last_mut().map(|w| &mut w.pkg) else {
            continue;
        };
        if let Some(n) = l.strip_prefix("name:") {
            pkg.name = Some(unquote(n).to_owned());
        } else if l.starts_with("secfixes:") {
            in_secfixes = true;
            pkg.secfixes.get_or_insert_with(BTreeMap::new);
        } else if !in_secfixes {
            continue;
        } else if let Some(item) = l.strip_prefix('-') {
            if let (Some(v), Some(map)) = (&version, pkg.secfixes.as_mut()) {
                map.entry(v.clone())
                    .or_default()
                    .get_or_insert_with(Vec::new)
                    .push(unquote(item).to_owned());
            }
        } else if let Some(v) = l.strip_suffix(':') {
            let v = unquote(v).to_owned();
            if let Some(map) = pkg.secfixes.as_mut() {
                map.entry(v.clone()).or_default();
            }
            version = Some(v);
        }
    }
    convert(file, db)
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .or_else(|| s.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
        .unwrap_or(s)
}

fn convert(file: &str, db: RawDb) -> ImportResult {
    let mut out = ImportResult::default();
    let release = db.distroversion.trim().trim_start_matches('v').to_owned();
    let valid = !release.is_empty()
        && release.len() <= 16
        && release
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if !valid {
        out.reject(
            file,
            None,
            format!("distroversion {:.32?} is not a release", db.distroversion),
        );
        return out;
    }
    let distro = DistroRelease {
        ecosystem: "alpine".into(),
        release,
    };
    let mut by_cve: BTreeMap<String, Advisory> = BTreeMap::new();
    for (i, w) in db.packages.into_iter().enumerate() {
        let name = match token("package name", w.pkg.name.as_deref().unwrap_or_default()) {
            Ok(n) => n,
            Err(e) => {
                out.reject(file, Some(&format!("packages[{i}]")), e);
                continue;
            }
        };
        for (version, list) in w.pkg.secfixes.unwrap_or_default() {
            let rid = format!("{name}@{}", record_id(&version));
            // secdb marks some entries `1.2.3-r0 # comment`; the version is the first word.
            let v = version.split_whitespace().next().unwrap_or_default();
            let v = match token("version", v) {
                Ok(v) => v,
                Err(e) => {
                    out.reject(file, Some(&rid), e);
                    continue;
                }
            };
            let state = if v == "0" {
                PackageState::NotAffected {
                    justification: Some("secfixes version 0".into()),
                }
            } else {
                PackageState::Fixed {
                    ranges: vec![VersionRange {
                        introduced: None,
                        fixed: Some(v),
                        last_affected: None,
                        limit: None,
                    }],
                }
            };
            for entry in list.unwrap_or_default() {
                // `CVE-2019-1 CVE-2019-2` or `CVE-2019-1 (comment)`: every id-looking word.
                for id in entry
                    .split_whitespace()
                    .filter(|w| w.contains('-') && !w.starts_with('('))
                {
                    let Ok(id) = token("id", id) else {
                        out.reject(file, Some(&rid), "id is not a token");
                        continue;
                    };
                    let adv = by_cve.entry(id.clone()).or_insert_with(|| Advisory {
                        id,
                        source: SOURCE.into(),
                        aliases: Vec::new(),
                        published: None,
                        modified: None,
                        title: None,
                        severity: None,
                        cvss: Vec::new(),
                        affected: Vec::new(),
                        references: Vec::new(),
                    });
                    adv.affected.push(AffectedPackage {
                        distro: distro.clone(),
                        scheme: PackageFormat::Apk,
                        name: name.clone(),
                        name_kind: NameKind::Source,
                        arches: Vec::new(),
                        state: state.clone(),
                    });
                }
            }
        }
    }
    out.advisories.extend(by_cve.into_values());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_json_agree() {
        let y = "---\ndistroversion: v3.15\npackages:\n- pkg:\n    name: zlib\n    secfixes:\n      1.2.12-r0:\n      - CVE-2018-25032\n      \"0\":\n      - CVE-2000-1\n";
        let j = serde_json::json!({"distroversion":"v3.15","packages":[{"pkg":{"name":"zlib",
            "secfixes":{"1.2.12-r0":["CVE-2018-25032"],"0":["CVE-2000-1"]}}}]});
        let a = parse_yaml("t", y);
        assert_eq!(a.advisories, parse_json("t", j).advisories);
        assert_eq!(a.advisories.len(), 2);
        assert_eq!(
            a.advisories[1].affected[0].distro.to_string(),
            "alpine:3.15"
        );
    }
}
