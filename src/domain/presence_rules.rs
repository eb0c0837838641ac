//! Zulip's presence rules (zerver/lib/presence.py), as pure functions of the realm state and the
//! clock: who is listed, and each user's legacy status. No HTTP here.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crate::domain::clock::Timestamp;
use crate::domain::feature_levels::Compat;
use crate::domain::python_int::PyInt;
use crate::domain::store::{
    ClientPresence, PresenceRow, PresenceTimes, RealmState, ServerSettings, User, UserId,
};

/// `PRESENCE_LEGACY_EVENT_OFFSET_FOR_ACTIVITY_SECONDS`: a user active this close to their last
/// connection is "active", else "idle".
pub(crate) const ACTIVITY_OFFSET_SECONDS: i64 = 70;

/// Rows whose last connection is older than this are not listed (zerver/lib/presence.py
/// `get_presence_dict_by_realm`: 14 days).
pub(crate) const PRESENCE_WINDOW_SECONDS: i64 = 14 * 86_400;

pub(crate) use crate::domain::store::Status;

/// A user's presence in Zulip's legacy form: one status and its time in whole seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LegacyPresence {
    pub status: Status,
    pub timestamp: i64,
}

impl LegacyPresence {
    /// Zulip's `format_legacy_presence_dict`: a missing time counts as the user's `date_joined`.
    pub(crate) fn of(row: &PresenceRow, date_joined: Timestamp) -> Self {
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
    pub(crate) compat: Compat,
}

impl AccessPolicy {
    /// The policy of a server with these settings.
    pub(crate) fn of(server: &ServerSettings) -> Self {
        Self {
            limits_presence: server.can_access_all_users_group_limits_presence,
            compat: server.compat,
        }
    }

    fn applies(self) -> bool {
        self.limits_presence && self.compat.presence_access_limit
    }
}

/// `PRESENCE_UPDATE_MIN_FREQ_SECONDS`: a report moves a time only when it is older than this.
pub(crate) const UPDATE_MIN_FREQ_SECONDS: i64 = 55;

/// Before feature level 178 an Electron desktop app called itself "ZulipDesktop", which Zulip
/// counted as the web app (zerver/actions/presence.py `consolidate_client`).
fn consolidate_client(client: &str) -> &str {
    if client == "ZulipDesktop" {
        WEBSITE
    } else {
        client
    }
}

/// The client name of the web app, and of every report since feature level 178.
pub(crate) const WEBSITE: &str = "website";

/// A user's per-client rows as a server before feature level 178 shows them: the ones the
/// fixture or reports gave, or else one "website" row made from their presence row (how Zulip
/// 7.0 migrated old rows, run backwards).
pub(crate) fn clients_of(state: &RealmState, user: &User) -> Vec<ClientPresence> {
    let explicit = state.client_presence(user.user_id);
    if !explicit.is_empty() {
        return explicit.to_vec();
    }
    state
        .presence_row(user.user_id)
        .map(|row| vec![website_client(row, user.date_joined)])
        .unwrap_or_default()
}

/// The "website" client row that a presence row stands for.
pub(crate) fn website_client(row: &PresenceRow, date_joined: Timestamp) -> ClientPresence {
    let legacy = LegacyPresence::of(row, date_joined);
    ClientPresence {
        client: WEBSITE.to_owned(),
        status: legacy.status,
        timestamp: Timestamp::from_unix_seconds(legacy.timestamp),
        pushable: false,
    }
}

/// Realm presence before feature level 178 (Zulip 6.x, zerver/lib/presence.py
/// `get_status_dict_by_realm` and `get_legacy_user_info`: rows of active humans reported
/// within two weeks, sorted by user and time): for each
/// active human `viewer` may see, their client rows reported within 14 days, oldest first.
pub(crate) fn realm_client_presence<'a>(
    state: &'a RealmState,
    viewer: &User,
    policy: AccessPolicy,
    now: Timestamp,
) -> Vec<(&'a User, Vec<ClientPresence>)> {
    if state.settings().presence_disabled {
        return Vec::new();
    }
    let since = now.plus_seconds(-PRESENCE_WINDOW_SECONDS);
    let accessible = accessible_users(state, viewer, policy);
    state
        .users()
        .filter(|user| has_listed_presence(user))
        .filter(|user| {
            accessible
                .as_ref()
                .is_none_or(|ids| ids.contains(&user.user_id))
        })
        .filter_map(|user| {
            let explicit = state.client_presence(user.user_id);
            let clients: Vec<ClientPresence> = if explicit.is_empty() {
                // A row that stands for a "website" client is listed when the row would be.
                let row = state.presence_row(user.user_id)?;
                row.last_connected_time
                    .is_some_and(|t| t >= since)
                    .then(|| vec![website_client(row, user.date_joined)])?
            } else {
                explicit
                    .iter()
                    .filter(|client| client.timestamp >= since)
                    .cloned()
                    .collect()
            };
            (!clients.is_empty()).then_some((&**user, clients))
        })
        .collect()
}

/// Zulip's write rule before feature level 178 (Zulip 6.x, zerver/actions/presence.py
/// `do_update_user_presence`, a row per user and client), for one client's
/// row: a new client gets a row; an existing row takes the report unless it is "active", less
/// than 70 s old, and the report says "idle". A new row is pushable when the user's other rows
/// are (it is a property of the user: a push device and offline notifications on).
pub(crate) fn report_client(
    clients: &mut Vec<ClientPresence>,
    client: &str,
    status: Status,
    now: Timestamp,
) {
    let client = consolidate_client(client);
    let pushable = clients.iter().any(|c| c.pushable);
    match clients.iter_mut().find(|c| c.client == client) {
        None => clients.push(ClientPresence {
            client: client.to_owned(),
            status,
            timestamp: now,
            pushable,
        }),
        Some(row) => {
            let stale = now.unix_micros() - row.timestamp.unix_micros()
                > ACTIVITY_OFFSET_SECONDS * 1_000_000;
            let was_idle = row.status == Status::Idle;
            if stale || was_idle || status == row.status {
                row.timestamp = now;
                row.status = status;
                // The newest report goes last, also among reports made at the same instant.
                if let Some(index) = clients.iter().position(|c| c.client == client) {
                    let updated = clients.remove(index);
                    clients.push(updated);
                }
            }
        }
    }
}

/// The modern format before feature level 178 (Zulip 6.x, zerver/lib/presence.py
/// `get_modern_user_info`): the newest
/// "active" and the newest "idle" report, each left out when there is none.
pub(crate) fn old_modern_presence(clients: &[ClientPresence]) -> OldModernPresence {
    let newest = |status: Status| {
        clients
            .iter()
            .rev()
            .find(|c| c.status == status)
            .map(|c| c.timestamp.unix_seconds())
    };
    OldModernPresence {
        active_timestamp: newest(Status::Active),
        idle_timestamp: newest(Status::Idle),
    }
}

/// A user's presence in the modern format of servers before feature level 178.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct OldModernPresence {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timestamp: Option<i64>,
}

/// Which rows a presence request asks for (the arguments of Zulip's
/// `get_presence_dict_by_realm`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PresenceQuery {
    /// `last_update_id`: only rows changed after it; a positive one also drops the time window.
    pub after_update_id: Option<i64>,
    /// `history_limit_days`: the time window (default 14 days); 0 selects nothing.
    pub history_limit_days: Option<i64>,
}

/// The rows a presence request returns, and its `presence_last_update_id`.
#[derive(Debug)]
pub(crate) struct PresenceSelection<'a> {
    pub rows: Vec<(&'a User, &'a PresenceRow)>,
    pub last_update_id: i64,
}

impl PresenceSelection<'_> {
    /// The rows in the legacy format, keyed by API email.
    pub(crate) fn legacy(&self) -> BTreeMap<String, LegacyPresence> {
        self.rows
            .iter()
            .map(|(user, row)| {
                (
                    user.email.to_string(),
                    LegacyPresence::of(row, user.date_joined),
                )
            })
            .collect()
    }

    /// The rows in the modern format, keyed by user id.
    pub(crate) fn modern(&self) -> BTreeMap<UserId, ModernPresence> {
        self.rows
            .iter()
            .map(|(user, row)| (user.user_id, ModernPresence::of(row, user.date_joined)))
            .collect()
    }
}

/// The presence rows `viewer` gets for `query` at `now` (zerver/lib/presence.py
/// `get_presences_for_realm` and `get_presence_dict_by_realm`).
pub(crate) fn select_presence<'a>(
    state: &'a RealmState,
    viewer: &User,
    policy: AccessPolicy,
    query: PresenceQuery,
    now: Timestamp,
) -> PresenceSelection<'a> {
    let settings = state.settings();
    if settings.presence_disabled {
        return PresenceSelection {
            rows: Vec::new(),
            last_update_id: -1,
        };
    }
    let window_days = query
        .history_limit_days
        .unwrap_or(PRESENCE_WINDOW_SECONDS / 86_400);
    let since = now.plus_seconds(window_days.saturating_mul(-86_400));
    let windowed = query.after_update_id.is_none_or(|id| id <= 0);
    let accessible = accessible_users(state, viewer, policy);
    let rows: Vec<_> = if query.history_limit_days == Some(0) {
        Vec::new()
    } else {
        state
            .presence_rows()
            .filter(|(user, _)| has_listed_presence(user))
            .filter(|(_, row)| {
                query
                    .after_update_id
                    .is_none_or(|id| row.last_update_id > id)
            })
            .filter(|(_, row)| !windowed || row.last_connected_time.is_some_and(|t| t >= since))
            .filter(|(user, _)| {
                accessible
                    .as_ref()
                    .is_none_or(|ids| ids.contains(&user.user_id))
            })
            .collect()
    };
    let last_update_id = rows
        .iter()
        .map(|(_, row)| row.last_update_id)
        .max()
        .or(query.after_update_id)
        .unwrap_or(-1);
    PresenceSelection {
        rows,
        last_update_id,
    }
}

/// `now - timedelta(days=days)` as Python computes it, or `None` where Python raises
/// `OverflowError` (a `timedelta` over 999,999,999 days, or a date outside years 1 to 9999):
/// Zulip then answers 500.
pub(crate) fn days_before(now: Timestamp, days: &PyInt) -> Option<Timestamp> {
    /// 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z, in microseconds since the epoch.
    const FIRST: i64 = -62_135_596_800 * 1_000_000;
    const END: i64 = 253_402_300_800 * 1_000_000;
    let days = days.as_i64().filter(|d| d.unsigned_abs() <= 999_999_999)?;
    let micros = now
        .unix_micros()
        .checked_sub(days.checked_mul(86_400 * 1_000_000)?)?;
    (FIRST..END)
        .contains(&micros)
        .then(|| Timestamp::from_unix_micros(micros))
}

/// Whether Zulip computes the presence window of `history_limit_days` without failing: it
/// does not compute it when the realm has presence disabled or for 0 days (no query), and
/// otherwise fails (a 500) on a start Python's dates cannot hold (`days_before`).
pub(crate) fn history_window_fits(
    state: &RealmState,
    now: Timestamp,
    days: Option<&PyInt>,
) -> bool {
    days.is_none_or(|days| {
        state.settings().presence_disabled
            || days.as_i64() == Some(0)
            || days_before(now, days).is_some()
    })
}

/// The realm's presence as `GET /realm/presence` shows it to `viewer` at `now`, keyed by API
/// email.
pub(crate) fn realm_presence(
    state: &RealmState,
    viewer: &User,
    policy: AccessPolicy,
    now: Timestamp,
) -> BTreeMap<String, LegacyPresence> {
    select_presence(state, viewer, policy, PresenceQuery::default(), now).legacy()
}

/// Only active humans appear in presence lists (Zulip filters `is_active` and `is_bot`).
fn has_listed_presence(user: &User) -> bool {
    user.is_active && !user.is_bot
}

/// Whether `viewer` may see `target` under the access limit.
pub(crate) fn can_access(
    state: &RealmState,
    viewer: &User,
    target: &User,
    policy: AccessPolicy,
) -> bool {
    accessible_users(state, viewer, policy).is_none_or(|ids| ids.contains(&target.user_id))
}

/// Whether `viewer` sees every user (no access limit applies to them).
pub(crate) fn sees_everyone(state: &RealmState, viewer: &User, policy: AccessPolicy) -> bool {
    accessible_users(state, viewer, policy).is_none()
}

/// The instants at which a cached body is right: after `after` (exclusive) and until `until`
/// (inclusive); `None` is unbounded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Validity {
    pub after: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

impl Validity {
    /// Whether the body is right at `now`.
    pub(crate) fn contains(self, now: Timestamp) -> bool {
        self.after.is_none_or(|after| now > after) && self.until.is_none_or(|until| now <= until)
    }
}

/// The instants around `now` at which `realm_presence` selects the same rows as at `now`: a
/// row leaves the 14-day window right after its last connection plus 14 days (the earliest such
/// instant among listed rows ends the interval), and moving the clock back brings older rows in.
pub(crate) fn realm_presence_validity(state: &RealmState, now: Timestamp) -> Validity {
    if state.settings().presence_disabled {
        return Validity::default();
    }
    let mut validity = Validity::default();
    let since = now.plus_seconds(-PRESENCE_WINDOW_SECONDS);
    let eligible = state
        .presence_rows()
        .filter(|(user, _)| has_listed_presence(user))
        .filter_map(|(_, row)| row.last_connected_time);
    for connected in eligible {
        let leaves_after = connected.plus_seconds(PRESENCE_WINDOW_SECONDS);
        if connected >= since {
            validity.until = Some(validity.until.map_or(leaves_after, |t| t.min(leaves_after)));
        } else {
            validity.after = Some(validity.after.map_or(leaves_after, |t| t.max(leaves_after)));
        }
    }
    validity
}

fn accessible_users(
    state: &RealmState,
    viewer: &User,
    policy: AccessPolicy,
) -> Option<HashSet<UserId>> {
    if policy.applies() {
        state.accessible_users(viewer, state.settings().can_access_all_users_group)
    } else {
        None
    }
}

/// A user's presence in Zulip's modern form: both times in whole seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct ModernPresence {
    pub active_timestamp: i64,
    pub idle_timestamp: i64,
}

impl ModernPresence {
    /// Zulip's `get_modern_user_presence_info`: a missing time counts as `date_joined`.
    pub(crate) fn of(row: &PresenceRow, date_joined: Timestamp) -> Self {
        Self {
            active_timestamp: row.last_active_time.unwrap_or(date_joined).unix_seconds(),
            idle_timestamp: row
                .last_connected_time
                .unwrap_or(date_joined)
                .unix_seconds(),
        }
    }
}

/// What a presence report (`POST /users/me/presence`) does to a row at `now`, or `None` when it
/// changes nothing (zerver/actions/presence.py `do_update_user_presence`): the first report
/// creates the row; later, each time moves to now only when it is more than 55 s old, and an
/// active report brings the connected time along.
pub(crate) fn reported_times(
    row: Option<&PresenceRow>,
    status: Status,
    now: Timestamp,
) -> Option<PresenceTimes> {
    let active = status == Status::Active;
    let Some(row) = row else {
        return Some(PresenceTimes {
            last_connected_time: Some(now),
            last_active_time: active.then_some(now),
        });
    };
    let stale = |time: Option<Timestamp>| {
        time.is_none_or(|t| now > t.plus_seconds(UPDATE_MIN_FREQ_SECONDS))
    };
    let mut times = PresenceTimes {
        last_connected_time: row.last_connected_time,
        last_active_time: row.last_active_time,
    };
    let mut changed = false;
    if stale(row.last_connected_time) {
        times.last_connected_time = Some(now);
        changed = true;
    }
    if active && stale(row.last_active_time) {
        times.last_active_time = Some(now);
        if times.last_connected_time.is_none_or(|t| now > t) {
            times.last_connected_time = Some(now);
        }
        changed = true;
    }
    changed.then_some(times)
}

/// Why `GET /users/{user_id_or_email}/presence` has nothing to show, in Zulip's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum UserPresenceError {
    /// Unknown, another realm's, deactivated, or named by a delivery email.
    NoSuchUser,
    /// The user is a bot.
    Bot,
    /// The access limit hides the user from the requester.
    InsufficientPermission,
    /// The user has no presence row.
    NoPresenceData,
}

/// One user's presence as `GET /users/{user_id_or_email}/presence` shows it (Zulip's
/// `get_presence_backend`): no time window; `aggregated` says "offline" after 200 s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UserPresence {
    pub modern: ModernPresence,
    pub website: LegacyPresence,
    pub aggregated_status: &'static str,
}

/// Finds the user `user_id_or_email` names (an integer as Python's `int()` reads it is an id,
/// anything else an API email) and their presence, as `viewer` may see it at `now`.
pub(crate) fn user_presence(
    state: &RealmState,
    viewer: &User,
    policy: AccessPolicy,
    user_id_or_email: &str,
    now: Timestamp,
) -> Result<UserPresence, UserPresenceError> {
    let target = presence_target(state, viewer, policy, user_id_or_email)?;
    let row = state
        .presence_row(target.user_id)
        .ok_or(UserPresenceError::NoPresenceData)?;
    let website = LegacyPresence::of(row, target.date_joined);
    let offline = now.unix_seconds() - website.timestamp > policy.compat.offline_threshold_seconds;
    Ok(UserPresence {
        modern: ModernPresence::of(row, target.date_joined),
        website,
        aggregated_status: if offline {
            "offline"
        } else {
            website.status.as_str()
        },
    })
}

/// One user's per-client presence before feature level 178 (no 14-day window), oldest first,
/// with the aggregated status: the newest report's, or "offline" when it is too old.
pub(crate) fn user_client_presence(
    state: &RealmState,
    viewer: &User,
    policy: AccessPolicy,
    user_id_or_email: &str,
    now: Timestamp,
) -> Result<(Vec<ClientPresence>, &'static str), UserPresenceError> {
    let target = presence_target(state, viewer, policy, user_id_or_email)?;
    let clients = clients_of(state, target);
    let newest = clients.last().ok_or(UserPresenceError::NoPresenceData)?;
    let offline = now.unix_seconds() - newest.timestamp.unix_seconds()
        > policy.compat.offline_threshold_seconds;
    let aggregated = if offline {
        "offline"
    } else {
        newest.status.as_str()
    };
    Ok((clients, aggregated))
}

/// The user a single-user presence request names, or why it names nobody it may see, in
/// Zulip's order.
fn presence_target<'a>(
    state: &'a RealmState,
    viewer: &User,
    policy: AccessPolicy,
    user_id_or_email: &str,
) -> Result<&'a User, UserPresenceError> {
    // Before feature level 43 the segment is always an email.
    let as_id = match policy.compat.user_presence_by_id {
        true => python_int(user_id_or_email),
        false => None,
    };
    let target = match as_id {
        Some(id) => u64::try_from(id).ok().and_then(|id| state.user(id)),
        None => state
            .users()
            .find(|u| u.email.eq_ignore_ascii_case(user_id_or_email)),
    };
    let target = target
        .filter(|u| u.is_active)
        .ok_or(UserPresenceError::NoSuchUser)?;
    if target.is_bot {
        return Err(UserPresenceError::Bot);
    }
    if accessible_users(state, viewer, policy).is_some_and(|ids| !ids.contains(&target.user_id)) {
        return Err(UserPresenceError::InsufficientPermission);
    }
    Ok(target)
}

/// Python's `int(text)` for what fits in an `i64`: surrounding whitespace, an optional sign,
/// and digits with single underscores between them.
fn python_int(text: &str) -> Option<i64> {
    let text = text.trim();
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    let well_formed = !digits.is_empty()
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__")
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    if !well_formed {
        return None;
    }
    text.replace('_', "").parse().ok()
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

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_seconds(seconds)
    }

    fn times(connected: Option<i64>, active: Option<i64>) -> PresenceTimes {
        PresenceTimes {
            last_connected_time: connected.map(at),
            last_active_time: active.map(at),
        }
    }

    #[test]
    fn the_first_report_creates_the_row() {
        assert_eq!(
            reported_times(None, Status::Active, at(500)),
            Some(times(Some(500), Some(500)))
        );
        assert_eq!(
            reported_times(None, Status::Idle, at(500)),
            Some(times(Some(500), None))
        );
    }

    #[test]
    fn later_reports_move_times_only_past_55_seconds() {
        let existing = row(Some(1_000), Some(1_000));
        assert_eq!(
            reported_times(Some(&existing), Status::Active, at(1_055)),
            None
        );
        assert_eq!(
            reported_times(Some(&existing), Status::Idle, at(1_056)),
            Some(times(Some(1_056), Some(1_000)))
        );
        assert_eq!(
            reported_times(Some(&existing), Status::Active, at(1_056)),
            Some(times(Some(1_056), Some(1_056)))
        );
    }

    #[test]
    fn an_active_report_brings_the_connected_time_along() {
        // Connected 10 s ago, active long ago: only the active time is stale, and connected
        // follows it to now.
        let existing = row(Some(1_000), Some(100));
        assert_eq!(
            reported_times(Some(&existing), Status::Active, at(1_010)),
            Some(times(Some(1_010), Some(1_010)))
        );
        assert_eq!(
            reported_times(Some(&existing), Status::Idle, at(1_010)),
            None
        );
        let never_active = row(Some(1_000), None);
        assert_eq!(
            reported_times(Some(&never_active), Status::Active, at(1_001)),
            Some(times(Some(1_001), Some(1_001)))
        );
    }

    #[test]
    fn user_ids_are_read_like_pythons_int() {
        assert_eq!(python_int("12"), Some(12));
        assert_eq!(python_int(" +12 "), Some(12));
        assert_eq!(python_int("-3"), Some(-3));
        assert_eq!(python_int("1_0"), Some(10));
        assert_eq!(python_int("1__0"), None);
        assert_eq!(python_int("_1"), None);
        assert_eq!(python_int("iago@zulip.com"), None);
        assert_eq!(python_int(""), None);
    }

    #[test]
    fn the_window_validity_ends_when_the_first_listed_row_leaves_and_starts_after_the_last_left() {
        use crate::domain::store::{AccessAllUsersGroup, ProfileData, RealmSettings, SystemGroup};
        let user = |id: u64| User {
            user_id: id,
            email: format!("u{id}@example.com").into(),
            delivery_email: format!("u{id}@example.com").into(),
            full_name: "".into(),
            role: crate::domain::store::Role::Member,
            is_bot: false,
            is_active: true,
            presence_enabled: true,
            date_joined: at(0),
            api_key: "".into(),
            timezone: "".into(),
            avatar: crate::domain::store::Avatar::Gravatar,
            avatar_version: 1,
            email_address_visibility: crate::domain::store::EmailVisibility::Everyone,
            bot_type: None,
            bot_owner_id: None,
            is_imported_stub: false,
            profile_data: ProfileData::default(),
        };
        let settings = RealmSettings {
            subdomain: String::new(),
            name: String::new(),
            description: String::new(),
            presence_disabled: false,
            deactivated: false,
            can_access_all_users_group: AccessAllUsersGroup::Everyone,
            can_create_public_channel_group: SystemGroup::Members,
            can_create_private_channel_group: SystemGroup::Members,
            can_create_web_public_channel_group: SystemGroup::Owners,
            can_invite_users_group: SystemGroup::Members,
            enable_spectator_access: false,
            register_state: Default::default(),
        };
        let window = PRESENCE_WINDOW_SECONDS;
        let now = 10 * window;
        let state = RealmState::new(crate::domain::store::RealmContents {
            settings,
            users: (1..=3).map(user).collect(),
            channels: Vec::new(),
            direct_message_groups: Vec::new(),
            direct_message_pairs: Vec::new(),
            presence: vec![
                (1, row(Some(now - 100), None)),
                (2, row(Some(now - 50), None)),
                (3, row(Some(now - window - 7), None)),
            ],
            client_presence: Vec::new(),
            last_update_id: 0,
        });
        let validity = realm_presence_validity(&state, at(now));
        assert_eq!(validity.until, Some(at(now - 100 + window)));
        assert_eq!(validity.after, Some(at(now - 7)));
        // Just inside both ends, the same rows are listed as now.
        for probe in [now - 6, now + window - 100] {
            let listed = |t| {
                state
                    .presence_rows()
                    .filter(|(_, r)| r.last_connected_time.unwrap() >= at(t - window))
                    .count()
            };
            assert_eq!(listed(probe), listed(now));
        }
    }
}
