//! The only reader of wall time. Everything else receives `now` as an argument, so tests and
//! `arshjul simulate` can drive time.
//!
//! The binary's clock can be started at a fixed instant for tests and demonstrations: with
//! `ARSHJUL_NOW=2027-07-15T08:00:00Z` (RFC 3339) every command starts at that instant and runs
//! on from there at the normal pace, so leases, retries and sessions behave as they would.

use jiff::{SignedDuration, Timestamp};

/// The environment variable that starts the binary's clock at an instant (RFC 3339).
pub const START_VARIABLE: &str = "ARSHJUL_NOW";

/// A source of the current instant.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock, shifted when it was started at another instant.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock {
    /// How far this clock is ahead of the system's (zero unless started elsewhere).
    offset: SignedDuration,
}

impl SystemClock {
    /// A clock that shows `start` now and runs on from there.
    pub fn starting_at(start: Timestamp) -> Self {
        Self {
            offset: start.duration_since(Timestamp::now()),
        }
    }

    /// The system's clock, or one started at `ARSHJUL_NOW` when that is set; an error names the
    /// variable and what is wrong with its value.
    pub fn from_env() -> Result<Self, String> {
        match std::env::var(START_VARIABLE) {
            Err(std::env::VarError::NotPresent) => Ok(Self::default()),
            Err(std::env::VarError::NotUnicode(_)) => Err(format!("{START_VARIABLE}: not UTF-8")),
            Ok(value) if value.trim().is_empty() => Ok(Self::default()),
            Ok(value) => value
                .trim()
                .parse::<Timestamp>()
                .map(Self::starting_at)
                .map_err(|error| {
                    format!("{START_VARIABLE}: \"{value}\" is not an RFC 3339 instant such as 2027-07-15T08:00:00Z ({error})")
                }),
        }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let now = Timestamp::now();
        now.checked_add(self.offset).unwrap_or(now)
    }
}

/// A clock that always says the same instant; for tests and simulations.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// A clock that tests and simulations set and move by hand.
#[derive(Debug)]
pub struct ManualClock(std::sync::Mutex<Timestamp>);

impl ManualClock {
    /// A clock showing `now`.
    pub fn new(now: Timestamp) -> Self {
        Self(std::sync::Mutex::new(now))
    }

    /// Moves the clock to `now`.
    pub fn set(&self, now: Timestamp) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = now;
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: jiff::SignedDuration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now = now.checked_add(by).unwrap_or(*now);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_started_elsewhere_shows_that_instant_and_runs_on() {
        let start: Timestamp = "2031-12-30T08:00:00Z".parse().unwrap();
        let clock = SystemClock::starting_at(start);
        let shown = clock.now();
        assert!(shown >= start, "{shown}");
        assert!(shown.duration_since(start) < SignedDuration::from_secs(5), "{shown}");
    }

    #[test]
    fn the_system_clock_shows_the_system_time() {
        let shown = SystemClock::default().now();
        assert!(shown.duration_since(Timestamp::now()).abs() < SignedDuration::from_secs(5));
    }
}
