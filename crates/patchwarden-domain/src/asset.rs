//! Assets: everything that runs software that may need a security patch.

use crate::ValidationError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Generates a closed, snake_case string enum with `as_str`, `FromStr` and `ALL`.
macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident, $field:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "&'static str")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }

        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(ValidationError::new($field, format!(
                        "unknown value {other:?}; expected one of: {}",
                        [$($text),+].join(", ")
                    ))),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;
            fn try_from(s: String) -> Result<Self, Self::Error> { s.parse() }
        }

        impl From<$name> for &'static str {
            fn from(v: $name) -> &'static str { v.as_str() }
        }
    };
}
pub(crate) use string_enum;

string_enum!(
    /// What kind of thing the asset is (PROCESS.md section 1.1).
    AssetKind, "kind" {
        Server => "server",
        VirtualMachine => "virtual_machine",
        DatabaseServer => "database_server",
        NetworkDevice => "network_device",
        SecurityDevice => "security_device",
        ManagementTerminal => "management_terminal",
        GoldenImage => "golden_image",
        Workstation => "workstation",
        Container => "container",
    }
);

string_enum!(
    /// Broad operating-system family; the distribution says which one exactly.
    OsFamily, "os_family" {
        Linux => "linux",
        Windows => "windows",
        MacOs => "macos",
        Bsd => "bsd",
        NetworkOs => "network_os",
        Other => "other",
    }
);

string_enum!(
    /// Deployment environment. Environments are grouped into rollout rings
    /// (PROCESS.md section 3): see [`Environment::ring`].
    Environment, "environment" {
        Development => "development",
        Qa => "qa",
        Integration => "integration",
        Test => "test",
        PreProduction => "pre_production",
        Demo => "demo",
        Staging => "staging",
        Production => "production",
    }
);

impl Environment {
    /// Rollout ring: 0 = dev/QA/integration/test, 1 = pre-production/demo/staging,
    /// 2 = production. A patch reaches ring N only after it succeeded in ring N-1.
    pub const fn ring(self) -> u8 {
        match self {
            Environment::Development
            | Environment::Qa
            | Environment::Integration
            | Environment::Test => 0,
            Environment::PreProduction | Environment::Demo | Environment::Staging => 1,
            Environment::Production => 2,
        }
    }
}

string_enum!(
    /// Business criticality; tightens deadlines and adds approvers.
    Criticality, "criticality" {
        MissionCritical => "mission_critical",
        BusinessCritical => "business_critical",
        Standard => "standard",
    }
);

/// A DNS host name (RFC 1123 labels), stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Hostname(String);

impl Hostname {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim().trim_end_matches('.').to_ascii_lowercase();
        let err = |why: &str| ValidationError::new("hostname", format!("{raw:?} {why}"));
        if s.is_empty() {
            return Err(err("is empty"));
        }
        if s.len() > 253 {
            return Err(err("is longer than 253 characters"));
        }
        for label in s.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(err("has an empty label or one longer than 63 characters"));
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(err("may contain only letters, digits, '-', '_' and '.'"));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(err("has a label that starts or ends with '-'"));
            }
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Hostname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Hostname {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Hostname> for String {
    fn from(h: Hostname) -> String {
        h.0
    }
}

/// A group or tag name: 1-64 characters of `[a-z0-9._:-]`, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Label(String);

impl Label {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim().to_ascii_lowercase();
        if s.is_empty() || s.len() > 64 {
            return Err(ValidationError::new(
                "groups",
                format!("{raw:?} must be 1 to 64 characters"),
            ));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
        {
            return Err(ValidationError::new(
                "groups",
                format!("{raw:?} may contain only letters, digits and . _ : -"),
            ));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Label {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Label> for String {
    fn from(l: Label) -> String {
        l.0
    }
}

/// Free text from outside (owner, distribution ...): trimmed, bounded, no control
/// characters.
pub fn clean_text(
    field: &'static str,
    raw: &str,
    max_len: usize,
) -> Result<String, ValidationError> {
    let s = raw.trim();
    if s.chars().count() > max_len {
        return Err(ValidationError::new(
            field,
            format!("is longer than {max_len} characters"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(s.to_owned())
}

/// Operating system of an asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsInfo {
    pub family: OsFamily,
    /// os-release `ID`, e.g. `debian`, `ubuntu`, `almalinux`, `alpine`.
    pub distribution: String,
    /// os-release `VERSION_ID`, e.g. `12`, `9.4`, `3.20.1`.
    pub release: String,
    /// Machine architecture as the package manager names it (`amd64`, `x86_64` ...).
    pub arch: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames() {
        assert_eq!(
            Hostname::parse("Web-01.Example.org.").unwrap().as_str(),
            "web-01.example.org"
        );
        assert!(Hostname::parse("").is_err());
        assert!(Hostname::parse("-bad").is_err());
        assert!(Hostname::parse("a..b").is_err());
        assert!(Hostname::parse("a b").is_err());
        assert!(Hostname::parse(&"a".repeat(64)).is_err());
    }

    #[test]
    fn enums_round_trip_and_name_choices() {
        for c in Criticality::ALL {
            assert_eq!(c.as_str().parse::<Criticality>().unwrap(), *c);
        }
        let err = "vital".parse::<Criticality>().unwrap_err();
        assert!(err.to_string().contains("mission_critical"), "{err}");
        assert_eq!(Environment::Production.ring(), 2);
        assert_eq!(Environment::Staging.ring(), 1);
        assert_eq!(Environment::Qa.ring(), 0);
        let j = serde_json::to_string(&AssetKind::GoldenImage).unwrap();
        assert_eq!(j, "\"golden_image\"");
        assert!(serde_json::from_str::<AssetKind>("\"toaster\"").is_err());
    }

    #[test]
    fn text_is_bounded() {
        assert!(clean_text("owner", "alice", 10).is_ok());
        assert!(clean_text("owner", "a\u{7}b", 10).is_err());
        assert!(clean_text("owner", &"x".repeat(11), 10).is_err());
    }
}
