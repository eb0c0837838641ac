//! The in-memory state of the mock server: realms, their users, who shares a channel or a
//! direct-message group with whom, and presence rows. It knows nothing about HTTP or fixture
//! files; `fixtures.rs` builds it and the routes read it through the methods here.
//!
//! Lock rule: every guard taken here (the realm `RwLock`, a `DashMap` reference) lives only
//! inside one method and is never held across an `.await`; callers get owned values or run a
//! closure under the lock.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use dashmap::DashMap;

use crate::cache::BodyCache;
use crate::clock::Timestamp;
use crate::feature_level::FeatureLevel;

/// A user's id, unique within the server.
pub type UserId = u64;

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

/// A user account. `email` is the API email that Zulip uses as the key of legacy presence;
/// `delivery_email` is the real address, the one a client authenticates with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub user_id: UserId,
    pub email: String,
    pub delivery_email: String,
    pub full_name: String,
    pub role: Role,
    pub is_bot: bool,
    pub is_active: bool,
    pub presence_enabled: bool,
    pub date_joined: Timestamp,
    pub api_key: String,
}

/// One user's presence row (Zulip's `UserPresence`). Either time may be unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PresenceRow {
    pub last_connected_time: Option<Timestamp>,
    pub last_active_time: Option<Timestamp>,
    /// The realm-wide update id of the last change to this row.
    pub last_update_id: i64,
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
}

/// Everything a realm holds, guarded by one lock so that a reader never sees a half-made change.
#[derive(Clone, Debug)]
pub struct RealmState {
    settings: RealmSettings,
    users: BTreeMap<UserId, Arc<User>>,
    /// For each user, every other user they share an active channel or direct-message group
    /// subscription with (1:1 conversations are two-person groups, as in recent Zulip).
    shared_with: HashMap<UserId, BTreeSet<UserId>>,
    presence: BTreeMap<UserId, PresenceRow>,
    last_update_id: i64,
    /// Moves on with every change of any kind, so cached responses know they are stale.
    version: u64,
}

impl RealmState {
    /// A realm state from its parts. `groups` are the active subscriber sets of the realm's
    /// channels and direct-message groups.
    pub fn new(
        settings: RealmSettings,
        users: impl IntoIterator<Item = User>,
        groups: impl IntoIterator<Item = BTreeSet<UserId>>,
        presence: impl IntoIterator<Item = (UserId, PresenceRow)>,
    ) -> Self {
        let users: BTreeMap<UserId, Arc<User>> = users
            .into_iter()
            .map(|u| (u.user_id, Arc::new(u)))
            .collect();
        let mut shared_with: HashMap<UserId, BTreeSet<UserId>> = HashMap::new();
        for group in groups {
            for &member in &group {
                shared_with
                    .entry(member)
                    .or_default()
                    .extend(group.iter().copied().filter(|&other| other != member));
            }
        }
        let presence: BTreeMap<UserId, PresenceRow> = presence.into_iter().collect();
        let last_update_id = presence
            .values()
            .map(|row| row.last_update_id)
            .max()
            .unwrap_or(0);
        Self {
            settings,
            users,
            shared_with,
            presence,
            last_update_id,
            version: 0,
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

    /// Every user, by id.
    pub fn users(&self) -> impl Iterator<Item = &Arc<User>> {
        self.users.values()
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
        let shared = self.shared_with.get(&viewer.user_id);
        let others = shared
            .into_iter()
            .flatten()
            .copied()
            .filter(|id| self.users.get(id).is_some_and(|user| user.is_active));
        Some(std::iter::once(viewer.user_id).chain(others).collect())
    }
}

/// One realm, on its subdomain for life; everything else about it is in its locked state.
#[derive(Debug)]
pub struct Realm {
    subdomain: String,
    state: RwLock<RealmState>,
    /// The start of the realm-presence body for viewers who see everyone.
    pub realm_presence_cache: BodyCache,
}

impl Realm {
    /// A realm holding `state`.
    pub fn new(state: RealmState) -> Self {
        Self {
            subdomain: state.settings.subdomain.clone(),
            state: RwLock::new(state),
            realm_presence_cache: BodyCache::default(),
        }
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
    pub fn report_presence(
        &self,
        user_id: UserId,
        rule: impl FnOnce(Option<&PresenceRow>) -> Option<PresenceTimes>,
    ) -> Option<i64> {
        let mut state = self
            .state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let times = rule(state.presence.get(&user_id))?;
        Some(state.record_presence(user_id, times))
    }

    fn read_guard(&self) -> RwLockReadGuard<'_, RealmState> {
        // A panic while writing cannot leave a half-made row: writers build the new value
        // first and assign it whole, so a poisoned lock still guards consistent data.
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Server-wide settings (Zulip's settings.py and version.py).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSettings {
    pub zulip_version: String,
    pub zulip_merge_base: String,
    pub feature_level: FeatureLevel,
    /// `EXTERNAL_HOST`: `<subdomain>.<external_host>` selects a realm.
    pub external_host: String,
    /// `CAN_ACCESS_ALL_USERS_GROUP_LIMITS_PRESENCE`.
    pub can_access_all_users_group_limits_presence: bool,
}

/// Where a user lives: their realm and their id.
#[derive(Clone, Debug)]
struct UserLocator {
    realm: Arc<Realm>,
    user_id: UserId,
}

/// A user found by their credentials, with their realm.
#[derive(Clone, Debug)]
pub struct Account {
    pub realm: Arc<Realm>,
    pub user: Arc<User>,
}

/// The whole server state: realms by subdomain, and an index from delivery email to users.
#[derive(Clone, Debug)]
pub struct Store {
    server: Arc<RwLock<Arc<ServerSettings>>>,
    realms: Arc<DashMap<String, Arc<Realm>>>,
    /// How many realms there are (`DashMap::len` would lock every shard on every request).
    realm_count: Arc<AtomicUsize>,
    /// Lowercased delivery email -> the users with that address (one per realm at most).
    by_delivery_email: Arc<DashMap<String, Vec<UserLocator>>>,
}

impl Store {
    /// A store holding `realms` under `server`.
    pub fn new(server: ServerSettings, realms: Vec<Realm>) -> Self {
        let store = Self {
            server: Arc::new(RwLock::new(Arc::new(server))),
            realms: Arc::new(DashMap::new()),
            realm_count: Arc::new(AtomicUsize::new(0)),
            by_delivery_email: Arc::new(DashMap::new()),
        };
        for realm in realms {
            store.insert_realm(realm);
        }
        store
    }

    fn insert_realm(&self, realm: Realm) {
        let realm = Arc::new(realm);
        realm.read(|state| {
            for user in state.users() {
                self.by_delivery_email
                    .entry(user.delivery_email.to_lowercase())
                    .or_default()
                    .push(UserLocator {
                        realm: Arc::clone(&realm),
                        user_id: user.user_id,
                    });
            }
        });
        if self
            .realms
            .insert(realm.subdomain().to_owned(), realm)
            .is_none()
        {
            self.realm_count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The server-wide settings.
    pub fn server(&self) -> Arc<ServerSettings> {
        Arc::clone(
            &self
                .server
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// The realm on `subdomain`, if there is one.
    pub fn realm(&self, subdomain: &str) -> Option<Arc<Realm>> {
        self.realms.get(subdomain).map(|realm| Arc::clone(&realm))
    }

    /// The only realm, when the server has exactly one.
    pub fn sole_realm(&self) -> Option<Arc<Realm>> {
        if self.realm_count.load(Ordering::Relaxed) != 1 {
            return None;
        }
        self.realms.iter().next().map(|realm| Arc::clone(&realm))
    }

    /// Every user whose delivery email is `email` (compared case-insensitively), with their
    /// realm: one per realm at most. Callers pick the one whose API key matches.
    pub fn accounts_with_delivery_email(&self, email: &str) -> Vec<Account> {
        let Some(locators) = self.by_delivery_email.get(&email.to_lowercase()) else {
            return Vec::new();
        };
        // The index guard is dropped at the end of this synchronous method.
        locators
            .iter()
            .filter_map(|locator| {
                let user = locator
                    .realm
                    .read(|state| state.user(locator.user_id).cloned())?;
                Some(Account {
                    realm: Arc::clone(&locator.realm),
                    user,
                })
            })
            .collect()
    }
}
