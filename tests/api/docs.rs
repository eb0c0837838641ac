//! What README and docs/ promise that tests keep true: README's quick-start curl line; the
//! default fixture's credentials and the stubs example (docs/behaviour.md); the example fixture
//! (docs/fixture-format.md); the admin flow script (docs/admin-api.md); the presence bot
//! (docs/real-time-events.md).

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::*;

const README: &str = include_str!("../../README.md");
const BEHAVIOUR: &str = include_str!("../../docs/behaviour.md");
const FIXTURE_FORMAT: &str = include_str!("../../docs/fixture-format.md");
const ADMIN_API: &str = include_str!("../../docs/admin-api.md");
const REAL_TIME_EVENTS: &str = include_str!("../../docs/real-time-events.md");
const EXAMPLE: &str = include_str!("../../fixtures/example.json");

/// The first code block fenced as `language` after the `<!-- {marker} -->` comment of `doc`.
fn block(doc: &'static str, marker: &str, language: &str) -> &'static str {
    doc.split(&format!("<!-- {marker} -->"))
        .nth(1)
        .unwrap()
        .split(&format!("```{language}\n"))
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap()
}

#[test]
fn the_fixture_format_example_is_fixtures_example_json() {
    let block = block(
        FIXTURE_FORMAT,
        "example-fixture: fixtures/example.json",
        "json",
    );

    let in_docs: Value = serde_json::from_str(block).unwrap();
    let in_file: Value = serde_json::from_str(EXAMPLE).unwrap();
    assert_eq!(in_docs, in_file);
}

#[test]
fn the_admin_api_flow_is_the_script_that_tests_run() {
    let block = block(
        ADMIN_API,
        "admin-flow: tests/clients/admin-flow/flow.sh",
        "sh",
    );

    assert_eq!(
        block,
        include_str!("../../tests/clients/admin-flow/flow.sh")
    );
}

#[test]
fn the_real_time_events_presence_bot_is_the_script_that_tests_run() {
    let block = block(
        REAL_TIME_EVENTS,
        "presence-bot: tests/clients/bot/presence_bot.py",
        "python",
    );

    assert_eq!(
        block,
        include_str!("../../tests/clients/bot/presence_bot.py")
    );
}

/// Every "| `email` ... | `key` |" row of the default fixture's credentials table.
fn default_fixture_credentials() -> Vec<(String, String, Option<String>)> {
    BEHAVIOUR
        .lines()
        .filter(|line| line.starts_with("| `") && line.contains('@'))
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let email = cells[1].split('`').nth(1)?.to_owned();
            let key = cells[2].trim_matches('`').to_owned();
            let host = cells[1]
                .split("(Host `")
                .nth(1)
                .map(|h| h.split('`').next().unwrap().to_owned());
            (key.len() == 32).then_some((email, key, host))
        })
        .collect()
}

#[tokio::test]
async fn every_default_fixture_credential_logs_in() {
    let app = TestApp::new();
    let credentials = default_fixture_credentials();
    assert_eq!(credentials.len(), 13);
    for (email, key, host) in credentials {
        let response = app
            .request(Method::GET, "/api/v1/realm/presence")
            .host(host.as_deref().unwrap_or("127.0.0.1:9991"))
            .authorization(&basic(&format!("{email}:{key}")))
            .send()
            .await;

        let body = response.json();
        let deactivated = body["msg"] == "Account is deactivated";
        assert!(
            response.status == StatusCode::OK || deactivated,
            "{email}: {body}"
        );
    }
}

#[tokio::test]
async fn the_readme_quick_start_curl_line_works() {
    let line = README
        .lines()
        .find(|l| l.starts_with("curl -u iago@zulip.com:"))
        .unwrap();
    let credentials = line.split_whitespace().nth(2).unwrap();
    let app = TestApp::new();

    let response = app
        .request(Method::GET, "/api/v1/realm/presence")
        .authorization(&basic(credentials))
        .send()
        .await;

    assert_eq!(response.status, StatusCode::OK);
}

#[tokio::test]
async fn the_behaviour_stubs_example_loads_and_answers() {
    let block = block(BEHAVIOUR, "stubs-example", "json");
    let mut fixture = default_fixture_json();
    fixture["stubs"] =
        serde_json::from_str::<Value>(&format!("{{{block}}}")).unwrap()["stubs"].clone();
    let app = TestApp::from_fixture_json(&fixture);

    let messages = app
        .request(Method::GET, "/api/v1/messages")
        .basic_auth(HAMLET)
        .send()
        .await;
    let sent = app
        .request(Method::POST, "/api/v1/messages")
        .basic_auth(HAMLET)
        .form("type=stream&to=Verona&topic=x&content=y")
        .send()
        .await;

    assert_eq!(messages.json()["found_newest"], true);
    assert_eq!(
        sent.json(),
        serde_json::json!({"result": "success", "msg": "", "id": 42, "automatic_new_visibility_policy": null})
    );
}
