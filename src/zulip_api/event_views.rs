//! Real-time events (zerver/views/events_register.py, zerver/lib/events.py,
//! zerver/tornado/views.py): `POST /register` makes an event queue and returns the state the
//! client fetches (presence and the user directory, built from the realm; other fetch types
//! from the realm's `register_state`), `GET /events` long-polls it, `DELETE /events` deletes
//! it. Events come from `publish_presence` and `publish_realm_user`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::Extensions;
use axum::response::IntoResponse;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::app_state::AppState;
use crate::domain::event_queues::{jitter, AckError, EventQueue, QueueOptions, QueuedEvent};
use crate::domain::feature_levels::Compat;
use crate::domain::presence_rules::{history_window_fits, select_presence, PresenceQuery};
use crate::domain::python_int::PyInt;
use crate::domain::store::{RealmState, Role, User};
use crate::domain::user_directory::{
    accessible_users, avatar_source, avatar_url, fake_email_domain, inaccessible_user_object,
    user_object, Format,
};
use crate::fixtures::MODELLED_FETCH_TYPES;
use crate::test_control::request_journal::RequestNote;
use crate::zulip_api::api_errors::{ApiError, ApiResult};
use crate::zulip_api::authentication::AuthedUser;
use crate::zulip_api::parameters::RequestParams;
use crate::zulip_api::responses::Success;

use super::presence_views::UserPresence;

/// `server_presence_ping_interval_seconds`: how often clients report presence.
const PRESENCE_PING_INTERVAL_SECONDS: i64 = 60;

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
    let Some(items) = params.json_list(name)? else {
        return Ok(None);
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(name) => Ok(name),
            _ => Err(ApiError::BadRequest(format!("{name}[{i}] is not a string"))),
        })
        .collect::<ApiResult<Vec<String>>>()
        .map(Some)
}

fn wants(types: &Option<Vec<String>>, name: &str) -> bool {
    types
        .as_ref()
        .is_none_or(|types| types.iter().any(|t| t == name))
}

/// Zulip's fetch types in the order `fetch_initial_state_data` writes their state
/// (zerver/lib/events.py). `recent_private_conversations` and `update_message_flags`
/// (`unread_msgs`) are written after the others, with `realm_users`, by `post_process_state`.
const FETCH_ORDER: &[&str] = &[
    "alert_words",
    "custom_profile_fields",
    "onboarding_steps",
    "message",
    "saved_snippets",
    "navigation_views",
    "drafts",
    "scheduled_messages",
    "reminders",
    "muted_topics",
    "muted_users",
    "presence",
    "realm_user_groups",
    "realm",
    "realm_user_settings_defaults",
    "realm_domains",
    "realm_emoji",
    "realm_linkifiers",
    "realm_filters",
    "realm_playgrounds",
    "realm_billing",
    "realm_user",
    "realm_bot",
    "realm_embedded_bots",
    "realm_incoming_webhook_bots",
    "subscription",
    "channel_folders",
    "starred_messages",
    "stream",
    "default_streams",
    "default_stream_groups",
    "stop_words",
    "update_display_settings",
    "update_global_notifications",
    "user_settings",
    "user_status",
    "user_topic",
    "video_calls",
    "giphy",
    "push_device",
];

/// The fetch types whose state `post_process_state` writes last, in its order (`unread_msgs`,
/// then `realm_users` and `realm_non_active_users` from `realm_user`, then
/// `recent_private_conversations`).
const POST_PROCESSED: &[&str] = &["update_message_flags", "recent_private_conversations"];

/// A `/register` body being built: keys in the order Zulip writes them.
#[derive(Debug, Default)]
struct Body(Map<String, Value>);

impl Body {
    fn put(&mut self, key: &str, value: impl Into<Value>) {
        self.0.insert(key.to_owned(), value.into());
    }

    /// The keys a test gave for `fetch_type` (the realm's `register_state`), in its order.
    fn put_given(&mut self, given: &Map<String, Value>, fetch_type: &str) {
        if let Some(Value::Object(keys)) = given.get(fetch_type) {
            for (key, value) in keys {
                self.0.insert(key.clone(), value.clone());
            }
        }
    }
}

/// `POST /api/v1/register`: https://zulip.com/api/register-queue
pub(super) async fn register(
    State(state): State<AppState>,
    authed: AuthedUser,
    extensions: Extensions,
    params: RequestParams,
) -> ApiResult<Success<Map<String, Value>>> {
    let server = Arc::clone(&authed.server);
    let compat = server.compat;
    // The view's parameters in its signature order (zerver/views/events_register.py), each
    // checked before the next: apply_markdown, client_gravatar, slim_presence, then
    // presence_history_limit_days (level 288), all_public_streams, include_subscribers,
    // client_capabilities, event_types, fetch_event_types; idle_queue_timeout (level 481) last.
    params.json_bool("apply_markdown", false)?;
    let client_gravatar = params.json_bool("client_gravatar", false)?;
    let slim_presence = params.json_bool("slim_presence", false)?;
    let history_limit_days = match compat.history_limit_days {
        true => params.json_int("presence_history_limit_days")?,
        false => None,
    };
    params.json_bool("all_public_streams", false)?;
    params.json_bool("include_subscribers", false)?;
    let simplified = compat.simplified_presence_events
        && client_capability(&params, "simplified_presence_events")?;
    let user_list_incomplete =
        compat.user_list_incomplete && client_capability(&params, "user_list_incomplete")?;
    let types = event_types(&params, "event_types")?;
    let fetch_types = match event_types(&params, "fetch_event_types")? {
        Some(types) => Some(types),
        None => types.clone(),
    };
    let idle_timeout = match compat.idle_queue_timeout {
        true => params.json_int("idle_queue_timeout")?,
        false => None,
    };
    if idle_timeout
        .as_ref()
        .is_some_and(|seconds| seconds.saturating_i64() < 1)
    {
        return Err(ApiError::BadRequest(
            "idle_queue_timeout must be 1 or more".to_owned(),
        ));
    }
    let given = authed
        .realm
        .read(|realm| Arc::clone(&realm.settings().register_state));
    if let Some(note) = extensions.get::<RequestNote>() {
        let missing: Vec<&str> = match &fetch_types {
            Some(types) => types.iter().map(String::as_str).collect::<Vec<_>>(),
            None => FETCH_ORDER.iter().chain(POST_PROCESSED).copied().collect(),
        }
        .into_iter()
        // `zulip_version` names no state of its own any more: the versions are always there.
        .filter(|name| {
            !MODELLED_FETCH_TYPES.contains(name) && *name != "zulip_version" && !given.contains_key(*name)
        })
        .map(|name| match name {
            "realm" => "realm (only its event_queue_longpoll_timeout_seconds and server_presence_* keys are modelled)",
            name => name,
        })
        .collect();
        if !missing.is_empty() {
            note.remark(format!(
                "fetch types neither modelled by this mock nor given in the realm's register_state, so not in the response: {}",
                missing.join(", ")
            ));
        }
    }
    // Parameters newer than the server's level are not read: they are ignored and listed.
    let mut used = REGISTER_PARAMETERS.to_vec();
    used.extend(
        compat
            .history_limit_days
            .then_some("presence_history_limit_days"),
    );
    used.extend(compat.idle_queue_timeout.then_some("idle_queue_timeout"));
    let now = state.clock.now();
    let options = QueueOptions {
        presence: wants(&types, "presence"),
        realm_user: wants(&types, "realm_user"),
        slim_presence,
        simplified_presence: simplified,
        user_list_incomplete,
        idle_timeout_seconds: idle_timeout.as_ref().map(PyInt::saturating_i64),
    };
    let queue = state
        .control
        .events
        .register(authed.realm.subdomain(), authed.user.user_id, options, now)
        .map_err(|_| ApiError::BadRequest("Too many event queues on this server".to_owned()))?;

    let mut body = Body::default();
    body.put("queue_id", queue.id.clone());
    body.put("zulip_version", server.zulip_version.clone());
    body.put("zulip_feature_level", compat.level.0);
    if compat.zulip_merge_base {
        body.put("zulip_merge_base", server.zulip_merge_base.clone());
    }
    let mut given_types: Vec<&str> = given
        .keys()
        .map(String::as_str)
        .filter(|name| !FETCH_ORDER.contains(name) && !POST_PROCESSED.contains(name))
        .collect();
    given_types.sort_unstable();
    for &fetch_type in FETCH_ORDER.iter().chain(&given_types) {
        if !wants(&fetch_types, fetch_type) {
            continue;
        }
        match fetch_type {
            "presence" => {
                // As for presence reports: a window Python's dates cannot hold is a 500 (the
                // queue, made before, stays).
                let days = history_limit_days.as_ref();
                if !authed
                    .realm
                    .read(|realm| history_window_fits(realm, now, days))
                {
                    return Err(ApiError::Internal);
                }
                let policy = crate::domain::presence_rules::AccessPolicy::of(&authed.server);
                let query = PresenceQuery {
                    after_update_id: None,
                    history_limit_days: history_limit_days.as_ref().map(PyInt::saturating_i64),
                };
                authed.realm.read(|realm| {
                    let selection = select_presence(realm, &authed.user, policy, query, now);
                    let presences = if slim_presence || simplified {
                        serde_json::to_value(selection.modern())
                    } else {
                        let legacy: BTreeMap<String, UserPresence> = selection
                            .legacy()
                            .into_iter()
                            .map(|(email, presence)| (email, presence.into()))
                            .collect();
                        serde_json::to_value(legacy)
                    };
                    body.put("presences", presences.unwrap_or_default());
                    if compat.presence_last_update_id {
                        body.put("presence_last_update_id", selection.last_update_id);
                    }
                });
                body.put("server_timestamp", now.unix_seconds_f64());
            }
            "realm" => {
                body.put_given(&given, "realm");
                body.put(
                    "event_queue_longpoll_timeout_seconds",
                    state.control.events.settings().longpoll_timeout.as_secs(),
                );
                // The presence parameters came with feature level 164.
                if compat.server_presence_parameters {
                    body.put(
                        "server_presence_ping_interval_seconds",
                        PRESENCE_PING_INTERVAL_SECONDS,
                    );
                    body.put(
                        "server_presence_offline_threshold_seconds",
                        compat.offline_threshold_seconds,
                    );
                }
            }
            "realm_user" => authed.realm.read(|realm| {
                for (key, value) in own_user_state(realm, &authed.user, compat) {
                    body.0.insert(key, value);
                }
            }),
            other => body.put_given(&given, other),
        }
    }
    if wants(&fetch_types, "update_message_flags") && wants(&fetch_types, "message") {
        body.put_given(&given, "update_message_flags");
    }
    if wants(&fetch_types, "realm_user") {
        let host = server.realm_host(authed.realm.subdomain());
        let domain = fake_email_domain(&host, &server.fake_email_domain).to_owned();
        let (active, inactive) = authed.realm.read(|realm| {
            realm_users(
                realm,
                &authed.user,
                Format {
                    compat,
                    client_gravatar,
                    include_custom_profile_fields: true,
                },
                (!user_list_incomplete).then_some(domain.as_str()),
            )
        });
        body.put("realm_users", active);
        body.put("realm_non_active_users", inactive);
    }
    if wants(&fetch_types, "recent_private_conversations") {
        body.put_given(&given, "recent_private_conversations");
    }
    body.put("last_event_id", -1);
    if compat.idle_queue_timeout {
        // The queue keeps the client's timeout as it came, a Python integer of any size.
        let seconds = match &idle_timeout {
            Some(client) if client.as_i64().is_none() => {
                client.to_json().ok_or(ApiError::Internal)?
            }
            _ => Value::from(
                queue.idle_timeout(state.control.events.settings().idle_timeout_seconds),
            ),
        };
        body.put("idle_queue_timeout_secs", seconds);
    }
    Ok(Success::new(body.0).with_ignored_parameters(state.ignored_parameters(&params, &used)))
}

/// The requester's own keys of the `realm_user` state, after `cross_realm_bots` (the mock has
/// no system bot realm: none).
fn own_user_state(realm: &RealmState, me: &User, compat: Compat) -> Map<String, Value> {
    let settings = realm.settings();
    let role = me.role;
    let private = settings.can_create_private_channel_group.contains(role);
    let public = settings.can_create_public_channel_group.contains(role);
    let web_public = settings.enable_spectator_access
        && settings.can_create_web_public_channel_group.contains(role);
    let mut state = Map::new();
    let mut put = |key: &str, value: Value| {
        state.insert(key.to_owned(), value);
    };
    put("cross_realm_bots", Value::Array(Vec::new()));
    put("avatar_source", Value::from(avatar_source(me)));
    put("avatar_url_medium", avatar_url(me, true, false));
    put("avatar_url", avatar_url(me, false, false));
    put("can_create_private_streams", Value::from(private));
    put("can_create_public_streams", Value::from(public));
    put("can_create_web_public_streams", Value::from(web_public));
    put(
        "can_create_streams",
        Value::from(private || public || web_public),
    );
    put(
        "can_invite_others_to_realm",
        Value::from(settings.can_invite_users_group.contains(role)),
    );
    put(
        "is_admin",
        Value::from(matches!(role, Role::Owner | Role::Admin)),
    );
    put("is_owner", Value::from(role == Role::Owner));
    let is_moderator = match compat.moderator_includes_admins {
        true => matches!(role, Role::Owner | Role::Admin | Role::Moderator),
        false => role == Role::Moderator,
    };
    put("is_moderator", Value::from(is_moderator));
    put("is_guest", Value::from(role == Role::Guest));
    if compat.user_is_billing_admin {
        put("is_billing_admin", Value::from(false));
    }
    put("user_id", Value::from(me.user_id));
    put("email", Value::from(&*me.email));
    put("delivery_email", Value::from(&*me.delivery_email));
    put("full_name", Value::from(&*me.full_name));
    state
}

/// `realm_users` and `realm_non_active_users` (`post_process_state`): every user the viewer
/// can access, by id, without `is_active`. Users a limited guest cannot access appear as
/// placeholders with dummy emails on `placeholder_domain`, or not at all without one (the
/// client declared `user_list_incomplete`).
fn realm_users(
    realm: &RealmState,
    viewer: &User,
    format: Format,
    placeholder_domain: Option<&str>,
) -> (Vec<Value>, Vec<Value>) {
    let accessible = format
        .compat
        .user_access_limit
        .then(|| accessible_users(realm, viewer))
        .flatten();
    let (mut active, mut inactive) = (Vec::new(), Vec::new());
    for user in realm.users() {
        let mut object = match &accessible {
            Some(ids) if !ids.contains(&user.user_id) => match placeholder_domain {
                Some(domain) => inaccessible_user_object(user.user_id, domain, format.compat),
                None => continue,
            },
            _ => user_object(user, viewer, format),
        };
        let is_active = object.shift_remove("is_active") == Some(Value::Bool(true));
        if is_active {
            active.push(Value::Object(object));
        } else {
            inactive.push(Value::Object(object));
        }
    }
    (active, inactive)
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
    events: Vec<QueuedEvent>,
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
) -> ApiResult<axum::response::Response> {
    // The view's signature order: last_event_id, queue_id, ..., dont_block; then
    // `fetch_events` reports what is missing, as plain errors (no `var_name`).
    let last_event_id = params.json_int("last_event_id")?;
    let queue_id = params.get("queue_id").map(str::to_owned);
    let dont_block = params.json_bool("dont_block", false)?;
    let missing = |name: &str| ApiError::BadRequest(format!("Missing '{name}' argument"));
    let queue_id = queue_id.ok_or_else(|| missing("queue_id"))?;
    let last_event_id = last_event_id.ok_or_else(|| missing("last_event_id"))?;
    let queue = users_queue(&state, &authed, &queue_id)?;
    queue
        .acknowledge(last_event_id.saturating_i64(), state.clock.now())
        .map_err(|err| {
            ApiError::BadRequest(match err {
                // Zulip names the client's id here too, not the newest pruned one.
                AckError::AlreadyPruned { .. } => format!(
                    "An event newer than {} has already been pruned!",
                    last_event_id.as_str()
                ),
                // The id as the client sent it (a Python integer of any size).
                AckError::NotInQueue { .. } => {
                    format!("Event {} was not in this queue", last_event_id.as_str())
                }
            })
        })?;
    let events = &state.control.events;
    let pending = queue.pending();
    if !pending.is_empty() || dont_block {
        return Ok(Success::new(EventsResponse {
            events: pending,
            queue_id: None,
        })
        .into_response());
    }
    // A waiting poll does not count against the connection cap (see `release_connection_slot`);
    // its connection then closes after the answer, so that connections without a place never
    // outnumber the queues.
    let released = crate::release_connection_slot();
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
            return Ok(closing_if(released, bad_queue(&queue_id).into_response()));
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
                    events.deliver(&queue, &events.event(event));
                }
                break queue.pending();
            }
        }
    };
    queue.stop_waiting(ticket, state.clock.now());
    let response = Success::new(EventsResponse {
        events: answer,
        queue_id: Some(queue_id),
    });
    Ok(closing_if(released, response.into_response()))
}

/// `response`, closing its connection after it when the poll gave its connection's place back.
fn closing_if(released: bool, mut response: axum::response::Response) -> axum::response::Response {
    if released {
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response
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
