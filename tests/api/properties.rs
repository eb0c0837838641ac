//! Property tests: for random realms and clocks, the server agrees with a small reference model
//! of Zulip's rules written here from the contract, not from the server's code.

use std::collections::{BTreeMap, BTreeSet};

use axum::http::{Method, StatusCode};
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::helpers::*;

const DAY: i64 = 86_400;
const MICROS: i64 = 1_000_000;

/// A generated user: role guest or member, bot and active flags, joined some days ago.
#[derive(Clone, Debug)]
struct GenUser {
    guest: bool,
    bot: bool,
    active: bool,
    joined_days_ago: i64,
}

/// A generated presence row: each time an offset from `NOW_MICROS` in microseconds, or none.
#[derive(Clone, Debug)]
struct GenRow {
    connected: Option<i64>,
    active: Option<i64>,
}

#[derive(Clone, Debug)]
struct GenRealm {
    users: Vec<GenUser>,
    rows: BTreeMap<u64, GenRow>,
    /// Channels, as sets of member ids.
    channels: Vec<BTreeSet<u64>>,
    presence_disabled: bool,
}

fn user() -> impl Strategy<Value = GenUser> {
    (
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.9),
        0..40i64,
    )
        .prop_map(|(guest, bot, active, joined_days_ago)| GenUser {
            guest,
            bot,
            active,
            joined_days_ago,
        })
}

fn offset() -> impl Strategy<Value = Option<i64>> {
    prop::option::weighted(0.85, -20 * DAY * MICROS..3_600 * MICROS)
}

fn realm() -> impl Strategy<Value = GenRealm> {
    (2..10usize, prop::bool::weighted(0.1)).prop_flat_map(|(n, presence_disabled)| {
        let ids = 1..=n as u64;
        (
            prop::collection::vec(user(), n),
            prop::collection::btree_map(
                ids.clone(),
                (offset(), offset()).prop_map(|(connected, active)| GenRow { connected, active }),
                0..=n,
            ),
            prop::collection::vec(prop::collection::btree_set(ids, 0..=n), 0..3),
        )
            .prop_map(move |(users, rows, channels)| GenRealm {
                users,
                rows,
                channels,
                presence_disabled,
            })
    })
}

fn email(id: u64) -> String {
    format!("u{id}@example.com")
}

fn key(id: u64) -> String {
    format!("{id:0>32}")
}

fn seconds(micros: i64) -> f64 {
    micros as f64 / MICROS as f64
}

impl GenRealm {
    /// The realm as a fixture; user 1 is the viewer and a member unless `viewer_guest`.
    fn fixture(&self, viewer_guest: bool) -> Value {
        let users: Vec<Value> = self
            .users
            .iter()
            .zip(1u64..)
            .map(|(user, id)| {
                let viewer = id == 1;
                json!({
                    "user_id": id, "email": email(id), "full_name": format!("U{id}"),
                    "api_key": key(id),
                    "role": if (viewer && viewer_guest) || (!viewer && user.guest) { "guest" } else { "member" },
                    "is_bot": !viewer && user.bot,
                    "is_active": viewer || user.active,
                    "date_joined": seconds(NOW_MICROS) - (user.joined_days_ago * DAY) as f64,
                })
            })
            .collect();
        let presence: Vec<Value> = self
            .rows
            .iter()
            .map(|(id, row)| {
                json!({
                    "user_id": id,
                    "last_connected_time": row.connected.map(|o| seconds(NOW_MICROS + o)),
                    "last_active_time": row.active.map(|o| seconds(NOW_MICROS + o)),
                })
            })
            .collect();
        let channels: Vec<Value> = self
            .channels
            .iter()
            .enumerate()
            .map(|(c, members)| json!({"name": format!("c{c}"), "subscribers": members}))
            .collect();
        json!({
            "server": {"CAN_ACCESS_ALL_USERS_GROUP_LIMITS_PRESENCE": true},
            "realms": [{
                "subdomain": "", "name": "Generated", "can_access_all_users_group": "members",
                "presence_disabled": self.presence_disabled,
                "users": users, "channels": channels, "presence": presence,
            }],
        })
    }

    fn user(&self, id: u64) -> &GenUser {
        &self.users[(id - 1) as usize]
    }

    /// Who the viewer (user 1) may see when they are a limited guest: themself and the
    /// active users who share a channel with them.
    fn accessible_to_guest_viewer(&self) -> BTreeSet<u64> {
        let mut ids = BTreeSet::from([1]);
        for members in self.channels.iter().filter(|m| m.contains(&1)) {
            ids.extend(
                members
                    .iter()
                    .filter(|&&id| id == 1 || self.user(id).active),
            );
        }
        ids
    }

    /// Zulip's realm presence at `now` (microseconds), as the contract states it: active humans
    /// connected within 14 days; "active" at the active time when it is at most 70 s before the
    /// connection, else "idle" at the connection; a missing time counts as the join date.
    fn model(&self, now: i64, visible: Option<&BTreeSet<u64>>) -> BTreeMap<String, (String, i64)> {
        if self.presence_disabled {
            return BTreeMap::new();
        }
        let mut presences = BTreeMap::new();
        for (&id, row) in &self.rows {
            let user = self.user(id);
            let listed = id == 1 || (user.active && !user.bot);
            if !listed || visible.is_some_and(|ids| !ids.contains(&id)) {
                continue;
            }
            let Some(connected) = row.connected.map(|o| NOW_MICROS + o) else {
                continue;
            };
            if connected < now - 14 * DAY * MICROS {
                continue;
            }
            let joined = NOW_MICROS - user.joined_days_ago * DAY * MICROS;
            let active = row.active.map_or(joined, |o| NOW_MICROS + o);
            let entry = if active + 70 * MICROS >= connected {
                ("active".to_owned(), active.div_euclid(MICROS))
            } else {
                ("idle".to_owned(), connected.div_euclid(MICROS))
            };
            presences.insert(email(id), entry);
        }
        presences
    }
}

/// The presences of a realm-presence body as (status, timestamp) by email, checking that each
/// entry has Zulip's exact shape.
fn observed(body: &Value) -> BTreeMap<String, (String, i64)> {
    body["presences"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(email, entry)| {
            let status = entry["website"]["status"].as_str().unwrap().to_owned();
            let timestamp = entry["website"]["timestamp"].as_i64().unwrap();
            assert_eq!(entry, &legacy(&status, timestamp), "{email}");
            (email.clone(), (status, timestamp))
        })
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn viewer() -> Credentials {
    Credentials {
        email: Box::leak(email(1).into_boxed_str()),
        api_key: Box::leak(key(1).into_boxed_str()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Realm presence matches the model at every instant of a random walk of the clock, so the
    /// cached body is never stale either.
    #[test]
    fn realm_presence_follows_zulips_rules_as_the_clock_moves(
        realm in realm(),
        clock_moves in prop::collection::vec(-16 * DAY..16 * DAY, 1..6),
    ) {
        runtime().block_on(async {
            let app = TestApp::from_fixture_json(&realm.fixture(false));
            for offset in std::iter::once(0).chain(clock_moves) {
                app.set_clock(offset);
                let response = app.get_realm_presence(viewer()).await;
                assert_eq!(response.status, StatusCode::OK, "{}", response.text());
                let now = NOW_MICROS + offset * MICROS;
                assert_eq!(observed(&response.json()), realm.model(now, None), "at {offset}");
                assert_eq!(
                    response.json()["server_timestamp"].as_f64().unwrap(),
                    seconds(now)
                );
            }
        });
    }

    /// A guest under the access limit sees exactly the users they share a channel with (and
    /// themself), never anyone else.
    #[test]
    fn a_limited_guest_never_sees_an_inaccessible_user(realm in realm()) {
        runtime().block_on(async {
            let app = TestApp::from_fixture_json(&realm.fixture(true));
            let response = app.get_realm_presence(viewer()).await;
            assert_eq!(response.status, StatusCode::OK, "{}", response.text());
            let accessible = realm.accessible_to_guest_viewer();
            let seen = observed(&response.json());
            for email in seen.keys() {
                let id: u64 = email[1..email.find('@').unwrap()].parse().unwrap();
                assert!(accessible.contains(&id), "{email} is not accessible");
            }
            assert_eq!(seen, realm.model(NOW_MICROS, Some(&accessible)));
        });
    }

    /// `ignored_parameters_unsupported` lists every parameter the endpoint does not read,
    /// once, sorted, from the query string and the body alike.
    #[test]
    fn ignored_parameters_are_sorted_unique_and_complete(
        query in prop::collection::vec(
            prop::sample::select(vec!["zeta", "alpha", "client", "status", "ping_only", "b_2", "Alpha"]),
            0..5,
        ),
        body in prop::collection::vec(
            prop::sample::select(vec!["zeta", "omega", "client", "new_user_input", "slim_presence"]),
            0..5,
        ),
    ) {
        runtime().block_on(async {
            let app = TestApp::new();
            let query_string: Vec<String> = query.iter().map(|n| format!("{n}=true")).collect();
            let mut form: Vec<String> = body.iter().map(|n| format!("{n}=true")).collect();
            form.push("status=idle".to_owned());
            let response = app
                .request(Method::POST, &format!("/api/v1/users/me/presence?{}", query_string.join("&")))
                .basic_auth(HAMLET)
                .form(&form.join("&"))
                .send()
                .await;
            assert_eq!(response.status, StatusCode::OK, "{}", response.text());
            let read = ["client", "status", "ping_only", "new_user_input", "slim_presence",
                        "last_update_id", "history_limit_days"];
            let expected: BTreeSet<&str> = query
                .iter()
                .chain(&body)
                .copied()
                .filter(|name| !read.contains(name))
                .collect();
            let listed = response.json()["ignored_parameters_unsupported"].clone();
            let expected: Vec<&str> = expected.into_iter().collect();
            if expected.is_empty() {
                assert_eq!(listed, Value::Null);
            } else {
                assert_eq!(listed, json!(expected));
            }
        });
    }
}
