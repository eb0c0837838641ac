//! The in-process mock of `zulip_presence_mock::testing`: each helper, over real HTTP on
//! 127.0.0.1 where a client would see its effect.

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zulip_presence_mock::testing::{Credentials, MockZulip};

use crate::helpers::{TestApp, IAGO};

/// The frozen instant of `helpers` (`NOW_MICROS`) in RFC 3339.
const NOW_RFC3339: &str = "2023-11-14T22:13:20.25Z";

/// A whole HTTP/1.1 answer: status, `Content-Type`, body as JSON.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    content_type: String,
    body: Value,
}

/// GETs `url` (an `http://127.0.0.1:port/...` address) over a new connection, with Basic auth.
async fn get(url: &str, user: &Credentials) -> Answer {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (address, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = TcpStream::connect(address).await.expect("the mock accepts");
    let auth = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", user.email, user.api_key));
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Basic {auth}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).expect("a UTF-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let status = head[9..12].parse().unwrap();
    let header = |name: &str| {
        head.lines()
            .find_map(|line| {
                let (key, value) = line.split_once(": ")?;
                key.eq_ignore_ascii_case(name).then(|| value.to_owned())
            })
            .unwrap_or_default()
    };
    assert_eq!(header("content-length"), body.len().to_string(), "{head}");
    Answer {
        status,
        content_type: header("content-type"),
        body: serde_json::from_str(body).expect("a JSON body"),
    }
}

fn iago() -> Credentials {
    Credentials {
        email: IAGO.email.into(),
        api_key: IAGO.api_key.into(),
    }
}

async fn frozen_mock() -> MockZulip {
    MockZulip::builder()
        .frozen_at(NOW_RFC3339)
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_started_mock_serves_the_default_fixture_over_http_as_the_app_answers_in_process() {
    let mock = frozen_mock().await;
    let answer = get(&format!("{}/api/v1/realm/presence", mock.url()), &iago()).await;
    let in_process = TestApp::new().get_realm_presence(IAGO).await;
    assert_eq!(
        answer,
        Answer {
            status: 200,
            content_type: "application/json".into(),
            body: in_process.json(),
        }
    );
    assert_eq!(in_process.status, StatusCode::OK);
}

#[tokio::test]
async fn a_new_realm_has_its_own_subdomain_site_and_generated_users() {
    let mock = frozen_mock().await;
    let first = mock.new_realm(3).await;
    let second = mock.new_realm(1).await;
    assert_eq!((first.subdomain(), second.subdomain()), ("test1", "test2"));
    assert_eq!(first.site(), format!("{}/__realm/test1", mock.url()));
    assert_eq!(
        first.user(2),
        Credentials {
            email: "user2@example.com".into(),
            api_key: "key00000000000000000000000000002".into(),
        }
    );
    let me = get(&format!("{}/api/v1/users/me", first.site()), &first.user(2)).await;
    assert_eq!(
        (me.status, &me.body["user_id"], &me.body["email"]),
        (200, &json!(2), &json!("user2@example.com"))
    );
    let presence = get(
        &format!("{}/api/v1/realm/presence", first.site()),
        &first.user(1),
    )
    .await;
    assert_eq!(
        presence.body,
        json!({"result": "success", "msg": "", "presences": {}, "server_timestamp": 1_700_000_000.25})
    );
}

#[tokio::test]
async fn a_new_realm_skips_a_subdomain_the_test_already_took() {
    let mock = frozen_mock().await;
    let made = json!({"subdomain": "test1", "generate": {"users": 1}});
    let (status, _) = mock
        .admin(Method::POST, "/__admin/realms", Some(made))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(mock.new_realm(1).await.subdomain(), "test2");
    mock.reset().await;
    assert_eq!(mock.new_realm(1).await.subdomain(), "test1");
}

#[tokio::test]
#[should_panic(expected = "realm test1 has users 1 to 2, not 3")]
async fn a_realm_has_no_user_past_its_count() {
    let mock = frozen_mock().await;
    mock.new_realm(2).await.user(3);
}

#[tokio::test]
async fn set_presence_gives_a_row_that_clients_see_at_its_times() {
    let mock = frozen_mock().await;
    let realm = mock.new_realm(2).await;
    mock.set_presence(realm.subdomain(), 2, "-30s", "-5m").await;
    let presence = get(
        &format!("{}/api/v1/realm/presence", realm.site()),
        &realm.user(1),
    )
    .await;
    assert_eq!(
        presence.body,
        json!({
            "result": "success", "msg": "",
            "presences": {"user2@example.com": {
                "aggregated": {"client": "website", "status": "idle", "timestamp": 1_699_999_970},
                "website": {"client": "website", "status": "idle", "timestamp": 1_699_999_970, "pushable": false},
            }},
            "server_timestamp": 1_700_000_000.25,
        })
    );
}

#[tokio::test]
async fn the_clock_freezes_and_advances() {
    let mock = MockZulip::start().await;
    mock.freeze_clock("2026-01-01T00:00:00Z").await;
    assert_eq!(mock.now(), 1_767_225_600.0);
    mock.advance_clock("90s").await;
    assert_eq!(mock.now(), 1_767_225_690.0);
}

#[tokio::test]
async fn the_journal_lists_and_counts_what_clients_sent() {
    let mock = frozen_mock().await;
    let realm = mock.new_realm(2).await;
    get(&format!("{}/api/v1/users/me", realm.site()), &realm.user(2)).await;
    get(&format!("{}/api/v1/realm/presence", mock.url()), &iago()).await;
    let entries = mock.journal("realm=test1").await;
    let seen: Vec<_> = entries
        .iter()
        .map(|entry| {
            (
                entry.method.as_str(),
                entry.path.as_str(),
                entry.user.as_ref().map(|user| user.user_id),
                entry.status,
                entry.time,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [(
            "GET",
            "/api/v1/users/me",
            Some(2),
            Some(200),
            1_700_000_000.25
        )]
    );
    assert_eq!(mock.journal_count("").await, 2);
    assert_eq!(mock.journal_count("user=iago@zulip.com").await, 1);
}

#[tokio::test]
async fn an_installed_fault_answers_for_its_times_and_a_removed_one_no_more() {
    let mock = frozen_mock().await;
    let presence = format!("{}/api/v1/realm/presence", mock.url());
    let id = mock
        .install_fault(
            json!({"path": "/api/v1/realm/presence", "error": {"status": 500}, "times": 1}),
        )
        .await;
    assert_eq!(id, 1);
    let faulted = get(&presence, &iago()).await;
    assert_eq!(
        (faulted.status, faulted.body),
        (
            500,
            json!({"result": "error", "msg": "Internal server error"})
        )
    );
    assert_eq!(get(&presence, &iago()).await.status, 200);

    let id = mock
        .install_fault(json!({"path": "/api/v1/realm/presence", "error": {"status": 502}}))
        .await;
    assert_eq!(get(&presence, &iago()).await.status, 502);
    mock.remove_fault(id).await;
    assert_eq!(get(&presence, &iago()).await.status, 200);
}

#[tokio::test]
#[should_panic(expected = "the mock's admin API refused POST /__admin/faults: 400 Bad Request")]
async fn a_refused_admin_change_fails_the_test_with_the_admin_apis_answer() {
    let mock = MockZulip::start().await;
    mock.install_fault(json!({"error": {"status": "no"}})).await;
}

#[tokio::test]
async fn reset_removes_made_realms_and_empties_the_journal() {
    let mock = frozen_mock().await;
    let realm = mock.new_realm(1).await;
    mock.advance_clock("1h").await;
    get(&format!("{}/api/v1/users/me", realm.site()), &realm.user(1)).await;
    mock.reset().await;
    assert_eq!(mock.journal_count("").await, 0);
    assert_eq!(mock.now(), 1_700_000_000.25);
    let gone = get(&format!("{}/api/v1/users/me", realm.site()), &realm.user(1)).await;
    assert_eq!(
        (gone.status, gone.body),
        (
            401,
            json!({"result": "error", "msg": "Invalid API key", "code": "UNAUTHORIZED"})
        )
    );
}

#[tokio::test]
async fn a_bad_fixture_is_refused_with_its_json_path() {
    let refused = MockZulip::builder()
        .fixture_json(r#"{"realms": [{"subdomain": 7}]}"#)
        .start()
        .await;
    assert_eq!(
        refused.err().expect("refused").to_string(),
        "fixture: at $.realms[0].subdomain: invalid type: integer `7`, expected a string at line 1 column 27"
    );
}

#[tokio::test]
async fn dropping_the_mock_stops_the_server() {
    let mock = MockZulip::start().await;
    let address = mock.url().trim_start_matches("http://").to_owned();
    drop(mock);
    let mut refused = false;
    for _ in 0..200 {
        if TcpStream::connect(&address).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(refused, "{address} still accepts connections");
}
