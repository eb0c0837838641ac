//! `GET /api/v1/realm/presence` (zerver/views/presence.py `get_statuses_for_realm`).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Extension;
use serde::Serialize;

use crate::auth::AuthedUser;
use crate::feature_level::IGNORED_PARAMETERS_UNSUPPORTED;
use crate::params::RequestParams;
use crate::presence::{realm_presence, AccessPolicy, LegacyPresence};
use crate::response::Success;
use crate::state::{AppState, RealmPresenceIgnoredParameters};

/// The only client Zulip has reported since feature level 178.
const WEBSITE: &str = "website";

/// The body's fields after `result` and `msg`.
#[derive(Debug, Serialize)]
pub(super) struct RealmPresenceResponse {
    presences: BTreeMap<String, UserPresence>,
    server_timestamp: f64,
}

/// One user's presence in the legacy format (`LegacyPresenceFormat` in Zulip's OpenAPI).
#[derive(Debug, Serialize)]
struct UserPresence {
    aggregated: AggregatedPresence,
    website: ClientPresence,
}

#[derive(Debug, Serialize)]
struct AggregatedPresence {
    client: &'static str,
    status: &'static str,
    timestamp: i64,
}

#[derive(Debug, Serialize)]
struct ClientPresence {
    client: &'static str,
    status: &'static str,
    timestamp: i64,
    pushable: bool,
}

impl From<LegacyPresence> for UserPresence {
    fn from(presence: LegacyPresence) -> Self {
        let status = presence.status.as_str();
        Self {
            aggregated: AggregatedPresence {
                client: WEBSITE,
                status,
                timestamp: presence.timestamp,
            },
            website: ClientPresence {
                client: WEBSITE,
                status,
                timestamp: presence.timestamp,
                pushable: false,
            },
        }
    }
}

/// `GET /api/v1/realm/presence`: https://zulip.com/api/get-presence
pub(super) async fn get_realm_presence(
    State(state): State<AppState>,
    Extension(authed): Extension<AuthedUser>,
    params: RequestParams,
) -> Success<RealmPresenceResponse> {
    let server = state.store.server();
    let now = state.clock.now();
    let policy = AccessPolicy {
        limits_presence: server.can_access_all_users_group_limits_presence,
        feature_level: server.feature_level,
    };
    let presences = authed
        .realm
        .read(|realm| realm_presence(realm, &authed.user, policy, now));
    let lists_ignored = server.feature_level.has(IGNORED_PARAMETERS_UNSUPPORTED)
        && state.options.realm_presence_ignored_parameters
            == RealmPresenceIgnoredParameters::Listed;
    let ignored = if lists_ignored {
        params.ignored(&[])
    } else {
        Vec::new()
    };
    Success::new(RealmPresenceResponse {
        presences: presences
            .into_iter()
            .map(|(email, presence)| (email, presence.into()))
            .collect(),
        server_timestamp: now.unix_seconds_f64(),
    })
    .with_ignored_parameters(ignored)
}
