//! The fixture loader: any bytes are refused with a JSON path and a problem, or give a fixture
//! that builds a server state; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zulip_presence_mock::Fixture;
use zulip_presence_mock::Timestamp;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(fixture) = Fixture::parse("fuzz.json", text) {
        let _ = fixture.build(Timestamp::from_unix_seconds(1_700_000_000));
    }
});
