//! The admin API as a whole: health and readiness, its OpenAPI document, and its protection.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use zulip_presence_mock::{AdminAccess, Options};

use crate::helpers::*;

#[tokio::test]
async fn health_answers_ok_without_authentication() {
    let app = TestApp::new();

    let response = app.request(Method::GET, "/__admin/health").send().await;

    response.assert_admin(StatusCode::OK, json!({ "status": "ok" }));
}

#[tokio::test]
async fn readiness_counts_the_realms() {
    let app = TestApp::new();

    let response = app.request(Method::GET, "/__admin/ready").send().await;

    response.assert_admin(StatusCode::OK, json!({ "status": "ready", "realms": 2 }));
}

fn openapi(app_response: &TestResponse) -> Value {
    let doc = app_response.json();
    assert_eq!(doc["openapi"], "3.1.0");
    doc
}

/// A path of the document with sample values for its parameters.
fn sample_path(template: &str) -> String {
    template
        .replace("{realm}", "lear")
        .replace("{user_id}", "101")
        .replace("{channel}", "nowhere")
        .replace("{users}", "101,102")
        .replace("{id}", "99")
}

#[tokio::test]
async fn every_operation_in_the_openapi_document_is_served() {
    let app = TestApp::new();
    let doc = openapi(
        &app.request(Method::GET, "/__admin/openapi.json")
            .send()
            .await,
    );

    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if method == "parameters" {
                continue;
            }
            operations += 1;
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = app.admin(method.clone(), &sample_path(path), None).await;
            let zulip_not_found = response.status == StatusCode::NOT_FOUND
                && response.json()["code"] == "BAD_REQUEST";
            assert!(
                response.status != StatusCode::METHOD_NOT_ALLOWED && !zulip_not_found,
                "{method} {path}: {} {}",
                response.status,
                response.text()
            );
        }
    }
    assert_eq!(operations, 59);
}

#[test]
fn every_admin_route_is_in_the_openapi_document() {
    let doc: Value =
        serde_json::from_str(include_str!("../../src/test_control/openapi.json")).unwrap();
    let router = include_str!("../../src/test_control/admin_router.rs");
    let routed: Vec<&str> = router
        .split('"')
        .filter(|piece| piece.starts_with("/__admin/"))
        .collect();
    assert!(routed.len() > 20, "{routed:?}");
    for path in routed {
        assert!(doc["paths"].get(path).is_some(), "{path} is not documented");
    }
}

fn with_admin(access: AdminAccess) -> TestApp {
    TestApp::with_options(
        &default_fixture_json(),
        Options {
            admin: access,
            ..Options::default()
        },
    )
}

#[tokio::test]
async fn an_admin_token_is_required_when_one_is_set() {
    let app = with_admin(AdminAccess::Token("s3cret-token".to_owned()));

    let without = app.request(Method::POST, "/__admin/reset").send().await;
    let wrong = app
        .request(Method::POST, "/__admin/reset")
        .authorization("Bearer s3cret-tokem")
        .send()
        .await;
    let right = app
        .request(Method::POST, "/__admin/reset")
        .authorization("Bearer s3cret-token")
        .send()
        .await;

    for refused in [without, wrong] {
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            refused.json(),
            json!({"result": "error", "code": "UNAUTHORIZED",
                   "msg": "This admin API requires Authorization: Bearer <admin token>"})
        );
        refused.assert_headers(&[
            ("content-type", "application/json"),
            ("www-authenticate", "Bearer"),
        ]);
    }
    assert_eq!(right.status, StatusCode::OK);
    for open in ["/__admin/health", "/__admin/ready", "/__admin/openapi.json"] {
        let response = app.request(Method::GET, open).send().await;
        assert_eq!(response.status, StatusCode::OK, "{open}");
    }
}

#[tokio::test]
async fn a_disabled_admin_api_is_not_there_but_health_is() {
    let app = with_admin(AdminAccess::Disabled);

    let reset = app.request(Method::POST, "/__admin/reset").send().await;
    let health = app.request(Method::GET, "/__admin/health").send().await;

    reset.assert_json(
        StatusCode::NOT_FOUND,
        json!({"result": "error", "msg": "Not Found", "code": "BAD_REQUEST"}),
        JSON,
    );
    assert_eq!(health.status, StatusCode::OK);
    app.get_realm_presence(IAGO).await.assert_everyone_listed();
}

#[tokio::test]
async fn a_wrong_method_on_an_admin_path_gets_405() {
    let app = TestApp::new();

    let response = app.request(Method::GET, "/__admin/reset").send().await;

    assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        response.json(),
        json!({"result": "error", "msg": "Method Not Allowed", "code": "METHOD_NOT_ALLOWED"})
    );
}

#[tokio::test]
async fn admin_requests_are_not_journalled() {
    let app = TestApp::new();
    app.admin(Method::GET, "/__admin/realms", None).await;
    app.get_realm_presence(IAGO).await;

    let count = app
        .admin(Method::GET, "/__admin/requests/count", None)
        .await;

    count.assert_admin(StatusCode::OK, json!({"count": 1}));
}

#[tokio::test]
async fn an_admin_body_over_the_limit_is_a_json_413_like_every_admin_error() {
    let app = TestApp::new();
    let big = "x".repeat(zulip_presence_mock::MAX_BODY_BYTES + 1);

    for (method, path) in [
        (Method::PUT, "/__admin/state"),
        (Method::POST, "/__admin/stubs"),
    ] {
        let response = app
            .request(method, path)
            .header(axum::http::header::CONTENT_TYPE, "application/json")
            .body(big.clone())
            .send()
            .await;

        response.assert_admin(
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({"result": "error", "msg": "Request body too large", "code": "PAYLOAD_TOO_LARGE"}),
        );
    }
}
