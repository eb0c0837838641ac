//! `AppState`: what every request shares. Cloning is cheap: every field is a handle.

use std::sync::Arc;

use crate::clock::Clock;
use crate::fixtures::Fixture;
use crate::store::Store;

/// Whether `GET /realm/presence` lists unsupported parameters (see README, "Differences from
/// Zulip"): the published documentation says it does; Zulip's source does not wrap that view.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum RealmPresenceIgnoredParameters {
    /// As documented: listed in `ignored_parameters_unsupported` (feature level 167 and up).
    #[default]
    Listed,
    /// As Zulip's source behaves: never listed on this endpoint.
    Omitted,
}

/// Options that shape responses without being part of the fixture.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    pub realm_presence_ignored_parameters: RealmPresenceIgnoredParameters,
}

/// Shared by every request.
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
    pub clock: Clock,
    /// The fixture the store was seeded from.
    pub fixture: Arc<Fixture>,
    pub options: Options,
}

impl AppState {
    /// A state seeded from `fixture`, with relative times resolved against `clock`.
    pub fn new(fixture: Fixture, clock: Clock, options: Options) -> Self {
        let (server, realms) = fixture.build(clock.now());
        Self {
            store: Store::new(server, realms),
            clock,
            fixture: Arc::new(fixture),
            options,
        }
    }
}
