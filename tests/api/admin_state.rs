//! The admin API's state endpoints: reset, the whole state, server settings, realms per test,
//! users, channels, direct messages and presence rows.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

const DAY: i64 = 86_400;

/// A generated user of a realm made with `{"generate": ...}`.
fn generated(n: u32) -> Credentials {
    lab_like(
        format!("user{n}@example.com"),
        format!("key{:0>29}", n.to_string()),
    )
}

fn lab_like(email: String, key: String) -> Credentials {
    Credentials {
        email: Box::leak(email.into_boxed_str()),
        api_key: Box::leak(key.into_boxed_str()),
    }
}

async fn create_generated_realm(app: &TestApp, subdomain: &str, users: u32) -> TestResponse {
    app.admin(
        Method::POST,
        "/__admin/realms",
        Some(json!({"subdomain": subdomain, "generate": {"users": users, "presence": "active"}})),
    )
    .await
}

fn summary(subdomain: &str, name: &str, users: usize, rows: usize) -> Value {
    let segment = if subdomain.is_empty() {
        "_root"
    } else {
        subdomain
    };
    let host = if subdomain.is_empty() {
        "localhost:9991".to_owned()
    } else {
        format!("{subdomain}.localhost:9991")
    };
    json!({
        "subdomain": subdomain, "name": name, "host": host,
        "path_prefix": format!("/__realm/{segment}"), "users": users, "presence_rows": rows,
    })
}

fn default_realms() -> Value {
    json!([
        summary("", "Zulip Dev", 11, 11),
        summary("lear", "Lear & Co.", 2, 2)
    ])
}

#[tokio::test]
async fn reset_restores_the_loaded_fixture_after_writes_new_realms_and_clock_changes() {
    let app = TestApp::new();
    app.advance(120);
    app.post_presence(HAMLET, "status=active").await;
    create_generated_realm(&app, "t1", 2).await;
    app.admin(
        Method::PATCH,
        "/__admin/server",
        Some(json!({"feature_level": 200})),
    )
    .await;

    let reset = app.admin(Method::POST, "/__admin/reset", None).await;

    reset.assert_admin(StatusCode::OK, json!({ "realms": default_realms() }));
    app.get_realm_presence(IAGO).await.assert_everyone_listed();
    let server = app.admin(Method::GET, "/__admin/server", None).await;
    assert_eq!(server.json()["feature_level"], 509);
}

#[tokio::test]
async fn a_realm_reads_back_as_a_fixture_with_absolute_times_and_update_ids() {
    let app = TestApp::new();

    let lear = app.admin(Method::GET, "/__admin/realms/lear", None).await;

    let user = |id: u64, email: &str, name: &str, role: &str, key: &str| {
        json!({
            "user_id": id, "email": email, "full_name": name, "role": role, "is_bot": false,
            "is_active": true, "presence_enabled": true,
            "date_joined": SERVER_TIMESTAMP - (500 * DAY) as f64, "api_key": key,
        })
    };
    lear.assert_admin(
        StatusCode::OK,
        json!({
            "subdomain": "lear", "name": "Lear & Co.",
            "description": "<p>The coolest place in the universe.</p>",
            "presence_disabled": false, "deactivated": false,
            "can_access_all_users_group": "everyone",
            "users": [
                user(101, "king@lear.org", "King Lear", "owner", KING.api_key),
                user(102, "goneril@lear.org", "Goneril", "member", "TQ3zkpT0NbY8xLqWgA7mVv1cH5sJr2Ud"),
            ],
            "channels": [], "direct_message_groups": [], "direct_message_pairs": [],
            "presence": [
                {"user_id": 101, "last_connected_time": SERVER_TIMESTAMP - 15.0,
                 "last_active_time": SERVER_TIMESTAMP - 15.0, "last_update_id": 1},
                {"user_id": 102, "last_connected_time": SERVER_TIMESTAMP - (4 * DAY) as f64,
                 "last_active_time": SERVER_TIMESTAMP - (5 * DAY) as f64, "last_update_id": 2},
            ],
            "presence_last_update_id": 2,
        }),
    );
}

#[tokio::test]
async fn an_exported_state_imported_elsewhere_answers_identically() {
    let app = TestApp::new();
    app.advance(120);
    app.post_presence(HAMLET, "status=idle").await;
    app.admin(
        Method::POST,
        "/__admin/realms/_root/direct_message_pairs",
        Some(json!([8, 3])),
    )
    .await;
    let exported = app.admin(Method::GET, "/__admin/state", None).await.json();

    let other = TestApp::new();
    other.advance(120);
    let imported = other
        .admin(Method::PUT, "/__admin/state", Some(exported.clone()))
        .await;

    imported.assert_admin(StatusCode::OK, json!({ "realms": default_realms() }));
    assert_eq!(
        other
            .admin(Method::GET, "/__admin/state", None)
            .await
            .json(),
        exported
    );
    for user in [IAGO, POLONIUS] {
        assert_eq!(
            other.get_realm_presence(user).await.text(),
            app.get_realm_presence(user).await.text()
        );
        let form = "status=active&last_update_id=0&history_limit_days=30";
        assert_eq!(
            other.post_presence(user, form).await.text(),
            app.post_presence(user, form).await.text()
        );
    }
}

#[tokio::test]
async fn a_bad_posted_state_is_refused_with_its_json_path_and_the_old_state_kept() {
    let app = TestApp::new();
    let fixture = {
        let mut f = default_fixture_json();
        f["realms"][0]["users"][0]["api_key"] = json!("short");
        f
    };

    let refused = app
        .admin(Method::PUT, "/__admin/state", Some(fixture))
        .await;

    let problem = "malformed API key: it must be exactly 32 characters of A-Z, a-z and 0-9";
    refused.assert_admin(
        StatusCode::BAD_REQUEST,
        json!({
            "result": "error",
            "msg": format!("request body: at $.realms[0].users[0].api_key: {problem}"),
            "code": "INVALID_FIXTURE",
            "path": "$.realms[0].users[0].api_key",
            "problem": problem,
        }),
    );
    app.get_realm_presence(IAGO).await.assert_everyone_listed();
}

#[tokio::test]
async fn a_body_that_is_not_json_is_refused_with_where_it_broke() {
    let app = TestApp::new();

    let refused = app
        .request(Method::PUT, "/__admin/state")
        .body("{\"realms\": [")
        .send()
        .await;

    refused.assert_admin(
        StatusCode::BAD_REQUEST,
        json!({
            "result": "error",
            "msg": "request body: at $.realms: EOF while parsing a list at line 1 column 12",
            "code": "INVALID_FIXTURE",
            "path": "$.realms",
            "problem": "EOF while parsing a list at line 1 column 12",
        }),
    );
}

#[tokio::test]
async fn server_settings_change_at_run_time_and_server_settings_reports_them() {
    let app = TestApp::new();

    let patched = app
        .admin(
            Method::PATCH,
            "/__admin/server",
            Some(json!({"feature_level": 300, "zulip_version": "9.0"})),
        )
        .await;

    patched.assert_admin(
        StatusCode::OK,
        json!({
            "zulip_version": "9.0", "zulip_merge_base": "9.0", "feature_level": 300,
            "external_host": "localhost:9991", "CAN_ACCESS_ALL_USERS_GROUP_LIMITS_PRESENCE": true,
        }),
    );
    let settings = app.get_server_settings().await.json();
    assert_eq!(settings["zulip_feature_level"], 300);
    assert_eq!(settings["zulip_version"], "9.0");
}

#[tokio::test]
async fn a_bad_server_patch_is_refused_and_changes_nothing() {
    let app = TestApp::new();

    let refused = app
        .admin(
            Method::PATCH,
            "/__admin/server",
            Some(json!({"feature_level": 0})),
        )
        .await;

    refused.assert_admin(
        StatusCode::BAD_REQUEST,
        json!({
            "result": "error", "msg": "request body: at $.feature_level: must be 1 or more",
            "code": "INVALID_FIXTURE", "path": "$.feature_level", "problem": "must be 1 or more",
        }),
    );
    assert_eq!(
        app.get_server_settings().await.json()["zulip_feature_level"],
        509
    );
}

#[tokio::test]
async fn turning_the_access_limit_off_at_run_time_shows_a_guest_everyone() {
    let app = TestApp::new();

    app.admin(
        Method::PATCH,
        "/__admin/server",
        Some(json!({"CAN_ACCESS_ALL_USERS_GROUP_LIMITS_PRESENCE": false})),
    )
    .await;
    app.admin(
        Method::PATCH,
        "/__admin/realms/_root",
        Some(json!({"can_access_all_users_group": "members"})),
    )
    .await;

    app.get_realm_presence(POLONIUS)
        .await
        .assert_everyone_listed();
}

#[tokio::test]
async fn a_generated_realm_lives_on_its_own_host() {
    let app = TestApp::new();

    let created = create_generated_realm(&app, "t1", 3).await;

    created.assert_admin(
        StatusCode::CREATED,
        summary("t1", "Generated realm t1", 3, 3),
    );
    let presence = app
        .get_realm_presence_on("t1.localhost:9991", generated(2))
        .await;
    presence.assert_json(
        StatusCode::OK,
        realm_presence_body(json!({
            "user1@example.com": legacy("active", NOW),
            "user2@example.com": legacy("active", NOW),
            "user3@example.com": legacy("active", NOW),
        })),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn realms_created_for_parallel_tests_never_see_each_others_writes() {
    let app = TestApp::new();
    create_generated_realm(&app, "t1", 2).await;
    create_generated_realm(&app, "t2", 2).await;
    let (t1, t2) = ("t1.localhost:9991", "t2.localhost:9991");

    // The same credentials exist in both realms; each host reaches its own.
    app.advance(100);
    for (host, user, status) in [
        (t1, generated(1), "idle"),
        (t2, generated(2), "active"),
        (t1, generated(2), "active"),
    ] {
        let response = app
            .request(Method::POST, "/api/v1/users/me/presence")
            .host(host)
            .basic_auth(user)
            .form(&format!("status={status}&ping_only=true"))
            .send()
            .await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    }

    let at = |status: &str, seconds: i64| legacy(status, seconds);
    let body = |presences: Value| {
        json!({"result": "success", "msg": "", "presences": presences,
               "server_timestamp": SERVER_TIMESTAMP + 100.0})
    };
    app.get_realm_presence_on(t1, generated(1))
        .await
        .assert_json(
            StatusCode::OK,
            body(json!({
                "user1@example.com": at("idle", NOW + 100),
                "user2@example.com": at("active", NOW + 100),
            })),
            &json_never_cache(100),
        );
    app.get_realm_presence_on(t2, generated(1))
        .await
        .assert_json(
            StatusCode::OK,
            body(json!({
                "user1@example.com": at("active", NOW),
                "user2@example.com": at("active", NOW + 100),
            })),
            &json_never_cache(100),
        );
    let t1_rows = app
        .admin(Method::GET, "/__admin/realms/t1/presence", None)
        .await
        .json();
    let t2_rows = app
        .admin(Method::GET, "/__admin/realms/t2/presence", None)
        .await
        .json();
    let ids = |rows: &Value| -> Vec<(u64, u64)> {
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["user_id"].as_u64().unwrap(),
                    r["last_update_id"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    // t1 took two updates, t2 one.
    assert_eq!(ids(&t1_rows), [(1, 3), (2, 4)]);
    assert_eq!(ids(&t2_rows), [(1, 1), (2, 3)]);
    // The default realm is untouched.
    app.advance(-100);
    app.get_realm_presence(IAGO).await.assert_everyone_listed();
}

#[tokio::test]
async fn a_deleted_realm_is_gone_and_its_users_with_it() {
    let app = TestApp::new();
    create_generated_realm(&app, "t1", 1).await;

    let deleted = app.admin(Method::DELETE, "/__admin/realms/t1", None).await;

    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(deleted.bytes, b"");
    app.get_realm_presence_on("t1.localhost:9991", generated(1))
        .await
        .assert_json(
            StatusCode::UNAUTHORIZED,
            json!({"result": "error", "msg": "Invalid API key", "code": "UNAUTHORIZED"}),
            JSON_UNAUTHORIZED,
        );
    app.admin(Method::DELETE, "/__admin/realms/t1", None)
        .await
        .assert_admin(
            StatusCode::NOT_FOUND,
            json!({"result": "error", "msg": "no realm has the subdomain \"t1\"", "code": "NOT_FOUND"}),
        );
}

#[tokio::test]
async fn a_realm_cannot_be_created_twice() {
    let app = TestApp::new();

    let again = create_generated_realm(&app, "lear", 1).await;

    again.assert_admin(
        StatusCode::CONFLICT,
        json!({"result": "error", "msg": "a realm with subdomain \"lear\" already exists", "code": "CONFLICT"}),
    );
}

#[tokio::test]
async fn a_realm_posted_as_a_fixture_is_checked_like_a_file() {
    let app = TestApp::new();
    let realm = json!({
        "subdomain": "t1", "name": "T1",
        "users": [{"user_id": 1, "email": "a@example.com", "full_name": "A", "api_key": KING.api_key}],
        "presence": [{"user_id": 2, "last_connected_time": "now"}],
    });

    let refused = app
        .admin(Method::POST, "/__admin/realms", Some(realm))
        .await;

    refused.assert_admin(
        StatusCode::BAD_REQUEST,
        json!({
            "result": "error",
            "msg": "request body: at $.presence[0].user_id: user 2 is not a user of this realm",
            "code": "INVALID_FIXTURE", "path": "$.presence[0].user_id",
            "problem": "user 2 is not a user of this realm",
        }),
    );
    app.admin(Method::GET, "/__admin/realms", None)
        .await
        .assert_admin(StatusCode::OK, default_realms());
}

#[tokio::test]
async fn clients_that_cannot_set_host_name_the_realm_in_the_path() {
    let app = TestApp::new();

    let lear = app
        .request(Method::GET, "/__realm/lear/api/v1/realm/presence")
        .basic_auth(KING)
        .send()
        .await;
    let root = app
        .request(Method::GET, "/__realm/_root/api/v1/realm/presence")
        .host("lear.localhost:9991")
        .basic_auth(IAGO)
        .send()
        .await;

    assert_eq!(lear.status, StatusCode::OK, "{}", lear.text());
    assert_eq!(
        lear.json()["presences"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["goneril@lear.org", "king@lear.org"]
    );
    root.assert_everyone_listed();
}

#[tokio::test]
async fn a_user_added_at_run_time_can_authenticate_and_report_presence() {
    let app = TestApp::new();
    let user = json!({"user_id": 12, "email": "rosalind@zulip.com", "full_name": "Rosalind",
                      "api_key": "RosalindRosalindRosalindRosalind"});

    let created = app
        .admin(Method::POST, "/__admin/realms/_root/users", Some(user))
        .await;
    let rosalind = lab_like(
        "rosalind@zulip.com".to_owned(),
        "RosalindRosalindRosalindRosalind".to_owned(),
    );
    let reported = app
        .post_presence(rosalind, "status=active&ping_only=true")
        .await;

    created.assert_admin(
        StatusCode::CREATED,
        json!({"user_id": 12, "email": "rosalind@zulip.com", "full_name": "Rosalind",
               "role": "member", "is_bot": false, "is_active": true, "presence_enabled": true,
               "date_joined": SERVER_TIMESTAMP - (365 * DAY) as f64,
               "api_key": "RosalindRosalindRosalindRosalind"}),
    );
    reported.assert_json(StatusCode::OK, success_with(json!({})), JSON_NEVER_CACHE);
    let presences = app.get_realm_presence(IAGO).await.json()["presences"].clone();
    assert_eq!(presences["rosalind@zulip.com"], legacy("active", NOW));
}

#[tokio::test]
async fn a_user_added_twice_or_inconsistently_is_refused() {
    let app = TestApp::new();
    let twice = json!({"user_id": 3, "email": "x@zulip.com", "full_name": "X",
                       "api_key": "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"});
    let same_email = json!({"user_id": 40, "email": "HAMLET@zulip.com", "full_name": "X",
                            "api_key": "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"});

    let conflict = app
        .admin(Method::POST, "/__admin/realms/_root/users", Some(twice))
        .await;
    let invalid = app
        .admin(
            Method::POST,
            "/__admin/realms/_root/users",
            Some(same_email),
        )
        .await;

    conflict.assert_admin(
        StatusCode::CONFLICT,
        json!({"result": "error", "msg": "user 3 already exists in this realm", "code": "CONFLICT"}),
    );
    let problem = "duplicate email \"HAMLET@zulip.com\" in this realm";
    invalid.assert_admin(
        StatusCode::BAD_REQUEST,
        json!({"result": "error",
               "msg": format!("the realm after this change: at $.users[11].email: {problem}"),
               "code": "INVALID_FIXTURE", "path": "$.users[11].email", "problem": problem}),
    );
}

#[tokio::test]
async fn a_user_deactivated_at_run_time_gets_zulips_error() {
    let app = TestApp::new();

    let patched = app
        .admin(
            Method::PATCH,
            "/__admin/realms/_root/users/3",
            Some(json!({"is_active": false})),
        )
        .await;

    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(patched.json()["is_active"], false);
    app.get_realm_presence(HAMLET).await.assert_json(
        StatusCode::UNAUTHORIZED,
        json!({"result": "error", "msg": "Account is deactivated", "code": "UNAUTHORIZED"}),
        JSON_UNAUTHORIZED,
    );
    let presences = app.get_realm_presence(IAGO).await.json()["presences"].clone();
    assert_eq!(presences.get("hamlet@zulip.com"), None);
}

#[tokio::test]
async fn a_deleted_user_leaves_no_presence_row_behind() {
    let app = TestApp::new();

    let deleted = app
        .admin(Method::DELETE, "/__admin/realms/_root/users/3", None)
        .await;

    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let rows = app
        .admin(Method::GET, "/__admin/realms/_root/presence", None)
        .await
        .json();
    assert!(rows.as_array().unwrap().iter().all(|r| r["user_id"] != 3));
    app.admin(Method::GET, "/__admin/realms/_root/users/3", None)
        .await
        .assert_admin(
            StatusCode::NOT_FOUND,
            json!({"result": "error", "msg": "no user 3 in this realm", "code": "NOT_FOUND"}),
        );
}

fn lab_app() -> TestApp {
    let row =
        |id: u64| json!({"user_id": id, "last_connected_time": "-10s", "last_active_time": "-10s"});
    TestApp::from_fixture_json(&lab_fixture(json!([row(1), row(2), row(3), row(6)])))
}

async fn visible_to_gus(app: &TestApp) -> Vec<String> {
    let response = app.get_realm_presence(lab("gus")).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()["presences"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn subscriptions_changed_at_run_time_change_what_a_limited_guest_sees() {
    let app = lab_app();
    assert_eq!(
        visible_to_gus(&app).await,
        ["alice@example.com", "gus@example.com"]
    );

    let subscribed = app
        .admin(
            Method::PUT,
            "/__admin/realms/_root/channels/garden/subscribers/3",
            None,
        )
        .await;
    subscribed.assert_admin(
        StatusCode::OK,
        json!({"name": "garden", "subscribers": [2, 6, 3], "former_subscribers": []}),
    );
    assert_eq!(
        visible_to_gus(&app).await,
        ["alice@example.com", "bob@example.com", "gus@example.com"]
    );

    let unsubscribed = app
        .admin(
            Method::DELETE,
            "/__admin/realms/_root/channels/garden/subscribers/2",
            None,
        )
        .await;
    unsubscribed.assert_admin(
        StatusCode::OK,
        json!({"name": "garden", "subscribers": [6, 3], "former_subscribers": [2]}),
    );
    assert_eq!(
        visible_to_gus(&app).await,
        ["bob@example.com", "gus@example.com"]
    );
}

#[tokio::test]
async fn direct_messages_and_channels_added_at_run_time_give_a_guest_access() {
    let app = lab_app();

    let pair = app
        .admin(
            Method::POST,
            "/__admin/realms/_root/direct_message_pairs",
            Some(json!([6, 1])),
        )
        .await;
    pair.assert_admin(StatusCode::CREATED, json!([6, 1]));
    assert_eq!(
        visible_to_gus(&app).await,
        ["alice@example.com", "gus@example.com", "reader@example.com"]
    );

    let deleted = app
        .admin(
            Method::DELETE,
            "/__admin/realms/_root/direct_message_pairs/1,6",
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let channel = app
        .admin(
            Method::POST,
            "/__admin/realms/_root/channels",
            Some(json!({"name": "kitchen", "subscribers": [6, 3]})),
        )
        .await;
    channel.assert_admin(
        StatusCode::CREATED,
        json!({"name": "kitchen", "subscribers": [6, 3], "former_subscribers": []}),
    );
    let group = app
        .admin(
            Method::POST,
            "/__admin/realms/_root/direct_message_groups",
            Some(json!([6, 1, 7])),
        )
        .await;
    group.assert_admin(StatusCode::CREATED, json!([6, 1, 7]));
    assert_eq!(
        visible_to_gus(&app).await,
        [
            "alice@example.com",
            "bob@example.com",
            "gus@example.com",
            "reader@example.com"
        ]
    );
}

#[tokio::test]
async fn a_presence_row_set_through_the_admin_api_is_served_at_once() {
    let app = TestApp::new();
    // Warm the cached body first: the change must not be hidden by it.
    app.get_realm_presence(IAGO).await.assert_everyone_listed();

    let set = app
        .admin(
            Method::PUT,
            "/__admin/realms/_root/presence/3",
            Some(json!({"last_connected_time": "-30s", "last_active_time": "-1h"})),
        )
        .await;

    set.assert_admin(
        StatusCode::OK,
        json!({"user_id": 3, "last_connected_time": SERVER_TIMESTAMP - 30.0,
               "last_active_time": SERVER_TIMESTAMP - 3_600.0, "last_update_id": 12}),
    );
    let presences = app.get_realm_presence(IAGO).await.json()["presences"].clone();
    assert_eq!(presences["hamlet@zulip.com"], legacy("idle", NOW - 30));

    let removed = app
        .admin(Method::DELETE, "/__admin/realms/_root/presence/3", None)
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let presences = app.get_realm_presence(IAGO).await.json()["presences"].clone();
    assert_eq!(presences.get("hamlet@zulip.com"), None);
}

#[tokio::test]
async fn realm_flags_changed_at_run_time_take_effect_at_once() {
    let app = TestApp::new();
    app.get_realm_presence(IAGO).await.assert_everyone_listed();

    app.admin(
        Method::PATCH,
        "/__admin/realms/_root",
        Some(json!({"presence_disabled": true})),
    )
    .await;
    app.get_realm_presence(IAGO).await.assert_json(
        StatusCode::OK,
        realm_presence_body(json!({})),
        JSON_NEVER_CACHE,
    );

    app.admin(
        Method::PATCH,
        "/__admin/realms/lear",
        Some(json!({"deactivated": true})),
    )
    .await;
    app.get_realm_presence_on("lear.localhost:9991", KING)
        .await
        .assert_json(
            StatusCode::UNAUTHORIZED,
            json!({"result": "error", "msg": "This organization has been deactivated", "code": "UNAUTHORIZED"}),
            JSON_UNAUTHORIZED,
        );
}

#[tokio::test]
async fn a_realms_subdomain_cannot_be_patched() {
    let app = TestApp::new();

    let refused = app
        .admin(
            Method::PATCH,
            "/__admin/realms/lear",
            Some(json!({"subdomain": "other"})),
        )
        .await;

    refused.assert_admin(
        StatusCode::BAD_REQUEST,
        json!({"result": "error", "msg": "a realm's subdomain cannot change: create a new realm instead", "code": "BAD_REQUEST"}),
    );
}

async fn refused(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let response = app.admin(method, path, body).await;
    response.assert_headers(JSON);
    (response.status, response.json())
}

fn error(code: &str, msg: &str) -> Value {
    json!({"result": "error", "msg": msg, "code": code})
}

#[tokio::test]
async fn each_state_endpoint_refuses_what_it_cannot_do_with_a_reason() {
    let app = lab_app();
    let cases = [
        (
            Method::GET,
            "/__admin/realms/nowhere/users",
            None,
            (
                StatusCode::NOT_FOUND,
                error("NOT_FOUND", "no realm has the subdomain \"nowhere\""),
            ),
        ),
        (
            Method::GET,
            "/__admin/realms/_root/users/99",
            None,
            (
                StatusCode::NOT_FOUND,
                error("NOT_FOUND", "no user 99 in this realm"),
            ),
        ),
        (
            Method::PATCH,
            "/__admin/realms/_root/users/2",
            Some(json!({"user_id": 5})),
            (
                StatusCode::BAD_REQUEST,
                error("BAD_REQUEST", "a user's user_id cannot change"),
            ),
        ),
        (
            Method::PATCH,
            "/__admin/realms/_root/users/2",
            Some(json!(["not", "an", "object"])),
            (
                StatusCode::BAD_REQUEST,
                error(
                    "BAD_REQUEST",
                    "a patch must be a JSON object (RFC 7386 merge patch)",
                ),
            ),
        ),
        (
            Method::POST,
            "/__admin/realms/_root/users",
            None,
            (
                StatusCode::BAD_REQUEST,
                error("BAD_REQUEST", "a JSON request body is required"),
            ),
        ),
        (
            Method::DELETE,
            "/__admin/realms/_root/channels/nowhere",
            None,
            (
                StatusCode::NOT_FOUND,
                error("NOT_FOUND", "no channel named \"nowhere\""),
            ),
        ),
        (
            Method::POST,
            "/__admin/realms/_root/channels",
            Some(json!({"name": "GARDEN"})),
            (
                StatusCode::CONFLICT,
                error("CONFLICT", "a channel named \"GARDEN\" already exists"),
            ),
        ),
        (
            Method::DELETE,
            "/__admin/realms/_root/channels/garden/subscribers/1",
            None,
            (
                StatusCode::NOT_FOUND,
                error("NOT_FOUND", "user 1 is not subscribed to \"garden\""),
            ),
        ),
        (
            Method::DELETE,
            "/__admin/realms/_root/direct_message_pairs/1,x",
            None,
            (
                StatusCode::BAD_REQUEST,
                error(
                    "BAD_REQUEST",
                    "\"1,x\" is not a comma-separated list of user ids",
                ),
            ),
        ),
        (
            Method::DELETE,
            "/__admin/realms/_root/direct_message_pairs/1,2",
            None,
            (
                StatusCode::NOT_FOUND,
                error("NOT_FOUND", "no direct-message pair \"1,2\""),
            ),
        ),
        (
            Method::POST,
            "/__admin/realms/_root/direct_message_groups",
            Some(json!([3, 3])),
            (
                StatusCode::BAD_REQUEST,
                error(
                    "BAD_REQUEST",
                    "a direct-message group needs at least two different users",
                ),
            ),
        ),
        (
            Method::DELETE,
            "/__admin/realms/_root/direct_message_groups/1,2,3",
            None,
            (
                StatusCode::NOT_FOUND,
                error("NOT_FOUND", "no direct-message group \"1,2,3\""),
            ),
        ),
        (
            Method::PUT,
            "/__admin/realms/_root/presence/99",
            Some(json!({"last_connected_time": "now"})),
            (
                StatusCode::NOT_FOUND,
                error("NOT_FOUND", "no user 99 in this realm"),
            ),
        ),
        (
            Method::DELETE,
            "/__admin/realms/_root/presence/7",
            None,
            (
                StatusCode::NOT_FOUND,
                error("NOT_FOUND", "user 7 has no presence row in this realm"),
            ),
        ),
        (
            Method::PUT,
            "/__admin/realms/t9",
            Some(json!({"subdomain": "t8", "name": "T", "users": []})),
            (
                StatusCode::BAD_REQUEST,
                error(
                    "BAD_REQUEST",
                    "the body is for subdomain \"t8\", the path for \"t9\"",
                ),
            ),
        ),
        (
            Method::POST,
            "/__admin/realms",
            Some(json!({"subdomain": "t9", "generate": {"users": 0}})),
            (
                StatusCode::BAD_REQUEST,
                error("BAD_REQUEST", "generate.users must be 1 to 200000"),
            ),
        ),
    ];
    for (method, path, body, expected) in cases {
        assert_eq!(
            refused(&app, method.clone(), path, body).await,
            expected,
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn a_presence_row_with_a_bad_time_is_refused_at_its_json_path() {
    let app = TestApp::new();

    let (status, body) = refused(
        &app,
        Method::PUT,
        "/__admin/realms/_root/presence/3",
        Some(json!({"last_connected_time": "yesterday"})),
    )
    .await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "INVALID_FIXTURE");
    assert_eq!(body["path"], "$.last_connected_time");
}

#[tokio::test]
async fn a_sole_realm_answers_on_every_host_until_a_second_realm_is_created_and_after_it_goes() {
    let mut fixture = default_fixture_json();
    fixture["realms"].as_array_mut().unwrap().truncate(1);
    let app = TestApp::from_fixture_json(&fixture);
    let not_this_subdomain = json!({"result": "error",
        "msg": "Account is not associated with this subdomain", "code": "UNAUTHORIZED"});

    let alone = app.get_realm_presence_on("lear.localhost:9991", IAGO).await;
    assert_eq!(
        create_generated_realm(&app, "lear", 1).await.status,
        StatusCode::CREATED
    );
    let beside_lear = app.get_realm_presence_on("lear.localhost:9991", IAGO).await;
    let deleted = app
        .admin(Method::DELETE, "/__admin/realms/lear", None)
        .await;
    let alone_again = app.get_realm_presence_on("lear.localhost:9991", IAGO).await;

    alone.assert_everyone_listed();
    beside_lear.assert_json(
        StatusCode::UNAUTHORIZED,
        not_this_subdomain,
        JSON_UNAUTHORIZED,
    );
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    alone_again.assert_everyone_listed();
}
