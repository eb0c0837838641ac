//! The presence endpoints (zerver/views/presence.py): the realm's presence, one user's, and a
//! client's own report.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use crate::app_state::{AppState, RealmPresenceIgnoredParameters};
use crate::domain::clock::Timestamp;
use crate::domain::event_queues::{comes_online, publish_presence};
use crate::domain::presence_rules::{
    history_window_fits, old_modern_presence, realm_client_presence, realm_presence,
    realm_presence_validity, report_client, reported_times, sees_everyone, select_presence,
    user_client_presence, user_presence, website_client, AccessPolicy, LegacyPresence,
    ModernPresence, OldModernPresence, PresenceQuery, Status, UserPresenceError, WEBSITE,
};
use crate::domain::python_int::PyInt;
use crate::domain::store::ClientPresence as ClientRow;
use crate::domain::store::{Realm, User, UserId};
use crate::zulip_api::api_errors::{ApiError, ApiResult};
use crate::zulip_api::authentication::AuthedUser;
use crate::zulip_api::body_cache::{BodyCache, CacheKey};
use crate::zulip_api::parameters::RequestParams;
use crate::zulip_api::responses::{finish_success, success_prefix, Success};

/// One user's presence in the legacy format (`LegacyPresenceFormat` in Zulip's OpenAPI).
#[derive(Debug, Serialize)]
pub(super) struct UserPresence {
    aggregated: AggregatedPresence,
    website: ClientPresence,
}

#[derive(Debug, Serialize)]
struct AggregatedPresence {
    client: &'static str,
    status: &'static str,
    timestamp: i64,
}

#[derive(Debug, Serialize)]
struct ClientPresence {
    client: &'static str,
    status: &'static str,
    timestamp: i64,
    pushable: bool,
}

impl From<LegacyPresence> for UserPresence {
    fn from(presence: LegacyPresence) -> Self {
        let status = presence.status.as_str();
        Self {
            aggregated: AggregatedPresence {
                client: WEBSITE,
                status,
                timestamp: presence.timestamp,
            },
            website: ClientPresence {
                client: WEBSITE,
                status,
                timestamp: presence.timestamp,
                pushable: false,
            },
        }
    }
}

/// One user's presence before feature level 178: `aggregated` (the newest report), then one
/// entry per client, oldest report first (Zulip 6's `get_legacy_user_info`).
fn per_client(clients: &[ClientRow]) -> OrderedMap<LegacyEntry> {
    let mut entries = Vec::with_capacity(clients.len() + 1);
    if let Some(newest) = clients.last() {
        entries.push((
            "aggregated".to_owned(),
            LegacyEntry::Aggregated {
                client: newest.client.clone(),
                status: newest.status.as_str(),
                timestamp: newest.timestamp.unix_seconds(),
            },
        ));
    }
    for client in clients {
        entries.push((
            client.client.clone(),
            LegacyEntry::Client {
                client: client.client.clone(),
                status: client.status.as_str(),
                timestamp: client.timestamp.unix_seconds(),
                pushable: client.pushable,
            },
        ));
    }
    OrderedMap(entries)
}

/// An entry of `per_client`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(super) enum LegacyEntry {
    Aggregated {
        client: String,
        status: &'static str,
        timestamp: i64,
    },
    Client {
        client: String,
        status: &'static str,
        timestamp: i64,
        pushable: bool,
    },
}

/// Realm presence before feature level 178.
#[derive(Debug, Serialize)]
pub(super) struct ClientPresenceResponse {
    presences: BTreeMap<String, OrderedMap<LegacyEntry>>,
    server_timestamp: f64,
}

impl AppState {
    /// The request's unsupported parameters, when this server's feature level lists them.
    pub(super) fn ignored_parameters(&self, params: &RequestParams, used: &[&str]) -> Vec<String> {
        if self.store.server().compat.ignored_parameters_unsupported {
            params.ignored(used)
        } else {
            Vec::new()
        }
    }
}

/// The start of a realm-presence body: the envelope and `presences`; `server_timestamp`
/// follows per response.
#[derive(Debug, Serialize)]
struct RealmPresencePrefix {
    presences: BTreeMap<String, UserPresence>,
}

impl RealmPresencePrefix {
    fn bytes(presences: BTreeMap<String, LegacyPresence>) -> Bytes {
        success_prefix(&Self {
            presences: legacy_presences(presences),
        })
    }
}

/// `GET /api/v1/realm/presence`: https://zulip.com/api/get-presence
///
/// Viewers who see everyone share one cached body per realm (see `body_cache`); only a guest under
/// the access limit gets a body built for them.
pub(super) async fn get_realm_presence(
    State(state): State<AppState>,
    authed: AuthedUser,
    params: RequestParams,
) -> Response {
    let now = state.clock.now();
    let policy = AccessPolicy::of(&authed.server);
    let ignored = match state.options.realm_presence_ignored_parameters {
        RealmPresenceIgnoredParameters::Listed => state.ignored_parameters(&params, &[]),
        RealmPresenceIgnoredParameters::Omitted => Vec::new(),
    };
    let (realm, viewer) = (&authed.realm, &authed.user);
    if !policy.compat.single_client_presence {
        let presences = realm.read(|state_now| {
            realm_client_presence(state_now, viewer, policy, now)
                .into_iter()
                .map(|(user, clients)| (user.email.to_string(), per_client(&clients)))
                .collect()
        });
        return Success::new(ClientPresenceResponse {
            presences,
            server_timestamp: now.unix_seconds_f64(),
        })
        .with_ignored_parameters(ignored)
        .into_response();
    }
    let prefix =
        shared_realm_presence((&authed.realm, &authed.user), policy, now).unwrap_or_else(|| {
            RealmPresencePrefix::bytes(
                realm.read(|state_now| realm_presence(state_now, viewer, policy, now)),
            )
        });
    finish_success(prefix, now.unix_seconds_f64(), &ignored)
}

/// The start of the realm-presence body that every viewer who sees everyone shares (kept in the
/// realm's cache), or `None` for a guest under the access limit. Feature level 178 or later.
pub(crate) fn shared_realm_presence(
    (realm, viewer): (&Realm, &User),
    policy: AccessPolicy,
    now: Timestamp,
) -> Option<Bytes> {
    realm.read(|state_now| {
        if !sees_everyone(state_now, viewer, policy) {
            return None;
        }
        let key = CacheKey {
            version: state_now.version(),
            feature_level: policy.compat.level,
        };
        let build = || {
            let presences = realm_presence(state_now, viewer, policy, now);
            // A kept body holds no spare room: the serializer's buffer can be twice its size.
            let prefix = Bytes::copy_from_slice(&RealmPresencePrefix::bytes(presences));
            (prefix, realm_presence_validity(state_now, now))
        };
        // The cache lives beside the realm, as long as it does.
        Some(match realm.attachment::<BodyCache>() {
            Some(cache) => cache.get_or_build(key, now, build),
            None => build().0,
        })
    })
}

fn legacy_presences(presences: BTreeMap<String, LegacyPresence>) -> BTreeMap<String, UserPresence> {
    presences
        .into_iter()
        .map(|(email, presence)| (email, presence.into()))
        .collect()
}

/// The body of `POST /users/me/presence` after `result` and `msg`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(super) enum UpdatePresenceResponse {
    /// `ping_only=true`: nothing.
    PingOnly {},
    Presences {
        presences: Presences,
        server_timestamp: f64,
        /// From feature level 263.
        #[serde(skip_serializing_if = "Option::is_none")]
        presence_last_update_id: Option<serde_json::Value>,
    },
}

/// Presences in the legacy (by API email) or modern (by user id) format.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(super) enum Presences {
    Legacy(BTreeMap<String, UserPresence>),
    Modern(BTreeMap<UserId, ModernPresence>),
    /// Before feature level 178: one entry per client.
    PerClient(BTreeMap<String, OrderedMap<LegacyEntry>>),
    /// Before feature level 178, with `slim_presence`.
    OldModern(BTreeMap<UserId, OldModernPresence>),
}

/// The client a request comes from, as Zulip named it (zerver/decorator.py `get_client_name`):
/// the `client` parameter, else the User-Agent's name ("ZulipPython/0.9.1" is "ZulipPython",
/// zerver/lib/user_agent.py), else "Unspecified".
fn client_name(params: &RequestParams, headers: &HeaderMap) -> String {
    if let Some(client) = params.get("client") {
        return client.to_owned();
    }
    let Some(user_agent) = headers.get(header::USER_AGENT) else {
        return "Unspecified".to_owned();
    };
    let user_agent = String::from_utf8_lossy(user_agent.as_bytes());
    // `^(?P<name>[^/ ]*[^0-9/(]*)`: up to a slash or space, then on up to a digit, slash or
    // parenthesis.
    let first = user_agent.find(['/', ' ']).unwrap_or(user_agent.len());
    let rest = &user_agent[first..];
    let more = rest
        .find(|c: char| c.is_ascii_digit() || c == '/' || c == '(')
        .unwrap_or(rest.len());
    user_agent[..first + more].to_owned()
}

/// The parameters `POST /users/me/presence` reads at every feature level
/// (`update_active_status_backend`); `last_update_id` and `history_limit_days` came later.
const UPDATE_PRESENCE_PARAMETERS: &[&str] =
    &["new_user_input", "ping_only", "slim_presence", "status"];

/// `POST /api/v1/users/me/presence`: https://zulip.com/api/update-presence
pub(super) async fn update_presence(
    State(state): State<AppState>,
    authed: AuthedUser,
    headers: HeaderMap,
    params: RequestParams,
) -> ApiResult<Success<UpdatePresenceResponse>> {
    let user = &authed.user;
    if user.is_bot {
        return Err(ApiError::BadRequest(
            "This endpoint does not accept bot requests.".to_owned(),
        ));
    }
    let compat = authed.server.compat;
    let has_last_update_id = compat.presence_last_update_id;
    let has_history_limit = compat.history_limit_days;
    // typed_endpoint reads the view's parameters in signature order (history_limit_days,
    // last_update_id, new_user_input, ping_only, slim_presence, status) and reports the first
    // problem, a missing status at its place. A parameter the server's level does not know
    // yet is not read: it is ignored and listed.
    let history_limit_days = match has_history_limit {
        true => params.json_int("history_limit_days")?,
        false => None,
    };
    let last_update_id = match has_last_update_id {
        true => params.json_int("last_update_id")?,
        false => None,
    };
    // new_user_input only feeds Zulip's activity statistics, which nothing here reports.
    params.json_bool("new_user_input", false)?;
    let ping_only = params.json_bool("ping_only", false)?;
    let slim_presence = params.json_bool("slim_presence", false)? || last_update_id.is_some();
    let status = params.required("status")?;
    let status = Status::from_wire(status)
        .ok_or_else(|| ApiError::BadRequest(format!("Invalid status: {status}")))?;
    let mut used = UPDATE_PRESENCE_PARAMETERS.to_vec();
    used.extend(has_last_update_id.then_some("last_update_id"));
    used.extend(has_history_limit.then_some("history_limit_days"));

    let now = state.clock.now();
    let per_client_level = !compat.single_client_presence;
    if user.presence_enabled {
        if per_client_level {
            // Before the presence row changes: it seeds the user's first client row.
            let client = client_name(&params, &headers);
            authed.realm.report_client_presence(
                user.user_id,
                |row| {
                    row.map(|row| vec![website_client(row, user.date_joined)])
                        .unwrap_or_default()
                },
                |clients| report_client(clients, &client, status, now),
            );
        }
        let mut online = false;
        // At the ids' limit Zulip's database refuses the write: a 500.
        let changed = authed
            .realm
            .report_presence(user.user_id, |row| {
                online = comes_online(row, status == Status::Active, now);
                reported_times(row, status, now)
            })
            .map_err(|_| ApiError::Internal)?;
        if changed.is_some() && online {
            authed.realm.read(|realm| {
                publish_presence(
                    &state.control.events,
                    realm,
                    user,
                    AccessPolicy::of(&authed.server),
                    now,
                )
            });
        }
    }
    let ignored = state.ignored_parameters(&params, &used);
    if ping_only {
        return Ok(
            Success::new(UpdatePresenceResponse::PingOnly {}).with_ignored_parameters(ignored)
        );
    }
    // The answer's query computes `now - timedelta(days=history_limit_days)` (after the write,
    // never with ping_only or presence disabled, nor for 0, which queries nothing): a date
    // Python cannot hold makes Zulip answer 500.
    let days = history_limit_days.as_ref();
    if !authed
        .realm
        .read(|realm| history_window_fits(realm, now, days))
    {
        return Err(ApiError::Internal);
    }
    let query = PresenceQuery {
        after_update_id: last_update_id.as_ref().map(PyInt::saturating_i64),
        history_limit_days: history_limit_days.as_ref().map(PyInt::saturating_i64),
    };
    let policy = AccessPolicy::of(&authed.server);
    if per_client_level {
        let presences = authed.realm.read(|realm| {
            let rows = realm_client_presence(realm, user, policy, now);
            if slim_presence {
                Presences::OldModern(
                    rows.into_iter()
                        .map(|(user, clients)| (user.user_id, old_modern_presence(&clients)))
                        .collect(),
                )
            } else {
                Presences::PerClient(
                    rows.into_iter()
                        .map(|(user, clients)| (user.email.to_string(), per_client(&clients)))
                        .collect(),
                )
            }
        });
        return Ok(Success::new(UpdatePresenceResponse::Presences {
            presences,
            server_timestamp: now.unix_seconds_f64(),
            presence_last_update_id: None,
        })
        .with_ignored_parameters(ignored));
    }
    let (presences, presence_last_update_id, echoes_client) = authed.realm.read(|realm| {
        let selection = select_presence(realm, user, policy, query, now);
        let presences = if slim_presence {
            Presences::Modern(selection.modern())
        } else {
            Presences::Legacy(legacy_presences(selection.legacy()))
        };
        let echoes_client = selection.rows.is_empty() && !realm.settings().presence_disabled;
        (presences, selection.last_update_id, echoes_client)
    });
    // With no row to return, the client's own last_update_id comes back, as the Python
    // integer it sent; Zulip's JSON writer refuses integers beyond 64 bits (a 500).
    let presence_last_update_id = match (&last_update_id, echoes_client) {
        (Some(client), true) => client.to_json().ok_or(ApiError::Internal)?,
        _ => Value::from(presence_last_update_id),
    };
    Ok(Success::new(UpdatePresenceResponse::Presences {
        presences,
        server_timestamp: now.unix_seconds_f64(),
        presence_last_update_id: has_last_update_id.then_some(presence_last_update_id),
    })
    .with_ignored_parameters(ignored))
}

/// The body of `GET /users/{user_id_or_email}/presence` after `result` and `msg`, in the shape
/// of the server's feature level.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(super) enum UserPresenceResponse {
    /// From feature level 497: modern and legacy fields together, as Zulip builds them
    /// (`{**modern, **legacy}`), then `server_timestamp`.
    Combined {
        presence: CombinedPresence,
        server_timestamp: f64,
    },
    /// Feature levels 487 to 496: the modern fields only.
    Modern { presence: ModernPresence },
    /// Before 487: `aggregated`, then one entry per client (only `website` from 178), each
    /// without `client` and `pushable` (zerver/views/presence.py `get_presence_backend` pops
    /// them); no `server_timestamp`.
    Legacy { presence: OrderedMap<StatusAndTime> },
}

#[derive(Debug, Serialize)]
pub(super) struct CombinedPresence {
    active_timestamp: i64,
    idle_timestamp: i64,
    aggregated: StatusAndTime,
    website: StatusAndTime,
}

#[derive(Debug, Serialize)]
pub(super) struct StatusAndTime {
    status: &'static str,
    timestamp: i64,
}

/// A JSON object whose keys keep the order they were put in.
#[derive(Debug)]
pub(super) struct OrderedMap<T>(Vec<(String, T)>);

impl<T: Serialize> Serialize for OrderedMap<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// `GET /api/v1/users/{user_id_or_email}/presence`: https://zulip.com/api/get-user-presence
pub(super) async fn get_user_presence(
    State(state): State<AppState>,
    authed: AuthedUser,
    Path(user_id_or_email): Path<String>,
    params: RequestParams,
) -> ApiResult<Success<UserPresenceResponse>> {
    let now = state.clock.now();
    let policy = AccessPolicy::of(&authed.server);
    let compat = policy.compat;
    let error = |err| {
        ApiError::BadRequest(match err {
            UserPresenceError::NoSuchUser => "No such user".to_owned(),
            UserPresenceError::Bot => "Presence is not supported for bot users.".to_owned(),
            UserPresenceError::InsufficientPermission => "Insufficient permission".to_owned(),
            UserPresenceError::NoPresenceData => format!("No presence data for {user_id_or_email}"),
        })
    };
    let ignored = state.ignored_parameters(&params, &[]);
    if !compat.single_client_presence {
        let (clients, aggregated) = authed
            .realm
            .read(|realm| user_client_presence(realm, &authed.user, policy, &user_id_or_email, now))
            .map_err(error)?;
        let mut entries = Vec::with_capacity(clients.len() + 1);
        if let Some(newest) = clients.last() {
            entries.push((
                "aggregated".to_owned(),
                StatusAndTime {
                    status: aggregated,
                    timestamp: newest.timestamp.unix_seconds(),
                },
            ));
        }
        for client in &clients {
            entries.push((
                client.client.clone(),
                StatusAndTime {
                    status: client.status.as_str(),
                    timestamp: client.timestamp.unix_seconds(),
                },
            ));
        }
        return Ok(Success::new(UserPresenceResponse::Legacy {
            presence: OrderedMap(entries),
        })
        .with_ignored_parameters(ignored));
    }
    let found = authed
        .realm
        .read(|realm| user_presence(realm, &authed.user, policy, &user_id_or_email, now));
    let presence = found.map_err(error)?;
    let timestamp = presence.website.timestamp;
    let aggregated = StatusAndTime {
        status: presence.aggregated_status,
        timestamp,
    };
    let website = StatusAndTime {
        status: presence.website.status.as_str(),
        timestamp,
    };
    let body = if compat.user_presence_combined {
        UserPresenceResponse::Combined {
            presence: CombinedPresence {
                active_timestamp: presence.modern.active_timestamp,
                idle_timestamp: presence.modern.idle_timestamp,
                aggregated,
                website,
            },
            server_timestamp: now.unix_seconds_f64(),
        }
    } else if compat.user_presence_modern {
        UserPresenceResponse::Modern {
            presence: presence.modern,
        }
    } else {
        UserPresenceResponse::Legacy {
            presence: OrderedMap(vec![
                ("aggregated".to_owned(), aggregated),
                (WEBSITE.to_owned(), website),
            ]),
        }
    };
    Ok(Success::new(body).with_ignored_parameters(ignored))
}
