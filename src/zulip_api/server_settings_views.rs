//! `GET /api/v1/server_settings` (zerver/views/auth.py `api_get_server_settings`): no
//! authentication, even when an Authorization header is sent.

use axum::extract::State;
use axum::http::{header, Extensions, HeaderMap};
use serde::Serialize;

use crate::app_state::AppState;
use crate::zulip_api::api_errors::{ApiError, ApiResult};
use crate::zulip_api::authentication::{request_subdomain, server_of};
use crate::zulip_api::responses::Success;

/// Zulip's default realm icon without Gravatar (`DEFAULT_AVATAR_URI` + `?version=0`).
const DEFAULT_REALM_ICON: &str = "/static/images/default-avatar.png?version=0";

/// `authentication_methods` of a server with only email and password login, in Zulip's order
/// (`get_auth_backends_data`).
#[derive(Debug, Serialize)]
struct AuthenticationMethods {
    password: bool,
    dev: bool,
    email: bool,
    ldap: bool,
    remoteuser: bool,
    github: bool,
    azuread: bool,
    gitlab: bool,
    google: bool,
    apple: bool,
    saml: bool,
    #[serde(rename = "openid connect")]
    openid_connect: bool,
    /// From the 12.0 series (`DISCORD_AUTHENTICATION`).
    #[serde(skip_serializing_if = "Option::is_none")]
    discord: Option<bool>,
}

const EMAIL_AND_PASSWORD_ONLY: AuthenticationMethods = AuthenticationMethods {
    password: true,
    dev: false,
    email: true,
    ldap: false,
    remoteuser: false,
    github: false,
    azuread: false,
    gitlab: false,
    google: false,
    apple: false,
    saml: false,
    openid_connect: false,
    discord: Some(false),
};

/// The body's fields after `result` and `msg`, in Zulip's order. Fields newer than the
/// server's feature level are left out.
#[derive(Debug, Serialize)]
pub(super) struct ServerSettingsResponse {
    authentication_methods: AuthenticationMethods,
    zulip_version: String,
    /// From feature level 88.
    #[serde(skip_serializing_if = "Option::is_none")]
    zulip_merge_base: Option<String>,
    zulip_feature_level: u32,
    push_notifications_enabled: bool,
    is_incompatible: bool,
    email_auth_enabled: bool,
    require_email_format_usernames: bool,
    /// From feature level 257, in the place `realm_uri` had before.
    #[serde(skip_serializing_if = "Option::is_none")]
    realm_url: Option<String>,
    /// Before feature level 257: `realm_uri` in its original place.
    #[serde(rename = "realm_uri", skip_serializing_if = "Option::is_none")]
    realm_uri_before_realm_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    realm_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    realm_icon: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    realm_description: Option<String>,
    /// From feature level 116.
    #[serde(skip_serializing_if = "Option::is_none")]
    realm_web_public_access_enabled: Option<bool>,
    external_authentication_methods: [(); 0],
    /// From feature level 257: the deprecated alias of `realm_url`, set last.
    #[serde(skip_serializing_if = "Option::is_none")]
    realm_uri: Option<String>,
}

/// `GET /api/v1/server_settings`: https://zulip.com/api/get-server-settings
pub(super) async fn get_server_settings(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
) -> ApiResult<Success<ServerSettingsResponse>> {
    let server = server_of(&state, &extensions);
    let subdomain = request_subdomain(&state.store, &server, &headers, &extensions).0;
    let realm = state.store.realm(&subdomain);
    if realm.is_none() && !subdomain.is_empty() {
        return Err(ApiError::BadRequest("Invalid subdomain".to_owned()));
    }
    let host = if subdomain.is_empty() {
        server.external_host.clone()
    } else {
        format!("{subdomain}.{}", server.external_host)
    };
    let realm_url = format!("http://{host}");
    let settings = realm
        .as_ref()
        .map(|realm| realm.read(|state| state.settings().clone()));
    let settings = settings.as_ref();
    let compat = server.compat;
    let has_realm_url = compat.realm_url;
    let mut authentication_methods = EMAIL_AND_PASSWORD_ONLY;
    if !compat.discord_authentication {
        authentication_methods.discord = None;
    }
    Ok(Success::new(ServerSettingsResponse {
        authentication_methods,
        zulip_version: server.zulip_version.clone(),
        zulip_merge_base: compat
            .zulip_merge_base
            .then(|| server.zulip_merge_base.clone()),
        zulip_feature_level: server.feature_level.0,
        push_notifications_enabled: false,
        is_incompatible: is_incompatible_client(&headers),
        email_auth_enabled: true,
        require_email_format_usernames: true,
        realm_url: has_realm_url.then(|| realm_url.clone()),
        realm_uri_before_realm_url: (!has_realm_url).then(|| realm_url.clone()),
        realm_name: settings.map(|s| s.name.clone()),
        realm_icon: settings.map(|_| DEFAULT_REALM_ICON.to_owned()),
        realm_description: settings.map(|s| s.description.clone()),
        realm_web_public_access_enabled: compat.realm_web_public_access.then_some(false),
        external_authentication_methods: [],
        realm_uri: has_realm_url.then_some(realm_url),
    }))
}

/// Zulip deems a client incompatible only when its User-Agent names "ZulipInvalid" (the hook
/// its tests use; zerver/views/auth.py `check_server_incompatibility`).
fn is_incompatible_client(headers: &HeaderMap) -> bool {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    user_agent
        .split(['/', ' '])
        .next()
        .is_some_and(|name| name == "ZulipInvalid")
}
