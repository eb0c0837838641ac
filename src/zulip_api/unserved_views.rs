//! Requests for Zulip endpoints the mock does not serve: a stub answers them (after Zulip's
//! authentication, unless the stub opts out), or they get the mock's 404. Either way the
//! journal says which, so a test sees what its client needed.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::app_state::AppState;
use crate::test_control::request_journal::RequestNote;
use crate::test_control::stubs::{StubRequest, StubSpec, API_PREFIX};
use crate::zulip_api::api_errors::ApiError;
use crate::zulip_api::authentication::{request_subdomain, server_of, AuthedUser};
use crate::zulip_api::parameters::RequestParams;

/// What the journal says of an API request no route and no stub answers.
pub(crate) const UNSERVED_NOTE: &str = "not served by this mock: a stub can answer it (the fixture's \"stubs\", or POST /__admin/stubs)";

/// Marks a response `stub_or` made (a stub's or the unserved 404), which carries no `Allow`:
/// axum's method router adds one to whatever its fallback answers, outside every layer, and
/// `App` takes it off again (`strip_allow`).
#[derive(Clone, Copy, Debug)]
struct Unserved;

/// Takes axum's `Allow` header off the responses `stub_or` made.
pub(crate) fn strip_allow<B>(response: &mut axum::http::Response<B>) {
    if response.extensions().get::<Unserved>().is_some() {
        response.headers_mut().remove(axum::http::header::ALLOW);
    }
}

/// Answers a request no route serves with the first matching stub, or 404.
pub(crate) async fn unserved(State(state): State<AppState>, request: Request) -> Response {
    stub_or(&state, request, |_| None).await
}

/// Answers `request` with the first matching stub; without one, with what `otherwise` gives,
/// or (`None`) the 404 of an unserved endpoint.
pub(super) async fn stub_or(
    state: &AppState,
    request: Request,
    otherwise: impl FnOnce(&AppState) -> Option<Response>,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let note = parts.extensions.get::<RequestNote>().cloned();
    let is_api = parts.uri.path().starts_with(API_PREFIX) || parts.uri.path().starts_with("/json/");
    let server = server_of(state, &parts.extensions);
    let realm = request_subdomain(&state.store, &server, &parts.headers, &parts.extensions).0;
    let candidates = state.control.stubs.candidates(&StubRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        realm: &realm,
    });
    let not_served = |note: &Option<RequestNote>| {
        if let Some(response) = otherwise(state) {
            return response;
        }
        if let (true, Some(note)) = (is_api, note) {
            note.remark(UNSERVED_NOTE.to_owned());
        }
        let mut response = ApiError::NotFound.into_response();
        response.extensions_mut().insert(Unserved);
        response
    };
    if candidates.is_empty() {
        return not_served(&note);
    }
    let params = if candidates.iter().any(|(_, spec)| spec.params.is_some()) {
        match parameters(&parts, body, state).await {
            Ok(params) => params,
            Err(error) => return error.into_response(),
        }
    } else {
        RequestParams::default()
    };
    let mut authed: Option<AuthedUser> = None;
    for (id, spec) in candidates {
        if !spec.matches_params(|name| params.get(name).map(str::to_owned)) {
            continue;
        }
        if spec.authenticate {
            if authed.is_none() {
                match AuthedUser::from_request_parts(&mut parts, state).await {
                    Ok(user) => authed = Some(user),
                    Err(response) => return response,
                }
            }
            let user = &authed.as_ref().expect("authenticated above").user;
            if !spec.matches_user(user.user_id, &user.delivery_email) {
                continue;
            }
        }
        if !state.control.stubs.take(id) {
            continue;
        }
        if let Some(note) = &note {
            note.remark(format!("answered by stub {id}"));
        }
        let mut response = stub_response(&spec, state);
        response.extensions_mut().insert(Unserved);
        return response;
    }
    not_served(&note)
}

/// The request's parameters, read from a copy of its head and its body.
async fn parameters(
    parts: &Parts,
    body: Body,
    state: &AppState,
) -> Result<RequestParams, ApiError> {
    let mut request = Request::new(body);
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = parts.uri.clone();
    *request.headers_mut() = parts.headers.clone();
    RequestParams::from_request(request, state).await
}

/// A stub's answer: its status and JSON body; a success carries the never-cache headers that
/// Zulip's `rest_dispatch` puts on what a view returns.
fn stub_response(spec: &StubSpec, state: &AppState) -> Response {
    let status = StatusCode::from_u16(spec.status).unwrap_or(StatusCode::OK);
    let response = crate::zulip_api::responses::json_response(status, &spec.response_body());
    if status.is_success() {
        crate::zulip_api::responses::with_never_cache(response, state.clock.now())
    } else {
        response
    }
}
