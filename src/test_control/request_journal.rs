//! The request journal: every request to the Zulip API, as a test needs to see it to check what
//! its client sent (method, path, parameters, who it authenticated as or why it could not,
//! User-Agent, status). Never an API key or an Authorization header. Bounded by count and by
//! bytes, before authentication too: each entry keeps at most `EntryBounds` of what a client
//! sent (longer texts and extra parameters are cut, with a marker saying what went), and when
//! the journal is full by either measure the oldest entries go.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use axum::http::{Method, StatusCode};

use crate::domain::clock::Timestamp;
use crate::domain::rate_limits::RateLimitHeaders;
use crate::domain::store::{User, UserId};

/// How many entries the journal keeps unless configured otherwise.
pub(crate) const DEFAULT_CAPACITY: usize = 10_000;

/// How many bytes of recorded text (paths, parameters, User-Agents, notes) the journal keeps
/// in all; the oldest entries go first to stay under it.
pub(crate) const CAPACITY_BYTES: usize = 64 * 1024 * 1024;

/// The most one entry keeps of each text a client controls. A text cut short ends with
/// `… (truncated: N bytes in all)`; parameters past the count or the total are replaced by
/// one `(truncated)` parameter saying how many went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EntryBounds {
    /// The path and query string.
    pub target: usize,
    pub user_agent: usize,
    /// The realm's subdomain (taken from the Host header) and the mock's note.
    pub text: usize,
    /// Each body parameter's value.
    pub param_value: usize,
    /// Body parameters kept.
    pub param_count: usize,
    /// Body parameters' names and values together.
    pub params_total: usize,
}

/// The bounds every entry is kept within.
pub(crate) const ENTRY_BOUNDS: EntryBounds = EntryBounds {
    target: 8 * 1024,
    user_agent: 1024,
    text: 4 * 1024,
    param_value: 16 * 1024,
    param_count: 100,
    params_total: 64 * 1024,
};

/// What a record costs beyond its texts: the record itself and its parameters' map nodes.
pub const RECORD_OVERHEAD: usize = std::mem::size_of::<Record>() + 64;
pub const PARAM_OVERHEAD: usize = 64;

/// `text` cut to at most `limit` bytes (at a character boundary) with a marker, if longer.
fn truncate(text: &mut String, limit: usize) {
    if text.len() <= limit {
        return;
    }
    let total = text.len();
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(&format!("… (truncated: {total} bytes in all)"));
    // Truncating keeps the allocation; the journal must not.
    text.shrink_to_fit();
}

/// The parameter that stands for those an entry did not keep.
pub(crate) const TRUNCATED_PARAMS: &str = "(truncated)";

/// What a parameter name holds, once lowercased and stripped of everything but letters and
/// digits, when its value is a secret (`api_key`, `API-Key`, `apiKey`, `admin_token`...).
const SECRET_NAME_PARTS: &[&str] = &["key", "token", "secret", "password"];

/// Whether a parameter named `name` carries a secret: its value is recorded as
/// `REDACTED_VALUE`.
pub(crate) fn is_secret_name(name: &str) -> bool {
    let normalised: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    SECRET_NAME_PARTS
        .iter()
        .any(|part| normalised.contains(part))
}

/// `path` with every segment that could be a secret replaced by `REDACTED_VALUE`: one shaped
/// like an API key (32 letters and digits), or holding the admin token. Paths go to the log
/// and the journal; a client that puts a key in one must not leave it there.
pub(crate) fn scrub_path<'a>(
    path: &'a str,
    admin_token: Option<&str>,
) -> std::borrow::Cow<'a, str> {
    let holds_token =
        |text: &str| admin_token.is_some_and(|token| !token.is_empty() && text.contains(token));
    let secret = |segment: &str| {
        (segment.len() == 32 && segment.bytes().all(|b| b.is_ascii_alphanumeric()))
            || holds_token(segment)
    };
    // A path shorter than a key has no segment shaped like one, and a segment can hold the
    // token only if the path does: most paths need no look at their segments.
    if (path.len() < 32 && !holds_token(path)) || !path.split('/').any(secret) {
        return std::borrow::Cow::Borrowed(path);
    }
    let scrubbed: Vec<&str> = path
        .split('/')
        .map(|segment| {
            if secret(segment) {
                REDACTED_VALUE
            } else {
                segment
            }
        })
        .collect();
    std::borrow::Cow::Owned(scrubbed.join("/"))
}

/// What a secret parameter's value is recorded as.
pub(crate) const REDACTED_VALUE: &str = "(redacted)";

/// Who a request authenticated as.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryUser {
    pub user_id: UserId,
    /// The delivery email, the one the client authenticates with.
    pub email: String,
}

/// One journalled request as the admin API shows it (and `testing::MockZulip::journal` reads it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Increases by one per request (clearing does not reset it; a reset does).
    pub id: u64,
    /// The server clock when the request arrived, in UNIX seconds.
    pub time: f64,
    /// The subdomain of the realm the request was for ("": the root domain).
    pub realm: String,
    pub method: String,
    pub path: String,
    /// Query-string parameters (the last of repeated names), secrets redacted.
    pub query: Map<String, Value>,
    /// Form or multipart body parameters; `null` when the body could not be parsed.
    pub params: Option<Map<String, Value>>,
    /// The authenticated user; `null` when authentication failed or was not needed.
    pub user: Option<EntryUser>,
    /// Why authentication failed, in plain words; `null` when it did not.
    pub auth_failure: Option<String>,
    pub user_agent: Option<String>,
    /// The response status; `null` when a fault dropped the connection.
    pub status: Option<u16>,
    /// The admin fault that answered or delayed this request, if any.
    pub fault: Option<u64>,
    /// What the mock did differently from Zulip for this request, if anything (e.g. event
    /// types `/register` does not model).
    pub note: Option<String>,
}

/// One journalled request as it is kept, as cheap to record as it can be: `Entry` is made from
/// it when a test asks. Its texts are copies, never slices of the request: a slice would keep
/// the whole connection buffer it came from alive for as long as the journal keeps the record.
#[derive(Clone, Debug)]
pub(crate) struct Record {
    pub time: Timestamp,
    pub realm: String,
    pub method: Method,
    /// The path and query string.
    pub target: String,
    pub user_agent: Option<String>,
    /// The body's parameters; `None` when the body could not be parsed.
    pub params: Option<Map<String, Value>>,
    pub user: Option<Arc<User>>,
    pub auth_failure: Option<String>,
    pub status: Option<StatusCode>,
    pub fault: Option<u64>,
    pub note: Option<String>,
}

impl Record {
    /// The record within `bounds`, and the bytes it costs the journal.
    fn bounded(mut self, bounds: &EntryBounds) -> (Self, usize) {
        truncate(&mut self.target, bounds.target);
        truncate(&mut self.realm, bounds.text);
        if let Some(user_agent) = &mut self.user_agent {
            truncate(user_agent, bounds.user_agent);
        }
        if let Some(note) = &mut self.note {
            truncate(note, bounds.text);
        }
        if let Some(reason) = &mut self.auth_failure {
            truncate(reason, bounds.text);
        }
        let mut bytes = RECORD_OVERHEAD
            + self.target.len()
            + self.realm.len()
            + self.user_agent.as_ref().map_or(0, String::len)
            + self.note.as_ref().map_or(0, String::len)
            + self.auth_failure.as_ref().map_or(0, String::len);
        if let Some(params) = &mut self.params {
            let (kept, params_bytes) = bounded_params(std::mem::take(params), bounds);
            *params = kept;
            bytes += params_bytes;
        }
        (self, bytes)
    }

    /// The path, and the query string if there is one.
    fn path_and_query(&self) -> (&str, Option<&str>) {
        match self.target.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (&self.target, None),
        }
    }

    fn entry(&self, id: u64) -> Entry {
        let (path, query) = self.path_and_query();
        let query: Vec<(String, String)> = query
            .and_then(|query| serde_urlencoded::from_str(query).ok())
            .unwrap_or_default();
        Entry {
            id,
            time: self.time.unix_seconds_f64(),
            realm: self.realm.clone(),
            method: self.method.to_string(),
            path: path.to_owned(),
            query: parameters_object(&query),
            params: self.params.clone(),
            user: self.user.as_ref().map(|user| EntryUser {
                user_id: user.user_id,
                email: user.delivery_email.to_string(),
            }),
            auth_failure: self.auth_failure.clone(),
            user_agent: self.user_agent.clone(),
            status: self.status.map(|status| status.as_u16()),
            fault: self.fault,
            note: self.note.clone(),
        }
    }
}

/// `params` within `bounds`, and the bytes they cost.
fn bounded_params(params: Map<String, Value>, bounds: &EntryBounds) -> (Map<String, Value>, usize) {
    let total = params.len();
    let mut kept = Map::new();
    let mut bytes = 0;
    let mut left_out = 0;
    let mut left_out_bytes = 0;
    for (mut name, mut value) in params {
        let sent = name.len() + value.as_str().map_or(0, str::len);
        if let Value::String(text) = &mut value {
            truncate(text, bounds.param_value);
        }
        truncate(&mut name, bounds.text);
        let cost = name.len() + value.as_str().map_or(0, str::len) + PARAM_OVERHEAD;
        if kept.len() < bounds.param_count && bytes + cost <= bounds.params_total {
            bytes += cost;
            kept.insert(name, value);
        } else {
            left_out += 1;
            left_out_bytes += sent;
        }
    }
    if left_out > 0 {
        let marker = format!(
            "{left_out} of {total} parameters not kept ({left_out_bytes} bytes of names and values)"
        );
        bytes += TRUNCATED_PARAMS.len() + marker.len() + PARAM_OVERHEAD;
        kept.insert(TRUNCATED_PARAMS.to_owned(), Value::String(marker));
    }
    (kept, bytes)
}

/// Parameters as a JSON object: the last of repeated names, secret values redacted.
pub(crate) fn parameters_object<'a>(
    pairs: impl IntoIterator<Item = &'a (String, String)>,
) -> Map<String, Value> {
    pairs
        .into_iter()
        .map(|(name, value)| {
            let value = if is_secret_name(name) {
                REDACTED_VALUE
            } else {
                value
            };
            (name.clone(), Value::String(value.to_owned()))
        })
        .collect()
}

/// Which entries a listing wants; every field left out matches everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Filter {
    pub method: Option<String>,
    pub path: Option<String>,
    /// A user id or a delivery email (case-insensitive).
    pub user: Option<String>,
    pub realm: Option<String>,
    /// Entries at or after this server time (UNIX seconds).
    pub since: Option<f64>,
    /// Entries with a larger id (a cursor).
    pub after_id: Option<u64>,
}

impl Filter {
    fn matches(&self, id: u64, record: &Record) -> bool {
        self.method
            .as_ref()
            .is_none_or(|m| m.eq_ignore_ascii_case(record.method.as_str()))
            && self
                .path
                .as_ref()
                .is_none_or(|p| p == record.path_and_query().0)
            && self.realm.as_ref().is_none_or(|r| *r == record.realm)
            && self
                .since
                .is_none_or(|t| record.time.unix_seconds_f64() >= t)
            && self.after_id.is_none_or(|after| id > after)
            && self.user.as_ref().is_none_or(|wanted| {
                record.user.as_ref().is_some_and(|user| {
                    user.user_id.to_string() == *wanted
                        || user.delivery_email.eq_ignore_ascii_case(wanted)
                })
            })
    }
}

#[derive(Debug)]
struct Inner {
    /// Records with their ids and what they cost in bytes, oldest first.
    entries: VecDeque<(u64, Record, usize)>,
    /// What the kept records cost in all.
    bytes: usize,
    next_id: u64,
    /// Entries dropped because the journal was full.
    dropped: u64,
}

/// The bounded journal. Cheap to append to from every request.
#[derive(Debug)]
pub(crate) struct Journal {
    /// Fixed at start (`--journal-size`), so checking it takes no lock.
    capacity: usize,
    capacity_bytes: usize,
    inner: Mutex<Inner>,
}

/// What a listing returns.
#[derive(Debug, Serialize)]
pub(crate) struct Listing {
    pub requests: Vec<Entry>,
    pub count: usize,
    /// Entries dropped (oldest first) since start because the journal was full.
    pub dropped: u64,
    pub capacity: usize,
    /// What all kept entries cost, in bytes of recorded text and bookkeeping.
    pub bytes: usize,
    pub capacity_bytes: usize,
}

impl Journal {
    /// A journal keeping at most `capacity` entries (0: record nothing).
    pub(crate) fn new(capacity: usize) -> Self {
        Self::with_capacity_bytes(capacity, CAPACITY_BYTES)
    }

    /// A journal keeping at most `capacity` entries and `capacity_bytes` bytes.
    pub(crate) fn with_capacity_bytes(capacity: usize, capacity_bytes: usize) -> Self {
        Self {
            capacity,
            capacity_bytes,
            inner: Mutex::new(Inner {
                entries: VecDeque::new(),
                bytes: 0,
                next_id: 1,
                dropped: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether anything is recorded at all.
    pub(crate) fn is_enabled(&self) -> bool {
        self.capacity > 0
    }

    /// Appends `record`, cut to `ENTRY_BOUNDS`, with the next id, dropping the oldest entries
    /// while the journal is full by count or by bytes.
    pub(crate) fn record(&self, record: Record) {
        if self.capacity == 0 {
            return;
        }
        let (record, bytes) = record.bounded(&ENTRY_BOUNDS);
        let mut inner = self.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        while !inner.entries.is_empty()
            && (inner.entries.len() >= self.capacity || inner.bytes + bytes > self.capacity_bytes)
        {
            if let Some((_, _, old)) = inner.entries.pop_front() {
                inner.bytes -= old;
            }
            inner.dropped += 1;
        }
        inner.bytes += bytes;
        inner.entries.push_back((id, record, bytes));
    }

    /// The entries `filter` matches, oldest first; at most `limit` of the newest of them.
    pub(crate) fn list(&self, filter: &Filter, limit: Option<usize>) -> Listing {
        let inner = self.lock();
        let mut matching: Vec<&(u64, Record, usize)> = inner
            .entries
            .iter()
            .filter(|(id, record, _)| filter.matches(*id, record))
            .collect();
        if let Some(limit) = limit {
            let excess = matching.len().saturating_sub(limit);
            matching.drain(..excess);
        }
        let requests: Vec<Entry> = matching
            .into_iter()
            .map(|(id, record, _)| record.entry(*id))
            .collect();
        Listing {
            count: requests.len(),
            requests,
            dropped: inner.dropped,
            capacity: self.capacity,
            bytes: inner.bytes,
            capacity_bytes: self.capacity_bytes,
        }
    }

    /// How many entries `filter` matches.
    pub(crate) fn count(&self, filter: &Filter) -> usize {
        self.lock()
            .entries
            .iter()
            .filter(|(id, record, _)| filter.matches(*id, record))
            .count()
    }

    /// Empties the journal and starts its ids and drop count again from the beginning.
    pub(crate) fn reset(&self) {
        let mut inner = self.lock();
        inner.entries.clear();
        inner.bytes = 0;
        inner.next_id = 1;
        inner.dropped = 0;
    }

    /// Removes the entries `filter` matches; how many went.
    pub(crate) fn clear(&self, filter: &Filter) -> usize {
        let mut inner = self.lock();
        let before = inner.entries.len();
        let mut freed = 0;
        inner.entries.retain(|(id, record, bytes)| {
            let keep = !filter.matches(*id, record);
            if !keep {
                freed += bytes;
            }
            keep
        });
        inner.bytes -= freed;
        before - inner.entries.len()
    }
}

/// What the handling of one request learnt for its journal entry and response: set by the
/// authentication extractor, read by the layer that journals the request.
#[derive(Clone, Debug, Default)]
pub(crate) struct RequestNote(Arc<Mutex<NoteInner>>);

/// The contents of a `RequestNote`.
#[derive(Clone, Debug, Default)]
pub(crate) struct NoteInner {
    pub user: Option<Arc<User>>,
    pub auth_failure: Option<String>,
    pub rate_limit: Option<RateLimitHeaders>,
    pub remark: Option<String>,
}

impl RequestNote {
    fn lock(&self) -> MutexGuard<'_, NoteInner> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The request authenticated as `user`.
    pub(crate) fn authenticated(&self, user: &Arc<User>) {
        self.lock().user = Some(Arc::clone(user));
    }

    /// The request failed authentication, for `reason`.
    pub(crate) fn auth_failed(&self, reason: String) {
        self.lock().auth_failure = Some(reason);
    }

    /// A rate limit applied; its headers go on the response.
    pub(crate) fn rate_limited(&self, headers: RateLimitHeaders) {
        self.lock().rate_limit = Some(headers);
    }

    /// The handler served the request differently from Zulip, for this reason.
    pub(crate) fn remark(&self, remark: String) {
        self.lock().remark = Some(remark);
    }

    /// The rate-limit headers noted, if any.
    pub(crate) fn rate_limit(&self) -> Option<RateLimitHeaders> {
        self.lock().rate_limit
    }

    /// Everything noted, leaving the note empty.
    pub(crate) fn take(&self) -> NoteInner {
        std::mem::take(&mut *self.lock())
    }

    /// Whether authentication has run (succeeded or failed).
    pub(crate) fn has_auth_outcome(&self) -> bool {
        let inner = self.lock();
        inner.user.is_some() || inner.auth_failure.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str) -> Record {
        Record {
            time: Timestamp::from_unix_seconds(0),
            realm: String::new(),
            method: Method::GET,
            target: path.to_owned(),
            user_agent: None,
            params: None,
            user: None,
            auth_failure: None,
            status: Some(StatusCode::OK),
            fault: None,
            note: None,
        }
    }

    #[test]
    fn a_full_journal_drops_its_oldest_entries_and_counts_them() {
        let journal = Journal::new(2);
        for path in ["/a", "/b", "/c"] {
            journal.record(entry(path));
        }
        let listing = journal.list(&Filter::default(), None);
        let paths: Vec<&str> = listing.requests.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["/b", "/c"]);
        assert_eq!(listing.requests[0].id, 2);
        assert_eq!(listing.dropped, 1);
    }

    #[test]
    fn a_journal_full_by_bytes_drops_its_oldest_entries() {
        let journal = Journal::with_capacity_bytes(100, 2 * RECORD_OVERHEAD + 8);
        for path in ["/aaaa", "/bbb", "/cc"] {
            journal.record(entry(path));
        }

        let listing = journal.list(&Filter::default(), None);

        let paths: Vec<&str> = listing.requests.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["/bbb", "/cc"]);
        assert_eq!(listing.dropped, 1);
        assert_eq!(listing.bytes, 2 * RECORD_OVERHEAD + 7);
        journal.clear(&Filter::default());
        assert_eq!(journal.list(&Filter::default(), None).bytes, 0);
    }

    #[test]
    fn a_long_text_is_cut_at_a_character_boundary_with_a_marker() {
        let mut text = "ééé".to_owned();
        truncate(&mut text, 3);
        assert_eq!(text, "é… (truncated: 6 bytes in all)");
        let mut short = "abc".to_owned();
        truncate(&mut short, 3);
        assert_eq!(short, "abc");
    }

    #[test]
    fn a_journal_of_capacity_zero_records_nothing() {
        let journal = Journal::new(0);
        journal.record(entry("/a"));
        assert_eq!(journal.count(&Filter::default()), 0);
    }

    #[test]
    fn secret_names_follow_a_rule_not_a_list() {
        for name in [
            "api_key",
            "API_KEY",
            "apiKey",
            "api-key",
            " api_key ",
            "key",
            "secret",
            "admin_token",
            "Password",
            "token",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["status", "queue_id", "last_event_id", "narrow", "user_ids"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn paths_lose_key_shaped_segments_and_the_admin_token() {
        assert_eq!(
            scrub_path(
                "/api/v1/users/huG8GP38g4o5MNJAYKJ1UXXFWXLCpaNf/presence",
                None
            ),
            "/api/v1/users/(redacted)/presence"
        );
        assert_eq!(
            scrub_path("/__admin/s3cret-token/x", Some("s3cret-token")),
            "/__admin/(redacted)/x"
        );
        assert!(matches!(
            scrub_path("/api/v1/realm/presence", Some("t")),
            std::borrow::Cow::Borrowed(_)
        ));
        // A path as long as a key, and a short one holding the token, are looked at too.
        assert_eq!(
            scrub_path("huG8GP38g4o5MNJAYKJ1UXXFWXLCpaNf", None),
            "(redacted)"
        );
        assert_eq!(scrub_path("/a/tok", Some("tok")), "/a/(redacted)");
    }

    #[test]
    fn secret_parameters_are_redacted() {
        let pairs = [
            ("api_key".to_owned(), "abc".to_owned()),
            ("status".to_owned(), "active".to_owned()),
        ];
        let object = parameters_object(&pairs);
        assert_eq!(
            Value::Object(object),
            serde_json::json!({"api_key": REDACTED_VALUE, "status": "active"})
        );
    }
}
