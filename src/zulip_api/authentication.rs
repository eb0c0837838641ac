//! Zulip's HTTP basic authentication for `/api/v1` (zerver/decorator.py
//! `authenticated_rest_api_view`, `validate_api_key`): each way a request can fail has its own
//! status, message and header, checked in Zulip's order. Also picks the request's realm from
//! its Host header (zerver/lib/subdomains.py).

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use subtle::ConstantTimeEq;

use crate::app_state::AppState;
use crate::domain::store::{Account, Realm, ServerSettings, Store, User};
use crate::fixtures::is_valid_api_key;
use crate::test_control::request_journal::RequestNote;
use crate::zulip_api::api_errors::ApiError;

/// The authenticated requester. As a handler's first argument it authenticates the request
/// (after routing has checked the method, as Zulip's `rest_dispatch` does), applies the rate
/// limit when one is on, or answers Zulip's error before the handler runs. Either way it
/// tells the request's journal note who asked, or why they were refused.
#[derive(Clone, Debug)]
pub(crate) struct AuthedUser {
    pub realm: Arc<Realm>,
    pub user: Arc<User>,
    /// The server's settings as this request found them: one snapshot for the whole request,
    /// so that an admin change meanwhile never mixes two feature levels in one answer.
    pub server: Arc<ServerSettings>,
}

/// The server's settings for one request, taken once as it starts (`App` puts it in the
/// request's extensions).
#[derive(Clone, Debug)]
pub(crate) struct RequestServer(pub Arc<ServerSettings>);

/// The server's settings for the request with `extensions`: its snapshot, or (for a request
/// that has none) the store's now.
pub(crate) fn server_of(state: &AppState, extensions: &Extensions) -> Arc<ServerSettings> {
    match extensions.get::<RequestServer>() {
        Some(RequestServer(server)) => Arc::clone(server),
        None => state.store.server(),
    }
}

impl FromRequestParts<AppState> for AuthedUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let note = parts.extensions.get::<RequestNote>().cloned();
        let headers = &parts.headers;
        if !headers.contains_key(header::AUTHORIZATION) && accepts_html(headers) {
            if let Some(note) = &note {
                note.auth_failed(
                    "no Authorization header, and the client accepts HTML: redirected to the login page"
                        .to_owned(),
                );
            }
            return Err(login_redirect(parts.uri.path()));
        }
        let server = server_of(state, &parts.extensions);
        let subdomain = request_subdomain(&state.store, &server, headers, &parts.extensions);
        let authed = match authenticate(&state.store, &server, &subdomain, headers) {
            Ok(authed) => authed,
            Err(AuthFailure { error, reason }) => {
                if let Some(note) = &note {
                    note.auth_failed(reason);
                }
                return Err(error.into_response());
            }
        };
        if let Some(note) = &note {
            note.authenticated(&authed.user);
        }
        // Zulip rate limits after authentication and before the view; the headers go on
        // whatever the view answers (the note carries them to the response).
        if let Some(outcome) = state.control.rate_limiter.check(
            authed.realm.subdomain(),
            authed.user.user_id,
            state.clock.now(),
        ) {
            if let Some(note) = &note {
                note.rate_limited(outcome.headers);
            }
            if let Some(retry_after) = outcome.retry_after {
                let mut response = ApiError::RateLimited {
                    retry_after,
                    with_code: authed.server.compat.rate_limit_code,
                }
                .into_response();
                crate::zulip_api::responses::put_rate_limit_headers(
                    outcome.headers,
                    response.headers_mut(),
                );
                return Err(response);
            }
        }
        Ok(authed)
    }
}

/// Why authentication failed: Zulip's error for the client, and the reason in plain words for
/// the request journal (the answer to "why does my client get 401?").
#[derive(Debug, PartialEq)]
pub(crate) struct AuthFailure {
    pub error: ApiError,
    pub reason: String,
}

impl AuthFailure {
    fn new(error: ApiError, reason: impl Into<String>) -> Self {
        Self {
            error,
            reason: reason.into(),
        }
    }
}

/// Whether `headers` authenticate a user of the realm on `subdomain` in `state` (the whole
/// check a request goes through, for callers without a request, such as the fuzz targets).
pub fn authenticates(state: &AppState, subdomain: &str, headers: &HeaderMap) -> bool {
    authenticate(
        &state.store,
        &state.store.server(),
        &RequestSubdomain(subdomain.to_owned()),
        headers,
    )
    .is_ok()
}

/// Finds the user the request's credentials name, or the error Zulip sends instead; the
/// result carries `server`, the request's snapshot.
pub(crate) fn authenticate(
    store: &Store,
    server: &Arc<ServerSettings>,
    subdomain: &RequestSubdomain,
    headers: &HeaderMap,
) -> Result<AuthedUser, AuthFailure> {
    let account = account_of(store, server, subdomain, headers)?;
    Ok(AuthedUser {
        realm: account.realm,
        user: account.user,
        server: Arc::clone(server),
    })
}

/// The account the request's credentials name on a server with settings `server`, or the error
/// Zulip sends instead (`authenticate` without taking a reference to the settings, for the
/// fast path).
pub(crate) fn account_of(
    store: &Store,
    server: &ServerSettings,
    subdomain: &RequestSubdomain,
    headers: &HeaderMap,
) -> Result<Account, AuthFailure> {
    let credentials = BasicCredentials::from_headers(headers).map_err(|error| {
        let reason = match error {
            ApiError::NotLoggedIn => "no Authorization header",
            ApiError::BasicAuthRequired => "the Authorization header's scheme is not Basic",
            _ => "the Authorization header is not `Basic <base64 of email:api_key>`",
        };
        AuthFailure::new(error, reason)
    })?;
    let (email, api_key) = (credentials.email(), credentials.api_key());
    if !is_valid_api_key(api_key) {
        return Err(AuthFailure::new(
            ApiError::Unauthenticated("Malformed API key"),
            format!(
                "the API key is not 32 letters and digits (it has {} characters)",
                api_key.chars().count()
            ),
        ));
    }
    // Zulip finds the user by key, then compares the email with their delivery email. Looking
    // up by email and comparing keys in constant time gives the same answers without letting
    // response times reveal how much of a key was right. The request's own realm is looked at
    // first; other realms only to say why a request failed.
    let key_matches = |user: &User| bool::from(user.api_key.as_bytes().ct_eq(api_key.as_bytes()));
    let in_request_realm = store.realm(&subdomain.0).and_then(|realm| {
        let user = realm.read(|state| state.user_by_delivery_email(email).cloned())?;
        key_matches(&user).then_some(Account { realm, user })
    });
    let account = match in_request_realm {
        Some(account) => account,
        None => store
            .accounts_with_delivery_email(email)
            .into_iter()
            .find(|account| key_matches(&account.user))
            .ok_or_else(|| {
                AuthFailure::new(
                    ApiError::Unauthenticated("Invalid API key"),
                    why_no_user_has(store, email, api_key),
                )
            })?,
    };
    let deactivated = account.realm.read(|realm| realm.settings().deactivated);
    let deactivated_error = |msg: &'static str, code: &'static str| {
        if server.compat.deactivated_is_unauthorized {
            ApiError::Unauthenticated(msg)
        } else {
            ApiError::Deactivated { msg, code }
        }
    };
    if deactivated {
        return Err(AuthFailure::new(
            deactivated_error(
                "This organization has been deactivated",
                "REALM_DEACTIVATED",
            ),
            format!(
                "{}'s realm {:?} (subdomain {:?}) is deactivated",
                account.user.delivery_email,
                account.realm.read(|realm| realm.settings().name.clone()),
                account.realm.subdomain()
            ),
        ));
    }
    if !account.user.is_active {
        return Err(AuthFailure::new(
            deactivated_error("Account is deactivated", "USER_DEACTIVATED"),
            format!(
                "user {} (id {}) is deactivated",
                account.user.delivery_email, account.user.user_id
            ),
        ));
    }
    if !subdomain.is(&account.realm) {
        return Err(AuthFailure::new(
            ApiError::Unauthenticated("Account is not associated with this subdomain"),
            format!(
                "{} is a user of the realm on subdomain {:?}, but the request was for subdomain {:?} (see the Host header)",
                account.user.delivery_email,
                account.realm.subdomain(),
                subdomain.0
            ),
        ));
    }
    Ok(account)
}

/// Why no user has both this email and this key, in plain words. It never quotes the
/// Authorization header (a client may have put its key where the email goes): it names users
/// by the emails the state holds.
fn why_no_user_has(store: &Store, email: &str, api_key: &str) -> String {
    let known = store
        .accounts_with_delivery_email(email)
        .first()
        .map(|account| account.user.delivery_email.clone());
    let key_owner = store.realms().iter().find_map(|realm| {
        realm.read(|state| {
            state
                .users()
                .find(|user| bool::from(user.api_key.as_bytes().ct_eq(api_key.as_bytes())))
                .map(|user| user.delivery_email.clone())
        })
    });
    match (known, key_owner) {
        (Some(user), Some(owner)) => {
            format!("the API key belongs to {owner}, not to {user}")
        }
        (Some(user), None) => format!("{user} exists, but no user has this API key"),
        (None, Some(owner)) => {
            format!("no user has the email sent (the API key belongs to {owner})")
        }
        (None, None) => "no user has the email sent, and no user has this API key".to_owned(),
    }
}

/// The email and API key of a Basic Authorization header, whitespace-stripped.
pub fn basic_credentials(headers: &HeaderMap) -> Result<(String, String), ApiError> {
    BasicCredentials::from_headers(headers).map(|credentials| {
        (
            credentials.email().to_owned(),
            credentials.api_key().to_owned(),
        )
    })
}

/// The decoded `email:api_key` of a Basic Authorization header, both parts whitespace-stripped
/// and borrowed from one buffer (every authenticated request decodes one).
#[derive(Debug)]
pub(crate) struct BasicCredentials {
    decoded: String,
    email: Range<usize>,
    api_key: Range<usize>,
}

impl BasicCredentials {
    /// Zulip's parsing of the Authorization header (`get_basic_credentials`), with its errors.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Result<Self, ApiError> {
        const INVALID_HEADER: ApiError =
            ApiError::Unauthenticated("Invalid authorization header for basic auth");
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::NotLoggedIn);
        };
        let value = match std::str::from_utf8(value.as_bytes()) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(value.as_bytes()),
        };
        // A header value's only ASCII whitespace is spaces and tabs, which both splits agree
        // on; other text may hold Unicode whitespace, which Python's `split()` also splits on.
        let tokens = if value.is_ascii() {
            exactly_two(value.split_ascii_whitespace())
        } else {
            exactly_two(value.split_whitespace())
        };
        let Some((scheme, encoded)) = tokens else {
            return Err(INVALID_HEADER);
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(ApiError::BasicAuthRequired);
        }
        let decoded = decode_base64_like_python(encoded).ok_or(INVALID_HEADER)?;
        let decoded = String::from_utf8(decoded).map_err(|_| INVALID_HEADER)?;
        // Exactly one colon: `email:api_key`.
        let colon = decoded
            .bytes()
            .position(|b| b == b':')
            .ok_or(INVALID_HEADER)?;
        if decoded.as_bytes()[colon + 1..].contains(&b':') {
            return Err(INVALID_HEADER);
        }
        let trimmed = |range: Range<usize>| {
            let part = &decoded[range.clone()];
            let start = range.start + (part.len() - part.trim_start().len());
            let end = range.start + part.trim_end().len();
            start..end.max(start)
        };
        Ok(Self {
            email: trimmed(0..colon),
            api_key: trimmed(colon + 1..decoded.len()),
            decoded,
        })
    }

    pub(crate) fn email(&self) -> &str {
        &self.decoded[self.email.clone()]
    }

    pub(crate) fn api_key(&self) -> &str {
        &self.decoded[self.api_key.clone()]
    }
}

/// The two items of `items`, if it has exactly two.
fn exactly_two<'a>(mut items: impl Iterator<Item = &'a str>) -> Option<(&'a str, &'a str)> {
    match (items.next(), items.next(), items.next()) {
        (Some(first), Some(second), None) => Some((first, second)),
        _ => None,
    }
}

/// Python's `base64.b64decode(s)` (no `validate`): characters outside the alphabet are
/// discarded first, then the padding must be right.
fn decode_base64_like_python(encoded: &str) -> Option<Vec<u8>> {
    let engine = base64::engine::general_purpose::STANDARD;
    // Text of the alphabet only decodes as it is; the engine refuses anything else.
    if let Ok(decoded) = engine.decode(encoded) {
        return Some(decoded);
    }
    let kept: Vec<u8> = encoded
        .bytes()
        .filter(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        .collect();
    // Multi-byte characters are outside the alphabet too: none of their bytes is ASCII.
    engine.decode(kept).ok()
}

fn accepts_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .any(|value| value.to_str().is_ok_and(|v| v.contains("text/html")))
}

/// Zulip sends a browser without credentials to the login page instead of a 401.
fn login_redirect(path: &str) -> Response {
    let location = format!("/login/?next={}", url_escape(path));
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, value);
    }
    // Django's HttpResponseRedirect: an empty HTML response.
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// What `url_escape` leaves as it is: RFC 3986's unreserved characters.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn url_escape(text: &str) -> String {
    utf8_percent_encode(text, UNRESERVED).to_string()
}

/// The subdomain a request is for, from its Host header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RequestSubdomain(pub String);

impl RequestSubdomain {
    /// Whether the request was made to `realm`'s host.
    fn is(&self, realm: &Realm) -> bool {
        self.0 == realm.subdomain()
    }
}

/// The request's subdomain: the one its path names (`/__realm/<subdomain>/...`, for clients
/// that cannot set Host), else its Host header's; with a single realm, every host is that
/// realm's.
pub(crate) fn request_subdomain(
    store: &Store,
    server: &ServerSettings,
    headers: &HeaderMap,
    extensions: &Extensions,
) -> RequestSubdomain {
    if let Some(RealmFromPath(subdomain)) = extensions.get::<RealmFromPath>() {
        return RequestSubdomain(subdomain.clone());
    }
    if let Some(realm) = store.sole_realm() {
        return RequestSubdomain(realm.subdomain().to_owned());
    }
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    RequestSubdomain(subdomain_of_host(host, &server.external_host))
}

/// The path prefix that selects a realm without a Host header: `/__realm/<subdomain>`, with
/// `_root` for the root domain.
pub(crate) const REALM_PATH_PREFIX: &str = "/__realm/";

/// How the root domain ("") is written where a subdomain must be a non-empty path segment.
pub(crate) const ROOT_SEGMENT: &str = "_root";

/// The subdomain a request's path prefix named (see `strip_realm_prefix`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RealmFromPath(pub String);

/// Rewrites `/__realm/<subdomain>/api/...` to `/api/...` and remembers the subdomain, so that
/// a client given `http://127.0.0.1:9991/__realm/<subdomain>` as its site reaches that realm.
pub(crate) fn strip_realm_prefix<B>(mut request: axum::http::Request<B>) -> axum::http::Request<B> {
    let uri = request.uri();
    let Some(rest) = uri.path().strip_prefix(REALM_PATH_PREFIX) else {
        return request;
    };
    let (segment, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let subdomain = if segment == ROOT_SEGMENT {
        String::new()
    } else {
        segment.to_ascii_lowercase()
    };
    let path_and_query = match uri.query() {
        Some(query) => format!("{}?{query}", if path.is_empty() { "/" } else { path }),
        None => if path.is_empty() { "/" } else { path }.to_owned(),
    };
    let Ok(new_uri) = axum::http::Uri::builder()
        .path_and_query(path_and_query)
        .build()
    else {
        return request;
    };
    *request.uri_mut() = new_uri;
    request.extensions_mut().insert(RealmFromPath(subdomain));
    request
}

/// Zulip's `get_subdomain`: `<sub>.<external host>` names realm `<sub>`; any other host is the
/// root domain (""). Ports are ignored on both sides and hosts compare case-insensitively.
pub(crate) fn subdomain_of_host(host: &str, external_host: &str) -> String {
    let host = strip_port(host).to_ascii_lowercase();
    let external = strip_port(external_host).to_ascii_lowercase();
    match host
        .strip_suffix(&external)
        .and_then(|rest| rest.strip_suffix('.'))
    {
        // Everything before `.<external host>`, dots included, as Zulip's
        // `get_subdomain_from_hostname` takes it: `a.lear` names no realm.
        Some(sub) if !sub.is_empty() && sub != "www" => sub.to_owned(),
        _ => String::new(),
    }
}

fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port))
            if !name.ends_with(']')
                && !name.contains(':')
                && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            name
        }
        Some((name, port)) if name.ends_with(']') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    fn basic(text: &str) -> HeaderMap {
        header(&format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(text)
        ))
    }

    const INVALID: ApiError =
        ApiError::Unauthenticated("Invalid authorization header for basic auth");

    #[test]
    fn credentials_are_split_and_stripped() {
        assert_eq!(
            basic_credentials(&basic(" iago@zulip.com : key ")),
            Ok(("iago@zulip.com".to_owned(), "key".to_owned()))
        );
    }

    #[test]
    fn a_missing_header_is_not_logged_in() {
        assert_eq!(
            basic_credentials(&HeaderMap::new()),
            Err(ApiError::NotLoggedIn)
        );
    }

    #[test]
    fn every_malformed_header_gets_its_zulip_error() {
        assert_eq!(basic_credentials(&header("Basic")), Err(INVALID));
        assert_eq!(basic_credentials(&header("Basic a b")), Err(INVALID));
        assert_eq!(
            basic_credentials(&header("Bearer abc")),
            Err(ApiError::BasicAuthRequired)
        );
        assert_eq!(basic_credentials(&header("Basic abc")), Err(INVALID));
        assert_eq!(basic_credentials(&header("Basic //8=")), Err(INVALID));
        assert_eq!(basic_credentials(&basic("no-colon")), Err(INVALID));
        assert_eq!(basic_credentials(&basic("a:b:c")), Err(INVALID));
    }

    #[test]
    fn the_scheme_is_case_insensitive_and_stray_characters_are_dropped_like_python() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("a@b.c:k");
        let with_stray = format!("bAsIc {encoded}!");
        assert_eq!(
            basic_credentials(&header(&with_stray)),
            Ok(("a@b.c".to_owned(), "k".to_owned()))
        );
    }

    /// The header parsing written the plain way (as it was before it was made faster): the
    /// reference the property below compares with.
    fn reference_credentials(value: &[u8]) -> Result<(String, String), ApiError> {
        let value = String::from_utf8_lossy(value);
        let tokens: Vec<&str> = value.split_whitespace().collect();
        let [scheme, encoded] = tokens[..] else {
            return Err(INVALID);
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(ApiError::BasicAuthRequired);
        }
        let kept: String = encoded
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
            .collect();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(kept)
            .map_err(|_| INVALID)?;
        let decoded = String::from_utf8(decoded).map_err(|_| INVALID)?;
        let parts: Vec<&str> = decoded.split(':').collect();
        let [email, api_key] = parts[..] else {
            return Err(INVALID);
        };
        Ok((email.trim().to_owned(), api_key.trim().to_owned()))
    }

    /// Header values: a scheme, whitespace (ASCII and not), then base64 of `email:key` texts
    /// with stray characters, or raw bytes.
    fn header_value() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let text = "[ a-z@.:\\t\u{a0}é]{0,12}";
        let credentials = (text, prop::option::of(text)).prop_map(|(email, key)| match key {
            Some(key) => format!("{email}:{key}"),
            None => email,
        });
        let encoded = (credentials, "[!*\\- \u{a0}]{0,2}", 0..40usize).prop_map(
            |(credentials, stray, at)| {
                let mut encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
                encoded.insert_str(at.min(encoded.len()), &stray);
                encoded
            },
        );
        let scheme = prop::sample::select(vec!["Basic", "basic", "BASIC", "Bearer", ""]);
        let space = prop::sample::select(vec![" ", "  ", "\t", " \u{a0}", "\u{85}", ""]);
        prop_oneof![
            4 => (space.clone(), scheme, space.clone(), encoded, space)
                .prop_map(|(a, scheme, b, encoded, c)| format!("{a}{scheme}{b}{encoded}{c}").into_bytes()),
            1 => prop::collection::vec(prop::sample::select(vec![b' ', b'\t', b'a', b'=', b':', 0x80, 0xff]), 0..12),
        ]
    }

    proptest::proptest! {
        // Failures are not saved: the file would land in a top-level directory.
        #![proptest_config(proptest::test_runner::Config {
            failure_persistence: None,
            ..proptest::test_runner::Config::default()
        })]

        #[test]
        fn credentials_are_read_as_the_plain_reference_reads_them(value in header_value()) {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_bytes(&value) {
                headers.insert(header::AUTHORIZATION, value);
                proptest::prop_assert_eq!(
                    basic_credentials(&headers),
                    reference_credentials(headers[header::AUTHORIZATION].as_bytes())
                );
            }
        }
    }

    #[test]
    fn hosts_map_to_subdomains_like_zulip() {
        let external = "localhost:9991";
        assert_eq!(subdomain_of_host("localhost:9991", external), "");
        assert_eq!(subdomain_of_host("127.0.0.1:9991", external), "");
        assert_eq!(subdomain_of_host("lear.localhost:9991", external), "lear");
        assert_eq!(subdomain_of_host("LEAR.localhost", external), "lear");
        assert_eq!(subdomain_of_host("lear.localhost:4000", external), "lear");
        assert_eq!(subdomain_of_host("www.localhost:9991", external), "");
        assert_eq!(subdomain_of_host("a.b.localhost", external), "a.b");
        assert_eq!(subdomain_of_host("lear.example.com", external), "");
    }
}
