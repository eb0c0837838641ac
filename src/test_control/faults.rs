//! Faults a test injects through the admin API: rules matched by method, path, user and realm,
//! for the next N requests or until removed, that delay a request, answer it with an error in
//! Zulip's shape (a rate limit exactly as Zulip sends it), or drop the connection.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

/// What a fault does to a matching request (after its delay, if any).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaultSpec {
    /// Matches this HTTP method only (any case); default: every method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Matches this path exactly, or every path starting with it when it ends in `*`;
    /// default: every path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Matches requests whose Authorization header names this email (any case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Matches requests for the realm on this subdomain ("" is the root domain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// Applies to the next `times` matching requests, then goes; default: until removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// Waits this long before answering (or before serving normally, with no action).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Answers with this error instead of serving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<InjectedError>,
    /// Answers with Zulip's rate-limit error (429) instead of serving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<InjectedRateLimit>,
    /// Closes the connection without any response.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drop_connection: bool,
}

/// An error response in Zulip's shape.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InjectedError {
    /// 400 to 599.
    pub status: u16,
    /// Default: Zulip's message for the status (see `InjectedError::defaults`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
    /// Default: Zulip's code for the status; `null` sends none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

impl InjectedError {
    /// The message and code Zulip sends with this status when the fault names none: 500 is
    /// Zulip's unhandled-error body (no code), 401 its invalid-key error, 403 an access error,
    /// 404 the not-found error; others `BAD_REQUEST` with the status's reason phrase.
    pub(crate) fn message_and_code(&self) -> (String, Option<String>) {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let (msg, code) = match self.status {
            500 => ("Internal server error", None),
            401 => ("Invalid API key", Some("UNAUTHORIZED")),
            403 => ("Insufficient permission", Some("BAD_REQUEST")),
            404 => ("Not Found", Some("BAD_REQUEST")),
            _ => (
                status.canonical_reason().unwrap_or("Error"),
                Some("BAD_REQUEST"),
            ),
        };
        (
            self.msg.clone().unwrap_or_else(|| msg.to_owned()),
            self.code.clone().or(code.map(str::to_owned)),
        )
    }
}

/// Zulip's 429, with the `X-RateLimit-*` headers of a limited response.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InjectedRateLimit {
    /// `Retry-After` and `retry-after`, in seconds; default 1.0.
    #[serde(default = "one_second")]
    pub retry_after: f64,
    /// `X-RateLimit-Limit`; default 200 (Zulip's `api_by_user` rule).
    #[serde(default = "default_limit")]
    pub limit: u32,
}

fn one_second() -> f64 {
    1.0
}

fn default_limit() -> u32 {
    200
}

/// What a matched fault does.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum FaultAction {
    /// Serve the request normally (after the delay).
    Serve,
    Error(InjectedError),
    RateLimit(InjectedRateLimit),
    DropConnection,
}

/// A matched fault: its id, its delay and its action.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Hit {
    pub id: u64,
    pub delay_ms: u64,
    pub action: FaultAction,
}

impl FaultSpec {
    /// Why this fault cannot be installed, if it cannot.
    pub(crate) fn problem(&self) -> Option<String> {
        let actions = usize::from(self.error.is_some())
            + usize::from(self.rate_limit.is_some())
            + usize::from(self.drop_connection);
        if actions > 1 {
            return Some(
                "a fault does one of error, rate_limit or drop_connection, not several".to_owned(),
            );
        }
        if actions == 0 && self.delay_ms.is_none() {
            return Some("a fault needs error, rate_limit, drop_connection or delay_ms".to_owned());
        }
        if let Some(error) = &self.error {
            if !(400..=599).contains(&error.status) {
                return Some(format!(
                    "error.status must be 400 to 599, not {}",
                    error.status
                ));
            }
        }
        if let Some(limit) = &self.rate_limit {
            if !(limit.retry_after.is_finite() && limit.retry_after >= 0.0) {
                return Some("rate_limit.retry_after must be 0 or more seconds".to_owned());
            }
        }
        if self.times == Some(0) {
            return Some("times must be 1 or more (leave it out for: until removed)".to_owned());
        }
        if self.delay_ms.is_some_and(|ms| ms > MAX_DELAY_MS) {
            return Some(format!("delay_ms must be at most {MAX_DELAY_MS}"));
        }
        None
    }

    fn matches(&self, request: &RequestFacts<'_>) -> bool {
        self.method
            .as_ref()
            .is_none_or(|m| m.eq_ignore_ascii_case(request.method))
            && self
                .path
                .as_ref()
                .is_none_or(|p| match p.strip_suffix('*') {
                    Some(prefix) => request.path.starts_with(prefix),
                    None => p == request.path,
                })
            && self.realm.as_ref().is_none_or(|r| r == request.realm)
            && self.user.as_ref().is_none_or(|u| {
                request
                    .user_email
                    .is_some_and(|email| email.eq_ignore_ascii_case(u))
            })
    }

    fn action(&self) -> FaultAction {
        if let Some(error) = &self.error {
            FaultAction::Error(error.clone())
        } else if let Some(limit) = self.rate_limit {
            FaultAction::RateLimit(limit)
        } else if self.drop_connection {
            FaultAction::DropConnection
        } else {
            FaultAction::Serve
        }
    }
}

/// The longest delay a fault may ask for, below the default request timeout (a test that needs
/// longer is better served by a dropped connection).
pub(crate) const MAX_DELAY_MS: u64 = 60_000;

/// What faults match on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequestFacts<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub realm: &'a str,
    /// The email in the Authorization header, if it has one.
    pub user_email: Option<&'a str>,
}

/// An installed fault.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Fault {
    pub id: u64,
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// How many more requests it applies to; `null`: until removed.
    pub remaining: Option<u32>,
    /// How many requests it has applied to.
    pub hits: u64,
}

/// Every installed fault, in the order they were added (the first match applies).
#[derive(Debug, Default)]
pub(crate) struct Faults {
    faults: Mutex<Vec<Fault>>,
    /// Whether there are any, so that requests skip the lock when there are none.
    any: AtomicBool,
    next_id: AtomicU64,
}

impl Faults {
    fn lock(&self) -> MutexGuard<'_, Vec<Fault>> {
        self.faults
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether any fault is installed (no lock taken).
    pub(crate) fn any(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    /// Installs a fault (checked by the caller with `FaultSpec::problem`).
    pub(crate) fn add(&self, spec: FaultSpec) -> Fault {
        let fault = Fault {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            remaining: spec.times,
            spec,
            hits: 0,
        };
        let mut faults = self.lock();
        faults.push(fault.clone());
        self.any.store(true, Ordering::Release);
        fault
    }

    /// Every installed fault.
    pub(crate) fn list(&self) -> Vec<Fault> {
        self.lock().clone()
    }

    /// Removes fault `id`; whether it was installed.
    pub(crate) fn remove(&self, id: u64) -> bool {
        let mut faults = self.lock();
        let before = faults.len();
        faults.retain(|fault| fault.id != id);
        self.any.store(!faults.is_empty(), Ordering::Release);
        faults.len() != before
    }

    /// Removes every fault; how many there were.
    pub(crate) fn clear(&self) -> usize {
        let mut faults = self.lock();
        let count = faults.len();
        faults.clear();
        self.any.store(false, Ordering::Release);
        count
    }

    /// Removes every fault and numbers the next one 1 again.
    pub(crate) fn reset(&self) {
        let mut faults = self.lock();
        faults.clear();
        self.next_id.store(0, Ordering::Relaxed);
        self.any.store(false, Ordering::Release);
    }

    /// The first fault matching `request`, counted as applied (a fault with no applications
    /// left goes).
    pub(crate) fn take(&self, request: &RequestFacts<'_>) -> Option<Hit> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let mut faults = self.lock();
        let index = faults
            .iter()
            .position(|fault| fault.spec.matches(request))?;
        let fault = &mut faults[index];
        fault.hits += 1;
        let hit = Hit {
            id: fault.id,
            delay_ms: fault.spec.delay_ms.unwrap_or(0),
            action: fault.spec.action(),
        };
        if let Some(remaining) = &mut fault.remaining {
            *remaining -= 1;
            if *remaining == 0 {
                faults.remove(index);
            }
        }
        self.any.store(!faults.is_empty(), Ordering::Release);
        Some(hit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> FaultSpec {
        serde_json::from_value(json).unwrap()
    }

    const PRESENCE: RequestFacts<'static> = RequestFacts {
        method: "GET",
        path: "/api/v1/realm/presence",
        realm: "",
        user_email: Some("iago@zulip.com"),
    };

    #[test]
    fn a_fault_for_n_requests_applies_n_times_then_goes() {
        let faults = Faults::default();
        faults.add(spec(
            serde_json::json!({"error": {"status": 500}, "times": 2}),
        ));
        assert!(faults.take(&PRESENCE).is_some());
        assert!(faults.take(&PRESENCE).is_some());
        assert_eq!(faults.take(&PRESENCE), None);
        assert!(faults.list().is_empty());
    }

    #[test]
    fn faults_match_on_method_path_prefix_user_and_realm() {
        let faults = Faults::default();
        faults.add(spec(serde_json::json!({
            "method": "get", "path": "/api/v1/realm/*", "user": "IAGO@zulip.com", "realm": "",
            "drop_connection": true
        })));
        assert_eq!(
            faults.take(&PRESENCE).unwrap().action,
            FaultAction::DropConnection
        );
        for other in [
            RequestFacts {
                method: "POST",
                ..PRESENCE
            },
            RequestFacts {
                path: "/api/v1/users/me/presence",
                ..PRESENCE
            },
            RequestFacts {
                realm: "lear",
                ..PRESENCE
            },
            RequestFacts {
                user_email: None,
                ..PRESENCE
            },
        ] {
            assert_eq!(faults.take(&other), None, "{other:?}");
        }
    }

    #[test]
    fn a_fault_does_one_thing_and_something() {
        assert!(
            spec(serde_json::json!({"drop_connection": true, "error": {"status": 500}}))
                .problem()
                .is_some()
        );
        assert!(spec(serde_json::json!({"path": "/x"})).problem().is_some());
        assert!(spec(serde_json::json!({"error": {"status": 302}}))
            .problem()
            .is_some());
        assert_eq!(spec(serde_json::json!({"delay_ms": 10})).problem(), None);
    }
}
