//! Fixture files: every mistake stops loading with the file, the JSON path and the problem.

use std::path::Path;

use serde_json::{json, Value};
use zulip_presence_mock::{Fixture, FixtureError};

use crate::helpers::{default_fixture_json, HAMLET};

fn error_of(fixture: &Value) -> String {
    Fixture::parse("bad.json", &fixture.to_string())
        .unwrap_err()
        .to_string()
}

fn default_with(change: impl FnOnce(&mut Value)) -> Value {
    let mut fixture = default_fixture_json();
    change(&mut fixture);
    fixture
}

#[test]
fn fixtures_in_repo_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut checked = 0;
    for dir in [root.clone(), root.join("examples")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json")
                && !path.to_string_lossy().ends_with(".schema.json")
            {
                Fixture::load(&path).unwrap_or_else(|err| panic!("{err}"));
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 4);
}

#[test]
fn bad_directory_fields_and_register_state_are_refused_at_their_path() {
    let cases = [
        (
            json!({"bot_owner_id": 1}),
            "at $.realms[0].users[2].bot_owner_id: only bots have a bot_type and a bot_owner_id",
        ),
        (
            json!({"email_address_visibility": "admins"}),
            "at $.realms[0].users[2].email_address_visibility: a hidden email gives the user a dummy API email (user<id>@<domain>): set email to it and delivery_email to the real one",
        ),
        (
            json!({"profile_data": {"1": "Prince"}}),
            "at $.realms[0].users[2].profile_data.1: must be an object such as {\"value\": \"...\"}",
        ),
    ];
    for (fields, expected) in cases {
        let fixture = default_with(|f| {
            f["realms"][0]["users"][2]
                .as_object_mut()
                .unwrap()
                .extend(fields.as_object().unwrap().clone());
        });
        assert_eq!(error_of(&fixture), format!("bad.json: {expected}"));
    }
    let bad_state = default_with(|f| {
        f["realms"][0]["register_state"] = json!({"message": {"max_message_id": 1},
                                                   "realm": {"max_message_id": 2}});
    });
    assert_eq!(
        error_of(&bad_state),
        "bad.json: at $.realms[0].register_state.realm.max_message_id: max_message_id is given by another fetch type too"
    );
}

#[test]
fn text_that_is_not_json_is_refused_with_its_position() {
    let err = Fixture::parse("bad.json", "{\"realms\": [").unwrap_err();

    assert_eq!(
        err.to_string(),
        "bad.json: at $.realms: EOF while parsing a list at line 1 column 12"
    );
}

#[test]
fn an_unknown_field_is_refused_at_its_path() {
    let fixture = default_with(|f| f["realms"][0]["users"][1]["nickname"] = json!("ia"));

    assert!(
        error_of(&fixture).starts_with(
            "bad.json: at $.realms[0].users[1].nickname: unknown field `nickname`, expected one of"
        ),
        "{}",
        error_of(&fixture)
    );
}

#[test]
fn an_unknown_role_is_refused_at_its_path() {
    let fixture = default_with(|f| f["realms"][0]["users"][2]["role"] = json!("king"));

    assert!(
        error_of(&fixture).starts_with(
            "bad.json: at $.realms[0].users[2].role: unknown variant `king`, expected one of `owner`, `admin`, `moderator`, `member`, `guest`"
        ),
        "{}",
        error_of(&fixture)
    );
}

#[test]
fn a_bad_time_is_refused_at_its_path() {
    let fixture =
        default_with(|f| f["realms"][0]["presence"][3]["last_active_time"] = json!("-5y"));

    assert!(
        error_of(&fixture).starts_with(
            "bad.json: at $.realms[0].presence[3].last_active_time: invalid relative time \"-5y\""
        ),
        "{}",
        error_of(&fixture)
    );
}

#[test]
fn a_malformed_api_key_is_refused() {
    let fixture = default_with(|f| f["realms"][0]["users"][0]["api_key"] = json!("tooshort"));

    assert_eq!(
        error_of(&fixture),
        "bad.json: at $.realms[0].users[0].api_key: malformed API key: it must be exactly 32 characters of A-Z, a-z and 0-9"
    );
}

#[test]
fn duplicate_ids_emails_and_keys_within_a_realm_are_refused() {
    let duplicate_id = default_with(|f| f["realms"][0]["users"][1]["user_id"] = json!(1));
    let duplicate_email =
        default_with(|f| f["realms"][0]["users"][1]["email"] = json!("HAMLET@zulip.com"));
    let duplicate_key = default_with(|f| {
        f["realms"][1]["users"][1]["api_key"] = f["realms"][1]["users"][0]["api_key"].clone()
    });

    assert_eq!(
        error_of(&duplicate_id),
        "bad.json: at $.realms[0].users[1].user_id: duplicate user_id 1"
    );
    assert_eq!(
        error_of(&duplicate_email),
        "bad.json: at $.realms[0].users[2].email: duplicate email \"hamlet@zulip.com\" in this realm"
    );
    assert_eq!(
        error_of(&duplicate_key),
        "bad.json: at $.realms[1].users[1].api_key: duplicate API key (user 102 has the same key as another user)"
    );
}

#[test]
fn two_realms_may_reuse_ids_and_keys_so_one_template_seeds_many_realms() {
    let lear = json!({
        "subdomain": "lear",
        "name": "Lear",
        "users": [{"user_id": 3, "email": "hamlet@zulip.com", "full_name": "Other Hamlet",
                   "api_key": HAMLET.api_key}]
    });
    let fixture = default_with(|f| f["realms"][1] = lear.clone());

    assert!(Fixture::parse("ok.json", &fixture.to_string()).is_ok());
}

#[test]
fn presence_for_an_unknown_user_is_refused() {
    let fixture = default_with(|f| f["realms"][1]["presence"][0]["user_id"] = json!(2));

    assert_eq!(
        error_of(&fixture),
        "bad.json: at $.realms[1].presence[0].user_id: user 2 is not a user of this realm"
    );
}

#[test]
fn a_second_presence_row_for_a_user_is_refused() {
    let fixture = default_with(|f| f["realms"][1]["presence"][1]["user_id"] = json!(101));

    assert_eq!(
        error_of(&fixture),
        "bad.json: at $.realms[1].presence[1].user_id: user 101 already has a presence row"
    );
}

#[test]
fn memberships_must_name_users_of_the_realm() {
    let channel = default_with(|f| f["realms"][0]["channels"][0]["subscribers"][1] = json!(101));
    let pair = default_with(|f| f["realms"][0]["direct_message_pairs"][0] = json!([4, 4]));

    assert_eq!(
        error_of(&channel),
        "bad.json: at $.realms[0].channels[0].subscribers[1]: user 101 is not a user of this realm"
    );
    assert_eq!(
        error_of(&pair),
        "bad.json: at $.realms[0].direct_message_pairs[0]: a direct-message pair needs two different users"
    );
}

#[test]
fn realms_need_distinct_valid_subdomains() {
    let duplicate = default_with(|f| f["realms"][1]["subdomain"] = json!(""));
    let invalid = default_with(|f| f["realms"][1]["subdomain"] = json!("Lear.Co"));
    let none = json!({ "realms": [] });

    assert_eq!(
        error_of(&duplicate),
        "bad.json: at $.realms[1].subdomain: duplicate subdomain \"\""
    );
    assert!(error_of(&invalid)
        .starts_with("bad.json: at $.realms[1].subdomain: invalid subdomain \"Lear.Co\""));
    assert_eq!(
        error_of(&none),
        "bad.json: at $.realms: at least one realm is required"
    );
}

#[test]
fn a_missing_file_is_refused_with_its_path() {
    let err = Fixture::load(Path::new("/nonexistent/fixture.json")).unwrap_err();

    assert!(matches!(err, FixtureError::Unreadable { .. }));
    assert!(
        err.to_string()
            .starts_with("/nonexistent/fixture.json: cannot read the fixture: "),
        "{err}"
    );
}
