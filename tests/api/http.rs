//! The rest of HTTP: methods, OPTIONS, unknown paths, body limits.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_wrong_method_is_405_with_allow_before_authentication() {
    let app = TestApp::new();
    for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
        let response = app
            .request(method.clone(), "/api/v1/realm/presence")
            .send()
            .await;

        assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(
            response.text(),
            r#"{"result":"error","msg":"Method Not Allowed","allowed_methods":["GET","HEAD"]}"#
                .to_owned()
                + "\n"
        );
        response.assert_headers(&[
            ("allow", "GET, HEAD"),
            (
                "cache-control",
                "max-age=0, no-cache, no-store, must-revalidate, private",
            ),
            ("content-type", "text/html; charset=utf-8"),
            ("expires", "Tue, 14 Nov 2023 22:13:20 GMT"),
        ]);
    }
}

#[tokio::test]
async fn options_is_204_with_allow_and_no_authentication() {
    let app = TestApp::new();

    let response = app
        .request(Method::OPTIONS, "/api/v1/realm/presence")
        .send()
        .await;

    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert_eq!(response.bytes, b"");
    response.assert_headers(&[
        ("allow", "GET, HEAD"),
        (
            "cache-control",
            "max-age=0, no-cache, no-store, must-revalidate, private",
        ),
        ("expires", "Tue, 14 Nov 2023 22:13:20 GMT"),
    ]);
}

#[tokio::test]
async fn unknown_paths_are_404_in_zulips_error_shape() {
    let app = TestApp::new();
    for path in [
        "/api/v1/no/such/endpoint",
        "/api/v1/realm/presence/",
        "/",
        "/json/users/me/presence",
    ] {
        let response = app.request(Method::GET, path).basic_auth(IAGO).send().await;

        response.assert_json(
            StatusCode::NOT_FOUND,
            json!({ "result": "error", "msg": "Not Found", "code": "BAD_REQUEST" }),
            JSON,
        );
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413() {
    let app = TestApp::new();
    let big = "a=".to_owned() + &"x".repeat(zulip_presence_mock::MAX_BODY_BYTES);

    let response = app
        .request(Method::GET, "/api/v1/realm/presence")
        .basic_auth(IAGO)
        .form(&big)
        .send()
        .await;

    response.assert_json(
        StatusCode::PAYLOAD_TOO_LARGE,
        json!({ "result": "error", "msg": "Request body too large", "code": "BAD_REQUEST" }),
        JSON,
    );
}

#[tokio::test]
async fn a_malformed_multipart_body_is_a_400() {
    let app = TestApp::new();

    let response = app
        .request(Method::GET, "/api/v1/realm/presence")
        .basic_auth(IAGO)
        .header("content-type", "multipart/form-data; boundary=xyz")
        .body("this is not multipart")
        .send()
        .await;

    response.assert_json(
        StatusCode::BAD_REQUEST,
        json!({ "result": "error", "msg": "Malformed request body", "code": "BAD_REQUEST" }),
        JSON,
    );
}
