//! Every versioned behaviour at the level just below its threshold and at the threshold, with
//! whole bodies (docs/feature-levels.md).

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

async fn server_settings_at(level: u32) -> Value {
    let response = TestApp::at_feature_level(level).get_server_settings().await;
    assert_eq!(response.status, StatusCode::OK);
    response.json()
}

fn authentication_methods(discord: bool) -> Value {
    let mut methods = json!({
        "password": true, "dev": false, "email": true, "ldap": false, "remoteuser": false,
        "github": false, "azuread": false, "gitlab": false, "google": false, "apple": false,
        "saml": false, "openid connect": false,
    });
    if discord {
        methods["discord"] = json!(false);
    }
    methods
}

#[tokio::test]
async fn server_settings_at_the_7_0_release_level_is_zulip_7_0_without_later_fields() {
    let settings = TestApp::at_feature_level(185).get_server_settings().await;

    settings.assert_json(
        StatusCode::OK,
        json!({
            "result": "success", "msg": "",
            "authentication_methods": authentication_methods(false),
            "zulip_version": "7.0", "zulip_merge_base": "7.0", "zulip_feature_level": 185,
            "push_notifications_enabled": false, "is_incompatible": false,
            "email_auth_enabled": true, "require_email_format_usernames": true,
            "realm_uri": "http://localhost:9991", "realm_name": "Zulip Dev",
            "realm_icon": "/static/images/default-avatar.png?version=0",
            "realm_description": "<p>The Zulip development environment default organization.  It's great for testing!</p>",
            "realm_web_public_access_enabled": false,
            "external_authentication_methods": [],
        }),
        JSON,
    );
}

#[tokio::test]
async fn zulip_merge_base_appears_at_88() {
    assert_eq!(server_settings_at(87).await.get("zulip_merge_base"), None);
    assert_eq!(
        server_settings_at(88).await["zulip_merge_base"],
        "5.0-dev+git"
    );
}

#[tokio::test]
async fn realm_web_public_access_enabled_appears_at_116() {
    assert_eq!(
        server_settings_at(115)
            .await
            .get("realm_web_public_access_enabled"),
        None
    );
    assert_eq!(
        server_settings_at(116).await["realm_web_public_access_enabled"],
        false
    );
}

#[tokio::test]
async fn realm_url_takes_realm_uris_place_at_257_and_realm_uri_moves_last() {
    let before = server_settings_at(256).await;
    let after = server_settings_at(257).await;

    let keys = |settings: &Value| -> Vec<String> {
        settings.as_object().unwrap().keys().cloned().collect()
    };
    assert_eq!(before.get("realm_url"), None);
    assert_eq!(
        keys(&before)[10..],
        [
            "realm_uri",
            "realm_name",
            "realm_icon",
            "realm_description",
            "realm_web_public_access_enabled",
            "external_authentication_methods"
        ]
    );
    assert_eq!(
        keys(&after)[10..],
        [
            "realm_url",
            "realm_name",
            "realm_icon",
            "realm_description",
            "realm_web_public_access_enabled",
            "external_authentication_methods",
            "realm_uri"
        ]
    );
    assert_eq!(after["realm_url"], after["realm_uri"]);
}

#[tokio::test]
async fn discord_is_listed_from_level_488() {
    assert_eq!(
        server_settings_at(487).await["authentication_methods"],
        authentication_methods(false)
    );
    assert_eq!(
        server_settings_at(488).await["authentication_methods"],
        authentication_methods(true)
    );
}

#[tokio::test]
async fn each_level_reports_the_version_of_its_release_series() {
    for (level, version) in [
        (1, "3.0-dev+git"),
        (25, "3.0"),
        (65, "4.0"),
        (178, "7.0-dev+git"),
        (237, "8.0"),
        (277, "9.0"),
        (371, "10.0"),
        (421, "11.0"),
        (509, "12.0-dev+git"),
    ] {
        let settings = server_settings_at(level).await;
        assert_eq!(settings["zulip_version"], version, "{level}");
        assert_eq!(settings["zulip_feature_level"], level, "{level}");
    }
}

#[tokio::test]
async fn the_admin_api_changes_the_level_and_its_version_together() {
    let app = TestApp::new();

    let patched = app
        .admin(
            Method::PATCH,
            "/__admin/server",
            Some(json!({"feature_level": 237})),
        )
        .await;

    patched.assert_admin(
        StatusCode::OK,
        json!({"zulip_version": "8.0", "zulip_merge_base": "8.0", "feature_level": 237,
               "external_host": "localhost:9991", "CAN_ACCESS_ALL_USERS_GROUP_LIMITS_PRESENCE": true}),
    );
    let settings = app.get_server_settings().await.json();
    assert_eq!(settings["zulip_version"], "8.0");
    assert_eq!(settings["zulip_feature_level"], 237);
}

fn rate_limited_body(with_code: bool) -> Value {
    let mut body = json!({"result": "error", "msg": "API usage exceeded rate limit"});
    if with_code {
        body["code"] = json!("RATE_LIMIT_HIT");
    }
    body["retry-after"] = json!(1.0);
    body
}

#[tokio::test]
async fn a_429_has_a_code_from_36() {
    for (level, with_code) in [(35, false), (36, true)] {
        let app = TestApp::at_feature_level(level);
        app.admin(
            Method::POST,
            "/__admin/faults",
            Some(json!({"rate_limit": {}})),
        )
        .await;

        let limited = app.get_realm_presence(IAGO).await;

        limited.assert_json(
            StatusCode::TOO_MANY_REQUESTS,
            rate_limited_body(with_code),
            &[
                ("content-type", "application/json".to_owned()),
                ("retry-after", "1.0".to_owned()),
                ("x-ratelimit-limit", "200".to_owned()),
                ("x-ratelimit-remaining", "0".to_owned()),
                ("x-ratelimit-reset", (NOW + 1).to_string()),
            ],
        );
    }
}

#[tokio::test]
async fn single_user_presence_by_id_works_from_43() {
    let before = TestApp::at_feature_level(42)
        .get_user_presence(IAGO, "3")
        .await;
    let after = TestApp::at_feature_level(43)
        .get_user_presence(IAGO, "3")
        .await;
    let by_email = TestApp::at_feature_level(42)
        .get_user_presence(IAGO, "hamlet@zulip.com")
        .await;

    before.assert_json(StatusCode::BAD_REQUEST, bad_request("No such user"), JSON);
    assert_eq!(after.status, StatusCode::OK);
    assert_eq!(by_email.text(), after.text());
}

#[tokio::test]
async fn deactivated_users_and_realms_get_403_before_76_and_401_from_76() {
    let deactivated_realm = |level: u32| {
        let mut fixture = default_fixture_json();
        fixture["server"]["feature_level"] = json!(level);
        fixture["realms"][1]["deactivated"] = json!(true);
        TestApp::from_fixture_json(&fixture)
    };

    let user_before = TestApp::at_feature_level(75)
        .get_realm_presence(OPHELIA)
        .await;
    let user_after = TestApp::at_feature_level(76)
        .get_realm_presence(OPHELIA)
        .await;
    let realm_before = deactivated_realm(75)
        .get_realm_presence_on("lear.localhost:9991", KING)
        .await;
    let realm_after = deactivated_realm(76)
        .get_realm_presence_on("lear.localhost:9991", KING)
        .await;

    user_before.assert_json(
        StatusCode::FORBIDDEN,
        json!({"result": "error", "msg": "Account is deactivated", "code": "USER_DEACTIVATED"}),
        JSON,
    );
    user_after.assert_json(
        StatusCode::UNAUTHORIZED,
        json!({"result": "error", "msg": "Account is deactivated", "code": "UNAUTHORIZED"}),
        JSON_UNAUTHORIZED,
    );
    realm_before.assert_json(
        StatusCode::FORBIDDEN,
        json!({"result": "error", "msg": "This organization has been deactivated",
               "code": "REALM_DEACTIVATED"}),
        JSON,
    );
    realm_after.assert_json(
        StatusCode::UNAUTHORIZED,
        json!({"result": "error", "msg": "This organization has been deactivated",
               "code": "UNAUTHORIZED"}),
        JSON_UNAUTHORIZED,
    );
}

#[tokio::test]
async fn unknown_parameters_are_listed_from_167() {
    for (level, listed) in [(166, false), (167, true)] {
        let app = TestApp::at_feature_level(level);

        let response = app
            .request(Method::GET, "/api/v1/realm/presence?bogus=1")
            .basic_auth(IAGO)
            .send()
            .await;

        let mut body = realm_presence_body(everyone_in_the_default_realm());
        if listed {
            body["ignored_parameters_unsupported"] = json!(["bogus"]);
        }
        response.assert_json(StatusCode::OK, body, JSON_NEVER_CACHE);
    }
}

#[tokio::test]
async fn the_access_limit_applies_from_228() {
    let guest_view = |level: u32| async move {
        TestApp::at_feature_level(level)
            .get_realm_presence(POLONIUS)
            .await
            .json()["presences"]
            .as_object()
            .unwrap()
            .len()
    };

    assert_eq!(guest_view(227).await, 7);
    assert!(guest_view(228).await < 7);
}

#[tokio::test]
async fn last_update_id_is_an_unknown_parameter_before_263() {
    let before = TestApp::at_feature_level(262)
        .post_presence(HAMLET, "status=active&last_update_id=-1")
        .await;
    let after = TestApp::at_feature_level(263)
        .post_presence(HAMLET, "status=active&last_update_id=-1")
        .await;

    let mut everyone = everyone_in_the_default_realm();
    everyone["hamlet@zulip.com"] = legacy("active", NOW);
    before.assert_json(
        StatusCode::OK,
        success_with(json!({
            "presences": everyone,
            "server_timestamp": SERVER_TIMESTAMP,
            "ignored_parameters_unsupported": ["last_update_id"],
        })),
        JSON_NEVER_CACHE,
    );
    assert_eq!(after.status, StatusCode::OK);
    let after = after.json();
    assert!(after["presences"]["3"].is_object(), "{after}");
    // The default realm's 11 rows took ids 1 to 11; Hamlet's report took 12.
    assert_eq!(after["presence_last_update_id"], 12);
    assert_eq!(after.get("ignored_parameters_unsupported"), None);
}

#[tokio::test]
async fn history_limit_days_is_an_unknown_parameter_before_288() {
    let before = TestApp::at_feature_level(287)
        .post_presence(HAMLET, "status=active&history_limit_days=0")
        .await;
    let after = TestApp::at_feature_level(288)
        .post_presence(HAMLET, "status=active&history_limit_days=0")
        .await;

    let before = before.json();
    let mut everyone = everyone_in_the_default_realm();
    everyone["hamlet@zulip.com"] = legacy("active", NOW);
    assert_eq!(before["presences"], everyone);
    assert_eq!(
        before["ignored_parameters_unsupported"],
        json!(["history_limit_days"])
    );
    after.assert_json(
        StatusCode::OK,
        success_with(json!({
            "presences": {}, "server_timestamp": SERVER_TIMESTAMP, "presence_last_update_id": -1,
        })),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn single_user_presence_has_three_shapes_around_487_and_497() {
    let at = |level: u32| async move {
        TestApp::at_feature_level(level)
            .get_user_presence(IAGO, "hamlet@zulip.com")
            .await
    };

    at(486).await.assert_json(
        StatusCode::OK,
        success_with(json!({"presence": {
            "aggregated": {"status": "active", "timestamp": NOW - 80},
            "website": {"status": "active", "timestamp": NOW - 80},
        }})),
        JSON_NEVER_CACHE,
    );
    at(487).await.assert_json(
        StatusCode::OK,
        success_with(json!({"presence": {
            "active_timestamp": NOW - 80, "idle_timestamp": NOW - 30,
        }})),
        JSON_NEVER_CACHE,
    );
    at(496).await.assert_json(
        StatusCode::OK,
        success_with(json!({"presence": {
            "active_timestamp": NOW - 80, "idle_timestamp": NOW - 30,
        }})),
        JSON_NEVER_CACHE,
    );
    at(497).await.assert_json(
        StatusCode::OK,
        success_with(json!({
            "presence": {
                "active_timestamp": NOW - 80, "idle_timestamp": NOW - 30,
                "aggregated": {"status": "active", "timestamp": NOW - 80},
                "website": {"status": "active", "timestamp": NOW - 80},
            },
            "server_timestamp": SERVER_TIMESTAMP,
        })),
        JSON_NEVER_CACHE,
    );
}

/// The default fixture at `level`, Hamlet's presence given per client: the web app active ten
/// minutes ago, the mobile app (push-capable) half a minute ago.
fn hamlet_per_client(level: u32) -> TestApp {
    let mut fixture = default_fixture_at_feature_level(level);
    give_hamlet_two_clients(&mut fixture);
    TestApp::from_fixture_json(&fixture)
}

fn client_entry(client: &str, status: &str, timestamp: i64, pushable: bool) -> Value {
    json!({"client": client, "status": status, "timestamp": timestamp, "pushable": pushable})
}

#[tokio::test]
async fn before_178_presence_has_one_entry_per_client_and_from_178_only_website() {
    let before = hamlet_per_client(177).get_realm_presence(IAGO).await;
    let after = hamlet_per_client(178).get_realm_presence(IAGO).await;

    let mut everyone = everyone_in_the_default_realm();
    everyone["hamlet@zulip.com"] = json!({
        "aggregated": {"client": "ZulipMobile", "status": "active", "timestamp": NOW - 30},
        "website": client_entry("website", "active", NOW - 600, true),
        "ZulipMobile": client_entry("ZulipMobile", "active", NOW - 30, true),
    });
    before.assert_json(
        StatusCode::OK,
        realm_presence_body(everyone),
        JSON_NEVER_CACHE,
    );
    // Zulip 7.0 kept the newest report of any client, and the newest "active" one.
    let mut everyone = everyone_in_the_default_realm();
    everyone["hamlet@zulip.com"] = legacy("active", NOW - 30);
    after.assert_json(
        StatusCode::OK,
        realm_presence_body(everyone),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn before_178_the_entries_keep_the_order_zulip_sent_aggregated_first_then_oldest_report() {
    let before = hamlet_per_client(177).get_realm_presence(IAGO).await;

    let text = before.text();
    let hamlet = &text[text.find("\"hamlet@zulip.com\"").unwrap()..];
    let order: Vec<usize> = ["\"aggregated\":{", "\"website\":{", "\"ZulipMobile\":{"]
        .iter()
        .map(|key| hamlet.find(key).unwrap())
        .collect();
    assert!(order.windows(2).all(|pair| pair[0] < pair[1]), "{hamlet}");
}

#[tokio::test]
async fn before_178_a_report_records_the_client_named_by_the_user_agent() {
    let app = TestApp::at_feature_level(177);

    let reported = app
        .request(Method::POST, "/api/v1/users/me/presence")
        .basic_auth(HAMLET)
        .header("user-agent", "ZulipPython/0.9.1 (Debian GNU/Linux; 12)")
        .form("status=active")
        .send()
        .await;

    let mut everyone = everyone_in_the_default_realm();
    everyone["hamlet@zulip.com"] = json!({
        "aggregated": {"client": "ZulipPython", "status": "active", "timestamp": NOW},
        "website": client_entry("website", "active", NOW - 80, false),
        "ZulipPython": client_entry("ZulipPython", "active", NOW, false),
    });
    reported.assert_json(
        StatusCode::OK,
        success_with(json!({"presences": everyone, "server_timestamp": SERVER_TIMESTAMP})),
        JSON_NEVER_CACHE,
    );
}

async fn hamlets_clients(app: &TestApp) -> Value {
    app.get_realm_presence(IAGO).await.json()["presences"]["hamlet@zulip.com"].clone()
}

#[tokio::test]
async fn before_178_the_client_parameter_names_the_client_and_zulip_desktop_is_the_web_app() {
    let app = TestApp::at_feature_level(177);
    app.advance(120);

    app.post_presence(HAMLET, "status=idle&client=ZulipMobile")
        .await;
    app.post_presence(HAMLET, "status=active&client=ZulipDesktop")
        .await;

    assert_eq!(
        hamlets_clients(&app).await,
        json!({
            "aggregated": {"client": "website", "status": "active", "timestamp": NOW + 120},
            "ZulipMobile": client_entry("ZulipMobile", "idle", NOW + 120, false),
            "website": client_entry("website", "active", NOW + 120, false),
        })
    );
}

#[tokio::test]
async fn before_178_an_active_client_ignores_idle_for_70_seconds() {
    let app = TestApp::at_feature_level(177);
    let report = |status: &'static str| {
        let app = &app;
        async move {
            app.request(Method::POST, "/api/v1/users/me/presence")
                .basic_auth(HAMLET)
                .header("user-agent", "ZulipMobile/27.0")
                .form(&format!("status={status}&ping_only=true"))
                .send()
                .await
        }
    };

    report("active").await;
    app.advance(70);
    report("idle").await;
    let within = hamlets_clients(&app).await["ZulipMobile"].clone();
    app.advance(1);
    report("idle").await;
    let after = hamlets_clients(&app).await["ZulipMobile"].clone();

    assert_eq!(within, client_entry("ZulipMobile", "active", NOW, false));
    assert_eq!(after, client_entry("ZulipMobile", "idle", NOW + 71, false));
}

#[tokio::test]
async fn before_178_slim_presence_gives_the_newest_active_and_idle_reports_by_user_id() {
    let app = hamlet_per_client(177);

    let response = app
        .post_presence(IAGO, "status=active&slim_presence=true&ping_only=false")
        .await;

    let presences = response.json()["presences"].clone();
    assert_eq!(presences["3"], json!({"active_timestamp": NOW - 30}));
    assert_eq!(presences["1"], json!({"idle_timestamp": NOW - 300}));
    assert_eq!(presences["2"], json!({"active_timestamp": NOW}));
}

#[tokio::test]
async fn before_178_single_user_presence_lists_each_client_without_client_and_pushable() {
    let response = hamlet_per_client(177)
        .get_user_presence(IAGO, "hamlet@zulip.com")
        .await;

    response.assert_json(
        StatusCode::OK,
        success_with(json!({"presence": {
            "aggregated": {"status": "active", "timestamp": NOW - 30},
            "website": {"status": "active", "timestamp": NOW - 600},
            "ZulipMobile": {"status": "active", "timestamp": NOW - 30},
        }})),
        JSON_NEVER_CACHE,
    );
}

#[tokio::test]
async fn single_user_presence_is_offline_after_300_s_before_164_and_after_200_s_from_164() {
    // Desdemona's last report, "idle", was 300 s ago.
    let aggregated = |level: u32| async move {
        TestApp::at_feature_level(level)
            .get_user_presence(IAGO, "desdemona@zulip.com")
            .await
            .json()["presence"]["aggregated"]
            .clone()
    };

    assert_eq!(
        aggregated(163).await,
        json!({"status": "idle", "timestamp": NOW - 300})
    );
    assert_eq!(
        aggregated(164).await,
        json!({"status": "offline", "timestamp": NOW - 300})
    );
}

#[tokio::test]
async fn per_client_rows_survive_an_export_and_import() {
    let app = hamlet_per_client(177);
    let exported = app.admin(Method::GET, "/__admin/state", None).await.json();

    let other = TestApp::new();
    other
        .admin(Method::PUT, "/__admin/state", Some(exported.clone()))
        .await;

    assert_eq!(
        other.get_realm_presence(IAGO).await.text(),
        app.get_realm_presence(IAGO).await.text()
    );
    let rows = exported["realms"][0]["presence"].as_array().unwrap();
    let hamlet = rows.iter().find(|row| row["user_id"] == 3).unwrap();
    assert_eq!(
        hamlet["clients"],
        json!([
            {"client": "website", "status": "active", "timestamp": SERVER_TIMESTAMP - 600.0, "pushable": true},
            {"client": "ZulipMobile", "status": "active", "timestamp": SERVER_TIMESTAMP - 30.0, "pushable": true},
        ])
    );
}
