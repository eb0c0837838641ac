//! Realm presence is served from cached bytes: never stale after a write or a clock change,
//! and never shared with a guest under the access limit.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

const DAY: i64 = 86_400;

fn realm_body(presences: Value, seconds_later: i64) -> Value {
    success_with(json!({
        "presences": presences,
        "server_timestamp": SERVER_TIMESTAMP + seconds_later as f64,
    }))
}

#[tokio::test]
async fn a_write_is_seen_by_the_next_read() {
    let app = TestApp::from_fixture_json(&lab_fixture(json!([
        { "user_id": 2, "last_connected_time": "-1m", "last_active_time": "-1m" },
    ])));
    let before = app.get_realm_presence(lab("reader")).await;

    app.post_presence(lab("bob"), "status=active").await;
    let after = app.get_realm_presence(lab("reader")).await;

    before.assert_json(
        StatusCode::OK,
        realm_body(
            json!({ "alice@example.com": legacy("active", NOW - 60) }),
            0,
        ),
        JSON_NEVER_CACHE,
    );
    after.assert_json(
        StatusCode::OK,
        realm_body(
            json!({
                "alice@example.com": legacy("active", NOW - 60),
                "bob@example.com": legacy("active", NOW),
            }),
            0,
        ),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn a_row_leaves_the_cached_body_the_moment_it_leaves_the_14_day_window() {
    // Alice's row is listed while now <= her connection + 14 days = NOW + 10 s.
    let app = TestApp::from_fixture_json(&lab_fixture(json!([
        { "user_id": 2, "last_connected_time": NOW - 14 * DAY + 10, "last_active_time": NOW - 14 * DAY + 10 },
        { "user_id": 3, "last_connected_time": "-1h", "last_active_time": "-1h" },
    ])));
    let alice = legacy("active", NOW - 14 * DAY + 10);
    let bob = legacy("active", NOW - 3_600);

    let first = app.get_realm_presence(lab("reader")).await;
    app.set_clock(9);
    let still = app.get_realm_presence(lab("reader")).await;
    app.set_clock(10);
    let gone = app.get_realm_presence(lab("reader")).await;

    first.assert_json(
        StatusCode::OK,
        realm_body(
            json!({ "alice@example.com": alice, "bob@example.com": bob }),
            0,
        ),
        JSON_NEVER_CACHE,
    );
    still.assert_json(
        StatusCode::OK,
        realm_body(
            json!({ "alice@example.com": alice, "bob@example.com": bob }),
            9,
        ),
        &json_never_cache(9),
    );
    gone.assert_json(
        StatusCode::OK,
        realm_body(json!({ "bob@example.com": bob }), 10),
        &json_never_cache(10),
    );
}

#[tokio::test]
async fn moving_the_clock_back_brings_older_rows_back() {
    let app = TestApp::from_fixture_json(&lab_fixture(json!([
        { "user_id": 3, "last_connected_time": "-20d", "last_active_time": "-20d" },
    ])));

    let now = app.get_realm_presence(lab("reader")).await;
    app.set_clock(-8 * DAY);
    let earlier = app.get_realm_presence(lab("reader")).await;

    now.assert_json(StatusCode::OK, realm_body(json!({}), 0), JSON_NEVER_CACHE);
    earlier.assert_json(
        StatusCode::OK,
        realm_body(
            json!({ "bob@example.com": legacy("active", NOW - 20 * DAY) }),
            -8 * DAY,
        ),
        &json_never_cache(-8 * DAY),
    );
}

#[tokio::test]
async fn a_limited_guest_never_gets_the_shared_body_and_does_not_replace_it() {
    let app = TestApp::from_fixture_json(&lab_fixture(json!([
        { "user_id": 2, "last_connected_time": "-1m", "last_active_time": "-1m" },
        { "user_id": 3, "last_connected_time": "-1m", "last_active_time": "-1m" },
    ])));
    let everyone = realm_body(
        json!({
            "alice@example.com": legacy("active", NOW - 60),
            "bob@example.com": legacy("active", NOW - 60),
        }),
        0,
    );

    let reader = app.get_realm_presence(lab("reader")).await;
    let guest = app.get_realm_presence(lab("gus")).await;
    let reader_again = app.get_realm_presence(lab("reader")).await;

    reader.assert_json(StatusCode::OK, everyone.clone(), JSON_NEVER_CACHE);
    guest.assert_json(
        StatusCode::OK,
        realm_body(
            json!({ "alice@example.com": legacy("active", NOW - 60) }),
            0,
        ),
        JSON_NEVER_CACHE,
    );
    reader_again.assert_json(StatusCode::OK, everyone, JSON_NEVER_CACHE);
}
