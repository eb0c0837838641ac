//! Event queues for real-time presence (`POST /register`, `GET` and `DELETE /events`;
//! zerver/tornado/event_queue.py): per-queue events with consecutive ids, acknowledgement and
//! pruning, one waiting long-poll per queue, heartbeats, idle expiry on the server clock, and
//! bounds on queues and events. No HTTP here; `zulip_api/event_views.rs` speaks the protocol.

use std::cell::OnceCell;
use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use dashmap::DashMap;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};
use tokio::sync::Notify;

use serde_json::json;

use crate::domain::clock::Timestamp;
use crate::domain::feature_levels::Compat;
use crate::domain::presence_rules::{
    can_access, AccessPolicy, LegacyPresence, ModernPresence, WEBSITE,
};
use crate::domain::store::{PresenceRow, RealmState, ServerSettings, User, UserId};
use crate::domain::user_directory::{
    fake_email_domain, inaccessible_user_object, role_number, user_object, Format,
};

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
    /// Queues the server holds at once; past it the least recently used idle queue goes.
    pub max_queues: usize,
    /// Queues one user holds at once; past it their least recently used idle queue goes.
    pub max_queues_per_user: usize,
    /// Unacknowledged events a queue holds; past it the oldest go (pruned).
    pub max_events: usize,
    /// Bytes of unacknowledged events (as JSON) a queue holds; past it the oldest go.
    pub max_queue_bytes: usize,
    /// Bytes the events of every queue take together (`EventQueues::bytes_in_use`); past it
    /// the least recently used idle queues go.
    pub max_total_bytes: usize,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            longpoll_timeout: Duration::from_secs(90),
            heartbeat_min: Duration::from_secs(45),
            heartbeat_max: Duration::from_secs(55),
            idle_timeout_seconds: 600,
            max_queues: 10_000,
            max_queues_per_user: 1_000,
            max_events: 1_000,
            max_queue_bytes: 1024 * 1024,
            max_total_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Zulip's ceiling on a queue's own idle timeout (zerver/tornado/event_queue.py
/// `MAX_QUEUE_TIMEOUT_SECS`, a week): a longer `idle_queue_timeout` counts as this.
pub(crate) const MAX_QUEUE_TIMEOUT_SECONDS: i64 = 7 * 24 * 60 * 60;

/// What an event's place in a queue costs besides its body: its id and pointer, with the
/// queue's spare room.
pub const EVENT_SLOT_BYTES: usize = 32;

/// What a queue was registered for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct QueueOptions {
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
pub(crate) enum AckError {
    /// The client acknowledged an id older than one already pruned.
    AlreadyPruned { newest_pruned: i64 },
    /// The client acknowledged an id the queue never produced.
    NotInQueue { last_event_id: i64 },
}

/// One event as the server made it, shared by every queue it goes to (as Zulip pushes a
/// shallow copy of one dict to each queue); each queue adds its own `id` when it answers.
/// Its bytes count in `EventQueues::bytes_in_use` while any queue holds it.
#[derive(Debug)]
pub(crate) struct Event {
    body: Map<String, Value>,
    bytes: usize,
    gauge: Arc<AtomicUsize>,
}

impl Drop for Event {
    fn drop(&mut self) {
        self.gauge.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// An event in one queue: the shared body with this queue's id for it, written last as Zulip
/// appends it.
#[derive(Clone, Debug)]
pub(crate) struct QueuedEvent {
    pub id: i64,
    event: Arc<Event>,
}

impl Serialize for QueuedEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.event.body.len() + 1))?;
        for (key, value) in &self.event.body {
            map.serialize_entry(key, value)?;
        }
        map.serialize_entry("id", &self.id)?;
        map.end()
    }
}

/// Counts the bytes written to it.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Debug)]
struct QueueState {
    events: VecDeque<QueuedEvent>,
    /// The JSON bytes of `events`' bodies.
    bytes: usize,
    next_id: i64,
    newest_pruned_id: i64,
    last_used: Timestamp,
    /// Moves on with every poll that starts waiting, so an older one knows it was superseded.
    poll: u64,
    waiting: bool,
}

/// One client's event queue.
#[derive(Debug)]
pub(crate) struct EventQueue {
    pub id: String,
    pub subdomain: String,
    pub user_id: UserId,
    pub options: QueueOptions,
    state: Mutex<QueueState>,
    /// Wakes the waiting poll: an event arrived, or another poll took over.
    wake: Notify,
    /// Set when the queue is deleted, so that its waiting poll answers at once.
    removed: AtomicBool,
    /// The server's `bytes_in_use`, which this queue's event places count in.
    gauge: Arc<AtomicUsize>,
}

impl EventQueue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `event` with the next id, dropping the oldest events while the queue holds more
    /// than `settings` allow (the newest always stays); wakes the waiting poll. Use
    /// `EventQueues::deliver`, which also keeps every queue together within bounds.
    fn push(&self, event: Arc<Event>, settings: &EventSettings) -> i64 {
        let id = {
            let mut state = self.lock();
            let id = state.next_id;
            state.next_id += 1;
            if self.is_removed() {
                // Deleted meanwhile (by a bound, say, while an event went round): nobody
                // will read it.
                return id;
            }
            state.bytes += event.bytes;
            state.events.push_back(QueuedEvent { id, event });
            self.gauge.fetch_add(EVENT_SLOT_BYTES, Ordering::Relaxed);
            while state.events.len() > settings.max_events
                || (state.bytes > settings.max_queue_bytes && state.events.len() > 1)
            {
                self.pop_oldest(&mut state);
            }
            id
        };
        self.wake.notify_waiters();
        id
    }

    /// Drops the oldest event, which counts as pruned.
    fn pop_oldest(&self, state: &mut QueueState) {
        if let Some(oldest) = state.events.pop_front() {
            state.newest_pruned_id = oldest.id;
            state.bytes -= oldest.event.bytes;
            self.gauge.fetch_sub(EVENT_SLOT_BYTES, Ordering::Relaxed);
        }
    }

    /// Drops the events up to `last_event_id` (Zulip's `prune`), or says why it cannot.
    pub(crate) fn acknowledge(&self, last_event_id: i64, now: Timestamp) -> Result<(), AckError> {
        let mut state = self.lock();
        state.last_used = now;
        if last_event_id < state.newest_pruned_id {
            return Err(AckError::AlreadyPruned {
                newest_pruned: state.newest_pruned_id,
            });
        }
        // As Zulip's `fetch_events`: prune through the id, then refuse an id that was not the
        // last one pruned (what was pruned stays pruned).
        while state
            .events
            .front()
            .is_some_and(|event| event.id <= last_event_id)
        {
            self.pop_oldest(&mut state);
        }
        // A queue that once held many events gives their room back.
        if state.events.capacity() > 2 * state.events.len() + 16 {
            state.events.shrink_to_fit();
        }
        if last_event_id != state.newest_pruned_id {
            return Err(AckError::NotInQueue { last_event_id });
        }
        Ok(())
    }

    /// The events not yet acknowledged, oldest first.
    pub(crate) fn pending(&self) -> Vec<QueuedEvent> {
        self.lock().events.iter().cloned().collect()
    }

    /// Starts a waiting poll, ending the one already waiting; returns its ticket.
    pub(crate) fn start_waiting(&self) -> u64 {
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
    pub(crate) fn is_current(&self, ticket: u64) -> bool {
        self.lock().poll == ticket
    }

    /// Ends poll `ticket` (if it is still the current one) at `now`.
    pub(crate) fn stop_waiting(&self, ticket: u64, now: Timestamp) {
        let mut state = self.lock();
        if state.poll == ticket {
            state.waiting = false;
        }
        state.last_used = now;
    }

    /// A guard that ends poll `ticket` when dropped, also when its client goes away and the
    /// request is dropped mid-wait (else the queue would count as waited on and never expire).
    pub(crate) fn waiting_guard(&self, ticket: u64) -> WaitGuard<'_> {
        WaitGuard {
            queue: self,
            ticket,
        }
    }

    /// Whether the queue was deleted (by its client, the admin API, a reset or expiry).
    pub(crate) fn is_removed(&self) -> bool {
        self.removed.load(Ordering::SeqCst)
    }

    /// Marks the queue deleted and frees its events at once (a waiting poll, or a publisher,
    /// may still hold the queue itself for a moment).
    fn mark_removed(&self) {
        self.removed.store(true, Ordering::SeqCst);
        {
            let mut state = self.lock();
            let events = std::mem::take(&mut state.events);
            self.gauge
                .fetch_sub(events.len() * EVENT_SLOT_BYTES, Ordering::Relaxed);
            state.bytes = 0;
        }
        self.wake.notify_waiters();
    }

    /// Resolves when the queue has something new for its waiting poll.
    pub(crate) fn woken(&self) -> tokio::sync::futures::Notified<'_> {
        self.wake.notified()
    }

    /// What the admin API shows of this queue.
    pub(crate) fn summary(&self) -> Value {
        let state = self.lock();
        json!({
            "queue_id": self.id,
            "realm": self.subdomain,
            "user_id": self.user_id,
            "event_types": if self.options.presence { json!(["presence"]) } else { json!([]) },
            "slim_presence": self.options.slim_presence,
            "simplified_presence_events": self.options.simplified_presence,
            "pending_events": state.events.len(),
            "pending_bytes": state.bytes,
            "next_event_id": state.next_id,
            "waiting": state.waiting,
            "last_used": state.last_used.unix_seconds_f64(),
        })
    }

    /// Seconds this queue may stay unused as the client asked (`idle_queue_timeout`), or the
    /// server's default.
    pub(crate) fn idle_timeout(&self, default_seconds: i64) -> i64 {
        self.options.idle_timeout_seconds.unwrap_or(default_seconds)
    }

    fn is_idle_past(&self, now: Timestamp, default_seconds: i64) -> bool {
        // Zulip keeps `min(lifespan_secs, MAX_QUEUE_TIMEOUT_SECS)` (`ClientDescriptor`).
        let seconds = self
            .options
            .idle_timeout_seconds
            .map_or(default_seconds, |seconds| {
                seconds.min(MAX_QUEUE_TIMEOUT_SECONDS)
            });
        let state = self.lock();
        !state.waiting && now > state.last_used.plus_seconds(seconds)
    }

    /// When it was last used, if nobody waits on it.
    fn idle_since(&self) -> Option<Timestamp> {
        let state = self.lock();
        (!state.waiting).then_some(state.last_used)
    }
}

impl Drop for EventQueue {
    fn drop(&mut self) {
        let places = self.lock().events.len();
        self.gauge
            .fetch_sub(places * EVENT_SLOT_BYTES, Ordering::Relaxed);
    }
}

/// Ends a waiting poll when dropped (see `EventQueue::waiting_guard`).
#[derive(Debug)]
pub(crate) struct WaitGuard<'a> {
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
pub(crate) struct EventQueues {
    queues: DashMap<String, Arc<EventQueue>>,
    counter: AtomicU64,
    settings: RwLock<EventSettings>,
    /// The bytes every queue's events take: each event body once, however many queues hold
    /// it, and `EVENT_SLOT_BYTES` for each place in a queue.
    gauge: Arc<AtomicUsize>,
    closing: AtomicBool,
    closed: Notify,
}

/// Registering would exceed `EventSettings::max_queues` or `max_queues_per_user`, and every
/// queue in the way has a poll waiting.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TooManyQueues;

impl EventQueues {
    /// No queues yet, with these settings.
    pub(crate) fn with_settings(settings: EventSettings) -> Self {
        let queues = Self::default();
        queues.set_settings(settings);
        queues
    }

    /// The settings in force.
    pub(crate) fn settings(&self) -> EventSettings {
        *self
            .settings
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Changes the settings for every queue from now on.
    pub(crate) fn set_settings(&self, settings: EventSettings) {
        *self
            .settings
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = settings;
    }

    /// A new queue for `user_id` of the realm on `subdomain`, with an id like Zulip's
    /// (`<seconds>:<n>`). Idle queues past their timeout are reclaimed first; then, where the
    /// user or the server holds as many queues as allowed, the least recently used queue
    /// nobody waits on goes (its client gets `BAD_EVENT_QUEUE_ID`, as after an expiry).
    pub(crate) fn register(
        &self,
        subdomain: &str,
        user_id: UserId,
        options: QueueOptions,
        now: Timestamp,
    ) -> Result<Arc<EventQueue>, TooManyQueues> {
        self.reclaim_idle(now);
        let settings = self.settings();
        let own = |queue: &EventQueue| queue.subdomain == subdomain && queue.user_id == user_id;
        let held = self.queues.iter().filter(|queue| own(queue)).count();
        if held >= settings.max_queues_per_user {
            self.remove_least_recently_used(own)?;
        }
        if self.queues.len() >= settings.max_queues {
            self.remove_least_recently_used(|_| true)?;
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
                bytes: 0,
                next_id: 0,
                newest_pruned_id: -1,
                last_used: now,
                poll: 0,
                waiting: false,
            }),
            wake: Notify::new(),
            removed: AtomicBool::new(false),
            gauge: Arc::clone(&self.gauge),
        });
        self.queues.insert(id, Arc::clone(&queue));
        Ok(queue)
    }

    /// Deletes the least recently used queue nobody waits on among those `matching`.
    fn remove_least_recently_used(
        &self,
        matching: impl Fn(&EventQueue) -> bool,
    ) -> Result<(), TooManyQueues> {
        let oldest = self.idle_oldest_first(matching);
        self.remove(oldest.first().ok_or(TooManyQueues)?);
        Ok(())
    }

    /// The ids of the queues nobody waits on among those `matching`, least recently used first.
    fn idle_oldest_first(&self, matching: impl Fn(&EventQueue) -> bool) -> Vec<String> {
        let mut idle: Vec<(Timestamp, String)> = self
            .queues
            .iter()
            .filter(|queue| matching(queue))
            .filter_map(|queue| Some((queue.idle_since()?, queue.id.clone())))
            .collect();
        idle.sort_unstable();
        idle.into_iter().map(|(_, id)| id).collect()
    }

    /// An event to deliver to one or more queues.
    pub(crate) fn event(&self, body: Map<String, Value>) -> Arc<Event> {
        let mut count = ByteCount(0);
        // Writing JSON to a counter cannot fail.
        let _ = serde_json::to_writer(&mut count, &body);
        self.gauge.fetch_add(count.0, Ordering::Relaxed);
        Arc::new(Event {
            body,
            bytes: count.0,
            gauge: Arc::clone(&self.gauge),
        })
    }

    /// Queues `event` on `queue` and returns its id there. When every queue's events together
    /// then take more than `max_total_bytes`, the least recently used queues nobody waits on
    /// go until they take at most nine tenths of it.
    pub(crate) fn deliver(&self, queue: &EventQueue, event: &Arc<Event>) -> i64 {
        let settings = self.settings();
        let id = queue.push(Arc::clone(event), &settings);
        if self.bytes_in_use() > settings.max_total_bytes {
            let target = settings.max_total_bytes / 10 * 9;
            for id in self.idle_oldest_first(|_| true) {
                if self.bytes_in_use() <= target {
                    break;
                }
                self.remove(&id);
            }
        }
        id
    }

    /// The bytes every queue's events take now (see `EventQueues::gauge`).
    pub(crate) fn bytes_in_use(&self) -> usize {
        self.gauge.load(Ordering::Relaxed)
    }

    /// The queue `id` if it exists and has not expired at `now`.
    pub(crate) fn get(&self, id: &str, now: Timestamp) -> Option<Arc<EventQueue>> {
        let queue = Arc::clone(&*self.queues.get(id)?);
        if queue.is_idle_past(now, self.settings().idle_timeout_seconds) {
            self.remove(id);
            return None;
        }
        Some(queue)
    }

    /// Deletes queue `id`; whether it existed.
    pub(crate) fn remove(&self, id: &str) -> bool {
        match self.queues.remove(id) {
            Some((_, queue)) => {
                queue.mark_removed();
                true
            }
            None => false,
        }
    }

    /// Every queue, oldest first.
    pub(crate) fn all(&self) -> Vec<Arc<EventQueue>> {
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
    pub(crate) fn of_realm(&self, subdomain: &str) -> Vec<Arc<EventQueue>> {
        self.queues
            .iter()
            .filter(|queue| queue.subdomain == subdomain)
            .map(|queue| Arc::clone(&queue))
            .collect()
    }

    /// How many queues exist.
    pub(crate) fn len(&self) -> usize {
        self.queues.len()
    }

    /// Removes every queue nobody waits on that has been idle past the timeout.
    pub(crate) fn reclaim_idle(&self, now: Timestamp) {
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
    pub(crate) fn clear(&self) {
        for queue in self.queues.iter() {
            queue.mark_removed();
        }
        self.queues.clear();
    }

    /// The server is stopping: every waiting poll answers now.
    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.closed.notify_waiters();
    }

    /// Whether the server is stopping.
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Resolves when the server starts stopping.
    pub(crate) fn closed(&self) -> tokio::sync::futures::Notified<'_> {
        self.closed.notified()
    }
}

/// A random delay between `min` and `max` (no random-number crate needed for a jitter).
pub(crate) fn jitter(min: Duration, max: Duration) -> Duration {
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
pub(crate) fn comes_online(row: Option<&PresenceRow>, active: bool, now: Timestamp) -> bool {
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
pub(crate) fn publish_presence(
    queues: &EventQueues,
    realm_state: &RealmState,
    reporter: &User,
    policy: AccessPolicy,
    now: Timestamp,
) {
    if realm_state.settings().presence_disabled || !reporter.presence_enabled {
        return;
    }
    let Some(row) = realm_state.presence_row(reporter.user_id) else {
        return;
    };
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
    let events = queues;
    // One event of each form, shared by the queues that get it.
    let simplified = OnceCell::new();
    let slim = OnceCell::new();
    let full = OnceCell::new();
    let legacy_event = |email: bool| {
        let mut event = json!({"type": "presence", "user_id": reporter.user_id});
        if email {
            event["email"] = Value::from(&*reporter.email);
        }
        event["server_timestamp"] = Value::from(now.unix_seconds_f64());
        event["presence"] = json!({ WEBSITE: {
            "client": WEBSITE,
            "status": legacy.status.as_str(),
            "timestamp": legacy.timestamp,
            "pushable": false,
        }});
        events.event(into_map(event))
    };
    // A queue past its idle timeout goes now rather than receive the event.
    events.reclaim_idle(now);
    for queue in events.of_realm(realm_state.settings().subdomain.as_str()) {
        if !queue.options.presence || !recipients.contains(&queue.user_id) {
            continue;
        }
        let event = if queue.options.simplified_presence {
            simplified.get_or_init(|| {
                events.event(into_map(json!({
                    "type": "presence",
                    "presences": { reporter.user_id.to_string(): modern },
                })))
            })
        } else if queue.options.slim_presence {
            slim.get_or_init(|| legacy_event(false))
        } else {
            full.get_or_init(|| legacy_event(true))
        };
        events.deliver(&queue, event);
    }
}

/// The object in `value` (events are built with `json!` objects).
fn into_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Sends the `realm_user` events Zulip sends when `after` is added (`before` is `None`) or
/// changed from `before`, to the realm's queues registered for "realm_user": `add` with the
/// whole user object (zerver/actions/create_user.py `notify_created_user`), or one `update`
/// per changed field, with Zulip's keys: full name, role, time zone, and (de)activation, which
/// is `update` with `is_active` from feature level 222 and `remove`/`add` before
/// (zerver/actions/users.py). A limited guest who cannot access the user gets "Unknown user"
/// for an `add`, or nothing when their client declared `user_list_incomplete`.
pub(crate) fn publish_realm_user(
    queues: &EventQueues,
    server: &ServerSettings,
    realm_state: &RealmState,
    change: (Option<&User>, &User),
    now: Timestamp,
) {
    let (before, after) = change;
    let compat = server.compat;
    let host = server.realm_host(&realm_state.settings().subdomain);
    let domain = fake_email_domain(&host, &server.fake_email_domain).to_owned();
    let events = queues;
    // Equal events are shared by the queues that get them.
    let mut made: Vec<(Value, Arc<Event>)> = Vec::new();
    let format = Format {
        compat,
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
    events.reclaim_idle(now);
    for queue in events.of_realm(realm_state.settings().subdomain.as_str()) {
        if !queue.options.realm_user {
            continue;
        }
        let Some(viewer) = realm_state.user(queue.user_id) else {
            continue;
        };
        let accessible = !compat.user_access_limit
            || crate::domain::user_directory::accessible_users(realm_state, viewer)
                .is_none_or(|ids| ids.contains(&after.user_id));
        let bodies: Vec<Value> = match before {
            None if accessible => {
                vec![json!({"type": "realm_user", "op": "add", "person": person_add(viewer)})]
            }
            None if queue.options.user_list_incomplete => Vec::new(),
            None => vec![json!({"type": "realm_user", "op": "add",
                "person": inaccessible_user_object(after.user_id, &domain, compat)})],
            Some(_) if !accessible => Vec::new(),
            Some(before) => updates(before, after, compat, &person_add(viewer)),
        };
        for body in bodies {
            let event = match made.iter().find(|(made, _)| *made == body) {
                Some((_, event)) => Arc::clone(event),
                None => {
                    let event = events.event(into_map(body.clone()));
                    made.push((body, Arc::clone(&event)));
                    event
                }
            };
            events.deliver(&queue, &event);
        }
    }
}

/// The `update` (or, before feature level 222, `remove`/`add`) events for a changed user.
fn updates(before: &User, after: &User, compat: Compat, person: &Map<String, Value>) -> Vec<Value> {
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
        events.push(match (compat.activation_is_update, after.is_active) {
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

    fn heartbeat(queues: &EventQueues) -> Arc<Event> {
        let mut body = Map::new();
        body.insert("type".to_owned(), Value::from("heartbeat"));
        queues.event(body)
    }

    fn with(settings: EventSettings) -> EventQueues {
        EventQueues::with_settings(settings)
    }

    /// A queue for `user` registered at `seconds`, with default options.
    fn register(queues: &EventQueues, user: UserId, seconds: i64) -> Arc<EventQueue> {
        queues
            .register("", user, QueueOptions::default(), at(seconds))
            .unwrap()
    }

    fn ids(queue: &EventQueue) -> Vec<i64> {
        queue.pending().iter().map(|event| event.id).collect()
    }

    #[test]
    fn events_get_consecutive_ids_and_go_when_acknowledged() {
        let queues = EventQueues::default();
        let queue = register(&queues, 1, 0);
        assert_eq!(queues.deliver(&queue, &heartbeat(&queues)), 0);
        assert_eq!(queues.deliver(&queue, &heartbeat(&queues)), 1);
        assert_eq!(queue.acknowledge(-1, at(1)), Ok(()));
        assert_eq!(ids(&queue), [0, 1]);
        assert_eq!(queue.acknowledge(0, at(1)), Ok(()));
        assert_eq!(ids(&queue), [1]);
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
    fn an_event_is_written_with_its_queue_s_id_last() {
        let queues = EventQueues::default();
        let first = register(&queues, 1, 0);
        let second = register(&queues, 2, 0);
        queues.deliver(&first, &heartbeat(&queues));
        let shared = heartbeat(&queues);
        queues.deliver(&first, &shared);
        queues.deliver(&second, &shared);

        let written = |queue: &EventQueue| serde_json::to_string(&queue.pending()).unwrap();
        assert_eq!(
            written(&first),
            r#"[{"type":"heartbeat","id":0},{"type":"heartbeat","id":1}]"#
        );
        assert_eq!(written(&second), r#"[{"type":"heartbeat","id":0}]"#);
    }

    #[test]
    fn a_full_queue_prunes_its_oldest_events() {
        let queues = with(EventSettings {
            max_events: 2,
            ..EventSettings::default()
        });
        let queue = register(&queues, 1, 0);
        for _ in 0..3 {
            queues.deliver(&queue, &heartbeat(&queues));
        }
        assert_eq!(ids(&queue), [1, 2]);
        assert_eq!(
            queue.acknowledge(-1, at(0)),
            Err(AckError::AlreadyPruned { newest_pruned: 0 })
        );
    }

    #[test]
    fn a_queue_past_its_bytes_prunes_its_oldest_events_but_keeps_the_newest() {
        // `{"type":"heartbeat"}` is 20 bytes.
        let queues = with(EventSettings {
            max_queue_bytes: 45,
            ..EventSettings::default()
        });
        let queue = register(&queues, 1, 0);
        for _ in 0..3 {
            queues.deliver(&queue, &heartbeat(&queues));
        }
        assert_eq!(ids(&queue), [1, 2]);

        let tiny = with(EventSettings {
            max_queue_bytes: 1,
            ..EventSettings::default()
        });
        let queue = register(&tiny, 1, 0);
        tiny.deliver(&queue, &heartbeat(&tiny));
        tiny.deliver(&queue, &heartbeat(&tiny));
        assert_eq!(ids(&queue), [1]);
    }

    #[test]
    fn an_event_shared_by_many_queues_counts_once_and_each_place_counts_a_slot() {
        let queues = EventQueues::default();
        let all: Vec<_> = (0..10).map(|user| register(&queues, user, 0)).collect();
        let event = heartbeat(&queues);
        for queue in &all {
            queues.deliver(queue, &event);
        }
        drop(event);
        assert_eq!(queues.bytes_in_use(), 20 + 10 * EVENT_SLOT_BYTES);

        for queue in &all[..9] {
            queue.acknowledge(0, at(1)).unwrap();
        }
        assert_eq!(queues.bytes_in_use(), 20 + EVENT_SLOT_BYTES);
        queues.clear();
        assert_eq!(queues.bytes_in_use(), 0);
    }

    #[test]
    fn an_event_for_a_queue_deleted_meanwhile_takes_nothing() {
        let queues = EventQueues::default();
        let queue = register(&queues, 1, 0);
        queues.deliver(&queue, &heartbeat(&queues));
        queues.remove(&queue.id);
        assert_eq!(queues.bytes_in_use(), 0);

        queues.deliver(&queue, &heartbeat(&queues));
        assert!(queue.pending().is_empty());
        assert_eq!(queues.bytes_in_use(), 0);
    }

    #[test]
    fn past_the_total_bytes_the_least_recently_used_idle_queues_go() {
        let queues = with(EventSettings {
            max_total_bytes: 20 + 3 * EVENT_SLOT_BYTES,
            ..EventSettings::default()
        });
        let all: Vec<_> = (0..4)
            .map(|user| register(&queues, user, user as i64))
            .collect();
        let ticket = all[0].start_waiting();
        let event = heartbeat(&queues);
        for queue in &all {
            queues.deliver(queue, &event);
        }

        // The oldest idle queues (users 1 and 2) went; the one waited on stayed.
        let left: Vec<UserId> = queues.all().iter().map(|queue| queue.user_id).collect();
        assert_eq!(left, [0, 3]);
        assert!(all[1].is_removed() && all[2].is_removed());
        assert_eq!(queues.bytes_in_use(), 20 + 2 * EVENT_SLOT_BYTES);
        all[0].stop_waiting(ticket, at(5));
    }

    #[test]
    fn past_a_user_s_queue_cap_their_least_recently_used_idle_queue_goes() {
        let queues = with(EventSettings {
            max_queues_per_user: 2,
            ..EventSettings::default()
        });
        let first = register(&queues, 1, 0);
        let second = register(&queues, 1, 1);
        let other = register(&queues, 2, 2);
        first.acknowledge(-1, at(3)).unwrap();

        register(&queues, 1, 4);
        assert!(second.is_removed());
        assert!(!first.is_removed() && !other.is_removed());

        // When every queue in the way is waited on, registering is refused.
        let all = queues.all();
        for queue in &all {
            queue.start_waiting();
        }
        assert_eq!(all.len(), 3);
        assert_eq!(
            queues
                .register("", 1, QueueOptions::default(), at(5))
                .unwrap_err(),
            TooManyQueues
        );
    }

    #[test]
    fn an_idle_queue_expires_on_the_server_clock() {
        let queues = EventQueues::default();
        let queue = register(&queues, 1, 0);
        assert!(queues.get(&queue.id, at(600)).is_some());
        assert!(queues.get(&queue.id, at(1_201)).is_none());
    }

    #[test]
    fn a_queue_s_own_idle_timeout_stops_at_zulip_s_week() {
        let queues = EventQueues::default();
        let options = QueueOptions {
            idle_timeout_seconds: Some(i64::MAX),
            ..QueueOptions::default()
        };
        let queue = queues.register("", 1, options, at(0)).unwrap();
        assert_eq!(queue.idle_timeout(600), i64::MAX);
        assert!(queues
            .get(&queue.id, at(MAX_QUEUE_TIMEOUT_SECONDS))
            .is_some());
        assert!(queues
            .get(&queue.id, at(MAX_QUEUE_TIMEOUT_SECONDS + 1))
            .is_none());
    }

    #[test]
    fn jitter_stays_between_its_bounds() {
        for _ in 0..100 {
            let delay = jitter(Duration::from_secs(45), Duration::from_secs(55));
            assert!((Duration::from_secs(45)..=Duration::from_secs(55)).contains(&delay));
        }
    }

    #[test]
    fn a_presence_change_reaches_each_registered_user_in_their_form_one_copy_per_form() {
        let realm = crate::fixtures::RealmFixture::parse(
            "test",
            &json!({"subdomain": "", "name": "R",
                "users": [
                    {"user_id": 1, "email": "a@example.com", "full_name": "A",
                     "api_key": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
                    {"user_id": 2, "email": "b@example.com", "full_name": "B",
                     "api_key": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}],
                "presence": [{"user_id": 2, "last_connected_time": "now", "last_active_time": "now"}]})
            .to_string(),
        )
        .unwrap()
        .build(at(1_000));
        let queues = EventQueues::default();
        let options = |slim_presence, simplified_presence| QueueOptions {
            presence: true,
            slim_presence,
            simplified_presence,
            ..QueueOptions::default()
        };
        let full = queues
            .register("", 1, options(false, false), at(1_000))
            .unwrap();
        let slim = queues
            .register("", 1, options(true, false), at(1_000))
            .unwrap();
        let modern = queues
            .register("", 1, options(false, true), at(1_000))
            .unwrap();
        let twin = queues
            .register("", 2, options(true, false), at(1_000))
            .unwrap();
        let no_presence = register(&queues, 1, 1_000);
        let policy = AccessPolicy {
            limits_presence: false,
            compat: crate::domain::feature_levels::Compat::of(
                crate::domain::feature_levels::LATEST,
            ),
        };

        realm.read(|state| {
            let reporter = state.user(2).unwrap();
            publish_presence(&queues, state, reporter, policy, at(1_000));
        });

        let written = |queue: &EventQueue| serde_json::to_value(queue.pending()).unwrap();
        let website = json!({"website": {"client": "website", "status": "active",
                                         "timestamp": 1_000, "pushable": false}});
        assert_eq!(
            written(&full),
            json!([{"type": "presence", "user_id": 2, "email": "b@example.com",
                    "server_timestamp": 1_000.0, "presence": website, "id": 0}])
        );
        assert_eq!(
            written(&slim),
            json!([{"type": "presence", "user_id": 2, "server_timestamp": 1_000.0,
                    "presence": website, "id": 0}])
        );
        assert_eq!(
            written(&modern),
            json!([{"type": "presence",
                    "presences": {"2": {"active_timestamp": 1_000, "idle_timestamp": 1_000}},
                    "id": 0}])
        );
        assert_eq!(written(&twin), written(&slim));
        assert_eq!(written(&no_presence), json!([]));
        // Three bodies, one for each form, and four places.
        let bodies: usize = [&full, &slim, &modern]
            .iter()
            .map(|queue| {
                serde_json::to_string(&queue.pending()[0].event.body)
                    .unwrap()
                    .len()
            })
            .sum();
        assert_eq!(queues.bytes_in_use(), bodies + 4 * EVENT_SLOT_BYTES);
    }
}
