//! Test control: the admin API under `/__admin` (realms and users, the clock, stubs, faults,
//! event queues, the rate limiter), and what it controls beside the domain: the request
//! journal, injected faults and stubbed endpoints.

mod admin_controls;
mod admin_io;
mod admin_realms;
mod admin_router;
mod admin_stubs;
pub(crate) mod faults;
pub(crate) mod request_journal;
pub(crate) mod stubs;

pub(crate) use admin_router::*;
