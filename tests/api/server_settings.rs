//! GET /api/v1/server_settings (zulip-contract.md section 7): no authentication.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

fn settings_body(realm: Option<(&str, &str, &str)>, realm_url: &str) -> Value {
    let mut body = json!({
        "result": "success",
        "msg": "",
        "authentication_methods": {
            "password": true, "dev": false, "email": true, "ldap": false, "remoteuser": false,
            "github": false, "azuread": false, "gitlab": false, "google": false, "apple": false,
            "saml": false, "openid connect": false, "discord": false,
        },
        "zulip_version": "12.0-dev+git",
        "zulip_merge_base": "12.0-dev+git",
        "zulip_feature_level": 509,
        "push_notifications_enabled": false,
        "is_incompatible": false,
        "email_auth_enabled": true,
        "require_email_format_usernames": true,
        "realm_url": realm_url,
    });
    let map = body.as_object_mut().unwrap();
    if let Some((name, icon, description)) = realm {
        map.insert("realm_name".into(), json!(name));
        map.insert("realm_icon".into(), json!(icon));
        map.insert("realm_description".into(), json!(description));
    }
    map.insert("realm_web_public_access_enabled".into(), json!(false));
    map.insert("external_authentication_methods".into(), json!([]));
    map.insert("realm_uri".into(), json!(realm_url));
    body
}

const DEV_REALM: (&str, &str, &str) = (
    "Zulip Dev",
    "/static/images/default-avatar.png?version=0",
    "<p>The Zulip development environment default organization.  It's great for testing!</p>",
);

#[tokio::test]
async fn server_settings_describe_the_server_and_the_hosts_realm() {
    let app = TestApp::new();

    let response = app.get_server_settings().await;

    response.assert_json(
        StatusCode::OK,
        settings_body(Some(DEV_REALM), "http://localhost:9991"),
        JSON,
    );
}

#[tokio::test]
async fn server_settings_ignore_a_wrong_authorization_header() {
    let app = TestApp::new();
    for authorization in [
        "Bearer x",
        "Basic abc",
        &basic("iago@zulip.com:wrongwrongwrongwrongwrongwrong00"),
    ] {
        let response = app
            .request(Method::GET, "/api/v1/server_settings")
            .authorization(authorization)
            .send()
            .await;

        response.assert_json(
            StatusCode::OK,
            settings_body(Some(DEV_REALM), "http://localhost:9991"),
            JSON,
        );
    }
}

#[tokio::test]
async fn server_settings_on_a_realms_subdomain_describe_that_realm() {
    let app = TestApp::new();

    let response = app
        .request(Method::GET, "/api/v1/server_settings")
        .host("lear.localhost:9991")
        .send()
        .await;

    response.assert_json(
        StatusCode::OK,
        settings_body(
            Some((
                "Lear & Co.",
                "/static/images/default-avatar.png?version=0",
                "<p>The coolest place in the universe.</p>",
            )),
            "http://lear.localhost:9991",
        ),
        JSON,
    );
}

#[tokio::test]
async fn server_settings_on_an_unknown_subdomain_are_an_invalid_subdomain() {
    let app = TestApp::new();

    let response = app
        .request(Method::GET, "/api/v1/server_settings")
        .host("nope.localhost:9991")
        .send()
        .await;

    response.assert_json(
        StatusCode::BAD_REQUEST,
        json!({ "result": "error", "msg": "Invalid subdomain", "code": "BAD_REQUEST" }),
        JSON,
    );
}

#[tokio::test]
async fn server_settings_on_a_root_domain_without_a_realm_leave_out_realm_details() {
    let mut fixture = default_fixture_json();
    fixture["realms"].as_array_mut().unwrap().remove(0);
    fixture["realms"].as_array_mut().unwrap().push(json!({
        "subdomain": "other", "name": "Other", "users": []
    }));
    let app = TestApp::from_fixture_json(&fixture);

    let response = app.get_server_settings().await;

    response.assert_json(
        StatusCode::OK,
        settings_body(None, "http://localhost:9991"),
        JSON,
    );
}

#[tokio::test]
async fn server_settings_call_a_zulip_invalid_client_incompatible() {
    let app = TestApp::new();

    let response = app
        .request(Method::GET, "/api/v1/server_settings")
        .header("user-agent", "ZulipInvalid/1.0")
        .send()
        .await;

    let mut expected = settings_body(Some(DEV_REALM), "http://localhost:9991");
    expected["is_incompatible"] = json!(true);
    response.assert_json(StatusCode::OK, expected, JSON);
}

#[tokio::test]
async fn server_settings_refuse_other_methods_like_django() {
    let app = TestApp::new();

    let response = app
        .request(Method::POST, "/api/v1/server_settings")
        .send()
        .await;

    assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.bytes, b"");
    response.assert_headers(&[
        ("allow", "GET, HEAD"),
        ("content-type", "text/html; charset=utf-8"),
    ]);
}

#[tokio::test]
async fn a_host_with_more_labels_before_the_external_host_names_no_realm() {
    let app = TestApp::new();

    let response = app
        .request(Method::GET, "/api/v1/server_settings")
        .host("a.lear.localhost:9991")
        .send()
        .await;
    let presence = app
        .get_realm_presence_on("a.lear.localhost:9991", IAGO)
        .await;

    response.assert_json(
        StatusCode::BAD_REQUEST,
        bad_request("Invalid subdomain"),
        JSON,
    );
    assert_eq!(presence.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        presence.json()["msg"],
        "Account is not associated with this subdomain"
    );
}
