//! Zulip's per-user API rate limit (zerver/lib/rate_limiter.py, the Redis backend's sliding
//! window log; zerver/middleware.py `RateLimitMiddleware` for the headers), on the server's
//! clock so that a test can advance time to free a limited user. Off unless configured.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

use dashmap::DashMap;
use serde::{Deserialize, Serialize};

use crate::domain::clock::Timestamp;
use crate::domain::store::UserId;

/// One rule: at most `requests` per `window_seconds` per user (Zulip's default `api_by_user`
/// rule is 200 per 60 s).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateRule {
    pub requests: u32,
    pub window_seconds: u32,
}

impl std::str::FromStr for RateRule {
    type Err = String;

    /// `<requests>/<seconds>`, such as `200/60`.
    fn from_str(text: &str) -> Result<Self, String> {
        let parsed = text.split_once('/').and_then(|(requests, seconds)| {
            Some(Self {
                requests: requests.trim().parse().ok()?,
                window_seconds: seconds.trim().trim_end_matches('s').parse().ok()?,
            })
        });
        match parsed {
            Some(rule) if rule.requests > 0 && rule.window_seconds > 0 => Ok(rule),
            _ => Err(format!(
                "invalid rate limit {text:?}: expected <requests>/<seconds> with both above 0, such as 200/60"
            )),
        }
    }
}

/// The `X-RateLimit-*` headers of one response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RateLimitHeaders {
    pub limit: u32,
    pub remaining: u32,
    /// When the window frees up, as UNIX seconds (truncated, as Zulip's `int()`).
    pub reset: i64,
}

/// What the limiter decided for one request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct RateOutcome {
    pub headers: RateLimitHeaders,
    /// `Some(seconds to freedom)` when the request is refused with a 429.
    pub retry_after: Option<f64>,
}

/// The limiter: one optional rule and each user's recent request times.
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    rule: RwLock<Option<RateRule>>,
    /// Whether `rule` is set: read without the lock by every request.
    on: AtomicBool,
    /// (realm subdomain, user id) -> the times of their last `requests` allowed requests.
    history: DashMap<(String, UserId), VecDeque<Timestamp>>,
}

impl RateLimiter {
    /// A limiter applying `rule` (none: off).
    pub(crate) fn new(rule: Option<RateRule>) -> Self {
        Self {
            rule: RwLock::new(rule),
            on: AtomicBool::new(rule.is_some()),
            history: DashMap::new(),
        }
    }

    /// The rule in force.
    pub(crate) fn rule(&self) -> Option<RateRule> {
        if !self.on.load(Ordering::Acquire) {
            return None;
        }
        *self
            .rule
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies `rule` from now on (none: off), forgetting every user's history.
    pub(crate) fn set_rule(&self, rule: Option<RateRule>) {
        let mut current = self
            .rule
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *current = rule;
        self.on.store(rule.is_some(), Ordering::Release);
        drop(current);
        self.history.clear();
    }

    /// Counts a request by user `user_id` of the realm on `subdomain` at `now`, or refuses it;
    /// `None` when no limit is on.
    ///
    /// Zulip's Redis backend: a request is refused when the `requests`-th newest allowed
    /// request is less than a window old (`secs_to_freedom` until it is not); a refused
    /// request is not counted. An allowed one reports the requests left in the window
    /// (itself included) and a reset of now plus the window.
    pub(crate) fn check(
        &self,
        subdomain: &str,
        user_id: UserId,
        now: Timestamp,
    ) -> Option<RateOutcome> {
        let rule = self.rule()?;
        let key = (subdomain.to_owned(), user_id);
        let mut times = self.history.entry(key).or_default();
        let window_micros = i64::from(rule.window_seconds) * 1_000_000;
        let capacity = rule.requests as usize;
        if times.len() >= capacity {
            let oldest_counted = times[times.len() - capacity];
            let free_at = oldest_counted.unix_micros() + window_micros;
            if free_at >= now.unix_micros() {
                let seconds = (free_at - now.unix_micros()) as f64 / 1e6;
                return Some(RateOutcome {
                    headers: RateLimitHeaders {
                        limit: rule.requests,
                        remaining: 0,
                        reset: (now.unix_seconds_f64() + seconds).trunc() as i64,
                    },
                    retry_after: Some(seconds),
                });
            }
        }
        times.push_back(now);
        while times.len() > capacity {
            times.pop_front();
        }
        let since = now.unix_micros() - window_micros;
        let in_window = times
            .iter()
            .filter(|t| (since..=now.unix_micros()).contains(&t.unix_micros()))
            .count();
        Some(RateOutcome {
            headers: RateLimitHeaders {
                limit: rule.requests,
                remaining: rule.requests.saturating_sub(in_window as u32),
                reset: (now.unix_seconds_f64() + f64::from(rule.window_seconds)).trunc() as i64,
            },
            retry_after: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_as_requests_per_seconds() {
        assert_eq!(
            "200/60".parse(),
            Ok(RateRule {
                requests: 200,
                window_seconds: 60
            })
        );
        assert_eq!(
            "5/10s".parse(),
            Ok(RateRule {
                requests: 5,
                window_seconds: 10
            })
        );
        for bad in ["200", "0/60", "5/0", "a/b", "/"] {
            assert!(bad.parse::<RateRule>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_user_past_the_rule_waits_for_the_window_and_others_are_not_counted_with_them() {
        let limiter = RateLimiter::new(Some(RateRule {
            requests: 2,
            window_seconds: 60,
        }));
        let at = Timestamp::from_unix_seconds;
        let outcome = |user, seconds| limiter.check("t1", user, at(seconds)).unwrap();

        let first = outcome(1, 1_000);
        let second = outcome(1, 1_010);
        let refused = outcome(1, 1_020);
        let other_user = outcome(2, 1_020);
        let later = outcome(1, 1_061);

        assert_eq!(
            first.headers,
            RateLimitHeaders {
                limit: 2,
                remaining: 1,
                reset: 1_060
            }
        );
        assert_eq!((second.headers.remaining, second.retry_after), (0, None));
        assert_eq!(refused.retry_after, Some(40.0));
        assert_eq!(refused.headers.reset, 1_060);
        assert_eq!(other_user.retry_after, None);
        assert_eq!(later.retry_after, None);
        assert_eq!(RateLimiter::new(None).check("t1", 1, at(0)), None);
    }
}
