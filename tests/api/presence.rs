//! GET /api/v1/realm/presence: who is listed, with which status, for whom
//! (zulip-contract.md section 2).

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn realm_presence_lists_recent_active_humans_with_the_70_second_rule() {
    // Listed: active (iago), active 50 s before connecting (hamlet), idle after 3 minutes
    // (othello), a week old (cordelia), null active time (desdemona: date_joined). Not listed:
    // 3 weeks old (prospero), null connected time (aaron), deactivated (ophelia), bot. Zoe's
    // presence_enabled = false does not hide her row: only updates stop.
    let app = TestApp::new();

    let response = app.get_realm_presence(IAGO).await;

    response.assert_everyone_listed();
}

#[tokio::test]
async fn realm_presence_is_keyed_by_api_email_for_a_user_who_logs_in_with_another() {
    let app = TestApp::new();

    let response = app.get_realm_presence(ZOE).await;

    response.assert_everyone_listed();
}

#[tokio::test]
async fn bots_may_read_realm_presence() {
    let app = TestApp::new();

    let response = app.get_realm_presence(WELCOME_BOT).await;

    response.assert_everyone_listed();
}

#[tokio::test]
async fn a_limited_guest_sees_only_users_sharing_a_channel_or_a_conversation() {
    // Polonius: hamlet shares Denmark, othello a 1:1 DM, cordelia a group DM; desdemona was
    // only a former co-subscriber of Rome; iago shares nothing.
    let app = TestApp::new();

    let response = app.get_realm_presence(POLONIUS).await;

    response.assert_json(
        StatusCode::OK,
        realm_presence_body(polonius_listed()),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn a_guest_sees_everyone_when_the_access_setting_does_not_limit_presence() {
    let mut fixture = default_fixture_json();
    fixture["server"]["CAN_ACCESS_ALL_USERS_GROUP_LIMITS_PRESENCE"] = json!(false);
    let app = TestApp::from_fixture_json(&fixture);

    let response = app.get_realm_presence(POLONIUS).await;

    response.assert_everyone_listed();
}

#[tokio::test]
async fn a_guest_sees_everyone_when_everyone_may_access_all_users() {
    let mut fixture = default_fixture_json();
    fixture["realms"][0]["can_access_all_users_group"] = json!("everyone");
    let app = TestApp::from_fixture_json(&fixture);

    let response = app.get_realm_presence(POLONIUS).await;

    response.assert_everyone_listed();
}

/// What polonius, a limited guest, may see.
fn polonius_listed() -> Value {
    json!({
        "cordelia@zulip.com": legacy("active", NOW - 7 * 86_400),
        "hamlet@zulip.com": legacy("active", NOW - 80),
        "othello@zulip.com": legacy("idle", NOW - 20),
        "polonius@zulip.com": legacy("active", NOW - 40),
    })
}

#[tokio::test]
async fn the_access_limit_applies_from_feature_level_228() {
    for (level, expected) in [
        (227, everyone_in_the_default_realm()),
        (228, polonius_listed()),
    ] {
        let mut fixture = default_fixture_json();
        fixture["server"]["feature_level"] = json!(level);
        let app = TestApp::from_fixture_json(&fixture);

        let response = app.get_realm_presence(POLONIUS).await;

        response.assert_json(
            StatusCode::OK,
            realm_presence_body(expected),
            JSON_NEVER_CACHE,
        );
    }
}

#[tokio::test]
async fn a_realm_with_presence_disabled_lists_nobody() {
    let mut fixture = default_fixture_json();
    fixture["realms"][0]["presence_disabled"] = json!(true);
    let app = TestApp::from_fixture_json(&fixture);

    let response = app.get_realm_presence(IAGO).await;

    response.assert_json(
        StatusCode::OK,
        realm_presence_body(json!({})),
        JSON_NEVER_CACHE,
    );
}

/// A realm of one reader plus one user per presence row given, ids from 2.
fn realm_with_rows(rows: Value) -> Value {
    let mut users = vec![json!({
        "user_id": 1, "email": "reader@example.com", "full_name": "Reader",
        "api_key": "readerreaderreaderreaderreader00"
    })];
    for (i, _) in rows.as_array().unwrap().iter().enumerate() {
        let id = i + 2;
        users.push(json!({
            "user_id": id, "email": format!("user{id}@example.com"), "full_name": format!("User {id}"),
            "date_joined": NOW - 10_000_000, "api_key": format!("{:0>32}", id),
        }));
    }
    let presence: Vec<Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut row = row.clone();
            row["user_id"] = json!(i + 2);
            row
        })
        .collect();
    json!({ "realms": [{ "subdomain": "", "name": "Test", "users": users, "presence": presence }] })
}

const READER: Credentials = Credentials {
    email: "reader@example.com",
    api_key: "readerreaderreaderreaderreader00",
};

#[tokio::test]
async fn the_70_second_boundary_is_inclusive() {
    let app = TestApp::from_fixture_json(&realm_with_rows(json!([
        { "last_connected_time": NOW - 100, "last_active_time": NOW - 170 },
        { "last_connected_time": NOW - 100, "last_active_time": NOW - 171 },
        { "last_connected_time": NOW - 100, "last_active_time": NOW - 100 },
    ])));

    let response = app.get_realm_presence(READER).await;

    response.assert_json(
        StatusCode::OK,
        realm_presence_body(json!({
            "user2@example.com": legacy("active", NOW - 170),
            "user3@example.com": legacy("idle", NOW - 100),
            "user4@example.com": legacy("active", NOW - 100),
        })),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn rows_are_listed_for_exactly_14_days_after_the_last_connection() {
    // NOW has a quarter second: a row at NOW - 14 days (whole seconds) is 0.25 s too old.
    let fourteen_days = 14 * 86_400;
    let app = TestApp::from_fixture_json(&realm_with_rows(json!([
        { "last_connected_time": "-14d", "last_active_time": "-14d" },
        { "last_connected_time": NOW - fourteen_days, "last_active_time": NOW - fourteen_days },
        { "last_connected_time": NOW - fourteen_days + 1, "last_active_time": null },
        { "last_connected_time": null, "last_active_time": NOW },
    ])));

    let response = app.get_realm_presence(READER).await;

    response.assert_json(
        StatusCode::OK,
        realm_presence_body(json!({
            "user2@example.com": legacy("active", NOW - fourteen_days),
            // Null active time: date_joined (NOW - 10,000,000 s) is long before, so idle.
            "user4@example.com": legacy("idle", NOW - fourteen_days + 1),
        })),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn timestamps_are_whole_seconds_truncated_and_server_timestamp_keeps_its_fraction() {
    let app = TestApp::from_fixture_json(&realm_with_rows(json!([
        { "last_connected_time": "2023-11-14T22:13:10.999Z", "last_active_time": 1_699_999_990.999 },
    ])));

    let response = app.get_realm_presence(READER).await;

    assert_eq!(
        response.text(),
        "{\"result\":\"success\",\"msg\":\"\",\"presences\":{\"user2@example.com\":{\"aggregated\":{\"client\":\"website\",\"status\":\"active\",\"timestamp\":1699999990},\"website\":{\"client\":\"website\",\"status\":\"active\",\"timestamp\":1699999990,\"pushable\":false}}},\"server_timestamp\":1700000000.25}\n"
    );
}

#[tokio::test]
async fn the_second_realm_is_served_on_its_own_host() {
    let app = TestApp::new();

    let response = app
        .request(Method::GET, "/api/v1/realm/presence")
        .host("lear.localhost:9991")
        .basic_auth(KING)
        .send()
        .await;

    response.assert_json(
        StatusCode::OK,
        realm_presence_body(json!({
            "goneril@lear.org": legacy("idle", NOW - 4 * 86_400),
            "king@lear.org": legacy("active", NOW - 15),
        })),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn a_fixture_with_one_realm_serves_it_on_any_host() {
    let app = TestApp::from_fixture_json(&realm_with_rows(json!([
        { "last_connected_time": NOW - 5, "last_active_time": NOW - 5 },
    ])));

    let response = app
        .request(Method::GET, "/api/v1/realm/presence")
        .host("anything.example.net")
        .basic_auth(READER)
        .send()
        .await;

    response.assert_json(
        StatusCode::OK,
        realm_presence_body(json!({ "user2@example.com": legacy("active", NOW - 5) })),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let app = TestApp::new();

    let response = app
        .request(Method::HEAD, "/api/v1/realm/presence")
        .basic_auth(IAGO)
        .send()
        .await;

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.bytes, b"");
    response.assert_headers(JSON_NEVER_CACHE);
    let get = app.get_realm_presence(IAGO).await;
    assert_eq!(
        response.headers["content-length"],
        get.bytes.len().to_string()
    );
}

mod ignored_parameters {
    use super::*;

    fn with_ignored(names: &[&str]) -> Value {
        let mut body = realm_presence_body(everyone_in_the_default_realm());
        body["ignored_parameters_unsupported"] = json!(names);
        body
    }

    #[tokio::test]
    async fn query_parameters_are_listed_sorted_without_repeats_or_client() {
        let app = TestApp::new();

        let response = app
            .request(
                Method::GET,
                "/api/v1/realm/presence?zeta=1&client=ZulipPython&alpha=2&zeta=3",
            )
            .basic_auth(IAGO)
            .send()
            .await;

        response.assert_json(
            StatusCode::OK,
            with_ignored(&["alpha", "zeta"]),
            JSON_NEVER_CACHE,
        );
    }

    #[tokio::test]
    async fn urlencoded_body_parameters_are_listed_with_query_parameters() {
        let app = TestApp::new();

        let response = app
            .request(Method::GET, "/api/v1/realm/presence?from_query=1")
            .basic_auth(IAGO)
            .form("from_body=true&client=x")
            .send()
            .await;

        response.assert_json(
            StatusCode::OK,
            with_ignored(&["from_body", "from_query"]),
            JSON_NEVER_CACHE,
        );
    }

    #[tokio::test]
    async fn multipart_body_parameters_are_listed() {
        let app = TestApp::new();

        let response = app
            .request(Method::GET, "/api/v1/realm/presence")
            .basic_auth(IAGO)
            .multipart(&[
                ("slim_presence", "true"),
                ("client", "zulip-js"),
                ("history_limit_days", "5"),
            ])
            .send()
            .await;

        response.assert_json(
            StatusCode::OK,
            with_ignored(&["history_limit_days", "slim_presence"]),
            JSON_NEVER_CACHE,
        );
    }

    #[tokio::test]
    async fn only_client_means_nothing_is_listed() {
        let app = TestApp::new();

        let response = app
            .request(Method::GET, "/api/v1/realm/presence?client=website")
            .basic_auth(IAGO)
            .send()
            .await;

        response.assert_everyone_listed();
    }

    #[tokio::test]
    async fn they_are_listed_from_feature_level_167() {
        for (level, expected) in [
            (166, realm_presence_body(everyone_in_the_default_realm())),
            (167, with_ignored(&["foo"])),
        ] {
            let mut fixture = default_fixture_json();
            fixture["server"]["feature_level"] = json!(level);
            let app = TestApp::from_fixture_json(&fixture);

            let response = app
                .request(Method::GET, "/api/v1/realm/presence?foo=1")
                .basic_auth(IAGO)
                .send()
                .await;

            response.assert_json(StatusCode::OK, expected, JSON_NEVER_CACHE);
        }
    }

    #[tokio::test]
    async fn they_are_left_out_when_the_server_omits_them_on_this_view() {
        let app = TestApp::omitting_realm_presence_ignored_parameters();

        let response = app
            .request(Method::GET, "/api/v1/realm/presence?foo=1")
            .basic_auth(IAGO)
            .send()
            .await;

        response.assert_everyone_listed();
    }

    #[tokio::test]
    async fn error_responses_never_list_them() {
        let app = TestApp::new();

        let response = app
            .request(Method::GET, "/api/v1/realm/presence?foo=1")
            .authorization(&basic("iago@zulip.com:wrongwrongwrongwrongwrongwrong00"))
            .send()
            .await;

        response.assert_json(
            StatusCode::UNAUTHORIZED,
            json!({ "result": "error", "msg": "Invalid API key", "code": "UNAUTHORIZED" }),
            JSON_UNAUTHORIZED,
        );
    }
}
