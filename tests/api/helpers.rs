//! Shared test helpers: a `TestApp` around `build_app` with a frozen clock, request builders
//! and whole-response assertions.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use base64::Engine as _;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use zulip_presence_mock::App;
use zulip_presence_mock::{build_app, AppState};
use zulip_presence_mock::{Clock, ClockMode, Timestamp};
use zulip_presence_mock::{Fixture, DEFAULT_FIXTURE};
use zulip_presence_mock::{Options, RealmPresenceIgnoredParameters};

/// The frozen "now" of every test: 2023-11-14T22:13:20.25Z.
pub const NOW_MICROS: i64 = 1_700_000_000_250_000;
/// `NOW_MICROS` in whole seconds.
pub const NOW: i64 = 1_700_000_000;
/// `server_timestamp` at `NOW_MICROS`.
pub const SERVER_TIMESTAMP: f64 = 1_700_000_000.25;

/// A user of the default fixture: API email (or delivery email) and API key.
#[derive(Clone, Copy, Debug)]
pub struct Credentials {
    pub email: &'static str,
    pub api_key: &'static str,
}

pub const DESDEMONA: Credentials = Credentials {
    email: "desdemona@zulip.com",
    api_key: "hs0gCa05RFRunzqw7wZyVGOeUvfJIssD",
};
pub const IAGO: Credentials = Credentials {
    email: "iago@zulip.com",
    api_key: "huG8GP38g4o5MNJAYKJ1UXXFWXLCpaNf",
};
pub const HAMLET: Credentials = Credentials {
    email: "hamlet@zulip.com",
    api_key: "j4PTTKtb2TxxDBfz5LJF3hBGZW3M4Fz6",
};
pub const POLONIUS: Credentials = Credentials {
    email: "polonius@zulip.com",
    api_key: "6afaCLI71fNYmphNcWI9rQWOwjauQLKX",
};
pub const OPHELIA: Credentials = Credentials {
    email: "ophelia@zulip.com",
    api_key: "783FSU8iIoELi9M4SGsfAQk7iYY6LtGA",
};
pub const WELCOME_BOT: Credentials = Credentials {
    email: "welcome-bot@zulip.com",
    api_key: "yZjHZmya9gy4ed1wPw7X8bbGEuRtCu6h",
};
/// Zoe's API email is `user11@zulip.localhost`; she authenticates with her delivery email.
pub const ZOE: Credentials = Credentials {
    email: "ZOE@zulip.com",
    api_key: "dC3WPmETR4biPHnY4H59ikQ2lyrBIA3f",
};
pub const KING: Credentials = Credentials {
    email: "king@lear.org",
    api_key: "F8DKNZkjLHnBNvDMoRTeJzcmP6lcPI71",
};

/// The app under test, seeded from a fixture at the frozen clock.
pub struct TestApp {
    service: App,
    clock: Clock,
    /// The app's shared state, for settings tests change directly (event queue timings).
    pub state: AppState,
}

impl TestApp {
    /// The app on the built-in default fixture.
    pub fn new() -> Self {
        Self::from_fixture_json(&default_fixture_json())
    }

    /// The app on the given fixture (panics if it is invalid).
    pub fn from_fixture_json(fixture: &Value) -> Self {
        Self::with_options(fixture, Options::default())
    }

    /// The app on the given fixture with the given options.
    pub fn with_options(fixture: &Value, options: Options) -> Self {
        let fixture =
            Fixture::parse("test fixture", &fixture.to_string()).expect("valid test fixture");
        let clock = Clock::frozen(Timestamp::from_unix_micros(NOW_MICROS));
        let state = AppState::new(fixture, clock.clone(), options);
        Self {
            service: build_app(state.clone()),
            clock,
            state,
        }
    }

    /// The same app with every request going through the router (no fast path).
    pub fn without_fast_path(self) -> Self {
        Self {
            service: self.service.without_fast_path(),
            ..self
        }
    }

    /// How many requests the fast path has answered.
    pub fn fast_path_answers(&self) -> u64 {
        self.service.fast_path_answers()
    }

    /// The default fixture on a server at feature `level`, with that level's version.
    pub fn at_feature_level(level: u32) -> Self {
        Self::from_fixture_json(&default_fixture_at_feature_level(level))
    }

    /// The default fixture with `realm_presence_ignored_parameters = omitted`.
    pub fn omitting_realm_presence_ignored_parameters() -> Self {
        Self::with_options(
            &default_fixture_json(),
            Options {
                realm_presence_ignored_parameters: RealmPresenceIgnoredParameters::Omitted,
                ..Options::default()
            },
        )
    }

    /// Starts a request.
    pub fn request(&self, method: Method, uri: &str) -> TestRequest<'_> {
        TestRequest {
            app: self,
            builder: Request::builder().method(method).uri(uri),
            body: Body::empty(),
        }
    }

    /// `GET /api/v1/realm/presence` as `user`.
    pub async fn get_realm_presence(&self, user: Credentials) -> TestResponse {
        self.request(Method::GET, "/api/v1/realm/presence")
            .basic_auth(user)
            .send()
            .await
    }

    /// Freezes the clock at `seconds_from_now` from `NOW_MICROS` (negative: earlier).
    pub fn set_clock(&self, seconds_from_now: i64) {
        let at = Timestamp::from_unix_micros(NOW_MICROS).plus_seconds(seconds_from_now);
        self.clock.set_mode(ClockMode::Frozen(at));
    }

    /// Moves the frozen clock by `seconds`.
    pub fn advance(&self, seconds: i64) {
        let now = self.clock.now().plus_seconds(seconds);
        self.clock.set_mode(ClockMode::Frozen(now));
    }

    /// `POST /api/v1/users/me/presence` as `user` with this urlencoded body.
    pub async fn post_presence(&self, user: Credentials, form: &str) -> TestResponse {
        self.request(Method::POST, "/api/v1/users/me/presence")
            .basic_auth(user)
            .form(form)
            .send()
            .await
    }

    /// `GET /api/v1/users/{user_id_or_email}/presence` as `user`.
    pub async fn get_user_presence(
        &self,
        user: Credentials,
        user_id_or_email: &str,
    ) -> TestResponse {
        self.request(
            Method::GET,
            &format!("/api/v1/users/{user_id_or_email}/presence"),
        )
        .basic_auth(user)
        .send()
        .await
    }

    /// An admin API request with an optional JSON body.
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> TestResponse {
        let request = self.request(method, path);
        match body {
            Some(body) => {
                request
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(body.to_string())
                    .send()
                    .await
            }
            None => request.send().await,
        }
    }

    /// `GET /api/v1/realm/presence` as `user` on `host`.
    pub async fn get_realm_presence_on(&self, host: &str, user: Credentials) -> TestResponse {
        self.request(Method::GET, "/api/v1/realm/presence")
            .host(host)
            .basic_auth(user)
            .send()
            .await
    }

    /// `GET /api/v1/server_settings` without credentials.
    pub async fn get_server_settings(&self) -> TestResponse {
        self.request(Method::GET, "/api/v1/server_settings")
            .send()
            .await
    }
}

/// A request being built.
pub struct TestRequest<'a> {
    app: &'a TestApp,
    builder: axum::http::request::Builder,
    body: Body,
}

impl TestRequest<'_> {
    pub fn header(
        mut self,
        name: impl TryInto<HeaderName, Error: std::fmt::Debug>,
        value: &str,
    ) -> Self {
        self.builder = self.builder.header(
            name.try_into().unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
        self
    }

    /// `Authorization: Basic base64(email:api_key)`.
    pub fn basic_auth(self, user: Credentials) -> Self {
        self.authorization(&basic(&format!("{}:{}", user.email, user.api_key)))
    }

    pub fn authorization(self, value: &str) -> Self {
        self.header(header::AUTHORIZATION, value)
    }

    pub fn host(self, host: &str) -> Self {
        self.header(header::HOST, host)
    }

    /// An `application/x-www-form-urlencoded` body.
    pub fn form(mut self, body: &str) -> Self {
        self = self.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        self.body = Body::from(body.to_owned());
        self
    }

    /// A `multipart/form-data` body with these text fields.
    pub fn multipart(mut self, fields: &[(&str, &str)]) -> Self {
        let boundary = "----zulipmocktestboundary";
        let mut body = String::new();
        for (name, value) in fields {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        self = self.header(
            header::CONTENT_TYPE,
            &format!("multipart/form-data; boundary={boundary}"),
        );
        self.body = Body::from(body);
        self
    }

    /// A raw body.
    pub fn body(mut self, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self
    }

    pub async fn send(self) -> TestResponse {
        let request = self.builder.body(self.body).unwrap();
        let response = self.app.service.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        TestResponse {
            status,
            headers,
            bytes,
        }
    }
}

/// A whole response.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
}

impl TestResponse {
    /// The body as JSON (panics if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|err| {
            panic!(
                "body is not JSON ({err}): {:?}",
                String::from_utf8_lossy(&self.bytes)
            )
        })
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.bytes.clone()).unwrap()
    }

    /// Every header as (name, value) pairs, sorted, without `content-length`.
    pub fn header_list(&self) -> Vec<(String, String)> {
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .filter(|(name, _)| *name != header::CONTENT_LENGTH)
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
            .collect();
        headers.sort();
        headers
    }

    /// Asserts the status, the exact body text (compact JSON plus Zulip's trailing newline) and
    /// every header.
    pub fn assert_json(
        &self,
        status: StatusCode,
        body: Value,
        headers: &[(&str, impl AsRef<str>)],
    ) {
        assert_eq!(self.status, status, "status; body: {}", self.text());
        assert_eq!(self.text(), format!("{body}\n"), "body");
        self.assert_headers(headers);
    }

    /// Asserts the default realm's whole presence as every unlimited user sees it at `NOW`.
    pub fn assert_everyone_listed(&self) {
        self.assert_json(
            StatusCode::OK,
            realm_presence_body(everyone_in_the_default_realm()),
            JSON_NEVER_CACHE,
        );
    }

    /// Asserts the status, the whole JSON body (as a value) and every header of an admin
    /// response.
    pub fn assert_admin(&self, status: StatusCode, body: Value) {
        assert_eq!(self.status, status, "status; body: {}", self.text());
        assert_eq!(self.json(), body, "body");
        self.assert_headers(JSON);
    }

    /// Asserts every header but `content-length`.
    pub fn assert_headers(&self, expected: &[(&str, impl AsRef<str>)]) {
        let mut expected: Vec<(String, String)> = expected
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_ref().to_owned()))
            .collect();
        expected.sort();
        assert_eq!(self.header_list(), expected, "headers");
    }
}

/// The default fixture as JSON, for tests that change one thing in it.
/// The default fixture on a server at feature `level`, with that level's version.
pub fn default_fixture_at_feature_level(level: u32) -> Value {
    let mut fixture = default_fixture_json();
    let server = fixture["server"].as_object_mut().unwrap();
    server.insert("feature_level".to_owned(), serde_json::json!(level));
    server.remove("zulip_version");
    server.remove("zulip_merge_base");
    fixture
}

/// Gives Hamlet's presence in the default `fixture` per client: the web app active ten minutes
/// ago, the mobile app (push-capable) half a minute ago.
pub fn give_hamlet_two_clients(fixture: &mut Value) {
    let rows = fixture["realms"][0]["presence"].as_array_mut().unwrap();
    let hamlet = rows.iter_mut().find(|row| row["user_id"] == 3).unwrap();
    *hamlet = serde_json::json!({"user_id": 3, "clients": [
        {"client": "ZulipMobile", "status": "active", "timestamp": "-30s", "pushable": true},
        {"client": "website", "status": "active", "timestamp": "-10m", "pushable": true},
    ]});
}

pub fn default_fixture_json() -> Value {
    serde_json::from_str(DEFAULT_FIXTURE).unwrap()
}

/// `Basic base64(text)`.
pub fn basic(text: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}

/// Headers of a JSON success or error returned by the view through `rest_dispatch`.
pub const JSON_NEVER_CACHE: &[(&str, &str)] = &[
    ("content-type", "application/json"),
    ("expires", "Tue, 14 Nov 2023 22:13:20 GMT"),
    (
        "cache-control",
        "max-age=0, no-cache, no-store, must-revalidate, private",
    ),
];

/// `JSON_NEVER_CACHE` after the frozen clock moved on by `seconds_later`.
pub fn json_never_cache(seconds_later: i64) -> [(&'static str, String); 3] {
    let expires = time::OffsetDateTime::from_unix_timestamp(NOW + seconds_later).unwrap();
    let expires = format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        &expires.weekday().to_string()[..3],
        expires.day(),
        &expires.month().to_string()[..3],
        expires.year(),
        expires.hour(),
        expires.minute(),
        expires.second()
    );
    [
        ("content-type", "application/json".to_owned()),
        ("expires", expires),
        (
            "cache-control",
            "max-age=0, no-cache, no-store, must-revalidate, private".to_owned(),
        ),
    ]
}

/// Headers of a JSON error raised before the view (authentication).
pub const JSON_UNAUTHORIZED: &[(&str, &str)] = &[
    ("content-type", "application/json"),
    ("www-authenticate", "Basic realm=\"zulip\""),
];

/// Headers of a plain JSON response.
pub const JSON: &[(&str, &str)] = &[("content-type", "application/json")];

/// A user's legacy presence entry as Zulip sends it.
pub fn legacy(status: &str, timestamp: i64) -> Value {
    serde_json::json!({
        "aggregated": { "client": "website", "status": status, "timestamp": timestamp },
        "website": { "client": "website", "status": status, "timestamp": timestamp, "pushable": false },
    })
}

/// A small realm for presence updates, with these presence rows: reader (1), alice (2), bob (3),
/// a bot (4), quiet (5, presence_enabled off), gus (6, a guest who shares a channel with
/// alice only) and nobody (7). Everyone joined `NOW - 10,000,000 s`; the access limit is on.
pub fn lab_fixture(presence: Value) -> Value {
    let user = |id: u64, name: &str, extra: Value| {
        let mut user = serde_json::json!({
            "user_id": id, "email": format!("{name}@example.com"), "full_name": name,
            "date_joined": NOW - 10_000_000, "api_key": format!("{name:0<32}"),
        });
        user.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        user
    };
    serde_json::json!({
        "server": { "CAN_ACCESS_ALL_USERS_GROUP_LIMITS_PRESENCE": true },
        "realms": [{
            "subdomain": "", "name": "Lab", "can_access_all_users_group": "members",
            "users": [
                user(1, "reader", serde_json::json!({})),
                user(2, "alice", serde_json::json!({})),
                user(3, "bob", serde_json::json!({})),
                user(4, "bot", serde_json::json!({ "is_bot": true })),
                user(5, "quiet", serde_json::json!({ "presence_enabled": false })),
                user(6, "gus", serde_json::json!({ "role": "guest" })),
                user(7, "nobody", serde_json::json!({})),
            ],
            "channels": [{ "name": "garden", "subscribers": [2, 6] }],
            "presence": presence,
        }],
    })
}

/// A user of `lab_fixture`.
pub fn lab(name: &'static str) -> Credentials {
    let key: &'static str = Box::leak(format!("{name:0<32}").into_boxed_str());
    let email: &'static str = Box::leak(format!("{name}@example.com").into_boxed_str());
    Credentials {
        email,
        api_key: key,
    }
}

/// A success body with these fields after `result` and `msg`.
pub fn success_with(fields: Value) -> Value {
    let mut body = serde_json::json!({ "result": "success", "msg": "" });
    body.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    body
}

/// A 400 `BAD_REQUEST` body.
pub fn bad_request(msg: &str) -> Value {
    serde_json::json!({ "result": "error", "msg": msg, "code": "BAD_REQUEST" })
}

/// A user's modern presence entry.
pub fn modern(active_timestamp: i64, idle_timestamp: i64) -> Value {
    serde_json::json!({ "active_timestamp": active_timestamp, "idle_timestamp": idle_timestamp })
}

/// The presences every unlimited user of the default realm sees at `NOW`.
pub fn everyone_in_the_default_realm() -> Value {
    serde_json::json!({
        "cordelia@zulip.com": legacy("active", NOW - 7 * 86_400),
        "desdemona@zulip.com": legacy("idle", NOW - 300),
        "hamlet@zulip.com": legacy("active", NOW - 80),
        "iago@zulip.com": legacy("active", NOW - 10),
        "othello@zulip.com": legacy("idle", NOW - 20),
        "polonius@zulip.com": legacy("active", NOW - 40),
        "user11@zulip.localhost": legacy("idle", NOW - 7_200),
    })
}

/// A realm-presence success body at `NOW`.
pub fn realm_presence_body(presences: Value) -> Value {
    serde_json::json!({
        "result": "success",
        "msg": "",
        "presences": presences,
        "server_timestamp": SERVER_TIMESTAMP,
    })
}

/// `POST /api/v1/register` as `user` with a form body.
pub async fn register(app: &TestApp, user: Credentials, form: &str) -> TestResponse {
    app.request(Method::POST, "/api/v1/register")
        .basic_auth(user)
        .form(form)
        .send()
        .await
}

/// The id of a queue `user` registers with a form body.
pub async fn queue_of(app: &TestApp, user: Credentials, form: &str) -> String {
    let response = register(app, user, form).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()["queue_id"].as_str().unwrap().to_owned()
}

/// A `/register` body of the default server's first queue: `state` between the versions and
/// `last_event_id`, in Zulip's order.
pub fn register_body(state: Value) -> Value {
    let mut body = serde_json::json!({
        "result": "success", "msg": "",
        "queue_id": format!("{NOW}:0"),
        "zulip_version": "12.0-dev+git", "zulip_feature_level": 509,
        "zulip_merge_base": "12.0-dev+git",
    });
    let fields = body.as_object_mut().unwrap();
    fields.extend(state.as_object().unwrap().clone());
    fields.insert("last_event_id".to_owned(), serde_json::json!(-1));
    fields.insert("idle_queue_timeout_secs".to_owned(), serde_json::json!(600));
    body
}
