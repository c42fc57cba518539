//! Levels and remediation deadlines (PROCESS.md section 2).

use crate::asset::string_enum;
use crate::ValidationError;
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

string_enum!(
    /// How urgently a patch must be deployed. Ordered from most to least urgent in
    /// [`Level::ALL`]; `Ord` follows urgency (`Critical` is the greatest).
    Level, "level" {
        Normal => "normal",
        Low => "low",
        Medium => "medium",
        High => "high",
        Critical => "critical",
    }
);

impl Level {
    /// Default time from registration to deployment.
    pub fn default_deadline(self) -> SignedDuration {
        match self {
            Level::Critical => SignedDuration::from_hours(12),
            Level::High => SignedDuration::from_hours(48),
            Level::Medium => SignedDuration::from_hours(7 * 24),
            Level::Low => SignedDuration::from_hours(15 * 24),
            Level::Normal => SignedDuration::from_hours(30 * 24),
        }
    }

    /// Default notice to stakeholders before a production deployment.
    pub fn default_notice(self) -> SignedDuration {
        match self {
            Level::Critical => SignedDuration::from_hours(1),
            _ => SignedDuration::from_hours(24),
        }
    }

    /// One step more urgent (critical stays critical).
    pub fn raised(self) -> Level {
        match self {
            Level::Normal => Level::Low,
            Level::Low => Level::Medium,
            Level::Medium => Level::High,
            Level::High | Level::Critical => Level::Critical,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_deadlines() {
        assert!(Level::Critical > Level::High && Level::Low > Level::Normal);
        assert_eq!(Level::Critical.default_deadline().as_hours(), 12);
        assert_eq!(Level::Medium.default_deadline().as_hours(), 168);
        assert_eq!(Level::Normal.raised(), Level::Low);
        assert_eq!("high".parse::<Level>().unwrap(), Level::High);
    }
}
