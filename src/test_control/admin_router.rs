//! The test-control API under `/__admin`, a prefix no Zulip path can use: JSON in and out,
//! documented in docs/admin-api.md and in the OpenAPI document served at `/__admin/openapi.json`. Only what
//! a test harness or a container runtime calls lives here; what a Zulip client calls is in
//! `zulip_api`.
//!
//! Success bodies are the resource itself (a fixture, a user, a fault...), so that what one
//! endpoint returns another takes back; errors are in Zulip's shape with a code of ours.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use super::admin_io::AdminError;
use super::{admin_controls, admin_realms, admin_stubs};
use crate::app_state::{AdminAccess, AppState};

/// Every admin path starts with this.
pub(crate) const ADMIN_PREFIX: &str = "/__admin";

/// The path of the liveness check (used by the container health check).
pub(crate) const HEALTH_PATH: &str = "/__admin/health";

/// The admin API's own description.
const OPENAPI: &str = include_str!("openapi.json");

/// Every admin route, in one list. Health, readiness and the OpenAPI document are always
/// served; the rest only when the admin API is on, behind the token when one is set.
pub(crate) fn admin_router(access: &AdminAccess) -> Router<AppState> {
    let open = Router::new()
        .route(HEALTH_PATH, get(get_health))
        .route("/__admin/ready", get(get_ready))
        .route("/__admin/openapi.json", get(get_openapi))
        .method_not_allowed_fallback(method_not_allowed);
    if *access == AdminAccess::Disabled {
        return open;
    }
    let guarded = Router::new()
        .route("/__admin/reset", post(admin_realms::reset))
        .route(
            "/__admin/state",
            get(admin_realms::get_state).put(admin_realms::put_state),
        )
        .route(
            "/__admin/server",
            get(admin_realms::get_server).patch(admin_realms::patch_server),
        )
        .route(
            "/__admin/realms",
            get(admin_realms::list_realms).post(admin_realms::create_realm),
        )
        .route(
            "/__admin/realms/{realm}",
            get(admin_realms::get_realm)
                .put(admin_realms::put_realm)
                .patch(admin_realms::patch_realm)
                .delete(admin_realms::delete_realm),
        )
        .route(
            "/__admin/realms/{realm}/users",
            get(admin_realms::list_users).post(admin_realms::create_user),
        )
        .route(
            "/__admin/realms/{realm}/users/{user_id}",
            get(admin_realms::get_user)
                .patch(admin_realms::patch_user)
                .delete(admin_realms::delete_user),
        )
        .route(
            "/__admin/realms/{realm}/channels",
            get(admin_realms::list_channels).post(admin_realms::create_channel),
        )
        .route(
            "/__admin/realms/{realm}/channels/{channel}",
            delete(admin_realms::delete_channel),
        )
        .route(
            "/__admin/realms/{realm}/channels/{channel}/subscribers/{user_id}",
            put(admin_realms::subscribe).delete(admin_realms::unsubscribe),
        )
        .route(
            "/__admin/realms/{realm}/direct_message_pairs",
            get(admin_realms::list_pairs).post(admin_realms::create_pair),
        )
        .route(
            "/__admin/realms/{realm}/direct_message_pairs/{users}",
            delete(admin_realms::delete_pair),
        )
        .route(
            "/__admin/realms/{realm}/direct_message_groups",
            get(admin_realms::list_groups).post(admin_realms::create_group),
        )
        .route(
            "/__admin/realms/{realm}/direct_message_groups/{users}",
            delete(admin_realms::delete_group),
        )
        .route(
            "/__admin/realms/{realm}/presence",
            get(admin_realms::list_presence),
        )
        .route(
            "/__admin/realms/{realm}/register_state",
            get(admin_stubs::get_register_state).put(admin_stubs::put_register_state),
        )
        .route(
            "/__admin/realms/{realm}/presence/{user_id}",
            put(admin_realms::put_presence).delete(admin_realms::delete_presence),
        )
        .route("/__admin/time", get(admin_controls::get_time))
        .route("/__admin/time/freeze", post(admin_controls::freeze_time))
        .route("/__admin/time/advance", post(admin_controls::advance_time))
        .route("/__admin/time/system", post(admin_controls::system_time))
        .route(
            "/__admin/requests",
            get(admin_controls::list_requests).delete(admin_controls::clear_requests),
        )
        .route(
            "/__admin/requests/count",
            get(admin_controls::count_requests),
        )
        .route(
            "/__admin/faults",
            get(admin_controls::list_faults)
                .post(admin_controls::add_fault)
                .delete(admin_controls::clear_faults),
        )
        .route("/__admin/faults/{id}", delete(admin_controls::delete_fault))
        .route(
            "/__admin/stubs",
            get(admin_stubs::list_stubs)
                .post(admin_stubs::add_stub)
                .delete(admin_stubs::clear_stubs),
        )
        .route("/__admin/stubs/{id}", delete(admin_stubs::delete_stub))
        .route("/__admin/queues", get(admin_controls::list_queues))
        .route("/__admin/queues/usage", get(admin_controls::queue_usage))
        .route(
            "/__admin/queues/{queue_id}",
            delete(admin_controls::delete_queue),
        )
        .route(
            "/__admin/queues/{queue_id}/events",
            post(admin_controls::inject_event),
        )
        .route(
            "/__admin/events/settings",
            get(admin_controls::get_event_settings).patch(admin_controls::patch_event_settings),
        )
        .route(
            "/__admin/rate_limit",
            get(admin_controls::get_rate_limit)
                .put(admin_controls::put_rate_limit)
                .delete(admin_controls::delete_rate_limit),
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
    crate::zulip_api::responses::json_bytes(StatusCode::OK, OPENAPI)
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
