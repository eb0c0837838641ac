//! POST /api/v1/users/me/presence (zulip-contract.md section 5): Zulip's write rule, update
//! ids, formats, filters and errors, under a frozen clock.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

const DAY: i64 = 86_400;

/// A presence response: `presences`, `server_timestamp` `seconds_later` after `NOW`, and
/// `presence_last_update_id`.
fn presences(presences: Value, seconds_later: i64, last_update_id: i64) -> Value {
    success_with(json!({
        "presences": presences,
        "server_timestamp": SERVER_TIMESTAMP + seconds_later as f64,
        "presence_last_update_id": last_update_id,
    }))
}

#[tokio::test]
async fn a_first_active_report_creates_the_row_with_the_first_update_id() {
    let app = TestApp::from_fixture_json(&lab_fixture(json!([])));

    let response = app.post_presence(lab("alice"), "status=active").await;

    response.assert_json(
        StatusCode::OK,
        presences(json!({ "alice@example.com": legacy("active", NOW) }), 0, 1),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn a_first_idle_report_creates_a_row_without_an_active_time() {
    // The missing active time counts as date_joined, long before: idle since now.
    let app = TestApp::from_fixture_json(&lab_fixture(json!([])));

    let response = app
        .post_presence(lab("alice"), "status=idle&slim_presence=true")
        .await;

    response.assert_json(
        StatusCode::OK,
        presences(json!({ "2": modern(NOW - 10_000_000, NOW) }), 0, 1),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn a_second_idle_report_within_55_seconds_bumps_nothing_and_echoes_the_clients_id() {
    let app = TestApp::from_fixture_json(&lab_fixture(json!([])));
    app.post_presence(lab("alice"), "status=idle").await;
    app.advance(30);

    let response = app
        .post_presence(lab("alice"), "status=idle&last_update_id=1")
        .await;

    response.assert_json(
        StatusCode::OK,
        presences(json!({}), 30, 1),
        &json_never_cache(30),
    );
}

#[tokio::test]
async fn reports_move_each_time_only_when_it_is_more_than_55_seconds_old() {
    let app = TestApp::from_fixture_json(&lab_fixture(json!([])));
    app.post_presence(lab("alice"), "status=active").await;

    app.advance(55);
    let unchanged = app
        .post_presence(lab("alice"), "status=active&slim_presence=true")
        .await;
    app.advance(1);
    let idle = app
        .post_presence(lab("alice"), "status=idle&slim_presence=true")
        .await;
    app.advance(56);
    let active = app
        .post_presence(lab("alice"), "status=active&slim_presence=true")
        .await;

    unchanged.assert_json(
        StatusCode::OK,
        presences(json!({ "2": modern(NOW, NOW) }), 55, 1),
        &json_never_cache(55),
    );
    idle.assert_json(
        StatusCode::OK,
        presences(json!({ "2": modern(NOW, NOW + 56) }), 56, 2),
        &json_never_cache(56),
    );
    active.assert_json(
        StatusCode::OK,
        presences(json!({ "2": modern(NOW + 112, NOW + 112) }), 112, 3),
        &json_never_cache(112),
    );
}

#[tokio::test]
async fn an_active_report_brings_a_recent_connected_time_along() {
    // Connected 10 s ago (not stale), active an hour ago (stale): both become now.
    let app = TestApp::from_fixture_json(&lab_fixture(json!([
        { "user_id": 2, "last_connected_time": NOW - 10, "last_active_time": NOW - 3_600 },
    ])));

    let response = app
        .post_presence(lab("alice"), "status=active&slim_presence=true")
        .await;

    response.assert_json(
        StatusCode::OK,
        presences(json!({ "2": modern(NOW, NOW) }), 0, 2),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn an_empty_realm_gives_update_id_minus_one() {
    let app = TestApp::from_fixture_json(&lab_fixture(json!([])));

    // quiet has presence_enabled off: the report writes nothing.
    let response = app.post_presence(lab("quiet"), "status=active").await;

    response.assert_json(
        StatusCode::OK,
        presences(json!({}), 0, -1),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn users_with_presence_enabled_off_are_never_written() {
    let app = TestApp::from_fixture_json(&lab_fixture(json!([
        { "user_id": 5, "last_connected_time": NOW - 600, "last_active_time": NOW - 600 },
    ])));

    let response = app.post_presence(lab("quiet"), "status=active").await;

    response.assert_json(
        StatusCode::OK,
        presences(
            json!({ "quiet@example.com": legacy("active", NOW - 600) }),
            0,
            1,
        ),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn ping_only_answers_just_success_and_still_records_the_report() {
    let app = TestApp::from_fixture_json(&lab_fixture(json!([])));

    let response = app
        .post_presence(lab("alice"), "status=active&ping_only=true")
        .await;
    let realm = app.get_realm_presence(lab("reader")).await;

    response.assert_json(StatusCode::OK, success_with(json!({})), JSON_NEVER_CACHE);
    assert_eq!(
        realm.json()["presences"],
        json!({ "alice@example.com": legacy("active", NOW) })
    );
}

#[tokio::test]
async fn a_positive_last_update_id_returns_only_later_changes_without_the_14_day_window() {
    // Default fixture rows have update ids 1-11 in file order. After 4: prospero (user 6,
    // 3 weeks old), desdemona (user 1), aaron (null connected time: date_joined), polonius, and Zoe; ophelia is
    // deactivated and the bot is a bot. Iago's own idle report within 55 s changes nothing.
    let app = TestApp::new();

    let response = app
        .post_presence(IAGO, "status=idle&last_update_id=4")
        .await;

    response.assert_json(
        StatusCode::OK,
        presences(
            json!({
                "1": modern(NOW - 400 * DAY, NOW - 300),
                "6": modern(NOW - 21 * DAY, NOW - 21 * DAY),
                "7": modern(NOW - 60, NOW - 200 * DAY),
                "8": modern(NOW - 40, NOW - 40),
                "11": modern(NOW - 3 * 3_600, NOW - 2 * 3_600),
            }),
            0,
            11,
        ),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn last_update_id_zero_keeps_the_window_and_selects_the_modern_format() {
    let app = TestApp::from_fixture_json(&lab_fixture(json!([
        { "user_id": 2, "last_connected_time": "-1h", "last_active_time": "-1h" },
        { "user_id": 3, "last_connected_time": "-15d", "last_active_time": "-15d" },
    ])));

    let response = app
        .post_presence(lab("quiet"), "status=idle&last_update_id=0")
        .await;

    response.assert_json(
        StatusCode::OK,
        presences(json!({ "2": modern(NOW - 3_600, NOW - 3_600) }), 0, 1),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn history_limit_days_sets_the_window_around_a_100_day_old_row() {
    let app = TestApp::from_fixture_json(&lab_fixture(json!([
        { "user_id": 3, "last_connected_time": "-100d", "last_active_time": "-100d" },
    ])));

    let fifty = app
        .post_presence(lab("quiet"), "status=idle&history_limit_days=50")
        .await;
    let hundred_and_one = app
        .post_presence(lab("quiet"), "status=idle&history_limit_days=101")
        .await;
    let zero = app
        .post_presence(lab("quiet"), "status=idle&history_limit_days=0")
        .await;
    let zero_with_id = app
        .post_presence(
            lab("quiet"),
            "status=idle&history_limit_days=0&last_update_id=7",
        )
        .await;

    fifty.assert_json(
        StatusCode::OK,
        presences(json!({}), 0, -1),
        JSON_NEVER_CACHE,
    );
    hundred_and_one.assert_json(
        StatusCode::OK,
        presences(
            json!({ "bob@example.com": legacy("active", NOW - 100 * DAY) }),
            0,
            1,
        ),
        JSON_NEVER_CACHE,
    );
    zero.assert_json(
        StatusCode::OK,
        presences(json!({}), 0, -1),
        JSON_NEVER_CACHE,
    );
    zero_with_id.assert_json(StatusCode::OK, presences(json!({}), 0, 7), JSON_NEVER_CACHE);
}

#[tokio::test]
async fn a_limited_guest_gets_only_accessible_users() {
    let app = TestApp::new();

    let response = app.post_presence(POLONIUS, "status=idle").await;

    response.assert_json(
        StatusCode::OK,
        presences(
            json!({
                "cordelia@zulip.com": legacy("active", NOW - 7 * DAY),
                "hamlet@zulip.com": legacy("active", NOW - 80),
                "othello@zulip.com": legacy("idle", NOW - 20),
                "polonius@zulip.com": legacy("active", NOW - 40),
            }),
            0,
            8,
        ),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn a_realm_with_presence_disabled_returns_nothing_and_minus_one() {
    let mut fixture = lab_fixture(
        json!([{ "user_id": 3, "last_connected_time": "-1m", "last_active_time": "-1m" }]),
    );
    fixture["realms"][0]["presence_disabled"] = json!(true);
    let app = TestApp::from_fixture_json(&fixture);

    let response = app
        .post_presence(lab("alice"), "status=active&last_update_id=0")
        .await;

    response.assert_json(
        StatusCode::OK,
        presences(json!({}), 0, -1),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn parameters_come_from_multipart_bodies_and_the_query_string() {
    let expected = presences(json!({ "alice@example.com": legacy("active", NOW) }), 0, 1);
    for via in ["multipart", "query"] {
        let app = TestApp::from_fixture_json(&lab_fixture(json!([])));
        let request = match via {
            "multipart" => app
                .request(Method::POST, "/api/v1/users/me/presence")
                .multipart(&[("status", "active"), ("new_user_input", "false")]),
            _ => app.request(Method::POST, "/api/v1/users/me/presence?status=active"),
        };

        let response = request.basic_auth(lab("alice")).send().await;

        response.assert_json(StatusCode::OK, expected.clone(), JSON_NEVER_CACHE);
    }
}

#[tokio::test]
async fn unsupported_parameters_are_listed_from_feature_level_167() {
    for (level, ignored) in [(166, None), (167, Some(json!(["foo", "zeta"])))] {
        let mut fixture = lab_fixture(json!([]));
        fixture["server"]["feature_level"] = json!(level);
        let app = TestApp::from_fixture_json(&fixture);

        let response = app
            .post_presence(
                lab("alice"),
                "status=active&ping_only=true&zeta=1&foo=2&client=x&new_user_input=true",
            )
            .await;

        let mut expected = success_with(json!({}));
        if let Some(ignored) = ignored {
            expected["ignored_parameters_unsupported"] = ignored;
        }
        response.assert_json(StatusCode::OK, expected, JSON_NEVER_CACHE);
    }
}

#[tokio::test]
async fn bots_are_refused() {
    let app = TestApp::new();

    let response = app.post_presence(WELCOME_BOT, "status=active").await;

    response.assert_json(
        StatusCode::BAD_REQUEST,
        bad_request("This endpoint does not accept bot requests."),
        JSON,
    );
}

#[tokio::test]
async fn parameters_are_checked_in_signature_order_and_a_missing_status_at_its_place() {
    let app = TestApp::from_fixture_json(&lab_fixture(json!([])));

    let bad_ping = app.post_presence(lab("alice"), "ping_only=null").await;
    let bad_days_first = app
        .post_presence(lab("alice"), "slim_presence=1&history_limit_days=x")
        .await;
    let missing = app.post_presence(lab("alice"), "ping_only=true").await;

    bad_ping.assert_json(
        StatusCode::BAD_REQUEST,
        bad_request("ping_only is not a boolean"),
        JSON,
    );
    bad_days_first.assert_json(
        StatusCode::BAD_REQUEST,
        bad_request("history_limit_days is not valid JSON"),
        JSON,
    );
    missing.assert_json(
        StatusCode::BAD_REQUEST,
        json!({
            "result": "error", "msg": "Missing 'status' argument",
            "var_name": "status", "code": "REQUEST_VARIABLE_MISSING",
        }),
        JSON,
    );
}

#[tokio::test]
async fn json_null_is_a_value_that_is_not_an_integer() {
    let app = TestApp::from_fixture_json(&lab_fixture(json!([])));

    let response = app
        .post_presence(lab("alice"), "status=active&last_update_id=null")
        .await;

    response.assert_json(
        StatusCode::BAD_REQUEST,
        bad_request("last_update_id is not an integer"),
        JSON,
    );
}

#[tokio::test]
async fn a_status_other_than_active_or_idle_is_invalid() {
    let app = TestApp::from_fixture_json(&lab_fixture(json!([])));
    for status in ["Active", "offline", ""] {
        let response = app
            .post_presence(lab("alice"), &format!("status={status}"))
            .await;

        response.assert_json(
            StatusCode::BAD_REQUEST,
            bad_request(&format!("Invalid status: {status}")),
            JSON,
        );
    }
}

#[tokio::test]
async fn badly_encoded_values_get_zulips_errors_in_parameter_order_and_write_nothing() {
    let app = TestApp::from_fixture_json(&lab_fixture(json!([])));
    for (form, msg) in [
        ("status=active&ping_only=yes", "ping_only is not valid JSON"),
        ("status=active&ping_only=1", "ping_only is not a boolean"),
        (
            "status=active&slim_presence=%22true%22",
            "slim_presence is not a boolean",
        ),
        (
            "status=active&new_user_input=null",
            "new_user_input is not a boolean",
        ),
        (
            "status=active&last_update_id=1.5",
            "last_update_id is not an integer",
        ),
        (
            "status=active&history_limit_days=true",
            "history_limit_days is not an integer",
        ),
        (
            "status=bogus&ping_only=1&history_limit_days=x",
            "history_limit_days is not valid JSON",
        ),
    ] {
        let response = app.post_presence(lab("alice"), form).await;

        response.assert_json(StatusCode::BAD_REQUEST, bad_request(msg), JSON);
    }
    let realm = app.get_realm_presence(lab("reader")).await;
    assert_eq!(realm.json()["presences"], json!({}));
}

#[tokio::test]
async fn only_post_is_allowed() {
    let app = TestApp::new();

    let get = app
        .request(Method::GET, "/api/v1/users/me/presence")
        .basic_auth(IAGO)
        .send()
        .await;
    let options = app
        .request(Method::OPTIONS, "/api/v1/users/me/presence")
        .send()
        .await;

    assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        get.text(),
        "{\"result\":\"error\",\"msg\":\"Method Not Allowed\",\"allowed_methods\":[\"POST\"]}\n"
    );
    get.assert_headers(&[
        ("allow", "POST"),
        (
            "cache-control",
            "max-age=0, no-cache, no-store, must-revalidate, private",
        ),
        ("content-type", "text/html; charset=utf-8"),
        ("expires", "Tue, 14 Nov 2023 22:13:20 GMT"),
    ]);
    assert_eq!(options.status, StatusCode::NO_CONTENT);
    assert_eq!(options.headers["allow"], "POST");
}

#[tokio::test]
async fn a_report_shows_in_everyones_realm_presence() {
    let app = TestApp::from_fixture_json(&lab_fixture(json!([])));
    app.post_presence(lab("alice"), "status=active").await;
    app.advance(90);
    app.post_presence(lab("bob"), "status=idle").await;

    let response = app.get_realm_presence(lab("reader")).await;

    response.assert_json(
        StatusCode::OK,
        success_with(json!({
            "presences": {
                "alice@example.com": legacy("active", NOW),
                "bob@example.com": legacy("idle", NOW + 90),
            },
            "server_timestamp": SERVER_TIMESTAMP + 90.0,
        })),
        &json_never_cache(90),
    );
}

#[tokio::test]
async fn rows_with_update_id_0_load_as_zulip_bulk_creates_them_and_the_next_change_is_1() {
    let app = TestApp::from_fixture_json(&lab_fixture(json!([
        {"user_id": 2, "last_connected_time": NOW - 30, "last_active_time": NOW - 30, "last_update_id": 0},
        {"user_id": 3, "last_connected_time": NOW - 30, "last_active_time": NOW - 30, "last_update_id": 0},
    ])));

    let report = app.post_presence(lab("reader"), "status=active").await;
    let rows = app
        .admin(Method::GET, "/__admin/realms/_root/presence", None)
        .await;

    assert_eq!(report.json()["presence_last_update_id"], 1);
    let ids: Vec<(u64, i64)> = rows
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["user_id"].as_u64().unwrap(),
                row["last_update_id"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(ids, [(1, 1), (2, 0), (3, 0)]);
}

#[tokio::test]
async fn update_ids_are_python_integers_of_any_size_and_one_json_cannot_hold_is_a_500() {
    let app = TestApp::from_fixture_json(&lab_fixture(json!([])));

    let beyond_i64 = app
        .post_presence(
            lab("reader"),
            "status=active&last_update_id=9223372036854775808",
        )
        .await;
    let beyond_u64 = app
        .post_presence(
            lab("alice"),
            "status=active&last_update_id=18446744073709551616",
        )
        .await;
    let rows = app
        .admin(Method::GET, "/__admin/realms/_root/presence", None)
        .await;

    assert_eq!(beyond_i64.status, StatusCode::OK);
    assert_eq!(
        beyond_i64.text(),
        format!(
            "{{\"result\":\"success\",\"msg\":\"\",\"presences\":{{}},\"server_timestamp\":{SERVER_TIMESTAMP},\"presence_last_update_id\":9223372036854775808}}\n"
        )
    );
    beyond_u64.assert_json(
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"result": "error", "msg": "Internal server error"}),
        JSON,
    );
    // Both writes happened before the answer was made.
    assert_eq!(rows.json().as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_history_window_python_s_dates_cannot_hold_is_a_500_after_the_write() {
    let app = TestApp::from_fixture_json(&lab_fixture(json!([])));
    let report = |user: &'static str, form: &'static str| {
        let app = &app;
        async move { app.post_presence(lab(user), form).await }
    };

    // 700,000 days before 2023 is in the year 107; a million days is before the year 1, and
    // three million days ahead is after 9999.
    let far_back = report("reader", "status=active&history_limit_days=700000").await;
    let too_far = report("alice", "status=active&history_limit_days=1000000").await;
    let too_far_ahead = report("bob", "status=active&history_limit_days=-3000000").await;
    let pinged = report(
        "nobody",
        "status=active&ping_only=true&history_limit_days=1000000",
    )
    .await;
    let nothing = report("gus", "status=active&history_limit_days=0").await;
    let rows = app
        .admin(Method::GET, "/__admin/realms/_root/presence", None)
        .await;

    assert_eq!(far_back.status, StatusCode::OK);
    for response in [too_far, too_far_ahead] {
        response.assert_json(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"result": "error", "msg": "Internal server error"}),
            JSON,
        );
    }
    pinged.assert_json(
        StatusCode::OK,
        json!({"result": "success", "msg": ""}),
        JSON_NEVER_CACHE,
    );
    assert_eq!(nothing.json()["presences"], json!({}));
    assert_eq!(rows.json().as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn at_the_update_ids_limit_a_report_is_refused_as_zulip_s_database_would_refuse_it() {
    let app = TestApp::from_fixture_json(&lab_fixture(json!([
        {"user_id": 2, "last_connected_time": NOW - 30, "last_active_time": NOW - 30,
         "last_update_id": i64::MAX},
    ])));

    let report = app.post_presence(lab("reader"), "status=active").await;
    let rows = app
        .admin(Method::GET, "/__admin/realms/_root/presence", None)
        .await;

    report.assert_json(
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"result": "error", "msg": "Internal server error"}),
        JSON,
    );
    assert_eq!(rows.json().as_array().unwrap().len(), 1);
}
