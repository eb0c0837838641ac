//! The fast path (`zulip_api::fast_path`) answers what clients poll without the router. For random
//! requests near it, the app answers and journals exactly what the app without its fast path
//! does: the same status, headers, body bytes and journal entries.

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use proptest::prelude::*;
use serde_json::{json, Value};
use zulip_presence_mock::Options;
use zulip_presence_mock::RateRule;
use zulip_presence_mock::RECORD_OVERHEAD;

use crate::helpers::*;

/// A request to realm presence or near it, and the state it meets.
#[derive(Clone, Debug)]
struct Case {
    method: Method,
    /// A realm path prefix, or "".
    prefix: &'static str,
    query: Option<&'static str>,
    authorization: Option<String>,
    host: Option<&'static str>,
    user_agent: Option<&'static str>,
    /// A content type and a body.
    body: Option<(&'static str, &'static str)>,
    accept_html: bool,
    feature_level: u32,
    rate_limited: bool,
    /// A fault for realm presence is installed.
    faulted: bool,
    /// Seconds the clock moves before the request (and again before it is repeated).
    clock_step: i64,
}

fn basic_of(text: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}

fn authorization() -> impl Strategy<Value = Option<String>> {
    let users = [DESDEMONA, IAGO, HAMLET, POLONIUS, OPHELIA, ZOE, KING];
    let valid: Vec<String> = users
        .iter()
        .map(|user| basic_of(&format!("{}:{}", user.email, user.api_key)))
        .collect();
    let odd = vec![
        basic_of(&format!("{}:{}", IAGO.email, HAMLET.api_key)),
        basic_of(&format!("{}:short", IAGO.email)),
        basic_of(&format!("nobody@zulip.com:{}", IAGO.api_key)),
        basic_of(&format!(" {} : {} ", IAGO.email, IAGO.api_key)),
        format!(
            "  basic\t{}  ",
            &basic_of(&format!("{}:{}", IAGO.email, IAGO.api_key))[6..]
        ),
        // Characters outside base64's alphabet are dropped, as Python does.
        format!(
            "Basic !{}",
            &basic_of(&format!("{}:{}", HAMLET.email, HAMLET.api_key))[6..]
        ),
        "Bearer abc".to_owned(),
        "Basic ###".to_owned(),
        "Basic".to_owned(),
    ];
    prop_oneof![
        6 => prop::sample::select(valid).prop_map(Some),
        3 => prop::sample::select(odd).prop_map(Some),
        1 => Just(None),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        (
            prop::sample::select(vec![
                Method::GET,
                Method::GET,
                Method::GET,
                Method::GET,
                Method::HEAD,
                Method::POST,
                Method::OPTIONS,
            ]),
            prop::sample::select(vec![
                "",
                "",
                "",
                "/__realm/_root",
                "/__realm/lear",
                "/__realm/LEAR",
                "/__realm/nowhere",
            ]),
            prop::option::weighted(
                0.2,
                prop::sample::select(vec!["", "slim_presence=true", "x=1", "%zz"]),
            ),
            authorization(),
            prop::option::weighted(
                0.5,
                prop::sample::select(vec![
                    "localhost:9991",
                    "lear.localhost:9991",
                    "LEAR.localhost",
                    "other.example",
                ]),
            ),
            prop::option::weighted(
                0.3,
                prop::sample::select(vec!["ZulipMobile/27.0", "ZulipPython/0.9.0 (Linux)"]),
            ),
        ),
        (
            prop::option::weighted(
                0.3,
                prop::sample::select(vec![
                    ("application/x-www-form-urlencoded", "a=1"),
                    ("text/plain", "hello"),
                ]),
            ),
            prop::bool::weighted(0.1),
            prop::sample::select(vec![177u32, 178, 509, 509]),
            prop::bool::weighted(0.1),
            prop::bool::weighted(0.1),
            prop_oneof![Just(0i64), 0..20 * 86_400i64],
        ),
    )
        .prop_map(
            |(
                (method, prefix, query, authorization, host, user_agent),
                (body, accept_html, feature_level, rate_limited, faulted, clock_step),
            )| Case {
                method,
                prefix,
                query,
                authorization,
                host,
                user_agent,
                body,
                accept_html,
                feature_level,
                rate_limited,
                faulted,
                clock_step,
            },
        )
}

/// The app for `case`, with or without its fast path.
async fn app_for(case: &Case, fast_path: bool) -> TestApp {
    // Per-client rows, which realm presence shows differently below feature level 178.
    let mut fixture = default_fixture_at_feature_level(case.feature_level);
    give_hamlet_two_clients(&mut fixture);
    let options = Options {
        rate_limit: case.rate_limited.then_some(RateRule {
            requests: 100,
            window_seconds: 60,
        }),
        ..Options::default()
    };
    let app = TestApp::with_options(&fixture, options);
    let app = if fast_path {
        app
    } else {
        app.without_fast_path()
    };
    if case.faulted {
        let fault = json!({"path": "/api/v1/realm/presence", "error": {"status": 500}, "times": 1});
        let response = app
            .admin(Method::POST, "/__admin/faults", Some(fault))
            .await;
        assert_eq!(response.status, StatusCode::CREATED);
    }
    app
}

/// Sends `case`'s request twice (the second may be served from the cache), then reads the
/// journal: everything a client or a test could observe.
async fn observe(
    app: &TestApp,
    case: &Case,
) -> (Vec<(StatusCode, Vec<(String, String)>, String)>, Value) {
    let mut answers = Vec::new();
    for _ in 0..2 {
        app.advance(case.clock_step);
        let uri = format!(
            "{}/api/v1/realm/presence{}",
            case.prefix,
            case.query
                .map(|query| format!("?{query}"))
                .unwrap_or_default()
        );
        let mut request = app.request(case.method.clone(), &uri);
        if let Some(value) = &case.authorization {
            request = request.authorization(value);
        }
        if let Some(host) = case.host {
            request = request.host(host);
        }
        if let Some(agent) = case.user_agent {
            request = request.header("user-agent", agent);
        }
        if case.accept_html {
            request = request.header("accept", "text/html");
        }
        if let Some((content_type, body)) = case.body {
            request = request.header("content-type", content_type).body(body);
        }
        let response = request.send().await;
        let mut headers = response.header_list();
        headers.push((
            "content-length".to_owned(),
            format!("{:?}", response.headers.get("content-length")),
        ));
        answers.push((response.status, headers, response.text()));
    }
    let journal = app.admin(Method::GET, "/__admin/requests", None).await;
    (answers, journal.json())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_fast_path_answers_and_journals_exactly_as_the_router_does(case in case()) {
        runtime().block_on(async {
            let fast = observe(&app_for(&case, true).await, &case).await;
            let routed = observe(&app_for(&case, false).await, &case).await;
            prop_assert_eq!(fast, routed);
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn the_plain_poll_through_a_realm_prefix_is_answered_and_journalled_in_full() {
    // The property above only compares the two ways of answering; this pins down what both
    // give for the request the fast path takes (the name says what it checks: whether the
    // fast path answered is not observable from outside, only that nothing differs).
    let app = TestApp::new();

    let response = app
        .request(Method::GET, "/__realm/_root/api/v1/realm/presence")
        .basic_auth(IAGO)
        .header("user-agent", "ZulipMobile/27.0")
        .send()
        .await;
    let journal = app.admin(Method::GET, "/__admin/requests", None).await;

    response.assert_everyone_listed();
    journal.assert_admin(
        StatusCode::OK,
        json!({
            "requests": [{
                "id": 1, "time": SERVER_TIMESTAMP, "realm": "", "method": "GET", "path": "/api/v1/realm/presence",
                "query": {}, "params": {}, "user": {"user_id": 2, "email": "iago@zulip.com"},
                "auth_failure": null, "user_agent": "ZulipMobile/27.0", "status": 200,
                "fault": null, "note": null
            }],
            "count": 1, "dropped": 0, "capacity": 10000,
            "bytes": RECORD_OVERHEAD + "/api/v1/realm/presence".len() + "ZulipMobile/27.0".len(),
            "capacity_bytes": 64 * 1024 * 1024,
        }),
    );
}

#[tokio::test]
async fn the_polled_request_takes_the_fast_path_and_every_other_the_router() {
    let app = TestApp::new();

    let polled = app.get_realm_presence(IAGO).await;
    let taken = app.fast_path_answers();
    let with_query = app
        .request(Method::GET, "/api/v1/realm/presence?slim_presence=true")
        .basic_auth(IAGO)
        .send()
        .await;
    let limited_guest = app.get_realm_presence(POLONIUS).await;
    app.admin(
        Method::PUT,
        "/__admin/rate_limit",
        Some(json!({"requests": 100, "window_seconds": 60})),
    )
    .await;
    let rate_limited = app.get_realm_presence(IAGO).await;

    assert_eq!(polled.status, StatusCode::OK);
    assert_eq!(taken, 1);
    assert_eq!(with_query.status, StatusCode::OK);
    assert_eq!(limited_guest.status, StatusCode::OK);
    assert_eq!(rate_limited.status, StatusCode::OK);
    assert_eq!(
        app.fast_path_answers(),
        1,
        "only the first took the fast path"
    );
}
