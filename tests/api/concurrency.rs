//! Concurrent presence reports: no lost write, no shared update id, no half-applied row.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::json;
use zulip_presence_mock::clock::{Clock, Timestamp};
use zulip_presence_mock::fixtures::Fixture;
use zulip_presence_mock::state::Options;
use zulip_presence_mock::store::PresenceTimes;
use zulip_presence_mock::AppState;

use crate::helpers::lab_fixture;

const WRITERS: u64 = 16;
const REPORTS_PER_WRITER: u64 = 400;
const USERS: u64 = 7;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reports_never_lose_a_write_share_an_id_or_show_half_a_row() {
    let fixture = Fixture::parse("lab", &lab_fixture(json!([])).to_string()).unwrap();
    let state = AppState::new(
        fixture,
        Clock::frozen(Timestamp::from_unix_seconds(0)),
        Options::default(),
    );
    let realm = state.store.realm("").unwrap();
    let done = Arc::new(AtomicBool::new(false));

    // Readers check, under the same lock writers take, that both times of every row always
    // move together and no row is ahead of the realm's update id.
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (realm, done) = (Arc::clone(&realm), Arc::clone(&done));
            tokio::spawn(async move {
                let mut checks = 0u64;
                while !done.load(Ordering::Relaxed) {
                    realm.read(|state| {
                        for (_, row) in state.presence_rows() {
                            assert_eq!(
                                row.last_connected_time, row.last_active_time,
                                "half-applied row"
                            );
                            assert!(row.last_update_id <= state.last_update_id());
                        }
                    });
                    checks += 1;
                    tokio::task::yield_now().await;
                }
                checks
            })
        })
        .collect();

    // Each report moves a user's two times one second on: a lost write would show as a row
    // behind the number of reports made for that user.
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let realm = Arc::clone(&realm);
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for n in 0..REPORTS_PER_WRITER {
                    let user_id = 1 + (writer + n) % USERS;
                    let id = realm
                        .report_presence(user_id, |row| {
                            let seconds = row
                                .and_then(|row| row.last_connected_time)
                                .map_or(1, |t| t.unix_seconds() + 1);
                            let at = Some(Timestamp::from_unix_seconds(seconds));
                            Some(PresenceTimes {
                                last_connected_time: at,
                                last_active_time: at,
                            })
                        })
                        .unwrap()
                        .unwrap();
                    ids.push((user_id, id));
                    tokio::task::yield_now().await;
                }
                ids
            })
        })
        .collect();

    let mut all = Vec::new();
    for writer in writers {
        all.extend(writer.await.unwrap());
    }
    done.store(true, Ordering::Relaxed);
    for reader in readers {
        assert!(reader.await.unwrap() > 0);
    }

    let total = WRITERS * REPORTS_PER_WRITER;
    let mut ids: Vec<i64> = all.iter().map(|(_, id)| *id).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        (1..=total as i64).collect::<Vec<_>>(),
        "every change has its own id, none missing"
    );
    let mut reports: HashMap<u64, (i64, i64)> = HashMap::new();
    for (user_id, id) in all {
        let entry = reports.entry(user_id).or_default();
        entry.0 += 1;
        entry.1 = entry.1.max(id);
    }
    realm.read(|state| {
        assert_eq!(state.last_update_id(), total as i64);
        for (user_id, (count, last_id)) in &reports {
            let row = state.presence_row(*user_id).unwrap();
            assert_eq!(
                row.last_connected_time,
                Some(Timestamp::from_unix_seconds(*count)),
                "user {user_id}"
            );
            assert_eq!(row.last_update_id, *last_id, "user {user_id}");
        }
    });
}
