//! Every Zulip endpoint the mock serves, in one list (zproject/urls.py), and how each answers
//! the HTTP methods it does not implement (zerver/lib/rest.py `rest_dispatch`).

mod events;
mod presence;
mod server_settings;
mod unserved;
mod users;

pub(crate) use unserved::{strip_allow, unserved};

use std::cell::RefCell;

use axum::extract::{Request, State};
use axum::http::{self, header, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use time::OffsetDateTime;

use crate::auth::{authenticate, request_subdomain};
use crate::error::ApiError;
use crate::feature_level::SINGLE_CLIENT_PRESENCE;
use crate::journal::Record;
use crate::observe::new_record;
use crate::response::{finish_success_in_one_frame, options_response, OneFrame};
use crate::state::AppState;

/// The methods of a GET-only endpoint; `rest_dispatch` adds HEAD wherever GET is supported.
const GET_HEAD: &[&str] = &["GET", "HEAD"];
/// The methods of a POST-only endpoint.
const POST: &[&str] = &["POST"];
/// The methods of `/events` and `/users/me`.
const GET_HEAD_DELETE: &[&str] = &["GET", "HEAD", "DELETE"];
/// The methods of `/users`.
const GET_HEAD_POST: &[&str] = &["GET", "HEAD", "POST"];
/// The methods of `/users/{user_id}`.
const GET_HEAD_PATCH_DELETE: &[&str] = &["GET", "HEAD", "PATCH", "DELETE"];

/// Every method and path the router below serves, written as stub path patterns: a stub may
/// not shadow one of them (`serves`). HEAD follows GET. `tests/api/stubs.rs` checks the list
/// against the router.
pub(crate) const SERVED: &[(&str, &str)] = &[
    ("GET", "/api/v1/server_settings"),
    ("POST", "/api/v1/register"),
    ("GET", "/api/v1/events"),
    ("DELETE", "/api/v1/events"),
    ("GET", REALM_PRESENCE_PATH),
    ("POST", "/api/v1/users/me/presence"),
    ("GET", "/api/v1/users/{user_id_or_email}/presence"),
    ("GET", "/api/v1/users"),
    ("GET", "/api/v1/users/me"),
    ("GET", "/api/v1/users/{user_id_or_email}"),
];

/// Whether the mock serves `method` on some path that `pattern` (a stub path) also matches.
pub(crate) fn serves(method: &str, pattern: &str) -> bool {
    SERVED.iter().any(|(served_method, path)| {
        served_method.eq_ignore_ascii_case(method) && crate::stubs::patterns_overlap(path, pattern)
    })
}

/// Every Zulip API route.
pub(crate) fn api_router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/server_settings",
            plain_view(get(server_settings::get_server_settings)),
        )
        .route(
            "/api/v1/register",
            rest_endpoint(state, POST, post(events::register)),
        )
        .route(
            "/api/v1/events",
            rest_endpoint(
                state,
                GET_HEAD_DELETE,
                get(events::get_events).delete(events::delete_events),
            ),
        )
        .route(
            REALM_PRESENCE_PATH,
            rest_endpoint(state, GET_HEAD, get(presence::get_realm_presence)),
        )
        // Listed before the next route in zproject/urls.py, so `me` is never a user here.
        .route(
            "/api/v1/users/me/presence",
            rest_endpoint(state, POST, post(presence::update_presence)),
        )
        .route(
            "/api/v1/users/{user_id_or_email}/presence",
            rest_endpoint(state, GET_HEAD, get(presence::get_user_presence)),
        )
        .route(
            "/api/v1/users",
            rest_endpoint(state, GET_HEAD_POST, get(users::get_users)),
        )
        // Listed before the next route in zproject/urls.py, so `me` is never a user here.
        .route(
            "/api/v1/users/me",
            rest_endpoint(state, GET_HEAD_DELETE, get(users::get_own_user)),
        )
        .route(
            "/api/v1/users/{user_id_or_email}",
            rest_endpoint(state, GET_HEAD_PATCH_DELETE, get(users::get_user)),
        )
}

/// What clients poll, answered without the router: an authenticated `GET /api/v1/realm/presence`
/// with no parameters and no body, from a viewer who sees everyone, at feature level 178 or
/// later, while no fault or rate limit is on. It goes through the same steps as the router,
/// with the same functions (authentication, the realm's cached body, the never-cache headers,
/// the journal record), so it answers and journals byte for byte what the router would
/// (`tests/api/fast_path.rs` compares the two). Any other request, or a failed
/// authentication, gives `None`: the router answers it.
pub(crate) fn fast_path<B>(
    state: &AppState,
    request: &http::Request<B>,
) -> Option<http::Response<OneFrame>> {
    let (method, uri, headers) = (request.method(), request.uri(), request.headers());
    if method != Method::GET
        || uri.path() != REALM_PRESENCE_PATH
        || uri.query().is_some()
        || !headers.contains_key(header::AUTHORIZATION)
        || [
            header::CONTENT_TYPE,
            header::CONTENT_LENGTH,
            header::TRANSFER_ENCODING,
        ]
        .iter()
        .any(|name| headers.contains_key(name))
        || state.control.faults.any()
        || state.control.rate_limiter.rule().is_some()
    {
        return None;
    }
    let policy = state.access_policy();
    if !policy.feature_level.has(SINGLE_CLIENT_PRESENCE) {
        return None;
    }
    let subdomain = request_subdomain(&state.store, headers, request.extensions());
    let authed = authenticate(&state.store, &subdomain, headers).ok()?;
    let now = state.clock.now();
    let prefix = presence::shared_realm_presence(&authed, policy, now)?;
    let response = with_never_cache(
        finish_success_in_one_frame(prefix, now.unix_seconds_f64(), &[]),
        state,
    );
    if state.control.journal.is_enabled() {
        state.control.journal.record(Record {
            user: Some(authed.user),
            status: Some(response.status()),
            ..new_record(now, subdomain.0, method, uri, headers, state.admin_token())
        });
    }
    Some(response)
}

const REALM_PRESENCE_PATH: &str = "/api/v1/realm/presence";

/// An endpoint served by `rest_dispatch`: the method is checked first (405 with `Allow` and
/// `allowed_methods`, OPTIONS 204), then Basic authentication, then the view. Responses that
/// dispatch returns (not errors raised through it) carry Django's never-cache headers.
/// `allowed` is what Zulip allows on the path; a method Zulip allows that the mock does not
/// serve is answered like an unserved path (a stub, or 404).
fn rest_endpoint(
    state: &AppState,
    allowed: &'static [&'static str],
    view: MethodRouter<AppState>,
) -> MethodRouter<AppState> {
    // Authentication is the views' first extractor (`AuthedUser`), so it runs after routing has
    // matched the method.
    view.layer(middleware::from_fn_with_state(state.clone(), never_cache))
        .options(move |State(state): State<AppState>| async move {
            with_never_cache(options_response(allowed), &state)
        })
        .fallback(
            move |State(state): State<AppState>, request: Request| async move {
                let zulip_serves = allowed.contains(&request.method().as_str());
                unserved::stub_or(&state, request, move |state| {
                    if zulip_serves {
                        return None;
                    }
                    let mut response = axum::response::IntoResponse::into_response(
                        ApiError::MethodNotAllowed(allowed),
                    );
                    // Django's HttpResponseNotAllowed keeps its HTML content type around Zulip's JSON.
                    response.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/html; charset=utf-8"),
                    );
                    Some(with_never_cache(response, state))
                })
                .await
            },
        )
}

/// A plain Django view guarded by `@require_safe` (GET and HEAD): a wrong method gets Django's
/// own 405, with `Allow` and an empty body (unless a stub answers it).
fn plain_view(view: MethodRouter<AppState>) -> MethodRouter<AppState> {
    view.fallback(
        |State(state): State<AppState>, request: Request| async move {
            unserved::stub_or(&state, request, |_| {
                let mut response = axum::response::IntoResponse::into_response(
                    axum::http::StatusCode::METHOD_NOT_ALLOWED,
                );
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                );
                Some(response)
            })
            .await
        },
    )
}

/// Errors the view raises (a bad body, say) pass through `rest_dispatch` as exceptions and
/// get no never-cache headers; only what the view returns does.
async fn never_cache(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status().is_success() {
        with_never_cache(response, &state)
    } else {
        response
    }
}

/// Django's `add_never_cache_headers`: `Expires` now (its -1 s timeout is clamped to 0), and
/// `Cache-Control`.
fn with_never_cache<B>(mut response: http::Response<B>, state: &AppState) -> http::Response<B> {
    let headers = response.headers_mut();
    if headers.contains_key(header::CACHE_CONTROL) {
        return response;
    }
    if let Some(value) = http_date_header(state.clock.now().unix_seconds()) {
        headers.insert(header::EXPIRES, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=0, no-cache, no-store, must-revalidate, private"),
    );
    response
}

/// `http_date` as a header value, made once a second per thread (every response carries one).
fn http_date_header(unix_seconds: i64) -> Option<HeaderValue> {
    thread_local! {
        static LAST: RefCell<Option<(i64, HeaderValue)>> = const { RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| match last {
        Some((seconds, value)) if *seconds == unix_seconds => Some(value.clone()),
        _ => {
            let value = HeaderValue::from_str(&http_date(unix_seconds)).ok()?;
            *last = Some((unix_seconds, value.clone()));
            Some(value)
        }
    })
}

/// An HTTP date (RFC 9110 IMF-fixdate), e.g. `Tue, 14 Nov 2023 22:13:19 GMT`.
fn http_date(unix_seconds: i64) -> String {
    const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let at =
        OffsetDateTime::from_unix_timestamp(unix_seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let weekday = WEEKDAYS[usize::from(at.weekday().number_days_from_monday())];
    let month = MONTHS[usize::from(u8::from(at.month())) - 1];
    format!(
        "{weekday}, {:02} {month} {} {:02}:{:02}:{:02} GMT",
        at.day(),
        at.year(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_use_the_imf_fixdate_form() {
        assert_eq!(http_date(1_699_999_999), "Tue, 14 Nov 2023 22:13:19 GMT");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }
}
