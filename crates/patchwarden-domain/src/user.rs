//! Local user accounts.

use crate::ValidationError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A login name: 1-64 characters of `[a-z0-9._@-]`, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim().to_ascii_lowercase();
        if s.is_empty() || s.len() > 64 {
            return Err(ValidationError::new(
                "username",
                "must be 1 to 64 characters",
            ));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'))
        {
            return Err(ValidationError::new(
                "username",
                "may contain only letters, digits and . _ @ -",
            ));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Username {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Username> for String {
    fn from(u: Username) -> String {
        u.0
    }
}

/// Minimum and maximum password length. Long passphrases are encouraged; the upper
/// bound only stops a hashing denial of service.
pub const PASSWORD_MIN_CHARS: usize = 12;
pub const PASSWORD_MAX_BYTES: usize = 1024;

/// Checks a new password against the policy.
pub fn check_new_password(pw: &str) -> Result<(), ValidationError> {
    if pw.chars().count() < PASSWORD_MIN_CHARS {
        return Err(ValidationError::new(
            "password",
            format!("must be at least {PASSWORD_MIN_CHARS} characters"),
        ));
    }
    if pw.len() > PASSWORD_MAX_BYTES {
        return Err(ValidationError::new(
            "password",
            format!("must be at most {PASSWORD_MAX_BYTES} bytes"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_and_passwords() {
        assert_eq!(Username::parse(" Alice ").unwrap().as_str(), "alice");
        assert!(Username::parse("al ice").is_err());
        assert!(Username::parse("").is_err());
        assert!(check_new_password("short").is_err());
        assert!(check_new_password("correct horse battery").is_ok());
        assert!(check_new_password(&"x".repeat(2000)).is_err());
    }
}
