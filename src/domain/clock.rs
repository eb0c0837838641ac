//! The server's one clock: every timestamp the mock writes or compares comes from here, so a
//! test that fixes the clock gets byte-identical responses. Also how times are written in
//! fixtures and on the command line (`TimeSpec`, `ClockStart`). It knows nothing about presence.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

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

    /// Microseconds since the epoch.
    pub const fn unix_micros(self) -> i64 {
        self.0
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
    /// The machine's wall clock moved by this many microseconds (negative: in the past).
    Offset(i64),
    /// Stopped at one instant until changed.
    Frozen(Timestamp),
}

/// The server's clock. Cloning is cheap and every clone shows the same time, so a change made
/// through one handle (a test, later the admin API) is seen by every request.
#[derive(Clone, Debug)]
pub struct Clock {
    /// The mode packed into one word (`pack`), so that reading the clock on every request is
    /// one plain load: no lock word bounces between the cores.
    mode: Arc<AtomicI64>,
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
            mode: Arc::new(AtomicI64::new(pack(mode))),
        }
    }

    /// The current instant.
    pub fn now(&self) -> Timestamp {
        match self.mode() {
            ClockMode::System => system_now(),
            ClockMode::Offset(micros) => Timestamp(system_now().0.saturating_add(micros)),
            ClockMode::Frozen(at) => at,
        }
    }

    /// How the clock currently tells the time.
    pub fn mode(&self) -> ClockMode {
        unpack(self.mode.load(Ordering::Acquire))
    }

    /// Switches every clone of this clock to `mode`. Offsets and instants are kept within
    /// `MAX_MICROS` of the epoch (about 73,000 years).
    pub fn set_mode(&self, mode: ClockMode) {
        self.mode.store(pack(mode), Ordering::Release);
    }
}

/// The largest offset or instant (in microseconds from the epoch) a clock mode keeps: two bits
/// of the word name the mode.
const MAX_MICROS: i64 = i64::MAX >> 2;

fn pack(mode: ClockMode) -> i64 {
    let (micros, tag) = match mode {
        ClockMode::System => (0, 0),
        ClockMode::Offset(micros) => (micros, 1),
        ClockMode::Frozen(at) => (at.0, 2),
    };
    (micros.clamp(-MAX_MICROS, MAX_MICROS) << 2) | tag
}

fn unpack(word: i64) -> ClockMode {
    let micros = word >> 2;
    match word & 3 {
        1 => ClockMode::Offset(micros),
        2 => ClockMode::Frozen(Timestamp(micros)),
        _ => ClockMode::System,
    }
}

fn system_now() -> Timestamp {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_unix_micros(i64::try_from(since_epoch.as_micros()).unwrap_or(i64::MAX))
}

/// A time as fixtures and the command line write it: absolute, or relative to the server's
/// clock at the moment it is resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeSpec {
    Absolute(Timestamp),
    /// Seconds from "now" (negative: in the past).
    Relative(i64),
}

impl TimeSpec {
    /// The instant this names when the clock says `now`.
    pub fn at(self, now: Timestamp) -> Timestamp {
        match self {
            Self::Absolute(at) => at,
            Self::Relative(seconds) => now.plus_seconds(seconds),
        }
    }

    /// Parses RFC 3339 (`2026-11-25T12:00:00Z`), `now`, or `[+-]N<unit>` with unit s, m, h, d, w.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text == "now" {
            return Ok(Self::Relative(0));
        }
        if let Ok(seconds) = text.parse::<f64>() {
            if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                return Ok(Self::Absolute(Timestamp::from_unix_micros(
                    (seconds * 1e6).round() as i64,
                )));
            }
        }
        if let Some(relative) = parse_relative(text) {
            return relative.map(Self::Relative);
        }
        let at = OffsetDateTime::parse(text, &Rfc3339).map_err(|err| {
            format!(
                "invalid time {text:?}: expected UNIX seconds, RFC 3339 (2026-11-25T12:00:00Z), \
                 \"now\" or a relative time such as \"-90s\", \"-5m\", \"-3d\" ({err})"
            )
        })?;
        let micros = at.unix_timestamp_nanos() / 1_000;
        Ok(Self::Absolute(Timestamp::from_unix_micros(
            i64::try_from(micros).map_err(|_| format!("time {text:?} is out of range"))?,
        )))
    }
}

/// `Some(result)` when `text` looks like a relative time (a sign first), else `None`.
fn parse_relative(text: &str) -> Option<Result<i64, String>> {
    let sign = match text.as_bytes().first()? {
        b'-' => -1,
        b'+' => 1,
        _ => return None,
    };
    let body = &text[1..];
    let unit_at = body
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(body.len());
    let (digits, unit) = body.split_at(unit_at);
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => {
            return Some(Err(format!(
                "invalid relative time {text:?}: expected a sign, digits and a unit of s, m, h, d or w, such as \"-90s\""
            )))
        }
    };
    let amount = digits
        .parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(scale));
    Some(amount.map(|seconds| sign * seconds).ok_or_else(|| {
        format!("invalid relative time {text:?}: the amount is missing or too large")
    }))
}

/// Written back as fixtures read it: absolute times as UNIX seconds (whole seconds as an
/// integer, else with microseconds), relative ones as `"-90s"`.
impl Serialize for TimeSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            Self::Absolute(at) if at.0 % Timestamp::MICROS_PER_SECOND == 0 => {
                serializer.serialize_i64(at.unix_seconds())
            }
            Self::Absolute(at) => serializer.serialize_f64(at.unix_seconds_f64()),
            Self::Relative(seconds) => serializer.serialize_str(&format!("{seconds:+}s")),
        }
    }
}

impl<'de> Deserialize<'de> for TimeSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TimeVisitor;

        impl Visitor<'_> for TimeVisitor {
            type Value = TimeSpec;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "UNIX seconds, an RFC 3339 string, \"now\" or a relative time such as \"-90s\"",
                )
            }

            fn visit_i64<E: de::Error>(self, seconds: i64) -> Result<TimeSpec, E> {
                let micros = seconds
                    .checked_mul(1_000_000)
                    .ok_or_else(|| E::custom(format!("time {seconds} is out of range")))?;
                Ok(TimeSpec::Absolute(Timestamp::from_unix_micros(micros)))
            }

            fn visit_u64<E: de::Error>(self, seconds: u64) -> Result<TimeSpec, E> {
                let seconds = i64::try_from(seconds)
                    .map_err(|_| E::custom(format!("time {seconds} is out of range")))?;
                self.visit_i64(seconds)
            }

            fn visit_f64<E: de::Error>(self, seconds: f64) -> Result<TimeSpec, E> {
                let micros = (seconds * 1e6).round();
                if !micros.is_finite() || micros.abs() > i64::MAX as f64 / 2.0 {
                    return Err(E::custom(format!("time {seconds} is out of range")));
                }
                Ok(TimeSpec::Absolute(Timestamp::from_unix_micros(
                    micros as i64,
                )))
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<TimeSpec, E> {
                TimeSpec::parse(text).map_err(E::custom)
            }
        }

        deserializer.deserialize_any(TimeVisitor)
    }
}

/// How the clock starts (`--clock`): `system`, `frozen:<time>` (UNIX seconds, RFC 3339, `now`
/// or relative such as `-1d`), or `offset:<relative time>` (real time moved by that much).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockStart {
    System,
    Frozen(TimeSpec),
    Offset(i64),
}

impl std::str::FromStr for ClockStart {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text == "system" {
            return Ok(Self::System);
        }
        if let Some(at) = text.strip_prefix("frozen:") {
            return TimeSpec::parse(at).map(Self::Frozen);
        }
        if let Some(offset) = text.strip_prefix("offset:") {
            return match parse_relative(offset) {
                Some(seconds) => seconds.map(Self::Offset),
                None => Err(format!(
                    "invalid offset {offset:?}: expected a sign, digits and a unit of s, m, h, d or w, such as \"-1h\""
                )),
            };
        }
        Err(format!(
            "invalid clock {text:?}: expected system, frozen:<time> (such as frozen:2026-01-01T00:00:00Z or frozen:1700000000) or offset:<relative time> (such as offset:-1d)"
        ))
    }
}

impl ClockStart {
    /// A clock started this way, now.
    pub fn start(self) -> Clock {
        match self {
            Self::System => Clock::system(),
            Self::Frozen(at) => Clock::frozen(at.at(system_now())),
            Self::Offset(seconds) => {
                Clock::with_mode(ClockMode::Offset(seconds.saturating_mul(1_000_000)))
            }
        }
    }
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
    fn every_mode_reads_back_as_set_within_73000_years_of_the_epoch() {
        let clock = Clock::system();
        for mode in [
            ClockMode::System,
            ClockMode::Offset(-1),
            ClockMode::Offset(MAX_MICROS),
            ClockMode::Offset(-MAX_MICROS),
            ClockMode::Frozen(Timestamp::from_unix_micros(1_700_000_000_123_456)),
            ClockMode::Frozen(Timestamp::from_unix_micros(-5)),
        ] {
            clock.set_mode(mode);
            assert_eq!(clock.mode(), mode);
        }
        clock.set_mode(ClockMode::Offset(i64::MAX));
        assert_eq!(clock.mode(), ClockMode::Offset(MAX_MICROS));
        clock.set_mode(ClockMode::Frozen(Timestamp::from_unix_micros(i64::MIN)));
        assert_eq!(
            clock.mode(),
            ClockMode::Frozen(Timestamp::from_unix_micros(-MAX_MICROS))
        );
    }

    #[test]
    fn the_system_clock_moves_forward() {
        let clock = Clock::system();
        let first = clock.now();
        assert!(first > Timestamp::from_unix_seconds(1_700_000_000));
        assert!(clock.now() >= first);
    }

    #[test]
    fn clock_starts_parse_from_the_command_line() {
        assert_eq!("system".parse(), Ok(ClockStart::System));
        assert_eq!(
            "frozen:1700000000".parse(),
            Ok(ClockStart::Frozen(TimeSpec::Absolute(
                Timestamp::from_unix_seconds(1_700_000_000)
            )))
        );
        assert_eq!(
            "frozen:2023-11-14T22:13:20Z".parse(),
            Ok(ClockStart::Frozen(TimeSpec::Absolute(
                Timestamp::from_unix_seconds(1_700_000_000)
            )))
        );
        assert_eq!(
            "frozen:-1d".parse(),
            Ok(ClockStart::Frozen(TimeSpec::Relative(-86_400)))
        );
        assert_eq!("offset:+2h".parse(), Ok(ClockStart::Offset(7_200)));
        assert!("offset:2h".parse::<ClockStart>().is_err());
        assert!("frozen:soon".parse::<ClockStart>().is_err());
        assert!("later".parse::<ClockStart>().is_err());
    }

    #[test]
    fn a_started_clock_follows_its_start() {
        let frozen = "frozen:1700000000.25"
            .parse::<ClockStart>()
            .unwrap()
            .start();
        assert_eq!(
            frozen.now(),
            Timestamp::from_unix_micros(1_700_000_000_250_000)
        );
        let behind = "offset:-1d".parse::<ClockStart>().unwrap().start();
        // Read the moved clock first: the real one, read after, can only be further on.
        let moved = behind.now();
        let lag = system_now().0 - moved.0;
        assert!((86_400_000_000..86_410_000_000).contains(&lag), "{lag}");
    }

    #[test]
    fn relative_times_resolve_against_now() {
        let now = Timestamp::from_unix_seconds(1_000_000);
        for (text, seconds) in [
            ("-90s", -90),
            ("-5m", -300),
            ("+2h", 7_200),
            ("-3d", -259_200),
            ("-1w", -604_800),
            ("now", 0),
        ] {
            assert_eq!(
                TimeSpec::parse(text).unwrap().at(now),
                now.plus_seconds(seconds),
                "{text}"
            );
        }
    }

    #[test]
    fn rfc3339_times_keep_their_offset_and_fraction() {
        assert_eq!(
            TimeSpec::parse("2023-11-14T23:13:20.5+01:00").unwrap(),
            TimeSpec::Absolute(Timestamp::from_unix_micros(1_700_000_000_500_000))
        );
    }

    #[test]
    fn malformed_times_are_refused_with_a_reason() {
        for text in ["-90", "-5y", "yesterday", "-s", "2023-13-01T00:00:00Z"] {
            assert!(TimeSpec::parse(text).is_err(), "{text}");
        }
    }
}
