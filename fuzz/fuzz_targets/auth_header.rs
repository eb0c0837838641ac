//! The Basic Authorization header parser and the whole authentication against the default
//! fixture: any header value gets credentials or one of Zulip's errors, never a panic.
#![no_main]

use std::sync::OnceLock;

use axum::http::{header, HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use zulip_presence_mock::AppState;
use zulip_presence_mock::Clock;
use zulip_presence_mock::Fixture;
use zulip_presence_mock::Options;
use zulip_presence_mock::{authenticates, basic_credentials};

fn state() -> &'static AppState {
    static STATE: OnceLock<AppState> = OnceLock::new();
    STATE.get_or_init(|| {
        AppState::new(
            Fixture::default_fixture(),
            Clock::system(),
            Options::default(),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, value);
    let _ = basic_credentials(&headers);
    for subdomain in ["", "lear", "nowhere"] {
        let _ = authenticates(state(), subdomain, &headers);
    }
});
