//! The admin API's control endpoints: time, the request journal, faults and the rate limiter.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use zulip_presence_mock::DEFAULT_FIXTURE;
use zulip_presence_mock::{PARAM_OVERHEAD, RECORD_OVERHEAD};

use crate::helpers::*;

#[tokio::test]
async fn the_clock_reads_freezes_advances_and_returns_to_real_time() {
    let app = TestApp::new();

    let read = app.admin(Method::GET, "/__admin/time", None).await;
    let frozen = app
        .admin(
            Method::POST,
            "/__admin/time/freeze",
            Some(json!({"at": "2024-01-01T00:00:00Z"})),
        )
        .await;
    let advanced = app
        .admin(
            Method::POST,
            "/__admin/time/advance",
            Some(json!({"by": "90s"})),
        )
        .await;
    let back = app
        .admin(
            Method::POST,
            "/__admin/time/advance",
            Some(json!({"by": -0.5})),
        )
        .await;
    let real = app.admin(Method::POST, "/__admin/time/system", None).await;

    read.assert_admin(
        StatusCode::OK,
        json!({"mode": "frozen", "now": SERVER_TIMESTAMP, "now_iso": "2023-11-14T22:13:20.25Z"}),
    );
    frozen.assert_admin(
        StatusCode::OK,
        json!({"mode": "frozen", "now": 1_704_067_200.0, "now_iso": "2024-01-01T00:00:00Z"}),
    );
    advanced.assert_admin(
        StatusCode::OK,
        json!({"mode": "frozen", "now": 1_704_067_290.0, "now_iso": "2024-01-01T00:01:30Z"}),
    );
    back.assert_admin(
        StatusCode::OK,
        json!({"mode": "frozen", "now": 1_704_067_289.5, "now_iso": "2024-01-01T00:01:29.5Z"}),
    );
    assert_eq!(real.status, StatusCode::OK);
    assert_eq!(real.json()["mode"], "system");
    assert!(real.json()["now"].as_f64().unwrap() > 1_750_000_000.0);
}

#[tokio::test]
async fn advancing_a_running_clock_keeps_it_running_that_far_ahead() {
    let app = TestApp::new();
    app.admin(Method::POST, "/__admin/time/system", None).await;

    let ahead = app
        .admin(
            Method::POST,
            "/__admin/time/advance",
            Some(json!({"by": "2d"})),
        )
        .await
        .json();

    assert_eq!(ahead["mode"], "offset");
    assert_eq!(ahead["offset_seconds"], 172_800.0);
}

#[tokio::test]
async fn a_frozen_clock_moved_by_the_admin_api_moves_presence_on() {
    let app = TestApp::new();

    app.admin(
        Method::POST,
        "/__admin/time/advance",
        Some(json!({"by": "15d"})),
    )
    .await;

    let presences = app.get_realm_presence(IAGO).await.json()["presences"].clone();
    assert_eq!(presences, json!({}));
}

#[tokio::test]
async fn a_bad_duration_is_refused() {
    let app = TestApp::new();

    let refused = app
        .admin(
            Method::POST,
            "/__admin/time/advance",
            Some(json!({"by": "soon"})),
        )
        .await;

    refused.assert_admin(
        StatusCode::BAD_REQUEST,
        json!({"result": "error", "code": "BAD_REQUEST",
               "msg": "by must be seconds or a duration such as \"90s\", \"-5m\" or \"2d\", not \"soon\""}),
    );
}

async fn journal(app: &TestApp, query: &str) -> Value {
    let response = app
        .admin(Method::GET, &format!("/__admin/requests{query}"), None)
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()
}

#[tokio::test]
async fn every_zulip_request_is_journalled_with_what_the_client_sent() {
    let app = TestApp::new();
    app.request(Method::POST, "/api/v1/users/me/presence?client=ZulipMobile")
        .basic_auth(HAMLET)
        .header("user-agent", "ZulipMobile/27.0")
        .form("status=idle&ping_only=true&api_key=secret")
        .send()
        .await;

    let listing = journal(&app, "").await;

    assert_eq!(
        listing,
        json!({
            "requests": [{
                "id": 1, "time": SERVER_TIMESTAMP, "realm": "", "method": "POST",
                "path": "/api/v1/users/me/presence",
                "query": {"client": "ZulipMobile"},
                "params": {"status": "idle", "ping_only": "true", "api_key": "(redacted)"},
                "user": {"user_id": 3, "email": "hamlet@zulip.com"},
                "auth_failure": null,
                "user_agent": "ZulipMobile/27.0",
                "status": 200,
                "fault": null,
                "note": null,
            }],
            "count": 1, "dropped": 0, "capacity": 10_000,
            "bytes": RECORD_OVERHEAD
                + "/api/v1/users/me/presence?client=ZulipMobile".len()
                + "ZulipMobile/27.0".len()
                + "statusidleping_onlytrueapi_key(redacted)".len()
                + 3 * PARAM_OVERHEAD,
            "capacity_bytes": 64 * 1024 * 1024,
        })
    );
}

#[tokio::test]
async fn an_authentication_failure_is_journalled_with_the_reason_in_plain_words() {
    let app = TestApp::new();
    let cases = [
        (
            Credentials {
                email: HAMLET.email,
                api_key: IAGO.api_key,
            },
            "the API key belongs to iago@zulip.com, not to hamlet@zulip.com",
        ),
        (
            Credentials {
                email: "nobody@zulip.com",
                api_key: IAGO.api_key,
            },
            "no user has the email sent (the API key belongs to iago@zulip.com)",
        ),
        (
            Credentials {
                email: HAMLET.email,
                api_key: "ABCDEFGHIJABCDEFGHIJABCDEFGHIJAB",
            },
            "hamlet@zulip.com exists, but no user has this API key",
        ),
        (
            Credentials {
                email: HAMLET.email,
                api_key: "short",
            },
            "the API key is not 32 letters and digits (it has 5 characters)",
        ),
        (
            OPHELIA,
            "user ophelia@zulip.com (id 9) is deactivated",
        ),
        (
            KING,
            "king@lear.org is a user of the realm on subdomain \"lear\", but the request was for subdomain \"\" (see the Host header)",
        ),
    ];
    for (credentials, _) in cases {
        let response = app.get_realm_presence(credentials).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    }
    app.request(Method::GET, "/api/v1/realm/presence")
        .send()
        .await;

    let listing = journal(&app, "").await;

    let reasons: Vec<&str> = listing["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["auth_failure"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = cases.iter().map(|(_, reason)| *reason).collect();
    expected.push("no Authorization header");
    assert_eq!(reasons, expected);
    assert!(listing["requests"]
        .as_array()
        .unwrap()
        .iter()
        .all(|entry| entry["user"].is_null() && entry["status"] == 401));
}

#[tokio::test]
async fn a_key_sent_anywhere_never_reaches_the_journal() {
    let app = TestApp::new();
    let key = IAGO.api_key;
    // As the email, in the path, under parameter names any rule-less list would miss.
    app.request(Method::GET, "/api/v1/realm/presence")
        .authorization(&basic(&format!("{key}:{key}")))
        .send()
        .await;
    app.request(Method::GET, &format!("/api/v1/users/{key}/presence"))
        .basic_auth(IAGO)
        .send()
        .await;
    for name in [
        "API_KEY",
        "apiKey",
        "api-key",
        "key",
        "secret",
        "admin_token",
        " api_key ",
    ] {
        app.request(
            Method::POST,
            &format!("/api/v1/users/me/presence?{}={key}", name.replace(' ', "+")),
        )
        .basic_auth(HAMLET)
        .form(&format!("status=active&{}={key}", name.replace(' ', "+")))
        .send()
        .await;
    }

    let text = app
        .admin(Method::GET, "/__admin/requests", None)
        .await
        .text();

    assert!(text.contains("/api/v1/users/(redacted)/presence"), "{text}");
    assert!(text.contains("no user has the email sent"), "{text}");
    assert!(!text.contains(key), "{text}");
}

#[tokio::test]
async fn the_journal_never_holds_an_api_key() {
    let app = TestApp::new();
    for user in [IAGO, HAMLET, KING, OPHELIA, ZOE] {
        app.get_realm_presence(user).await;
        app.post_presence(user, &format!("status=active&api_key={}", user.api_key))
            .await;
    }

    let text = app
        .admin(Method::GET, "/__admin/requests", None)
        .await
        .text();

    let fixture: Value = serde_json::from_str(DEFAULT_FIXTURE).unwrap();
    for realm in fixture["realms"].as_array().unwrap() {
        for user in realm["users"].as_array().unwrap() {
            let key = user["api_key"].as_str().unwrap();
            assert!(!text.contains(key), "the journal shows {key}");
        }
    }
}

#[tokio::test]
async fn the_journal_filters_counts_and_clears_per_realm() {
    let app = TestApp::new();
    app.get_realm_presence(IAGO).await;
    app.post_presence(HAMLET, "status=active").await;
    app.get_realm_presence_on("lear.localhost:9991", KING).await;
    app.get_server_settings().await;

    let by_user = journal(&app, "?user=hamlet@zulip.com").await;
    let by_path = journal(&app, "?path=/api/v1/realm/presence&method=get").await;
    let by_realm = journal(&app, "?realm=lear").await;
    let after = journal(&app, "?after_id=2&limit=1").await;
    let count = app
        .admin(Method::GET, "/__admin/requests/count?realm=_root", None)
        .await;
    let cleared = app
        .admin(Method::DELETE, "/__admin/requests?realm=lear", None)
        .await;

    let ids = |listing: &Value| -> Vec<u64> {
        listing["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| entry["id"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(ids(&by_user), [2]);
    assert_eq!(ids(&by_path), [1, 3]);
    assert_eq!(ids(&by_realm), [3]);
    assert_eq!(ids(&after), [4]);
    count.assert_admin(StatusCode::OK, json!({"count": 3}));
    cleared.assert_admin(StatusCode::OK, json!({"cleared": 1}));
    assert_eq!(ids(&journal(&app, "").await), [1, 2, 4]);
}

#[tokio::test]
async fn a_full_journal_drops_the_oldest_requests() {
    let app = TestApp::with_options(
        &default_fixture_json(),
        zulip_presence_mock::Options {
            journal_capacity: 2,
            ..Default::default()
        },
    );
    for _ in 0..5 {
        app.get_server_settings().await;
    }

    let listing = journal(&app, "").await;

    assert_eq!(listing["count"], 2);
    assert_eq!(listing["dropped"], 3);
    assert_eq!(listing["requests"][0]["id"], 4);
}

#[tokio::test]
async fn an_injected_server_error_has_zulips_500_body_and_applies_n_times() {
    let app = TestApp::new();
    let fault = app
        .admin(
            Method::POST,
            "/__admin/faults",
            Some(json!({"path": "/api/v1/realm/presence", "error": {"status": 500}, "times": 1})),
        )
        .await;

    let failed = app.get_realm_presence(IAGO).await;
    let next = app.get_realm_presence(IAGO).await;

    fault.assert_admin(
        StatusCode::CREATED,
        json!({"id": 1, "path": "/api/v1/realm/presence", "error": {"status": 500}, "times": 1,
               "remaining": 1, "hits": 0}),
    );
    failed.assert_json(
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"result": "error", "msg": "Internal server error"}),
        JSON,
    );
    next.assert_everyone_listed();
    let entries = journal(&app, "").await["requests"].clone();
    assert_eq!(entries[0]["fault"], 1);
    assert_eq!(entries[0]["status"], 500);
    assert_eq!(
        entries[0]["user"],
        json!({"user_id": 2, "email": "iago@zulip.com"})
    );
    assert_eq!(entries[1]["fault"], Value::Null);
}

#[tokio::test]
async fn an_injected_rate_limit_is_zulips_429_exactly() {
    let app = TestApp::new();
    app.admin(
        Method::POST,
        "/__admin/faults",
        Some(json!({"user": "iago@zulip.com", "rate_limit": {"retry_after": 2.5}})),
    )
    .await;

    let limited = app.get_realm_presence(IAGO).await;
    let other_user = app.get_realm_presence(HAMLET).await;

    limited.assert_json(
        StatusCode::TOO_MANY_REQUESTS,
        json!({"result": "error", "msg": "API usage exceeded rate limit",
               "code": "RATE_LIMIT_HIT", "retry-after": 2.5}),
        &[
            ("content-type", "application/json".to_owned()),
            ("retry-after", "2.5".to_owned()),
            ("x-ratelimit-limit", "200".to_owned()),
            ("x-ratelimit-remaining", "0".to_owned()),
            ("x-ratelimit-reset", (NOW + 2).to_string()),
        ],
    );
    other_user.assert_everyone_listed();
}

#[tokio::test]
async fn an_injected_error_can_carry_its_own_message_and_code() {
    let app = TestApp::new();
    app.admin(
        Method::POST,
        "/__admin/faults",
        Some(json!({"method": "POST", "error": {"status": 400, "msg": "Nope", "code": "INVALID_API_KEY"}})),
    )
    .await;

    let refused = app.post_presence(HAMLET, "status=active").await;
    let read = app.get_realm_presence(IAGO).await;

    refused.assert_json(
        StatusCode::BAD_REQUEST,
        json!({"result": "error", "msg": "Nope", "code": "INVALID_API_KEY"}),
        JSON,
    );
    read.assert_everyone_listed();
}

#[tokio::test]
async fn a_delay_fault_serves_the_request_normally_afterwards() {
    let app = TestApp::new();
    app.admin(
        Method::POST,
        "/__admin/faults",
        Some(json!({"delay_ms": 20, "times": 1})),
    )
    .await;

    app.get_realm_presence(IAGO).await.assert_everyone_listed();
    assert_eq!(journal(&app, "").await["requests"][0]["fault"], 1);
}

#[tokio::test]
async fn faults_are_listed_removed_and_checked() {
    let app = TestApp::new();
    app.admin(
        Method::POST,
        "/__admin/faults",
        Some(json!({"drop_connection": true})),
    )
    .await;
    app.admin(
        Method::POST,
        "/__admin/faults",
        Some(json!({"delay_ms": 5})),
    )
    .await;

    let removed = app.admin(Method::DELETE, "/__admin/faults/1", None).await;
    let listed = app.admin(Method::GET, "/__admin/faults", None).await;
    let missing = app.admin(Method::DELETE, "/__admin/faults/1", None).await;
    let invalid = app
        .admin(
            Method::POST,
            "/__admin/faults",
            Some(json!({"drop_connection": true, "error": {"status": 500}})),
        )
        .await;
    let cleared = app.admin(Method::DELETE, "/__admin/faults", None).await;

    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    listed.assert_admin(
        StatusCode::OK,
        json!([{"id": 2, "delay_ms": 5, "remaining": null, "hits": 0}]),
    );
    missing.assert_admin(
        StatusCode::NOT_FOUND,
        json!({"result": "error", "msg": "no fault 1", "code": "NOT_FOUND"}),
    );
    invalid.assert_admin(
        StatusCode::BAD_REQUEST,
        json!({"result": "error", "code": "INVALID_FAULT",
               "msg": "a fault does one of error, rate_limit or drop_connection, not several"}),
    );
    cleared.assert_admin(StatusCode::OK, json!({"removed": 1}));
}

/// The never-cache headers of a success, plus the rate-limit headers.
fn rate_limited_success(remaining: u32) -> Vec<(&'static str, String)> {
    let mut headers: Vec<(&'static str, String)> = json_never_cache(0).into();
    headers.extend([
        ("x-ratelimit-limit", "2".to_owned()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset", (NOW + 60).to_string()),
    ]);
    headers
}

#[tokio::test]
async fn the_rate_limiter_counts_per_user_on_the_server_clock() {
    let app = TestApp::new();
    let rule = app
        .admin(
            Method::PUT,
            "/__admin/rate_limit",
            Some(json!({"requests": 2, "window_seconds": 60})),
        )
        .await;

    let first = app.get_realm_presence(IAGO).await;
    let second = app.get_realm_presence(IAGO).await;
    let third = app.get_realm_presence(IAGO).await;
    let someone_else = app.get_realm_presence(HAMLET).await;

    rule.assert_admin(
        StatusCode::OK,
        json!({"rule": {"requests": 2, "window_seconds": 60}}),
    );
    let everyone = realm_presence_body(everyone_in_the_default_realm());
    first.assert_json(StatusCode::OK, everyone.clone(), &rate_limited_success(1));
    second.assert_json(StatusCode::OK, everyone, &rate_limited_success(0));
    third.assert_json(
        StatusCode::TOO_MANY_REQUESTS,
        json!({"result": "error", "msg": "API usage exceeded rate limit",
               "code": "RATE_LIMIT_HIT", "retry-after": 60.0}),
        &[
            ("content-type", "application/json".to_owned()),
            ("retry-after", "60.0".to_owned()),
            ("x-ratelimit-limit", "2".to_owned()),
            ("x-ratelimit-remaining", "0".to_owned()),
            ("x-ratelimit-reset", (NOW + 60).to_string()),
        ],
    );
    assert_eq!(someone_else.headers["x-ratelimit-remaining"], "1");

    // A minute after the oldest counted request, its slot is free again.
    app.advance(61);
    let freed = app.get_realm_presence(IAGO).await;
    assert_eq!(freed.status, StatusCode::OK);
    assert_eq!(freed.headers["x-ratelimit-remaining"], "1");
    assert_eq!(
        freed.headers["x-ratelimit-reset"],
        (NOW + 121).to_string().as_str()
    );
}

#[tokio::test]
async fn rate_limit_headers_go_on_view_errors_but_not_on_authentication_errors() {
    let app = TestApp::new();
    app.admin(
        Method::PUT,
        "/__admin/rate_limit",
        Some(json!({"requests": 2, "window_seconds": 60})),
    )
    .await;

    let view_error = app.post_presence(HAMLET, "status=bogus").await;
    let auth_error = app
        .get_realm_presence(Credentials {
            email: HAMLET.email,
            api_key: IAGO.api_key,
        })
        .await;

    view_error.assert_json(
        StatusCode::BAD_REQUEST,
        bad_request("Invalid status: bogus"),
        &[
            ("content-type", "application/json".to_owned()),
            ("x-ratelimit-limit", "2".to_owned()),
            ("x-ratelimit-remaining", "1".to_owned()),
            ("x-ratelimit-reset", (NOW + 60).to_string()),
        ],
    );
    auth_error.assert_json(
        StatusCode::UNAUTHORIZED,
        json!({"result": "error", "msg": "Invalid API key", "code": "UNAUTHORIZED"}),
        JSON_UNAUTHORIZED,
    );
}

#[tokio::test]
async fn the_rate_limiter_turns_off() {
    let app = TestApp::new();
    app.admin(
        Method::PUT,
        "/__admin/rate_limit",
        Some(json!({"requests": 1, "window_seconds": 60})),
    )
    .await;

    let off = app.admin(Method::DELETE, "/__admin/rate_limit", None).await;

    off.assert_admin(StatusCode::OK, json!({"rule": null}));
    app.get_realm_presence(IAGO).await.assert_everyone_listed();
    app.get_realm_presence(IAGO).await.assert_everyone_listed();
}

#[tokio::test]
async fn a_reset_clears_faults_and_the_journal_and_numbers_both_from_one_again() {
    let app = TestApp::new();
    app.admin(
        Method::POST,
        "/__admin/faults",
        Some(json!({"delay_ms": 1})),
    )
    .await;
    app.get_server_settings().await;
    app.admin(
        Method::PUT,
        "/__admin/rate_limit",
        Some(json!({"requests": 1, "window_seconds": 60})),
    )
    .await;

    app.admin(Method::POST, "/__admin/reset", None).await;
    let faults = app.admin(Method::GET, "/__admin/faults", None).await;
    let fault = app
        .admin(
            Method::POST,
            "/__admin/faults",
            Some(json!({"delay_ms": 1})),
        )
        .await;
    app.get_server_settings().await;
    let listing = journal(&app, "").await;
    let rate_limit = app.admin(Method::GET, "/__admin/rate_limit", None).await;

    faults.assert_admin(StatusCode::OK, json!([]));
    assert_eq!(fault.json()["id"], 1);
    assert_eq!(listing["count"], 1);
    assert_eq!(listing["requests"][0]["id"], 1);
    rate_limit.assert_admin(StatusCode::OK, json!({"rule": null}));
}

#[tokio::test]
async fn the_rate_limit_applies_with_the_journal_off() {
    let app = TestApp::with_options(
        &default_fixture_json(),
        zulip_presence_mock::Options {
            journal_capacity: 0,
            rate_limit: Some("2/60".parse().unwrap()),
            ..Default::default()
        },
    );

    let first = app.get_realm_presence(IAGO).await;

    first.assert_json(
        StatusCode::OK,
        realm_presence_body(everyone_in_the_default_realm()),
        &rate_limited_success(1),
    );
    let count = app
        .admin(Method::GET, "/__admin/requests/count", None)
        .await;
    count.assert_admin(StatusCode::OK, json!({"count": 0}));
}

#[tokio::test]
async fn a_request_slower_than_the_request_timeout_gets_504() {
    let app = TestApp::with_options(
        &default_fixture_json(),
        zulip_presence_mock::Options {
            limits: zulip_presence_mock::Limits {
                request_timeout: std::time::Duration::from_millis(50),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    app.admin(
        Method::POST,
        "/__admin/faults",
        Some(json!({"delay_ms": 2_000, "times": 1})),
    )
    .await;

    let timed_out = app.get_realm_presence(IAGO).await;

    timed_out.assert_json(
        StatusCode::GATEWAY_TIMEOUT,
        json!({"result": "error", "msg": "The request timed out", "code": "REQUEST_TIMEOUT"}),
        JSON,
    );
    app.get_realm_presence(IAGO).await.assert_everyone_listed();
}

#[tokio::test]
async fn the_journal_lists_requests_since_a_time_on_the_server_clock() {
    let app = TestApp::new();
    app.get_server_settings().await;
    app.advance(60);
    app.get_server_settings().await;

    let recent = journal(&app, "?since=-30s").await;
    let all = journal(&app, &format!("?since={NOW}")).await;
    let bad = app
        .admin(Method::GET, "/__admin/requests?since=soon", None)
        .await;
    let unknown = app
        .admin(Method::GET, "/__admin/requests?colour=red", None)
        .await;

    assert_eq!(recent["count"], 1);
    assert_eq!(recent["requests"][0]["id"], 2);
    assert_eq!(all["count"], 2);
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["code"], "BAD_REQUEST");
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn control_endpoints_refuse_bad_bodies_with_a_reason() {
    let app = TestApp::new();

    let zero_rule = app
        .admin(
            Method::PUT,
            "/__admin/rate_limit",
            Some(json!({"requests": 0, "window_seconds": 60})),
        )
        .await;
    let bad_time = app
        .admin(
            Method::POST,
            "/__admin/time/freeze",
            Some(json!({"at": "teatime"})),
        )
        .await;
    let no_by = app.admin(Method::POST, "/__admin/time/advance", None).await;
    let bad_status = app
        .admin(
            Method::POST,
            "/__admin/faults",
            Some(json!({"error": {"status": 302}})),
        )
        .await;
    let long_delay = app
        .admin(
            Method::POST,
            "/__admin/faults",
            Some(json!({"delay_ms": 60_001})),
        )
        .await;

    zero_rule.assert_admin(
        StatusCode::BAD_REQUEST,
        json!({"result": "error", "code": "BAD_REQUEST",
               "msg": "requests and window_seconds must be 1 or more"}),
    );
    assert_eq!(bad_time.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_time.json()["code"], "INVALID_REQUEST_BODY");
    assert_eq!(bad_time.json()["path"], "$.at");
    no_by.assert_admin(
        StatusCode::BAD_REQUEST,
        json!({"result": "error", "code": "BAD_REQUEST", "msg": "a JSON request body is required"}),
    );
    bad_status.assert_admin(
        StatusCode::BAD_REQUEST,
        json!({"result": "error", "code": "INVALID_FAULT", "msg": "error.status must be 400 to 599, not 302"}),
    );
    long_delay.assert_admin(
        StatusCode::BAD_REQUEST,
        json!({"result": "error", "code": "INVALID_FAULT", "msg": "delay_ms must be at most 60000"}),
    );
}

#[tokio::test]
async fn an_entry_keeps_at_most_its_bounds_of_what_an_unauthenticated_client_sent() {
    // Issue 21's attack: 50,000 form parameters and a 60 KB User-Agent, with no credentials.
    let app = TestApp::new();
    let form: Vec<String> = (0..50_000).map(|i| format!("p{i}=x")).collect();
    let user_agent = "U".repeat(60_000);
    let long_path = format!("/api/v1/{}", "a".repeat(10_000));
    app.request(Method::POST, "/api/v1/users/me/presence")
        .header("user-agent", &user_agent)
        .form(&form.join("&"))
        .send()
        .await;
    app.request(Method::GET, &long_path).send().await;

    let listing = journal(&app, "").await;

    let kept: serde_json::Map<String, Value> = (0..100)
        .map(|i| (format!("p{i}"), json!("x")))
        .chain([(
            "(truncated)".to_owned(),
            json!(format!(
                "49900 of 50000 parameters not kept ({} bytes of names and values)",
                (100..50_000)
                    .map(|i| format!("p{i}").len() + 1)
                    .sum::<usize>()
            )),
        )])
        .collect();
    let cut_user_agent = format!("{}… (truncated: 60000 bytes in all)", "U".repeat(1024));
    let cut_path = format!(
        "{}… (truncated: {} bytes in all)",
        &long_path[..8 * 1024],
        long_path.len()
    );
    assert_eq!(listing["requests"][0]["params"], Value::Object(kept));
    assert_eq!(listing["requests"][0]["user_agent"], json!(cut_user_agent));
    assert_eq!(listing["requests"][0]["status"], json!(401));
    assert_eq!(listing["requests"][1]["path"], json!(cut_path));
    let first_bytes = RECORD_OVERHEAD
        + "/api/v1/users/me/presence".len()
        + cut_user_agent.len()
        + (0..100)
            .map(|i| format!("p{i}").len() + 1 + PARAM_OVERHEAD)
            .sum::<usize>()
        + "(truncated)".len()
        + listing["requests"][0]["params"]["(truncated)"]
            .as_str()
            .unwrap()
            .len()
        + PARAM_OVERHEAD;
    let second_bytes = RECORD_OVERHEAD + cut_path.len();
    let auth_failure = "no Authorization header";
    let note = "not served by this mock: a stub can answer it (the fixture's \"stubs\", or POST /__admin/stubs)";
    assert_eq!(listing["requests"][0]["auth_failure"], json!(auth_failure));
    assert_eq!(listing["requests"][1]["note"], json!(note));
    assert_eq!(
        listing["bytes"],
        json!(first_bytes + auth_failure.len() + second_bytes + note.len())
    );
}

#[tokio::test]
async fn every_admin_refusal_has_the_one_error_shape_with_a_code_for_its_kind() {
    let app = TestApp::new();
    let error = |code: &str, msg: &str| json!({"result": "error", "code": code, "msg": msg});
    let big = "x".repeat(2 * 1024 * 1024);

    let user_path = app
        .admin(Method::GET, "/__admin/realms/_root/users/abc", None)
        .await;
    let fault_path = app.admin(Method::DELETE, "/__admin/faults/xyz", None).await;
    let health_post = app.admin(Method::POST, "/__admin/health", None).await;
    let reset_get = app.admin(Method::GET, "/__admin/reset", None).await;
    let too_large = app
        .request(Method::PUT, "/__admin/state")
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .body(big)
        .send()
        .await;
    let fault = app
        .admin(
            Method::POST,
            "/__admin/faults",
            Some(json!({"times": "twice"})),
        )
        .await;
    let stub = app
        .admin(Method::POST, "/__admin/stubs", Some(json!({"method": 7})))
        .await;
    let user = app
        .admin(
            Method::POST,
            "/__admin/realms/_root/users",
            Some(json!({"user_id": "nine"})),
        )
        .await;
    let settings = app
        .admin(
            Method::PATCH,
            "/__admin/events/settings",
            Some(json!({"max_queues": "many"})),
        )
        .await;

    user_path.assert_admin(
        StatusCode::BAD_REQUEST,
        error(
            "INVALID_PATH",
            "Invalid URL: Cannot parse value at index 1 with value `abc` to a `u64`",
        ),
    );
    fault_path.assert_admin(
        StatusCode::BAD_REQUEST,
        error("INVALID_PATH", "Invalid URL: Cannot parse `xyz` to a `u64`"),
    );
    for (refused, allowed) in [(&health_post, "GET,HEAD"), (&reset_get, "POST")] {
        assert_eq!(refused.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            refused.json(),
            error("METHOD_NOT_ALLOWED", "Method Not Allowed")
        );
        assert_eq!(
            refused.header_list(),
            [
                ("allow".to_owned(), allowed.to_owned()),
                ("content-type".to_owned(), "application/json".to_owned())
            ]
        );
    }
    too_large.assert_admin(
        StatusCode::PAYLOAD_TOO_LARGE,
        error("PAYLOAD_TOO_LARGE", "Request body too large"),
    );
    let invalid = |code: &str, path: &str, problem: &str| {
        json!({"result": "error", "code": code, "path": path, "problem": problem,
               "msg": format!("request body: at {path}: {problem}")})
    };
    fault.assert_admin(
        StatusCode::BAD_REQUEST,
        invalid(
            "INVALID_FAULT",
            "$.times",
            "invalid type: string \"twice\", expected u32 at line 1 column 16",
        ),
    );
    stub.assert_admin(
        StatusCode::BAD_REQUEST,
        invalid(
            "INVALID_STUB",
            "$.method",
            "invalid type: integer `7`, expected a string at line 1 column 11",
        ),
    );
    user.assert_admin(
        StatusCode::BAD_REQUEST,
        invalid(
            "INVALID_FIXTURE",
            "$.user_id",
            "invalid type: string \"nine\", expected u64 at line 1 column 17",
        ),
    );
    // The patch is merged into the settings before it is read: the column is the merged one's.
    settings.assert_admin(
        StatusCode::BAD_REQUEST,
        invalid(
            "INVALID_REQUEST_BODY",
            "$.max_queues",
            "invalid type: string \"many\", expected usize at line 1 column 143",
        ),
    );
}
