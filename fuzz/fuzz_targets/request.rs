//! Whole requests through `build_app`: any method, path, headers and body get a response,
//! never a panic (a handler panic would be a 500, which this target also refuses). The admin
//! API is off here, so that a fuzzed request cannot install a fault that answers 500 or waits,
//! and long-polls end at once.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};

use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;
use zulip_presence_mock::EventSettings;
use zulip_presence_mock::Fixture;
use zulip_presence_mock::{build_app, App, AppState};
use zulip_presence_mock::{AdminAccess, Options};
use zulip_presence_mock::{Clock, Timestamp};

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
const HEADERS: [&str; 5] = [
    "authorization",
    "content-type",
    "host",
    "accept",
    "user-agent",
];

fn app() -> &'static (App, tokio::runtime::Runtime) {
    static APP: OnceLock<(App, tokio::runtime::Runtime)> = OnceLock::new();
    APP.get_or_init(|| {
        let clock = Clock::frozen(Timestamp::from_unix_seconds(1_700_000_000));
        let options = Options {
            admin: AdminAccess::Disabled,
            ..Options::default()
        };
        let state = AppState::new(Fixture::default_fixture(), clock, options);
        // A long-poll on a queue an earlier input registered must not wait for a heartbeat.
        state.set_event_settings(EventSettings {
            longpoll_timeout: Duration::from_millis(1),
            heartbeat_min: Duration::from_millis(1),
            heartbeat_max: Duration::from_millis(1),
            ..EventSettings::default()
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        (build_app(state), runtime)
    })
}

fuzz_target!(|data: &[u8]| {
    // Lines: method selector byte + path, then up to five header values, then the body.
    let mut lines = data.splitn(7, |&b| b == b'\n');
    let Some(first) = lines.next() else {
        return;
    };
    let Some((&method, path)) = first.split_first() else {
        return;
    };
    let mut builder = Request::builder()
        .method(METHODS[usize::from(method) % METHODS.len()])
        .uri(String::from_utf8_lossy(path).as_ref());
    for name in HEADERS {
        match lines.next() {
            Some(value) if !value.is_empty() => builder = builder.header(name, value),
            _ => {}
        }
    }
    let body = lines.next().unwrap_or_default().to_vec();
    let Ok(request) = builder.body(Body::from(body)) else {
        return;
    };
    let (router, runtime) = app();
    runtime.block_on(async {
        let response = router.clone().oneshot(request).await.unwrap();
        assert_ne!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let _ = response.into_body().collect().await;
    });
});
