//! The test-control API under `/__admin`, a prefix no Zulip path can use. Only what a test
//! harness or a container runtime calls lives here; what a Zulip client calls is in `routes`.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::state::AppState;

/// The path of the liveness check (used by the container health check).
pub const HEALTH_PATH: &str = "/__admin/health";

/// Every admin route.
pub fn admin_router() -> Router<AppState> {
    Router::new().route(HEALTH_PATH, get(get_health))
}

/// `GET /__admin/health`: 200 while the server is serving.
async fn get_health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
