//! The in-memory state of the mock server: realms, their users, who shares a channel or a
//! direct-message group with whom, and presence rows. It knows nothing about HTTP or fixture
//! files; `fixtures.rs` builds it and the routes read it through the methods here.
//!
//! Lock rule: every guard taken here (the realm `RwLock`, a `DashMap` reference) lives only
//! inside one method and is never held across an `.await`; callers get owned values or run a
//! closure under the lock.

use std::any::Any;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use arc_swap::{ArcSwap, ArcSwapOption};
use dashmap::DashMap;

use crate::domain::clock::Timestamp;
use crate::domain::feature_levels::{Compat, FeatureLevel};

/// A user's id, unique within the server.
pub(crate) type UserId = u64;

/// A user's role in their realm (Zulip's `UserProfile.role`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Owner,
    Admin,
    Moderator,
    Member,
    Guest,
}

/// Who may see every user of a realm (Zulip's `can_access_all_users_group` setting; Zulip
/// allows only these two system groups there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessAllUsersGroup {
    /// `role:everyone`: guests included, so nobody is limited.
    Everyone,
    /// `role:members`: members and up; guests see only the users they share something with.
    Members,
}

impl AccessAllUsersGroup {
    fn contains(self, role: Role) -> bool {
        match self {
            Self::Everyone => true,
            Self::Members => role != Role::Guest,
        }
    }
}

/// A system group that a realm permission setting names (zerver/models/groups.py
/// `SystemGroups`), by the roles it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SystemGroup {
    Everyone,
    Members,
    Moderators,
    Admins,
    Owners,
    Nobody,
}

impl SystemGroup {
    /// Whether a user with `role` is in the group.
    pub fn contains(self, role: Role) -> bool {
        match self {
            Self::Everyone => true,
            Self::Members => role != Role::Guest,
            Self::Moderators => matches!(role, Role::Owner | Role::Admin | Role::Moderator),
            Self::Admins => matches!(role, Role::Owner | Role::Admin),
            Self::Owners => role == Role::Owner,
            Self::Nobody => false,
        }
    }
}

/// Who may see a user's real email address (Zulip's `email_address_visibility`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmailVisibility {
    Everyone,
    Members,
    Moderators,
    Admins,
    Nobody,
}

/// Where a user's avatar comes from (Zulip's `avatar_source`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Avatar {
    /// "G": Gravatar, from the delivery email.
    Gravatar,
    /// "U": uploaded, at these URLs (boxed: most users have none, and a user is kept small).
    Uploaded(Box<UploadedAvatar>),
}

/// An uploaded avatar's URLs, as the server shows them, without `version`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadedAvatar {
    pub url: String,
    pub medium_url: String,
}

/// A user's custom profile field values, as `profile_data` sends them
/// (`{"<field id>": {"value": ...}}`). Most users have none, which then take a pointer's room.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileData(Option<Box<serde_json::Map<String, serde_json::Value>>>);

impl ProfileData {
    pub fn new(values: serde_json::Map<String, serde_json::Value>) -> Self {
        Self((!values.is_empty()).then(|| Box::new(values)))
    }

    /// The values as a JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(self.0.as_deref().cloned().unwrap_or_default())
    }

    pub fn into_map(self) -> serde_json::Map<String, serde_json::Value> {
        self.0.map(|values| *values).unwrap_or_default()
    }
}

/// A user account. `email` is the API email that Zulip uses as the key of legacy presence;
/// `delivery_email` is the real address, the one a client authenticates with. Its texts are
/// boxed strings, its rare parts boxed: a large realm keeps thousands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub user_id: UserId,
    pub email: Box<str>,
    pub delivery_email: Box<str>,
    pub full_name: Box<str>,
    pub role: Role,
    pub is_bot: bool,
    pub is_active: bool,
    pub presence_enabled: bool,
    pub date_joined: Timestamp,
    pub api_key: Box<str>,
    /// The user's time zone ("" when unset).
    pub timezone: Box<str>,
    pub avatar: Avatar,
    pub avatar_version: u32,
    pub email_address_visibility: EmailVisibility,
    /// A bot's type (1 generic, 2 incoming webhook, 3 outgoing webhook, 4 embedded).
    pub bot_type: Option<u8>,
    /// A bot's owner, if it has one.
    pub bot_owner_id: Option<UserId>,
    pub is_imported_stub: bool,
    pub profile_data: ProfileData,
}

/// One user's presence row (Zulip's `UserPresence`). Either time may be unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PresenceRow {
    pub last_connected_time: Option<Timestamp>,
    pub last_active_time: Option<Timestamp>,
    /// The realm-wide update id of the last change to this row.
    pub last_update_id: i64,
}

/// A legacy presence status, as clients report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Active,
    Idle,
}

impl Status {
    /// Zulip's `UserPresence.status_from_string`: exactly "active" or "idle".
    pub fn from_wire(text: &str) -> Option<Self> {
        match text {
            "active" => Some(Self::Active),
            "idle" => Some(Self::Idle),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Idle => "idle",
        }
    }
}

/// What one client last reported for a user, as Zulip stored presence before feature level
/// 178 (one `UserPresence` row per user and client).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientPresence {
    /// The client's name ("website", "ZulipMobile", "ZulipPython"...).
    pub client: String,
    pub status: Status,
    pub timestamp: Timestamp,
    /// Whether the user can get mobile push notifications (a registered device and offline
    /// push notifications on).
    pub pushable: bool,
}

/// The two times of a presence row, without its update id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PresenceTimes {
    pub last_connected_time: Option<Timestamp>,
    pub last_active_time: Option<Timestamp>,
}

/// Settings of one realm that clients can observe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealmSettings {
    /// The subdomain that selects this realm; "" is the root domain.
    pub subdomain: String,
    pub name: String,
    pub description: String,
    pub presence_disabled: bool,
    pub deactivated: bool,
    pub can_access_all_users_group: AccessAllUsersGroup,
    /// Who may create channels of each kind, and invite users (realm permission settings).
    pub can_create_public_channel_group: SystemGroup,
    pub can_create_private_channel_group: SystemGroup,
    pub can_create_web_public_channel_group: SystemGroup,
    pub can_invite_users_group: SystemGroup,
    /// Whether spectators may read web-public channels (web-public channels need it).
    pub enable_spectator_access: bool,
    /// `/register` state the test gives for fetch types the mock does not model, by type.
    pub register_state: Arc<serde_json::Map<String, serde_json::Value>>,
}

/// A channel and who is, or once was, subscribed to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    pub name: String,
    pub subscribers: Vec<UserId>,
    /// Users who were subscribed once: an inactive subscription grants no access.
    pub former_subscribers: Vec<UserId>,
}

/// Everything a realm is made of, before it is indexed into a `RealmState`.
#[derive(Clone, Debug)]
pub struct RealmContents {
    pub settings: RealmSettings,
    pub users: Vec<User>,
    pub channels: Vec<Channel>,
    pub direct_message_groups: Vec<Vec<UserId>>,
    /// 1:1 conversations; Zulip's access rules treat them as two-person groups.
    pub direct_message_pairs: Vec<[UserId; 2]>,
    pub presence: Vec<(UserId, PresenceRow)>,
    /// Per-client presence (before feature level 178), for users whose fixture lists it.
    pub client_presence: Vec<(UserId, Vec<ClientPresence>)>,
    /// The highest presence update id the realm has handed out (at least every row's).
    pub last_update_id: i64,
}

/// Everything a realm holds, guarded by one lock so that a reader never sees a half-made change.
#[derive(Clone, Debug)]
pub struct RealmState {
    settings: RealmSettings,
    users: BTreeMap<UserId, Arc<User>>,
    /// The hash of each lowercased delivery email with its user, sorted: how credentials find
    /// their user. A list of exactly the realm's length takes a fifth of the room of a hash map
    /// of lowercased copies.
    by_delivery_email: Vec<(u64, UserId)>,
    channels: Vec<Channel>,
    direct_message_groups: Vec<Vec<UserId>>,
    direct_message_pairs: Vec<[UserId; 2]>,
    presence: BTreeMap<UserId, PresenceRow>,
    /// Per-client rows, oldest report first, for levels before 178.
    client_presence: BTreeMap<UserId, Vec<ClientPresence>>,
    last_update_id: i64,
    /// Moves on with every change of any kind, so cached responses know they are stale.
    version: u64,
}

/// `email` lowercased, without a copy when it is lowercase already (as most are).
fn lowercased(email: &str) -> Cow<'_, str> {
    if email
        .bytes()
        .any(|byte| !byte.is_ascii() || byte.is_ascii_uppercase())
    {
        Cow::Owned(email.to_lowercase())
    } else {
        Cow::Borrowed(email)
    }
}

/// The hash a lowercased email is found by (the same for the life of the process).
fn email_hash(lowercase: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    lowercase.hash(&mut hasher);
    hasher.finish()
}

impl RealmState {
    /// A realm state from its contents.
    pub fn new(contents: RealmContents) -> Self {
        let RealmContents {
            settings,
            users,
            channels,
            direct_message_groups,
            direct_message_pairs,
            presence,
            client_presence,
            last_update_id,
        } = contents;
        let mut by_delivery_email: Vec<(u64, UserId)> = users
            .iter()
            .map(|u| (email_hash(&lowercased(&u.delivery_email)), u.user_id))
            .collect();
        by_delivery_email.sort_unstable();
        let users = users
            .into_iter()
            .map(|u| (u.user_id, Arc::new(u)))
            .collect();
        let presence: BTreeMap<UserId, PresenceRow> = presence.into_iter().collect();
        let last_update_id = presence
            .values()
            .map(|row| row.last_update_id)
            .fold(last_update_id, i64::max);
        Self {
            settings,
            users,
            by_delivery_email,
            channels,
            direct_message_groups,
            direct_message_pairs,
            presence,
            client_presence: client_presence
                .into_iter()
                .map(|(id, mut clients)| {
                    clients.sort_by_key(|client| client.timestamp);
                    (id, clients)
                })
                .collect(),
            last_update_id,
            version: 0,
        }
    }

    /// This state's contents, as `new` would take them back.
    pub fn contents(&self) -> RealmContents {
        RealmContents {
            settings: self.settings.clone(),
            users: self.users.values().map(|u| User::clone(u)).collect(),
            channels: self.channels.clone(),
            direct_message_groups: self.direct_message_groups.clone(),
            direct_message_pairs: self.direct_message_pairs.clone(),
            presence: self.presence.iter().map(|(&id, &row)| (id, row)).collect(),
            client_presence: self
                .client_presence
                .iter()
                .map(|(&id, clients)| (id, clients.clone()))
                .collect(),
            last_update_id: self.last_update_id,
        }
    }

    /// The realm's settings.
    pub fn settings(&self) -> &RealmSettings {
        &self.settings
    }

    /// The user with this id, if they belong to the realm.
    pub fn user(&self, user_id: UserId) -> Option<&Arc<User>> {
        self.users.get(&user_id)
    }

    /// The user whose delivery email is `email` (compared case-insensitively).
    pub fn user_by_delivery_email(&self, email: &str) -> Option<&Arc<User>> {
        let lowercase = lowercased(email);
        let hash = email_hash(&lowercase);
        let first = self.by_delivery_email.partition_point(|&(h, _)| h < hash);
        self.by_delivery_email[first..]
            .iter()
            .take_while(|&&(h, _)| h == hash)
            .filter_map(|(_, id)| self.users.get(id))
            .find(|user| lowercased(&user.delivery_email) == lowercase)
    }

    /// Every user, by id.
    pub fn users(&self) -> impl Iterator<Item = &Arc<User>> {
        self.users.values()
    }

    /// Every channel.
    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }

    /// The members of every direct-message group and pair.
    pub fn conversations(&self) -> impl Iterator<Item = &[UserId]> {
        self.direct_message_groups
            .iter()
            .map(Vec::as_slice)
            .chain(self.direct_message_pairs.iter().map(|pair| pair.as_slice()))
    }

    /// How many users the realm has.
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// Every presence row, by user id.
    pub fn presence_rows(&self) -> impl Iterator<Item = (&User, &PresenceRow)> {
        self.presence
            .iter()
            .filter_map(|(id, row)| Some((&**self.users.get(id)?, row)))
    }

    /// The version of this state: every change moves it on.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The highest update id any presence row of the realm ever got (0: none yet).
    pub fn last_update_id(&self) -> i64 {
        self.last_update_id
    }

    /// The presence row of `user_id`, if any.
    pub fn presence_row(&self, user_id: UserId) -> Option<&PresenceRow> {
        self.presence.get(&user_id)
    }

    /// The per-client rows of `user_id` (before feature level 178), oldest first; empty when
    /// the fixture gave none and no client has reported at such a level.
    pub fn client_presence(&self, user_id: UserId) -> &[ClientPresence] {
        self.client_presence
            .get(&user_id)
            .map_or(&[], Vec::as_slice)
    }

    /// Replaces `user_id`'s presence times with `times` as one change: the realm's update id
    /// moves on by one and the row takes it. Returns the new update id.
    fn record_presence(&mut self, user_id: UserId, times: PresenceTimes) -> i64 {
        self.version += 1;
        self.last_update_id += 1;
        self.presence.insert(
            user_id,
            PresenceRow {
                last_connected_time: times.last_connected_time,
                last_active_time: times.last_active_time,
                last_update_id: self.last_update_id,
            },
        );
        self.last_update_id
    }

    /// The users `viewer` can access, or `None` when they can access everyone.
    ///
    /// Zulip (zerver/lib/users.py `get_inaccessible_users_queryset`): a guest outside the
    /// realm's `can_access_all_users_group` sees themself and the active users who share an
    /// active channel or direct-message group subscription with them.
    pub fn accessible_users(
        &self,
        viewer: &User,
        group: AccessAllUsersGroup,
    ) -> Option<HashSet<UserId>> {
        if group.contains(viewer.role) {
            return None;
        }
        let me = viewer.user_id;
        let groups = self
            .channels
            .iter()
            .map(|channel| channel.subscribers.as_slice())
            .chain(self.direct_message_groups.iter().map(Vec::as_slice))
            .chain(self.direct_message_pairs.iter().map(|pair| pair.as_slice()))
            .filter(|members| members.contains(&me));
        let mut accessible: HashSet<UserId> = groups
            .flatten()
            .copied()
            .filter(|id| self.users.get(id).is_some_and(|user| user.is_active))
            .collect();
        accessible.insert(me);
        Some(accessible)
    }
}

/// One realm, on its subdomain for life; everything else about it is in its locked state.
#[derive(Debug)]
pub struct Realm {
    subdomain: String,
    state: RwLock<RealmState>,
    /// What another room keeps beside this realm, for as long as the realm lives (the Zulip
    /// API keeps its cached response bodies here), opaque to the domain.
    attachment: OnceLock<Box<dyn Any + Send + Sync>>,
}

impl Realm {
    /// A realm holding `state`.
    pub fn new(state: RealmState) -> Self {
        Self {
            subdomain: state.settings.subdomain.clone(),
            state: RwLock::new(state),
            attachment: OnceLock::new(),
        }
    }

    /// The `T` kept beside this realm, made on first use; `None` if a `T` cannot be kept
    /// there (something of another type is).
    pub fn attachment<T: Any + Send + Sync + Default>(&self) -> Option<&T> {
        self.attachment
            .get_or_init(|| Box::new(T::default()))
            .downcast_ref()
    }

    /// The subdomain that selects this realm; "" is the root domain.
    pub fn subdomain(&self) -> &str {
        &self.subdomain
    }

    /// Runs `f` on a consistent view of the realm's state. Keep `f` short and synchronous.
    pub fn read<T>(&self, f: impl FnOnce(&RealmState) -> T) -> T {
        f(&self.read_guard())
    }

    /// Applies a presence report by `user_id` under the realm's write lock: `rule` sees the
    /// current row and says what the times become, or `None` for no change. A change gets the
    /// next realm-wide update id, so no two changes share one and none is lost.
    ///
    /// A user removed meanwhile (a report in flight while an admin deletes them) changes
    /// nothing. When the realm's update ids have reached the column's limit (2^63 - 1), the
    /// change is refused, as Zulip's database would refuse the next id: ids never wrap.
    pub fn report_presence(
        &self,
        user_id: UserId,
        rule: impl FnOnce(Option<&PresenceRow>) -> Option<PresenceTimes>,
    ) -> Result<Option<i64>, UpdateIdsExhausted> {
        let mut state = self.write_guard();
        if !state.users.contains_key(&user_id) {
            return Ok(None);
        }
        let Some(times) = rule(state.presence.get(&user_id)) else {
            return Ok(None);
        };
        if state.last_update_id == i64::MAX {
            return Err(UpdateIdsExhausted);
        }
        Ok(Some(state.record_presence(user_id, times)))
    }

    /// Applies a report by one client under the realm's write lock, as Zulip did before
    /// feature level 178: `rule` gets the user's client rows (made from their presence row
    /// by `seed` when they have none yet) and changes them in place.
    pub fn report_client_presence(
        &self,
        user_id: UserId,
        seed: impl FnOnce(Option<&PresenceRow>) -> Vec<ClientPresence>,
        rule: impl FnOnce(&mut Vec<ClientPresence>),
    ) {
        let mut state = self.write_guard();
        let state = &mut *state;
        if !state.users.contains_key(&user_id) {
            return;
        }
        let row = state.presence.get(&user_id);
        let clients = state
            .client_presence
            .entry(user_id)
            .or_insert_with(|| seed(row));
        rule(clients);
        clients.sort_by_key(|client| client.timestamp);
        state.version += 1;
    }

    /// Removes `user_id`'s presence row; whether there was one.
    pub fn remove_presence(&self, user_id: UserId) -> bool {
        let mut state = self.write_guard();
        let removed = state.presence.remove(&user_id).is_some()
            | state.client_presence.remove(&user_id).is_some();
        if removed {
            state.version += 1;
        }
        removed
    }

    /// Replaces the realm's contents with what `edit` makes of the current ones, as one change
    /// under the write lock (no report can slip in between), and returns what else `edit`
    /// returned. The subdomain cannot change.
    pub fn edit<T, E>(
        &self,
        edit: impl FnOnce(&RealmState) -> Result<(RealmContents, T), E>,
    ) -> Result<T, E> {
        let mut state = self.write_guard();
        let (mut contents, out) = edit(&state)?;
        contents.settings.subdomain = self.subdomain.clone();
        let version = state.version + 1;
        *state = RealmState::new(contents);
        state.version = version;
        Ok(out)
    }

    fn read_guard(&self) -> RwLockReadGuard<'_, RealmState> {
        // A panic while writing cannot leave a half-made row: writers build the new value
        // first and assign it whole, so a poisoned lock still guards consistent data.
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_guard(&self) -> RwLockWriteGuard<'_, RealmState> {
        self.state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A realm's presence update ids reached the limit of Zulip's column (a `bigint`, 2^63 - 1):
/// no change can get a new id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the realm's presence update ids reached their limit (2^63 - 1)")]
pub struct UpdateIdsExhausted;

/// Server-wide settings (Zulip's settings.py and version.py).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSettings {
    pub zulip_version: String,
    pub zulip_merge_base: String,
    pub feature_level: FeatureLevel,
    /// What a server at `feature_level` does.
    pub(crate) compat: Compat,
    /// `EXTERNAL_HOST`: `<subdomain>.<external_host>` selects a realm.
    pub external_host: String,
    /// `CAN_ACCESS_ALL_USERS_GROUP_LIMITS_PRESENCE`.
    pub can_access_all_users_group_limits_presence: bool,
    /// `FAKE_EMAIL_DOMAIN`: the domain of dummy email addresses when a realm's host has a port.
    pub fake_email_domain: String,
}

impl ServerSettings {
    /// The host of the realm on `subdomain` (`Realm.host`).
    pub fn realm_host(&self, subdomain: &str) -> String {
        if subdomain.is_empty() {
            self.external_host.clone()
        } else {
            format!("{subdomain}.{}", self.external_host)
        }
    }
}

/// A user found by their credentials, with their realm.
#[derive(Clone, Debug)]
pub struct Account {
    pub realm: Arc<Realm>,
    pub user: Arc<User>,
}

/// The realms of one state, by subdomain.
#[derive(Debug, Default)]
struct Realms {
    by_subdomain: DashMap<String, Arc<Realm>>,
    /// How many realms there are (`DashMap::len` would lock every shard on every request).
    count: AtomicUsize,
    /// The only realm, when there is exactly one (found on every request: iterating the map
    /// would lock its shards one by one). Set again after every addition and removal.
    sole: ArcSwapOption<Realm>,
    finding_sole: Mutex<()>,
}

/// One whole server state. Replacing the state swaps the whole world at once, so no request
/// ever sees realms of two different fixtures.
#[derive(Clone, Debug)]
struct World {
    server: Arc<ServerSettings>,
    realms: Arc<Realms>,
}

/// Why a realm could not be added.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RealmConflict {
    #[error("a realm with subdomain {0:?} already exists")]
    Exists(String),
}

/// The whole server state: the server settings and realms by subdomain. Cloning is cheap and
/// every clone sees the same state.
#[derive(Clone, Debug)]
pub struct Store {
    world: Arc<ArcSwap<World>>,
}

impl Store {
    /// A store holding `realms` under `server`.
    pub fn new(server: ServerSettings, realms: Vec<Realm>) -> Self {
        Self {
            world: Arc::new(ArcSwap::from_pointee(World::new(server, realms))),
        }
    }

    fn world(&self) -> Arc<World> {
        self.world.load_full()
    }

    /// `f` of the current world, without taking a reference to it (which would make both cores
    /// write its reference count on every request).
    fn read_world<T>(&self, f: impl FnOnce(&World) -> T) -> T {
        f(&self.world.load())
    }

    fn swap_world(&self, world: World) {
        self.world.store(Arc::new(world));
    }

    /// Replaces the whole state at once.
    pub fn replace(&self, server: ServerSettings, realms: Vec<Realm>) {
        self.swap_world(World::new(server, realms));
    }

    /// The server-wide settings.
    pub fn server(&self) -> Arc<ServerSettings> {
        self.read_world(|world| Arc::clone(&world.server))
    }

    /// `f` of the server-wide settings (cheaper than `server` when a value or two is needed).
    pub fn with_server<T>(&self, f: impl FnOnce(&ServerSettings) -> T) -> T {
        self.read_world(|world| f(&world.server))
    }

    /// Replaces the server-wide settings, keeping the realms.
    pub fn set_server(&self, server: ServerSettings) {
        let server = Arc::new(server);
        self.world.rcu(|world| World {
            server: Arc::clone(&server),
            realms: Arc::clone(&world.realms),
        });
    }

    /// The realm on `subdomain`, if there is one.
    pub fn realm(&self, subdomain: &str) -> Option<Arc<Realm>> {
        self.read_world(|world| {
            let realm = world.realms.by_subdomain.get(subdomain)?;
            Some(Arc::clone(&realm))
        })
    }

    /// The only realm, when the server has exactly one.
    pub fn sole_realm(&self) -> Option<Arc<Realm>> {
        self.read_world(|world| world.realms.sole.load_full())
    }

    /// Every realm, by subdomain.
    pub fn realms(&self) -> Vec<Arc<Realm>> {
        let world = self.world();
        let mut realms: Vec<Arc<Realm>> = world
            .realms
            .by_subdomain
            .iter()
            .map(|realm| Arc::clone(&realm))
            .collect();
        realms.sort_by(|a, b| a.subdomain().cmp(b.subdomain()));
        realms
    }

    /// Adds `realm`, unless its subdomain is taken.
    pub fn add_realm(&self, realm: Realm) -> Result<Arc<Realm>, RealmConflict> {
        self.world().realms.add(realm)
    }

    /// Removes the realm on `subdomain`; whether there was one.
    pub fn remove_realm(&self, subdomain: &str) -> bool {
        let world = self.world();
        let removed = world.realms.by_subdomain.remove(subdomain).is_some();
        if removed {
            world.realms.count.fetch_sub(1, Ordering::Relaxed);
            world.realms.find_sole();
        }
        removed
    }

    /// Every user, in any realm, whose delivery email is `email` (compared case-insensitively):
    /// one per realm at most. Callers pick the one whose API key matches.
    pub fn accounts_with_delivery_email(&self, email: &str) -> Vec<Account> {
        self.realms()
            .into_iter()
            .filter_map(|realm| {
                let user = realm.read(|state| state.user_by_delivery_email(email).cloned())?;
                Some(Account { realm, user })
            })
            .collect()
    }
}

impl World {
    fn new(server: ServerSettings, realms: Vec<Realm>) -> Self {
        let world = Self {
            server: Arc::new(server),
            realms: Arc::new(Realms::default()),
        };
        for realm in realms {
            // Fixtures are checked for unique subdomains before they get here.
            let _ = world.realms.add(realm);
        }
        world
    }
}

impl Realms {
    fn add(&self, realm: Realm) -> Result<Arc<Realm>, RealmConflict> {
        let added = match self.by_subdomain.entry(realm.subdomain().to_owned()) {
            dashmap::Entry::Occupied(_) => {
                return Err(RealmConflict::Exists(realm.subdomain().to_owned()))
            }
            dashmap::Entry::Vacant(slot) => {
                let realm = Arc::new(realm);
                slot.insert(Arc::clone(&realm));
                self.count.fetch_add(1, Ordering::Relaxed);
                realm
            }
        };
        // After the map's shard is unlocked: `find_sole` reads every shard.
        self.find_sole();
        Ok(added)
    }

    /// Sets `sole` from the map as it is now. Concurrent changes each call this after theirs,
    /// under `sole`'s lock, so the last call leaves it right.
    fn find_sole(&self) {
        // One finder at a time, so that the last change's answer is the one that stays.
        let _finding = self
            .finding_sole
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.sole.store(if self.count.load(Ordering::Relaxed) == 1 {
            self.by_subdomain
                .iter()
                .next()
                .map(|realm| Arc::clone(&realm))
        } else {
            None
        });
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::fixtures::RealmFixture;

    /// A large realm keeps a user per account: its texts are boxed strings and its rare parts
    /// (an uploaded avatar, custom profile fields) boxed, so that a user without them stays
    /// small.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_user_without_rare_parts_keeps_its_inline_size_small() {
        assert_eq!(std::mem::size_of::<User>(), 144);
        assert_eq!(std::mem::size_of::<Avatar>(), 8);
        assert_eq!(std::mem::size_of::<ProfileData>(), 8);
    }

    fn one_user_realm(presence_last_update_id: i64) -> Realm {
        let fixture = serde_json::json!({
            "subdomain": "", "name": "R", "presence_last_update_id": presence_last_update_id,
            "users": [{"user_id": 1, "email": "a@example.com", "full_name": "A",
                       "api_key": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}],
        });
        RealmFixture::parse("test", &fixture.to_string())
            .unwrap()
            .build(Timestamp::from_unix_seconds(0))
    }

    #[test]
    fn a_user_is_found_by_delivery_email_in_any_case_and_no_one_by_another_email() {
        let fixture = serde_json::json!({
            "subdomain": "", "name": "R",
            "users": [
                {"user_id": 1, "email": "a@example.com", "full_name": "A",
                 "api_key": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
                {"user_id": 2, "email": "user2@example.com", "delivery_email": "Ünï@Example.COM",
                 "full_name": "B", "api_key": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},
            ],
        });
        let realm = RealmFixture::parse("test", &fixture.to_string())
            .unwrap()
            .build(Timestamp::from_unix_seconds(0));
        let found = |email: &str| {
            realm.read(|state| state.user_by_delivery_email(email).map(|u| u.user_id))
        };

        assert_eq!(found("a@example.com"), Some(1));
        assert_eq!(found("A@EXAMPLE.com"), Some(1));
        assert_eq!(found("ünï@example.com"), Some(2));
        assert_eq!(found("ÜNÏ@EXAMPLE.COM"), Some(2));
        assert_eq!(found("user2@example.com"), None);
        assert_eq!(found("b@example.com"), None);
        assert_eq!(found(""), None);
    }

    const NOW: PresenceTimes = PresenceTimes {
        last_connected_time: Some(Timestamp::from_unix_seconds(5)),
        last_active_time: None,
    };

    #[test]
    fn a_report_for_a_user_removed_meanwhile_changes_nothing() {
        let realm = one_user_realm(0);
        realm
            .edit(|state| {
                let mut contents = state.contents();
                contents.users.clear();
                Ok::<_, ()>((contents, ()))
            })
            .unwrap();

        assert_eq!(realm.report_presence(1, |_| Some(NOW)), Ok(None));
        assert_eq!(realm.read(|state| state.presence_row(1).copied()), None);
    }

    #[test]
    fn update_ids_stop_at_their_limit_instead_of_wrapping() {
        let realm = one_user_realm(i64::MAX - 1);

        assert_eq!(realm.report_presence(1, |_| Some(NOW)), Ok(Some(i64::MAX)));
        assert_eq!(
            realm.report_presence(1, |_| Some(NOW)),
            Err(UpdateIdsExhausted)
        );
        assert_eq!(
            realm.read(|state| state.presence_row(1).map(|row| row.last_update_id)),
            Some(i64::MAX)
        );
    }

    const WRITERS: u64 = 16;
    const REPORTS_PER_WRITER: u64 = 400;
    const USERS: u64 = 7;

    /// Concurrent presence reports: no lost write, no shared update id, no half-applied row.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_reports_never_lose_a_write_share_an_id_or_show_half_a_row() {
        let users: Vec<_> = (1..=USERS)
            .map(|id| {
                serde_json::json!({"user_id": id, "email": format!("u{id}@example.com"),
                    "full_name": format!("U{id}"), "api_key": format!("{id:a<32}")})
            })
            .collect();
        let fixture = serde_json::json!({"subdomain": "", "name": "Lab", "users": users});
        let realm = Arc::new(
            RealmFixture::parse("lab", &fixture.to_string())
                .unwrap()
                .build(Timestamp::from_unix_seconds(0)),
        );
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
}
