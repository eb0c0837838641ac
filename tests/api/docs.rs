//! What README and docs/ promise that tests keep true: README's quick-start curl line; the
//! default fixture's credentials and the stubs example (docs/behaviour.md); the example fixture
//! (docs/fixture-format.md); the admin flow script and the realm and user examples
//! (docs/admin-api.md); the presence bot (docs/real-time-events.md); the compose file and the
//! Testcontainers example (docs/test-suites.md).

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::*;

const README: &str = include_str!("../../README.md");
const BEHAVIOUR: &str = include_str!("../../docs/behaviour.md");
const FIXTURE_FORMAT: &str = include_str!("../../docs/fixture-format.md");
const ADMIN_API: &str = include_str!("../../docs/admin-api.md");
const REAL_TIME_EVENTS: &str = include_str!("../../docs/real-time-events.md");
const EXAMPLE: &str = include_str!("../../fixtures/example.json");
const TEST_SUITES: &str = include_str!("../../docs/test-suites.md");
const COMPOSE: &str = include_str!("../docker/compose.yaml");
const TESTCONTAINERS: &str = include_str!("../docker/test_testcontainers.py");

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
fn the_compose_file_in_the_docs_is_the_one_tests_run() {
    let in_file: String = COMPOSE
        .lines()
        .skip_while(|line| line.starts_with('#'))
        .map(|line| format!("{line}\n"))
        .collect();

    assert_eq!(
        block(TEST_SUITES, "compose: tests/docker/compose.yaml", "yaml"),
        in_file
    );
}

#[test]
fn the_testcontainers_example_is_the_code_the_test_runs() {
    let marked = TESTCONTAINERS
        .split("# --- as docs/test-suites.md shows it ---\n")
        .nth(1)
        .unwrap()
        .split("# --- end ---")
        .next()
        .unwrap();
    let in_file: String = marked
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| format!("{}\n", line.strip_prefix("        ").unwrap_or(line)))
        .collect();

    assert_eq!(
        block(
            TEST_SUITES,
            "testcontainers: tests/docker/test_testcontainers.py",
            "python"
        ),
        in_file
    );
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

/// The `curl` examples of the admin API's table row that starts with `row`, in order.
fn admin_examples(row: &str) -> Vec<&'static str> {
    let line = ADMIN_API
        .lines()
        .find(|line| line.starts_with(&format!("| {row}")))
        .unwrap_or_else(|| panic!("no row {row:?} in docs/admin-api.md"));
    line.split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| span.starts_with("curl "))
        .collect()
}

/// Runs a `curl [-X METHOD] $M/__admin/... [-H "$J"] [-d 'JSON']` example on `app`.
async fn run_admin_example(app: &TestApp, example: &str) -> TestResponse {
    let (command, body) = match example.split_once(" -d '") {
        Some((command, body)) => {
            let body = body.strip_suffix('\'').unwrap();
            (command, Some(serde_json::from_str::<Value>(body).unwrap()))
        }
        None => (example, None),
    };
    let words: Vec<&str> = command.split_whitespace().collect();
    let method = match words.iter().position(|word| *word == "-X") {
        Some(at) => Method::from_bytes(words[at + 1].as_bytes()).unwrap(),
        None => Method::GET,
    };
    let path = words
        .iter()
        .find_map(|word| word.strip_prefix("$M"))
        .unwrap();
    app.admin(method, path, body).await
}

async fn assert_examples_run(app: &TestApp, examples: &[&str]) {
    for example in examples {
        let response = run_admin_example(app, example).await;
        assert!(
            response.status.is_success(),
            "{example}: {} {}",
            response.status,
            response.text()
        );
    }
}

#[tokio::test]
async fn the_admin_api_realm_creation_examples_run_as_written_one_after_the_other() {
    let app = TestApp::new();
    let from_fixture = admin_examples("create from a realm fixture");
    let generated = admin_examples("create a generated realm");
    assert_eq!((from_fixture.len(), generated.len()), (1, 1));

    assert_examples_run(&app, &[from_fixture[0], generated[0]]).await;
}

#[tokio::test]
async fn the_admin_api_user_examples_run_as_written_on_the_generated_realm() {
    let app = TestApp::new();
    let generated = admin_examples("create a generated realm");
    let add = admin_examples("list users / add one");
    let read_change_delete = admin_examples("read / change");
    assert_eq!((add.len(), read_change_delete.len()), (2, 3));

    assert_examples_run(&app, &generated).await;
    assert_examples_run(&app, &add).await;
    assert_examples_run(&app, &read_change_delete).await;
}
