//! The fixture file format (JSON) and its conversion into the store. This module owns the
//! on-disk schema and every consistency rule; the store never sees a file format. A fixture is
//! parsed and checked once, then `build` turns it into realms at a given instant, so that
//! relative times ("-90s") resolve against the server's clock and the same parsed fixture can
//! seed the store again.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use serde::Deserialize;

use crate::clock::{TimeSpec, Timestamp};
use crate::feature_level::{self, FeatureLevel};
use crate::store::{
    AccessAllUsersGroup, PresenceRow, Realm, RealmSettings, RealmState, Role, ServerSettings, User,
    UserId,
};

/// The default fixture, compiled into the binary.
pub const DEFAULT_FIXTURE: &str = include_str!("../fixtures/default.json");

/// How the built-in default fixture is named in messages.
pub const DEFAULT_FIXTURE_NAME: &str = "built-in default fixture (fixtures/default.json)";

/// Why a fixture was refused: the file, the JSON path of the problem, and the problem.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// The file could not be read.
    #[error("{file}: cannot read the fixture: {source}")]
    Unreadable {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid JSON, does not follow the schema, or is inconsistent.
    #[error("{file}: at {path}: {problem}")]
    Invalid {
        file: String,
        path: String,
        problem: String,
    },
}

/// A parsed and checked fixture, ready to seed the store.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    #[serde(default)]
    server: ServerFixture,
    realms: Vec<RealmFixture>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerFixture {
    #[serde(default = "default_zulip_version")]
    zulip_version: String,
    #[serde(default)]
    zulip_merge_base: Option<String>,
    #[serde(default = "default_feature_level")]
    feature_level: u32,
    #[serde(default = "default_external_host")]
    external_host: String,
    #[serde(rename = "CAN_ACCESS_ALL_USERS_GROUP_LIMITS_PRESENCE", default)]
    can_access_all_users_group_limits_presence: bool,
}

impl Default for ServerFixture {
    fn default() -> Self {
        Self {
            zulip_version: default_zulip_version(),
            zulip_merge_base: None,
            feature_level: default_feature_level(),
            external_host: default_external_host(),
            can_access_all_users_group_limits_presence: false,
        }
    }
}

fn default_zulip_version() -> String {
    "12.0-dev+git".to_owned()
}

fn default_feature_level() -> u32 {
    feature_level::LATEST.0
}

fn default_external_host() -> String {
    "localhost:9991".to_owned()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RealmFixture {
    subdomain: String,
    name: String,
    /// The rendered (HTML) description, as `/server_settings` sends it.
    #[serde(default = "default_description")]
    description: String,
    #[serde(default)]
    presence_disabled: bool,
    #[serde(default)]
    deactivated: bool,
    #[serde(default = "default_access_group")]
    can_access_all_users_group: GroupFixture,
    users: Vec<UserFixture>,
    #[serde(default)]
    channels: Vec<ChannelFixture>,
    #[serde(default)]
    direct_message_groups: Vec<Vec<UserId>>,
    #[serde(default)]
    direct_message_pairs: Vec<[UserId; 2]>,
    #[serde(default)]
    presence: Vec<PresenceFixture>,
}

/// What Zulip shows for a realm without a description (rendered Markdown).
fn default_description() -> String {
    "<p>The coolest place in the universe.</p>".to_owned()
}

fn default_access_group() -> GroupFixture {
    GroupFixture::Everyone
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum GroupFixture {
    Everyone,
    Members,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RoleFixture {
    Owner,
    Admin,
    Moderator,
    Member,
    Guest,
}

fn default_role() -> RoleFixture {
    RoleFixture::Member
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserFixture {
    user_id: UserId,
    email: String,
    #[serde(default)]
    delivery_email: Option<String>,
    full_name: String,
    #[serde(default = "default_role")]
    role: RoleFixture,
    #[serde(default)]
    is_bot: bool,
    #[serde(default = "yes")]
    is_active: bool,
    #[serde(default = "yes")]
    presence_enabled: bool,
    #[serde(default = "default_date_joined")]
    date_joined: TimeSpec,
    api_key: String,
}

fn yes() -> bool {
    true
}

fn default_date_joined() -> TimeSpec {
    TimeSpec::Relative(-365 * 86_400)
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelFixture {
    name: String,
    #[serde(default)]
    subscribers: Vec<UserId>,
    /// Users who were subscribed once: an inactive subscription grants no access.
    #[serde(default)]
    former_subscribers: Vec<UserId>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PresenceFixture {
    user_id: UserId,
    #[serde(default)]
    last_connected_time: Option<TimeSpec>,
    #[serde(default)]
    last_active_time: Option<TimeSpec>,
}

impl Fixture {
    /// Reads, parses and checks the fixture file at `path`.
    pub fn load(path: &Path) -> Result<Self, FixtureError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| FixtureError::Unreadable {
            file: file.clone(),
            source,
        })?;
        Self::parse(&file, &text)
    }

    /// The built-in default fixture.
    pub fn default_fixture() -> Self {
        Self::parse(DEFAULT_FIXTURE_NAME, DEFAULT_FIXTURE)
            .expect("the built-in default fixture is valid (tested)")
    }

    /// Parses and checks fixture JSON; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, FixtureError> {
        let invalid = |path: String, problem: String| FixtureError::Invalid {
            file: file.to_owned(),
            path,
            problem,
        };
        let deserializer = &mut serde_json::Deserializer::from_str(text);
        let fixture: Self = serde_path_to_error::deserialize(deserializer).map_err(|err| {
            let path = match err.path().to_string() {
                path if path == "." => "$".to_owned(),
                path => format!("$.{path}"),
            };
            invalid(path, err.into_inner().to_string())
        })?;
        fixture
            .check()
            .map_err(|Inconsistency { path, problem }| invalid(path, problem))?;
        Ok(fixture)
    }

    /// Checks everything the schema alone cannot: uniqueness, references, formats.
    fn check(&self) -> Result<(), Inconsistency> {
        let server = &self.server;
        if server.feature_level == 0 {
            return Err(Inconsistency::at(
                "$.server.feature_level",
                "must be 1 or more",
            ));
        }
        if server.external_host.trim().is_empty() {
            return Err(Inconsistency::at(
                "$.server.external_host",
                "must not be empty",
            ));
        }
        if self.realms.is_empty() {
            return Err(Inconsistency::at(
                "$.realms",
                "at least one realm is required",
            ));
        }
        let mut subdomains = HashSet::new();
        let mut user_ids = HashSet::new();
        let mut api_keys = HashSet::new();
        for (r, realm) in self.realms.iter().enumerate() {
            let at = |rest: &str| format!("$.realms[{r}]{rest}");
            if !is_valid_subdomain(&realm.subdomain) {
                return Err(Inconsistency::at(
                    at(".subdomain"),
                    format!(
                        "invalid subdomain {:?}: use \"\" for the root domain, or lowercase letters, digits and inner hyphens",
                        realm.subdomain
                    ),
                ));
            }
            if !subdomains.insert(realm.subdomain.as_str()) {
                return Err(Inconsistency::at(
                    at(".subdomain"),
                    format!("duplicate subdomain {:?}", realm.subdomain),
                ));
            }
            let mut emails = HashSet::new();
            let mut delivery_emails = HashSet::new();
            let mut realm_users = HashSet::new();
            for (u, user) in realm.users.iter().enumerate() {
                let at = |field: &str| at(&format!(".users[{u}].{field}"));
                if !user_ids.insert(user.user_id) {
                    return Err(Inconsistency::at(
                        at("user_id"),
                        format!("duplicate user_id {}", user.user_id),
                    ));
                }
                realm_users.insert(user.user_id);
                if !emails.insert(user.email.to_lowercase()) {
                    return Err(Inconsistency::at(
                        at("email"),
                        format!("duplicate email {:?} in this realm", user.email),
                    ));
                }
                let delivery_email = user.delivery_email.as_ref().unwrap_or(&user.email);
                if !delivery_emails.insert(delivery_email.to_lowercase()) {
                    return Err(Inconsistency::at(
                        at(if user.delivery_email.is_some() {
                            "delivery_email"
                        } else {
                            "email"
                        }),
                        format!("duplicate delivery email {delivery_email:?} in this realm"),
                    ));
                }
                if !is_valid_api_key(&user.api_key) {
                    return Err(Inconsistency::at(
                        at("api_key"),
                        "malformed API key: it must be exactly 32 characters of A-Z, a-z and 0-9",
                    ));
                }
                if !api_keys.insert(user.api_key.as_str()) {
                    // The key itself is a secret: name the user, not the key.
                    return Err(Inconsistency::at(
                        at("api_key"),
                        format!(
                            "duplicate API key (user {} has the same key as another user)",
                            user.user_id
                        ),
                    ));
                }
            }
            let known = |path: String, id: &UserId| {
                if realm_users.contains(id) {
                    Ok(())
                } else {
                    Err(Inconsistency::at(
                        path,
                        format!("user {id} is not a user of this realm"),
                    ))
                }
            };
            let mut channel_names = HashSet::new();
            for (c, channel) in realm.channels.iter().enumerate() {
                if !channel_names.insert(channel.name.to_lowercase()) {
                    return Err(Inconsistency::at(
                        at(&format!(".channels[{c}].name")),
                        format!("duplicate channel name {:?}", channel.name),
                    ));
                }
                for (i, id) in channel.subscribers.iter().enumerate() {
                    known(at(&format!(".channels[{c}].subscribers[{i}]")), id)?;
                }
                for (i, id) in channel.former_subscribers.iter().enumerate() {
                    known(at(&format!(".channels[{c}].former_subscribers[{i}]")), id)?;
                    if channel.subscribers.contains(id) {
                        return Err(Inconsistency::at(
                            at(&format!(".channels[{c}].former_subscribers[{i}]")),
                            format!("user {id} is both a subscriber and a former subscriber"),
                        ));
                    }
                }
            }
            for (g, group) in realm.direct_message_groups.iter().enumerate() {
                for (i, id) in group.iter().enumerate() {
                    known(at(&format!(".direct_message_groups[{g}][{i}]")), id)?;
                }
            }
            for (p, pair) in realm.direct_message_pairs.iter().enumerate() {
                for (i, id) in pair.iter().enumerate() {
                    known(at(&format!(".direct_message_pairs[{p}][{i}]")), id)?;
                }
                if pair[0] == pair[1] {
                    return Err(Inconsistency::at(
                        at(&format!(".direct_message_pairs[{p}]")),
                        "a direct-message pair needs two different users",
                    ));
                }
            }
            let mut with_presence = HashSet::new();
            for (p, row) in realm.presence.iter().enumerate() {
                let path = at(&format!(".presence[{p}].user_id"));
                known(path.clone(), &row.user_id)?;
                if !with_presence.insert(row.user_id) {
                    return Err(Inconsistency::at(
                        path,
                        format!("user {} already has a presence row", row.user_id),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The server settings and realms this fixture describes, with relative times resolved
    /// against `now`.
    pub fn build(&self, now: Timestamp) -> (ServerSettings, Vec<Realm>) {
        let server = &self.server;
        let settings = ServerSettings {
            zulip_version: server.zulip_version.clone(),
            zulip_merge_base: server
                .zulip_merge_base
                .clone()
                .unwrap_or_else(|| server.zulip_version.clone()),
            feature_level: FeatureLevel(server.feature_level),
            external_host: server.external_host.to_lowercase(),
            can_access_all_users_group_limits_presence: server
                .can_access_all_users_group_limits_presence,
        };
        let realms = self.realms.iter().map(|realm| realm.build(now)).collect();
        (settings, realms)
    }
}

impl RealmFixture {
    fn build(&self, now: Timestamp) -> Realm {
        let settings = RealmSettings {
            subdomain: self.subdomain.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            presence_disabled: self.presence_disabled,
            deactivated: self.deactivated,
            can_access_all_users_group: match self.can_access_all_users_group {
                GroupFixture::Everyone => AccessAllUsersGroup::Everyone,
                GroupFixture::Members => AccessAllUsersGroup::Members,
            },
        };
        let users = self.users.iter().map(|user| User {
            user_id: user.user_id,
            email: user.email.clone(),
            delivery_email: user
                .delivery_email
                .clone()
                .unwrap_or_else(|| user.email.clone()),
            full_name: user.full_name.clone(),
            role: match user.role {
                RoleFixture::Owner => Role::Owner,
                RoleFixture::Admin => Role::Admin,
                RoleFixture::Moderator => Role::Moderator,
                RoleFixture::Member => Role::Member,
                RoleFixture::Guest => Role::Guest,
            },
            is_bot: user.is_bot,
            is_active: user.is_active,
            presence_enabled: user.presence_enabled,
            date_joined: user.date_joined.at(now),
            api_key: user.api_key.clone(),
        });
        let groups = self
            .channels
            .iter()
            .map(|channel| channel.subscribers.iter().copied().collect::<BTreeSet<_>>())
            .chain(
                self.direct_message_groups
                    .iter()
                    .map(|group| group.iter().copied().collect()),
            )
            .chain(
                self.direct_message_pairs
                    .iter()
                    .map(|pair| pair.iter().copied().collect()),
            );
        // Rows get update ids 1, 2, ... in file order, as if reported in that order.
        let presence = self.presence.iter().zip(1..).map(|(row, update_id)| {
            (
                row.user_id,
                PresenceRow {
                    last_connected_time: row.last_connected_time.map(|t| t.at(now)),
                    last_active_time: row.last_active_time.map(|t| t.at(now)),
                    last_update_id: update_id,
                },
            )
        });
        Realm::new(RealmState::new(settings, users, groups, presence))
    }
}

struct Inconsistency {
    path: String,
    problem: String,
}

impl Inconsistency {
    fn at(path: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            problem: problem.into(),
        }
    }
}

/// Zulip's API keys are 32 characters of [A-Za-z0-9] (zerver/lib/users.py `generate_api_key`).
pub fn is_valid_api_key(key: &str) -> bool {
    key.len() == 32 && key.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn is_valid_subdomain(subdomain: &str) -> bool {
    subdomain.is_empty()
        || (subdomain
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !subdomain.starts_with('-')
            && !subdomain.ends_with('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_are_32_alphanumerics() {
        assert!(is_valid_api_key("abcdefghijABCDEFGHIJ0123456789xy"));
        assert!(!is_valid_api_key("abcdefghijABCDEFGHIJ0123456789x"));
        assert!(!is_valid_api_key("abcdefghijABCDEFGHIJ0123456789x-"));
    }

    #[test]
    fn subdomains_are_lowercase_labels_or_the_root() {
        assert!(is_valid_subdomain(""));
        assert!(is_valid_subdomain("lear-2"));
        assert!(!is_valid_subdomain("Lear"));
        assert!(!is_valid_subdomain("-lear"));
        assert!(!is_valid_subdomain("a.b"));
    }
}
