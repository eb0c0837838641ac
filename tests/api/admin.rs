//! The test-control API under /__admin.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn health_answers_ok_without_authentication() {
    let app = TestApp::new();

    let response = app.request(Method::GET, "/__admin/health").send().await;

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json(), json!({ "status": "ok" }));
    response.assert_headers(&[("content-type", "application/json")]);
}
