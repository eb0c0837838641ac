//! The Zulip endpoints the mock serves, as stub path patterns: a stub may not shadow one of
//! them (the fixture loader and the admin API check with `serves`).

use crate::test_control::stubs::patterns_overlap;

pub(crate) const REALM_PRESENCE_PATH: &str = "/api/v1/realm/presence";

/// Every method and path the router below serves, written as stub path patterns: a stub may
/// not shadow one of them (`serves`). HEAD follows GET. `tests/api/stubs.rs` checks the list
/// against the router.
pub(crate) const SERVED: &[(&str, &str)] = &[
    ("GET", "/api/v1/server_settings"),
    ("POST", "/api/v1/register"),
    ("GET", "/api/v1/events"),
    ("DELETE", "/api/v1/events"),
    ("GET", REALM_PRESENCE_PATH),
    ("POST", "/api/v1/users/me/presence"),
    ("GET", "/api/v1/users/{user_id_or_email}/presence"),
    ("GET", "/api/v1/users"),
    ("GET", "/api/v1/users/me"),
    ("GET", "/api/v1/users/{user_id_or_email}"),
];

/// Whether the mock serves `method` on some path that `pattern` (a stub path) also matches.
pub(crate) fn serves(method: &str, pattern: &str) -> bool {
    SERVED.iter().any(|(served_method, path)| {
        served_method.eq_ignore_ascii_case(method) && patterns_overlap(path, pattern)
    })
}
