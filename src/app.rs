//! The whole application as one service: the fast path (`zulip_api::fast_path`) for what clients
//! poll most, the router for everything else, and one log line per request.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::Request;
use axum::http::{self, StatusCode};
use axum::Router;
use tracing::Level;

use crate::app_state::AppState;
use crate::zulip_api::authentication::RequestServer;
use crate::zulip_api::responses::AppBody;
use crate::{internal_error_for_panic, test_control, zulip_api, zulip_api::authentication};

/// The whole application as one service: a realm named in the path (`/__realm/<subdomain>/...`)
/// is taken off first; then `zulip_api::fast_path` answers what clients poll most, and the router
/// everything else. Each request is logged once, when its response is ready.
#[derive(Clone)]
pub struct App {
    state: AppState,
    router: Router,
    fast_path: bool,
    /// How many requests the fast path answered.
    fast_answers: Arc<AtomicU64>,
    /// The admin token, which log lines must not show (shared only when one is set).
    admin_token: Option<Arc<str>>,
}

impl App {
    /// The application answering with `router`, or the fast path where it can.
    pub(crate) fn new(state: AppState, router: Router) -> Self {
        Self {
            admin_token: state.admin_token().map(Arc::from),
            state,
            router,
            fast_path: true,
            fast_answers: Arc::default(),
        }
    }

    /// How many requests the fast path has answered (the rest went through the router): a
    /// test checks that the polled request takes it.
    pub fn fast_path_answers(&self) -> u64 {
        self.fast_answers.load(Ordering::Relaxed)
    }

    /// The same application with every request going through the router, to compare the
    /// fast path with.
    pub fn without_fast_path(self) -> Self {
        Self {
            fast_path: false,
            ..self
        }
    }

    /// Answers `request`: the fast path, or the router.
    fn respond<B>(&self, request: Request<B>) -> AppFuture
    where
        B: http_body::Body<Data = axum::body::Bytes> + Send + 'static,
        B::Error: Into<axum::BoxError>,
    {
        let request = authentication::strip_realm_prefix(request);
        // A fast answer is a success, logged at debug level only: most of the time there is
        // nothing to time.
        let fast_start = tracing::enabled!(Level::DEBUG).then(Instant::now);
        let fast = std::panic::catch_unwind(AssertUnwindSafe(|| {
            self.fast_path
                .then(|| zulip_api::fast_path(&self.state, &request))
                .flatten()
        }));
        match fast {
            Ok(Some(response)) => {
                self.fast_answers.fetch_add(1, Ordering::Relaxed);
                AppFuture {
                    answer: Answer::Ready(Some(response.map(AppBody::OneFrame))),
                    log: fast_start.and_then(|start| {
                        RequestLog::start_at(&request, start, self.admin_token.clone())
                    }),
                }
            }
            Ok(None) => {
                let log = RequestLog::start(&request, self.admin_token.clone());
                let mut request = request.map(axum::body::Body::new);
                // One snapshot of the server's settings for the whole request.
                request
                    .extensions_mut()
                    .insert(RequestServer(self.state.store.server()));
                AppFuture {
                    answer: Answer::Routed(tower::Service::call(&mut self.router.clone(), request)),
                    log,
                }
            }
            Err(panic) => AppFuture {
                answer: Answer::Ready(Some(internal_error_for_panic(panic).map(AppBody::Routed))),
                log: RequestLog::start(&request, self.admin_token.clone()),
            },
        }
    }
}

/// For tests (`oneshot`) and tower.
impl<B> tower::Service<Request<B>> for App
where
    B: http_body::Body<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = http::Response<AppBody>;
    type Error = Infallible;
    type Future = AppFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The router is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> AppFuture {
        self.respond(request)
    }
}

/// For the serve loop: hyper calls a connection's service by reference, so no request clones
/// the application (a tower service is cloned for each request, which makes both cores write
/// every shared reference count in it).
impl hyper::service::Service<Request<hyper::body::Incoming>> for App {
    type Response = http::Response<AppBody>;
    type Error = Infallible;
    type Future = AppFuture;

    fn call(&self, request: Request<hyper::body::Incoming>) -> AppFuture {
        self.respond(request)
    }
}

/// The response future of `App`.
pub struct AppFuture {
    answer: Answer,
    log: Option<RequestLog>,
}

enum Answer {
    Ready(Option<http::Response<AppBody>>),
    Routed(axum::routing::future::RouteFuture<Infallible>),
}

impl Future for AppFuture {
    type Output = Result<http::Response<AppBody>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response = match &mut self.answer {
            Answer::Ready(response) => {
                let mut response = response.take().expect("polled after completion");
                // As the router does for every response it gives.
                set_content_length(&mut response);
                response
            }
            Answer::Routed(future) => match Pin::new(future).poll(cx) {
                Poll::Ready(Ok(mut response)) => {
                    crate::zulip_api::strip_allow(&mut response);
                    response.map(AppBody::Routed)
                }
                Poll::Ready(Err(never)) => match never {},
                Poll::Pending => return Poll::Pending,
            },
        };
        if let Some(log) = self.log.take() {
            log.finish(response.status());
        }
        Poll::Ready(Ok(response))
    }
}

/// Gives `response` the `Content-Length` of its body when that is known and the header is not
/// set, as axum's router does.
fn set_content_length<B: http_body::Body>(response: &mut http::Response<B>) {
    if response
        .headers()
        .contains_key(axum::http::header::CONTENT_LENGTH)
    {
        return;
    }
    if let Some(size) = response.body().size_hint().exact() {
        response.headers_mut().insert(
            axum::http::header::CONTENT_LENGTH,
            axum::http::HeaderValue::from(size),
        );
    }
}

/// One log line per request, written when its response is ready: method, path, status and
/// latency, never headers (credentials) or queries. Errors (status 400 and up) are logged at
/// info level; the rest at debug level, since a busy test run makes thousands of them and the
/// journal (`/__admin/requests`) keeps them anyway.
struct RequestLog {
    start: Instant,
    method: axum::http::Method,
    /// The request's URI, of which only the path is logged (a cheap copy: it shares the bytes).
    uri: axum::http::Uri,
    /// Health checks (every few seconds in a container) are only ever logged at debug level.
    health: bool,
    /// The admin token, scrubbed from the logged path with anything shaped like an API key.
    admin_token: Option<Arc<str>>,
}

impl RequestLog {
    /// Starts timing `request` now; `None` when its line would be filtered out whatever the
    /// status.
    fn start<B>(request: &http::Request<B>, admin_token: Option<Arc<str>>) -> Option<Self> {
        Self::enabled_for(request).then(|| Self::timed_from(request, Instant::now(), admin_token))
    }

    /// As `start`, for a request that started at `start`.
    fn start_at<B>(
        request: &http::Request<B>,
        start: Instant,
        admin_token: Option<Arc<str>>,
    ) -> Option<Self> {
        Self::enabled_for(request).then(|| Self::timed_from(request, start, admin_token))
    }

    fn enabled_for<B>(request: &http::Request<B>) -> bool {
        if request.uri().path() == test_control::HEALTH_PATH {
            tracing::enabled!(Level::DEBUG)
        } else {
            tracing::enabled!(Level::INFO)
        }
    }

    fn timed_from<B>(
        request: &http::Request<B>,
        start: Instant,
        admin_token: Option<Arc<str>>,
    ) -> Self {
        Self {
            start,
            method: request.method().clone(),
            uri: request.uri().clone(),
            health: request.uri().path() == test_control::HEALTH_PATH,
            admin_token,
        }
    }

    fn finish(self, status: StatusCode) {
        let Self {
            start,
            method,
            uri,
            health,
            admin_token,
        } = self;
        let path =
            crate::test_control::request_journal::scrub_path(uri.path(), admin_token.as_deref());
        let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
        let status = status.as_u16();
        if status >= 400 && !health {
            tracing::info!(%method, %path, status, latency_ms, "finished processing request");
        } else {
            tracing::debug!(%method, %path, status, latency_ms, "finished processing request");
        }
    }
}
