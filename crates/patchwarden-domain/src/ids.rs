//! Newtype identifiers, so that an asset id can never be passed where a user id is meant.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            pub const fn new(raw: i64) -> Self {
                Self(raw)
            }
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = crate::ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.parse::<i64>() {
                    Ok(v) if v > 0 => Ok(Self(v)),
                    _ => Err(crate::ValidationError::new("id", format!("{s:?} is not a valid id (a positive integer)"))),
                }
            }
        }
    };
}

id_type!(
    /// An asset (server, VM, device, golden image ...).
    AssetId
);
id_type!(
    /// A local user account.
    UserId
);
id_type!(
    /// An API token.
    TokenId
);
id_type!(
    /// Position of an event in the audit chain (1-based, gap-free).
    AuditSeq
);
