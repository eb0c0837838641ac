//! In-process benchmarks (divan): loading a fixture, and serving realm presence from a cold
//! and a warm cache (through the fast path, and through the router alone), at 10, 1,000,
//! 10,000 and 100,000 users. `cargo bench --bench presence`.

use axum::body::Body;
use axum::http::Request;

use base64::Engine as _;
use divan::Bencher;
use http_body_util::BodyExt;
use tower::ServiceExt;
use zulip_presence_mock::Fixture;
use zulip_presence_mock::Options;
use zulip_presence_mock::{build_app, App, AppState};
use zulip_presence_mock::{Clock, Timestamp};

const SIZES: &[usize] = &[10, 1_000, 10_000, 100_000];

fn main() {
    divan::main();
}

/// The same shape as benches/generate_fixture.py: every user listed, half of them idle.
fn fixture_text(users: usize) -> String {
    let user_rows: Vec<String> = (1..=users)
        .map(|i| {
            format!(
                r#"{{"user_id":{i},"email":"user{i}@example.com","full_name":"User {i}","date_joined":"-400d","api_key":"{i:032}"}}"#
            )
        })
        .collect();
    let presence_rows: Vec<String> = (1..=users)
        .map(|i| {
            let connected = i % (13 * 86_400);
            let active = connected + (i % 2) * 300;
            format!(r#"{{"user_id":{i},"last_connected_time":"-{connected}s","last_active_time":"-{active}s"}}"#)
        })
        .collect();
    format!(
        r#"{{"realms":[{{"subdomain":"","name":"Load","users":[{}],"presence":[{}]}}]}}"#,
        user_rows.join(","),
        presence_rows.join(",")
    )
}

fn state(users: usize) -> AppState {
    let fixture = Fixture::parse("bench", &fixture_text(users)).unwrap();
    AppState::new(
        fixture,
        Clock::frozen(Timestamp::from_unix_seconds(1_700_000_000)),
        Options::default(),
    )
}

fn request() -> Request<Body> {
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("user1@example.com:{:032}", 1));
    Request::get("/api/v1/realm/presence")
        .header("authorization", format!("Basic {credentials}"))
        .body(Body::empty())
        .unwrap()
}

async fn serve(app: &App) -> usize {
    let response = app.clone().oneshot(request()).await.unwrap();
    response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .len()
}

/// Parsing, checking and seeding a fixture.
#[divan::bench(args = SIZES, sample_count = 10)]
fn load_fixture(bencher: Bencher<'_, '_>, users: usize) {
    let text = fixture_text(users);
    bencher.bench(|| {
        let fixture = Fixture::parse("bench", &text).unwrap();
        AppState::new(
            fixture,
            Clock::frozen(Timestamp::from_unix_seconds(1_700_000_000)),
            Options::default(),
        )
    });
}

/// A request served from the cached body: authentication plus a copy of the bytes.
#[divan::bench(args = SIZES)]
fn realm_presence_warm(bencher: Bencher<'_, '_>, users: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = build_app(state(users));
    runtime.block_on(serve(&app));
    bencher.bench_local(|| runtime.block_on(serve(&app)));
}

/// The same request through the router alone (`App::without_fast_path`), to show what the
/// fast path saves.
#[divan::bench(args = SIZES)]
fn realm_presence_warm_router(bencher: Bencher<'_, '_>, users: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = build_app(state(users)).without_fast_path();
    runtime.block_on(serve(&app));
    bencher.bench_local(|| runtime.block_on(serve(&app)));
}

/// A request that builds and serialises the body (a fresh app every time, so the cache is
/// always cold).
#[divan::bench(args = SIZES, sample_count = 10)]
fn realm_presence_cold(bencher: Bencher<'_, '_>, users: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    bencher
        .with_inputs(|| build_app(state(users)))
        .bench_local_values(|app| runtime.block_on(serve(&app)));
}
