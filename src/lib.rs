//! zulip-presence-mock: a mock Zulip server for the presence API, answering exactly as a real
//! Zulip server would for a state that a test controls.
//!
//! The house has three rooms and a hall:
//! - `domain`: what a Zulip server knows and decides (store, clock, presence rules, user
//!   directory, feature levels, event queues, rate limits), with no HTTP in it;
//! - `zulip_api`: Zulip's HTTP API (every endpoint in one list, the fast path, authentication,
//!   parameters, responses and errors, the body cache, the journal layer);
//! - `test_control`: the admin API (`/__admin`) and what it controls beside the domain (the
//!   request journal, faults, stubs);
//! - the hall: `config` and `telemetry` (command line, logging), `fixtures` (the fixture file
//!   format, which seeds the store), `app_state` (what every request shares), `app` (the whole
//!   application as one service), `fixture_watch`, `healthcheck`, `memory`; `build_app` and
//!   the serve loop `run` are here;
//! - `testing`, the one public module: the mock inside a Rust test (`testing::MockZulip`), its
//!   handle speaking to the admin API in-process.
//!
//! Modules are private: what tests, benchmarks, fuzz targets and `main` use is re-exported
//! below, so the compiler sees dead code.

mod app;
mod app_state;
mod config;
mod domain;
mod fixture_watch;
mod fixtures;
mod healthcheck;
mod memory;
mod telemetry;
mod test_control;
pub mod testing;
mod zulip_api;

pub use app_state::{AdminAccess, AppState, Limits, Options, RealmPresenceIgnoredParameters};
pub use config::{Command, Config};
pub use domain::clock::{Clock, ClockMode, Timestamp};
pub use domain::event_queues::{EventSettings, EVENT_SLOT_BYTES};
pub use domain::rate_limits::RateRule;
pub use domain::store::PresenceTimes;
pub use fixture_watch::watch_fixture;
pub use fixtures::{Fixture, FixtureError, DEFAULT_FIXTURE};
pub use healthcheck::check as check_health;
pub use telemetry::init_tracing;
pub use test_control::request_journal::{PARAM_OVERHEAD, RECORD_OVERHEAD};
pub use zulip_api::authentication::{authenticates, basic_credentials};
pub use zulip_api::parameters::RequestParams;

use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_http::catch_panic::CatchPanicLayer;

pub use app::{App, AppFuture};
pub use zulip_api::responses::AppBody;

/// The largest request body accepted; larger ones get a 413 (docs/differences-from-zulip.md).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Builds the complete application. Tests call this and drive it with `oneshot`.
pub fn build_app(state: AppState) -> App {
    // The fallback sits inside the journal's layer, so unserved requests are journalled too.
    let routes = zulip_api::api_router(&state)
        .merge(test_control::admin_router(&state.options.admin))
        .fallback(zulip_api::unserved)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            zulip_api::journal_layer::observe,
        ));
    let router = with_middleware(routes)
        .layer(axum::middleware::from_fn_with_state(
            state.options.limits.request_timeout,
            enforce_request_timeout,
        ))
        .with_state(state.clone());
    App::new(state, router)
}

/// Answers Zulip-shaped 504 when a request takes longer than `limit` (only an injected delay
/// can).
async fn enforce_request_timeout(
    axum::extract::State(limit): axum::extract::State<Duration>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            axum::response::IntoResponse::into_response(zulip_api::api_errors::ApiError::Timeout)
        }
    }
}

/// The layers every request passes through, around the routes (outermost last).
fn with_middleware(routes: Router<AppState>) -> Router<AppState> {
    routes
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(internal_error_for_panic))
}

/// Serves `build_app(state)` on `listener` until `shutdown` completes, then refuses new
/// connections and gives in-flight requests up to `SHUTDOWN_GRACE` to finish. Connections are
/// capped (`Limits::max_connections`: past it, new ones wait in the kernel's backlog until one
/// closes; a waiting long-poll gives its place back), and a client must send a whole request
/// head within `Limits::header_read_timeout`, so slow clients cannot pin the server.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.options.limits;
    let control = Arc::clone(&state.control);
    let sweeper = tokio::spawn(sweep_idle_queues(state.clone()));
    let app = build_app(state);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_HEAD_BYTES);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    // Out of file descriptors, say: wait a little rather than spin.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small JSON bodies go out at once instead of waiting for Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        let service = app.clone();
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        // The permit lives with the connection's task, unless a long-poll gives it back.
        tokio::spawn(
            CONNECTION_PERMIT.scope(RefCell::new(Some(permit)), async move {
                // A connection error is the client's business (a reset, a timeout); it is over.
                let _ = connection.await;
            }),
        );
    }
    // New connections are refused from now on, not left waiting in the backlog.
    drop(listener);
    sweeper.abort();
    // Long-polls answer now instead of holding the shutdown for up to their timeout.
    control.events.close();
    // In-flight requests get a moment to finish; a connection still sending its head or body
    // then is closed, so that shutdown always fits in `docker stop`'s grace period.
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::info!(
            grace_seconds = SHUTDOWN_GRACE.as_secs(),
            "closing the connections still open after the shutdown grace period"
        );
    }
    Ok(())
}

/// How often idle event queues are looked for and deleted, as Zulip's garbage collection of
/// queues does (`EVENT_QUEUE_GC_FREQ_MSECS`, a minute). Events and clock changes also delete
/// them, so an expired queue never receives an event and costs nothing for long.
pub const QUEUE_SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// Every `QUEUE_SWEEP_INTERVAL`: deletes the queues idle past their timeout on the server
/// clock, and gives the memory freed since the last time back to the system.
async fn sweep_idle_queues(state: AppState) {
    let mut ticks = tokio::time::interval(QUEUE_SWEEP_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        state.control.events.reclaim_idle(state.clock.now());
        crate::memory::give_back_later().await;
    }
}

/// How long in-flight requests may take to finish once shutdown begins.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

tokio::task_local! {
    /// The place under the connection cap of the connection whose task runs this code.
    static CONNECTION_PERMIT: RefCell<Option<OwnedSemaphorePermit>>;
}

/// Gives the current connection's place under the connection cap back: a long-poll does
/// this when it starts to wait, so that waiting polls (bounded by the event queues) never take
/// the last places from ordinary requests and the health check. Outside the serve loop (tests
/// calling the app directly) there is nothing to give back. Whether a place was given back.
pub(crate) fn release_connection_slot() -> bool {
    CONNECTION_PERMIT
        .try_with(|permit| permit.borrow_mut().take().is_some())
        .unwrap_or(false)
}

/// hyper's read buffer for a request head (request line and headers): a head that does not fit
/// gets 431 and the connection is closed. Heads up to this size are always accepted; hyper
/// notices a larger one when a read finds the buffer full, which may be some way past it.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// A handler panicked: Zulip's 500 body; the details go to the log only.
fn internal_error_for_panic(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %detail, "a handler panicked");
    zulip_api::responses::json_bytes(
        StatusCode::INTERNAL_SERVER_ERROR,
        zulip_api::responses::INTERNAL_ERROR_BODY,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::header;
    use axum::routing::get;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn explode() -> &'static str {
        panic!("boom")
    }

    #[tokio::test]
    async fn a_panicking_handler_gets_zulips_500_and_the_server_keeps_serving() {
        let routes = Router::new()
            .route("/panic", get(explode))
            .route("/ok", get(|| async { "fine" }));
        let state = AppState::new(
            fixtures::Fixture::default_fixture(),
            Clock::system(),
            Options::default(),
        );
        let request_timeout = state.options.limits.request_timeout;
        let app = with_middleware(routes)
            .layer(axum::middleware::from_fn(
                move |request: Request, next: axum::middleware::Next| async move {
                    match tokio::time::timeout(request_timeout, next.run(request)).await {
                        Ok(response) => response,
                        Err(_) => axum::response::IntoResponse::into_response(
                            zulip_api::api_errors::ApiError::Timeout,
                        ),
                    }
                },
            ))
            .with_state(state);

        let panicked = app
            .clone()
            .oneshot(Request::get("/panic").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let after = app
            .oneshot(Request::get("/ok").body(Body::empty()).unwrap())
            .await
            .unwrap();

        assert_eq!(panicked.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(panicked.headers()[header::CONTENT_TYPE], "application/json");
        let body = panicked.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            &body[..],
            b"{\"result\":\"error\",\"msg\":\"Internal server error\"}\n"
        );
        assert_eq!(after.status(), StatusCode::OK);
    }
}
