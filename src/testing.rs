//! The mock inside a Rust test: `MockZulip::start().await` serves the mock on a free port of
//! 127.0.0.1 in the test's own runtime, and its handle does what tests do (a realm per test,
//! presence rows, the clock, the request journal, faults, reset) without HTTP. Dropping the
//! handle stops the server.
//!
//! ```
//! use zulip_presence_mock::testing::MockZulip;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let mock = MockZulip::start().await;
//! // Point the client under test at `mock.url()` (the default fixture's realm) ...
//! assert!(mock.url().starts_with("http://127.0.0.1:"));
//! // ... or at a realm of its own, made for this test.
//! let realm = mock.new_realm(3).await;
//! assert_eq!(realm.site(), format!("{}/__realm/{}", mock.url(), realm.subdomain()));
//! assert_eq!(realm.user(2).email, "user2@example.com");
//! # }
//! ```
//!
//! Everything here goes through the admin API (docs/admin-api.md) in-process, so a handle call
//! is checked and answered exactly as the same HTTP request would be; a refused one panics
//! with the admin API's answer, failing the test. The serve loop is the binary's own (`run`);
//! nothing of this module is on its request path.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use crate::test_control::request_journal::{Entry as JournalEntry, EntryUser};

use crate::domain::clock::TimeSpec;
use crate::{build_app, run, App, AppBody, AppState, Clock, Fixture, FixtureError, Options};

/// docs/test-suites.md, whose Rust example compiles as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../docs/test-suites.md")]
pub struct TestSuitesPage;

/// A running mock; dropping it stops the server (connections in flight get the usual grace).
pub struct MockZulip {
    url: String,
    app: App,
    state: AppState,
    realms_made: AtomicU64,
    stop: Option<oneshot::Sender<()>>,
}

/// How to start a mock: its fixture, clock and options. `MockZulip::builder()` makes one.
pub struct MockZulipBuilder {
    fixture: Result<Fixture, FixtureError>,
    clock: Clock,
    options: Options,
}

impl MockZulip {
    /// The mock on its built-in default fixture, with the system clock.
    ///
    /// # Panics
    /// When no port of 127.0.0.1 can be bound.
    pub async fn start() -> Self {
        Self::builder()
            .start()
            .await
            .expect("the default fixture is valid")
    }

    /// A builder for a mock on another fixture, clock or options.
    ///
    /// ```
    /// use zulip_presence_mock::testing::MockZulip;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let fixture = r#"{"realms": [{"subdomain": "", "name": "Test", "users": [
    ///     {"user_id": 1, "email": "ann@example.com", "full_name": "Ann",
    ///      "api_key": "AnnAnnAnnAnnAnnAnnAnnAnnAnnAnnAn"}]}]}"#;
    /// let mock = MockZulip::builder()
    ///     .fixture_json(fixture)
    ///     .frozen_at("2026-01-01T00:00:00Z")
    ///     .start()
    ///     .await
    ///     .unwrap();
    /// assert_eq!(mock.now(), 1_767_225_600.0);
    ///
    /// // A bad fixture is refused with its JSON path, as at start-up.
    /// let refused = MockZulip::builder().fixture_json(r#"{"realms": 1}"#).start().await;
    /// assert!(refused.err().unwrap().to_string().contains("realms"));
    /// # }
    /// ```
    pub fn builder() -> MockZulipBuilder {
        MockZulipBuilder {
            fixture: Ok(Fixture::default_fixture()),
            clock: Clock::system(),
            options: Options::default(),
        }
    }

    /// The server's base URL, `http://127.0.0.1:<port>`: the site of the fixture's root realm.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The shared state, for what the handle does not cover.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// A new realm of `users` generated users with no presence rows, on a subdomain no other
    /// realm of this mock has: users `user<N>@example.com` (N from 1), as
    /// `POST /__admin/realms` with `generate` makes them.
    pub async fn new_realm(&self, users: u32) -> TestRealm {
        loop {
            let n = self.realms_made.fetch_add(1, Ordering::Relaxed) + 1;
            let subdomain = format!("test{n}");
            let body =
                json!({"subdomain": subdomain, "generate": {"users": users, "presence": "none"}});
            let (status, answer) = self
                .admin(Method::POST, "/__admin/realms", Some(body))
                .await;
            match status {
                // The test made a realm of that name itself: take the next one.
                StatusCode::CONFLICT => continue,
                StatusCode::CREATED => {
                    return TestRealm {
                        site: format!("{}/__realm/{subdomain}", self.url),
                        subdomain,
                        users,
                    }
                }
                _ => panic!("the mock's admin API refused POST /__admin/realms: {status} {answer}"),
            }
        }
    }

    /// Sets `user_id`'s presence row in the realm on `subdomain` (`""` for the root realm), in
    /// fixture times: UNIX seconds, RFC 3339, or relative to the server clock (`"-30s"`,
    /// `"now"`). It takes the realm's next update id, as a report would.
    pub async fn set_presence(
        &self,
        subdomain: &str,
        user_id: u64,
        last_connected_time: &str,
        last_active_time: &str,
    ) {
        let path = format!(
            "/__admin/realms/{}/presence/{user_id}",
            realm_segment(subdomain)
        );
        let body = json!({"last_connected_time": last_connected_time, "last_active_time": last_active_time});
        self.expect(Method::PUT, &path, Some(body)).await;
    }

    /// The server clock, in UNIX seconds.
    pub fn now(&self) -> f64 {
        self.state.clock.now().unix_seconds_f64()
    }

    /// Freezes the server clock at `at` (UNIX seconds, RFC 3339 or relative, as a fixture).
    pub async fn freeze_clock(&self, at: &str) {
        self.expect(
            Method::POST,
            "/__admin/time/freeze",
            Some(json!({"at": at})),
        )
        .await;
    }

    /// Moves the server clock by `by` (`"90s"`, `"-5m"`, `"2d"`); a running clock keeps running.
    pub async fn advance_clock(&self, by: &str) {
        self.expect(
            Method::POST,
            "/__admin/time/advance",
            Some(json!({"by": by})),
        )
        .await;
    }

    /// The journalled requests that `filter` matches, oldest first. The filter is the admin
    /// API's query string (`"realm=test1&path=/api/v1/users/me/presence"`; `""` for all).
    pub async fn journal(&self, filter: &str) -> Vec<JournalEntry> {
        let listing = self
            .expect(Method::GET, &format!("/__admin/requests?{filter}"), None)
            .await;
        let requests = listing.get("requests").cloned().unwrap_or_default();
        serde_json::from_value(requests).expect("the journal lists entries")
    }

    /// How many journalled requests `filter` matches (the filter as for `journal`).
    pub async fn journal_count(&self, filter: &str) -> u64 {
        let count = self
            .expect(
                Method::GET,
                &format!("/__admin/requests/count?{filter}"),
                None,
            )
            .await;
        count["count"].as_u64().expect("a count")
    }

    /// Installs a fault (the admin API's fault format, docs/admin-api.md#faults) and returns
    /// its id.
    ///
    /// ```
    /// use serde_json::json;
    /// use zulip_presence_mock::testing::MockZulip;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mock = MockZulip::start().await;
    /// let id = mock
    ///     .install_fault(json!({"path": "/api/v1/realm/presence", "error": {"status": 500}, "times": 1}))
    ///     .await;
    /// assert_eq!(id, 1);
    /// mock.remove_fault(id).await;
    /// # }
    /// ```
    pub async fn install_fault(&self, fault: Value) -> u64 {
        let installed = self
            .expect(Method::POST, "/__admin/faults", Some(fault))
            .await;
        installed["id"].as_u64().expect("a fault id")
    }

    /// Removes the fault `id`.
    pub async fn remove_fault(&self, id: u64) {
        self.expect(Method::DELETE, &format!("/__admin/faults/{id}"), None)
            .await;
    }

    /// Everything back to the loaded fixture (`POST /__admin/reset`): created realms go, the
    /// clock returns to its start, faults and the journal are emptied.
    pub async fn reset(&self) {
        self.expect(Method::POST, "/__admin/reset", None).await;
        self.realms_made.store(0, Ordering::Relaxed);
    }

    /// Sends one admin request in-process; panics unless it succeeds.
    async fn expect(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.admin(method.clone(), path, body).await;
        assert!(
            status.is_success(),
            "the mock's admin API refused {method} {path}: {status} {answer}"
        );
        answer
    }

    /// Sends one admin request (docs/admin-api.md) in-process, for what the other helpers do
    /// not cover: its status and JSON body (`null` when empty). `path` starts `/__admin`.
    pub async fn admin(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = self.state.admin_token() {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .expect("an admin request");
        let mut app = self.app.clone();
        let Ok(response) = tower::Service::call(&mut app, request).await;
        let status = response.status();
        let bytes = collect(response.into_body()).await;
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("the admin API answers JSON")
        };
        (status, json)
    }
}

impl Drop for MockZulip {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl MockZulipBuilder {
    /// Serves this fixture (a fixture file's text, docs/fixture-format.md) instead of the
    /// default one. A bad one makes `start` fail with its JSON path.
    pub fn fixture_json(mut self, text: &str) -> Self {
        self.fixture = Fixture::parse("fixture", text);
        self
    }

    /// Serves this fixture instead of the default one.
    pub fn fixture(mut self, fixture: Fixture) -> Self {
        self.fixture = Ok(fixture);
        self
    }

    /// Starts with the clock frozen at `at` (RFC 3339, `now`, or relative to now: `"-1h"`). A
    /// reset returns it there.
    ///
    /// # Panics
    /// When `at` is not a time.
    pub fn frozen_at(mut self, at: &str) -> Self {
        let at = TimeSpec::parse(at)
            .unwrap_or_else(|err| panic!("frozen_at({at:?}): {err}"))
            .at(Clock::system().now());
        self.clock = Clock::frozen(at);
        self
    }

    /// The options the binary's command line sets (feature level, admin token, journal size,
    /// rate limit, limits).
    pub fn options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// Starts the mock on a free port of 127.0.0.1, in the current Tokio runtime. It accepts
    /// connections as soon as this returns.
    ///
    /// # Panics
    /// When no port of 127.0.0.1 can be bound, or outside a Tokio runtime.
    pub async fn start(self) -> Result<MockZulip, FixtureError> {
        let state = AppState::new(self.fixture?, self.clock, self.options);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port of 127.0.0.1");
        let address = listener.local_addr().expect("a bound address");
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(run(listener, state.clone(), async move {
            let _ = stopped.await;
        }));
        Ok(MockZulip {
            url: format!("http://{address}"),
            app: build_app(state.clone()),
            state,
            realms_made: AtomicU64::new(0),
            stop: Some(stop),
        })
    }
}

/// A realm made for one test by `MockZulip::new_realm`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestRealm {
    subdomain: String,
    site: String,
    users: u32,
}

/// A user's credentials: what a client is given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub email: String,
    pub api_key: String,
}

impl TestRealm {
    /// The realm's subdomain (the admin API's name for it).
    pub fn subdomain(&self) -> &str {
        &self.subdomain
    }

    /// The realm's site for a client: the mock's URL with the realm in the path
    /// (`/__realm/<subdomain>`), so no Host header is needed.
    pub fn site(&self) -> &str {
        &self.site
    }

    /// User `n`'s credentials (`user<n>@example.com`, key `key` + n in 29 digits).
    ///
    /// # Panics
    /// When the realm has no user `n`.
    pub fn user(&self, n: u32) -> Credentials {
        assert!(
            (1..=self.users).contains(&n),
            "realm {} has users 1 to {}, not {n}",
            self.subdomain,
            self.users
        );
        Credentials {
            email: format!("user{n}@example.com"),
            api_key: format!("key{n:029}"),
        }
    }
}

/// The whole of an in-process response body.
async fn collect(body: AppBody) -> Vec<u8> {
    use bytes::Buf as _;
    use http_body::Body as _;
    let mut body = std::pin::pin!(body);
    let mut bytes = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        if let Ok(mut data) = frame.expect("an in-process body").into_data() {
            while data.has_remaining() {
                let chunk = data.chunk();
                bytes.extend_from_slice(chunk);
                let read = chunk.len();
                data.advance(read);
            }
        }
    }
    bytes
}

/// A subdomain as an admin path segment (`_root` for the root domain).
fn realm_segment(subdomain: &str) -> &str {
    if subdomain.is_empty() {
        "_root"
    } else {
        subdomain
    }
}
