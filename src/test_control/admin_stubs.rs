//! Admin endpoints for stubs (answers for Zulip endpoints the mock does not serve) and for the
//! `/register` state of fetch types the mock does not model.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::admin_io::{AdminError, AdminJson, AdminPath, BodyKind, StubBody, BODY};
use crate::app_state::AppState;
use crate::fixtures::{check_stub_in, RealmFixture};
use crate::test_control::stubs::{Stub, StubSpec};

type AdminResult<T> = Result<T, AdminError>;

/// `GET /__admin/stubs`: every stub, in the order they match, with how often each answered.
pub(super) async fn list_stubs(State(state): State<AppState>) -> Json<Vec<Stub>> {
    Json(state.control.stubs.list())
}

/// `POST /__admin/stubs`: installs a stub after the others (the first match answers).
pub(super) async fn add_stub(
    State(state): State<AppState>,
    spec: AdminJson<StubSpec, StubBody>,
) -> AdminResult<Response> {
    let spec = spec.required()?;
    check_stub_in(&spec, BODY).map_err(|error| AdminError::Invalid {
        kind: BodyKind::Stub,
        error,
    })?;
    let stub = state
        .control
        .stubs
        .add(spec)
        .map_err(|full| AdminError::Conflict(full.to_string()))?;
    Ok((StatusCode::CREATED, Json(stub)).into_response())
}

/// `DELETE /__admin/stubs`: removes every stub.
pub(super) async fn clear_stubs(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "removed": state.control.stubs.clear() }))
}

/// `DELETE /__admin/stubs/{id}`.
pub(super) async fn delete_stub(
    State(state): State<AppState>,
    AdminPath(id): AdminPath<u64>,
) -> AdminResult<StatusCode> {
    if state.control.stubs.remove(id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AdminError::NotFound(format!("no stub {id}")))
    }
}

/// `GET /__admin/realms/{realm}/register_state`.
pub(super) async fn get_register_state(
    State(state): State<AppState>,
    AdminPath(segment): AdminPath<String>,
) -> AdminResult<Json<Map<String, Value>>> {
    let realm = super::admin_realms::realm_of(&state, &segment)?;
    Ok(Json(realm.read(RealmFixture::export).register_state))
}

/// `PUT /__admin/realms/{realm}/register_state`: replaces it whole, checked as in a fixture.
pub(super) async fn put_register_state(
    State(state): State<AppState>,
    AdminPath(segment): AdminPath<String>,
    given: AdminJson<Map<String, Value>>,
) -> AdminResult<Json<Map<String, Value>>> {
    let realm = super::admin_realms::realm_of(&state, &segment)?;
    let given = given.required()?;
    super::admin_realms::edit_realm(&state, &realm, |fixture| {
        fixture.register_state = given;
        Ok(())
    })?;
    Ok(Json(realm.read(RealmFixture::export).register_state))
}
