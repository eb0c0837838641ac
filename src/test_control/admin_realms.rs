//! Admin endpoints that shape state: reset, the whole state as a fixture, server settings,
//! realms (one per test, on its own host), and a realm's users, channels, direct messages and
//! presence rows. Every change is checked exactly as a fixture file is (a refused change leaves
//! the state as it was) and applied as one change under the realm's lock.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::admin_io::{
    merge_patch, segment_of_subdomain, subdomain_from_segment, AdminBody, AdminError, AdminJson,
    AdminPath, BODY,
};
use crate::app_state::AppState;
use crate::domain::clock::TimeSpec;
use crate::domain::event_queues::{publish_presence, publish_realm_user};
use crate::domain::store::{PresenceTimes, Realm, UserId};
use crate::fixtures::{
    parse_json, ChannelFixture, Fixture, PresenceFixture, RealmFixture, ServerFixture, UserFixture,
};
use crate::test_control::stubs::Stub;
use crate::zulip_api::authentication::REALM_PATH_PREFIX;

type AdminResult<T> = Result<T, AdminError>;

/// What the admin API says about a realm in lists.
#[derive(Debug, Serialize)]
pub(super) struct RealmSummary {
    subdomain: String,
    name: String,
    /// The host clients use for it (`<subdomain>.<external host>`).
    host: String,
    /// The path prefix that selects it without a Host header: a client's site can be
    /// `http://<mock address><path_prefix>`.
    path_prefix: String,
    users: usize,
    presence_rows: usize,
}

fn summary(state: &AppState, realm: &Realm) -> RealmSummary {
    let external_host = state.store.server().external_host.clone();
    realm.read(|realm_state| {
        let subdomain = realm.subdomain().to_owned();
        RealmSummary {
            host: if subdomain.is_empty() {
                external_host
            } else {
                format!("{subdomain}.{external_host}")
            },
            path_prefix: format!("{REALM_PATH_PREFIX}{}", segment_of_subdomain(&subdomain)),
            name: realm_state.settings().name.clone(),
            users: realm_state.user_count(),
            presence_rows: realm_state.presence_rows().count(),
            subdomain,
        }
    })
}

fn summaries(state: &AppState) -> Vec<RealmSummary> {
    state
        .store
        .realms()
        .iter()
        .map(|realm| summary(state, realm))
        .collect()
}

pub(super) fn realm_of(state: &AppState, segment: &str) -> AdminResult<Arc<Realm>> {
    let subdomain = subdomain_from_segment(segment);
    state
        .store
        .realm(&subdomain)
        .ok_or_else(|| AdminError::NotFound(format!("no realm has the subdomain {subdomain:?}")))
}

/// Applies `change` to the realm as a fixture, checks the result exactly like a fixture file,
/// and stores it as one change; a refused change leaves the realm as it was.
pub(super) fn edit_realm<T>(
    state: &AppState,
    realm: &Realm,
    change: impl FnOnce(&mut RealmFixture) -> AdminResult<T>,
) -> AdminResult<T> {
    let now = state.clock.now();
    realm.edit(|current| {
        let mut fixture = RealmFixture::export(current);
        let out = change(&mut fixture)?;
        fixture.check_at("the realm after this change", "$")?;
        Ok((fixture.contents(now), out))
    })
}

fn text(bytes: &Bytes) -> AdminResult<&str> {
    std::str::from_utf8(bytes)
        .map_err(|_| AdminError::BadRequest("the request body is not UTF-8".to_owned()))
}

/// `value` with `patch` merged in, read back as a `T` (problems named at their JSON path).
fn patched<T: serde::de::DeserializeOwned>(mut value: Value, patch: Value) -> AdminResult<T> {
    if !patch.is_object() {
        return Err(AdminError::BadRequest(
            "a patch must be a JSON object (RFC 7386 merge patch)".to_owned(),
        ));
    }
    merge_patch(&mut value, patch);
    Ok(parse_json(BODY, &value.to_string())?)
}

fn to_value(value: &impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// `POST /__admin/reset`: everything back to the loaded fixture.
pub(super) async fn reset(State(state): State<AppState>) -> Json<Value> {
    state.reset();
    crate::memory::give_back_later().await;
    Json(json!({ "realms": summaries(&state) }))
}

/// `GET /__admin/state`: the whole state as a fixture.
pub(super) async fn get_state(State(state): State<AppState>) -> Json<Fixture> {
    let stubs = state
        .control
        .stubs
        .list()
        .iter()
        .map(Stub::as_spec)
        .collect();
    Json(Fixture::export(&state.store, stubs))
}

/// `PUT /__admin/state`: replaces the whole state with a fixture, checked like a file.
pub(super) async fn put_state(
    State(state): State<AppState>,
    AdminBody(body): AdminBody,
) -> AdminResult<Json<Value>> {
    let fixture = Fixture::parse(BODY, text(&body)?)?;
    state.load(fixture, false);
    crate::memory::give_back_later().await;
    Ok(Json(json!({ "realms": summaries(&state) })))
}

/// `GET /__admin/server`: the server-wide settings.
pub(super) async fn get_server(State(state): State<AppState>) -> Json<ServerFixture> {
    Json(ServerFixture::export(&state.store.server()))
}

/// `PATCH /__admin/server`: changes server-wide settings (feature level, version, access limit).
pub(super) async fn patch_server(
    State(state): State<AppState>,
    patch: AdminJson<Value>,
) -> AdminResult<Json<ServerFixture>> {
    let mut value = to_value(&ServerFixture::export(&state.store.server()));
    if !patch.0.as_ref().is_some_and(Value::is_object) {
        return Err(AdminError::BadRequest(
            "a patch must be a JSON object (RFC 7386 merge patch)".to_owned(),
        ));
    }
    let patch = patch.required()?;
    // A new level brings its own version, unless the patch names one.
    if patch.get("feature_level").is_some() {
        if let Value::Object(current) = &mut value {
            for derived in ["zulip_version", "zulip_merge_base"] {
                if patch.get(derived).is_none() {
                    current.remove(derived);
                }
            }
        }
    }
    merge_patch(&mut value, patch);
    let settings = ServerFixture::parse(BODY, &value.to_string())?.build();
    let shown = ServerFixture::export(&settings);
    state.store.set_server(settings);
    Ok(Json(shown))
}

/// `GET /__admin/realms`: every realm.
pub(super) async fn list_realms(State(state): State<AppState>) -> Json<Vec<RealmSummary>> {
    Json(summaries(&state))
}

/// How many users a generated realm may have.
const MAX_GENERATED_USERS: u32 = 200_000;

/// A realm made up from a few numbers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GeneratedRealm {
    subdomain: String,
    #[serde(default)]
    name: Option<String>,
    generate: Generate,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Generate {
    users: u32,
    #[serde(default)]
    presence: GeneratedPresence,
}

/// The presence every generated user gets.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum GeneratedPresence {
    /// Connected and active now.
    #[default]
    Active,
    /// Connected now, last active an hour ago.
    Idle,
    /// Last connected and active an hour ago.
    Offline,
    /// No presence rows.
    None,
}

impl GeneratedRealm {
    /// The fixture: users 1..=N named `user<N>@example.com`, key `key` + N zero-padded to 29
    /// digits, every one with the same presence.
    fn fixture(&self) -> AdminResult<RealmFixture> {
        let count = self.generate.users;
        if count == 0 || count > MAX_GENERATED_USERS {
            return Err(AdminError::BadRequest(format!(
                "generate.users must be 1 to {MAX_GENERATED_USERS}"
            )));
        }
        let users: Vec<Value> = (1..=count)
            .map(|n| {
                json!({
                    "user_id": n,
                    "email": format!("user{n}@example.com"),
                    "full_name": format!("User {n}"),
                    "api_key": format!("key{n:0>29}"),
                })
            })
            .collect();
        let times = match self.generate.presence {
            GeneratedPresence::Active => Some(("now", "now")),
            GeneratedPresence::Idle => Some(("now", "-1h")),
            GeneratedPresence::Offline => Some(("-1h", "-1h")),
            GeneratedPresence::None => None,
        };
        let presence: Vec<Value> = times
            .map(|(connected, active)| {
                (1..=count)
                    .map(|n| {
                        json!({"user_id": n, "last_connected_time": connected, "last_active_time": active})
                    })
                    .collect()
            })
            .unwrap_or_default();
        let name = self
            .name
            .clone()
            .unwrap_or_else(|| format!("Generated realm {}", self.subdomain));
        let fixture = json!({
            "subdomain": self.subdomain,
            "name": name,
            "users": users,
            "presence": presence,
        });
        let realm: RealmFixture = parse_json(BODY, &fixture.to_string())?;
        realm.check_at(BODY, "$")?;
        Ok(realm)
    }
}

/// `POST /__admin/realms`: a new realm on its own host, from a realm fixture or generated
/// (`{"subdomain": "t1", "generate": {"users": 100, "presence": "active"}}`).
pub(super) async fn create_realm(
    State(state): State<AppState>,
    AdminBody(body): AdminBody,
) -> AdminResult<Response> {
    let text = text(&body)?;
    let value: Value = parse_json(BODY, text)?;
    let fixture = if value.get("generate").is_some() {
        parse_json::<GeneratedRealm>(BODY, text)?.fixture()?
    } else {
        RealmFixture::parse(BODY, text)?
    };
    let realm = fixture.build(state.clock.now());
    let realm = state
        .store
        .add_realm(realm)
        .map_err(|conflict| AdminError::Conflict(conflict.to_string()))?;
    Ok((StatusCode::CREATED, Json(summary(&state, &realm))).into_response())
}

/// `GET /__admin/realms/{realm}`: one realm as a fixture.
pub(super) async fn get_realm(
    State(state): State<AppState>,
    AdminPath(segment): AdminPath<String>,
) -> AdminResult<Json<RealmFixture>> {
    let realm = realm_of(&state, &segment)?;
    Ok(Json(realm.read(RealmFixture::export)))
}

/// `PUT /__admin/realms/{realm}`: replaces (or creates) one realm from a realm fixture.
pub(super) async fn put_realm(
    State(state): State<AppState>,
    AdminPath(segment): AdminPath<String>,
    AdminBody(body): AdminBody,
) -> AdminResult<Response> {
    let subdomain = subdomain_from_segment(&segment);
    let fixture = RealmFixture::parse(BODY, text(&body)?)?;
    if fixture.subdomain != subdomain {
        return Err(AdminError::BadRequest(format!(
            "the body is for subdomain {:?}, the path for {subdomain:?}",
            fixture.subdomain
        )));
    }
    let now = state.clock.now();
    match state.store.realm(&subdomain) {
        Some(realm) => {
            realm.edit(|_| Ok::<_, AdminError>((fixture.contents(now), ())))?;
            Ok(Json(summary(&state, &realm)).into_response())
        }
        None => {
            let realm = state
                .store
                .add_realm(fixture.build(now))
                .map_err(|conflict| AdminError::Conflict(conflict.to_string()))?;
            Ok((StatusCode::CREATED, Json(summary(&state, &realm))).into_response())
        }
    }
}

/// `PATCH /__admin/realms/{realm}`: merges a patch into the realm's fixture (its settings:
/// `name`, `presence_disabled`, `deactivated`, `can_access_all_users_group`...).
pub(super) async fn patch_realm(
    State(state): State<AppState>,
    AdminPath(segment): AdminPath<String>,
    patch: AdminJson<Value>,
) -> AdminResult<Json<RealmFixture>> {
    let realm = realm_of(&state, &segment)?;
    let patch = patch.required()?;
    if patch.get("subdomain").is_some() {
        return Err(AdminError::BadRequest(
            "a realm's subdomain cannot change: create a new realm instead".to_owned(),
        ));
    }
    edit_realm(&state, &realm, |fixture| {
        *fixture = patched(to_value(&*fixture), patch)?;
        Ok(())
    })?;
    Ok(Json(realm.read(RealmFixture::export)))
}

/// `DELETE /__admin/realms/{realm}`.
pub(super) async fn delete_realm(
    State(state): State<AppState>,
    AdminPath(segment): AdminPath<String>,
) -> AdminResult<StatusCode> {
    let subdomain = subdomain_from_segment(&segment);
    if state.store.remove_realm(&subdomain) {
        crate::memory::give_back_later().await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AdminError::NotFound(format!(
            "no realm has the subdomain {subdomain:?}"
        )))
    }
}

/// `GET /__admin/realms/{realm}/users`.
pub(super) async fn list_users(
    State(state): State<AppState>,
    AdminPath(segment): AdminPath<String>,
) -> AdminResult<Json<Vec<UserFixture>>> {
    let realm = realm_of(&state, &segment)?;
    Ok(Json(realm.read(RealmFixture::export).users))
}

fn no_user(user_id: UserId) -> AdminError {
    AdminError::NotFound(format!("no user {user_id} in this realm"))
}

/// `POST /__admin/realms/{realm}/users`: adds a user (the fixture's user format).
pub(super) async fn create_user(
    State(state): State<AppState>,
    AdminPath(segment): AdminPath<String>,
    user: AdminJson<UserFixture>,
) -> AdminResult<Response> {
    let realm = realm_of(&state, &segment)?;
    let user = user.required()?;
    let user_id = user.user_id;
    edit_realm(&state, &realm, |fixture| {
        if fixture.users.iter().any(|u| u.user_id == user_id) {
            return Err(AdminError::Conflict(format!(
                "user {user_id} already exists in this realm"
            )));
        }
        fixture.users.push(user);
        Ok(())
    })?;
    realm.read(|realm_state| {
        if let Some(user) = realm_state.user(user_id) {
            publish_realm_user(
                &state.control.events,
                &state.store.server(),
                realm_state,
                (None, user),
                state.clock.now(),
            );
        }
    });
    let created = find_user(&realm, user_id)?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

fn find_user(realm: &Realm, user_id: UserId) -> AdminResult<UserFixture> {
    realm
        .read(RealmFixture::export)
        .users
        .into_iter()
        .find(|u| u.user_id == user_id)
        .ok_or_else(|| no_user(user_id))
}

/// `GET /__admin/realms/{realm}/users/{user_id}`.
pub(super) async fn get_user(
    State(state): State<AppState>,
    AdminPath((segment, user_id)): AdminPath<(String, UserId)>,
) -> AdminResult<Json<UserFixture>> {
    let realm = realm_of(&state, &segment)?;
    Ok(Json(find_user(&realm, user_id)?))
}

/// `PATCH /__admin/realms/{realm}/users/{user_id}`: merges a patch into the user (role,
/// `is_active`, `presence_enabled`, `api_key`...).
pub(super) async fn patch_user(
    State(state): State<AppState>,
    AdminPath((segment, user_id)): AdminPath<(String, UserId)>,
    patch: AdminJson<Value>,
) -> AdminResult<Json<UserFixture>> {
    let realm = realm_of(&state, &segment)?;
    let patch = patch.required()?;
    if patch.get("user_id").is_some_and(|id| *id != json!(user_id)) {
        return Err(AdminError::BadRequest(
            "a user's user_id cannot change".to_owned(),
        ));
    }
    let before = realm.read(|realm_state| realm_state.user(user_id).cloned());
    edit_realm(&state, &realm, |fixture| {
        let user = fixture
            .users
            .iter_mut()
            .find(|u| u.user_id == user_id)
            .ok_or_else(|| no_user(user_id))?;
        *user = patched(to_value(&*user), patch)?;
        Ok(())
    })?;
    realm.read(|realm_state| {
        if let (Some(before), Some(after)) = (&before, realm_state.user(user_id)) {
            publish_realm_user(
                &state.control.events,
                &state.store.server(),
                realm_state,
                (Some(before), after),
                state.clock.now(),
            );
        }
    });
    Ok(Json(find_user(&realm, user_id)?))
}

/// `DELETE /__admin/realms/{realm}/users/{user_id}`: the user and every reference to them.
pub(super) async fn delete_user(
    State(state): State<AppState>,
    AdminPath((segment, user_id)): AdminPath<(String, UserId)>,
) -> AdminResult<StatusCode> {
    let realm = realm_of(&state, &segment)?;
    edit_realm(&state, &realm, |fixture| {
        if fixture.remove_user(user_id) {
            Ok(StatusCode::NO_CONTENT)
        } else {
            Err(no_user(user_id))
        }
    })
}

/// `GET /__admin/realms/{realm}/channels`.
pub(super) async fn list_channels(
    State(state): State<AppState>,
    AdminPath(segment): AdminPath<String>,
) -> AdminResult<Json<Vec<ChannelFixture>>> {
    let realm = realm_of(&state, &segment)?;
    Ok(Json(realm.read(RealmFixture::export).channels))
}

/// `POST /__admin/realms/{realm}/channels`: a channel with its subscribers.
pub(super) async fn create_channel(
    State(state): State<AppState>,
    AdminPath(segment): AdminPath<String>,
    channel: AdminJson<ChannelFixture>,
) -> AdminResult<Response> {
    let realm = realm_of(&state, &segment)?;
    let channel = channel.required()?;
    let created = channel.clone();
    edit_realm(&state, &realm, |fixture| {
        if fixture
            .channels
            .iter()
            .any(|c| c.name.eq_ignore_ascii_case(&channel.name))
        {
            return Err(AdminError::Conflict(format!(
                "a channel named {:?} already exists",
                channel.name
            )));
        }
        fixture.channels.push(channel);
        Ok(())
    })?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

fn channel_mut<'a>(
    fixture: &'a mut RealmFixture,
    name: &str,
) -> AdminResult<&'a mut ChannelFixture> {
    fixture
        .channels
        .iter_mut()
        .find(|c| c.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| AdminError::NotFound(format!("no channel named {name:?}")))
}

/// `DELETE /__admin/realms/{realm}/channels/{channel}`.
pub(super) async fn delete_channel(
    State(state): State<AppState>,
    AdminPath((segment, name)): AdminPath<(String, String)>,
) -> AdminResult<StatusCode> {
    let realm = realm_of(&state, &segment)?;
    edit_realm(&state, &realm, |fixture| {
        channel_mut(fixture, &name)?;
        fixture
            .channels
            .retain(|c| !c.name.eq_ignore_ascii_case(&name));
        Ok(StatusCode::NO_CONTENT)
    })
}

/// `PUT /__admin/realms/{realm}/channels/{channel}/subscribers/{user_id}`: subscribes a user.
pub(super) async fn subscribe(
    State(state): State<AppState>,
    AdminPath((segment, name, user_id)): AdminPath<(String, String, UserId)>,
) -> AdminResult<Json<ChannelFixture>> {
    let realm = realm_of(&state, &segment)?;
    edit_realm(&state, &realm, |fixture| {
        let channel = channel_mut(fixture, &name)?;
        channel.former_subscribers.retain(|&id| id != user_id);
        if !channel.subscribers.contains(&user_id) {
            channel.subscribers.push(user_id);
        }
        Ok(Json(channel.clone()))
    })
}

/// `DELETE /__admin/realms/{realm}/channels/{channel}/subscribers/{user_id}`: unsubscribes a
/// user, who becomes a former subscriber (an inactive subscription grants no access).
pub(super) async fn unsubscribe(
    State(state): State<AppState>,
    AdminPath((segment, name, user_id)): AdminPath<(String, String, UserId)>,
) -> AdminResult<Json<ChannelFixture>> {
    let realm = realm_of(&state, &segment)?;
    edit_realm(&state, &realm, |fixture| {
        let channel = channel_mut(fixture, &name)?;
        if !channel.subscribers.contains(&user_id) {
            return Err(AdminError::NotFound(format!(
                "user {user_id} is not subscribed to {name:?}"
            )));
        }
        channel.subscribers.retain(|&id| id != user_id);
        channel.former_subscribers.push(user_id);
        Ok(Json(channel.clone()))
    })
}

/// User ids written `3,5` in a path.
fn ids_of(segment: &str) -> AdminResult<Vec<UserId>> {
    segment
        .split(',')
        .map(|id| {
            id.trim().parse().map_err(|_| {
                AdminError::BadRequest(format!(
                    "{segment:?} is not a comma-separated list of user ids"
                ))
            })
        })
        .collect()
}

fn sorted(mut ids: Vec<UserId>) -> Vec<UserId> {
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// `GET /__admin/realms/{realm}/direct_message_pairs`.
pub(super) async fn list_pairs(
    State(state): State<AppState>,
    AdminPath(segment): AdminPath<String>,
) -> AdminResult<Json<Vec<[UserId; 2]>>> {
    let realm = realm_of(&state, &segment)?;
    Ok(Json(realm.read(RealmFixture::export).direct_message_pairs))
}

/// `POST /__admin/realms/{realm}/direct_message_pairs` with `[a, b]`: two users who have
/// exchanged direct messages.
pub(super) async fn create_pair(
    State(state): State<AppState>,
    AdminPath(segment): AdminPath<String>,
    pair: AdminJson<[UserId; 2]>,
) -> AdminResult<Response> {
    let realm = realm_of(&state, &segment)?;
    let pair = pair.required()?;
    edit_realm(&state, &realm, |fixture| {
        if fixture
            .direct_message_pairs
            .iter()
            .any(|p| sorted(p.to_vec()) == sorted(pair.to_vec()))
        {
            return Err(AdminError::Conflict(format!(
                "users {} and {} already are a direct-message pair",
                pair[0], pair[1]
            )));
        }
        fixture.direct_message_pairs.push(pair);
        Ok(())
    })?;
    Ok((StatusCode::CREATED, Json(pair)).into_response())
}

/// `DELETE /__admin/realms/{realm}/direct_message_pairs/{a},{b}`.
pub(super) async fn delete_pair(
    State(state): State<AppState>,
    AdminPath((segment, users)): AdminPath<(String, String)>,
) -> AdminResult<StatusCode> {
    remove_conversation(&state, &segment, &users, "direct-message pair", |fixture| {
        &mut fixture.direct_message_pairs
    })
}

/// Removes the direct-message pair or group whose members `users` lists (in any order).
fn remove_conversation<T: AsRef<[UserId]>>(
    state: &AppState,
    segment: &str,
    users: &str,
    what: &str,
    list: impl FnOnce(&mut RealmFixture) -> &mut Vec<T>,
) -> AdminResult<StatusCode> {
    let realm = realm_of(state, segment)?;
    let wanted = sorted(ids_of(users)?);
    edit_realm(state, &realm, |fixture| {
        let list = list(fixture);
        let before = list.len();
        list.retain(|members| sorted(members.as_ref().to_vec()) != wanted);
        if list.len() == before {
            return Err(AdminError::NotFound(format!("no {what} {users:?}")));
        }
        Ok(StatusCode::NO_CONTENT)
    })
}

/// `GET /__admin/realms/{realm}/direct_message_groups`.
pub(super) async fn list_groups(
    State(state): State<AppState>,
    AdminPath(segment): AdminPath<String>,
) -> AdminResult<Json<Vec<Vec<UserId>>>> {
    let realm = realm_of(&state, &segment)?;
    Ok(Json(realm.read(RealmFixture::export).direct_message_groups))
}

/// `POST /__admin/realms/{realm}/direct_message_groups` with `[a, b, c, ...]`.
pub(super) async fn create_group(
    State(state): State<AppState>,
    AdminPath(segment): AdminPath<String>,
    group: AdminJson<Vec<UserId>>,
) -> AdminResult<Response> {
    let realm = realm_of(&state, &segment)?;
    let group = group.required()?;
    if sorted(group.clone()).len() < 2 {
        return Err(AdminError::BadRequest(
            "a direct-message group needs at least two different users".to_owned(),
        ));
    }
    let created = group.clone();
    edit_realm(&state, &realm, |fixture| {
        if fixture
            .direct_message_groups
            .iter()
            .any(|g| sorted(g.clone()) == sorted(group.clone()))
        {
            return Err(AdminError::Conflict(
                "this direct-message group already exists".to_owned(),
            ));
        }
        fixture.direct_message_groups.push(group);
        Ok(())
    })?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// `DELETE /__admin/realms/{realm}/direct_message_groups/{a},{b},{c}`.
pub(super) async fn delete_group(
    State(state): State<AppState>,
    AdminPath((segment, users)): AdminPath<(String, String)>,
) -> AdminResult<StatusCode> {
    remove_conversation(
        &state,
        &segment,
        &users,
        "direct-message group",
        |fixture| &mut fixture.direct_message_groups,
    )
}

/// `GET /__admin/realms/{realm}/presence`: every presence row, with its update id.
pub(super) async fn list_presence(
    State(state): State<AppState>,
    AdminPath(segment): AdminPath<String>,
) -> AdminResult<Json<Vec<PresenceFixture>>> {
    let realm = realm_of(&state, &segment)?;
    Ok(Json(realm.read(RealmFixture::export).presence))
}

/// The times of a presence row set through the admin API.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PresenceTimesBody {
    #[serde(default)]
    last_connected_time: Option<TimeSpec>,
    #[serde(default)]
    last_active_time: Option<TimeSpec>,
}

/// `PUT /__admin/realms/{realm}/presence/{user_id}`: sets a user's presence times (relative
/// times against the server clock) as one change with the next update id, as a report would.
pub(super) async fn put_presence(
    State(state): State<AppState>,
    AdminPath((segment, user_id)): AdminPath<(String, UserId)>,
    body: AdminJson<PresenceTimesBody>,
) -> AdminResult<Json<PresenceFixture>> {
    let realm = realm_of(&state, &segment)?;
    let body = body.required()?;
    if realm.read(|state| state.user(user_id).is_none()) {
        return Err(no_user(user_id));
    }
    let now = state.clock.now();
    let times = PresenceTimes {
        last_connected_time: body.last_connected_time.map(|t| t.at(now)),
        last_active_time: body.last_active_time.map(|t| t.at(now)),
    };
    realm
        .report_presence(user_id, |_| Some(times))
        .map_err(|exhausted| AdminError::Conflict(exhausted.to_string()))?;
    // A row set here is news to the realm's event queues, as if the user had come online.
    realm.read(|realm_state| {
        if let Some(user) = realm_state.user(user_id) {
            publish_presence(
                &state.control.events,
                realm_state,
                user,
                state.access_policy(),
                now,
            );
        }
    });
    let row = realm.read(|state| state.presence_row(user_id).copied());
    let row = row.ok_or_else(|| no_user(user_id))?;
    Ok(Json(PresenceFixture::export(user_id, &row)))
}

/// `DELETE /__admin/realms/{realm}/presence/{user_id}`.
pub(super) async fn delete_presence(
    State(state): State<AppState>,
    AdminPath((segment, user_id)): AdminPath<(String, UserId)>,
) -> AdminResult<StatusCode> {
    let realm = realm_of(&state, &segment)?;
    if realm.remove_presence(user_id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AdminError::NotFound(format!(
            "user {user_id} has no presence row in this realm"
        )))
    }
}
