//! Event queues for real-time presence (`POST /register`, `GET` and `DELETE /events`;
//! zerver/tornado/event_queue.py): per-queue events with consecutive ids, acknowledgement and
//! pruning, one waiting long-poll per queue, heartbeats, idle expiry on the server clock, and
//! bounds on queues and events. No HTTP here; `routes/events.rs` speaks the protocol.

use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use dashmap::DashMap;
use serde_json::{Map, Value};
use tokio::sync::Notify;

use serde_json::json;

use crate::clock::Timestamp;
use crate::feature_level::{FeatureLevel, ACTIVATION_IS_UPDATE, USER_ACCESS_LIMIT};
use crate::presence::{can_access, LegacyPresence, ModernPresence, WEBSITE};
use crate::state::AppState;
use crate::store::{PresenceRow, RealmState, User, UserId};
use crate::users::{fake_email_domain, inaccessible_user_object, role_number, user_object, Format};

/// How queues behave; Zulip's defaults, shortened by tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventSettings {
    /// A waiting `GET /events` answers (empty) after this (`event_queue_longpoll_timeout_seconds`).
    pub longpoll_timeout: Duration,
    /// A waiting poll gets a heartbeat between these two times after it starts waiting.
    pub heartbeat_min: Duration,
    pub heartbeat_max: Duration,
    /// A queue nobody waits on goes this many seconds (server clock) after its last use.
    pub idle_timeout_seconds: i64,
    /// Queues the server holds at once; registering past it gets an error.
    pub max_queues: usize,
    /// Unacknowledged events a queue holds; past it the oldest go (pruned).
    pub max_events: usize,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            longpoll_timeout: Duration::from_secs(90),
            heartbeat_min: Duration::from_secs(45),
            heartbeat_max: Duration::from_secs(55),
            idle_timeout_seconds: 600,
            max_queues: 10_000,
            max_events: 1_000,
        }
    }
}

/// What a queue was registered for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueOptions {
    /// Whether "presence" is among its event types.
    pub presence: bool,
    /// Whether "realm_user" is among its event types.
    pub realm_user: bool,
    /// Presence events without `email` (`slim_presence`).
    pub slim_presence: bool,
    /// Presence events in the modern form (`simplified_presence_events`, feature level 419).
    pub simplified_presence: bool,
    /// The client declared `user_list_incomplete`: no events about users it cannot access.
    pub user_list_incomplete: bool,
    /// This queue's own idle timeout (`idle_queue_timeout`, feature level 481); default: the
    /// server's.
    pub idle_timeout_seconds: Option<i64>,
}

/// Why an acknowledgement was refused (zerver/tornado/views.py messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AckError {
    /// The client acknowledged an id older than one already pruned.
    AlreadyPruned { newest_pruned: i64 },
    /// The client acknowledged an id the queue never produced.
    NotInQueue { last_event_id: i64 },
}

#[derive(Debug)]
struct QueueState {
    events: VecDeque<Value>,
    next_id: i64,
    newest_pruned_id: i64,
    last_used: Timestamp,
    /// Moves on with every poll that starts waiting, so an older one knows it was superseded.
    poll: u64,
    waiting: bool,
}

/// One client's event queue.
#[derive(Debug)]
pub struct EventQueue {
    pub id: String,
    pub subdomain: String,
    pub user_id: UserId,
    pub options: QueueOptions,
    state: Mutex<QueueState>,
    /// Wakes the waiting poll: an event arrived, or another poll took over.
    wake: Notify,
    /// Set when the queue is deleted, so that its waiting poll answers at once.
    removed: AtomicBool,
}

impl EventQueue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `event` with the next id (set last, as Zulip appends it), dropping the oldest
    /// when the queue holds `max_events`; wakes the waiting poll.
    pub fn push(&self, mut event: Map<String, Value>, max_events: usize) -> i64 {
        let id = {
            let mut state = self.lock();
            let id = state.next_id;
            state.next_id += 1;
            event.insert("id".to_owned(), Value::from(id));
            state.events.push_back(Value::Object(event));
            while state.events.len() > max_events {
                if let Some(oldest) = state.events.pop_front() {
                    state.newest_pruned_id =
                        oldest["id"].as_i64().unwrap_or(state.newest_pruned_id);
                }
            }
            id
        };
        self.wake.notify_waiters();
        id
    }

    /// Drops the events up to `last_event_id` (Zulip's `prune`), or says why it cannot.
    pub fn acknowledge(&self, last_event_id: i64, now: Timestamp) -> Result<(), AckError> {
        let mut state = self.lock();
        state.last_used = now;
        if last_event_id < state.newest_pruned_id {
            return Err(AckError::AlreadyPruned {
                newest_pruned: state.newest_pruned_id,
            });
        }
        // As Zulip's `fetch_events`: prune through the id, then refuse an id that was not the
        // last one pruned (what was pruned stays pruned).
        while let Some(id) = state
            .events
            .front()
            .and_then(|event| event["id"].as_i64())
            .filter(|id| *id <= last_event_id)
        {
            state.events.pop_front();
            state.newest_pruned_id = id;
        }
        if last_event_id != state.newest_pruned_id {
            return Err(AckError::NotInQueue { last_event_id });
        }
        Ok(())
    }

    /// The events not yet acknowledged, oldest first.
    pub fn pending(&self) -> Vec<Value> {
        self.lock().events.iter().cloned().collect()
    }

    /// Starts a waiting poll, ending the one already waiting; returns its ticket.
    pub fn start_waiting(&self) -> u64 {
        let poll = {
            let mut state = self.lock();
            state.poll += 1;
            state.waiting = true;
            state.poll
        };
        self.wake.notify_waiters();
        poll
    }

    /// Whether poll `ticket` is still the one waiting.
    pub fn is_current(&self, ticket: u64) -> bool {
        self.lock().poll == ticket
    }

    /// Ends poll `ticket` (if it is still the current one) at `now`.
    pub fn stop_waiting(&self, ticket: u64, now: Timestamp) {
        let mut state = self.lock();
        if state.poll == ticket {
            state.waiting = false;
        }
        state.last_used = now;
    }

    /// A guard that ends poll `ticket` when dropped, also when its client goes away and the
    /// request is dropped mid-wait (else the queue would count as waited on and never expire).
    pub fn waiting_guard(&self, ticket: u64) -> WaitGuard<'_> {
        WaitGuard {
            queue: self,
            ticket,
        }
    }

    /// Whether the queue was deleted (by its client, the admin API, a reset or expiry).
    pub fn is_removed(&self) -> bool {
        self.removed.load(Ordering::SeqCst)
    }

    fn mark_removed(&self) {
        self.removed.store(true, Ordering::SeqCst);
        self.wake.notify_waiters();
    }

    /// Resolves when the queue has something new for its waiting poll.
    pub fn woken(&self) -> tokio::sync::futures::Notified<'_> {
        self.wake.notified()
    }

    /// What the admin API shows of this queue.
    pub fn summary(&self) -> Value {
        let state = self.lock();
        json!({
            "queue_id": self.id,
            "realm": self.subdomain,
            "user_id": self.user_id,
            "event_types": if self.options.presence { json!(["presence"]) } else { json!([]) },
            "slim_presence": self.options.slim_presence,
            "simplified_presence_events": self.options.simplified_presence,
            "pending_events": state.events.len(),
            "next_event_id": state.next_id,
            "waiting": state.waiting,
            "last_used": state.last_used.unix_seconds_f64(),
        })
    }

    /// Seconds this queue may stay unused, given the server's default.
    pub fn idle_timeout(&self, default_seconds: i64) -> i64 {
        self.options.idle_timeout_seconds.unwrap_or(default_seconds)
    }

    fn is_idle_past(&self, now: Timestamp, default_seconds: i64) -> bool {
        let seconds = self.idle_timeout(default_seconds);
        let state = self.lock();
        !state.waiting && now > state.last_used.plus_seconds(seconds)
    }
}

/// Ends a waiting poll when dropped (see `EventQueue::waiting_guard`).
#[derive(Debug)]
pub struct WaitGuard<'a> {
    queue: &'a EventQueue,
    ticket: u64,
}

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        let mut state = self.queue.lock();
        if state.poll == self.ticket {
            state.waiting = false;
        }
    }
}

/// Every event queue of the server.
#[derive(Debug, Default)]
pub struct EventQueues {
    queues: DashMap<String, Arc<EventQueue>>,
    counter: AtomicU64,
    settings: RwLock<EventSettings>,
    closing: AtomicBool,
    closed: Notify,
}

/// Registering would exceed `EventSettings::max_queues`.
#[derive(Debug, PartialEq, Eq)]
pub struct TooManyQueues;

impl EventQueues {
    /// No queues yet, with these settings.
    pub fn with_settings(settings: EventSettings) -> Self {
        let queues = Self::default();
        queues.set_settings(settings);
        queues
    }

    /// The settings in force.
    pub fn settings(&self) -> EventSettings {
        *self
            .settings
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Changes the settings for every queue from now on.
    pub fn set_settings(&self, settings: EventSettings) {
        *self
            .settings
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = settings;
    }

    /// A new queue for `user_id` of the realm on `subdomain`, with an id like Zulip's
    /// (`<seconds>:<n>`). Idle queues past their timeout are reclaimed first.
    pub fn register(
        &self,
        subdomain: &str,
        user_id: UserId,
        options: QueueOptions,
        now: Timestamp,
    ) -> Result<Arc<EventQueue>, TooManyQueues> {
        self.reclaim_idle(now);
        if self.queues.len() >= self.settings().max_queues {
            return Err(TooManyQueues);
        }
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}:{n}", now.unix_seconds());
        let queue = Arc::new(EventQueue {
            id: id.clone(),
            subdomain: subdomain.to_owned(),
            user_id,
            options,
            state: Mutex::new(QueueState {
                events: VecDeque::new(),
                next_id: 0,
                newest_pruned_id: -1,
                last_used: now,
                poll: 0,
                waiting: false,
            }),
            wake: Notify::new(),
            removed: AtomicBool::new(false),
        });
        self.queues.insert(id, Arc::clone(&queue));
        Ok(queue)
    }

    /// The queue `id` if it exists and has not expired at `now`.
    pub fn get(&self, id: &str, now: Timestamp) -> Option<Arc<EventQueue>> {
        let queue = Arc::clone(&*self.queues.get(id)?);
        if queue.is_idle_past(now, self.settings().idle_timeout_seconds) {
            self.queues.remove(id);
            queue.mark_removed();
            return None;
        }
        Some(queue)
    }

    /// Deletes queue `id`; whether it existed.
    pub fn remove(&self, id: &str) -> bool {
        match self.queues.remove(id) {
            Some((_, queue)) => {
                queue.mark_removed();
                true
            }
            None => false,
        }
    }

    /// Every queue, oldest first.
    pub fn all(&self) -> Vec<Arc<EventQueue>> {
        let mut queues: Vec<Arc<EventQueue>> =
            self.queues.iter().map(|queue| Arc::clone(&queue)).collect();
        queues.sort_by_key(|queue| {
            let (seconds, n) = queue.id.split_once(':').unwrap_or(("0", "0"));
            (
                seconds.parse::<i64>().unwrap_or(0),
                n.parse::<u64>().unwrap_or(0),
            )
        });
        queues
    }

    /// The queues of the realm on `subdomain`.
    pub fn of_realm(&self, subdomain: &str) -> Vec<Arc<EventQueue>> {
        self.queues
            .iter()
            .filter(|queue| queue.subdomain == subdomain)
            .map(|queue| Arc::clone(&queue))
            .collect()
    }

    /// How many queues exist.
    pub fn len(&self) -> usize {
        self.queues.len()
    }

    /// Whether there are no queues.
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// Removes every queue nobody waits on that has been idle past the timeout.
    pub fn reclaim_idle(&self, now: Timestamp) {
        let seconds = self.settings().idle_timeout_seconds;
        self.queues.retain(|_, queue| {
            let idle = queue.is_idle_past(now, seconds);
            if idle {
                queue.mark_removed();
            }
            !idle
        });
    }

    /// Removes every queue (a reset).
    pub fn clear(&self) {
        for queue in self.queues.iter() {
            queue.mark_removed();
        }
        self.queues.clear();
    }

    /// The server is stopping: every waiting poll answers now.
    pub fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.closed.notify_waiters();
    }

    /// Whether the server is stopping.
    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Resolves when the server starts stopping.
    pub fn closed(&self) -> tokio::sync::futures::Notified<'_> {
        self.closed.notified()
    }
}

/// A random delay between `min` and `max` (no random-number crate needed for a jitter).
pub fn jitter(min: Duration, max: Duration) -> Duration {
    let spread = max.saturating_sub(min).as_millis() as u64;
    if spread == 0 {
        return min;
    }
    let random = RandomState::new().build_hasher().finish();
    min + Duration::from_millis(random % (spread + 1))
}

/// A presence event goes to nobody when more than this many users would receive it
/// (zerver/actions/presence.py `send_presence_changed`).
const MAX_PRESENCE_EVENT_RECIPIENTS: usize = 100;

/// Whether a report brings a user online (zerver/actions/presence.py): it creates their row,
/// or it is "active" more than 130 s after their last active time.
pub fn comes_online(row: Option<&PresenceRow>, active: bool, now: Timestamp) -> bool {
    match row {
        None => true,
        Some(row) => {
            active
                && row
                    .last_active_time
                    .is_none_or(|t| now > t.plus_seconds(COMES_ONLINE_SECONDS))
        }
    }
}

/// `PRESENCE_LEGACY_EVENT_OFFSET_FOR_ACTIVITY_SECONDS` plus the ping interval: an active report
/// after this long a silence brings the user online.
const COMES_ONLINE_SECONDS: i64 = 130;

/// Sends `reporter`'s new presence to every queue that should get it (Zulip's
/// `send_presence_changed`): the realm's active users who may see them, unless more than
/// 100 would receive it, or the realm has presence disabled.
pub fn publish_presence(
    state: &AppState,
    realm_state: &RealmState,
    reporter: &User,
    now: Timestamp,
) {
    if realm_state.settings().presence_disabled || !reporter.presence_enabled {
        return;
    }
    let Some(row) = realm_state.presence_row(reporter.user_id) else {
        return;
    };
    let policy = state.access_policy();
    let recipients: Vec<UserId> = realm_state
        .users()
        .filter(|user| user.is_active)
        .filter(|user| can_access(realm_state, user, reporter, policy))
        .map(|user| user.user_id)
        .collect();
    if recipients.len() > MAX_PRESENCE_EVENT_RECIPIENTS {
        return;
    }
    let legacy = LegacyPresence::of(row, reporter.date_joined);
    let modern = ModernPresence::of(row, reporter.date_joined);
    let max_events = state.control.events.settings().max_events;
    // A queue past its idle timeout goes now rather than receive the event.
    state.control.events.reclaim_idle(now);
    for queue in state
        .control
        .events
        .of_realm(realm_state.settings().subdomain.as_str())
    {
        if !queue.options.presence || !recipients.contains(&queue.user_id) {
            continue;
        }
        let event = if queue.options.simplified_presence {
            json!({
                "type": "presence",
                "presences": { reporter.user_id.to_string(): modern },
            })
        } else {
            let mut event = json!({"type": "presence", "user_id": reporter.user_id});
            if !queue.options.slim_presence {
                event["email"] = Value::from(reporter.email.clone());
            }
            event["server_timestamp"] = Value::from(now.unix_seconds_f64());
            event["presence"] = json!({ WEBSITE: {
                "client": WEBSITE,
                "status": legacy.status.as_str(),
                "timestamp": legacy.timestamp,
                "pushable": false,
            }});
            event
        };
        if let Value::Object(event) = event {
            queue.push(event, max_events);
        }
    }
}

/// Sends the `realm_user` events Zulip sends when `after` is added (`before` is `None`) or
/// changed from `before`, to the realm's queues registered for "realm_user": `add` with the
/// whole user object (zerver/actions/create_user.py `notify_created_user`), or one `update`
/// per changed field, with Zulip's keys: full name, role, time zone, and (de)activation, which
/// is `update` with `is_active` from feature level 222 and `remove`/`add` before
/// (zerver/actions/users.py). A limited guest who cannot access the user gets "Unknown user"
/// for an `add`, or nothing when their client declared `user_list_incomplete`.
pub fn publish_realm_user(
    state: &AppState,
    realm_state: &RealmState,
    before: Option<&User>,
    after: &User,
) {
    let server = state.store.server();
    let level = server.feature_level;
    let host = server.realm_host(&realm_state.settings().subdomain);
    let domain = fake_email_domain(&host, &server.fake_email_domain).to_owned();
    let max_events = state.control.events.settings().max_events;
    let format = Format {
        level,
        client_gravatar: false,
        include_custom_profile_fields: true,
    };
    // A new user's custom profile fields are not sent yet: `profile_data` is empty.
    let person_add = |viewer: &User| {
        let mut person = user_object(after, viewer, format);
        if let Some(profile_data) = person.get_mut("profile_data") {
            *profile_data = Value::Object(Map::new());
        }
        person
    };
    state.control.events.reclaim_idle(state.clock.now());
    for queue in state
        .control
        .events
        .of_realm(realm_state.settings().subdomain.as_str())
    {
        if !queue.options.realm_user {
            continue;
        }
        let Some(viewer) = realm_state.user(queue.user_id) else {
            continue;
        };
        let accessible = !level.has(USER_ACCESS_LIMIT)
            || crate::users::accessible_users(realm_state, viewer)
                .is_none_or(|ids| ids.contains(&after.user_id));
        let events: Vec<Value> = match before {
            None if accessible => {
                vec![json!({"type": "realm_user", "op": "add", "person": person_add(viewer)})]
            }
            None if queue.options.user_list_incomplete => Vec::new(),
            None => vec![json!({"type": "realm_user", "op": "add",
                "person": inaccessible_user_object(after.user_id, &domain, level)})],
            Some(_) if !accessible => Vec::new(),
            Some(before) => updates(before, after, level, &person_add(viewer)),
        };
        for event in events {
            if let Value::Object(event) = event {
                queue.push(event, max_events);
            }
        }
    }
}

/// The `update` (or, before feature level 222, `remove`/`add`) events for a changed user.
fn updates(
    before: &User,
    after: &User,
    level: FeatureLevel,
    person: &Map<String, Value>,
) -> Vec<Value> {
    let id = after.user_id;
    let update = |person: Value| json!({"type": "realm_user", "op": "update", "person": person});
    let mut events = Vec::new();
    if before.full_name != after.full_name {
        events.push(update(json!({"user_id": id, "full_name": after.full_name})));
    }
    if before.role != after.role {
        events.push(update(
            json!({"user_id": id, "role": role_number(after.role)}),
        ));
    }
    if before.timezone != after.timezone {
        events.push(update(
            json!({"email": after.email, "user_id": id, "timezone": after.timezone}),
        ));
    }
    if before.is_active != after.is_active {
        events.push(match (level.has(ACTIVATION_IS_UPDATE), after.is_active) {
            (true, active) => update(json!({"user_id": id, "is_active": active})),
            (false, false) => json!({"type": "realm_user", "op": "remove",
                "person": {"email": after.email, "user_id": id, "full_name": after.full_name}}),
            (false, true) => json!({"type": "realm_user", "op": "add", "person": person}),
        });
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_seconds(seconds)
    }

    fn event() -> Map<String, Value> {
        let mut event = Map::new();
        event.insert("type".to_owned(), Value::from("heartbeat"));
        event
    }

    #[test]
    fn events_get_consecutive_ids_and_go_when_acknowledged() {
        let queues = EventQueues::default();
        let queue = queues
            .register("", 1, QueueOptions::default(), at(0))
            .unwrap();
        assert_eq!(queue.push(event(), 10), 0);
        assert_eq!(queue.push(event(), 10), 1);
        assert_eq!(queue.acknowledge(-1, at(1)), Ok(()));
        assert_eq!(queue.pending().len(), 2);
        assert_eq!(queue.acknowledge(0, at(1)), Ok(()));
        assert_eq!(queue.pending().len(), 1);
        assert_eq!(
            queue.acknowledge(-1, at(1)),
            Err(AckError::AlreadyPruned { newest_pruned: 0 })
        );
        assert_eq!(
            queue.acknowledge(2, at(1)),
            Err(AckError::NotInQueue { last_event_id: 2 })
        );
    }

    #[test]
    fn a_full_queue_prunes_its_oldest_events() {
        let queues = EventQueues::default();
        let queue = queues
            .register("", 1, QueueOptions::default(), at(0))
            .unwrap();
        for _ in 0..3 {
            queue.push(event(), 2);
        }
        assert_eq!(queue.pending().len(), 2);
        assert_eq!(
            queue.acknowledge(-1, at(0)),
            Err(AckError::AlreadyPruned { newest_pruned: 0 })
        );
    }

    #[test]
    fn an_idle_queue_expires_on_the_server_clock() {
        let queues = EventQueues::default();
        let queue = queues
            .register("", 1, QueueOptions::default(), at(0))
            .unwrap();
        assert!(queues.get(&queue.id, at(600)).is_some());
        assert!(queues.get(&queue.id, at(1_201)).is_none());
    }

    #[test]
    fn jitter_stays_between_its_bounds() {
        for _ in 0..100 {
            let delay = jitter(Duration::from_secs(45), Duration::from_secs(55));
            assert!((Duration::from_secs(45)..=Duration::from_secs(55)).contains(&delay));
        }
    }
}
