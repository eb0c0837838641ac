//! The request journal: every request to the Zulip API, as a test needs to see it to check what
//! its client sent (method, path, parameters, who it authenticated as or why it could not,
//! User-Agent, status). Never an API key or an Authorization header. Bounded: when full, the
//! oldest entry goes, so a long soak cannot eat memory.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::rate_limit::RateLimitHeaders;
use crate::store::{User, UserId};

/// How many entries the journal keeps unless configured otherwise.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// Parameter names whose values are secrets: recorded as `REDACTED_VALUE`.
const SECRET_PARAMETERS: &[&str] = &["api_key", "password", "token"];

/// What a secret parameter's value is recorded as.
pub const REDACTED_VALUE: &str = "(redacted)";

/// Who a request authenticated as.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EntryUser {
    pub user_id: UserId,
    /// The delivery email, the one the client authenticates with.
    pub email: String,
}

/// One journalled request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entry {
    /// Increases by one per request, for the life of the server (clearing does not reset it).
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
}

/// Parameters as a JSON object: the last of repeated names, secret values redacted.
pub fn parameters_object<'a>(
    pairs: impl IntoIterator<Item = &'a (String, String)>,
) -> Map<String, Value> {
    pairs
        .into_iter()
        .map(|(name, value)| {
            let value = if SECRET_PARAMETERS.contains(&name.as_str()) {
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
pub struct Filter {
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
    fn matches(&self, entry: &Entry) -> bool {
        self.method
            .as_ref()
            .is_none_or(|m| m.eq_ignore_ascii_case(&entry.method))
            && self.path.as_ref().is_none_or(|p| *p == entry.path)
            && self.realm.as_ref().is_none_or(|r| *r == entry.realm)
            && self.since.is_none_or(|t| entry.time >= t)
            && self.after_id.is_none_or(|id| entry.id > id)
            && self.user.as_ref().is_none_or(|wanted| {
                entry.user.as_ref().is_some_and(|user| {
                    user.user_id.to_string() == *wanted || user.email.eq_ignore_ascii_case(wanted)
                })
            })
    }
}

#[derive(Debug)]
struct Inner {
    entries: VecDeque<Arc<Entry>>,
    capacity: usize,
    next_id: u64,
    /// Entries dropped because the journal was full.
    dropped: u64,
}

/// The bounded journal. Cheap to append to from every request.
#[derive(Debug)]
pub struct Journal {
    inner: Mutex<Inner>,
}

/// What a listing returns.
#[derive(Debug, Serialize)]
pub struct Listing {
    pub requests: Vec<Arc<Entry>>,
    pub count: usize,
    /// Entries dropped (oldest first) since start because the journal was full.
    pub dropped: u64,
    pub capacity: usize,
}

impl Journal {
    /// A journal keeping at most `capacity` entries (0: record nothing).
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                entries: VecDeque::new(),
                capacity,
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
    pub fn is_enabled(&self) -> bool {
        self.lock().capacity > 0
    }

    /// Appends `entry` with the next id, dropping the oldest entry when full.
    pub fn record(&self, mut entry: Entry) {
        let mut inner = self.lock();
        if inner.capacity == 0 {
            return;
        }
        entry.id = inner.next_id;
        inner.next_id += 1;
        while inner.entries.len() >= inner.capacity {
            inner.entries.pop_front();
            inner.dropped += 1;
        }
        inner.entries.push_back(Arc::new(entry));
    }

    /// The entries `filter` matches, oldest first; at most `limit` of the newest of them.
    pub fn list(&self, filter: &Filter, limit: Option<usize>) -> Listing {
        let inner = self.lock();
        let mut requests: Vec<Arc<Entry>> = inner
            .entries
            .iter()
            .filter(|entry| filter.matches(entry))
            .cloned()
            .collect();
        if let Some(limit) = limit {
            let excess = requests.len().saturating_sub(limit);
            requests.drain(..excess);
        }
        Listing {
            count: requests.len(),
            requests,
            dropped: inner.dropped,
            capacity: inner.capacity,
        }
    }

    /// How many entries `filter` matches.
    pub fn count(&self, filter: &Filter) -> usize {
        self.lock()
            .entries
            .iter()
            .filter(|entry| filter.matches(entry))
            .count()
    }

    /// Empties the journal and starts its ids and drop count again from the beginning.
    pub fn reset(&self) {
        let mut inner = self.lock();
        inner.entries.clear();
        inner.next_id = 1;
        inner.dropped = 0;
    }

    /// Removes the entries `filter` matches; how many went.
    pub fn clear(&self, filter: &Filter) -> usize {
        let mut inner = self.lock();
        let before = inner.entries.len();
        inner.entries.retain(|entry| !filter.matches(entry));
        before - inner.entries.len()
    }
}

/// What the handling of one request learnt for its journal entry and response: set by the
/// authentication extractor, read by the layer that journals the request.
#[derive(Clone, Debug, Default)]
pub struct RequestNote(Arc<Mutex<NoteInner>>);

/// The contents of a `RequestNote`.
#[derive(Clone, Debug, Default)]
pub struct NoteInner {
    pub user: Option<EntryUser>,
    pub auth_failure: Option<String>,
    pub rate_limit: Option<RateLimitHeaders>,
}

impl RequestNote {
    fn lock(&self) -> MutexGuard<'_, NoteInner> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The request authenticated as `user`.
    pub fn authenticated(&self, user: &User) {
        self.lock().user = Some(EntryUser {
            user_id: user.user_id,
            email: user.delivery_email.clone(),
        });
    }

    /// The request failed authentication, for `reason`.
    pub fn auth_failed(&self, reason: String) {
        self.lock().auth_failure = Some(reason);
    }

    /// A rate limit applied; its headers go on the response.
    pub fn rate_limited(&self, headers: RateLimitHeaders) {
        self.lock().rate_limit = Some(headers);
    }

    /// What was noted so far.
    pub fn get(&self) -> NoteInner {
        self.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str) -> Entry {
        Entry {
            id: 0,
            time: 0.0,
            realm: String::new(),
            method: "GET".to_owned(),
            path: path.to_owned(),
            query: Map::new(),
            params: None,
            user: None,
            auth_failure: None,
            user_agent: None,
            status: Some(200),
            fault: None,
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
    fn a_journal_of_capacity_zero_records_nothing() {
        let journal = Journal::new(0);
        journal.record(entry("/a"));
        assert_eq!(journal.count(&Filter::default()), 0);
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
