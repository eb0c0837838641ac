//! Zulip's presence rules (zerver/lib/presence.py), as pure functions of the realm state and the
//! clock: who is listed, and each user's legacy status. No HTTP here.

use std::collections::BTreeMap;

use crate::clock::Timestamp;
use crate::feature_level::{FeatureLevel, PRESENCE_ACCESS_LIMIT};
use crate::store::{PresenceRow, RealmState, User};

/// `PRESENCE_LEGACY_EVENT_OFFSET_FOR_ACTIVITY_SECONDS`: a user active this close to their last
/// connection is "active", else "idle".
pub const ACTIVITY_OFFSET_SECONDS: i64 = 70;

/// Rows whose last connection is older than this are not listed (zerver/lib/presence.py
/// `get_presence_dict_by_realm`: 14 days).
pub const PRESENCE_WINDOW_SECONDS: i64 = 14 * 86_400;

/// A legacy presence status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Active,
    Idle,
}

impl Status {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Idle => "idle",
        }
    }
}

/// A user's presence in Zulip's legacy form: one status and its time in whole seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LegacyPresence {
    pub status: Status,
    pub timestamp: i64,
}

impl LegacyPresence {
    /// Zulip's `format_legacy_presence_dict`: a missing time counts as the user's `date_joined`.
    pub fn of(row: &PresenceRow, date_joined: Timestamp) -> Self {
        let connected = row.last_connected_time.unwrap_or(date_joined);
        let active = row.last_active_time.unwrap_or(date_joined);
        if active.plus_seconds(ACTIVITY_OFFSET_SECONDS) >= connected {
            Self {
                status: Status::Active,
                timestamp: active.unix_seconds(),
            }
        } else {
            Self {
                status: Status::Idle,
                timestamp: connected.unix_seconds(),
            }
        }
    }
}

/// What the server-wide settings say about presence access.
#[derive(Clone, Copy, Debug)]
pub struct AccessPolicy {
    /// `CAN_ACCESS_ALL_USERS_GROUP_LIMITS_PRESENCE`.
    pub limits_presence: bool,
    pub feature_level: FeatureLevel,
}

impl AccessPolicy {
    fn applies(self) -> bool {
        self.limits_presence && self.feature_level.has(PRESENCE_ACCESS_LIMIT)
    }
}

/// The realm's presence as `viewer` sees it at `now`, keyed by API email (Zulip's
/// `get_presence_dict_by_realm` plus the access filter of `get_presences_for_realm`).
pub fn realm_presence(
    state: &RealmState,
    viewer: &User,
    policy: AccessPolicy,
    now: Timestamp,
) -> BTreeMap<String, LegacyPresence> {
    let settings = state.settings();
    if settings.presence_disabled {
        return BTreeMap::new();
    }
    let since = now.plus_seconds(-PRESENCE_WINDOW_SECONDS);
    let accessible = if policy.applies() {
        state.accessible_users(viewer, settings.can_access_all_users_group)
    } else {
        None
    };
    state
        .presence_rows()
        .filter(|(user, _)| user.is_active && !user.is_bot)
        .filter(|(_, row)| row.last_connected_time.is_some_and(|t| t >= since))
        .filter(|(user, _)| {
            accessible
                .as_ref()
                .is_none_or(|ids| ids.contains(&user.user_id))
        })
        .map(|(user, row)| {
            (
                user.email.clone(),
                LegacyPresence::of(row, user.date_joined),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOINED: Timestamp = Timestamp::from_unix_seconds(1_000);

    fn row(connected: Option<i64>, active: Option<i64>) -> PresenceRow {
        PresenceRow {
            last_connected_time: connected.map(Timestamp::from_unix_seconds),
            last_active_time: active.map(Timestamp::from_unix_seconds),
            last_update_id: 1,
        }
    }

    fn status(connected: Option<i64>, active: Option<i64>) -> (Status, i64) {
        let p = LegacyPresence::of(&row(connected, active), JOINED);
        (p.status, p.timestamp)
    }

    #[test]
    fn the_70_second_rule_decides_active_or_idle() {
        assert_eq!(status(Some(10_000), Some(10_000)), (Status::Active, 10_000));
        assert_eq!(status(Some(10_000), Some(9_950)), (Status::Active, 9_950));
        assert_eq!(status(Some(10_000), Some(9_930)), (Status::Active, 9_930));
        assert_eq!(status(Some(10_000), Some(9_929)), (Status::Idle, 10_000));
        assert_eq!(status(Some(10_000), Some(9_820)), (Status::Idle, 10_000));
    }

    #[test]
    fn missing_times_fall_back_to_date_joined() {
        assert_eq!(status(Some(10_000), None), (Status::Idle, 10_000));
        assert_eq!(status(Some(1_050), None), (Status::Active, 1_000));
        assert_eq!(status(None, Some(5_000)), (Status::Active, 5_000));
    }
}
