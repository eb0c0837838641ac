//! The fixture file format (JSON) and its conversion into the store. This module owns the
//! on-disk schema and every consistency rule; the store never sees a file format. A fixture is
//! parsed and checked once, then `build` turns it into realms at a given instant, so that
//! relative times ("-90s") resolve against the server's clock; a reset seeds the store again from
//! the fixture's kept text (or, for one sent over the admin API, the parsed fixture).

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::domain::clock::{TimeSpec, Timestamp};
use crate::domain::feature_levels::{self, Compat, FeatureLevel};
use crate::domain::store::{
    AccessAllUsersGroup, Avatar, Channel, ClientPresence, EmailVisibility, PresenceRow,
    ProfileData, Realm, RealmContents, RealmSettings, RealmState, Role, ServerSettings, Status,
    Store, SystemGroup, UploadedAvatar, User, UserId,
};
use crate::test_control::stubs::{StubSpec, MAX_STUBS};
use serde_json::{Map, Value};

/// The default fixture, compiled into the binary.
pub const DEFAULT_FIXTURE: &str = include_str!("../fixtures/default.json");

/// How the built-in default fixture is named in messages.
pub(crate) const DEFAULT_FIXTURE_NAME: &str = "built-in default fixture (fixtures/default.json)";

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
    /// Answers for Zulip endpoints the mock does not serve (`stubs.rs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    stubs: Vec<StubSpec>,
    /// The text this fixture was parsed from, when it came from a file or the built-in one.
    #[serde(skip)]
    source: Option<FixtureSource>,
}

/// The text a fixture was parsed from and the feature level it was then given: what a reset
/// parses again. A parsed fixture takes about twice its text's memory, and the state it seeds
/// takes as much again; keeping only the text for a reset saves the difference for as long as
/// the server runs.
#[derive(Clone)]
pub(crate) struct FixtureSource {
    file: Arc<str>,
    text: Arc<Cow<'static, str>>,
    feature_level: Option<FeatureLevel>,
}

impl std::fmt::Debug for FixtureSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixtureSource")
            .field("file", &self.file)
            .field("bytes", &self.text.len())
            .field("feature_level", &self.feature_level)
            .finish()
    }
}

impl FixtureSource {
    /// The fixture again, as it was when its text was kept.
    fn parse(&self) -> Fixture {
        // Parsed without keeping the text again: the copy is for one reset's build.
        let mut fixture = Fixture::parse(&self.file, &self.text)
            .expect("a kept fixture text was parsed and checked once already");
        if let Some(level) = self.feature_level {
            fixture.set_feature_level(level);
        }
        fixture
    }
}

/// The fixture a reset restores: its text when it has one, else the parsed fixture.
#[derive(Debug)]
pub(crate) enum KeptFixture {
    Source(FixtureSource),
    Parsed(Arc<Fixture>),
}

impl KeptFixture {
    pub(crate) fn keep(mut fixture: Fixture) -> Self {
        match fixture.source.take() {
            Some(source) => Self::Source(source),
            None => Self::Parsed(Arc::new(fixture)),
        }
    }

    /// The fixture itself: parsed again from its text, or shared.
    pub(crate) fn fixture(&self) -> Arc<Fixture> {
        match self {
            Self::Source(source) => Arc::new(source.parse()),
            Self::Parsed(fixture) => Arc::clone(fixture),
        }
    }
}

/// The server-wide part of a fixture; also what the admin API shows and patches.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServerFixture {
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
    /// `FAKE_EMAIL_DOMAIN`: dummy email addresses use it when a realm's host has a port.
    #[serde(
        rename = "FAKE_EMAIL_DOMAIN",
        default = "default_fake_email_domain",
        skip_serializing_if = "is_default_fake_email_domain"
    )]
    fake_email_domain: String,
}

fn default_fake_email_domain() -> String {
    "zulip.localhost".to_owned()
}

fn is_default_fake_email_domain(domain: &str) -> bool {
    domain == "zulip.localhost"
}

impl Default for ServerFixture {
    fn default() -> Self {
        Self {
            zulip_version: None,
            zulip_merge_base: None,
            feature_level: default_feature_level(),
            external_host: default_external_host(),
            can_access_all_users_group_limits_presence: false,
            fake_email_domain: default_fake_email_domain(),
        }
    }
}

fn default_feature_level() -> u32 {
    feature_levels::LATEST.0
}

fn default_external_host() -> String {
    "localhost:9991".to_owned()
}

/// One realm of a fixture; also what the admin API takes to create or replace a realm.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RealmFixture {
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
    /// Who may create public, private and web-public channels and invite users (Zulip's
    /// defaults for a new realm: members, members, owners, members).
    #[serde(default = "members", skip_serializing_if = "is_members")]
    pub(crate) can_create_public_channel_group: SystemGroupFixture,
    #[serde(default = "members", skip_serializing_if = "is_members")]
    pub(crate) can_create_private_channel_group: SystemGroupFixture,
    #[serde(default = "owners", skip_serializing_if = "is_owners")]
    pub(crate) can_create_web_public_channel_group: SystemGroupFixture,
    #[serde(default = "members", skip_serializing_if = "is_members")]
    pub(crate) can_invite_users_group: SystemGroupFixture,
    #[serde(default, skip_serializing_if = "is_false")]
    pub(crate) enable_spectator_access: bool,
    /// `/register` state for fetch types the mock does not model: `{"message":
    /// {"max_message_id": 42}}` adds `max_message_id` when a client fetches `message`.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub(crate) register_state: Map<String, Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SystemGroupFixture {
    Everyone,
    Members,
    Moderators,
    Admins,
    Owners,
    Nobody,
}

impl SystemGroupFixture {
    fn build(self) -> SystemGroup {
        match self {
            Self::Everyone => SystemGroup::Everyone,
            Self::Members => SystemGroup::Members,
            Self::Moderators => SystemGroup::Moderators,
            Self::Admins => SystemGroup::Admins,
            Self::Owners => SystemGroup::Owners,
            Self::Nobody => SystemGroup::Nobody,
        }
    }

    fn export(group: SystemGroup) -> Self {
        match group {
            SystemGroup::Everyone => Self::Everyone,
            SystemGroup::Members => Self::Members,
            SystemGroup::Moderators => Self::Moderators,
            SystemGroup::Admins => Self::Admins,
            SystemGroup::Owners => Self::Owners,
            SystemGroup::Nobody => Self::Nobody,
        }
    }
}

fn members() -> SystemGroupFixture {
    SystemGroupFixture::Members
}

fn owners() -> SystemGroupFixture {
    SystemGroupFixture::Owners
}

fn is_members(group: &SystemGroupFixture) -> bool {
    *group == SystemGroupFixture::Members
}

fn is_owners(group: &SystemGroupFixture) -> bool {
    *group == SystemGroupFixture::Owners
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// Who may see a user's real email address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum VisibilityFixture {
    Everyone,
    Members,
    Moderators,
    Admins,
    Nobody,
}

/// The `/register` keys the mock writes itself: state may not give them.
const MODELLED_REGISTER_KEYS: &[&str] = &[
    "result",
    "msg",
    "queue_id",
    "zulip_version",
    "zulip_feature_level",
    "zulip_merge_base",
    "presences",
    "server_timestamp",
    "presence_last_update_id",
    "server_presence_ping_interval_seconds",
    "server_presence_offline_threshold_seconds",
    "event_queue_longpoll_timeout_seconds",
    "realm_users",
    "realm_non_active_users",
    "cross_realm_bots",
    "avatar_source",
    "avatar_url_medium",
    "avatar_url",
    "can_create_private_streams",
    "can_create_public_streams",
    "can_create_web_public_streams",
    "can_create_streams",
    "can_invite_others_to_realm",
    "is_admin",
    "is_owner",
    "is_moderator",
    "is_guest",
    "user_id",
    "email",
    "delivery_email",
    "full_name",
    "last_event_id",
    "idle_queue_timeout_secs",
];

/// The fetch types whose `/register` state the mock builds itself.
pub(crate) const MODELLED_FETCH_TYPES: &[&str] = &["presence", "realm_user"];

/// The largest `register_state` of a realm, serialised.
pub(crate) const MAX_REGISTER_STATE_BYTES: usize = 1024 * 1024;

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
pub(crate) struct UserFixture {
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
    /// The user's time zone, e.g. "Europe/Paris"; default "" (unset).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) timezone: String,
    /// Who may see `delivery_email`; default: everyone when it is the API email, else admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) email_address_visibility: Option<VisibilityFixture>,
    /// An uploaded avatar's URL (without `?version=`); default: Gravatar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) avatar_url: Option<String>,
    /// The medium-size uploaded avatar's URL; default: `avatar_url`'s `.png` as `-medium.png`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) avatar_url_medium: Option<String>,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub(crate) avatar_version: u32,
    /// A bot's type: 1 generic (default), 2 incoming webhook, 3 outgoing webhook, 4 embedded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) bot_type: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) bot_owner_id: Option<UserId>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub(crate) is_imported_stub: bool,
    /// Custom profile field values: `{"<field id>": {"value": "...", "rendered_value": "..."}}`.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub(crate) profile_data: Map<String, Value>,
}

fn one() -> u32 {
    1
}

fn is_one(value: &u32) -> bool {
    *value == 1
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
pub(crate) struct ChannelFixture {
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
pub(crate) struct PresenceFixture {
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
pub(crate) struct ClientFixture {
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
        Self::parse_source(&file, Cow::Owned(text))
    }

    /// The built-in default fixture.
    pub fn default_fixture() -> Self {
        Self::parse_source(DEFAULT_FIXTURE_NAME, Cow::Borrowed(DEFAULT_FIXTURE))
            .expect("the built-in default fixture is valid (tested)")
    }

    /// Parses and checks fixture JSON, as `parse`, and keeps `text`, so that a reset to this
    /// fixture parses the text again rather than keeping the parsed fixture.
    pub(crate) fn parse_source(file: &str, text: Cow<'static, str>) -> Result<Self, FixtureError> {
        let mut fixture = Self::parse(file, &text)?;
        fixture.source = Some(FixtureSource {
            file: file.into(),
            text: Arc::new(text),
            feature_level: None,
        });
        Ok(fixture)
    }

    /// Parses and checks fixture JSON; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, FixtureError> {
        let fixture: Self = parse_json(file, text)?;
        fixture
            .check()
            .map_err(|inconsistency| inconsistency.in_file(file))?;
        Ok(fixture)
    }

    /// The whole state of `store` and the installed `stubs` as a fixture with absolute times:
    /// importing it gives the same responses.
    pub fn export(store: &Store, stubs: Vec<StubSpec>) -> Self {
        Self {
            server: ServerFixture::export(&store.server()),
            realms: store
                .realms()
                .iter()
                .map(|realm| realm.read(RealmFixture::export))
                .collect(),
            stubs,
            source: None,
        }
    }

    /// The stubs this fixture installs.
    pub fn stubs(&self) -> &[StubSpec] {
        &self.stubs
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
        if self.stubs.len() > MAX_STUBS {
            return Err(Inconsistency::at(
                "$.stubs",
                format!("at most {MAX_STUBS} stubs"),
            ));
        }
        for (i, stub) in self.stubs.iter().enumerate() {
            check_stub(stub, &format!("$.stubs[{i}]"))?;
        }
        Ok(())
    }

    /// Makes the server one at `level`, with that level's version and merge base.
    pub fn set_feature_level(&mut self, level: FeatureLevel) {
        self.server.set_feature_level(level);
        if let Some(source) = &mut self.source {
            source.feature_level = Some(level);
        }
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
    pub(crate) fn export(server: &ServerSettings) -> Self {
        Self {
            zulip_version: Some(server.zulip_version.clone()),
            zulip_merge_base: Some(server.zulip_merge_base.clone()),
            feature_level: server.feature_level.0,
            external_host: server.external_host.clone(),
            can_access_all_users_group_limits_presence: server
                .can_access_all_users_group_limits_presence,
            fake_email_domain: server.fake_email_domain.clone(),
        }
    }

    /// Parses and checks server settings JSON; `file` names it in errors.
    pub(crate) fn parse(file: &str, text: &str) -> Result<Self, FixtureError> {
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
    pub(crate) fn set_feature_level(&mut self, level: FeatureLevel) {
        self.feature_level = level.0;
        self.zulip_version = None;
        self.zulip_merge_base = None;
    }

    /// The settings this describes.
    pub(crate) fn build(&self) -> ServerSettings {
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
            feature_level: level,
            compat: Compat::of(level),
            external_host: self.external_host.to_lowercase(),
            can_access_all_users_group_limits_presence: self
                .can_access_all_users_group_limits_presence,
            fake_email_domain: self.fake_email_domain.to_lowercase(),
        }
    }
}

/// Checks one stub; `at` is its JSON path.
fn check_stub(stub: &StubSpec, at: &str) -> Result<(), Inconsistency> {
    match stub.problem(crate::zulip_api::served_endpoints::serves) {
        Some(problem) => Err(Inconsistency::at(
            format!("{at}.{}", problem.field),
            problem.problem,
        )),
        None => Ok(()),
    }
}

/// Checks one stub given on its own (the admin API); `file` names it in errors.
pub(crate) fn check_stub_in(stub: &StubSpec, file: &str) -> Result<(), FixtureError> {
    check_stub(stub, "$").map_err(|inconsistency| inconsistency.in_file(file))
}

/// Parses `text` as a `T`, naming `file` and the JSON path of the first problem.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
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
    pub(crate) fn parse(file: &str, text: &str) -> Result<Self, FixtureError> {
        let realm: Self = parse_json(file, text)?;
        realm
            .check("$")
            .map_err(|inconsistency| inconsistency.in_file(file))?;
        Ok(realm)
    }

    /// Checks this realm on its own; `at` is its JSON path in the document.
    pub(crate) fn check_at(&self, file: &str, at: &str) -> Result<(), FixtureError> {
        self.check(at)
            .map_err(|inconsistency| inconsistency.in_file(file))
    }

    /// Removes `user_id` and every reference to them: subscriptions, direct-message groups
    /// (a group left with fewer than two members goes), pairs and their presence row. Whether
    /// they were a user of this realm.
    pub(crate) fn remove_user(&mut self, user_id: UserId) -> bool {
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
    pub(crate) fn export(state: &RealmState) -> Self {
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
            can_create_public_channel_group: SystemGroupFixture::export(
                settings.can_create_public_channel_group,
            ),
            can_create_private_channel_group: SystemGroupFixture::export(
                settings.can_create_private_channel_group,
            ),
            can_create_web_public_channel_group: SystemGroupFixture::export(
                settings.can_create_web_public_channel_group,
            ),
            can_invite_users_group: SystemGroupFixture::export(settings.can_invite_users_group),
            enable_spectator_access: settings.enable_spectator_access,
            register_state: Map::clone(&settings.register_state),
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
        for (u, user) in self.users.iter().enumerate() {
            user.check(&at(&format!(".users[{u}]")), &user_ids)?;
        }
        if matches!(
            self.can_create_web_public_channel_group,
            SystemGroupFixture::Everyone | SystemGroupFixture::Members
        ) {
            return Err(Inconsistency::at(
                at(".can_create_web_public_channel_group"),
                "must be moderators, admins, owners or nobody",
            ));
        }
        for (field, group) in [
            (
                ".can_create_public_channel_group",
                self.can_create_public_channel_group,
            ),
            (
                ".can_create_private_channel_group",
                self.can_create_private_channel_group,
            ),
            (".can_invite_users_group", self.can_invite_users_group),
        ] {
            if group == SystemGroupFixture::Everyone {
                return Err(Inconsistency::at(
                    at(field),
                    "must be members, moderators, admins, owners or nobody (Zulip does not allow everyone here)",
                ));
            }
        }
        check_register_state(&self.register_state, &at(".register_state"))?;
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
                if id < 0 {
                    return Err(Inconsistency::at(path, "must be 0 or more"));
                }
                // 0 is the id of rows Zulip created in bulk or never changed since the column
                // came: any number of rows may have it.
                if id > 0 && !update_ids.insert(id) {
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
    pub(crate) fn build(&self, now: Timestamp) -> Realm {
        Realm::new(RealmState::new(self.contents(now)))
    }

    /// What this fixture describes, with relative times resolved against `now`.
    pub(crate) fn contents(&self, now: Timestamp) -> RealmContents {
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
            can_create_public_channel_group: self.can_create_public_channel_group.build(),
            can_create_private_channel_group: self.can_create_private_channel_group.build(),
            can_create_web_public_channel_group: self.can_create_web_public_channel_group.build(),
            can_invite_users_group: self.can_invite_users_group.build(),
            enable_spectator_access: self.enable_spectator_access,
            register_state: std::sync::Arc::new(self.register_state.clone()),
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

/// Checks `/register` state given for unmodelled fetch types; `at` is its JSON path.
fn check_register_state(state: &Map<String, Value>, at: &str) -> Result<(), Inconsistency> {
    if serde_json::to_vec(state).map_or(true, |bytes| bytes.len() > MAX_REGISTER_STATE_BYTES) {
        return Err(Inconsistency::at(
            at,
            format!("larger than {MAX_REGISTER_STATE_BYTES} bytes"),
        ));
    }
    let mut seen = HashSet::new();
    for (fetch_type, keys) in state {
        let at = format!("{at}.{fetch_type}");
        if fetch_type.is_empty()
            || !fetch_type
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_')
        {
            return Err(Inconsistency::at(
                at,
                "a fetch type name is lowercase letters and underscores",
            ));
        }
        if MODELLED_FETCH_TYPES.contains(&fetch_type.as_str()) {
            return Err(Inconsistency::at(
                at,
                format!("the mock builds the {fetch_type} state itself, from the fixture"),
            ));
        }
        let Value::Object(keys) = keys else {
            return Err(Inconsistency::at(
                at,
                "must be an object: the keys this fetch type adds to /register",
            ));
        };
        for key in keys.keys() {
            if MODELLED_REGISTER_KEYS.contains(&key.as_str()) {
                return Err(Inconsistency::at(
                    format!("{at}.{key}"),
                    format!("the mock writes {key} itself"),
                ));
            }
            if !seen.insert(key.as_str()) {
                return Err(Inconsistency::at(
                    format!("{at}.{key}"),
                    format!("{key} is given by another fetch type too"),
                ));
            }
        }
    }
    Ok(())
}

/// Who sees a user's real email when the fixture does not say: everyone when it is their API
/// email (and for bots), else admins.
fn default_visibility(email: &str, delivery_email: &str, is_bot: bool) -> EmailVisibility {
    if is_bot || email.eq_ignore_ascii_case(delivery_email) {
        EmailVisibility::Everyone
    } else {
        EmailVisibility::Admins
    }
}

impl UserFixture {
    /// Checks the user's directory fields; `at` is its JSON path, `user_ids` the realm's users.
    fn check(&self, at: &str, user_ids: &HashSet<UserId>) -> Result<(), Inconsistency> {
        let field = |name: &str| format!("{at}.{name}");
        if !self.is_bot && (self.bot_type.is_some() || self.bot_owner_id.is_some()) {
            return Err(Inconsistency::at(
                field(if self.bot_type.is_some() {
                    "bot_type"
                } else {
                    "bot_owner_id"
                }),
                "only bots have a bot_type and a bot_owner_id",
            ));
        }
        if self.bot_type.is_some_and(|t| !(1..=4).contains(&t)) {
            return Err(Inconsistency::at(
                field("bot_type"),
                "must be 1 (generic), 2 (incoming webhook), 3 (outgoing webhook) or 4 (embedded)",
            ));
        }
        if let Some(owner) = self.bot_owner_id {
            if !user_ids.contains(&owner) || owner == self.user_id {
                return Err(Inconsistency::at(
                    field("bot_owner_id"),
                    format!("user {owner} is not another user of this realm"),
                ));
            }
        }
        let delivery = self.delivery_email.as_deref().unwrap_or(&self.email);
        let public = delivery.eq_ignore_ascii_case(&self.email);
        match (self.email_address_visibility, public) {
            (Some(VisibilityFixture::Everyone), false) => {
                return Err(Inconsistency::at(
                    field("email_address_visibility"),
                    "everyone sees this user's real email, so it is their API email too: email and delivery_email must be the same",
                ))
            }
            (Some(visibility), true) if visibility != VisibilityFixture::Everyone => {
                return Err(Inconsistency::at(
                    field("email_address_visibility"),
                    "a hidden email gives the user a dummy API email (user<id>@<domain>): set email to it and delivery_email to the real one",
                ))
            }
            (Some(visibility), _) if self.is_bot && visibility != VisibilityFixture::Everyone => {
                return Err(Inconsistency::at(
                    field("email_address_visibility"),
                    "a bot's email is always visible to everyone",
                ))
            }
            _ => {}
        }
        if self.avatar_url_medium.is_some() && self.avatar_url.is_none() {
            return Err(Inconsistency::at(
                field("avatar_url_medium"),
                "an uploaded avatar needs avatar_url too",
            ));
        }
        if self.is_bot && !self.profile_data.is_empty() {
            return Err(Inconsistency::at(
                field("profile_data"),
                "bots have no custom profile fields",
            ));
        }
        if let Some((id, _)) = self.profile_data.iter().find(|(_, v)| !v.is_object()) {
            return Err(Inconsistency::at(
                field(&format!("profile_data.{id}")),
                "must be an object such as {\"value\": \"...\"}",
            ));
        }
        Ok(())
    }

    fn build(&self, now: Timestamp) -> User {
        let delivery_email: Box<str> = self.delivery_email.as_deref().unwrap_or(&self.email).into();
        let visibility = match self.email_address_visibility {
            Some(VisibilityFixture::Everyone) => EmailVisibility::Everyone,
            Some(VisibilityFixture::Members) => EmailVisibility::Members,
            Some(VisibilityFixture::Moderators) => EmailVisibility::Moderators,
            Some(VisibilityFixture::Admins) => EmailVisibility::Admins,
            Some(VisibilityFixture::Nobody) => EmailVisibility::Nobody,
            None => default_visibility(&self.email, &delivery_email, self.is_bot),
        };
        User {
            timezone: self.timezone.as_str().into(),
            avatar: match &self.avatar_url {
                None => Avatar::Gravatar,
                Some(url) => Avatar::Uploaded(Box::new(UploadedAvatar {
                    url: url.clone(),
                    medium_url: self.avatar_url_medium.clone().unwrap_or_else(|| {
                        match url.strip_suffix(".png") {
                            Some(stem) => format!("{stem}-medium.png"),
                            None => url.clone(),
                        }
                    }),
                })),
            },
            avatar_version: self.avatar_version,
            email_address_visibility: visibility,
            bot_type: self.is_bot.then(|| self.bot_type.unwrap_or(1)),
            bot_owner_id: self.bot_owner_id,
            is_imported_stub: self.is_imported_stub,
            profile_data: ProfileData::new(self.profile_data.clone()),
            user_id: self.user_id,
            email: self.email.as_str().into(),
            delivery_email,
            full_name: self.full_name.as_str().into(),
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
            api_key: self.api_key.as_str().into(),
        }
    }

    fn export(user: User) -> Self {
        let derived = default_visibility(&user.email, &user.delivery_email, user.is_bot);
        Self {
            delivery_email: (user.delivery_email != user.email).then(|| user.delivery_email.into()),
            user_id: user.user_id,
            email: user.email.into(),
            full_name: user.full_name.into(),
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
            api_key: user.api_key.into(),
            timezone: user.timezone.into(),
            // Written only where it is not what the fixture would derive anyway.
            email_address_visibility: (user.email_address_visibility != derived).then_some(
                match user.email_address_visibility {
                    EmailVisibility::Everyone => VisibilityFixture::Everyone,
                    EmailVisibility::Members => VisibilityFixture::Members,
                    EmailVisibility::Moderators => VisibilityFixture::Moderators,
                    EmailVisibility::Admins => VisibilityFixture::Admins,
                    EmailVisibility::Nobody => VisibilityFixture::Nobody,
                },
            ),
            avatar_url: match &user.avatar {
                Avatar::Gravatar => None,
                Avatar::Uploaded(urls) => Some(urls.url.clone()),
            },
            avatar_url_medium: match user.avatar {
                Avatar::Gravatar => None,
                Avatar::Uploaded(urls) => Some(urls.medium_url),
            },
            avatar_version: user.avatar_version,
            bot_type: user.bot_type,
            bot_owner_id: user.bot_owner_id,
            is_imported_stub: user.is_imported_stub,
            profile_data: user.profile_data.into_map(),
        }
    }
}

impl PresenceFixture {
    /// A row as the fixture writes it: absolute times and its update id.
    pub(crate) fn export(user_id: UserId, row: &PresenceRow) -> Self {
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
pub(crate) fn is_valid_api_key(key: &str) -> bool {
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

    fn as_json(fixture: &Fixture) -> String {
        serde_json::to_string(fixture).unwrap()
    }

    #[test]
    fn a_fixture_with_its_text_is_kept_as_the_text_and_parses_back_with_its_feature_level() {
        let mut fixture = Fixture::default_fixture();
        fixture.set_feature_level(FeatureLevel(185));
        let expected = as_json(&fixture);

        let kept = KeptFixture::keep(fixture);

        assert!(matches!(kept, KeptFixture::Source(_)), "{kept:?}");
        assert_eq!(as_json(&kept.fixture()), expected);
        assert!(expected.contains(r#""feature_level":185"#), "{expected}");
    }

    #[test]
    fn a_fixture_without_text_is_kept_parsed() {
        let fixture = Fixture::parse("test", DEFAULT_FIXTURE).unwrap();
        let expected = as_json(&fixture);

        let kept = KeptFixture::keep(fixture);

        assert!(matches!(kept, KeptFixture::Parsed(_)), "{kept:?}");
        assert_eq!(as_json(&kept.fixture()), expected);
    }
}
