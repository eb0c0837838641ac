//! `AppState`: what every request shares. Cloning is cheap: every field is a handle.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::domain::clock::{Clock, ClockMode};
use crate::domain::event_queues::{EventQueues, EventSettings};
use crate::domain::feature_levels::FeatureLevel;
use crate::domain::presence_rules::AccessPolicy;
use crate::domain::rate_limits::{RateLimiter, RateRule};
use crate::domain::store::Store;
use crate::fixtures::{Fixture, KeptFixture};
use crate::test_control::faults::Faults;
use crate::test_control::request_journal::{self, Journal};
use crate::test_control::stubs::Stubs;

/// Whether `GET /realm/presence` lists unsupported parameters (see
/// docs/differences-from-zulip.md): the published documentation says it does; Zulip's source
/// does not wrap that view.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum RealmPresenceIgnoredParameters {
    /// As documented: listed in `ignored_parameters_unsupported` (feature level 167 and up).
    #[default]
    Listed,
    /// As Zulip's source behaves: never listed on this endpoint.
    Omitted,
}

/// Who may use the admin API (`/__admin`). Health and readiness are always open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AdminAccess {
    /// Anyone who can reach the server.
    #[default]
    Open,
    /// Requests carrying `Authorization: Bearer <token>`.
    Token(String),
    /// Nobody: the admin routes do not exist.
    Disabled,
}

/// How much the server lets a client take (docs/operations-and-limits.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; past it, new ones wait in the kernel's backlog.
    pub max_connections: usize,
    /// A client must send a whole request head within this (slow clients cannot pin the server).
    pub header_read_timeout: Duration,
    /// A request must be answered within this, or it gets a 504.
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(90),
        }
    }
}

/// Options that shape the server without being part of the fixture.
#[derive(Clone, Debug)]
pub struct Options {
    pub realm_presence_ignored_parameters: RealmPresenceIgnoredParameters,
    pub admin: AdminAccess,
    /// How many requests the journal keeps (0: none).
    pub journal_capacity: usize,
    /// The rate limit in force at start and after a reset.
    pub rate_limit: Option<RateRule>,
    /// `--feature-level`: the level every loaded fixture file is made to have.
    pub feature_level: Option<FeatureLevel>,
    pub limits: Limits,
    /// Event queue timings and bounds at start and after a reset.
    pub events: EventSettings,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            realm_presence_ignored_parameters: RealmPresenceIgnoredParameters::default(),
            admin: AdminAccess::default(),
            journal_capacity: request_journal::DEFAULT_CAPACITY,
            rate_limit: None,
            feature_level: None,
            limits: Limits::default(),
            events: EventSettings::default(),
        }
    }
}

/// What the admin API controls beyond the store and the clock.
#[derive(Debug)]
pub(crate) struct Control {
    /// The fixture the store was loaded from, which a reset restores (`--watch` replaces it).
    base: RwLock<KeptFixture>,
    /// How the clock ran at start, which a reset restores.
    clock_start: ClockMode,
    pub journal: Journal,
    pub faults: Faults,
    pub rate_limiter: RateLimiter,
    /// Event queues for real-time presence (`/register`, `/events`).
    pub events: EventQueues,
    /// Answers for Zulip endpoints the mock does not serve.
    pub stubs: Stubs,
}

/// Shared by every request.
#[derive(Clone, Debug)]
pub struct AppState {
    pub(crate) store: Store,
    pub(crate) clock: Clock,
    pub(crate) control: Arc<Control>,
    pub(crate) options: Arc<Options>,
}

impl AppState {
    /// Changes the event queues' timings and bounds (as `PATCH /__admin/events/settings`).
    pub fn set_event_settings(&self, settings: EventSettings) {
        self.control.events.set_settings(settings);
    }

    /// How many event queues exist.
    pub fn event_queue_count(&self) -> usize {
        self.control.events.len()
    }

    /// A state seeded from `fixture` (at `options.feature_level` when set), with relative
    /// times resolved against `clock`.
    pub fn new(mut fixture: Fixture, clock: Clock, options: Options) -> Self {
        if let Some(level) = options.feature_level {
            fixture.set_feature_level(level);
        }
        let (server, realms) = fixture.build(clock.now());
        let stubs = Stubs::default();
        stubs.replace(fixture.stubs());
        Self {
            store: Store::new(server, realms),
            control: Arc::new(Control {
                base: RwLock::new(KeptFixture::keep(fixture)),
                clock_start: clock.mode(),
                journal: Journal::new(options.journal_capacity),
                faults: Faults::default(),
                rate_limiter: RateLimiter::new(options.rate_limit),
                events: EventQueues::with_settings(options.events),
                stubs,
            }),
            clock,
            options: Arc::new(options),
        }
    }

    /// Restores everything to the loaded fixture: the state (created realms go), the clock's
    /// start, no faults, an empty journal (ids of both start at 1 again), the configured rate
    /// limit with no history, no event queues, the fixture's stubs.
    pub fn reset(&self) {
        self.clock.set_mode(self.control.clock_start);
        let base = self.base_fixture();
        let (server, realms) = base.build(self.clock.now());
        self.store.replace(server, realms);
        self.control.stubs.replace(base.stubs());
        self.control.faults.reset();
        self.control.journal.reset();
        self.control.rate_limiter.set_rule(self.options.rate_limit);
        self.control.events.clear();
        self.control.events.set_settings(self.options.events);
    }

    /// Replaces the whole state with `fixture` (its stubs too), its relative times resolved now. With
    /// `as_base`, it is a reloaded fixture file: it is made to have `--feature-level` when set,
    /// and a later reset restores it; else a reset restores the loaded one.
    pub fn load(&self, mut fixture: Fixture, as_base: bool) {
        if let (true, Some(level)) = (as_base, self.options.feature_level) {
            fixture.set_feature_level(level);
        }
        let (server, realms) = fixture.build(self.clock.now());
        self.store.replace(server, realms);
        self.control.stubs.replace(fixture.stubs());
        if as_base {
            *self
                .control
                .base
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = KeptFixture::keep(fixture);
        }
    }

    /// The presence access policy the server's settings give.
    pub fn access_policy(&self) -> AccessPolicy {
        self.store.with_server(AccessPolicy::of)
    }

    /// The admin token, when one is set: no log line or journal entry may show it.
    pub fn admin_token(&self) -> Option<&str> {
        match &self.options.admin {
            AdminAccess::Token(token) => Some(token),
            _ => None,
        }
    }

    /// The fixture a reset restores.
    fn base_fixture(&self) -> Arc<Fixture> {
        self.control
            .base
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .fixture()
    }
}
