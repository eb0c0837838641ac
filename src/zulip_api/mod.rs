//! Every Zulip endpoint the mock serves, in one list (zproject/urls.py), and how each answers
//! the HTTP methods it does not implement (zerver/lib/rest.py `rest_dispatch`).

pub(crate) mod api_errors;
pub(crate) mod authentication;
pub(crate) mod body_cache;
mod event_views;
pub(crate) mod journal_layer;
pub(crate) mod parameters;
mod presence_views;
pub(crate) mod responses;
pub(crate) mod served_endpoints;
mod server_settings_views;
mod unserved_views;
mod user_views;

pub(crate) use unserved_views::{strip_allow, unserved};

use axum::extract::{Request, State};
use axum::http::{self, header, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, MethodRouter};
use axum::Router;

use crate::app_state::AppState;
use crate::domain::presence_rules::AccessPolicy;
use crate::test_control::request_journal::Record;
use crate::zulip_api::api_errors::ApiError;
use crate::zulip_api::authentication::{account_of, request_subdomain};
use crate::zulip_api::journal_layer::new_record;
use crate::zulip_api::responses::{finish_success_in_one_frame, options_response, OneFrame};
use crate::zulip_api::served_endpoints::REALM_PRESENCE_PATH;

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

/// Every Zulip API route.
pub(crate) fn api_router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/server_settings",
            plain_view(get(server_settings_views::get_server_settings)),
        )
        .route(
            "/api/v1/register",
            rest_endpoint(state, POST, post(event_views::register)),
        )
        .route(
            "/api/v1/events",
            rest_endpoint(
                state,
                GET_HEAD_DELETE,
                get(event_views::get_events).delete(event_views::delete_events),
            ),
        )
        .route(
            REALM_PRESENCE_PATH,
            rest_endpoint(state, GET_HEAD, get(presence_views::get_realm_presence)),
        )
        // Listed before the next route in zproject/urls.py, so `me` is never a user here.
        .route(
            "/api/v1/users/me/presence",
            rest_endpoint(state, POST, post(presence_views::update_presence)),
        )
        .route(
            "/api/v1/users/{user_id_or_email}/presence",
            rest_endpoint(state, GET_HEAD, get(presence_views::get_user_presence)),
        )
        .route(
            "/api/v1/users",
            rest_endpoint(state, GET_HEAD_POST, get(user_views::get_users)),
        )
        // Listed before the next route in zproject/urls.py, so `me` is never a user here.
        .route(
            "/api/v1/users/me",
            rest_endpoint(state, GET_HEAD_DELETE, get(user_views::get_own_user)),
        )
        .route(
            "/api/v1/users/{user_id_or_email}",
            rest_endpoint(state, GET_HEAD_PATCH_DELETE, get(user_views::get_user)),
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
    // One look at the server's settings, without taking a reference to them (which would
    // make both cores write its count on every request).
    let (policy, subdomain, account) = state.store.with_server(|server| {
        let policy = AccessPolicy::of(server);
        let subdomain = request_subdomain(&state.store, server, headers, request.extensions());
        let account = account_of(&state.store, server, &subdomain, headers).ok();
        (policy, subdomain, account)
    });
    if !policy.compat.single_client_presence {
        return None;
    }
    let account = account?;
    let now = state.clock.now();
    let prefix =
        presence_views::shared_realm_presence((&account.realm, &account.user), policy, now)?;
    let response = responses::with_never_cache(
        finish_success_in_one_frame(prefix, now.unix_seconds_f64(), &[]),
        now,
    );
    if state.control.journal.is_enabled() {
        state.control.journal.record(Record {
            user: Some(account.user),
            status: Some(response.status()),
            ..new_record(now, subdomain.0, method, uri, headers, state.admin_token())
        });
    }
    Some(response)
}

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
            responses::with_never_cache(options_response(allowed), state.clock.now())
        })
        .fallback(
            move |State(state): State<AppState>, request: Request| async move {
                let zulip_serves = allowed.contains(&request.method().as_str());
                unserved_views::stub_or(&state, request, move |state| {
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
                    Some(responses::with_never_cache(response, state.clock.now()))
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
            unserved_views::stub_or(&state, request, |_| {
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
        responses::with_never_cache(response, state.clock.now())
    } else {
        response
    }
}
