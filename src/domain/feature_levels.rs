//! Zulip API feature levels: the one place that names the levels at which the API changed,
//! and the compatibility layer built from them (`Compat`: what a server at one level does).
//! Everything else reads a `Compat`; no other file tests a level.
//! The changelog is https://zulip.com/api/changelog.

use std::fmt;
use std::str::FromStr;

/// A Zulip API feature level (`zulip_feature_level` in `/server_settings`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeatureLevel(pub u32);

/// The level of Zulip's main branch that this mock follows (version.py `API_FEATURE_LEVEL`).
pub(crate) const LATEST: FeatureLevel = FeatureLevel(509);

/// Zulip 3.0: user objects carry `avatar_version`.
const AVATAR_VERSION: FeatureLevel = FeatureLevel(6);

/// Zulip 3.0: user objects carry `is_owner`.
const OWNER_FLAG: FeatureLevel = FeatureLevel(8);

/// Zulip 4.0: `GET /users/{email}` exists.
const USER_BY_EMAIL: FeatureLevel = FeatureLevel(39);

/// Zulip 4.0: user objects carry `role`.
const ROLE_FIELD: FeatureLevel = FeatureLevel(59);

/// Zulip 5.0: user objects carry `is_billing_admin` (removed at `BILLING_ADMIN_REMOVED`).
const BILLING_ADMIN: FeatureLevel = FeatureLevel(73);

/// Zulip 5.0: `client_gravatar` defaults to true on `GET /users` and `GET /users/{id}`.
const CLIENT_GRAVATAR_BY_DEFAULT: FeatureLevel = FeatureLevel(92);

/// Zulip 7.0: user objects always carry `delivery_email` (`null` when the viewer may not see it).
const DELIVERY_EMAIL_ALWAYS: FeatureLevel = FeatureLevel(163);

/// Zulip 9.0: `GET /users/{email}` looks users up by the real (delivery) email the requester
/// may see, or by a dummy address (by the API email before).
const USER_BY_DELIVERY_EMAIL: FeatureLevel = FeatureLevel(302);

/// Zulip 10.0: user objects no longer carry `is_billing_admin`.
const BILLING_ADMIN_REMOVED: FeatureLevel = FeatureLevel(363);

/// Zulip 10.0: `/register`'s `is_moderator` is true for administrators and owners too (for
/// moderators only before).
const MODERATOR_INCLUDES_ADMINS: FeatureLevel = FeatureLevel(380);

/// Zulip 10.0: `GET /users` takes `user_ids`.
const USERS_BY_ID_LIST: FeatureLevel = FeatureLevel(384);

/// Zulip 11.0: user objects carry `is_imported_stub`.
const IMPORTED_STUB: FeatureLevel = FeatureLevel(433);

/// Zulip 11.0: `GET /users` leaves out the users a limited guest cannot access ("Unknown user"
/// placeholders before).
const INACCESSIBLE_USERS_OMITTED: FeatureLevel = FeatureLevel(437);

/// Zulip 4.0: 429 bodies carry `code: RATE_LIMIT_HIT` (none before).
const RATE_LIMIT_CODE: FeatureLevel = FeatureLevel(36);

/// Zulip 4.0: `GET /users/{user_id_or_email}/presence` accepts a user id (an email only before).
const USER_PRESENCE_BY_ID: FeatureLevel = FeatureLevel(43);

/// Zulip 5.0: a deactivated user or realm gets 401 (403 before).
const DEACTIVATED_IS_UNAUTHORIZED: FeatureLevel = FeatureLevel(76);

/// Zulip 5.0: `/server_settings` has `zulip_merge_base`.
const ZULIP_MERGE_BASE: FeatureLevel = FeatureLevel(88);

/// Zulip 5.0: `/server_settings` has `realm_web_public_access_enabled`.
const REALM_WEB_PUBLIC_ACCESS: FeatureLevel = FeatureLevel(116);

/// Zulip 7.0: the server publishes its presence parameters, and its offline threshold drops
/// from 300 s to 200 s.
const SERVER_PRESENCE_PARAMETERS: FeatureLevel = FeatureLevel(164);

/// Zulip 7.0: successful responses list unsupported parameters in
/// `ignored_parameters_unsupported`.
const IGNORED_PARAMETERS_UNSUPPORTED: FeatureLevel = FeatureLevel(167);

/// Zulip 7.0: the server no longer stores which client reported presence; legacy presence is
/// always exactly `aggregated` and `website` (one entry per reporting client before).
const SINGLE_CLIENT_PRESENCE: FeatureLevel = FeatureLevel(178);

/// Zulip 8.0: `CAN_ACCESS_ALL_USERS_GROUP_LIMITS_PRESENCE` limits what a guest sees.
const PRESENCE_ACCESS_LIMIT: FeatureLevel = FeatureLevel(228);

/// Zulip 8.0: `can_access_all_users_group` limits which users a guest can access in the user
/// directory.
const USER_ACCESS_LIMIT: FeatureLevel = FeatureLevel(228);

/// Zulip 8.0: deactivating or reactivating a user sends a `realm_user` `update` with
/// `is_active` (a `remove` or an `add` before).
const ACTIVATION_IS_UPDATE: FeatureLevel = FeatureLevel(222);

/// Zulip 8.0: `/register` takes the `user_list_incomplete` client capability (no "Unknown
/// user" placeholders for the users a limited guest cannot access).
const USER_LIST_INCOMPLETE: FeatureLevel = FeatureLevel(232);

/// Zulip 9.0: `POST /users/me/presence` takes `last_update_id` and returns
/// `presence_last_update_id`.
const PRESENCE_LAST_UPDATE_ID: FeatureLevel = FeatureLevel(263);

/// Zulip 9.0: `/server_settings` has `realm_url` (`realm_uri` becomes its deprecated alias).
const REALM_URL: FeatureLevel = FeatureLevel(257);

/// Zulip 10.0: `POST /users/me/presence` takes `history_limit_days`.
const HISTORY_LIMIT_DAYS: FeatureLevel = FeatureLevel(288);

/// Zulip 11.0: clients may declare `simplified_presence_events` and get presence events in
/// the modern form.
const SIMPLIFIED_PRESENCE_EVENTS: FeatureLevel = FeatureLevel(419);

/// Zulip 12.0: `authentication_methods` lists `discord` (Zulip's OpenAPI: "New in Zulip 12.0
/// (feature level 488)").
const DISCORD_AUTHENTICATION: FeatureLevel = FeatureLevel(488);

/// Zulip 12.0: `/register` takes `idle_queue_timeout` and returns `idle_queue_timeout_secs`.
const IDLE_QUEUE_TIMEOUT: FeatureLevel = FeatureLevel(481);

/// Zulip 12.0: single-user presence is in the modern format only (`active_timestamp`,
/// `idle_timestamp`).
const USER_PRESENCE_MODERN: FeatureLevel = FeatureLevel(487);

/// Zulip 12.0: single-user presence has the modern fields and the legacy `aggregated` and
/// `website` together, and a `server_timestamp`.
const USER_PRESENCE_COMBINED: FeatureLevel = FeatureLevel(497);

/// `OFFLINE_THRESHOLD_SECS`: single-user presence says "offline" past this, from feature
/// level 164 (Zulip PR #24429, which also published it as
/// `server_presence_offline_threshold_seconds`).
const OFFLINE_THRESHOLD_SECONDS: i64 = 200;

/// `OFFLINE_THRESHOLD_SECS` before feature level 164 (`5 * 60` in zproject/default_settings.py).
const OLD_OFFLINE_THRESHOLD_SECONDS: i64 = 300;

/// What a server at one feature level does, built in one place (`Compat::of`): every format,
/// field, accepted parameter, threshold and error code that changed with the level, as one
/// value. Handlers and the domain read it; nothing else tests levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Compat {
    /// The level itself (`zulip_feature_level`).
    pub(crate) level: FeatureLevel,
    /// Zulip 3.0: user objects carry `avatar_version`.
    pub(crate) avatar_version: bool,
    /// Zulip 3.0: user objects carry `is_owner`.
    pub(crate) owner_flag: bool,
    /// Zulip 4.0: `GET /users/{email}` exists.
    pub(crate) user_by_email: bool,
    /// Zulip 4.0: user objects carry `role`.
    pub(crate) role_field: bool,
    /// Zulip 5.0: user objects carry `is_billing_admin` (removed at `BILLING_ADMIN_REMOVED`).
    pub(crate) billing_admin: bool,
    /// Zulip 5.0: `client_gravatar` defaults to true on `GET /users` and `GET /users/{id}`.
    pub(crate) client_gravatar_by_default: bool,
    /// Zulip 7.0: user objects always carry `delivery_email` (`null` when the viewer may not see it).
    pub(crate) delivery_email_always: bool,
    /// Zulip 9.0: `GET /users/{email}` looks users up by the real (delivery) email the requester
    /// may see, or by a dummy address (by the API email before).
    pub(crate) user_by_delivery_email: bool,
    /// Zulip 10.0: user objects no longer carry `is_billing_admin`.
    pub(crate) billing_admin_removed: bool,
    /// Zulip 10.0: `/register`'s `is_moderator` is true for administrators and owners too (for
    /// moderators only before).
    pub(crate) moderator_includes_admins: bool,
    /// Zulip 10.0: `GET /users` takes `user_ids`.
    pub(crate) users_by_id_list: bool,
    /// Zulip 11.0: user objects carry `is_imported_stub`.
    pub(crate) imported_stub: bool,
    /// Zulip 11.0: `GET /users` leaves out the users a limited guest cannot access ("Unknown user"
    /// placeholders before).
    pub(crate) inaccessible_users_omitted: bool,
    /// Zulip 4.0: 429 bodies carry `code: RATE_LIMIT_HIT` (none before).
    pub(crate) rate_limit_code: bool,
    /// Zulip 4.0: `GET /users/{user_id_or_email}/presence` accepts a user id (an email only before).
    pub(crate) user_presence_by_id: bool,
    /// Zulip 5.0: a deactivated user or realm gets 401 (403 before).
    pub(crate) deactivated_is_unauthorized: bool,
    /// Zulip 5.0: `/server_settings` has `zulip_merge_base`.
    pub(crate) zulip_merge_base: bool,
    /// Zulip 5.0: `/server_settings` has `realm_web_public_access_enabled`.
    pub(crate) realm_web_public_access: bool,
    /// Zulip 7.0: the server publishes its presence parameters, and its offline threshold drops
    /// from 300 s to 200 s.
    pub(crate) server_presence_parameters: bool,
    /// Zulip 7.0: successful responses list unsupported parameters in
    /// `ignored_parameters_unsupported`.
    pub(crate) ignored_parameters_unsupported: bool,
    /// Zulip 7.0: the server no longer stores which client reported presence; legacy presence is
    /// always exactly `aggregated` and `website` (one entry per reporting client before).
    pub(crate) single_client_presence: bool,
    /// Zulip 8.0: `CAN_ACCESS_ALL_USERS_GROUP_LIMITS_PRESENCE` limits what a guest sees.
    pub(crate) presence_access_limit: bool,
    /// Zulip 8.0: `can_access_all_users_group` limits which users a guest can access in the user
    /// directory.
    pub(crate) user_access_limit: bool,
    /// Zulip 8.0: deactivating or reactivating a user sends a `realm_user` `update` with
    /// `is_active` (a `remove` or an `add` before).
    pub(crate) activation_is_update: bool,
    /// Zulip 8.0: `/register` takes the `user_list_incomplete` client capability (no "Unknown
    /// user" placeholders for the users a limited guest cannot access).
    pub(crate) user_list_incomplete: bool,
    /// Zulip 9.0: `POST /users/me/presence` takes `last_update_id` and returns
    /// `presence_last_update_id`.
    pub(crate) presence_last_update_id: bool,
    /// Zulip 9.0: `/server_settings` has `realm_url` (`realm_uri` becomes its deprecated alias).
    pub(crate) realm_url: bool,
    /// Zulip 10.0: `POST /users/me/presence` takes `history_limit_days`.
    pub(crate) history_limit_days: bool,
    /// Zulip 11.0: clients may declare `simplified_presence_events` and get presence events in
    /// the modern form.
    pub(crate) simplified_presence_events: bool,
    /// Zulip 12.0: `authentication_methods` lists `discord` (Zulip's OpenAPI: "New in Zulip 12.0
    /// (feature level 488)").
    pub(crate) discord_authentication: bool,
    /// Zulip 12.0: `/register` takes `idle_queue_timeout` and returns `idle_queue_timeout_secs`.
    pub(crate) idle_queue_timeout: bool,
    /// Zulip 12.0: single-user presence is in the modern format only (`active_timestamp`,
    /// `idle_timestamp`).
    pub(crate) user_presence_modern: bool,
    /// Zulip 12.0: single-user presence has the modern fields and the legacy `aggregated` and
    /// `website` together, and a `server_timestamp`.
    pub(crate) user_presence_combined: bool,
    /// `OFFLINE_THRESHOLD_SECS`: 200 s from `SERVER_PRESENCE_PARAMETERS`, 300 s before.
    pub(crate) offline_threshold_seconds: i64,
    /// User objects carry `is_billing_admin` (from `BILLING_ADMIN` until `BILLING_ADMIN_REMOVED`).
    pub(crate) user_is_billing_admin: bool,
}

impl Compat {
    /// What a server at `level` does.
    pub(crate) const fn of(level: FeatureLevel) -> Self {
        Self {
            level,
            avatar_version: level.has(AVATAR_VERSION),
            owner_flag: level.has(OWNER_FLAG),
            user_by_email: level.has(USER_BY_EMAIL),
            role_field: level.has(ROLE_FIELD),
            billing_admin: level.has(BILLING_ADMIN),
            client_gravatar_by_default: level.has(CLIENT_GRAVATAR_BY_DEFAULT),
            delivery_email_always: level.has(DELIVERY_EMAIL_ALWAYS),
            user_by_delivery_email: level.has(USER_BY_DELIVERY_EMAIL),
            billing_admin_removed: level.has(BILLING_ADMIN_REMOVED),
            moderator_includes_admins: level.has(MODERATOR_INCLUDES_ADMINS),
            users_by_id_list: level.has(USERS_BY_ID_LIST),
            imported_stub: level.has(IMPORTED_STUB),
            inaccessible_users_omitted: level.has(INACCESSIBLE_USERS_OMITTED),
            rate_limit_code: level.has(RATE_LIMIT_CODE),
            user_presence_by_id: level.has(USER_PRESENCE_BY_ID),
            deactivated_is_unauthorized: level.has(DEACTIVATED_IS_UNAUTHORIZED),
            zulip_merge_base: level.has(ZULIP_MERGE_BASE),
            realm_web_public_access: level.has(REALM_WEB_PUBLIC_ACCESS),
            server_presence_parameters: level.has(SERVER_PRESENCE_PARAMETERS),
            ignored_parameters_unsupported: level.has(IGNORED_PARAMETERS_UNSUPPORTED),
            single_client_presence: level.has(SINGLE_CLIENT_PRESENCE),
            presence_access_limit: level.has(PRESENCE_ACCESS_LIMIT),
            user_access_limit: level.has(USER_ACCESS_LIMIT),
            activation_is_update: level.has(ACTIVATION_IS_UPDATE),
            user_list_incomplete: level.has(USER_LIST_INCOMPLETE),
            presence_last_update_id: level.has(PRESENCE_LAST_UPDATE_ID),
            realm_url: level.has(REALM_URL),
            history_limit_days: level.has(HISTORY_LIMIT_DAYS),
            simplified_presence_events: level.has(SIMPLIFIED_PRESENCE_EVENTS),
            discord_authentication: level.has(DISCORD_AUTHENTICATION),
            idle_queue_timeout: level.has(IDLE_QUEUE_TIMEOUT),
            user_presence_modern: level.has(USER_PRESENCE_MODERN),
            user_presence_combined: level.has(USER_PRESENCE_COMBINED),
            offline_threshold_seconds: if level.has(SERVER_PRESENCE_PARAMETERS) {
                OFFLINE_THRESHOLD_SECONDS
            } else {
                OLD_OFFLINE_THRESHOLD_SECONDS
            },
            user_is_billing_admin: level.has(BILLING_ADMIN) && !level.has(BILLING_ADMIN_REMOVED),
        }
    }
}

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
    const fn has(self, threshold: FeatureLevel) -> bool {
        self.0 >= threshold.0
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

    /// Every threshold, with what it switches on.
    /// What a threshold switches on.
    type Behaviour = fn(Compat) -> bool;

    const THRESHOLDS: &[(FeatureLevel, Behaviour)] = &[
        (AVATAR_VERSION, |c| c.avatar_version),
        (OWNER_FLAG, |c| c.owner_flag),
        (USER_BY_EMAIL, |c| c.user_by_email),
        (ROLE_FIELD, |c| c.role_field),
        (BILLING_ADMIN, |c| c.billing_admin),
        (CLIENT_GRAVATAR_BY_DEFAULT, |c| c.client_gravatar_by_default),
        (DELIVERY_EMAIL_ALWAYS, |c| c.delivery_email_always),
        (USER_BY_DELIVERY_EMAIL, |c| c.user_by_delivery_email),
        (BILLING_ADMIN_REMOVED, |c| c.billing_admin_removed),
        (MODERATOR_INCLUDES_ADMINS, |c| c.moderator_includes_admins),
        (USERS_BY_ID_LIST, |c| c.users_by_id_list),
        (IMPORTED_STUB, |c| c.imported_stub),
        (INACCESSIBLE_USERS_OMITTED, |c| c.inaccessible_users_omitted),
        (RATE_LIMIT_CODE, |c| c.rate_limit_code),
        (USER_PRESENCE_BY_ID, |c| c.user_presence_by_id),
        (DEACTIVATED_IS_UNAUTHORIZED, |c| {
            c.deactivated_is_unauthorized
        }),
        (ZULIP_MERGE_BASE, |c| c.zulip_merge_base),
        (REALM_WEB_PUBLIC_ACCESS, |c| c.realm_web_public_access),
        (SERVER_PRESENCE_PARAMETERS, |c| c.server_presence_parameters),
        (IGNORED_PARAMETERS_UNSUPPORTED, |c| {
            c.ignored_parameters_unsupported
        }),
        (SINGLE_CLIENT_PRESENCE, |c| c.single_client_presence),
        (PRESENCE_ACCESS_LIMIT, |c| c.presence_access_limit),
        (USER_ACCESS_LIMIT, |c| c.user_access_limit),
        (ACTIVATION_IS_UPDATE, |c| c.activation_is_update),
        (USER_LIST_INCOMPLETE, |c| c.user_list_incomplete),
        (PRESENCE_LAST_UPDATE_ID, |c| c.presence_last_update_id),
        (REALM_URL, |c| c.realm_url),
        (HISTORY_LIMIT_DAYS, |c| c.history_limit_days),
        (SIMPLIFIED_PRESENCE_EVENTS, |c| c.simplified_presence_events),
        (DISCORD_AUTHENTICATION, |c| c.discord_authentication),
        (IDLE_QUEUE_TIMEOUT, |c| c.idle_queue_timeout),
        (USER_PRESENCE_MODERN, |c| c.user_presence_modern),
        (USER_PRESENCE_COMBINED, |c| c.user_presence_combined),
    ];

    #[test]
    fn each_behaviour_starts_exactly_at_its_threshold() {
        for (threshold, behaviour) in THRESHOLDS {
            let before = Compat::of(FeatureLevel(threshold.0 - 1));
            let at = Compat::of(*threshold);
            assert!(
                !behaviour(before),
                "level {} already has it",
                threshold.0 - 1
            );
            assert!(behaviour(at), "level {} lacks it", threshold.0);
        }
    }

    #[test]
    fn the_offline_threshold_and_billing_admins_change_at_their_levels() {
        let at = |level| Compat::of(FeatureLevel(level));
        assert_eq!(at(163).offline_threshold_seconds, 300);
        assert_eq!(at(164).offline_threshold_seconds, 200);
        assert!(!at(72).user_is_billing_admin);
        assert!(at(73).user_is_billing_admin);
        assert!(at(362).user_is_billing_admin);
        assert!(!at(363).user_is_billing_admin);
    }

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
