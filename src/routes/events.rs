//! Real-time presence (zerver/views/events_register.py, zerver/tornado/views.py):
//! `POST /register` makes an event queue and returns the presence snapshot, `GET /events`
//! long-polls it, `DELETE /events` deletes it. Presence events come from `publish_presence`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::Extensions;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::auth::AuthedUser;
use crate::error::{ApiError, ApiResult};
use crate::events::{jitter, AckError, EventQueue, QueueOptions};
use crate::feature_level::{
    HISTORY_LIMIT_DAYS, IDLE_QUEUE_TIMEOUT, PRESENCE_LAST_UPDATE_ID, SIMPLIFIED_PRESENCE_EVENTS,
    ZULIP_MERGE_BASE,
};
use crate::journal::RequestNote;
use crate::params::RequestParams;
use crate::presence::{select_presence, ModernPresence, PresenceQuery, OFFLINE_THRESHOLD_SECONDS};
use crate::response::Success;
use crate::state::AppState;
use crate::store::UserId;

use super::presence::UserPresence;

/// `server_presence_ping_interval_seconds`: how often clients report presence.
const PRESENCE_PING_INTERVAL_SECONDS: i64 = 60;

/// The fetch types `/register` returns state for; others are skipped, as Zulip skips unknown ones.
const MODELLED_FETCH_TYPES: &[&str] = &["presence", "realm"];

/// The `/register` parameters this server reads or accepts (every other one is listed back as
/// unsupported).
const REGISTER_PARAMETERS: &[&str] = &[
    "all_public_streams",
    "apply_markdown",
    "client_capabilities",
    "client_gravatar",
    "dont_block",
    "event_types",
    "fetch_event_types",
    "include_streams",
    "include_subscribers",
    "narrow",
    "queue_lifespan_secs",
    "slim_presence",
];

/// An optional JSON list of event type names.
fn event_types(params: &RequestParams, name: &'static str) -> ApiResult<Option<Vec<String>>> {
    let Some(text) = params.get(name) else {
        return Ok(None);
    };
    let value: Value = serde_json::from_str(text)
        .map_err(|_| ApiError::BadRequest(format!("{name} is not valid JSON")))?;
    match value {
        Value::Null => Ok(None),
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::String(name) => Ok(name),
                _ => Err(ApiError::BadRequest(format!("{name}[0] is not a string"))),
            })
            .collect::<ApiResult<Vec<String>>>()
            .map(Some),
        _ => Err(ApiError::BadRequest(format!("{name} is not a list"))),
    }
}

fn wants(types: &Option<Vec<String>>, name: &str) -> bool {
    types
        .as_ref()
        .is_none_or(|types| types.iter().any(|t| t == name))
}

/// The `/register` body after `result` and `msg`.
#[derive(Debug, Serialize)]
pub(super) struct RegisterResponse {
    zulip_version: String,
    zulip_feature_level: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    zulip_merge_base: Option<String>,
    #[serde(flatten)]
    presence: Option<PresenceSnapshot>,
    #[serde(flatten)]
    realm: Option<RealmPresenceSettings>,
    queue_id: String,
    last_event_id: i64,
    /// From feature level 481.
    #[serde(skip_serializing_if = "Option::is_none")]
    idle_queue_timeout_secs: Option<i64>,
}

#[derive(Debug, Serialize)]
struct PresenceSnapshot {
    presences: Snapshot,
    server_timestamp: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    presence_last_update_id: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Snapshot {
    Legacy(BTreeMap<String, UserPresence>),
    Modern(BTreeMap<UserId, ModernPresence>),
}

#[derive(Debug, Serialize)]
struct RealmPresenceSettings {
    server_presence_ping_interval_seconds: i64,
    server_presence_offline_threshold_seconds: i64,
    event_queue_longpoll_timeout_seconds: u64,
}

/// `POST /api/v1/register`: https://zulip.com/api/register-queue
pub(super) async fn register(
    State(state): State<AppState>,
    authed: AuthedUser,
    extensions: Extensions,
    params: RequestParams,
) -> ApiResult<Success<RegisterResponse>> {
    let server = state.store.server();
    let level = server.feature_level;
    let types = event_types(&params, "event_types")?;
    let fetch_types = match event_types(&params, "fetch_event_types")? {
        Some(types) => Some(types),
        None => types.clone(),
    };
    let slim_presence = params.json_bool("slim_presence", false)?;
    if let (Some(note), Some(types)) = (extensions.get::<RequestNote>(), &fetch_types) {
        let unmodelled: Vec<&str> = types
            .iter()
            .map(String::as_str)
            .filter(|name| !MODELLED_FETCH_TYPES.contains(name))
            .collect();
        if !unmodelled.is_empty() {
            note.remark(format!(
                "fetch types not modelled by this mock, so not in the response: {}",
                unmodelled.join(", ")
            ));
        }
    }
    let history_limit_days = match level.has(HISTORY_LIMIT_DAYS) {
        true => params.json_int("presence_history_limit_days")?,
        false => None,
    };
    let simplified = level.has(SIMPLIFIED_PRESENCE_EVENTS)
        && client_capability(&params, "simplified_presence_events")?;
    let idle_timeout = match level.has(IDLE_QUEUE_TIMEOUT) {
        true => params.json_int("idle_queue_timeout")?,
        false => None,
    };
    if idle_timeout.is_some_and(|seconds| seconds < 1) {
        return Err(ApiError::BadRequest(
            "idle_queue_timeout must be 1 or more".to_owned(),
        ));
    }
    // Parameters newer than the server's level are not read: they are ignored and listed.
    let mut used = REGISTER_PARAMETERS.to_vec();
    used.extend(
        level
            .has(HISTORY_LIMIT_DAYS)
            .then_some("presence_history_limit_days"),
    );
    used.extend(
        level
            .has(IDLE_QUEUE_TIMEOUT)
            .then_some("idle_queue_timeout"),
    );
    let now = state.clock.now();
    let options = QueueOptions {
        presence: wants(&types, "presence"),
        slim_presence,
        simplified_presence: simplified,
        idle_timeout_seconds: idle_timeout,
    };
    let queue = state
        .control
        .events
        .register(authed.realm.subdomain(), authed.user.user_id, options, now)
        .map_err(|_| ApiError::BadRequest("Too many event queues on this server".to_owned()))?;
    let presence = wants(&fetch_types, "presence").then(|| {
        let policy = state.access_policy();
        let query = PresenceQuery {
            after_update_id: None,
            history_limit_days,
        };
        authed.realm.read(|realm| {
            let selection = select_presence(realm, &authed.user, policy, query, now);
            let presences = if slim_presence || simplified {
                Snapshot::Modern(selection.modern())
            } else {
                Snapshot::Legacy(
                    selection
                        .legacy()
                        .into_iter()
                        .map(|(email, presence)| (email, presence.into()))
                        .collect(),
                )
            };
            PresenceSnapshot {
                presences,
                server_timestamp: now.unix_seconds_f64(),
                presence_last_update_id: level
                    .has(PRESENCE_LAST_UPDATE_ID)
                    .then_some(selection.last_update_id),
            }
        })
    });
    let realm = wants(&fetch_types, "realm").then(|| RealmPresenceSettings {
        server_presence_ping_interval_seconds: PRESENCE_PING_INTERVAL_SECONDS,
        server_presence_offline_threshold_seconds: OFFLINE_THRESHOLD_SECONDS,
        event_queue_longpoll_timeout_seconds: state
            .control
            .events
            .settings()
            .longpoll_timeout
            .as_secs(),
    });
    Ok(Success::new(RegisterResponse {
        zulip_version: server.zulip_version.clone(),
        zulip_feature_level: level.0,
        zulip_merge_base: level
            .has(ZULIP_MERGE_BASE)
            .then(|| server.zulip_merge_base.clone()),
        presence,
        realm,
        queue_id: queue.id.clone(),
        last_event_id: -1,
        idle_queue_timeout_secs: level
            .has(IDLE_QUEUE_TIMEOUT)
            .then(|| queue.idle_timeout(state.control.events.settings().idle_timeout_seconds)),
    })
    .with_ignored_parameters(state.ignored_parameters(&params, &used)))
}

/// Whether `client_capabilities` (a JSON object) turns `name` on.
fn client_capability(params: &RequestParams, name: &str) -> ApiResult<bool> {
    let Some(text) = params.get("client_capabilities") else {
        return Ok(false);
    };
    let value: Value = serde_json::from_str(text)
        .map_err(|_| ApiError::BadRequest("client_capabilities is not valid JSON".to_owned()))?;
    match value {
        Value::Object(capabilities) => Ok(capabilities.get(name) == Some(&Value::Bool(true))),
        _ => Err(ApiError::BadRequest(
            "client_capabilities is not a dict".to_owned(),
        )),
    }
}

/// The events answer; `queue_id` when the answer came after waiting.
#[derive(Debug, Serialize)]
pub(super) struct EventsResponse {
    events: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    queue_id: Option<String>,
}

/// `queue_id` names no queue of this user.
fn bad_queue(queue_id: &str) -> ApiError {
    ApiError::BadEventQueue(queue_id.to_owned())
}

fn users_queue(
    state: &AppState,
    authed: &AuthedUser,
    queue_id: &str,
) -> ApiResult<std::sync::Arc<EventQueue>> {
    state
        .control
        .events
        .get(queue_id, state.clock.now())
        .filter(|queue| {
            queue.user_id == authed.user.user_id && queue.subdomain == authed.realm.subdomain()
        })
        .ok_or_else(|| bad_queue(queue_id))
}

/// `GET /api/v1/events`: https://zulip.com/api/get-events
pub(super) async fn get_events(
    State(state): State<AppState>,
    authed: AuthedUser,
    params: RequestParams,
) -> ApiResult<Success<EventsResponse>> {
    let queue_id = params.required("queue_id")?.to_owned();
    let last_event_id = params
        .json_int("last_event_id")?
        .ok_or(ApiError::MissingArgument("last_event_id"))?;
    let dont_block = params.json_bool("dont_block", false)?;
    let queue = users_queue(&state, &authed, &queue_id)?;
    queue
        .acknowledge(last_event_id, state.clock.now())
        .map_err(|err| {
            ApiError::BadRequest(match err {
                AckError::AlreadyPruned { newest_pruned } => {
                    format!("An event newer than {newest_pruned} has already been pruned!")
                }
                AckError::NotInQueue { last_event_id } => {
                    format!("Event {last_event_id} was not in this queue")
                }
            })
        })?;
    let events = &state.control.events;
    let pending = queue.pending();
    if !pending.is_empty() || dont_block {
        return Ok(Success::new(EventsResponse {
            events: pending,
            queue_id: None,
        }));
    }
    let ticket = queue.start_waiting();
    let _waiting = queue.waiting_guard(ticket);
    let settings = events.settings();
    let heartbeat = jitter(settings.heartbeat_min, settings.heartbeat_max);
    let deadline = tokio::time::Instant::now() + heartbeat.min(settings.longpoll_timeout);
    let answer = loop {
        let woken = queue.woken();
        let closed = events.closed();
        tokio::pin!(woken, closed);
        woken.as_mut().enable();
        closed.as_mut().enable();
        if queue.is_removed() {
            // Deleted while this poll waited (through the admin API, say): the client learns
            // it now, as it would on its next poll.
            return Err(bad_queue(&queue_id));
        }
        if !queue.is_current(ticket) || events.is_closing() {
            break Vec::new();
        }
        let pending = queue.pending();
        if !pending.is_empty() {
            break pending;
        }
        tokio::select! {
            () = &mut woken => continue,
            () = &mut closed => break Vec::new(),
            () = tokio::time::sleep_until(deadline) => {
                if heartbeat <= settings.longpoll_timeout {
                    let mut event = Map::new();
                    event.insert("type".to_owned(), Value::from("heartbeat"));
                    queue.push(event, settings.max_events);
                }
                break queue.pending();
            }
        }
    };
    queue.stop_waiting(ticket, state.clock.now());
    Ok(Success::new(EventsResponse {
        events: answer,
        queue_id: Some(queue_id),
    }))
}

/// `DELETE /api/v1/events`: https://zulip.com/api/delete-queue
pub(super) async fn delete_events(
    State(state): State<AppState>,
    authed: AuthedUser,
    params: RequestParams,
) -> ApiResult<Success<Map<String, Value>>> {
    let queue_id = params.required("queue_id")?;
    let queue = users_queue(&state, &authed, queue_id)?;
    state.control.events.remove(&queue.id);
    Ok(Success::new(Map::new()))
}
