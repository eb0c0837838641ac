//! Black-box tests of the whole application, one binary (see tests/api/helpers.rs).

// Test helpers are `pub` for the sibling modules of this one binary, not for export.
#![allow(unreachable_pub)]

mod admin;
mod admin_control;
mod admin_state;
mod architecture;
mod auth;
mod cache;
mod docs;
mod events;
mod fast_path;
mod feature_level;
mod fixtures;
mod helpers;
mod http;
mod presence;
mod process;
mod properties;
mod server_settings;
mod stubs;
mod testing;
mod typed_params;
mod update_presence;
mod user_presence;
mod users;
