//! Time comes from an injected clock, so deadlines and expiries are testable at fixed
//! instants.

use jiff::Timestamp;
use std::sync::{Arc, Mutex};

/// Source of the current instant.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Timestamp;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<Timestamp>>);

impl ManualClock {
    pub fn new(at: Timestamp) -> Self {
        Self(Arc::new(Mutex::new(at)))
    }

    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }

    pub fn advance(&self, by: jiff::SignedDuration) {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *guard = guard.saturating_add(by).unwrap_or(*guard);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Timestamps are stored as whole microseconds since the Unix epoch in both storage
/// backends; this is the one conversion, so a value survives a round trip exactly (the
/// audit hash chain depends on that).
pub fn to_micros(t: Timestamp) -> i64 {
    // i64 microseconds cover ±292,000 years; jiff's range is smaller, so this cannot
    // overflow.
    t.as_microsecond()
}

/// Inverse of [`to_micros`]; out-of-range values clamp to jiff's limits.
pub fn from_micros(us: i64) -> Timestamp {
    Timestamp::from_microsecond(us).unwrap_or(if us < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// Truncates to microsecond precision, the precision storage keeps.
pub fn truncate_micros(t: Timestamp) -> Timestamp {
    from_micros(to_micros(t))
}
