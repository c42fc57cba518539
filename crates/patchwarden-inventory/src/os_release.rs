//! `/etc/os-release` (and the older `/etc/redhat-release`), read into
//! [`OsInfo`](patchwarden_domain::asset::OsInfo).

use patchwarden_domain::asset::{OsFamily, OsInfo};

/// The os-release fields Patchwarden uses. Values are unquoted and unescaped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsRelease {
    /// `ID`; os-release(5) says it defaults to `linux`.
    pub id: String,
    /// `ID_LIKE`, split on whitespace.
    pub id_like: Vec<String>,
    /// `VERSION_ID`, if set (rolling releases have none).
    pub version_id: Option<String>,
    /// `PRETTY_NAME`, if set.
    pub pretty_name: Option<String>,
}

impl OsRelease {
    /// The domain's view: family Linux, distribution `ID`, release `VERSION_ID` (empty
    /// when there is none), and the given package architecture.
    pub fn to_os_info(&self, arch: &str) -> OsInfo {
        OsInfo {
            family: OsFamily::Linux,
            distribution: self.id.clone(),
            release: self.version_id.clone().unwrap_or_default(),
            arch: arch.to_owned(),
        }
    }
}

/// Unquotes one shell-style value: `'single'` is literal; in `"double"` quotes and bare
/// words a backslash escapes the next character. `None` for an unterminated quote.
pub fn unquote(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => loop {
                match chars.next()? {
                    '\'' => break,
                    c => out.push(c),
                }
            },
            '"' => loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => match chars.next()? {
                        c @ ('"' | '\\' | '$' | '`') => out.push(c),
                        c => {
                            out.push('\\');
                            out.push(c);
                        }
                    },
                    c => out.push(c),
                }
            },
            '\\' => out.push(chars.next()?),
            c => out.push(c),
        }
    }
    Some(out)
}

/// Parses os-release text: `KEY=value` lines, `#` comments, blank lines. Lines that are
/// not assignments, or have bad quoting, are ignored (the fields are informational).
/// Values are capped at 256 characters and stripped of control characters.
pub fn parse_os_release(text: &str) -> OsRelease {
    let mut rel = OsRelease {
        id: "linux".to_owned(),
        ..OsRelease::default()
    };
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let Some(value) = unquote(value.trim()) else {
            continue;
        };
        let value: String = value
            .chars()
            .filter(|c| !c.is_control())
            .take(256)
            .collect();
        let value = value.trim().to_owned();
        match key.trim() {
            "ID" if !value.is_empty() => rel.id = value.to_ascii_lowercase(),
            "ID_LIKE" => rel.id_like = value.split_whitespace().map(str::to_owned).collect(),
            "VERSION_ID" if !value.is_empty() => rel.version_id = Some(value),
            "PRETTY_NAME" if !value.is_empty() => rel.pretty_name = Some(value),
            _ => {}
        }
    }
    rel
}

/// Reads `/etc/redhat-release` style text (`CentOS release 6.3 (Final)`,
/// `Red Hat Enterprise Linux Server release 6.10 (Santiago)`) for hosts that predate
/// os-release. `None` when there is no `release N` part.
pub fn parse_redhat_release(text: &str) -> Option<OsRelease> {
    let line = text.lines().next()?.trim();
    let (product, rest) = line.split_once(" release ")?;
    let version = rest.split_whitespace().next()?;
    let product_lc = product.to_ascii_lowercase();
    let id = if product_lc.starts_with("centos") {
        "centos"
    } else if product_lc.starts_with("red hat") {
        "rhel"
    } else if product_lc.starts_with("fedora") {
        "fedora"
    } else if product_lc.starts_with("scientific") {
        "scientific"
    } else if product_lc.starts_with("oracle") {
        "ol"
    } else {
        return None;
    };
    Some(OsRelease {
        id: id.to_owned(),
        id_like: Vec::new(),
        version_id: Some(version.chars().take(64).collect()),
        pretty_name: Some(line.chars().filter(|c| !c.is_control()).take(256).collect()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(unquote("debian").as_deref(), Some("debian"));
        assert_eq!(
            unquote("\"12 (bookworm)\"").as_deref(),
            Some("12 (bookworm)")
        );
        assert_eq!(
            unquote(r#""a \"b\" \$c \n""#).as_deref(),
            Some(r#"a "b" $c \n"#)
        );
        assert_eq!(unquote(r"'it\s'").as_deref(), Some(r"it\s"));
        assert_eq!(unquote("\"open"), None);
    }

    #[test]
    fn debian_and_alpine() {
        let deb = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
                   VERSION_ID=\"12\"\nID=debian\n# comment\nnonsense\n";
        let r = parse_os_release(deb);
        assert_eq!(r.id, "debian");
        assert_eq!(r.version_id.as_deref(), Some("12"));
        let info = r.to_os_info("amd64");
        assert_eq!(
            (info.distribution.as_str(), info.release.as_str()),
            ("debian", "12")
        );
        let alma = "ID=\"almalinux\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID='9.4'\n";
        let r = parse_os_release(alma);
        assert_eq!(r.id_like, ["rhel", "centos", "fedora"]);
        assert_eq!(r.version_id.as_deref(), Some("9.4"));
        assert_eq!(parse_os_release("").id, "linux");
    }

    #[test]
    fn redhat_release() {
        let r = parse_redhat_release("CentOS release 6.3 (Final)\n");
        assert_eq!(
            r.map(|r| (r.id, r.version_id)),
            Some(("centos".into(), Some("6.3".into())))
        );
        assert_eq!(parse_redhat_release("Debian"), None);
    }
}
