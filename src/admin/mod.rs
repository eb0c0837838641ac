//! The test-control API under `/__admin`, a prefix no Zulip path can use: JSON in and out,
//! documented in README and in the OpenAPI document served at `/__admin/openapi.json`. Only what
//! a test harness or a container runtime calls lives here; what a Zulip client calls is in
//! `routes`.
//!
//! Success bodies are the resource itself (a fixture, a user, a fault...), so that what one
//! endpoint returns another takes back; errors are in Zulip's shape with a code of ours.

mod control;
mod state;
mod stubs;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use crate::auth::ROOT_SEGMENT;
use crate::fixtures::{parse_json, FixtureError};
use crate::state::{AdminAccess, AppState};

/// Every admin path starts with this.
pub const ADMIN_PREFIX: &str = "/__admin";

/// The path of the liveness check (used by the container health check).
pub const HEALTH_PATH: &str = "/__admin/health";

/// The admin API's own description.
const OPENAPI: &str = include_str!("openapi.json");

/// Every admin route, in one list. Health, readiness and the OpenAPI document are always
/// served; the rest only when the admin API is on, behind the token when one is set.
pub fn admin_router(access: &AdminAccess) -> Router<AppState> {
    let open = Router::new()
        .route(HEALTH_PATH, get(get_health))
        .route("/__admin/ready", get(get_ready))
        .route("/__admin/openapi.json", get(get_openapi));
    if *access == AdminAccess::Disabled {
        return open;
    }
    let guarded = Router::new()
        .route("/__admin/reset", post(state::reset))
        .route(
            "/__admin/state",
            get(state::get_state).put(state::put_state),
        )
        .route(
            "/__admin/server",
            get(state::get_server).patch(state::patch_server),
        )
        .route(
            "/__admin/realms",
            get(state::list_realms).post(state::create_realm),
        )
        .route(
            "/__admin/realms/{realm}",
            get(state::get_realm)
                .put(state::put_realm)
                .patch(state::patch_realm)
                .delete(state::delete_realm),
        )
        .route(
            "/__admin/realms/{realm}/users",
            get(state::list_users).post(state::create_user),
        )
        .route(
            "/__admin/realms/{realm}/users/{user_id}",
            get(state::get_user)
                .patch(state::patch_user)
                .delete(state::delete_user),
        )
        .route(
            "/__admin/realms/{realm}/channels",
            get(state::list_channels).post(state::create_channel),
        )
        .route(
            "/__admin/realms/{realm}/channels/{channel}",
            delete(state::delete_channel),
        )
        .route(
            "/__admin/realms/{realm}/channels/{channel}/subscribers/{user_id}",
            put(state::subscribe).delete(state::unsubscribe),
        )
        .route(
            "/__admin/realms/{realm}/direct_message_pairs",
            get(state::list_pairs).post(state::create_pair),
        )
        .route(
            "/__admin/realms/{realm}/direct_message_pairs/{users}",
            delete(state::delete_pair),
        )
        .route(
            "/__admin/realms/{realm}/direct_message_groups",
            get(state::list_groups).post(state::create_group),
        )
        .route(
            "/__admin/realms/{realm}/direct_message_groups/{users}",
            delete(state::delete_group),
        )
        .route(
            "/__admin/realms/{realm}/presence",
            get(state::list_presence),
        )
        .route(
            "/__admin/realms/{realm}/register_state",
            get(stubs::get_register_state).put(stubs::put_register_state),
        )
        .route(
            "/__admin/realms/{realm}/presence/{user_id}",
            put(state::put_presence).delete(state::delete_presence),
        )
        .route("/__admin/time", get(control::get_time))
        .route("/__admin/time/freeze", post(control::freeze_time))
        .route("/__admin/time/advance", post(control::advance_time))
        .route("/__admin/time/system", post(control::system_time))
        .route(
            "/__admin/requests",
            get(control::list_requests).delete(control::clear_requests),
        )
        .route("/__admin/requests/count", get(control::count_requests))
        .route(
            "/__admin/faults",
            get(control::list_faults)
                .post(control::add_fault)
                .delete(control::clear_faults),
        )
        .route("/__admin/faults/{id}", delete(control::delete_fault))
        .route(
            "/__admin/stubs",
            get(stubs::list_stubs)
                .post(stubs::add_stub)
                .delete(stubs::clear_stubs),
        )
        .route("/__admin/stubs/{id}", delete(stubs::delete_stub))
        .route("/__admin/queues", get(control::list_queues))
        .route("/__admin/queues/usage", get(control::queue_usage))
        .route("/__admin/queues/{queue_id}", delete(control::delete_queue))
        .route(
            "/__admin/queues/{queue_id}/events",
            post(control::inject_event),
        )
        .route(
            "/__admin/events/settings",
            get(control::get_event_settings).patch(control::patch_event_settings),
        )
        .route(
            "/__admin/rate_limit",
            get(control::get_rate_limit)
                .put(control::put_rate_limit)
                .delete(control::delete_rate_limit),
        )
        .method_not_allowed_fallback(method_not_allowed);
    let guarded = match access {
        AdminAccess::Token(token) => {
            let token = token.clone();
            guarded.layer(middleware::from_fn(move |request: Request, next: Next| {
                let token = token.clone();
                async move { require_token(&token, request, next).await }
            }))
        }
        _ => guarded,
    };
    open.merge(guarded)
}

/// `GET /__admin/health`: 200 while the server is serving.
async fn get_health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /__admin/ready`: 200 once the state is loaded (the server only listens after that),
/// with how many realms it has.
async fn get_ready(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "status": "ready", "realms": state.store.realms().len() }))
}

/// `GET /__admin/openapi.json`: this API's OpenAPI 3.1 document.
async fn get_openapi() -> Response {
    crate::response::json_bytes(StatusCode::OK, OPENAPI)
}

async fn method_not_allowed() -> AdminError {
    AdminError::MethodNotAllowed
}

/// Admin requests must carry `Authorization: Bearer <token>`, compared in constant time.
async fn require_token(token: &str, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or("");
    if bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
        next.run(request).await
    } else {
        AdminError::Unauthorized.into_response()
    }
}

/// An admin API error: Zulip's error shape with a code of ours.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    BadRequest(String),
    /// A fixture, or a change that would make the state invalid: with the JSON path.
    #[error("{0}")]
    InvalidFixture(FixtureError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("Method Not Allowed")]
    MethodNotAllowed,
    #[error("This admin API requires Authorization: Bearer <admin token>")]
    Unauthorized,
    #[error("Request body too large")]
    PayloadTooLarge,
}

#[derive(Serialize)]
struct AdminErrorBody<'a> {
    result: &'static str,
    msg: String,
    code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<&'a str>,
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
            Self::InvalidFixture(_) => (StatusCode::BAD_REQUEST, "INVALID_FIXTURE"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "CONFLICT"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
        };
        let (path, problem) = match &self {
            Self::InvalidFixture(FixtureError::Invalid { path, problem, .. }) => {
                (Some(path.as_str()), Some(problem.as_str()))
            }
            _ => (None, None),
        };
        let mut response = crate::response::json_response(
            status,
            &AdminErrorBody {
                result: "error",
                msg: self.to_string(),
                code,
                path,
                problem,
            },
        );
        if matches!(self, Self::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<FixtureError> for AdminError {
    fn from(err: FixtureError) -> Self {
        Self::InvalidFixture(err)
    }
}

/// What the admin API names a JSON request body in errors.
const BODY: &str = "request body";

/// A raw request body whose refusal is an admin error in JSON, like every other (axum's own is
/// plain text): 413 `PAYLOAD_TOO_LARGE` past the body limit.
pub struct AdminBody(pub Bytes);

impl FromRequest<AppState> for AdminBody {
    type Rejection = AdminError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, AdminError> {
        Bytes::from_request(request, state)
            .await
            .map(Self)
            .map_err(|rejection| match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => AdminError::PayloadTooLarge,
                _ => AdminError::BadRequest(rejection.body_text()),
            })
    }
}

/// A JSON request body, parsed with the JSON path of any problem; an empty body is `None`.
pub struct AdminJson<T>(pub Option<T>);

impl<T: DeserializeOwned> FromRequest<AppState> for AdminJson<T> {
    type Rejection = AdminError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, AdminError> {
        let AdminBody(bytes) = AdminBody::from_request(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| AdminError::BadRequest("the request body is not UTF-8".to_owned()))?;
        Ok(Self(Some(parse_json(BODY, text)?)))
    }
}

impl<T> AdminJson<T> {
    /// The body, or an error saying it is required.
    pub fn required(self) -> Result<T, AdminError> {
        self.0
            .ok_or_else(|| AdminError::BadRequest("a JSON request body is required".to_owned()))
    }
}

/// A subdomain from a path segment: `_root` is the root domain ("").
pub fn subdomain_from_segment(segment: &str) -> String {
    if segment == ROOT_SEGMENT {
        String::new()
    } else {
        segment.to_ascii_lowercase()
    }
}

/// A subdomain as a path segment.
pub fn segment_of_subdomain(subdomain: &str) -> &str {
    if subdomain.is_empty() {
        ROOT_SEGMENT
    } else {
        subdomain
    }
}

/// RFC 7386 JSON merge patch: objects merge key by key, `null` removes, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: Value) {
    match patch {
        Value::Object(patch) => {
            if !target.is_object() {
                *target = Value::Object(Default::default());
            }
            let Value::Object(object) = target else {
                return;
            };
            for (key, value) in patch {
                if value.is_null() {
                    object.remove(&key);
                } else {
                    merge_patch(object.entry(key).or_insert(Value::Null), value);
                }
            }
        }
        other => *target = other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patches_follow_rfc_7386() {
        let mut target = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut target, json!({"a": "z", "c": {"f": null}}));
        assert_eq!(target, json!({"a": "z", "c": {"d": "e"}}));
        let mut list = json!({"a": [1, 2]});
        merge_patch(&mut list, json!({"a": [3]}));
        assert_eq!(list, json!({"a": [3]}));
    }

    #[test]
    fn the_root_domain_is_written_as_root_in_paths() {
        assert_eq!(subdomain_from_segment("_root"), "");
        assert_eq!(subdomain_from_segment("Lear"), "lear");
        assert_eq!(segment_of_subdomain(""), "_root");
    }
}
