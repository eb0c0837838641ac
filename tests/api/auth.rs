//! Basic authentication on /api/v1: every row of zulip-contract.md section 3.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

async fn presence_with_authorization(app: &TestApp, authorization: &str) -> TestResponse {
    app.request(Method::GET, "/api/v1/realm/presence")
        .authorization(authorization)
        .send()
        .await
}

fn unauthorized(msg: &str) -> serde_json::Value {
    json!({ "result": "error", "msg": msg, "code": "UNAUTHORIZED" })
}

#[tokio::test]
async fn missing_credentials_get_401_with_a_basic_challenge() {
    let app = TestApp::new();

    let response = app
        .request(Method::GET, "/api/v1/realm/presence")
        .send()
        .await;

    response.assert_json(
        StatusCode::UNAUTHORIZED,
        unauthorized("Not logged in: API authentication or user session required"),
        JSON_UNAUTHORIZED,
    );
}

#[tokio::test]
async fn a_browser_without_credentials_is_redirected_to_the_login_page() {
    let app = TestApp::new();

    let response = app
        .request(Method::GET, "/api/v1/realm/presence?x=1")
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await;

    assert_eq!(response.status, StatusCode::FOUND);
    assert_eq!(response.bytes, b"");
    response.assert_headers(&[
        ("content-type", "text/html; charset=utf-8"),
        ("location", "/login/?next=%2Fapi%2Fv1%2Frealm%2Fpresence"),
    ]);
}

#[tokio::test]
async fn a_header_that_is_not_two_tokens_is_invalid() {
    let app = TestApp::new();
    for header in ["Basic", "Basic a b", "Basic\t"] {
        let response = presence_with_authorization(&app, header).await;

        response.assert_json(
            StatusCode::UNAUTHORIZED,
            unauthorized("Invalid authorization header for basic auth"),
            JSON_UNAUTHORIZED,
        );
    }
}

#[tokio::test]
async fn another_scheme_than_basic_is_a_400_without_a_challenge() {
    let app = TestApp::new();

    let response = presence_with_authorization(&app, "Bearer abcdef").await;

    response.assert_json(
        StatusCode::BAD_REQUEST,
        json!({ "result": "error", "msg": "This endpoint requires HTTP basic authentication.", "code": "BAD_REQUEST" }),
        &[("content-type", "application/json")],
    );
}

#[tokio::test]
async fn the_scheme_is_case_insensitive() {
    let app = TestApp::new();
    let header = basic(&format!("{}:{}", IAGO.email, IAGO.api_key)).replace("Basic", "bAsIc");

    let response = presence_with_authorization(&app, &header).await;

    response.assert_everyone_listed();
}

#[tokio::test]
async fn undecodable_credentials_are_an_invalid_header() {
    let app = TestApp::new();
    let not_utf8 = "Basic //79";
    for header in [
        "Basic abc".to_owned(),
        not_utf8.to_owned(),
        basic("iago@zulip.com"),
        basic("iago@zulip.com:key:extra"),
    ] {
        let response = presence_with_authorization(&app, &header).await;

        response.assert_json(
            StatusCode::UNAUTHORIZED,
            unauthorized("Invalid authorization header for basic auth"),
            JSON_UNAUTHORIZED,
        );
    }
}

#[tokio::test]
async fn a_key_that_is_not_32_alphanumerics_is_malformed() {
    let app = TestApp::new();
    for key in [
        "short",
        "huG8GP38g4o5MNJAYKJ1UXXFWXLCpaN-",
        "huG8GP38g4o5MNJAYKJ1UXXFWXLCpaNfX",
    ] {
        let response =
            presence_with_authorization(&app, &basic(&format!("iago@zulip.com:{key}"))).await;

        response.assert_json(
            StatusCode::UNAUTHORIZED,
            unauthorized("Malformed API key"),
            JSON_UNAUTHORIZED,
        );
    }
}

#[tokio::test]
async fn an_unknown_key_or_another_users_email_is_an_invalid_key() {
    let app = TestApp::new();
    for credentials in [
        "iago@zulip.com:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned(),
        format!("hamlet@zulip.com:{}", IAGO.api_key),
        format!("nobody@zulip.com:{}", IAGO.api_key),
        // Zoe's API email is not her delivery email, and only the delivery email logs in.
        format!("user11@zulip.localhost:{}", ZOE.api_key),
    ] {
        let response = presence_with_authorization(&app, &basic(&credentials)).await;

        response.assert_json(
            StatusCode::UNAUTHORIZED,
            unauthorized("Invalid API key"),
            JSON_UNAUTHORIZED,
        );
    }
}

#[tokio::test]
async fn the_email_is_case_insensitive_and_both_parts_are_stripped() {
    let app = TestApp::new();

    let response = presence_with_authorization(
        &app,
        &basic(&format!("  zoe@ZULIP.com\t: {} ", ZOE.api_key)),
    )
    .await;

    response.assert_everyone_listed();
}

#[tokio::test]
async fn a_deactivated_user_is_refused() {
    let app = TestApp::new();

    let response = app.get_realm_presence(OPHELIA).await;

    response.assert_json(
        StatusCode::UNAUTHORIZED,
        unauthorized("Account is deactivated"),
        JSON_UNAUTHORIZED,
    );
}

#[tokio::test]
async fn a_deactivated_realm_is_refused_before_the_user_is_checked() {
    let mut fixture = default_fixture_json();
    fixture["realms"][0]["deactivated"] = json!(true);
    let app = TestApp::from_fixture_json(&fixture);
    for user in [IAGO, OPHELIA] {
        let response = app.get_realm_presence(user).await;

        response.assert_json(
            StatusCode::UNAUTHORIZED,
            unauthorized("This organization has been deactivated"),
            JSON_UNAUTHORIZED,
        );
    }
}

#[tokio::test]
async fn a_user_of_another_realm_is_not_associated_with_this_subdomain() {
    let app = TestApp::new();
    for (user, host) in [
        (KING, "localhost:9991"),
        (IAGO, "lear.localhost:9991"),
        (IAGO, "unknown.localhost:9991"),
    ] {
        let response = app
            .request(Method::GET, "/api/v1/realm/presence")
            .host(host)
            .basic_auth(user)
            .send()
            .await;

        response.assert_json(
            StatusCode::UNAUTHORIZED,
            unauthorized("Account is not associated with this subdomain"),
            JSON_UNAUTHORIZED,
        );
    }
}

#[tokio::test]
async fn the_root_realm_answers_on_any_host_that_names_no_subdomain() {
    let app = TestApp::new();
    for host in [
        "localhost:9991",
        "127.0.0.1:9991",
        "127.0.0.1:45678",
        "www.localhost:9991",
        "example.com",
    ] {
        let response = app
            .request(Method::GET, "/api/v1/realm/presence")
            .host(host)
            .basic_auth(DESDEMONA)
            .send()
            .await;

        response.assert_everyone_listed();
    }
}

#[tokio::test]
async fn hamlet_is_let_in_with_his_own_key() {
    let app = TestApp::new();

    let response = app.get_realm_presence(HAMLET).await;

    response.assert_everyone_listed();
}
