//! Zulip API feature levels: the one place that names the levels at which the presence API
//! changed. Code branches on these names, never on bare numbers.
//! The changelog is https://zulip.com/api/changelog.

use std::fmt;
use std::str::FromStr;

/// A Zulip API feature level (`zulip_feature_level` in `/server_settings`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeatureLevel(pub u32);

/// The level of Zulip's main branch that this mock follows (version.py `API_FEATURE_LEVEL`).
pub(crate) const LATEST: FeatureLevel = FeatureLevel(509);

/// Zulip 3.0: user objects carry `avatar_version`.
pub(crate) const AVATAR_VERSION: FeatureLevel = FeatureLevel(6);

/// Zulip 3.0: user objects carry `is_owner`.
pub(crate) const OWNER_FLAG: FeatureLevel = FeatureLevel(8);

/// Zulip 4.0: `GET /users/{email}` exists.
pub(crate) const USER_BY_EMAIL: FeatureLevel = FeatureLevel(39);

/// Zulip 4.0: user objects carry `role`.
pub(crate) const ROLE_FIELD: FeatureLevel = FeatureLevel(59);

/// Zulip 5.0: user objects carry `is_billing_admin` (removed at `BILLING_ADMIN_REMOVED`).
pub(crate) const BILLING_ADMIN: FeatureLevel = FeatureLevel(73);

/// Zulip 5.0: `client_gravatar` defaults to true on `GET /users` and `GET /users/{id}`.
pub(crate) const CLIENT_GRAVATAR_BY_DEFAULT: FeatureLevel = FeatureLevel(92);

/// Zulip 7.0: user objects always carry `delivery_email` (`null` when the viewer may not see it).
pub(crate) const DELIVERY_EMAIL_ALWAYS: FeatureLevel = FeatureLevel(163);

/// Zulip 9.0: `GET /users/{email}` looks users up by the real (delivery) email the requester
/// may see, or by a dummy address (by the API email before).
pub(crate) const USER_BY_DELIVERY_EMAIL: FeatureLevel = FeatureLevel(302);

/// Zulip 10.0: user objects no longer carry `is_billing_admin`.
pub(crate) const BILLING_ADMIN_REMOVED: FeatureLevel = FeatureLevel(363);

/// Zulip 10.0: `/register`'s `is_moderator` is true for administrators and owners too (for
/// moderators only before).
pub(crate) const MODERATOR_INCLUDES_ADMINS: FeatureLevel = FeatureLevel(380);

/// Zulip 10.0: `GET /users` takes `user_ids`.
pub(crate) const USERS_BY_ID_LIST: FeatureLevel = FeatureLevel(384);

/// Zulip 11.0: user objects carry `is_imported_stub`.
pub(crate) const IMPORTED_STUB: FeatureLevel = FeatureLevel(433);

/// Zulip 11.0: `GET /users` leaves out the users a limited guest cannot access ("Unknown user"
/// placeholders before).
pub(crate) const INACCESSIBLE_USERS_OMITTED: FeatureLevel = FeatureLevel(437);

/// Zulip 4.0: 429 bodies carry `code: RATE_LIMIT_HIT` (none before).
pub(crate) const RATE_LIMIT_CODE: FeatureLevel = FeatureLevel(36);

/// Zulip 4.0: `GET /users/{user_id_or_email}/presence` accepts a user id (an email only before).
pub(crate) const USER_PRESENCE_BY_ID: FeatureLevel = FeatureLevel(43);

/// Zulip 5.0: a deactivated user or realm gets 401 (403 before).
pub(crate) const DEACTIVATED_IS_UNAUTHORIZED: FeatureLevel = FeatureLevel(76);

/// Zulip 5.0: `/server_settings` has `zulip_merge_base`.
pub(crate) const ZULIP_MERGE_BASE: FeatureLevel = FeatureLevel(88);

/// Zulip 5.0: `/server_settings` has `realm_web_public_access_enabled`.
pub(crate) const REALM_WEB_PUBLIC_ACCESS: FeatureLevel = FeatureLevel(116);

/// Zulip 7.0: the server publishes its presence parameters, and its offline threshold drops
/// from 300 s to 200 s.
pub(crate) const SERVER_PRESENCE_PARAMETERS: FeatureLevel = FeatureLevel(164);

/// Zulip 7.0: successful responses list unsupported parameters in
/// `ignored_parameters_unsupported`.
pub(crate) const IGNORED_PARAMETERS_UNSUPPORTED: FeatureLevel = FeatureLevel(167);

/// Zulip 7.0: the server no longer stores which client reported presence; legacy presence is
/// always exactly `aggregated` and `website` (one entry per reporting client before).
pub(crate) const SINGLE_CLIENT_PRESENCE: FeatureLevel = FeatureLevel(178);

/// Zulip 8.0: `CAN_ACCESS_ALL_USERS_GROUP_LIMITS_PRESENCE` limits what a guest sees.
pub(crate) const PRESENCE_ACCESS_LIMIT: FeatureLevel = FeatureLevel(228);

/// Zulip 8.0: `can_access_all_users_group` limits which users a guest can access in the user
/// directory.
pub(crate) const USER_ACCESS_LIMIT: FeatureLevel = FeatureLevel(228);

/// Zulip 8.0: deactivating or reactivating a user sends a `realm_user` `update` with
/// `is_active` (a `remove` or an `add` before).
pub(crate) const ACTIVATION_IS_UPDATE: FeatureLevel = FeatureLevel(222);

/// Zulip 8.0: `/register` takes the `user_list_incomplete` client capability (no "Unknown
/// user" placeholders for the users a limited guest cannot access).
pub(crate) const USER_LIST_INCOMPLETE: FeatureLevel = FeatureLevel(232);

/// Zulip 9.0: `POST /users/me/presence` takes `last_update_id` and returns
/// `presence_last_update_id`.
pub(crate) const PRESENCE_LAST_UPDATE_ID: FeatureLevel = FeatureLevel(263);

/// Zulip 9.0: `/server_settings` has `realm_url` (`realm_uri` becomes its deprecated alias).
pub(crate) const REALM_URL: FeatureLevel = FeatureLevel(257);

/// Zulip 10.0: `POST /users/me/presence` takes `history_limit_days`.
pub(crate) const HISTORY_LIMIT_DAYS: FeatureLevel = FeatureLevel(288);

/// Zulip 11.0: clients may declare `simplified_presence_events` and get presence events in
/// the modern form.
pub(crate) const SIMPLIFIED_PRESENCE_EVENTS: FeatureLevel = FeatureLevel(419);

/// Zulip 12.0: `authentication_methods` lists `discord` (Zulip's OpenAPI: "New in Zulip 12.0
/// (feature level 488)").
pub(crate) const DISCORD_AUTHENTICATION: FeatureLevel = FeatureLevel(488);

/// Zulip 12.0: `/register` takes `idle_queue_timeout` and returns `idle_queue_timeout_secs`.
pub(crate) const IDLE_QUEUE_TIMEOUT: FeatureLevel = FeatureLevel(481);

/// Zulip 12.0: single-user presence is in the modern format only (`active_timestamp`,
/// `idle_timestamp`).
pub(crate) const USER_PRESENCE_MODERN: FeatureLevel = FeatureLevel(487);

/// Zulip 12.0: single-user presence has the modern fields and the legacy `aggregated` and
/// `website` together, and a `server_timestamp`.
pub(crate) const USER_PRESENCE_COMBINED: FeatureLevel = FeatureLevel(497);

/// The Zulip versions of feature levels: (first level, last level, version). A level between
/// two releases is a development level of the next one ("X.0-dev+git"); a release's own level
/// and the levels reserved for its maintenance releases are that release
/// (api_docs/changelog.md: "feature level used for Zulip X.0 release").
const VERSIONS: &[(u32, u32, &str)] = &[
    (1, 24, "3.0-dev+git"),
    (25, 25, "3.0"),
    (26, 29, "3.1"),
    (30, 64, "4.0-dev+git"),
    (65, 69, "4.0"),
    (70, 121, "5.0-dev+git"),
    (122, 124, "5.0"),
    (125, 155, "6.0-dev+git"),
    (156, 156, "6.0"),
    (157, 158, "6.2"),
    (159, 184, "7.0-dev+git"),
    (185, 187, "7.0"),
    (188, 236, "8.0-dev+git"),
    (237, 239, "8.0"),
    (240, 276, "9.0-dev+git"),
    (277, 277, "9.0"),
    (278, 279, "9.2"),
    (280, 370, "10.0-dev+git"),
    (371, 371, "10.0"),
    (372, 376, "10.1"),
    (377, 420, "11.0-dev+git"),
    (421, 425, "11.0"),
];

/// What a server at a level after every release in `VERSIONS` calls itself.
const DEVELOPMENT_VERSION: &str = "12.0-dev+git";

impl FeatureLevel {
    /// Whether a server at this level has the behaviour introduced at `threshold`.
    pub fn has(self, threshold: FeatureLevel) -> bool {
        self >= threshold
    }

    /// The `zulip_version` (and `zulip_merge_base`) of a server at this level: "7.0" for 185,
    /// "7.0-dev+git" for 178, "12.0-dev+git" for 509.
    pub fn zulip_version(self) -> &'static str {
        VERSIONS
            .iter()
            .find(|(first, last, _)| (*first..=*last).contains(&self.0))
            .map_or(DEVELOPMENT_VERSION, |(_, _, version)| version)
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
    fn each_level_has_the_version_of_its_release_series() {
        for (level, version) in [
            (1, "3.0-dev+git"),
            (25, "3.0"),
            (65, "4.0"),
            (76, "5.0-dev+git"),
            (122, "5.0"),
            (178, "7.0-dev+git"),
            (185, "7.0"),
            (237, "8.0"),
            (277, "9.0"),
            (278, "9.2"),
            (371, "10.0"),
            (421, "11.0"),
            (426, "12.0-dev+git"),
            (509, "12.0-dev+git"),
        ] {
            assert_eq!(FeatureLevel(level).zulip_version(), version, "{level}");
        }
    }

    #[test]
    fn the_version_table_covers_every_level_in_order() {
        let mut next = 1;
        for (first, last, _) in VERSIONS {
            assert_eq!(*first, next);
            assert!(last >= first);
            next = last + 1;
        }
        assert!(next <= DISCORD_AUTHENTICATION.0);
    }

    #[test]
    fn levels_parse_from_text() {
        assert_eq!("228".parse::<FeatureLevel>(), Ok(FeatureLevel(228)));
        assert!("x".parse::<FeatureLevel>().is_err());
    }
}
