//! Stubs: answers a test gives for Zulip API endpoints the mock does not serve (messages,
//! channels, emoji...), so that a client can run end to end. A stub answers one method and path
//! (exact, or with `{name}` segments), in one realm or all, optionally only for one user or for
//! requests carrying given parameters, with a status and a JSON body, for the next N requests
//! or until removed. The first matching stub wins. No HTTP here: `routes/unserved.rs` answers
//! with them.
//!
//! What the mock serves is never stubbed: a stub that would shadow a served endpoint is refused.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The most stubs installed at once (fixture and admin API together).
pub(crate) const MAX_STUBS: usize = 1_000;

/// The largest stub body, serialised.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Every stubbed path starts with this: stubs answer Zulip's REST API only.
pub(crate) const API_PREFIX: &str = "/api/v1/";

/// The methods a stub may answer (HEAD follows GET, as in Zulip's `rest_dispatch`).
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

/// One stub as a fixture or the admin API gives it.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StubSpec {
    /// GET (which also answers HEAD), POST, PUT, PATCH or DELETE.
    pub method: String,
    /// `/api/v1/...`, exact, or with `{name}` segments that match any one segment.
    pub path: String,
    /// Only requests for the realm on this subdomain ("" is the root domain); default: every realm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// Only requests authenticated as this user (a user id, or a delivery email in any case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<StubUser>,
    /// Only requests whose parameters (query string or form body) include each of these, with
    /// this value as sent on the wire (`"newest"`; `100` and `true` match `100` and `true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Map<String, Value>>,
    /// The HTTP status; default 200.
    #[serde(default = "ok")]
    pub status: u16,
    /// The JSON body. Without `result`, Zulip's envelope is added first: `result` ("success"
    /// below 400, else "error") and `msg` ("" unless the body has one).
    #[serde(default)]
    pub body: Map<String, Value>,
    /// Answers the next `times` matching requests, then goes; default: until removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// Whether Zulip's authentication (and rate limit) runs first, exactly as on served
    /// endpoints; default true. Set false for endpoints Zulip serves without credentials.
    #[serde(default = "yes")]
    pub authenticate: bool,
}

/// Who a stub is for.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum StubUser {
    Id(u64),
    Email(String),
}

fn ok() -> u16 {
    200
}

fn yes() -> bool {
    true
}

/// A problem with a stub: the field (its JSON path below the stub) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StubProblem {
    pub field: &'static str,
    pub problem: String,
}

impl StubProblem {
    fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            field,
            problem: problem.into(),
        }
    }
}

impl StubSpec {
    /// Why this stub cannot be installed, if it cannot. `served` says whether the mock serves
    /// a method and path pattern itself (see `served_endpoints::serves`).
    pub fn problem(&self, served: impl Fn(&str, &str) -> bool) -> Option<StubProblem> {
        let method = self.method.to_ascii_uppercase();
        if !METHODS.contains(&method.as_str()) {
            return Some(StubProblem::new(
                "method",
                format!(
                    "unsupported method {:?}: use one of {} (GET also answers HEAD)",
                    self.method,
                    METHODS.join(", ")
                ),
            ));
        }
        if let Some(problem) = path_problem(&self.path) {
            return Some(StubProblem::new("path", problem));
        }
        if served(&method, &self.path) {
            return Some(StubProblem::new(
                "path",
                format!(
                    "{method} {} is served by the mock itself: a stub may not shadow it",
                    self.path
                ),
            ));
        }
        if !(200..=599).contains(&self.status) || matches!(self.status, 204 | 304) {
            return Some(StubProblem::new(
                "status",
                format!(
                    "status must be 200 to 599 and carry a body (not 204 or 304), not {}",
                    self.status
                ),
            ));
        }
        if self.times == Some(0) {
            return Some(StubProblem::new(
                "times",
                "times must be 1 or more (leave it out for: until removed)",
            ));
        }
        if self.user.is_some() && !self.authenticate {
            return Some(StubProblem::new(
                "user",
                "a stub for one user needs authenticate: true (the user is who authenticated)",
            ));
        }
        if let Some(params) = &self.params {
            if let Some((name, _)) = params.iter().find(|(_, value)| wire_value(value).is_none()) {
                return Some(StubProblem::new(
                    "params",
                    format!("params.{name} must be a string, a number or a boolean"),
                ));
            }
        }
        if serde_json::to_vec(&self.body).map_or(true, |bytes| bytes.len() > MAX_BODY_BYTES) {
            return Some(StubProblem::new(
                "body",
                format!("the body is larger than {MAX_BODY_BYTES} bytes"),
            ));
        }
        None
    }

    /// Whether this stub answers `request` before its user is known.
    fn matches(&self, request: &StubRequest<'_>) -> bool {
        let method = if request.method == "HEAD" {
            "GET"
        } else {
            request.method
        };
        self.method.eq_ignore_ascii_case(method)
            && pattern_matches(&self.path, request.path)
            && self
                .realm
                .as_ref()
                .is_none_or(|realm| realm == request.realm)
    }

    /// Whether a request with these parameters is one this stub answers.
    pub fn matches_params(&self, param: impl Fn(&str) -> Option<String>) -> bool {
        self.params.as_ref().is_none_or(|wanted| {
            wanted
                .iter()
                .all(|(name, value)| param(name).as_deref() == wire_value(value).as_deref())
        })
    }

    /// Whether the user who authenticated (id and delivery email) is one this stub answers.
    pub fn matches_user(&self, user_id: u64, delivery_email: &str) -> bool {
        match &self.user {
            None => true,
            Some(StubUser::Id(id)) => *id == user_id,
            Some(StubUser::Email(email)) => email.eq_ignore_ascii_case(delivery_email),
        }
    }

    /// The body on the wire: Zulip's envelope first unless the stub gives `result`.
    pub fn response_body(&self) -> Map<String, Value> {
        if self.body.contains_key("result") {
            return self.body.clone();
        }
        let mut body = Map::new();
        let result = if self.status < 400 {
            "success"
        } else {
            "error"
        };
        body.insert("result".to_owned(), Value::from(result));
        body.insert("msg".to_owned(), Value::from(""));
        for (name, value) in &self.body {
            body.insert(name.clone(), value.clone());
        }
        body
    }
}

/// A parameter value as it is sent on the wire: strings as they are, numbers and booleans as
/// their JSON text.
fn wire_value(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(_) | Value::Bool(_) => Some(value.to_string()),
        _ => None,
    }
}

/// Why `path` is not a stub path pattern, if it is not.
fn path_problem(path: &str) -> Option<String> {
    let Some(rest) = path.strip_prefix(API_PREFIX) else {
        return Some(format!(
            "{path:?} is outside the Zulip API: a stub path starts with {API_PREFIX}"
        ));
    };
    if path.len() > 1000 {
        return Some("the path is longer than 1000 characters".to_owned());
    }
    for segment in rest.split('/') {
        let is_name = segment
            .strip_prefix('{')
            .and_then(|s| s.strip_suffix('}'))
            .is_some_and(|name| {
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            });
        let is_literal = !segment.is_empty()
            && segment
                .chars()
                .all(|c| !c.is_control() && !"{}?#* ".contains(c));
        if !is_name && !is_literal {
            return Some(format!(
                "{path:?}: each segment is a name ({{user_id}}) or plain text, never empty, without ? # * or spaces"
            ));
        }
    }
    None
}

fn is_name_segment(segment: &str) -> bool {
    segment.starts_with('{') && segment.ends_with('}')
}

/// Whether the pattern matches the concrete path: `{name}` segments match any one non-empty
/// segment, others exactly.
pub(crate) fn pattern_matches(pattern: &str, path: &str) -> bool {
    let mut want = pattern.split('/');
    let mut have = path.split('/');
    loop {
        match (want.next(), have.next()) {
            (None, None) => return true,
            (Some(w), Some(h)) if (is_name_segment(w) && !h.is_empty()) || w == h => {}
            _ => return false,
        }
    }
}

/// Whether some path matches both patterns.
pub(crate) fn patterns_overlap(a: &str, b: &str) -> bool {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.split('/').collect(), b.split('/').collect());
    a.len() == b.len()
        && a.iter()
            .zip(&b)
            .all(|(x, y)| is_name_segment(x) || is_name_segment(y) || x == y)
}

/// What stubs match on before authentication.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StubRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub realm: &'a str,
}

/// An installed stub.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Stub {
    pub id: u64,
    #[serde(flatten)]
    pub spec: Arc<StubSpec>,
    /// How many more requests it answers; `null`: until removed.
    pub remaining: Option<u32>,
    /// How many requests it has answered.
    pub hits: u64,
}

impl Stub {
    /// The stub as a fixture gives it: what is left of its `times`.
    pub(crate) fn as_spec(&self) -> StubSpec {
        StubSpec {
            times: self.remaining,
            ..StubSpec::clone(&self.spec)
        }
    }
}

/// Why a stub could not be installed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum StubsFull {
    #[error("there are already {MAX_STUBS} stubs: remove some first")]
    Full,
}

/// Every installed stub, in the order they were added (the first match answers).
#[derive(Debug, Default)]
pub(crate) struct Stubs {
    stubs: Mutex<Vec<Stub>>,
    /// Whether there are any, so that unserved requests skip the lock when there are none.
    any: AtomicBool,
    next_id: AtomicU64,
}

impl Stubs {
    fn lock(&self) -> MutexGuard<'_, Vec<Stub>> {
        self.stubs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Installs a stub (checked by the caller with `StubSpec::problem`).
    pub(crate) fn add(&self, spec: StubSpec) -> Result<Stub, StubsFull> {
        let mut stubs = self.lock();
        if stubs.len() >= MAX_STUBS {
            return Err(StubsFull::Full);
        }
        let stub = Stub {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            remaining: spec.times,
            spec: Arc::new(spec),
            hits: 0,
        };
        stubs.push(stub.clone());
        self.any.store(true, Ordering::Release);
        Ok(stub)
    }

    /// Every installed stub, with its hits.
    pub(crate) fn list(&self) -> Vec<Stub> {
        self.lock().clone()
    }

    /// Removes stub `id`; whether it was installed.
    pub(crate) fn remove(&self, id: u64) -> bool {
        let mut stubs = self.lock();
        let before = stubs.len();
        stubs.retain(|stub| stub.id != id);
        self.any.store(!stubs.is_empty(), Ordering::Release);
        stubs.len() != before
    }

    /// Removes every stub; how many there were.
    pub(crate) fn clear(&self) -> usize {
        let mut stubs = self.lock();
        let count = stubs.len();
        stubs.clear();
        self.any.store(false, Ordering::Release);
        count
    }

    /// Replaces every stub with `specs` (checked), numbered from 1 again: a reset or a new
    /// state.
    pub(crate) fn replace(&self, specs: &[StubSpec]) {
        let mut stubs = self.lock();
        stubs.clear();
        self.next_id.store(0, Ordering::Relaxed);
        for spec in specs.iter().take(MAX_STUBS) {
            stubs.push(Stub {
                id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
                remaining: spec.times,
                spec: Arc::new(spec.clone()),
                hits: 0,
            });
        }
        self.any.store(!stubs.is_empty(), Ordering::Release);
    }

    /// The stubs that may answer `request`, in order, before parameters and user are known.
    pub(crate) fn candidates(&self, request: &StubRequest<'_>) -> Vec<(u64, Arc<StubSpec>)> {
        if !self.any.load(Ordering::Acquire) {
            return Vec::new();
        }
        self.lock()
            .iter()
            .filter(|stub| stub.spec.matches(request))
            .map(|stub| (stub.id, Arc::clone(&stub.spec)))
            .collect()
    }

    /// Counts an answer by stub `id` (a stub with no answers left goes); `false` when it is no
    /// longer installed (removed, or used up by a request answered meanwhile).
    pub(crate) fn take(&self, id: u64) -> bool {
        let mut stubs = self.lock();
        let Some(index) = stubs.iter().position(|stub| stub.id == id) else {
            return false;
        };
        let stub = &mut stubs[index];
        stub.hits += 1;
        if let Some(remaining) = &mut stub.remaining {
            *remaining -= 1;
            if *remaining == 0 {
                stubs.remove(index);
            }
        }
        self.any.store(!stubs.is_empty(), Ordering::Release);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(value: Value) -> StubSpec {
        serde_json::from_value(value).unwrap()
    }

    fn never_served(_: &str, _: &str) -> bool {
        false
    }

    const MESSAGES: StubRequest<'static> = StubRequest {
        method: "GET",
        path: "/api/v1/messages",
        realm: "",
    };

    #[test]
    fn name_segments_match_one_segment_and_literals_match_exactly() {
        assert!(pattern_matches(
            "/api/v1/messages/{message_id}",
            "/api/v1/messages/12"
        ));
        assert!(!pattern_matches(
            "/api/v1/messages/{message_id}",
            "/api/v1/messages/"
        ));
        assert!(!pattern_matches(
            "/api/v1/messages/{message_id}",
            "/api/v1/messages/12/history"
        ));
        assert!(!pattern_matches("/api/v1/messages", "/api/v1/Messages"));
        assert!(patterns_overlap(
            "/api/v1/users/{user_id}",
            "/api/v1/users/{user_id_or_email}"
        ));
        assert!(!patterns_overlap(
            "/api/v1/users/me/status",
            "/api/v1/users/{user_id_or_email}/presence"
        ));
    }

    #[test]
    fn a_get_stub_answers_head_too_and_only_its_realm() {
        let stub = spec(json!({"method": "get", "path": "/api/v1/messages", "realm": "lear"}));
        assert!(stub.matches(&StubRequest {
            method: "HEAD",
            realm: "lear",
            ..MESSAGES
        }));
        assert!(!stub.matches(&MESSAGES));
        assert!(!stub.matches(&StubRequest {
            method: "POST",
            realm: "lear",
            ..MESSAGES
        }));
    }

    #[test]
    fn params_match_their_wire_text() {
        let stub = spec(json!({"method": "GET", "path": "/api/v1/messages",
                               "params": {"anchor": "newest", "num_before": 100, "apply_markdown": false}}));
        let sent = |name: &str| match name {
            "anchor" => Some("newest".to_owned()),
            "num_before" => Some("100".to_owned()),
            "apply_markdown" => Some("false".to_owned()),
            _ => None,
        };
        assert!(stub.matches_params(sent));
        assert!(!stub.matches_params(|name| (name == "anchor").then(|| "newest".to_owned())));
    }

    #[test]
    fn the_envelope_comes_first_unless_the_body_has_a_result() {
        let stub = spec(json!({"method": "GET", "path": "/api/v1/messages",
                               "body": {"messages": [], "msg": "hi"}}));
        let body = serde_json::to_string(&stub.response_body()).unwrap();
        assert_eq!(body, r#"{"result":"success","msg":"hi","messages":[]}"#);
        let error = spec(
            json!({"method": "GET", "path": "/api/v1/messages", "status": 400,
                                "body": {"code": "BAD_REQUEST"}}),
        );
        let body = serde_json::to_string(&error.response_body()).unwrap();
        assert_eq!(body, r#"{"result":"error","msg":"","code":"BAD_REQUEST"}"#);
        let raw = spec(json!({"method": "GET", "path": "/api/v1/messages",
                              "body": {"result": "partial"}}));
        assert_eq!(
            serde_json::to_string(&raw.response_body()).unwrap(),
            r#"{"result":"partial"}"#
        );
    }

    #[test]
    fn bad_stubs_are_refused_with_the_field_at_fault() {
        let cases = [
            (json!({"method": "OPTIONS", "path": "/api/v1/x"}), "method"),
            (json!({"method": "GET", "path": "/json/messages"}), "path"),
            (
                json!({"method": "GET", "path": "/api/v1/messages?x=1"}),
                "path",
            ),
            (json!({"method": "GET", "path": "/api/v1//x"}), "path"),
            (json!({"method": "GET", "path": "/api/v1/{}"}), "path"),
            (
                json!({"method": "GET", "path": "/api/v1/x", "status": 99}),
                "status",
            ),
            (
                json!({"method": "GET", "path": "/api/v1/x", "status": 204}),
                "status",
            ),
            (
                json!({"method": "GET", "path": "/api/v1/x", "times": 0}),
                "times",
            ),
            (
                json!({"method": "GET", "path": "/api/v1/x", "user": 3, "authenticate": false}),
                "user",
            ),
            (
                json!({"method": "GET", "path": "/api/v1/x", "params": {"a": [1]}}),
                "params",
            ),
        ];
        for (stub, field) in cases {
            let problem = spec(stub.clone()).problem(never_served);
            assert_eq!(problem.map(|p| p.field), Some(field), "{stub}");
        }
        let shadowing = spec(json!({"method": "GET", "path": "/api/v1/realm/presence"}));
        let problem =
            shadowing.problem(|method, path| method == "GET" && path == "/api/v1/realm/presence");
        assert_eq!(
            problem.unwrap().problem,
            "GET /api/v1/realm/presence is served by the mock itself: a stub may not shadow it"
        );
    }

    #[test]
    fn a_stub_for_n_requests_answers_n_times_then_goes() {
        let stubs = Stubs::default();
        let stub = stubs
            .add(spec(
                json!({"method": "GET", "path": "/api/v1/messages", "times": 2}),
            ))
            .unwrap();
        assert!(stubs.take(stub.id));
        assert_eq!(stubs.list()[0].hits, 1);
        assert!(stubs.take(stub.id));
        assert!(!stubs.take(stub.id));
        assert!(stubs.candidates(&MESSAGES).is_empty());
    }

    #[test]
    fn a_replaced_set_numbers_its_stubs_from_one() {
        let stubs = Stubs::default();
        stubs
            .add(spec(json!({"method": "GET", "path": "/api/v1/a"})))
            .unwrap();
        stubs.replace(&[
            spec(json!({"method": "GET", "path": "/api/v1/messages"})),
            spec(json!({"method": "GET", "path": "/api/v1/{x}"})),
        ]);
        let ids: Vec<u64> = stubs
            .candidates(&MESSAGES)
            .iter()
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(ids, [1, 2]);
    }
}
