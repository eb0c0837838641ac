//! Stubs for the rest of Zulip's API, and a journal that records what nothing serves.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

const NOT_SERVED: &str = "not served by this mock: a stub can answer it (the fixture's \"stubs\", or POST /__admin/stubs)";

fn with_stubs(stubs: Value) -> TestApp {
    let mut fixture = default_fixture_json();
    fixture["stubs"] = stubs;
    TestApp::from_fixture_json(&fixture)
}

async fn journal_notes(app: &TestApp) -> Vec<Value> {
    app.admin(Method::GET, "/__admin/requests", None)
        .await
        .json()["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            json!([
                entry["method"],
                entry["path"],
                entry["status"],
                entry["note"]
            ])
        })
        .collect()
}

fn not_found() -> Value {
    json!({"result": "error", "msg": "Not Found", "code": "BAD_REQUEST"})
}

#[tokio::test]
async fn an_unserved_api_path_is_zulip_s_404_and_the_journal_says_a_stub_can_answer_it() {
    let app = TestApp::new();

    let response = app
        .request(Method::GET, "/api/v1/messages?anchor=newest")
        .basic_auth(HAMLET)
        .send()
        .await;

    response.assert_json(StatusCode::NOT_FOUND, not_found(), JSON);
    assert_eq!(
        journal_notes(&app).await,
        [json!(["GET", "/api/v1/messages", 404, NOT_SERVED])]
    );
}

#[tokio::test]
async fn a_stub_answers_after_zulip_s_authentication_in_zulip_s_envelope() {
    let app = with_stubs(json!([{
        "method": "GET", "path": "/api/v1/messages",
        "body": {"messages": [], "found_newest": true, "found_oldest": true, "anchor": 0},
    }]));

    let answered = app
        .request(Method::GET, "/api/v1/messages?anchor=newest")
        .basic_auth(HAMLET)
        .send()
        .await;
    let anonymous = app.request(Method::GET, "/api/v1/messages").send().await;
    let bad_key = app
        .request(Method::GET, "/api/v1/messages")
        .authorization(&basic("hamlet@zulip.com:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"))
        .send()
        .await;

    answered.assert_json(
        StatusCode::OK,
        json!({"result": "success", "msg": "", "messages": [], "found_newest": true,
               "found_oldest": true, "anchor": 0}),
        JSON_NEVER_CACHE,
    );
    anonymous.assert_json(
        StatusCode::UNAUTHORIZED,
        json!({"result": "error",
               "msg": "Not logged in: API authentication or user session required",
               "code": "UNAUTHORIZED"}),
        JSON_UNAUTHORIZED,
    );
    bad_key.assert_json(
        StatusCode::UNAUTHORIZED,
        json!({"result": "error", "msg": "Invalid API key", "code": "UNAUTHORIZED"}),
        JSON_UNAUTHORIZED,
    );
    let stubs = app.admin(Method::GET, "/__admin/stubs", None).await;
    assert_eq!(stubs.json()[0]["hits"], 1);
    assert_eq!(
        journal_notes(&app).await[0],
        json!(["GET", "/api/v1/messages", 200, "answered by stub 1"])
    );
}

#[tokio::test]
async fn stubs_match_on_path_names_realm_user_and_parameters_and_the_first_match_wins() {
    let app = with_stubs(json!([
        {"method": "POST", "path": "/api/v1/messages", "user": "IAGO@zulip.com",
         "body": {"id": 1}},
        {"method": "POST", "path": "/api/v1/messages", "params": {"to": "Verona", "type": "stream"},
         "body": {"id": 2}},
        {"method": "GET", "path": "/api/v1/messages/{message_id}", "realm": "lear",
         "body": {"raw_content": "hi"}},
        {"method": "POST", "path": "/api/v1/messages", "status": 400,
         "body": {"msg": "Invalid stream name", "code": "STREAM_DOES_NOT_EXIST"}},
    ]));
    let post = |user: Credentials, form: &'static str| {
        let app = &app;
        async move {
            app.request(Method::POST, "/api/v1/messages")
                .basic_auth(user)
                .form(form)
                .send()
                .await
                .json()
        }
    };

    let iago = post(IAGO, "type=stream&to=Rome").await;
    let verona = post(HAMLET, "type=stream&to=Verona&content=x").await;
    let other = post(HAMLET, "type=stream&to=Rome").await;
    let lear = app
        .request(Method::GET, "/api/v1/messages/5")
        .host("lear.localhost:9991")
        .basic_auth(KING)
        .send()
        .await;
    let root = app
        .request(Method::GET, "/api/v1/messages/5")
        .basic_auth(HAMLET)
        .send()
        .await;

    assert_eq!(iago, json!({"result": "success", "msg": "", "id": 1}));
    assert_eq!(verona, json!({"result": "success", "msg": "", "id": 2}));
    assert_eq!(
        other,
        json!({"result": "error", "msg": "Invalid stream name", "code": "STREAM_DOES_NOT_EXIST"})
    );
    assert_eq!(lear.json()["raw_content"], "hi");
    root.assert_json(StatusCode::NOT_FOUND, not_found(), JSON);
}

#[tokio::test]
async fn a_stub_for_n_requests_answers_n_then_goes() {
    let app = with_stubs(
        json!([{"method": "GET", "path": "/api/v1/user_uploads", "times": 1,
                                 "authenticate": false, "status": 503,
                                 "body": {"result": "error", "msg": "down"}}]),
    );

    let first = app
        .request(Method::GET, "/api/v1/user_uploads")
        .send()
        .await;
    let second = app
        .request(Method::GET, "/api/v1/user_uploads")
        .send()
        .await;

    first.assert_json(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"result": "error", "msg": "down"}),
        JSON,
    );
    second.assert_json(StatusCode::NOT_FOUND, not_found(), JSON);
    let listed = app.admin(Method::GET, "/__admin/stubs", None).await;
    listed.assert_admin(StatusCode::OK, json!([]));
}

#[tokio::test]
async fn a_method_zulip_has_on_a_served_path_is_unserved_and_one_it_lacks_is_405() {
    let app = TestApp::new();

    let create_user = app
        .request(Method::POST, "/api/v1/users")
        .basic_auth(IAGO)
        .form("email=a@b.c")
        .send()
        .await;
    let put = app
        .request(Method::PUT, "/api/v1/users")
        .basic_auth(IAGO)
        .send()
        .await;

    create_user.assert_json(StatusCode::NOT_FOUND, not_found(), JSON);
    put.assert_json(
        StatusCode::METHOD_NOT_ALLOWED,
        json!({"result": "error", "msg": "Method Not Allowed",
               "allowed_methods": ["GET", "HEAD", "POST"]}),
        &[
            ("content-type", "text/html; charset=utf-8"),
            ("allow", "GET, HEAD, POST"),
            ("expires", "Tue, 14 Nov 2023 22:13:20 GMT"),
            (
                "cache-control",
                "max-age=0, no-cache, no-store, must-revalidate, private",
            ),
        ],
    );
    assert_eq!(
        journal_notes(&app).await[0],
        json!(["POST", "/api/v1/users", 404, NOT_SERVED])
    );
}

#[tokio::test]
async fn the_admin_api_adds_lists_and_removes_stubs_and_the_state_carries_them() {
    let app = TestApp::new();

    let added = app
        .admin(
            Method::POST,
            "/__admin/stubs",
            Some(json!({"method": "POST", "path": "/api/v1/users"})),
        )
        .await;
    let answered = app
        .request(Method::POST, "/api/v1/users")
        .basic_auth(IAGO)
        .send()
        .await;
    let exported = app.admin(Method::GET, "/__admin/state", None).await;
    let removed = app.admin(Method::DELETE, "/__admin/stubs/1", None).await;
    let again = app.admin(Method::DELETE, "/__admin/stubs/1", None).await;

    added.assert_admin(
        StatusCode::CREATED,
        json!({"id": 1, "method": "POST", "path": "/api/v1/users", "status": 200, "body": {},
               "authenticate": true, "remaining": null, "hits": 0}),
    );
    answered.assert_json(
        StatusCode::OK,
        json!({"result": "success", "msg": ""}),
        JSON_NEVER_CACHE,
    );
    assert_eq!(
        exported.json()["stubs"],
        json!([{"method": "POST", "path": "/api/v1/users", "status": 200, "body": {},
                "authenticate": true}])
    );
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_reset_restores_the_fixture_s_stubs() {
    let app = with_stubs(json!([{"method": "GET", "path": "/api/v1/messages"}]));
    app.admin(Method::DELETE, "/__admin/stubs", None).await;

    app.admin(Method::POST, "/__admin/reset", None).await;

    let listed = app.admin(Method::GET, "/__admin/stubs", None).await;
    assert_eq!(listed.json()[0]["path"], "/api/v1/messages");
}

#[tokio::test]
async fn a_stub_may_not_shadow_what_the_mock_serves_or_leave_the_zulip_api() {
    let app = TestApp::new();
    let refused = |stub: Value| {
        let app = &app;
        async move { app.admin(Method::POST, "/__admin/stubs", Some(stub)).await }
    };

    let shadowing = refused(json!({"method": "get", "path": "/api/v1/users/{id}"})).await;
    let outside = refused(json!({"method": "GET", "path": "/json/messages"})).await;

    shadowing.assert_admin(
        StatusCode::BAD_REQUEST,
        json!({"result": "error",
               "msg": "request body: at $.path: GET /api/v1/users/{id} is served by the mock itself: a stub may not shadow it",
               "code": "INVALID_STUB", "path": "$.path",
               "problem": "GET /api/v1/users/{id} is served by the mock itself: a stub may not shadow it"}),
    );
    assert_eq!(outside.json()["path"], "$.path");
    assert_eq!(
        outside.json()["problem"],
        "\"/json/messages\" is outside the Zulip API: a stub path starts with /api/v1/"
    );
    assert_eq!(
        app.admin(Method::GET, "/__admin/stubs", None).await.json(),
        json!([])
    );
}

#[test]
fn a_fixture_with_a_bad_stub_is_refused_with_its_json_path() {
    let mut fixture = default_fixture_json();
    fixture["stubs"] = json!([{"method": "GET", "path": "/api/v1/messages"},
                              {"method": "POST", "path": "/api/v1/register"}]);

    let error = zulip_presence_mock::Fixture::parse("my.json", &fixture.to_string()).unwrap_err();

    assert_eq!(
        error.to_string(),
        "my.json: at $.stubs[1].path: POST /api/v1/register is served by the mock itself: a stub may not shadow it"
    );
}

#[tokio::test]
async fn every_served_endpoint_in_the_stub_guard_s_list_is_answered_by_a_route() {
    let app = TestApp::new();
    let sample = |path: &str| path.replace("{user_id_or_email}", "3").replace("{id}", "3");
    for (method, path) in [
        ("GET", "/api/v1/server_settings"),
        ("POST", "/api/v1/register"),
        ("GET", "/api/v1/events"),
        ("DELETE", "/api/v1/events"),
        ("GET", "/api/v1/realm/presence"),
        ("POST", "/api/v1/users/me/presence"),
        ("GET", "/api/v1/users/{user_id_or_email}/presence"),
        ("GET", "/api/v1/users"),
        ("GET", "/api/v1/users/me"),
        ("GET", "/api/v1/users/{user_id_or_email}"),
    ] {
        let stub = app
            .admin(
                Method::POST,
                "/__admin/stubs",
                Some(json!({"method": method, "path": path})),
            )
            .await;
        let response = app
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                &sample(path),
            )
            .basic_auth(IAGO)
            .send()
            .await;
        assert_eq!(stub.status, StatusCode::BAD_REQUEST, "{method} {path}");
        assert_ne!(response.status, StatusCode::NOT_FOUND, "{method} {path}");
    }
    let notes = journal_notes(&app).await;
    assert!(
        notes.iter().all(|entry| entry[3] != NOT_SERVED),
        "{notes:?}"
    );
}

#[tokio::test]
async fn the_register_state_of_a_realm_is_read_and_replaced_through_the_admin_api() {
    let app = TestApp::new();

    let put = app
        .admin(
            Method::PUT,
            "/__admin/realms/_root/register_state",
            Some(json!({"message": {"max_message_id": 3}})),
        )
        .await;
    let bad = app
        .admin(
            Method::PUT,
            "/__admin/realms/_root/register_state",
            Some(json!({"presence": {"presences": {}}})),
        )
        .await;
    let got = app
        .admin(Method::GET, "/__admin/realms/_root/register_state", None)
        .await;

    put.assert_admin(StatusCode::OK, json!({"message": {"max_message_id": 3}}));
    assert_eq!(bad.json()["path"], "$.register_state.presence");
    assert_eq!(
        bad.json()["problem"],
        "the mock builds the presence state itself, from the fixture"
    );
    got.assert_admin(StatusCode::OK, json!({"message": {"max_message_id": 3}}));
}
