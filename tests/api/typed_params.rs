//! Property test: `POST /users/me/presence` with random values at the edges of how Zulip's
//! `typed_endpoint` reads parameters (huge and negative integers, `null`, `NaN`, floats,
//! strings, out-of-range windows, several bad values with `status` missing, rows with update
//! id 0) answers exactly what a small reference model of Zulip says: the whole body and the
//! status. The model is written here from Zulip's rules (zerver/lib/typed_endpoint.py,
//! pydantic's strict mode, Python's `json.loads`, `datetime` and orjson), not from the
//! server's code.

use axum::http::StatusCode;
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::helpers::*;

/// The parameters in the view's signature order, and whether each is an integer (else a
/// boolean).
const SIGNATURE: [(&str, bool); 5] = [
    ("history_limit_days", true),
    ("last_update_id", true),
    ("new_user_input", false),
    ("ping_only", false),
    ("slim_presence", false),
];

const JOINED: i64 = NOW - 10_000_000;

fn value() -> impl Strategy<Value = Option<String>> {
    let edges = prop::sample::select(vec![
        "null",
        "NaN",
        "Infinity",
        "-Infinity",
        "1.5",
        "1e3",
        "1e400",
        "\"5\"",
        "true",
        "false",
        "abc",
        "",
        " 7 ",
        "-0",
        "01",
        "[]",
        "0",
        "3",
        "4",
        "-1",
        "14",
        "700000",
        "1000000",
        "-3000000",
        "999999999999",
        "9223372036854775807",
        "9223372036854775808",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "123456789012345678901234567890",
    ]);
    prop_oneof![
        3 => Just(None),
        4 => edges.prop_map(|v| Some(v.to_owned())),
        1 => (-20i64..20).prop_map(|n| Some(n.to_string())),
    ]
}

fn status() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        1 => Just(None),
        4 => prop::sample::select(vec!["active", "idle", "Active", ""]).prop_map(Some),
    ]
}

/// Python's `json.loads`: whether `text` is valid JSON, as Python reads it.
fn python_json_is_valid(text: &str) -> bool {
    let trimmed = text.trim_matches([' ', '\t', '\n', '\r']);
    serde_json::from_str::<Value>(text).is_ok()
        || matches!(trimmed, "NaN" | "Infinity" | "-Infinity")
        || trimmed == "1e400"
}

/// A JSON integer as Python reads it (digits, an optional minus, no leading zero).
fn python_int(text: &str) -> Option<i128> {
    let trimmed = text.trim_matches([' ', '\t', '\n', '\r']);
    let digits = trimmed.strip_prefix('-').unwrap_or(trimmed);
    let ok = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    // i128 holds every integer this test sends.
    ok.then(|| trimmed.parse().unwrap())
}

/// `NOW - timedelta(days=d)` fits Python's `datetime` (years 1 to 9999).
fn window_fits(days: i128) -> bool {
    days.abs() <= 999_999_999 && {
        let start = i128::from(NOW) - days * 86_400;
        (-62_135_596_800..253_402_300_800).contains(&start)
    }
}

/// What Zulip answers: the status and the body, `server_timestamp` included.
fn model(params: &[Option<String>; 5], status: Option<&str>) -> (StatusCode, Value) {
    let bad = |msg: String| (StatusCode::BAD_REQUEST, bad_request(&msg));
    let mut ints = [None, None];
    let mut bools = [false; 3];
    for (i, ((name, is_int), given)) in SIGNATURE.iter().zip(params).enumerate() {
        let Some(text) = given else { continue };
        if !python_json_is_valid(text) {
            return bad(format!("{name} is not valid JSON"));
        }
        if *is_int {
            match python_int(text) {
                Some(n) => ints[i] = Some(n),
                None => return bad(format!("{name} is not an integer")),
            }
        } else {
            match serde_json::from_str::<Value>(text) {
                Ok(Value::Bool(b)) => bools[i - 2] = b,
                _ => return bad(format!("{name} is not a boolean")),
            }
        }
    }
    let Some(status) = status else {
        return (
            StatusCode::BAD_REQUEST,
            json!({"result": "error", "msg": "Missing 'status' argument",
                   "var_name": "status", "code": "REQUEST_VARIABLE_MISSING"}),
        );
    };
    if status != "active" && status != "idle" {
        return bad(format!("Invalid status: {status}"));
    }
    let [days, last_update_id] = ints;
    let [_, ping_only, slim_presence] = bools;
    if ping_only {
        return (StatusCode::OK, json!({"result": "success", "msg": ""}));
    }
    let internal_error = (
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"result": "error", "msg": "Internal server error"}),
    );
    if days.is_some_and(|d| d != 0 && !window_fits(d)) {
        return internal_error;
    }
    // The realm after the report: alice (update id 0), bob (3), and the reporter's new row (4).
    let reader_active = if status == "active" { NOW } else { JOINED };
    let rows = [
        (2, "alice", NOW - 30, NOW - 30, 0),
        (3, "bob", NOW - 100, NOW - 100, 3),
        (1, "reader", NOW, reader_active, 4),
    ];
    let windowed = last_update_id.is_none_or(|id| id <= 0);
    let since = i128::from(NOW) - days.unwrap_or(14) * 86_400;
    let selected: Vec<_> = rows
        .iter()
        .filter(|_| days != Some(0))
        .filter(|row| last_update_id.is_none_or(|id| i128::from(row.4) > id))
        .filter(|row| !windowed || i128::from(row.2) >= since)
        .collect();
    let slim = slim_presence || last_update_id.is_some();
    let mut presences = serde_json::Map::new();
    let mut sorted = selected.clone();
    sorted.sort_by_key(|row| {
        if slim {
            row.0.to_string()
        } else {
            format!("{}@example.com", row.1)
        }
    });
    for (id, name, connected, active, _) in sorted {
        if slim {
            presences.insert(id.to_string(), modern(*active, *connected));
        } else {
            let (status, t) = if active + 70 >= *connected {
                ("active", *active)
            } else {
                ("idle", *connected)
            };
            presences.insert(format!("{name}@example.com"), legacy(status, t));
        }
    }
    let last = match (selected.iter().map(|row| row.4).max(), last_update_id) {
        (Some(max), _) => json!(max),
        (None, Some(id)) if (-(1i128 << 63)..(1i128 << 64)).contains(&id) => {
            serde_json::from_str(&id.to_string()).unwrap()
        }
        (None, Some(_)) => return internal_error,
        (None, None) => json!(-1),
    };
    (
        StatusCode::OK,
        json!({"result": "success", "msg": "", "presences": presences,
               "server_timestamp": SERVER_TIMESTAMP, "presence_last_update_id": last}),
    )
}

fn form(params: &[Option<String>; 5], status: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = SIGNATURE
        .iter()
        .zip(params)
        .filter_map(|((name, _), v)| v.as_ref().map(|v| (name.to_string(), v.clone())))
        .collect();
    if let Some(status) = status {
        pairs.push(("status".to_owned(), status.to_owned()));
    }
    // The client's order does not matter: Zulip reads in signature order.
    pairs.reverse();
    serde_urlencoded::to_string(pairs).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn presence_reports_read_their_parameters_as_zulip_s_typed_endpoint_does(
        params in [value(), value(), value(), value(), value()],
        status in status(),
    ) {
        let fixture = lab_fixture(json!([
            {"user_id": 2, "last_connected_time": NOW - 30, "last_active_time": NOW - 30, "last_update_id": 0},
            {"user_id": 3, "last_connected_time": NOW - 100, "last_active_time": NOW - 100, "last_update_id": 3},
        ]));
        let app = TestApp::from_fixture_json(&fixture);
        let body = form(&params, status);

        let response = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(app.post_presence(lab("reader"), &body));

        let (status, expected) = model(&params, status);
        prop_assert_eq!(response.status, status, "{}: {}", body, response.text());
        prop_assert_eq!(response.text(), format!("{expected}\n"), "{}", body);
    }
}
