//! Admin endpoints that control the server around the state: the clock, the request journal,
//! injected faults and the rate limiter.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use std::time::Duration;

use super::admin_io::{
    merge_patch, subdomain_from_segment, AdminError, AdminJson, AdminPath, BodyKind, ControlBody,
    FaultBody, BODY,
};
use crate::app_state::AppState;
use crate::domain::clock::{ClockMode, TimeSpec, Timestamp};
use crate::domain::event_queues::{EventQueue, EventSettings};
use crate::domain::rate_limits::RateRule;
use crate::fixtures::parse_json;
use crate::test_control::faults::{Fault, FaultSpec};
use crate::test_control::request_journal::{Filter, Listing};

type AdminResult<T> = Result<T, AdminError>;

/// What the clock says.
#[derive(Debug, Serialize)]
pub(super) struct ClockView {
    /// `system`, `offset` or `frozen`.
    mode: &'static str,
    /// The current instant in UNIX seconds.
    now: f64,
    /// The current instant in RFC 3339.
    now_iso: String,
    /// For `offset`: how far the clock is from real time, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    offset_seconds: Option<f64>,
}

fn clock_view(state: &AppState) -> Json<ClockView> {
    let mode = state.clock.mode();
    let now = state.clock.now();
    let (name, offset_seconds) = match mode {
        ClockMode::System => ("system", None),
        ClockMode::Offset(micros) => ("offset", Some(micros as f64 / 1e6)),
        ClockMode::Frozen(_) => ("frozen", None),
    };
    Json(ClockView {
        mode: name,
        now: now.unix_seconds_f64(),
        now_iso: iso(now),
        offset_seconds,
    })
}

fn iso(at: Timestamp) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.unix_micros()) * 1_000)
        .ok()
        .and_then(|at| at.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// `GET /__admin/time`.
pub(super) async fn get_time(State(state): State<AppState>) -> Json<ClockView> {
    clock_view(&state)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FreezeBody {
    /// Where to stop the clock (UNIX seconds, RFC 3339, or relative to now); default: now.
    #[serde(default)]
    at: Option<TimeSpec>,
}

/// `POST /__admin/time/freeze`: stops the clock now, or at `at`.
pub(super) async fn freeze_time(
    State(state): State<AppState>,
    body: AdminJson<FreezeBody, ControlBody>,
) -> Json<ClockView> {
    let now = state.clock.now();
    let at = body.0.unwrap_or_default().at.map_or(now, |at| at.at(now));
    state.clock.set_mode(ClockMode::Frozen(at));
    state.control.events.reclaim_idle(state.clock.now());
    clock_view(&state)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AdvanceBody {
    /// Seconds (a number, may be fractional or negative) or a duration such as `"90s"`,
    /// `"5m"`, `"-1h"`, `"2d"`.
    by: Value,
}

impl AdvanceBody {
    fn micros(&self) -> AdminResult<i64> {
        let invalid = || {
            AdminError::BadRequest(format!(
                "by must be seconds or a duration such as \"90s\", \"-5m\" or \"2d\", not {}",
                self.by
            ))
        };
        match &self.by {
            Value::Number(n) => n
                .as_f64()
                .map(|s| (s * 1e6).round())
                .filter(|m| m.is_finite() && m.abs() < 1e17)
                .map(|m| m as i64)
                .ok_or_else(invalid),
            Value::String(text) => {
                let signed = if text.starts_with(['+', '-']) {
                    text.clone()
                } else {
                    format!("+{text}")
                };
                match TimeSpec::parse(&signed) {
                    Ok(TimeSpec::Relative(seconds)) => Ok(seconds.saturating_mul(1_000_000)),
                    _ => Err(invalid()),
                }
            }
            _ => Err(invalid()),
        }
    }
}

/// `POST /__admin/time/advance`: moves the clock on (or back) by `by`; a running clock keeps
/// running, that far from real time.
pub(super) async fn advance_time(
    State(state): State<AppState>,
    body: AdminJson<AdvanceBody, ControlBody>,
) -> AdminResult<Json<ClockView>> {
    let by = body.required()?.micros()?;
    let mode = match state.clock.mode() {
        ClockMode::System => ClockMode::Offset(by),
        ClockMode::Offset(micros) => ClockMode::Offset(micros.saturating_add(by)),
        ClockMode::Frozen(at) => ClockMode::Frozen(Timestamp::from_unix_micros(
            at.unix_micros().saturating_add(by),
        )),
    };
    state.clock.set_mode(mode);
    state.control.events.reclaim_idle(state.clock.now());
    Ok(clock_view(&state))
}

/// `POST /__admin/time/system`: back to real time.
pub(super) async fn system_time(State(state): State<AppState>) -> Json<ClockView> {
    state.clock.set_mode(ClockMode::System);
    state.control.events.reclaim_idle(state.clock.now());
    clock_view(&state)
}

/// The query string of journal requests.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct JournalQuery {
    method: Option<String>,
    path: Option<String>,
    /// A user id or a delivery email.
    user: Option<String>,
    /// A subdomain; `_root` (or empty) for the root domain.
    realm: Option<String>,
    /// A time (UNIX seconds, RFC 3339, or relative such as `-5m`) on the server clock.
    since: Option<String>,
    after_id: Option<u64>,
    limit: Option<usize>,
}

fn journal_query(query: Option<String>, state: &AppState) -> AdminResult<(Filter, Option<usize>)> {
    let query: JournalQuery = serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
        .map_err(|err| AdminError::BadRequest(format!("bad query string: {err}")))?;
    let since = query
        .since
        .map(|text| {
            TimeSpec::parse(&text)
                .map(|t| t.at(state.clock.now()).unix_seconds_f64())
                .map_err(AdminError::BadRequest)
        })
        .transpose()?;
    Ok((
        Filter {
            method: query.method,
            path: query.path,
            user: query.user,
            realm: query.realm.map(|segment| {
                if segment.is_empty() {
                    segment
                } else {
                    subdomain_from_segment(&segment)
                }
            }),
            since,
            after_id: query.after_id,
        },
        query.limit,
    ))
}

/// `GET /__admin/requests`: journalled requests, oldest first, filtered by the query string.
pub(super) async fn list_requests(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> AdminResult<Json<Listing>> {
    let (filter, limit) = journal_query(query, &state)?;
    Ok(Json(state.control.journal.list(&filter, limit)))
}

/// `GET /__admin/requests/count`.
pub(super) async fn count_requests(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> AdminResult<Json<Value>> {
    let (filter, _) = journal_query(query, &state)?;
    Ok(Json(
        json!({ "count": state.control.journal.count(&filter) }),
    ))
}

/// `DELETE /__admin/requests`: forgets the requests the query string matches (all by default;
/// `?realm=t1` for one realm's).
pub(super) async fn clear_requests(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> AdminResult<Json<Value>> {
    let (filter, _) = journal_query(query, &state)?;
    let cleared = state.control.journal.clear(&filter);
    crate::memory::give_back_later().await;
    Ok(Json(json!({ "cleared": cleared })))
}

/// `GET /__admin/faults`.
pub(super) async fn list_faults(State(state): State<AppState>) -> Json<Vec<Fault>> {
    Json(state.control.faults.list())
}

/// `POST /__admin/faults`: installs a fault; the first installed fault that matches a request
/// applies to it.
pub(super) async fn add_fault(
    State(state): State<AppState>,
    spec: AdminJson<FaultSpec, FaultBody>,
) -> AdminResult<Response> {
    let spec = spec.required()?;
    if let Some(problem) = spec.problem() {
        return Err(AdminError::InvalidFault(problem));
    }
    Ok((StatusCode::CREATED, Json(state.control.faults.add(spec))).into_response())
}

/// `DELETE /__admin/faults`: removes every fault.
pub(super) async fn clear_faults(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "removed": state.control.faults.clear() }))
}

/// `DELETE /__admin/faults/{id}`.
pub(super) async fn delete_fault(
    State(state): State<AppState>,
    AdminPath(id): AdminPath<u64>,
) -> AdminResult<StatusCode> {
    if state.control.faults.remove(id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AdminError::NotFound(format!("no fault {id}")))
    }
}

/// The rate limit in force.
#[derive(Debug, Serialize)]
pub(super) struct RateLimitView {
    /// `null`: off.
    rule: Option<RateRule>,
}

/// `GET /__admin/rate_limit`.
pub(super) async fn get_rate_limit(State(state): State<AppState>) -> Json<RateLimitView> {
    Json(RateLimitView {
        rule: state.control.rate_limiter.rule(),
    })
}

/// `PUT /__admin/rate_limit` with `{"requests": 200, "window_seconds": 60}`: limits every user
/// as a rate-limited Zulip server does, with the headers on every authenticated response.
pub(super) async fn put_rate_limit(
    State(state): State<AppState>,
    rule: AdminJson<RateRule, ControlBody>,
) -> AdminResult<Json<RateLimitView>> {
    let rule = rule.required()?;
    if rule.requests == 0 || rule.window_seconds == 0 {
        return Err(AdminError::BadRequest(
            "requests and window_seconds must be 1 or more".to_owned(),
        ));
    }
    state.control.rate_limiter.set_rule(Some(rule));
    Ok(Json(RateLimitView { rule: Some(rule) }))
}

/// `DELETE /__admin/rate_limit`: no rate limit.
pub(super) async fn delete_rate_limit(State(state): State<AppState>) -> Json<RateLimitView> {
    state.control.rate_limiter.set_rule(None);
    Json(RateLimitView { rule: None })
}

/// `GET /__admin/queues`: every event queue.
pub(super) async fn list_queues(State(state): State<AppState>) -> Json<Vec<Value>> {
    let events = &state.control.events;
    events.reclaim_idle(state.clock.now());
    Json(events.all().iter().map(|queue| queue.summary()).collect())
}

/// `GET /__admin/queues/usage`: how many queues and queued events there are, and the bytes
/// they take against the bound.
pub(super) async fn queue_usage(State(state): State<AppState>) -> Json<Value> {
    let events = &state.control.events;
    events.reclaim_idle(state.clock.now());
    let settings = events.settings();
    Json(json!({
        "queues": events.len(),
        "max_queues": settings.max_queues,
        "bytes": events.bytes_in_use(),
        "capacity_bytes": settings.max_total_bytes,
    }))
}

fn queue_of(state: &AppState, id: &str) -> AdminResult<std::sync::Arc<EventQueue>> {
    state
        .control
        .events
        .get(id, state.clock.now())
        .ok_or_else(|| AdminError::NotFound(format!("no event queue {id:?}")))
}

/// `DELETE /__admin/queues/{queue_id}`: drops a queue, as if it had expired (its client gets
/// `BAD_EVENT_QUEUE_ID` next and registers again).
pub(super) async fn delete_queue(
    State(state): State<AppState>,
    AdminPath(id): AdminPath<String>,
) -> AdminResult<StatusCode> {
    queue_of(&state, &id)?;
    state.control.events.remove(&id);
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /__admin/queues/{queue_id}/events`: queues an event (a JSON object with a `type`);
/// it gets the queue's next id. `{"type": "heartbeat"}` sends a heartbeat.
pub(super) async fn inject_event(
    State(state): State<AppState>,
    AdminPath(id): AdminPath<String>,
    event: AdminJson<Value, ControlBody>,
) -> AdminResult<Response> {
    let queue = queue_of(&state, &id)?;
    let Value::Object(mut event) = event.required()? else {
        return Err(AdminError::BadRequest(
            "an event must be a JSON object with a \"type\"".to_owned(),
        ));
    };
    if !event.get("type").is_some_and(Value::is_string) {
        return Err(AdminError::BadRequest(
            "an event must be a JSON object with a \"type\"".to_owned(),
        ));
    }
    event.remove("id");
    let events = &state.control.events;
    let event_id = events.deliver(&queue, &events.event(event));
    Ok((StatusCode::CREATED, Json(json!({ "id": event_id }))).into_response())
}

/// The event-queue timings and bounds, in seconds and counts.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EventSettingsBody {
    longpoll_timeout_seconds: f64,
    heartbeat_min_seconds: f64,
    heartbeat_max_seconds: f64,
    idle_queue_timeout_seconds: i64,
    max_queues: usize,
    max_queues_per_user: usize,
    max_events_per_queue: usize,
    max_bytes_per_queue: usize,
    max_total_bytes: usize,
}

impl From<EventSettings> for EventSettingsBody {
    fn from(settings: EventSettings) -> Self {
        Self {
            longpoll_timeout_seconds: settings.longpoll_timeout.as_secs_f64(),
            heartbeat_min_seconds: settings.heartbeat_min.as_secs_f64(),
            heartbeat_max_seconds: settings.heartbeat_max.as_secs_f64(),
            idle_queue_timeout_seconds: settings.idle_timeout_seconds,
            max_queues: settings.max_queues,
            max_queues_per_user: settings.max_queues_per_user,
            max_events_per_queue: settings.max_events,
            max_bytes_per_queue: settings.max_queue_bytes,
            max_total_bytes: settings.max_total_bytes,
        }
    }
}

/// `GET /__admin/events/settings`.
pub(super) async fn get_event_settings(State(state): State<AppState>) -> Json<EventSettingsBody> {
    Json(state.control.events.settings().into())
}

/// `PATCH /__admin/events/settings`: shorter timings let a suite see a heartbeat or an
/// expired queue in a second.
pub(super) async fn patch_event_settings(
    State(state): State<AppState>,
    patch: AdminJson<Value, ControlBody>,
) -> AdminResult<Json<EventSettingsBody>> {
    let mut current =
        serde_json::to_value(EventSettingsBody::from(state.control.events.settings()))
            .unwrap_or(Value::Null);
    let patch = patch.required()?;
    if !patch.is_object() {
        return Err(AdminError::BadRequest(
            "a patch must be a JSON object (RFC 7386 merge patch)".to_owned(),
        ));
    }
    merge_patch(&mut current, patch);
    let body: EventSettingsBody =
        parse_json(BODY, &current.to_string()).map_err(|error| AdminError::Invalid {
            kind: BodyKind::Control,
            error,
        })?;
    let seconds = |value: f64, name: &str| {
        if value.is_finite() && value > 0.0 && value <= 3_600.0 {
            Ok(Duration::from_secs_f64(value))
        } else {
            Err(AdminError::BadRequest(format!(
                "{name} must be above 0 and at most 3600"
            )))
        }
    };
    let settings = EventSettings {
        longpoll_timeout: seconds(body.longpoll_timeout_seconds, "longpoll_timeout_seconds")?,
        heartbeat_min: seconds(body.heartbeat_min_seconds, "heartbeat_min_seconds")?,
        heartbeat_max: seconds(body.heartbeat_max_seconds, "heartbeat_max_seconds")?,
        idle_timeout_seconds: body.idle_queue_timeout_seconds.max(1),
        max_queues: body.max_queues.max(1),
        max_queues_per_user: body.max_queues_per_user.max(1),
        max_events: body.max_events_per_queue.max(1),
        max_queue_bytes: body.max_bytes_per_queue.max(1),
        max_total_bytes: body.max_total_bytes.max(1),
    };
    if settings.heartbeat_min > settings.heartbeat_max {
        return Err(AdminError::BadRequest(
            "heartbeat_min_seconds must not exceed heartbeat_max_seconds".to_owned(),
        ));
    }
    state.control.events.set_settings(settings);
    Ok(Json(settings.into()))
}
