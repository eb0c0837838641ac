//! The server's one clock: every timestamp the mock writes or compares comes from here, so a
//! test that fixes the clock gets byte-identical responses. It knows nothing about presence.

use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// An instant as microseconds since the UNIX epoch (Zulip stores datetimes with microseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    const MICROS_PER_SECOND: i64 = 1_000_000;

    /// The instant `seconds` whole seconds after the epoch.
    pub const fn from_unix_seconds(seconds: i64) -> Self {
        Self(seconds * Self::MICROS_PER_SECOND)
    }

    /// The instant `micros` microseconds after the epoch.
    pub const fn from_unix_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// Whole seconds, truncated like Zulip's `datetime_to_timestamp` (`int(dt.timestamp())`).
    pub const fn unix_seconds(self) -> i64 {
        self.0.div_euclid(Self::MICROS_PER_SECOND)
    }

    /// Seconds with a fractional part, as Zulip's `server_timestamp` (`time.time()`).
    pub fn unix_seconds_f64(self) -> f64 {
        self.0 as f64 / Self::MICROS_PER_SECOND as f64
    }

    /// This instant moved by `seconds` (negative: into the past), saturating at the ends.
    pub const fn plus_seconds(self, seconds: i64) -> Self {
        Self(
            self.0
                .saturating_add(seconds.saturating_mul(Self::MICROS_PER_SECOND)),
        )
    }
}

/// How the clock tells the time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockMode {
    /// The machine's wall clock.
    System,
    /// Stopped at one instant until changed.
    Frozen(Timestamp),
}

/// The server's clock. Cloning is cheap and every clone shows the same time, so a change made
/// through one handle (a test, later the admin API) is seen by every request.
#[derive(Clone, Debug)]
pub struct Clock {
    mode: Arc<RwLock<ClockMode>>,
}

impl Clock {
    /// A clock that follows the machine's wall clock.
    pub fn system() -> Self {
        Self::with_mode(ClockMode::System)
    }

    /// A clock stopped at `at`.
    pub fn frozen(at: Timestamp) -> Self {
        Self::with_mode(ClockMode::Frozen(at))
    }

    fn with_mode(mode: ClockMode) -> Self {
        Self {
            mode: Arc::new(RwLock::new(mode)),
        }
    }

    /// The current instant.
    pub fn now(&self) -> Timestamp {
        match self.mode() {
            ClockMode::System => system_now(),
            ClockMode::Frozen(at) => at,
        }
    }

    /// How the clock currently tells the time.
    pub fn mode(&self) -> ClockMode {
        // The lock guards a Copy value and is never held across an await or a panic point.
        *self
            .mode
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Switches every clone of this clock to `mode`.
    pub fn set_mode(&self, mode: ClockMode) {
        *self
            .mode
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = mode;
    }
}

fn system_now() -> Timestamp {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_unix_micros(i64::try_from(since_epoch.as_micros()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_seconds_truncate_like_zulip() {
        let t = Timestamp::from_unix_micros(1_700_000_000_999_999);
        assert_eq!(t.unix_seconds(), 1_700_000_000);
        assert_eq!(t.unix_seconds_f64(), 1_700_000_000.999_999);
    }

    #[test]
    fn a_frozen_clock_stays_put_and_every_clone_sees_a_change() {
        let clock = Clock::frozen(Timestamp::from_unix_seconds(100));
        let other = clock.clone();
        assert_eq!(other.now(), Timestamp::from_unix_seconds(100));
        clock.set_mode(ClockMode::Frozen(Timestamp::from_unix_seconds(200)));
        assert_eq!(other.now(), Timestamp::from_unix_seconds(200));
    }

    #[test]
    fn the_system_clock_moves_forward() {
        let clock = Clock::system();
        let first = clock.now();
        assert!(first > Timestamp::from_unix_seconds(1_700_000_000));
        assert!(clock.now() >= first);
    }
}
