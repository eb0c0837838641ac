//! Command-line configuration. Every flag has a `ZULIP_MOCK_*` environment twin.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::app_state::{AdminAccess, Limits, Options, RealmPresenceIgnoredParameters};
use crate::domain::clock::ClockStart;
use crate::domain::event_queues::EventSettings;
use crate::domain::feature_levels::FeatureLevel;
use crate::domain::rate_limits::RateRule;
use crate::test_control::request_journal;

/// A mock Zulip server for the presence API.
#[derive(Debug, Parser)]
#[command(
    name = "zulip-presence-mock",
    version,
    about,
    after_help = "Logging: RUST_LOG sets the filter (default: zulip_presence_mock=info).\n\
                  API keys and Authorization headers are never logged."
)]
pub struct Config {
    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address and port to listen on (9991 is the port of Zulip's own development server).
    #[arg(
        long,
        env = "ZULIP_MOCK_BIND",
        default_value = "127.0.0.1:9991",
        global = true
    )]
    pub bind: SocketAddr,

    /// Fixture file (JSON) describing the server, its realms, users and presence. Default: the
    /// built-in default fixture (fixtures/default.json, compiled into the binary).
    #[arg(long, env = "ZULIP_MOCK_FIXTURES", value_name = "PATH")]
    pub fixtures: Option<PathBuf>,

    /// The server's clock: `system`, `frozen:<time>` (stopped at UNIX seconds, RFC 3339 or a
    /// time relative to now such as `-1d`), or `offset:<relative time>` (real time moved, such as
    /// `offset:-1h`). Relative fixture times resolve against it; a frozen clock gives
    /// byte-identical responses run after run.
    #[arg(
        long,
        env = "ZULIP_MOCK_CLOCK",
        default_value = "system",
        value_name = "CLOCK"
    )]
    pub clock: ClockStart,

    /// Log format on standard output.
    #[arg(long, env = "ZULIP_MOCK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Whether GET /realm/presence lists unsupported parameters in
    /// `ignored_parameters_unsupported` as Zulip documents (listed), or leaves the field out as
    /// Zulip's source does for this view (omitted). See docs/differences-from-zulip.md.
    #[arg(
        long,
        env = "ZULIP_MOCK_REALM_PRESENCE_IGNORED_PARAMETERS",
        value_enum,
        default_value_t = RealmPresenceIgnoredParameters::Listed
    )]
    pub realm_presence_ignored_parameters: RealmPresenceIgnoredParameters,

    /// The Zulip API feature level to be (overriding the fixture's), with that level's
    /// zulip_version and zulip_merge_base: e.g. 185 is Zulip 7.0. Every versioned behaviour
    /// follows it (docs/feature-levels.md).
    #[arg(long, env = "ZULIP_MOCK_FEATURE_LEVEL", value_name = "LEVEL", value_parser = parse_feature_level)]
    pub feature_level: Option<FeatureLevel>,

    /// Connections served at once; past it, new ones wait in the kernel's backlog.
    #[arg(long, env = "ZULIP_MOCK_MAX_CONNECTIONS", default_value_t = 1024, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Seconds a client has to send a whole request head, also while a kept-alive connection
    /// waits for its next request; slower or idle connections are closed (as nginx closes idle
    /// ones after its keepalive_timeout).
    #[arg(long, env = "ZULIP_MOCK_HEADER_READ_TIMEOUT", default_value_t = 30.0, value_name = "SECONDS",
          value_parser = parse_seconds)]
    pub header_read_timeout: f64,

    /// Seconds within which every request is answered, or it gets a 504.
    #[arg(long, env = "ZULIP_MOCK_REQUEST_TIMEOUT", default_value_t = 90.0, value_name = "SECONDS",
          value_parser = parse_seconds)]
    pub request_timeout: f64,

    /// Seconds a waiting GET /events answers empty after (Zulip: 90).
    #[arg(long, env = "ZULIP_MOCK_EVENT_LONGPOLL_TIMEOUT", default_value_t = 90.0, value_name = "SECONDS",
          value_parser = parse_seconds)]
    pub event_longpoll_timeout: f64,

    /// Seconds after which a waiting GET /events gets a heartbeat, give or take a tenth (Zulip:
    /// 45 to 55).
    #[arg(long, env = "ZULIP_MOCK_EVENT_HEARTBEAT", default_value_t = 50.0, value_name = "SECONDS",
          value_parser = parse_seconds)]
    pub event_heartbeat: f64,

    /// Seconds (on the server clock) after which an event queue nobody waits on is deleted
    /// (Zulip: 600).
    #[arg(long, env = "ZULIP_MOCK_EVENT_QUEUE_IDLE_TIMEOUT", default_value_t = 600, value_name = "SECONDS",
          value_parser = clap::value_parser!(i64).range(1..))]
    pub event_queue_idle_timeout: i64,

    /// Reload the fixture file (--fixtures) whenever it changes: a valid edit replaces the whole
    /// state at once (and is what /__admin/reset restores), an invalid one is logged and the
    /// old state kept.
    #[arg(long, env = "ZULIP_MOCK_WATCH", requires = "fixtures")]
    pub watch: bool,

    /// Turn the admin API (/__admin) off, except health, readiness and its OpenAPI document.
    #[arg(long, env = "ZULIP_MOCK_NO_ADMIN", conflicts_with = "admin_token")]
    pub no_admin: bool,

    /// Require `Authorization: Bearer <token>` on the admin API (compared in constant time).
    /// Health, readiness and the OpenAPI document stay open.
    #[arg(
        long,
        env = "ZULIP_MOCK_ADMIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,

    /// How many requests the request journal (/__admin/requests) keeps; the oldest go first.
    /// 0 records nothing.
    #[arg(long, env = "ZULIP_MOCK_JOURNAL_SIZE", default_value_t = request_journal::DEFAULT_CAPACITY, value_name = "N")]
    pub journal_size: usize,

    /// Rate limit every user as a rate-limited Zulip server does: `<requests>/<seconds>`, such
    /// as 200/60 (Zulip's default). Off by default, as in Zulip's test settings.
    #[arg(long, env = "ZULIP_MOCK_RATE_LIMIT", value_name = "REQUESTS/SECONDS")]
    pub rate_limit: Option<RateRule>,
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds > 0.0 && seconds <= 86_400.0 => Ok(seconds),
        _ => Err(format!(
            "invalid duration {text:?}: expected seconds above 0, at most 86400"
        )),
    }
}

fn parse_feature_level(text: &str) -> Result<FeatureLevel, String> {
    match text.parse::<FeatureLevel>() {
        Ok(level) if level.0 >= 1 => Ok(level),
        _ => Err(format!(
            "invalid feature level {text:?}: expected a whole number of 1 or more"
        )),
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ask the server listening on --bind on this machine whether it is healthy (GET
    /// /__admin/health); exit 0 if it is, 1 if not. For container health checks.
    Healthcheck,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Config {
    /// The response options this configuration selects.
    pub fn options(&self) -> Options {
        Options {
            realm_presence_ignored_parameters: self.realm_presence_ignored_parameters,
            admin: match (&self.admin_token, self.no_admin) {
                (_, true) => AdminAccess::Disabled,
                (Some(token), false) => AdminAccess::Token(token.clone()),
                (None, false) => AdminAccess::Open,
            },
            journal_capacity: self.journal_size,
            feature_level: self.feature_level,
            limits: Limits {
                max_connections: self.max_connections as usize,
                header_read_timeout: Duration::from_secs_f64(self.header_read_timeout),
                request_timeout: Duration::from_secs_f64(self.request_timeout),
            },
            rate_limit: self.rate_limit,
            events: EventSettings {
                longpoll_timeout: Duration::from_secs_f64(self.event_longpoll_timeout),
                heartbeat_min: Duration::from_secs_f64(self.event_heartbeat * 0.9),
                heartbeat_max: Duration::from_secs_f64(self.event_heartbeat * 1.1),
                idle_timeout_seconds: self.event_queue_idle_timeout,
                ..EventSettings::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Config::command().debug_assert();
    }

    #[test]
    fn defaults_match_zulips_development_server() {
        let config = Config::try_parse_from(["zulip-presence-mock"]).unwrap();
        assert_eq!(config.bind, "127.0.0.1:9991".parse().unwrap());
        assert_eq!(config.fixtures, None);
        assert_eq!(config.log_format, LogFormat::Text);
    }
}
