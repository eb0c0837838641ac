//! The domain: what a Zulip server knows and decides, with no HTTP in it. The store of realms,
//! users and presence rows; the clock; Zulip's presence rules and user directory; feature
//! levels; event queues; the rate limiter; Python's integers where Zulip computes with them.
//! Nothing here imports axum, hyper, `http` or the application state (a test checks).

pub(crate) mod clock;
pub(crate) mod event_queues;
pub(crate) mod feature_levels;
pub(crate) mod presence_rules;
pub(crate) mod python_int;
pub(crate) mod rate_limits;
pub(crate) mod store;
pub(crate) mod user_directory;
