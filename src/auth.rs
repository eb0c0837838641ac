//! Zulip's HTTP basic authentication for `/api/v1` (zerver/decorator.py
//! `authenticated_rest_api_view`, `validate_api_key`): each way a request can fail has its own
//! status, message and header, checked in Zulip's order. Also picks the request's realm from
//! its Host header (zerver/lib/subdomains.py).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::fixtures::is_valid_api_key;
use crate::state::AppState;
use crate::store::{Realm, Store, User};

/// The authenticated requester. As a handler's first argument it authenticates the request
/// (after routing has checked the method, as Zulip's `rest_dispatch` does), or answers
/// Zulip's error before the handler runs.
#[derive(Clone, Debug)]
pub struct AuthedUser {
    pub realm: Arc<Realm>,
    pub user: Arc<User>,
}

impl FromRequestParts<AppState> for AuthedUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let headers = &parts.headers;
        if !headers.contains_key(header::AUTHORIZATION) && accepts_html(headers) {
            return Err(login_redirect(parts.uri.path()));
        }
        let subdomain = request_subdomain(&state.store, headers);
        authenticate(&state.store, &subdomain, headers).map_err(IntoResponse::into_response)
    }
}

/// Finds the user the request's credentials name, or the error Zulip sends instead.
pub fn authenticate(
    store: &Store,
    subdomain: &RequestSubdomain,
    headers: &HeaderMap,
) -> Result<AuthedUser, ApiError> {
    let (email, api_key) = basic_credentials(headers)?;
    if !is_valid_api_key(&api_key) {
        return Err(ApiError::Unauthenticated("Malformed API key"));
    }
    // Zulip finds the user by key, then compares the email with their delivery email. Looking
    // up by email and comparing keys in constant time gives the same answers without letting
    // response times reveal how much of a key was right. Keys are unique, so at most one matches.
    let account = store
        .accounts_with_delivery_email(&email)
        .into_iter()
        .find(|account| bool::from(account.user.api_key.as_bytes().ct_eq(api_key.as_bytes())));
    let Some(account) = account else {
        tracing::debug!(%email, "no user has this email and API key");
        return Err(ApiError::Unauthenticated("Invalid API key"));
    };
    if account.realm.read(|realm| realm.settings().deactivated) {
        return Err(ApiError::Unauthenticated(
            "This organization has been deactivated",
        ));
    }
    if !account.user.is_active {
        return Err(ApiError::Unauthenticated("Account is deactivated"));
    }
    if !subdomain.is(&account.realm) {
        tracing::warn!(
            %email,
            user_subdomain = %account.realm.subdomain(),
            request_subdomain = %subdomain.0,
            "user tried to authenticate on another realm's host"
        );
        return Err(ApiError::Unauthenticated(
            "Account is not associated with this subdomain",
        ));
    }
    Ok(AuthedUser {
        realm: account.realm,
        user: account.user,
    })
}

/// The email and API key of a Basic Authorization header, whitespace-stripped.
pub fn basic_credentials(headers: &HeaderMap) -> Result<(String, String), ApiError> {
    const INVALID_HEADER: ApiError =
        ApiError::Unauthenticated("Invalid authorization header for basic auth");
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::NotLoggedIn);
    };
    let value = String::from_utf8_lossy(value.as_bytes());
    let tokens: Vec<&str> = value.split_whitespace().collect();
    let [scheme, encoded] = tokens[..] else {
        return Err(INVALID_HEADER);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ApiError::BasicAuthRequired);
    }
    let decoded = decode_base64_like_python(encoded).ok_or(INVALID_HEADER)?;
    let decoded = String::from_utf8(decoded).map_err(|_| INVALID_HEADER)?;
    let mut parts = decoded.split(':');
    let (Some(email), Some(api_key), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(INVALID_HEADER);
    };
    Ok((email.trim().to_owned(), api_key.trim().to_owned()))
}

/// Python's `base64.b64decode(s)` (no `validate`): characters outside the alphabet are
/// discarded first, then the padding must be right.
fn decode_base64_like_python(encoded: &str) -> Option<Vec<u8>> {
    let kept: String = encoded
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(kept).ok()
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

fn url_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The subdomain a request is for, from its Host header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestSubdomain(pub String);

impl RequestSubdomain {
    /// Whether the request was made to `realm`'s host.
    fn is(&self, realm: &Realm) -> bool {
        self.0 == realm.subdomain()
    }
}

/// The request's subdomain; with a single realm, every host is that realm's.
pub fn request_subdomain(store: &Store, headers: &HeaderMap) -> RequestSubdomain {
    if let Some(realm) = store.sole_realm() {
        return RequestSubdomain(realm.subdomain().to_owned());
    }
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    RequestSubdomain(subdomain_of_host(host, &store.server().external_host))
}

/// Zulip's `get_subdomain`: `<sub>.<external host>` names realm `<sub>`; any other host is the
/// root domain (""). Ports are ignored on both sides and hosts compare case-insensitively.
pub fn subdomain_of_host(host: &str, external_host: &str) -> String {
    let host = strip_port(host).to_ascii_lowercase();
    let external = strip_port(external_host).to_ascii_lowercase();
    match host
        .strip_suffix(&external)
        .and_then(|rest| rest.strip_suffix('.'))
    {
        Some(sub) if !sub.is_empty() && !sub.contains('.') && sub != "www" => sub.to_owned(),
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

    #[test]
    fn hosts_map_to_subdomains_like_zulip() {
        let external = "localhost:9991";
        assert_eq!(subdomain_of_host("localhost:9991", external), "");
        assert_eq!(subdomain_of_host("127.0.0.1:9991", external), "");
        assert_eq!(subdomain_of_host("lear.localhost:9991", external), "lear");
        assert_eq!(subdomain_of_host("LEAR.localhost", external), "lear");
        assert_eq!(subdomain_of_host("lear.localhost:4000", external), "lear");
        assert_eq!(subdomain_of_host("www.localhost:9991", external), "");
        assert_eq!(subdomain_of_host("a.b.localhost", external), "");
        assert_eq!(subdomain_of_host("lear.example.com", external), "");
    }
}
