//! GET /api/v1/users/{user_id_or_email}/presence (zulip-contract.md section 6).

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

/// The feature level 497+ body: modern and legacy fields, then `server_timestamp`.
fn user_presence(
    active: i64,
    idle: i64,
    status: &str,
    aggregated: &str,
    timestamp: i64,
    seconds_later: i64,
) -> Value {
    success_with(json!({
        "presence": {
            "active_timestamp": active,
            "idle_timestamp": idle,
            "aggregated": { "status": aggregated, "timestamp": timestamp },
            "website": { "status": status, "timestamp": timestamp },
        },
        "server_timestamp": SERVER_TIMESTAMP + seconds_later as f64,
    }))
}

fn othello() -> Value {
    user_presence(NOW - 200, NOW - 20, "idle", "idle", NOW - 20, 0)
}

#[tokio::test]
async fn a_user_is_found_by_id_or_by_api_email_raw_encoded_or_in_any_case() {
    let app = TestApp::new();
    for segment in [
        "4",
        "othello@zulip.com",
        "othello%40zulip.com",
        "OTHELLO@zulip.com",
    ] {
        let response = app.get_user_presence(IAGO, segment).await;

        response.assert_json(StatusCode::OK, othello(), JSON_NEVER_CACHE);
    }
}

#[tokio::test]
async fn aggregated_turns_offline_after_200_seconds_but_website_never_does() {
    let app = TestApp::new();

    app.advance(180); // 200 s after othello's last connection: still idle
    let at_200 = app.get_user_presence(IAGO, "4").await;
    app.advance(1);
    let at_201 = app.get_user_presence(IAGO, "4").await;

    at_200.assert_json(
        StatusCode::OK,
        user_presence(NOW - 200, NOW - 20, "idle", "idle", NOW - 20, 180),
        &json_never_cache(180),
    );
    at_201.assert_json(
        StatusCode::OK,
        user_presence(NOW - 200, NOW - 20, "idle", "offline", NOW - 20, 181),
        &json_never_cache(181),
    );
}

#[tokio::test]
async fn single_user_presence_has_no_14_day_window() {
    let app = TestApp::new();

    let response = app.get_user_presence(IAGO, "prospero@zulip.com").await;

    let three_weeks_ago = NOW - 21 * 86_400;
    response.assert_json(
        StatusCode::OK,
        user_presence(
            three_weeks_ago,
            three_weeks_ago,
            "active",
            "offline",
            three_weeks_ago,
            0,
        ),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn unknown_other_realm_deactivated_and_delivery_emails_are_no_such_user() {
    let app = TestApp::new();
    for segment in [
        "999",
        "101",
        "king@lear.org",
        "9",
        "ophelia@zulip.com",
        "ZOE@zulip.com",
        "-1",
    ] {
        let response = app.get_user_presence(IAGO, segment).await;

        response.assert_json(StatusCode::BAD_REQUEST, bad_request("No such user"), JSON);
    }
}

#[tokio::test]
async fn a_user_is_found_by_api_email_when_it_differs_from_the_delivery_email() {
    let app = TestApp::new();

    let response = app.get_user_presence(IAGO, "user11@zulip.localhost").await;

    response.assert_json(
        StatusCode::OK,
        user_presence(
            NOW - 3 * 3_600,
            NOW - 2 * 3_600,
            "idle",
            "offline",
            NOW - 2 * 3_600,
            0,
        ),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn bots_have_no_presence_even_for_a_guest_who_cannot_see_them() {
    let app = TestApp::new();
    for user in [IAGO, POLONIUS] {
        let response = app.get_user_presence(user, "10").await;

        response.assert_json(
            StatusCode::BAD_REQUEST,
            bad_request("Presence is not supported for bot users."),
            JSON,
        );
    }
}

#[tokio::test]
async fn a_limited_guest_has_insufficient_permission_for_users_they_cannot_access() {
    let app = TestApp::new();

    let hidden = app.get_user_presence(POLONIUS, "iago@zulip.com").await;
    let shared = app.get_user_presence(POLONIUS, "othello@zulip.com").await;

    hidden.assert_json(
        StatusCode::BAD_REQUEST,
        bad_request("Insufficient permission"),
        JSON,
    );
    shared.assert_json(StatusCode::OK, othello(), JSON_NEVER_CACHE);
}

#[tokio::test]
async fn without_the_access_limit_a_guest_sees_anyone() {
    let mut fixture = default_fixture_json();
    fixture["server"]["CAN_ACCESS_ALL_USERS_GROUP_LIMITS_PRESENCE"] = json!(false);
    let app = TestApp::from_fixture_json(&fixture);

    let response = app.get_user_presence(POLONIUS, "2").await;

    response.assert_json(
        StatusCode::OK,
        user_presence(NOW - 10, NOW - 10, "active", "active", NOW - 10, 0),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn no_presence_row_names_the_segment_exactly_as_given() {
    let app = TestApp::from_fixture_json(&lab_fixture(json!([])));
    for segment in ["2", "0002", "alice@example.com", "ALICE@example.com"] {
        let response = app.get_user_presence(lab("reader"), segment).await;

        response.assert_json(
            StatusCode::BAD_REQUEST,
            bad_request(&format!("No presence data for {segment}")),
            JSON,
        );
    }
}

#[tokio::test]
async fn a_fresh_report_is_read_back() {
    let app = TestApp::from_fixture_json(&lab_fixture(json!([])));
    app.post_presence(lab("alice"), "status=active").await;

    let response = app.get_user_presence(lab("bob"), "alice@example.com").await;

    response.assert_json(
        StatusCode::OK,
        user_presence(NOW, NOW, "active", "active", NOW, 0),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn unsupported_parameters_are_listed() {
    let app = TestApp::new();

    let response = app
        .request(
            Method::GET,
            "/api/v1/users/4/presence?slim_presence=true&client=x",
        )
        .basic_auth(IAGO)
        .send()
        .await;

    let mut expected = othello();
    expected["ignored_parameters_unsupported"] = json!(["slim_presence"]);
    response.assert_json(StatusCode::OK, expected, JSON_NEVER_CACHE);
}

#[tokio::test]
async fn only_get_and_head_are_allowed() {
    let app = TestApp::new();

    let response = app
        .request(Method::POST, "/api/v1/users/4/presence")
        .send()
        .await;

    assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers["allow"], "GET, HEAD");
}
