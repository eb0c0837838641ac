//! The user directory: `GET /users`, `/users/me`, `/users/{id}`, `/users/{email}`, the
//! `realm_user` state of `/register`, and `realm_user` events.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

const APRIL_2023: &str = "2023-04-28T22:13+00:00";
const AUGUST_2023: &str = "2023-08-06T22:13+00:00";
const JANUARY_2023: &str = "2023-01-18T22:13+00:00";
const OCTOBER_2022: &str = "2022-10-10T22:13+00:00";

/// The md5 of each default-realm user's lowercased delivery email, by user id from 1.
const MD5S: [&str; 11] = [
    "1eaadc3ca3c2a058cb9e3570e42e59d2",
    "af4f06322c177ef4e1e9b2c424986b54",
    "6d8cad0fd00256e7b40691d27ddfd466",
    "23f350365c96af9aaf864778f4728375",
    "77c3871a68c8d70356156029fd0a4999",
    "3a2a277c8364e80096c822881a815198",
    "818c212b9f8830dfef491b3f7da99a14",
    "32f1c18f22a1f1b1740e9ced2c1f0c94",
    "2fcea1d5e780eb860995faca966bc1bf",
    "6a4e22d220487fb7ceb295fa706f39d5",
    "0f030c97ab51312c7bbffd3966198ced",
];

/// A Gravatar URL as Zulip writes it, for the md5 of a lowercased delivery email.
fn gravatar(md5: &str) -> Value {
    Value::from(format!(
        "https://secure.gravatar.com/avatar/{md5}?d=identicon&version=1"
    ))
}

/// A human of the default realm as Zulip's `format_user_row` writes them at level 509.
fn human(
    id: u64,
    email: &str,
    name: &str,
    role: u16,
    date_joined: &str,
    delivery_email: Value,
    avatar_url: Value,
) -> Value {
    json!({
        "email": email, "user_id": id, "avatar_version": 1,
        "is_admin": role <= 200, "is_owner": role == 100, "is_guest": role == 600, "role": role,
        "is_bot": false, "full_name": name, "timezone": "", "is_active": id != 9,
        "date_joined": date_joined, "delivery_email": delivery_email, "is_imported_stub": false,
        "avatar_url": avatar_url,
    })
}

fn welcome_bot() -> Value {
    json!({
        "email": "welcome-bot@zulip.com", "user_id": 10, "avatar_version": 1,
        "is_admin": false, "is_owner": false, "is_guest": false, "role": 400,
        "is_bot": true, "full_name": "Welcome Bot", "timezone": "", "is_active": true,
        "date_joined": OCTOBER_2022, "delivery_email": "welcome-bot@zulip.com",
        "is_imported_stub": false, "avatar_url": null, "bot_type": 1, "bot_owner_id": null,
    })
}

/// Every user of the default realm as Iago (an administrator, who sees every email) gets them
/// with `client_gravatar` on: Gravatar URLs only for Zoe, whose email is hidden.
fn every_user_as_iago() -> Value {
    json!([
        human(
            1,
            "desdemona@zulip.com",
            "Desdemona",
            100,
            OCTOBER_2022,
            json!("desdemona@zulip.com"),
            Value::Null
        ),
        human(
            2,
            "iago@zulip.com",
            "Iago",
            200,
            OCTOBER_2022,
            json!("iago@zulip.com"),
            Value::Null
        ),
        human(
            3,
            "hamlet@zulip.com",
            "King Hamlet",
            400,
            JANUARY_2023,
            json!("hamlet@zulip.com"),
            Value::Null
        ),
        human(
            4,
            "othello@zulip.com",
            "Othello, the Moor of Venice",
            400,
            JANUARY_2023,
            json!("othello@zulip.com"),
            Value::Null
        ),
        human(
            5,
            "cordelia@zulip.com",
            "Cordelia, Lear's daughter",
            400,
            JANUARY_2023,
            json!("cordelia@zulip.com"),
            Value::Null
        ),
        human(
            6,
            "prospero@zulip.com",
            "Prospero from The Tempest",
            300,
            JANUARY_2023,
            json!("prospero@zulip.com"),
            Value::Null
        ),
        human(
            7,
            "aaron@zulip.com",
            "aaron",
            400,
            APRIL_2023,
            json!("aaron@zulip.com"),
            Value::Null
        ),
        human(
            8,
            "polonius@zulip.com",
            "Polonius",
            600,
            AUGUST_2023,
            json!("polonius@zulip.com"),
            Value::Null
        ),
        human(
            9,
            "ophelia@zulip.com",
            "Ophelia",
            400,
            APRIL_2023,
            json!("ophelia@zulip.com"),
            Value::Null
        ),
        welcome_bot(),
        human(
            11,
            "user11@zulip.localhost",
            "Zoe",
            400,
            AUGUST_2023,
            json!("ZOE@zulip.com"),
            gravatar("0f030c97ab51312c7bbffd3966198ced")
        ),
    ])
}

async fn get(app: &TestApp, user: Credentials, path: &str) -> TestResponse {
    app.request(Method::GET, path).basic_auth(user).send().await
}

#[tokio::test]
async fn get_users_lists_every_user_of_the_realm_by_id_deactivated_users_and_bots_included() {
    let app = TestApp::new();

    let response = get(&app, IAGO, "/api/v1/users").await;

    response.assert_json(
        StatusCode::OK,
        success_with(json!({ "members": every_user_as_iago() })),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn a_member_gets_null_for_an_email_only_admins_may_see_and_urls_without_client_gravatar() {
    let app = TestApp::new();

    let response = get(
        &app,
        HAMLET,
        "/api/v1/users/11?client_gravatar=false&include_custom_profile_fields=true",
    )
    .await;

    let mut zoe = human(
        11,
        "user11@zulip.localhost",
        "Zoe",
        400,
        AUGUST_2023,
        Value::Null,
        gravatar("0f030c97ab51312c7bbffd3966198ced"),
    );
    zoe["profile_data"] = json!({});
    response.assert_json(
        StatusCode::OK,
        success_with(json!({ "user": zoe })),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn a_limited_guest_lists_only_the_users_they_can_access() {
    let app = TestApp::new();

    let response = get(&app, POLONIUS, "/api/v1/users").await;

    // Himself, every bot, Hamlet (channel Denmark; Ophelia there is deactivated), Cordelia and
    // aaron (their group DM), Othello (their 1:1 DM); a guest sees the emails open to everyone.
    let everyone = every_user_as_iago();
    let accessible: Vec<Value> = [2usize, 3, 4, 6, 7, 9]
        .iter()
        .map(|&i| everyone[i].clone())
        .collect();
    response.assert_json(
        StatusCode::OK,
        success_with(json!({ "members": accessible })),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn before_level_437_a_limited_guest_gets_unknown_users_for_the_others() {
    let app = TestApp::at_feature_level(436);

    let response = get(&app, POLONIUS, "/api/v1/users?user_ids=%5B1%5D").await;

    response.assert_json(
        StatusCode::OK,
        success_with(json!({ "members": [{
            "email": "user1@zulip.localhost", "user_id": 1, "avatar_version": 1,
            "is_admin": false, "is_owner": false, "is_guest": false, "role": 400,
            "is_bot": false, "full_name": "Unknown user", "timezone": "", "is_active": true,
            "date_joined": "1970-01-01T00:00:00+00:00", "delivery_email": null,
            "avatar_url": "/static/images/unknown-user-avatar.png", "profile_data": {},
            "is_imported_stub": false,
        }]})),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn user_ids_picks_users_and_drops_unknown_ids_silently() {
    let app = TestApp::new();

    let response = get(
        &app,
        IAGO,
        "/api/v1/users?user_ids=%5B3%2C999%2C101%5D&foo=1",
    )
    .await;

    response.assert_json(
        StatusCode::OK,
        success_with(json!({
            "members": [every_user_as_iago()[2]],
            "ignored_parameters_unsupported": ["foo"],
        })),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn user_ids_takes_any_integer_and_names_the_first_item_that_is_not_one() {
    let app = TestApp::new();

    let negative = get(&app, IAGO, "/api/v1/users?user_ids=%5B-1%2C3%5D").await;
    let invalid = get(&app, IAGO, "/api/v1/users?user_ids=%5B").await;
    let null = get(&app, IAGO, "/api/v1/users?user_ids=null").await;
    let nan = get(&app, IAGO, "/api/v1/users?user_ids=NaN").await;
    let a_string = get(&app, IAGO, "/api/v1/users?user_ids=%5B3%2C%223%22%5D").await;
    let a_boolean = get(&app, IAGO, "/api/v1/users?user_ids=%5B3%2C4%2Ctrue%5D").await;

    negative.assert_json(
        StatusCode::OK,
        success_with(json!({ "members": [every_user_as_iago()[2]] })),
        JSON_NEVER_CACHE,
    );
    for (response, msg) in [
        (invalid, "user_ids is not valid JSON"),
        (null, "user_ids is not a list"),
        (nan, "user_ids is not a list"),
        (a_string, "user_ids[1] is not an integer"),
        (a_boolean, "user_ids[2] is not an integer"),
    ] {
        response.assert_json(StatusCode::BAD_REQUEST, bad_request(msg), JSON);
    }
}

#[tokio::test]
async fn one_user_by_id_unknown_another_realm_s_or_inaccessible_is_refused() {
    let app = TestApp::new();

    let deactivated = get(&app, IAGO, "/api/v1/users/9").await;
    let unknown = get(&app, IAGO, "/api/v1/users/999").await;
    let other_realm = get(&app, IAGO, "/api/v1/users/101").await;
    let inaccessible = get(&app, POLONIUS, "/api/v1/users/1").await;
    let bad_flag = get(&app, IAGO, "/api/v1/users/3?client_gravatar=yes").await;

    deactivated.assert_json(
        StatusCode::OK,
        success_with(json!({ "user": every_user_as_iago()[8] })),
        JSON_NEVER_CACHE,
    );
    for response in [unknown, other_realm] {
        response.assert_json(StatusCode::BAD_REQUEST, bad_request("No such user"), JSON);
    }
    inaccessible.assert_json(
        StatusCode::BAD_REQUEST,
        bad_request("Insufficient permission"),
        JSON,
    );
    bad_flag.assert_json(
        StatusCode::BAD_REQUEST,
        bad_request("client_gravatar is not valid JSON"),
        JSON,
    );
}

#[tokio::test]
async fn one_user_by_email_uses_the_real_email_the_requester_may_see_or_a_dummy_one() {
    let app = TestApp::new();

    let by_iago = get(&app, IAGO, "/api/v1/users/zoe@ZULIP.com").await;
    let by_hamlet = get(&app, HAMLET, "/api/v1/users/ZOE@zulip.com").await;
    let dummy = get(&app, HAMLET, "/api/v1/users/user11@zulip.localhost").await;

    assert_eq!(by_iago.json()["user"], every_user_as_iago()[10]);
    by_hamlet.assert_json(StatusCode::BAD_REQUEST, bad_request("No such user"), JSON);
    assert_eq!(dummy.status, StatusCode::OK);
    assert_eq!(dummy.json()["user"]["user_id"], 11);
    assert_eq!(dummy.json()["user"]["delivery_email"], Value::Null);
}

#[tokio::test]
async fn users_me_is_the_requester_with_their_avatar_profile_data_and_max_message_id() {
    let mut fixture = default_fixture_json();
    fixture["realms"][0]["users"][2]["timezone"] = json!("Europe/Copenhagen");
    fixture["realms"][0]["users"][2]["profile_data"] = json!({"1": {"value": "Prince"}});
    fixture["realms"][0]["register_state"] = json!({"message": {"max_message_id": 42}});
    let app = TestApp::from_fixture_json(&fixture);

    let response = get(&app, HAMLET, "/api/v1/users/me").await;

    let mut hamlet = human(
        3,
        "hamlet@zulip.com",
        "King Hamlet",
        400,
        JANUARY_2023,
        json!("hamlet@zulip.com"),
        gravatar("6d8cad0fd00256e7b40691d27ddfd466"),
    );
    hamlet["timezone"] = json!("Europe/Copenhagen");
    hamlet["profile_data"] = json!({"1": {"value": "Prince"}});
    let mut body = success_with(hamlet);
    body["max_message_id"] = json!(42);
    response.assert_json(StatusCode::OK, body, JSON_NEVER_CACHE);
}

#[tokio::test]
async fn users_me_says_no_messages_when_the_realm_gives_none() {
    let app = TestApp::new();

    let response = get(&app, WELCOME_BOT, "/api/v1/users/me").await;

    let mut body = success_with(welcome_bot());
    body["avatar_url"] = gravatar("6a4e22d220487fb7ceb295fa706f39d5");
    body["max_message_id"] = json!(-1);
    response.assert_json(StatusCode::OK, body, JSON_NEVER_CACHE);
}

#[tokio::test]
async fn older_levels_write_the_user_object_of_their_time() {
    let app = TestApp::at_feature_level(100);

    let response = get(&app, IAGO, "/api/v1/users/3").await;

    // No is_imported_stub (433); is_billing_admin (73 to 362); delivery_email only where
    // visible (always there from 163).
    response.assert_json(
        StatusCode::OK,
        success_with(json!({ "user": {
            "email": "hamlet@zulip.com", "user_id": 3, "avatar_version": 1,
            "is_admin": false, "is_owner": false, "is_guest": false, "is_billing_admin": false,
            "role": 400, "is_bot": false, "full_name": "King Hamlet", "timezone": "",
            "is_active": true, "date_joined": JANUARY_2023,
            "delivery_email": "hamlet@zulip.com", "avatar_url": null,
        }})),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn the_directory_requires_zulip_authentication() {
    let app = TestApp::new();

    let response = app.request(Method::GET, "/api/v1/users").send().await;

    response.assert_json(
        StatusCode::UNAUTHORIZED,
        json!({"result": "error",
               "msg": "Not logged in: API authentication or user session required",
               "code": "UNAUTHORIZED"}),
        JSON_UNAUTHORIZED,
    );
}

#[tokio::test]
async fn register_gives_the_realm_user_state_in_zulip_s_order() {
    let app = TestApp::new();

    let response = register(&app, HAMLET, "fetch_event_types=%5B%22realm_user%22%5D").await;

    let everyone = every_user_as_iago();
    // Without client_gravatar (false by default here), every avatar is a URL; Hamlet may not
    // see Zoe's email; `is_active` is taken out, the lists say it.
    let without_is_active = |user: &Value, delivery_email: Value| {
        let mut user = user.clone();
        user.as_object_mut().unwrap().shift_remove("is_active");
        let id = user["user_id"].as_u64().unwrap() as usize;
        user["avatar_url"] = gravatar(MD5S[id - 1]);
        if id == 11 {
            user["delivery_email"] = delivery_email;
        }
        if user["is_bot"] == false {
            // As the default fixture gives them (Iago's and Hamlet's are Zulip's development ones).
            let fixture = default_fixture_json();
            let given = &fixture["realms"][0]["users"][id - 1]["profile_data"];
            user["profile_data"] = if given.is_null() {
                json!({})
            } else {
                given.clone()
            };
        }
        user
    };
    let active: Vec<Value> = everyone
        .as_array()
        .unwrap()
        .iter()
        .filter(|user| user["user_id"] != 9)
        .map(|user| without_is_active(user, Value::Null))
        .collect();
    let inactive = vec![without_is_active(&everyone[8], Value::Null)];
    response.assert_json(
        StatusCode::OK,
        register_body(json!({
            "cross_realm_bots": [],
            "avatar_source": "G",
            "avatar_url_medium": "https://secure.gravatar.com/avatar/6d8cad0fd00256e7b40691d27ddfd466?d=identicon&s=500&version=1",
            "avatar_url": gravatar("6d8cad0fd00256e7b40691d27ddfd466"),
            "can_create_private_streams": true,
            "can_create_public_streams": true,
            "can_create_web_public_streams": false,
            "can_create_streams": true,
            "can_invite_others_to_realm": true,
            "is_admin": false, "is_owner": false, "is_moderator": false, "is_guest": false,
            "user_id": 3, "email": "hamlet@zulip.com", "delivery_email": "hamlet@zulip.com",
            "full_name": "King Hamlet",
            "realm_users": active,
            "realm_non_active_users": inactive,
        })),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn register_state_given_for_other_fetch_types_sits_where_zulip_puts_it() {
    let mut fixture = default_fixture_json();
    fixture["realms"][0]["register_state"] = json!({
        "subscription": {"subscriptions": [], "unsubscribed": [], "never_subscribed": []},
        "message": {"max_message_id": 7},
        "realm_emoji": {"realm_emoji": {}},
    });
    let app = TestApp::from_fixture_json(&fixture);

    let response = register(
        &app,
        IAGO,
        "fetch_event_types=%5B%22subscription%22%2C%22presence%22%2C%22message%22%5D&event_types=%5B%5D",
    )
    .await;
    let journal = app
        .admin(Method::GET, "/__admin/requests?path=/api/v1/register", None)
        .await;

    let body = response.json();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "result",
            "msg",
            "queue_id",
            "zulip_version",
            "zulip_feature_level",
            "zulip_merge_base",
            "max_message_id",
            "presences",
            "presence_last_update_id",
            "server_timestamp",
            "subscriptions",
            "unsubscribed",
            "never_subscribed",
            "last_event_id",
            "idle_queue_timeout_secs",
        ]
    );
    assert_eq!(body["max_message_id"], 7);
    assert_eq!(journal.json()["requests"][0]["note"], Value::Null);
}

#[tokio::test]
async fn a_limited_guest_s_realm_users_have_unknown_users_unless_the_client_accepts_an_incomplete_list(
) {
    let app = TestApp::new();

    let complete = register(&app, POLONIUS, "fetch_event_types=%5B%22realm_user%22%5D").await;
    let incomplete = register(
        &app,
        POLONIUS,
        "fetch_event_types=%5B%22realm_user%22%5D&client_capabilities=%7B%22user_list_incomplete%22%3Atrue%7D",
    )
    .await;

    let ids = |response: &TestResponse| -> Vec<(u64, String)> {
        response.json()["realm_users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                (
                    u["user_id"].as_u64().unwrap(),
                    u["full_name"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let unknown = |id: u64| (id, "Unknown user".to_owned());
    assert_eq!(
        ids(&complete),
        [
            unknown(1),
            unknown(2),
            (3, "King Hamlet".to_owned()),
            (4, "Othello, the Moor of Venice".to_owned()),
            (5, "Cordelia, Lear's daughter".to_owned()),
            unknown(6),
            (7, "aaron".to_owned()),
            (8, "Polonius".to_owned()),
            unknown(9),
            (10, "Welcome Bot".to_owned()),
            unknown(11),
        ]
    );
    assert_eq!(
        ids(&incomplete)
            .iter()
            .map(|(id, _)| *id)
            .collect::<Vec<_>>(),
        [3, 4, 5, 7, 8, 10]
    );
}

async fn poll(app: &TestApp, user: Credentials, queue: &str) -> Value {
    let response = app
        .request(
            Method::GET,
            &format!("/api/v1/events?queue_id={queue}&last_event_id=-1&dont_block=true"),
        )
        .basic_auth(user)
        .send()
        .await;
    response.json()["events"].clone()
}

#[tokio::test]
async fn admin_changes_to_users_send_realm_user_events() {
    let app = TestApp::new();
    let queue = register(&app, IAGO, "event_types=%5B%22realm_user%22%5D")
        .await
        .json()["queue_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let presence_only = register(&app, IAGO, "event_types=%5B%22presence%22%5D")
        .await
        .json()["queue_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let added = app
        .admin(
            Method::POST,
            "/__admin/realms/_root/users",
            Some(
                json!({"user_id": 12, "email": "rosalind@zulip.com", "full_name": "Rosalind",
                        "date_joined": NOW, "api_key": "rosalindKey00000000000000000000x"}),
            ),
        )
        .await;
    let changed = app
        .admin(
            Method::PATCH,
            "/__admin/realms/_root/users/3",
            Some(json!({"full_name": "Hamlet, Prince of Denmark", "role": "moderator", "is_active": false})),
        )
        .await;

    assert_eq!(added.status, StatusCode::CREATED);
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(
        poll(&app, IAGO, &queue).await,
        json!([
            {"type": "realm_user", "op": "add", "person": {
                "email": "rosalind@zulip.com", "user_id": 12, "avatar_version": 1,
                "is_admin": false, "is_owner": false, "is_guest": false, "role": 400,
                "is_bot": false, "full_name": "Rosalind", "timezone": "", "is_active": true,
                "date_joined": "2023-11-14T22:13+00:00", "delivery_email": "rosalind@zulip.com",
                "is_imported_stub": false,
                "avatar_url": "https://secure.gravatar.com/avatar/242ccd493c5ac4f2b0a35c4343c759f2?d=identicon&version=1",
                "profile_data": {},
            }, "id": 0},
            {"type": "realm_user", "op": "update",
             "person": {"user_id": 3, "full_name": "Hamlet, Prince of Denmark"}, "id": 1},
            {"type": "realm_user", "op": "update", "person": {"user_id": 3, "role": 300}, "id": 2},
            {"type": "realm_user", "op": "update", "person": {"user_id": 3, "is_active": false}, "id": 3},
        ])
    );
    assert_eq!(poll(&app, IAGO, &presence_only).await, json!([]));
}

#[tokio::test]
async fn before_level_222_deactivation_is_a_remove_event() {
    let app = TestApp::at_feature_level(221);
    let queue = register(&app, IAGO, "event_types=%5B%22realm_user%22%5D")
        .await
        .json()["queue_id"]
        .as_str()
        .unwrap()
        .to_owned();

    app.admin(
        Method::PATCH,
        "/__admin/realms/_root/users/3",
        Some(json!({"is_active": false})),
    )
    .await;

    assert_eq!(
        poll(&app, IAGO, &queue).await,
        json!([{"type": "realm_user", "op": "remove",
                "person": {"email": "hamlet@zulip.com", "user_id": 3, "full_name": "King Hamlet"},
                "id": 0}])
    );
}

#[tokio::test]
async fn is_moderator_in_register_includes_admins_from_level_380() {
    let form = "fetch_event_types=%5B%22realm_user%22%5D";

    let before = register(&TestApp::at_feature_level(379), IAGO, form)
        .await
        .json();
    let after = register(&TestApp::at_feature_level(380), IAGO, form)
        .await
        .json();

    assert_eq!(
        (before["is_admin"].clone(), before["is_moderator"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(
        (after["is_admin"].clone(), after["is_moderator"].clone()),
        (json!(true), json!(true))
    );
}
