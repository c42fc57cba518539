//! The real `rpm -qa` lists of `shared/fixtures/inventories/rpm-qa` (Snyk's rpm parser
//! fixtures, Apache-2.0): `*.tsv` lines `[module\t]name\t[epoch:]version-release\tsize`
//! and `rpm-4.16_*.json` arrays of `{name, epoch?, version, release, arch}`.

use anyhow::Context;
use std::collections::HashSet;
use std::path::Path;

/// A package of a real list: its name and `[epoch:]version-release`.
#[derive(Debug, Clone)]
pub struct Listed {
    pub name: String,
    pub version: String,
}

/// What the lists give the AlmaLinux generator.
#[derive(Debug)]
pub struct RealLists {
    /// The UBI 9 image (`*ubi9*`): real el9 versions.
    pub base: Vec<Listed>,
    /// Every other name, once, from the most recent list that has it.
    pub common: Vec<Listed>,
    /// Names some list shows as `noarch`.
    pub noarch: HashSet<String>,
}

/// Packages that identify another distribution (release, logos, repositories) or are
/// not packages (`gpg-pubkey`): an AlmaLinux host does not have them.
fn foreign(name: &str) -> bool {
    name == "gpg-pubkey"
        || name.contains("release")
        || name.contains("logos")
        || name.contains("indexhtml")
        || name.starts_with("subscription-manager")
        || ["centos-", "fedora-", "amazon-", "epel-", "redhat-"]
            .iter()
            .any(|p| name.starts_with(p))
}

/// Newest distribution first, so that a name shared by several lists takes the
/// version of the release closest to el9.
fn rank(file: &str) -> u8 {
    match file {
        f if f.contains("ubi9") => 0,
        f if f.contains("ubi8") || f.starts_with("modules") => 1,
        f if f.contains("amzn") || f.contains("rpm-4.16") => 2,
        f if f.contains("centos7") || f.contains("ubi7") => 3,
        f if f.contains("fedora") || f.contains("amazon") => 4,
        _ => 5,
    }
}

/// Rewrites the dist tag of a version to el9: `.el7_4` → `.el9_4`, `.amzn2` → `.el9`,
/// `.fc26` → `.el9`, `.module_el8.3.0+…` → `.el9.3.0+…`, `.el7.centos` → `.el9`.
pub fn el9(version: &str) -> String {
    let version = version.replace(".centos", "");
    for tag in [".module_el", ".el", ".fc", ".amzn"] {
        let mut from = 0;
        while let Some(pos) = version[from..].find(tag) {
            let start = from + pos;
            let after = &version[start + tag.len()..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            if digits > 0 {
                return format!("{}.el9{}", &version[..start], &after[digits..]);
            }
            from = start + tag.len();
        }
    }
    version
}

fn read_tsv(text: &str) -> Vec<Listed> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            // `modules.tsv` starts with the module label.
            let f = if f.len() == 4 { &f[1..] } else { &f[..] };
            let (name, version) = (f.first()?.trim(), f.get(1)?.trim());
            (!name.is_empty() && !version.is_empty()).then(|| Listed {
                name: name.to_owned(),
                version: version.to_owned(),
            })
        })
        .collect()
}

fn read_json(text: &str, noarch: &mut HashSet<String>) -> anyhow::Result<Vec<Listed>> {
    let items: Vec<serde_json::Value> = serde_json::from_str(text)?;
    Ok(items
        .iter()
        .filter_map(|p| {
            let name = p.get("name")?.as_str()?;
            let arch = p.get("arch")?.as_str()?;
            let (version, release) = (p.get("version")?.as_str()?, p.get("release")?.as_str()?);
            if arch == "noarch" {
                noarch.insert(name.to_owned());
            }
            let version = match p.get("epoch").and_then(serde_json::Value::as_u64) {
                Some(e) if e > 0 => format!("{e}:{version}-{release}"),
                _ => format!("{version}-{release}"),
            };
            Some(Listed {
                name: name.to_owned(),
                version,
            })
        })
        .collect())
}

/// Reads every list in `dir`.
pub fn read_dir(dir: &Path) -> anyhow::Result<RealLists> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the rpm lists folder {}", dir.display()))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|f| f.ends_with(".tsv") || f.ends_with(".json"))
        .collect();
    files.sort_by(|a, b| (rank(a), a).cmp(&(rank(b), b)));
    let mut noarch = HashSet::new();
    let (mut base, mut common) = (Vec::new(), Vec::new());
    let mut seen = HashSet::new();
    for f in &files {
        let path = dir.join(f);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let listed = if f.ends_with(".json") {
            read_json(&text, &mut noarch).with_context(|| format!("{}", path.display()))?
        } else {
            read_tsv(&text)
        };
        let into = if f.contains("ubi9") {
            &mut base
        } else {
            &mut common
        };
        for l in listed {
            if !foreign(&l.name) && seen.insert(l.name.clone()) {
                into.push(l);
            }
        }
    }
    if base.is_empty() {
        anyhow::bail!(
            "{}: no UBI 9 list (rpm-4.16_ubi9.json) to build AlmaLinux hosts from",
            dir.display()
        );
    }
    Ok(RealLists {
        base,
        common,
        noarch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dist_tags_become_el9() {
        for (from, to) in [
            ("5.9-14.20130511.el7_4", "5.9-14.20130511.el9_4"),
            ("1:2-11.amzn2", "1:2-11.el9"),
            ("2.4.34-7.el7.1", "2.4.34-7.el9.1"),
            ("1.40.12-1.fc26", "1.40.12-1.el9"),
            ("0.16-1.el8", "0.16-1.el9"),
            (
                "5.3.0-1.module_el8.0.0+11+5b8c10bd",
                "5.3.0-1.el9.0.0+11+5b8c10bd",
            ),
            ("3.0.0-1.amzn2022.0.1", "3.0.0-1.el9.0.1"),
            ("1.0-1", "1.0-1"),
            ("0.8.9-0.31.20140113.el7.centos", "0.8.9-0.31.20140113.el9"),
            ("2.0-1.elfoo.el8", "2.0-1.elfoo.el9"),
        ] {
            assert_eq!(el9(from), to, "{from}");
        }
    }

    #[test]
    fn reads_both_layouts() {
        let t =
            read_tsv("bash\t4.2.46-31.el7\t3667773\n(none)\tdnf-data\t4.4.2-11.el8\t38142\nbad\n");
        let got: Vec<(&str, &str)> = t
            .iter()
            .map(|l| (l.name.as_str(), l.version.as_str()))
            .collect();
        assert_eq!(
            got,
            [("bash", "4.2.46-31.el7"), ("dnf-data", "4.4.2-11.el8")]
        );
        let mut noarch = HashSet::new();
        let j = read_json(
            r#"[{"name":"gmp","version":"6.2.0","release":"10.el9","epoch":1,"arch":"aarch64"},
                {"name":"tzdata","version":"2022a","release":"1.el9_0","arch":"noarch"},
                {"name":"gpg-pubkey","version":"fd431d51","release":"4ae0493b"}]"#,
            &mut noarch,
        )
        .unwrap();
        assert_eq!(j.len(), 2);
        assert_eq!(j[0].version, "1:6.2.0-10.el9");
        assert!(noarch.contains("tzdata") && !noarch.contains("gmp"));
        assert!(foreign("centos-release") && foreign("redhat-release") && !foreign("bash"));
    }
}
