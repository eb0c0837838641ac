//! Real-time presence: `POST /register`, `GET /events` (long-polling) and `DELETE /events`.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use zulip_presence_mock::{EventSettings, EVENT_SLOT_BYTES};

use crate::helpers::*;

async fn poll(app: &TestApp, user: Credentials, query: &str) -> TestResponse {
    app.request(Method::GET, &format!("/api/v1/events?{query}"))
        .basic_auth(user)
        .send()
        .await
}

/// Asserts that `queue` holds no event, polling without waiting.
async fn assert_no_events(app: &TestApp, user: Credentials, queue: &str) {
    let events = poll(
        app,
        user,
        &format!("queue_id={queue}&last_event_id=-1&dont_block=true"),
    )
    .await;
    assert_eq!(events.status, StatusCode::OK);
    assert_eq!(events.json(), events_body(json!([])));
}

fn events_body(events: Value) -> Value {
    json!({"result": "success", "msg": "", "events": events})
}

/// Hamlet's presence event as Iago's legacy queue gets it, Hamlet active at `NOW + 200`.
fn hamlet_online_event(id: i64) -> Value {
    json!({
        "type": "presence", "user_id": 3, "email": "hamlet@zulip.com",
        "server_timestamp": SERVER_TIMESTAMP + 200.0,
        "presence": {"website": {"client": "website", "status": "active",
                                 "timestamp": NOW + 200, "pushable": false}},
        "id": id,
    })
}

#[tokio::test]
async fn register_returns_a_queue_and_the_presence_snapshot() {
    let app = TestApp::new();

    let response = register(&app, IAGO, "event_types=%5B%22presence%22%5D").await;

    response.assert_json(
        StatusCode::OK,
        register_body(json!({
            "presences": everyone_in_the_default_realm(),
            "presence_last_update_id": 11,
            "server_timestamp": SERVER_TIMESTAMP,
        })),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn register_with_realm_gives_the_presence_timings_and_slim_presence_the_modern_snapshot() {
    let app = TestApp::new();

    let response = register(
        &app,
        IAGO,
        "event_types=%5B%22presence%22%5D&fetch_event_types=%5B%22presence%22%2C%22realm%22%5D&slim_presence=true",
    )
    .await;

    let body = response.json();
    assert_eq!(body["presences"]["3"], modern(NOW - 80, NOW - 30));
    assert_eq!(body["server_presence_ping_interval_seconds"], 60);
    assert_eq!(body["server_presence_offline_threshold_seconds"], 200);
    assert_eq!(body["event_queue_longpoll_timeout_seconds"], 90);
}

#[tokio::test]
async fn a_user_coming_online_sends_a_presence_event_to_the_realms_queues() {
    let app = TestApp::new();
    let queue = queue_of(&app, IAGO, "event_types=%5B%22presence%22%5D").await;
    let slim = queue_of(&app, IAGO, "slim_presence=true").await;

    app.advance(200);
    app.post_presence(HAMLET, "status=active&ping_only=true")
        .await;
    let events = poll(&app, IAGO, &format!("queue_id={queue}&last_event_id=-1")).await;
    let slim_events = poll(&app, IAGO, &format!("queue_id={slim}&last_event_id=-1")).await;

    events.assert_json(
        StatusCode::OK,
        events_body(json!([hamlet_online_event(0)])),
        &json_never_cache(200),
    );
    let mut without_email = hamlet_online_event(0);
    without_email.as_object_mut().unwrap().remove("email");
    assert_eq!(slim_events.json(), events_body(json!([without_email])));
}

#[tokio::test]
async fn pings_and_idle_reports_send_no_event() {
    let app = TestApp::new();
    let queue = queue_of(&app, IAGO, "").await;

    // Hamlet was active 80 s ago: not long enough to come online again.
    app.post_presence(HAMLET, "status=active&ping_only=true")
        .await;
    app.advance(300);
    app.post_presence(HAMLET, "status=idle&ping_only=true")
        .await;
    assert_no_events(&app, IAGO, &queue).await;
}

// On tokio's paused clock: time moves only when every task waits, so each step below
// starts once the polls before it are waiting.
#[tokio::test(start_paused = true)]
async fn a_long_poll_returns_when_an_event_arrives_with_its_queue_id() {
    let app = TestApp::new();
    let queue = queue_of(&app, IAGO, "").await;
    app.advance(200);

    let query = format!("queue_id={queue}&last_event_id=-1");
    let (events, _) = tokio::join!(poll(&app, IAGO, &query), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        app.post_presence(HAMLET, "status=active&ping_only=true")
            .await
    });

    assert_eq!(
        events.json(),
        json!({"result": "success", "msg": "", "events": [hamlet_online_event(0)],
               "queue_id": queue})
    );
}

#[tokio::test]
async fn a_long_poll_with_nothing_to_say_gets_a_heartbeat() {
    let app = TestApp::new();
    app.state.set_event_settings(EventSettings {
        heartbeat_min: Duration::from_millis(30),
        heartbeat_max: Duration::from_millis(30),
        ..EventSettings::default()
    });
    let queue = queue_of(&app, IAGO, "event_types=%5B%22presence%22%5D").await;

    let first = poll(&app, IAGO, &format!("queue_id={queue}&last_event_id=-1")).await;
    let acknowledged = poll(
        &app,
        IAGO,
        &format!("queue_id={queue}&last_event_id=0&dont_block=true"),
    )
    .await;

    assert_eq!(
        first.json(),
        json!({"result": "success", "msg": "", "events": [{"type": "heartbeat", "id": 0}],
               "queue_id": queue})
    );
    assert_eq!(acknowledged.json(), events_body(json!([])));
}

// On tokio's paused clock: time moves only when every task waits, so each step below
// starts once the polls before it are waiting.
#[tokio::test(start_paused = true)]
async fn a_second_poll_ends_the_waiting_one() {
    let app = TestApp::new();
    let queue = queue_of(&app, IAGO, "").await;
    app.advance(200);
    let query = format!("queue_id={queue}&last_event_id=-1");

    let (first, second, _) = tokio::join!(
        poll(&app, IAGO, &query),
        async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            poll(&app, IAGO, &query).await
        },
        async {
            tokio::time::sleep(Duration::from_millis(80)).await;
            app.post_presence(HAMLET, "status=active&ping_only=true")
                .await
        }
    );

    assert_eq!(
        first.json(),
        json!({"result": "success", "msg": "", "events": [], "queue_id": queue})
    );
    assert_eq!(second.json()["events"], json!([hamlet_online_event(0)]));
}

#[tokio::test]
async fn acknowledging_what_was_pruned_or_never_sent_gets_zulips_errors() {
    let app = TestApp::new();
    let queue = queue_of(&app, IAGO, "").await;
    app.advance(200);
    app.post_presence(HAMLET, "status=active&ping_only=true")
        .await;
    poll(
        &app,
        IAGO,
        &format!("queue_id={queue}&last_event_id=0&dont_block=true"),
    )
    .await;

    let pruned = poll(&app, IAGO, &format!("queue_id={queue}&last_event_id=-1")).await;
    let never = poll(&app, IAGO, &format!("queue_id={queue}&last_event_id=5")).await;

    pruned.assert_json(
        StatusCode::BAD_REQUEST,
        bad_request("An event newer than -1 has already been pruned!"),
        JSON,
    );
    never.assert_json(
        StatusCode::BAD_REQUEST,
        bad_request("Event 5 was not in this queue"),
        JSON,
    );
}

fn bad_queue(queue_id: &str) -> Value {
    json!({"result": "error", "msg": format!("Bad event queue ID: {queue_id}"),
           "queue_id": queue_id, "code": "BAD_EVENT_QUEUE_ID"})
}

#[tokio::test]
async fn unknown_deleted_expired_and_other_users_queues_are_bad_event_queue_ids() {
    let app = TestApp::new();
    let deleted = queue_of(&app, IAGO, "").await;
    let hamlets = queue_of(&app, HAMLET, "").await;
    let expiring = queue_of(&app, IAGO, "").await;

    let removal = app
        .request(
            Method::DELETE,
            &format!("/api/v1/events?queue_id={deleted}"),
        )
        .basic_auth(IAGO)
        .send()
        .await;
    app.advance(601);
    let cases = [
        ("nonsense".to_owned(), "nonsense"),
        (deleted.clone(), deleted.as_str()),
        (hamlets.clone(), hamlets.as_str()),
        (expiring.clone(), expiring.as_str()),
    ];

    removal.assert_json(StatusCode::OK, success_with(json!({})), JSON_NEVER_CACHE);
    for (queue_id, shown) in cases {
        let response = poll(&app, IAGO, &format!("queue_id={queue_id}&last_event_id=-1")).await;
        response.assert_json(StatusCode::BAD_REQUEST, bad_queue(shown), JSON);
    }
}

#[tokio::test]
async fn a_missing_queue_id_or_last_event_id_is_fetch_events_plain_error() {
    let app = TestApp::new();
    let queue = queue_of(&app, IAGO, "").await;

    let no_queue = poll(&app, IAGO, "last_event_id=-1").await;
    let no_last = poll(&app, IAGO, &format!("queue_id={queue}")).await;
    let bad_id_first = poll(&app, IAGO, "last_event_id=x&dont_block=x").await;

    for (response, name) in [(no_queue, "queue_id"), (no_last, "last_event_id")] {
        response.assert_json(
            StatusCode::BAD_REQUEST,
            bad_request(&format!("Missing '{name}' argument")),
            JSON,
        );
    }
    bad_id_first.assert_json(
        StatusCode::BAD_REQUEST,
        bad_request("last_event_id is not valid JSON"),
        JSON,
    );
}

#[tokio::test]
async fn acknowledging_past_the_newest_event_prunes_what_there_was_then_refuses() {
    let app = TestApp::new();
    let queue = queue_of(&app, IAGO, "").await;
    app.admin(
        Method::POST,
        &format!("/__admin/queues/{queue}/events"),
        Some(json!({"type": "heartbeat"})),
    )
    .await;

    let past = poll(
        &app,
        IAGO,
        &format!("queue_id={queue}&last_event_id=5&dont_block=true"),
    )
    .await;
    let after = poll(
        &app,
        IAGO,
        &format!("queue_id={queue}&last_event_id=0&dont_block=true"),
    )
    .await;

    past.assert_json(
        StatusCode::BAD_REQUEST,
        bad_request("Event 5 was not in this queue"),
        JSON,
    );
    after.assert_json(
        StatusCode::OK,
        json!({"result": "success", "msg": "", "events": []}),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn simplified_presence_events_come_in_the_modern_form_from_419() {
    for (level, simplified) in [(418, false), (419, true)] {
        let app = TestApp::at_feature_level(level);
        let queue = queue_of(
            &app,
            IAGO,
            "client_capabilities=%7B%22simplified_presence_events%22%3Atrue%7D",
        )
        .await;
        app.advance(200);
        app.post_presence(HAMLET, "status=active&ping_only=true")
            .await;

        let event = poll(&app, IAGO, &format!("queue_id={queue}&last_event_id=-1"))
            .await
            .json()["events"][0]
            .clone();

        if simplified {
            assert_eq!(
                event,
                json!({"type": "presence",
                       "presences": {"3": {"active_timestamp": NOW + 200, "idle_timestamp": NOW + 200}},
                       "id": 0})
            );
        } else {
            assert_eq!(event, hamlet_online_event(0));
        }
    }
}

#[tokio::test]
async fn no_event_goes_out_when_more_than_100_users_would_receive_it() {
    for (users, events) in [(100, 1), (101, 0)] {
        let app = TestApp::new();
        app.admin(
            Method::POST,
            "/__admin/realms",
            Some(json!({"subdomain": "big", "generate": {"users": users, "presence": "none"}})),
        )
        .await;
        let user = |n: u32| Credentials {
            email: Box::leak(format!("user{n}@example.com").into_boxed_str()),
            api_key: Box::leak(format!("key{n:0>29}").into_boxed_str()),
        };
        let registered = app
            .request(Method::POST, "/__realm/big/api/v1/register")
            .basic_auth(user(1))
            .form("")
            .send()
            .await;
        let queue = registered.json()["queue_id"].as_str().unwrap().to_owned();
        app.request(Method::POST, "/__realm/big/api/v1/users/me/presence")
            .basic_auth(user(2))
            .form("status=active&ping_only=true")
            .send()
            .await;

        let polled = app
            .request(
                Method::GET,
                &format!(
                    "/__realm/big/api/v1/events?queue_id={queue}&last_event_id=-1&dont_block=true"
                ),
            )
            .basic_auth(user(1))
            .send()
            .await;

        assert_eq!(
            polled.json()["events"].as_array().unwrap().len(),
            events,
            "{users} users"
        );
    }
}

#[tokio::test]
async fn a_limited_guest_gets_no_event_about_a_user_they_cannot_access() {
    let app = TestApp::new();
    let queue = queue_of(&app, POLONIUS, "").await;
    app.advance(200);

    // Polonius shares nothing with Iago, but shares a channel with Hamlet.
    app.post_presence(IAGO, "status=active&ping_only=true")
        .await;
    app.post_presence(HAMLET, "status=active&ping_only=true")
        .await;
    let events = poll(
        &app,
        POLONIUS,
        &format!("queue_id={queue}&last_event_id=-1"),
    )
    .await;

    let users: Vec<Value> = events.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["user_id"].clone())
        .collect();
    assert_eq!(users, [json!(3)]);
}

#[tokio::test]
async fn a_presence_row_set_through_the_admin_api_sends_an_event() {
    let app = TestApp::new();
    let queue = queue_of(&app, IAGO, "").await;

    app.admin(
        Method::PUT,
        "/__admin/realms/_root/presence/3",
        Some(json!({"last_connected_time": "now", "last_active_time": "now"})),
    )
    .await;
    let events = poll(&app, IAGO, &format!("queue_id={queue}&last_event_id=-1")).await;

    let event = events.json()["events"][0].clone();
    assert_eq!(event["user_id"], 3);
    assert_eq!(event["presence"]["website"]["timestamp"], NOW);
}

#[tokio::test]
async fn the_admin_api_lists_drops_and_feeds_queues() {
    let app = TestApp::new();
    let queue = queue_of(&app, IAGO, "slim_presence=true").await;

    let listed = app.admin(Method::GET, "/__admin/queues", None).await;
    let injected = app
        .admin(
            Method::POST,
            &format!("/__admin/queues/{queue}/events"),
            Some(json!({"type": "custom", "note": "from a test"})),
        )
        .await;
    let heartbeat = app
        .admin(
            Method::POST,
            &format!("/__admin/queues/{queue}/events"),
            Some(json!({"type": "heartbeat"})),
        )
        .await;
    let used = app.admin(Method::GET, "/__admin/queues/usage", None).await;
    let events = poll(&app, IAGO, &format!("queue_id={queue}&last_event_id=-1")).await;
    let dropped = app
        .admin(Method::DELETE, &format!("/__admin/queues/{queue}"), None)
        .await;
    let after = poll(&app, IAGO, &format!("queue_id={queue}&last_event_id=1")).await;
    let freed = app.admin(Method::GET, "/__admin/queues/usage", None).await;

    listed.assert_admin(
        StatusCode::OK,
        json!([{
            "queue_id": queue, "realm": "", "user_id": 2, "event_types": ["presence"],
            "slim_presence": true, "simplified_presence_events": false,
            "pending_events": 0, "pending_bytes": 0, "next_event_id": 0, "waiting": false,
            "last_used": SERVER_TIMESTAMP,
        }]),
    );
    injected.assert_admin(StatusCode::CREATED, json!({"id": 0}));
    heartbeat.assert_admin(StatusCode::CREATED, json!({"id": 1}));
    // `{"type":"custom","note":"from a test"}` and `{"type":"heartbeat"}`, with their places.
    used.assert_admin(
        StatusCode::OK,
        json!({"queues": 1, "max_queues": 10_000,
               "bytes": 38 + 20 + 2 * EVENT_SLOT_BYTES, "capacity_bytes": 64 * 1024 * 1024}),
    );
    freed.assert_admin(
        StatusCode::OK,
        json!({"queues": 0, "max_queues": 10_000, "bytes": 0, "capacity_bytes": 64 * 1024 * 1024}),
    );
    assert_eq!(
        events.json(),
        events_body(json!([
            {"type": "custom", "note": "from a test", "id": 0},
            {"type": "heartbeat", "id": 1},
        ]))
    );
    assert_eq!(dropped.status, StatusCode::NO_CONTENT);
    after.assert_json(StatusCode::BAD_REQUEST, bad_queue(&queue), JSON);
}

#[tokio::test]
async fn event_timings_change_through_the_admin_api_and_reset_restores_them() {
    let app = TestApp::new();

    let patched = app
        .admin(
            Method::PATCH,
            "/__admin/events/settings",
            Some(json!({"heartbeat_min_seconds": 0.02, "heartbeat_max_seconds": 0.02})),
        )
        .await;
    let queue = queue_of(&app, IAGO, "").await;
    let beat = poll(&app, IAGO, &format!("queue_id={queue}&last_event_id=-1")).await;
    app.admin(Method::POST, "/__admin/reset", None).await;
    let restored = app
        .admin(Method::GET, "/__admin/events/settings", None)
        .await;
    let refused = app
        .admin(
            Method::PATCH,
            "/__admin/events/settings",
            Some(json!({"heartbeat_min_seconds": 9.0, "heartbeat_max_seconds": 1.0})),
        )
        .await;

    patched.assert_admin(
        StatusCode::OK,
        json!({"longpoll_timeout_seconds": 90.0, "heartbeat_min_seconds": 0.02,
               "heartbeat_max_seconds": 0.02, "idle_queue_timeout_seconds": 600,
               "max_queues": 10_000, "max_queues_per_user": 1_000, "max_events_per_queue": 1_000,
               "max_bytes_per_queue": 1_048_576, "max_total_bytes": 67_108_864}),
    );
    assert_eq!(
        beat.json()["events"],
        json!([{"type": "heartbeat", "id": 0}])
    );
    assert_eq!(restored.json()["heartbeat_min_seconds"], 45.0);
    refused.assert_admin(
        StatusCode::BAD_REQUEST,
        json!({"result": "error", "code": "BAD_REQUEST",
               "msg": "heartbeat_min_seconds must not exceed heartbeat_max_seconds"}),
    );
}

#[tokio::test]
async fn a_reset_deletes_every_queue() {
    let app = TestApp::new();
    let queue = queue_of(&app, IAGO, "").await;

    app.admin(Method::POST, "/__admin/reset", None).await;
    let after = poll(&app, IAGO, &format!("queue_id={queue}&last_event_id=-1")).await;

    after.assert_json(StatusCode::BAD_REQUEST, bad_queue(&queue), JSON);
}

// On tokio's paused clock: time moves only when every task waits, so each step below
// starts once the polls before it are waiting.
#[tokio::test(start_paused = true)]
async fn a_queue_dropped_while_a_poll_waits_answers_it_with_bad_event_queue_id() {
    let app = TestApp::new();
    let queue = queue_of(&app, IAGO, "").await;
    let query = format!("queue_id={queue}&last_event_id=-1");

    let (waiting, _) = tokio::join!(poll(&app, IAGO, &query), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        app.admin(Method::DELETE, &format!("/__admin/queues/{queue}"), None)
            .await
    });

    waiting.assert_json(StatusCode::BAD_REQUEST, bad_queue(&queue), JSON);
}

#[tokio::test]
async fn no_event_when_the_realm_has_presence_disabled_or_the_user_hides_it() {
    let hidden = {
        let mut fixture = default_fixture_json();
        fixture["realms"][0]["users"][2]["presence_enabled"] = json!(false);
        TestApp::from_fixture_json(&fixture)
    };
    let disabled = {
        let mut fixture = default_fixture_json();
        fixture["realms"][0]["presence_disabled"] = json!(true);
        TestApp::from_fixture_json(&fixture)
    };
    for app in [hidden, disabled] {
        let queue = queue_of(&app, IAGO, "").await;
        app.advance(200);
        app.post_presence(HAMLET, "status=active&ping_only=true")
            .await;

        assert_no_events(&app, IAGO, &queue).await;
    }
}

// On tokio's paused clock: time moves only when every task waits, so each step below
// starts once the polls before it are waiting.
#[tokio::test(start_paused = true)]
async fn past_the_queue_cap_the_least_recently_used_idle_queue_goes_and_waited_on_ones_stay() {
    let app = TestApp::new();
    app.admin(
        Method::PATCH,
        "/__admin/events/settings",
        Some(json!({"max_queues": 1, "heartbeat_min_seconds": 0.3, "heartbeat_max_seconds": 0.3})),
    )
    .await;
    let idle = queue_of(&app, IAGO, "").await;

    let newer = queue_of(&app, HAMLET, "").await;
    let idle_polled = poll(&app, IAGO, &format!("queue_id={idle}&last_event_id=-1")).await;
    let waiting = format!("queue_id={newer}&last_event_id=-1");
    let (waited_on, refused) = tokio::join!(poll(&app, HAMLET, &waiting), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        register(&app, IAGO, "").await
    });

    idle_polled.assert_json(StatusCode::BAD_REQUEST, bad_queue(&idle), JSON);
    assert_eq!(waited_on.status, StatusCode::OK);
    assert_eq!(
        waited_on.json(),
        json!({"result": "success", "msg": "", "events": [{"type": "heartbeat", "id": 0}],
               "queue_id": newer})
    );
    refused.assert_json(
        StatusCode::BAD_REQUEST,
        bad_request("Too many event queues on this server"),
        JSON,
    );
}

#[tokio::test]
async fn the_journal_says_which_fetch_types_register_did_not_serve() {
    let app = TestApp::new();

    let registered = register(
        &app,
        IAGO,
        "fetch_event_types=%5B%22presence%22%2C%22message%22%2C%22subscription%22%5D",
    )
    .await;
    let journal = app
        .admin(Method::GET, "/__admin/requests?path=/api/v1/register", None)
        .await;

    assert_eq!(registered.status, StatusCode::OK);
    assert_eq!(
        journal.json()["requests"][0]["note"],
        "fetch types neither modelled by this mock nor given in the realm's register_state, so not in the response: message, subscription"
    );
}

#[tokio::test]
async fn a_queue_may_ask_for_its_own_idle_timeout_from_481() {
    let before = register(
        &TestApp::at_feature_level(480),
        IAGO,
        "idle_queue_timeout=30",
    )
    .await;
    let app = TestApp::at_feature_level(481);
    let registered = register(&app, IAGO, "idle_queue_timeout=30").await;
    let queue = registered.json()["queue_id"].as_str().unwrap().to_owned();

    app.advance(31);
    let expired = poll(&app, IAGO, &format!("queue_id={queue}&last_event_id=-1")).await;

    assert_eq!(before.json().get("idle_queue_timeout_secs"), None);
    assert_eq!(
        before.json()["ignored_parameters_unsupported"],
        json!(["idle_queue_timeout"])
    );
    assert_eq!(registered.json()["idle_queue_timeout_secs"], 30);
    expired.assert_json(StatusCode::BAD_REQUEST, bad_queue(&queue), JSON);
}

#[tokio::test]
async fn a_queue_s_own_idle_timeout_stops_at_zulip_s_week() {
    let app = TestApp::at_feature_level(481);
    let week = 7 * 24 * 60 * 60;
    let longest = register(&app, IAGO, "idle_queue_timeout=9223372036854775807").await;
    let queue = longest.json()["queue_id"].as_str().unwrap().to_owned();
    let query = format!("queue_id={queue}&last_event_id=-1");

    app.advance(week);
    let within = poll(&app, IAGO, &format!("{query}&dont_block=true")).await;
    app.advance(week + 1);
    let past = poll(&app, IAGO, &query).await;

    assert_eq!(
        longest.json()["idle_queue_timeout_secs"],
        json!(9_223_372_036_854_775_807_i64)
    );
    assert_eq!(within.status, StatusCode::OK);
    assert_eq!(within.json(), events_body(json!([])));
    past.assert_json(StatusCode::BAD_REQUEST, bad_queue(&queue), JSON);
}

#[tokio::test]
async fn a_queue_whose_poll_was_abandoned_still_expires() {
    let app = TestApp::new();
    let queue = queue_of(&app, IAGO, "").await;
    let query = format!("queue_id={queue}&last_event_id=-1");

    // The client gives up on its poll (the request is dropped while it waits).
    let abandoned = tokio::time::timeout(Duration::from_millis(50), poll(&app, IAGO, &query)).await;
    app.advance(601);
    let later = poll(&app, IAGO, &query).await;

    assert!(
        abandoned.is_err(),
        "the poll should still have been waiting"
    );
    later.assert_json(StatusCode::BAD_REQUEST, bad_queue(&queue), JSON);
}

#[tokio::test]
async fn register_sends_the_presence_parameters_from_level_164() {
    let form = "event_types=%5B%22presence%22%5D&fetch_event_types=%5B%22realm%22%5D";

    let before = register(&TestApp::at_feature_level(163), IAGO, form)
        .await
        .json();
    let after = register(&TestApp::at_feature_level(164), IAGO, form)
        .await
        .json();

    assert_eq!(before.get("server_presence_ping_interval_seconds"), None);
    assert_eq!(
        before.get("server_presence_offline_threshold_seconds"),
        None
    );
    assert_eq!(before["event_queue_longpoll_timeout_seconds"], 90);
    assert_eq!(after["server_presence_ping_interval_seconds"], 60);
    assert_eq!(after["server_presence_offline_threshold_seconds"], 200);
}

#[tokio::test]
async fn event_ids_are_python_integers_and_a_presence_window_out_of_range_is_a_500() {
    let app = TestApp::new();
    let queue = queue_of(&app, IAGO, "event_types=%5B%22presence%22%5D").await;

    let huge = poll(
        &app,
        IAGO,
        &format!("queue_id={queue}&last_event_id=99999999999999999999&dont_block=true"),
    )
    .await;
    let null = poll(
        &app,
        IAGO,
        &format!("queue_id={queue}&last_event_id=null&dont_block=true"),
    )
    .await;
    let out_of_range = register(&app, IAGO, "presence_history_limit_days=1000000").await;

    huge.assert_json(
        StatusCode::BAD_REQUEST,
        bad_request("Event 99999999999999999999 was not in this queue"),
        JSON,
    );
    null.assert_json(
        StatusCode::BAD_REQUEST,
        bad_request("last_event_id is not an integer"),
        JSON,
    );
    out_of_range.assert_json(
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"result": "error", "msg": "Internal server error"}),
        JSON,
    );
}

#[tokio::test]
async fn register_checks_its_parameters_in_the_view_s_signature_order() {
    let app = TestApp::new();

    let markdown_first = register(&app, IAGO, "event_types=5&apply_markdown=null").await;
    let gravatar_before_slim = register(&app, IAGO, "slim_presence=x&client_gravatar=1").await;
    let null_types = register(&app, IAGO, "event_types=null").await;
    let nan_types = register(&app, IAGO, "event_types=NaN").await;
    let second_not_a_string = register(&app, IAGO, "event_types=%5B%22presence%22%2C1%5D").await;

    markdown_first.assert_json(
        StatusCode::BAD_REQUEST,
        bad_request("apply_markdown is not a boolean"),
        JSON,
    );
    gravatar_before_slim.assert_json(
        StatusCode::BAD_REQUEST,
        bad_request("client_gravatar is not a boolean"),
        JSON,
    );
    null_types.assert_json(
        StatusCode::BAD_REQUEST,
        bad_request("event_types is not a list"),
        JSON,
    );
    nan_types.assert_json(
        StatusCode::BAD_REQUEST,
        bad_request("event_types is not a list"),
        JSON,
    );
    second_not_a_string.assert_json(
        StatusCode::BAD_REQUEST,
        bad_request("event_types[1] is not a string"),
        JSON,
    );
}

#[tokio::test]
async fn an_idle_queue_goes_at_the_next_event_or_clock_change_not_at_the_next_register() {
    let app = TestApp::new();
    queue_of(&app, IAGO, "").await;
    queue_of(&app, HAMLET, "").await;

    // The clock moves past the idle timeout without the admin API: the queues stay until an
    // event would reach them.
    app.advance(601);
    let before_event = app.state.event_queue_count();
    app.post_presence(HAMLET, "status=active").await;
    let after_event = app.state.event_queue_count();

    queue_of(&app, IAGO, "").await;
    let before_clock = app.state.event_queue_count();
    let moved = app
        .admin(
            Method::POST,
            "/__admin/time/advance",
            Some(json!({"by": 601})),
        )
        .await;
    let after_clock = app.state.event_queue_count();

    assert_eq!((before_event, after_event), (2, 0));
    assert_eq!(moved.status, StatusCode::OK);
    assert_eq!((before_clock, after_clock), (1, 0));
}
