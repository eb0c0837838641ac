//! The layer every Zulip API request passes through on its way to its route: it applies the
//! faults a test installed, puts rate-limit headers on the response, and records the request
//! in the journal. Admin requests (`/__admin`) pass straight through.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, request::Parts, HeaderMap, Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app_state::AppState;
use crate::domain::clock::Timestamp;
use crate::domain::rate_limits::RateLimitHeaders;
use crate::domain::store::ServerSettings;
use crate::test_control::faults::{FaultAction, Hit, RequestFacts};
use crate::test_control::request_journal::{parameters_object, scrub_path, Record, RequestNote};
use crate::test_control::ADMIN_PREFIX;
use crate::zulip_api::api_errors::ApiError;
use crate::zulip_api::authentication::{
    authenticate, basic_credentials, request_subdomain, server_of,
};
use crate::zulip_api::parameters::RequestParams;
use crate::MAX_BODY_BYTES;

/// Faults, rate-limit headers and the journal around one Zulip API request.
pub(crate) async fn observe(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path().starts_with(ADMIN_PREFIX) {
        return next.run(request).await;
    }
    let journal_on = state.control.journal.is_enabled();
    let faults_on = state.control.faults.any();
    if !journal_on && !faults_on && state.control.rate_limiter.rule().is_none() {
        return next.run(request).await;
    }
    let note = RequestNote::default();
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(note.clone());
    let server = server_of(&state, &parts.extensions);
    let realm = request_subdomain(&state.store, &server, &parts.headers, &parts.extensions).0;
    let mut record = journal_on.then(|| {
        new_record(
            state.clock.now(),
            realm.clone(),
            &parts.method,
            &parts.uri,
            &parts.headers,
            state.admin_token(),
        )
    });

    // Only form and multipart bodies carry Zulip parameters; only they are read here.
    let body = match &mut record {
        Some(record) if has_form_body(&parts.headers) => {
            match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
                Ok(bytes) => {
                    record.params = body_parameters(&parts, bytes.clone(), &state).await;
                    Body::from(bytes)
                }
                Err(_) => {
                    let response = ApiError::PayloadTooLarge.into_response();
                    let record = Record {
                        params: None,
                        ..record.clone()
                    };
                    finish(&state, record, &note, Some(&response), None);
                    return response;
                }
            }
        }
        _ => body,
    };

    let hit = if faults_on {
        let credentials = basic_credentials(&parts.headers).ok();
        state.control.faults.take(&RequestFacts {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            realm: &realm,
            user_email: credentials.as_ref().map(|(email, _)| email.as_str()),
        })
    } else {
        None
    };
    let mut fault = None;
    let mut dropped = false;
    let mut injected = None;
    if let Some(hit) = hit {
        fault = Some(hit.id);
        dropped = hit.action == FaultAction::DropConnection;
        injected = injected_response(hit, &state, &server).await;
        if injected.is_some() && record.is_some() {
            // The fault answered before authentication: name the user the credentials
            // belong to anyway, so a test sees whose request it was.
            note_credentials(&state, &parts, &note);
        }
    }
    let response = match injected {
        Some(response) => response,
        None => {
            let mut response = next.run(Request::from_parts(parts, body)).await;
            if let Some(headers) = note.rate_limit() {
                crate::zulip_api::responses::put_rate_limit_headers(
                    headers,
                    response.headers_mut(),
                );
            }
            response
        }
    };
    if let Some(record) = record {
        finish(
            &state,
            record,
            &note,
            (!dropped).then_some(&response),
            fault,
        );
    }
    response
}

/// A journal record of a request to `realm` made at `time`, before it is handled: no user,
/// status or body parameters yet (a request without a form body has none).
/// The path loses whatever could be a secret (`journal::scrub_path`); query values are
/// redacted by name when the entry is shown.
pub(crate) fn new_record(
    time: Timestamp,
    realm: String,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    admin_token: Option<&str>,
) -> Record {
    let path = scrub_path(uri.path(), admin_token);
    Record {
        time,
        realm,
        method: method.clone(),
        target: match uri.query() {
            Some(query) => format!("{path}?{query}"),
            None => path.into_owned(),
        },
        user_agent: headers
            .get(header::USER_AGENT)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned()),
        params: Some(Default::default()),
        user: None,
        auth_failure: None,
        status: None,
        fault: None,
        note: None,
    }
}

/// Completes a journal record with what the request's handling noted, and keeps it.
fn finish(
    state: &AppState,
    record: Record,
    note: &RequestNote,
    response: Option<&Response>,
    fault: Option<u64>,
) {
    let noted = note.take();
    state.control.journal.record(Record {
        user: noted.user,
        auth_failure: noted.auth_failure,
        status: response.map(Response::status),
        fault,
        note: noted.remark,
        ..record
    });
}

/// After its delay, what a fault answers instead of the route (`None`: serve normally).
async fn injected_response(
    hit: Hit,
    state: &AppState,
    server: &ServerSettings,
) -> Option<Response> {
    if hit.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(hit.delay_ms)).await;
    }
    match hit.action {
        FaultAction::Serve => None,
        FaultAction::Error(error) => {
            let (msg, code) = error.message_and_code();
            let status = axum::http::StatusCode::from_u16(error.status)
                .unwrap_or(axum::http::StatusCode::BAD_REQUEST);
            let is_auth = error.status == 401;
            let mut response = ApiError::Injected { status, msg, code }.into_response();
            if is_auth {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    axum::http::HeaderValue::from_static("Basic realm=\"zulip\""),
                );
            }
            Some(response)
        }
        FaultAction::RateLimit(limit) => {
            let now = state.clock.now();
            let mut response = ApiError::RateLimited {
                retry_after: limit.retry_after,
                with_code: server.compat.rate_limit_code,
            }
            .into_response();
            let headers = RateLimitHeaders {
                limit: limit.limit,
                remaining: 0,
                reset: (now.unix_seconds_f64() + limit.retry_after).trunc() as i64,
            };
            crate::zulip_api::responses::put_rate_limit_headers(headers, response.headers_mut());
            Some(response)
        }
        FaultAction::DropConnection => Some(dropped_connection()),
    }
}

/// A response whose body fails at once: the server closes the connection without sending
/// anything, as a crashed or unreachable server would look to the client.
fn dropped_connection() -> Response {
    Response::new(Body::new(FailingBody))
}

/// A body whose first frame is an error, which makes hyper abort the connection.
struct FailingBody;

impl http_body::Body for FailingBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "connection dropped by an admin fault",
        ))))
    }
}

/// Notes who the request's credentials name, or why they name nobody, without answering.
fn note_credentials(state: &AppState, parts: &Parts, note: &RequestNote) {
    if note.has_auth_outcome() {
        return;
    }
    let server = server_of(state, &parts.extensions);
    let subdomain = request_subdomain(&state.store, &server, &parts.headers, &parts.extensions);
    match authenticate(&state.store, &server, &subdomain, &parts.headers) {
        Ok(authed) => note.authenticated(&authed.user),
        Err(failure) => note.auth_failed(failure.reason),
    }
}

fn has_form_body(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            let value = value.to_ascii_lowercase();
            value.starts_with("application/x-www-form-urlencoded")
                || value.starts_with("multipart/form-data")
        })
}

/// The body's parameters as the views will parse them; `None` when they cannot.
async fn body_parameters(
    parts: &Parts,
    bytes: Bytes,
    state: &AppState,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    let mut request = Request::new(Body::from(bytes));
    *request.headers_mut() = parts.headers.clone();
    let params = RequestParams::from_request(request, state).await.ok()?;
    Some(parameters_object(params.body_pairs()))
}
