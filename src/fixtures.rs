//! The fixture file format (JSON) and its conversion into the store. This module owns the
//! on-disk schema and every consistency rule; the store never sees a file format. A fixture is
//! parsed and checked once, then `build` turns it into realms at a given instant, so that
//! relative times ("-90s") resolve against the server's clock and the same parsed fixture can
//! seed the store again.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::clock::{TimeSpec, Timestamp};
use crate::feature_level::{self, FeatureLevel};
use crate::store::{
    AccessAllUsersGroup, Channel, ClientPresence, PresenceRow, Realm, RealmContents, RealmSettings,
    RealmState, Role, ServerSettings, Status, Store, User, UserId,
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
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    #[serde(default)]
    server: ServerFixture,
    realms: Vec<RealmFixture>,
}

/// The server-wide part of a fixture; also what the admin API shows and patches.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerFixture {
    /// Default: the version of `feature_level` (`FeatureLevel::zulip_version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    zulip_version: Option<String>,
    /// Default: `zulip_version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
            zulip_version: None,
            zulip_merge_base: None,
            feature_level: default_feature_level(),
            external_host: default_external_host(),
            can_access_all_users_group_limits_presence: false,
        }
    }
}

fn default_feature_level() -> u32 {
    feature_level::LATEST.0
}

fn default_external_host() -> String {
    "localhost:9991".to_owned()
}

/// One realm of a fixture; also what the admin API takes to create or replace a realm.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RealmFixture {
    pub(crate) subdomain: String,
    pub(crate) name: String,
    /// The rendered (HTML) description, as `/server_settings` sends it.
    #[serde(default = "default_description")]
    pub(crate) description: String,
    #[serde(default)]
    pub(crate) presence_disabled: bool,
    #[serde(default)]
    pub(crate) deactivated: bool,
    #[serde(default = "default_access_group")]
    pub(crate) can_access_all_users_group: GroupFixture,
    pub(crate) users: Vec<UserFixture>,
    #[serde(default)]
    pub(crate) channels: Vec<ChannelFixture>,
    #[serde(default)]
    pub(crate) direct_message_groups: Vec<Vec<UserId>>,
    #[serde(default)]
    pub(crate) direct_message_pairs: Vec<[UserId; 2]>,
    #[serde(default)]
    pub(crate) presence: Vec<PresenceFixture>,
    /// The realm's highest presence update id so far; default: the highest row's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) presence_last_update_id: Option<i64>,
}

/// What Zulip shows for a realm without a description (rendered Markdown).
fn default_description() -> String {
    "<p>The coolest place in the universe.</p>".to_owned()
}

fn default_access_group() -> GroupFixture {
    GroupFixture::Everyone
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum GroupFixture {
    Everyone,
    Members,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RoleFixture {
    Owner,
    Admin,
    Moderator,
    Member,
    Guest,
}

fn default_role() -> RoleFixture {
    RoleFixture::Member
}

/// One user of a realm fixture; also what the admin API takes to create a user.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserFixture {
    pub(crate) user_id: UserId,
    pub(crate) email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) delivery_email: Option<String>,
    pub(crate) full_name: String,
    #[serde(default = "default_role")]
    pub(crate) role: RoleFixture,
    #[serde(default)]
    pub(crate) is_bot: bool,
    #[serde(default = "yes")]
    pub(crate) is_active: bool,
    #[serde(default = "yes")]
    pub(crate) presence_enabled: bool,
    #[serde(default = "default_date_joined")]
    pub(crate) date_joined: TimeSpec,
    pub(crate) api_key: String,
}

fn yes() -> bool {
    true
}

fn default_date_joined() -> TimeSpec {
    TimeSpec::Relative(-365 * 86_400)
}

/// A channel of a realm fixture; also what the admin API takes to create a channel.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelFixture {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) subscribers: Vec<UserId>,
    /// Users who were subscribed once: an inactive subscription grants no access.
    #[serde(default)]
    pub(crate) former_subscribers: Vec<UserId>,
}

/// A presence row of a realm fixture.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PresenceFixture {
    pub(crate) user_id: UserId,
    #[serde(default)]
    pub(crate) last_connected_time: Option<TimeSpec>,
    #[serde(default)]
    pub(crate) last_active_time: Option<TimeSpec>,
    /// The row's update id; default: after the realm's explicit ones, in file order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) last_update_id: Option<i64>,
    /// What each client last reported, as Zulip stored presence before feature level 178. With
    /// no times above, they follow from these (the newest report, and the newest "active" one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) clients: Vec<ClientFixture>,
}

/// One client's report in a presence row (feature levels before 178).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientFixture {
    client: String,
    status: StatusFixture,
    timestamp: TimeSpec,
    #[serde(default)]
    pushable: bool,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum StatusFixture {
    Active,
    Idle,
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
        let fixture: Self = parse_json(file, text)?;
        fixture
            .check()
            .map_err(|inconsistency| inconsistency.in_file(file))?;
        Ok(fixture)
    }

    /// The whole state of `store` as a fixture with absolute times: importing it gives the
    /// same responses.
    pub fn export(store: &Store) -> Self {
        Self {
            server: ServerFixture::export(&store.server()),
            realms: store
                .realms()
                .iter()
                .map(|realm| realm.read(RealmFixture::export))
                .collect(),
        }
    }

    /// Checks everything the schema alone cannot: uniqueness, references, formats.
    fn check(&self) -> Result<(), Inconsistency> {
        self.server.check("$.server")?;
        if self.realms.is_empty() {
            return Err(Inconsistency::at(
                "$.realms",
                "at least one realm is required",
            ));
        }
        let mut subdomains = HashSet::new();
        for (r, realm) in self.realms.iter().enumerate() {
            let at = format!("$.realms[{r}]");
            realm.check(&at)?;
            if !subdomains.insert(realm.subdomain.as_str()) {
                return Err(Inconsistency::at(
                    format!("{at}.subdomain"),
                    format!("duplicate subdomain {:?}", realm.subdomain),
                ));
            }
        }
        Ok(())
    }

    /// Makes the server one at `level`, with that level's version and merge base.
    pub fn set_feature_level(&mut self, level: FeatureLevel) {
        self.server.set_feature_level(level);
    }

    /// The server settings and realms this fixture describes, with relative times resolved
    /// against `now`.
    pub fn build(&self, now: Timestamp) -> (ServerSettings, Vec<Realm>) {
        let settings = self.server.build();
        let realms = self
            .realms
            .iter()
            .map(|realm| Realm::new(RealmState::new(realm.contents(now))))
            .collect();
        (settings, realms)
    }
}

impl ServerFixture {
    /// The server settings as a fixture.
    pub fn export(server: &ServerSettings) -> Self {
        Self {
            zulip_version: Some(server.zulip_version.clone()),
            zulip_merge_base: Some(server.zulip_merge_base.clone()),
            feature_level: server.feature_level.0,
            external_host: server.external_host.clone(),
            can_access_all_users_group_limits_presence: server
                .can_access_all_users_group_limits_presence,
        }
    }

    /// Parses and checks server settings JSON; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, FixtureError> {
        let server: Self = parse_json(file, text)?;
        server
            .check("$")
            .map_err(|inconsistency| inconsistency.in_file(file))?;
        Ok(server)
    }

    /// Checks the settings; `at` is their JSON path in the document.
    fn check(&self, at: &str) -> Result<(), Inconsistency> {
        if self.feature_level == 0 {
            return Err(Inconsistency::at(
                format!("{at}.feature_level"),
                "must be 1 or more",
            ));
        }
        if self.external_host.trim().is_empty() {
            return Err(Inconsistency::at(
                format!("{at}.external_host"),
                "must not be empty",
            ));
        }
        Ok(())
    }

    /// Makes the server one at `level`, with that level's version and merge base.
    pub fn set_feature_level(&mut self, level: FeatureLevel) {
        self.feature_level = level.0;
        self.zulip_version = None;
        self.zulip_merge_base = None;
    }

    /// The settings this describes.
    pub fn build(&self) -> ServerSettings {
        let level = FeatureLevel(self.feature_level);
        let version = self
            .zulip_version
            .clone()
            .unwrap_or_else(|| level.zulip_version().to_owned());
        ServerSettings {
            zulip_merge_base: self
                .zulip_merge_base
                .clone()
                .unwrap_or_else(|| version.clone()),
            zulip_version: version,
            feature_level: FeatureLevel(self.feature_level),
            external_host: self.external_host.to_lowercase(),
            can_access_all_users_group_limits_presence: self
                .can_access_all_users_group_limits_presence,
        }
    }
}

/// Parses `text` as a `T`, naming `file` and the JSON path of the first problem.
pub fn parse_json<T: serde::de::DeserializeOwned>(
    file: &str,
    text: &str,
) -> Result<T, FixtureError> {
    let deserializer = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(|err| FixtureError::Invalid {
        file: file.to_owned(),
        path: json_path(err.path()),
        problem: err.into_inner().to_string(),
    })
}

/// `serde_path_to_error`'s path written from the document root (`$`).
fn json_path(path: &serde_path_to_error::Path) -> String {
    match path.to_string() {
        path if path == "." => "$".to_owned(),
        path => format!("$.{path}"),
    }
}

impl RealmFixture {
    /// Parses and checks one realm's fixture JSON; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, FixtureError> {
        let realm: Self = parse_json(file, text)?;
        realm
            .check("$")
            .map_err(|inconsistency| inconsistency.in_file(file))?;
        Ok(realm)
    }

    /// Checks this realm on its own; `at` is its JSON path in the document.
    pub fn check_at(&self, file: &str, at: &str) -> Result<(), FixtureError> {
        self.check(at)
            .map_err(|inconsistency| inconsistency.in_file(file))
    }

    /// Removes `user_id` and every reference to them: subscriptions, direct-message groups
    /// (a group left with fewer than two members goes), pairs and their presence row. Whether
    /// they were a user of this realm.
    pub fn remove_user(&mut self, user_id: UserId) -> bool {
        let before = self.users.len();
        self.users.retain(|user| user.user_id != user_id);
        if self.users.len() == before {
            return false;
        }
        for channel in &mut self.channels {
            channel.subscribers.retain(|&id| id != user_id);
            channel.former_subscribers.retain(|&id| id != user_id);
        }
        for group in &mut self.direct_message_groups {
            group.retain(|&id| id != user_id);
        }
        self.direct_message_groups.retain(|group| group.len() >= 2);
        self.direct_message_pairs
            .retain(|pair| !pair.contains(&user_id));
        self.presence.retain(|row| row.user_id != user_id);
        true
    }

    /// The realm as a fixture: every field explicit, times absolute, update ids kept.
    pub fn export(state: &RealmState) -> Self {
        let RealmContents {
            settings,
            users,
            channels,
            direct_message_groups,
            direct_message_pairs,
            presence,
            client_presence,
            last_update_id,
        } = state.contents();
        let clients_of = |user_id: UserId| -> Vec<ClientFixture> {
            client_presence
                .iter()
                .find(|(id, _)| *id == user_id)
                .map(|(_, clients)| clients.iter().map(ClientFixture::export).collect())
                .unwrap_or_default()
        };
        Self {
            subdomain: settings.subdomain,
            name: settings.name,
            description: settings.description,
            presence_disabled: settings.presence_disabled,
            deactivated: settings.deactivated,
            can_access_all_users_group: match settings.can_access_all_users_group {
                AccessAllUsersGroup::Everyone => GroupFixture::Everyone,
                AccessAllUsersGroup::Members => GroupFixture::Members,
            },
            users: users.into_iter().map(UserFixture::export).collect(),
            channels: channels
                .into_iter()
                .map(|channel| ChannelFixture {
                    name: channel.name,
                    subscribers: channel.subscribers,
                    former_subscribers: channel.former_subscribers,
                })
                .collect(),
            direct_message_groups,
            direct_message_pairs,
            presence: presence
                .iter()
                .map(|(user_id, row)| PresenceFixture {
                    clients: clients_of(*user_id),
                    ..PresenceFixture::export(*user_id, row)
                })
                .collect(),
            presence_last_update_id: Some(last_update_id),
        }
    }

    /// Checks everything the schema alone cannot; `at` is this realm's JSON path.
    fn check(&self, at: &str) -> Result<(), Inconsistency> {
        let at = |rest: &str| format!("{at}{rest}");
        if !is_valid_subdomain(&self.subdomain) {
            return Err(Inconsistency::at(
                at(".subdomain"),
                format!(
                    "invalid subdomain {:?}: use \"\" for the root domain, or lowercase letters, digits and inner hyphens",
                    self.subdomain
                ),
            ));
        }
        let mut user_ids = HashSet::new();
        let mut api_keys = HashSet::new();
        let mut emails = HashSet::new();
        let mut delivery_emails = HashSet::new();
        for (u, user) in self.users.iter().enumerate() {
            let at = |field: &str| at(&format!(".users[{u}].{field}"));
            if !user_ids.insert(user.user_id) {
                return Err(Inconsistency::at(
                    at("user_id"),
                    format!("duplicate user_id {}", user.user_id),
                ));
            }
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
            if user_ids.contains(id) {
                Ok(())
            } else {
                Err(Inconsistency::at(
                    path,
                    format!("user {id} is not a user of this realm"),
                ))
            }
        };
        let mut channel_names = HashSet::new();
        for (c, channel) in self.channels.iter().enumerate() {
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
        for (g, group) in self.direct_message_groups.iter().enumerate() {
            for (i, id) in group.iter().enumerate() {
                known(at(&format!(".direct_message_groups[{g}][{i}]")), id)?;
            }
        }
        for (p, pair) in self.direct_message_pairs.iter().enumerate() {
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
        let mut update_ids = HashSet::new();
        for (p, row) in self.presence.iter().enumerate() {
            let path = at(&format!(".presence[{p}].user_id"));
            known(path.clone(), &row.user_id)?;
            if !with_presence.insert(row.user_id) {
                return Err(Inconsistency::at(
                    path,
                    format!("user {} already has a presence row", row.user_id),
                ));
            }
            let mut client_names = HashSet::new();
            for (c, client) in row.clients.iter().enumerate() {
                let path = at(&format!(".presence[{p}].clients[{c}].client"));
                if client.client.trim().is_empty() {
                    return Err(Inconsistency::at(path, "a client name must not be empty"));
                }
                if !client_names.insert(client.client.as_str()) {
                    return Err(Inconsistency::at(
                        path,
                        format!("client {:?} is listed twice in this row", client.client),
                    ));
                }
            }
            if let Some(id) = row.last_update_id {
                let path = at(&format!(".presence[{p}].last_update_id"));
                if id < 1 {
                    return Err(Inconsistency::at(path, "must be 1 or more"));
                }
                if !update_ids.insert(id) {
                    return Err(Inconsistency::at(
                        path,
                        format!("duplicate update id {id} in this realm"),
                    ));
                }
            }
        }
        if let (Some(last), Some(highest)) = (
            self.presence_last_update_id,
            self.presence
                .iter()
                .filter_map(|row| row.last_update_id)
                .max(),
        ) {
            if last < highest {
                return Err(Inconsistency::at(
                    at(".presence_last_update_id"),
                    format!("must be at least every row's last_update_id (a row has {highest})"),
                ));
            }
        }
        Ok(())
    }

    /// The realm this fixture describes, with relative times resolved against `now`.
    pub fn build(&self, now: Timestamp) -> Realm {
        Realm::new(RealmState::new(self.contents(now)))
    }

    /// What this fixture describes, with relative times resolved against `now`.
    pub fn contents(&self, now: Timestamp) -> RealmContents {
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
        let users = self.users.iter().map(|user| user.build(now)).collect();
        let channels = self
            .channels
            .iter()
            .map(|channel| Channel {
                name: channel.name.clone(),
                subscribers: channel.subscribers.clone(),
                former_subscribers: channel.former_subscribers.clone(),
            })
            .collect();
        // Rows without an update id get the next ones after the explicit ids, in file order,
        // as if reported in that order.
        let mut next_id = self
            .presence
            .iter()
            .filter_map(|row| row.last_update_id)
            .max()
            .unwrap_or(0);
        let presence = self
            .presence
            .iter()
            .map(|row| {
                let last_update_id = row.last_update_id.unwrap_or_else(|| {
                    next_id += 1;
                    next_id
                });
                let clients: Vec<ClientPresence> =
                    row.clients.iter().map(|c| c.build(now)).collect();
                let newest = |active_only: bool| {
                    clients
                        .iter()
                        .filter(|c| !active_only || c.status == Status::Active)
                        .map(|c| c.timestamp)
                        .max()
                };
                let (connected, active) = match (row.last_connected_time, row.last_active_time) {
                    (None, None) => (newest(false), newest(true)),
                    (connected, active) => {
                        (connected.map(|t| t.at(now)), active.map(|t| t.at(now)))
                    }
                };
                (
                    row.user_id,
                    PresenceRow {
                        last_connected_time: connected,
                        last_active_time: active,
                        last_update_id,
                    },
                )
            })
            .collect();
        let client_presence = self
            .presence
            .iter()
            .filter(|row| !row.clients.is_empty())
            .map(|row| {
                (
                    row.user_id,
                    row.clients.iter().map(|c| c.build(now)).collect(),
                )
            })
            .collect();
        RealmContents {
            settings,
            users,
            channels,
            direct_message_groups: self.direct_message_groups.clone(),
            direct_message_pairs: self.direct_message_pairs.clone(),
            presence,
            client_presence,
            last_update_id: self.presence_last_update_id.unwrap_or(0).max(next_id),
        }
    }
}

impl UserFixture {
    fn build(&self, now: Timestamp) -> User {
        User {
            user_id: self.user_id,
            email: self.email.clone(),
            delivery_email: self
                .delivery_email
                .clone()
                .unwrap_or_else(|| self.email.clone()),
            full_name: self.full_name.clone(),
            role: match self.role {
                RoleFixture::Owner => Role::Owner,
                RoleFixture::Admin => Role::Admin,
                RoleFixture::Moderator => Role::Moderator,
                RoleFixture::Member => Role::Member,
                RoleFixture::Guest => Role::Guest,
            },
            is_bot: self.is_bot,
            is_active: self.is_active,
            presence_enabled: self.presence_enabled,
            date_joined: self.date_joined.at(now),
            api_key: self.api_key.clone(),
        }
    }

    fn export(user: User) -> Self {
        Self {
            delivery_email: (user.delivery_email != user.email).then_some(user.delivery_email),
            user_id: user.user_id,
            email: user.email,
            full_name: user.full_name,
            role: match user.role {
                Role::Owner => RoleFixture::Owner,
                Role::Admin => RoleFixture::Admin,
                Role::Moderator => RoleFixture::Moderator,
                Role::Member => RoleFixture::Member,
                Role::Guest => RoleFixture::Guest,
            },
            is_bot: user.is_bot,
            is_active: user.is_active,
            presence_enabled: user.presence_enabled,
            date_joined: TimeSpec::Absolute(user.date_joined),
            api_key: user.api_key,
        }
    }
}

impl PresenceFixture {
    /// A row as the fixture writes it: absolute times and its update id.
    pub fn export(user_id: UserId, row: &PresenceRow) -> Self {
        Self {
            user_id,
            last_connected_time: row.last_connected_time.map(TimeSpec::Absolute),
            last_active_time: row.last_active_time.map(TimeSpec::Absolute),
            last_update_id: Some(row.last_update_id),
            clients: Vec::new(),
        }
    }
}

impl ClientFixture {
    fn export(client: &ClientPresence) -> Self {
        Self {
            client: client.client.clone(),
            status: match client.status {
                Status::Active => StatusFixture::Active,
                Status::Idle => StatusFixture::Idle,
            },
            timestamp: TimeSpec::Absolute(client.timestamp),
            pushable: client.pushable,
        }
    }

    fn build(&self, now: Timestamp) -> ClientPresence {
        ClientPresence {
            client: self.client.clone(),
            status: match self.status {
                StatusFixture::Active => Status::Active,
                StatusFixture::Idle => Status::Idle,
            },
            timestamp: self.timestamp.at(now),
            pushable: self.pushable,
        }
    }
}

struct Inconsistency {
    path: String,
    problem: String,
}

impl Inconsistency {
    fn in_file(self, file: &str) -> FixtureError {
        FixtureError::Invalid {
            file: file.to_owned(),
            path: self.path,
            problem: self.problem,
        }
    }

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
