//! Zulip API feature levels: the one place that names the levels at which the presence API
//! changed. Code branches on these names, never on bare numbers.
//! The changelog is https://zulip.com/api/changelog.

use std::fmt;
use std::str::FromStr;

/// A Zulip API feature level (`zulip_feature_level` in `/server_settings`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeatureLevel(pub u32);

/// The level of Zulip's main branch that this mock follows (version.py `API_FEATURE_LEVEL`).
pub const LATEST: FeatureLevel = FeatureLevel(509);

/// Zulip 7.0: successful responses list unsupported parameters in
/// `ignored_parameters_unsupported`.
pub const IGNORED_PARAMETERS_UNSUPPORTED: FeatureLevel = FeatureLevel(167);

/// Zulip 8.0: `CAN_ACCESS_ALL_USERS_GROUP_LIMITS_PRESENCE` limits what a guest sees.
pub const PRESENCE_ACCESS_LIMIT: FeatureLevel = FeatureLevel(228);

impl FeatureLevel {
    /// Whether a server at this level has the behaviour introduced at `threshold`.
    pub fn has(self, threshold: FeatureLevel) -> bool {
        self >= threshold
    }
}

impl fmt::Display for FeatureLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for FeatureLevel {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim().parse().map(FeatureLevel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_level_has_a_threshold_from_that_level_on() {
        assert!(!FeatureLevel(166).has(IGNORED_PARAMETERS_UNSUPPORTED));
        assert!(FeatureLevel(167).has(IGNORED_PARAMETERS_UNSUPPORTED));
        assert!(LATEST.has(PRESENCE_ACCESS_LIMIT));
    }

    #[test]
    fn levels_parse_from_text() {
        assert_eq!("228".parse::<FeatureLevel>(), Ok(FeatureLevel(228)));
        assert!("x".parse::<FeatureLevel>().is_err());
    }
}
