//! Cached response bytes. A realm keeps the serialised start of its realm-presence body and
//! serves it until it may be stale: the realm's state changed (its version moved), the feature
//! level changed, or the clock left the interval in which the 14-day window selects the same
//! rows. Each response then only appends its own `server_timestamp`.

use std::sync::RwLock;

use axum::body::Bytes;

use crate::domain::clock::Timestamp;
use crate::domain::feature_levels::FeatureLevel;
pub(crate) use crate::domain::presence_rules::Validity;

/// What a cached body was built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CacheKey {
    /// The realm state's version (every change moves it).
    pub version: u64,
    pub feature_level: FeatureLevel,
}

/// A body this large makes its building worth giving memory back for.
const LARGE_BODY_BYTES: usize = 256 * 1024;

#[derive(Debug)]
struct Entry {
    key: CacheKey,
    validity: Validity,
    bytes: Bytes,
}

/// One cached body. Cheap to read concurrently; rebuilt by whoever first finds it stale.
#[derive(Debug, Default)]
pub(crate) struct BodyCache {
    entry: RwLock<Option<Entry>>,
}

impl BodyCache {
    /// The cached bytes for `key` at `now`, or those `build` makes (bytes and the instants they
    /// stay right), which are then kept.
    pub(crate) fn get_or_build(
        &self,
        key: CacheKey,
        now: Timestamp,
        build: impl FnOnce() -> (Bytes, Validity),
    ) -> Bytes {
        let fresh = self
            .entry
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_ref()
            .filter(|entry| entry.key == key && entry.validity.contains(now))
            .map(|entry| entry.bytes.clone());
        if let Some(bytes) = fresh {
            return bytes;
        }
        let (bytes, validity) = build();
        let replaced = self
            .entry
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .replace(Entry {
                key,
                validity,
                bytes: bytes.clone(),
            });
        // Building a large body leaves its working memory (and the old body) free in the
        // allocator: give it back, off the request's thread.
        if bytes.len() >= LARGE_BODY_BYTES {
            drop(replaced);
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn_blocking(crate::memory::give_back);
            }
        }
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: CacheKey = CacheKey {
        version: 1,
        feature_level: FeatureLevel(509),
    };

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_seconds(seconds)
    }

    #[test]
    fn validity_excludes_after_and_includes_until() {
        let validity = Validity {
            after: Some(at(10)),
            until: Some(at(20)),
        };
        assert!(!validity.contains(at(10)));
        assert!(validity.contains(at(11)));
        assert!(validity.contains(at(20)));
        assert!(!validity.contains(at(21)));
        assert!(Validity::default().contains(at(0)));
    }

    #[test]
    fn a_body_is_rebuilt_when_its_key_or_its_validity_no_longer_holds() {
        let cache = BodyCache::default();
        let build = |text: &'static str| {
            move || {
                (
                    Bytes::from(text),
                    Validity {
                        after: None,
                        until: Some(at(20)),
                    },
                )
            }
        };
        assert_eq!(cache.get_or_build(KEY, at(0), build("a")), "a");
        assert_eq!(cache.get_or_build(KEY, at(20), build("b")), "a");
        assert_eq!(cache.get_or_build(KEY, at(21), build("c")), "c");
        let changed = CacheKey { version: 2, ..KEY };
        assert_eq!(cache.get_or_build(changed, at(0), build("d")), "d");
        let other_level = CacheKey {
            feature_level: FeatureLevel(500),
            ..changed
        };
        assert_eq!(cache.get_or_build(other_level, at(0), build("e")), "e");
    }
}
