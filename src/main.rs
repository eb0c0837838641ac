//! The `zulip-presence-mock` binary: configuration, logging, fixture, listener, serve.

use std::process::ExitCode;

use clap::Parser;
use tokio::net::TcpListener;
use zulip_presence_mock::clock::Clock;
use zulip_presence_mock::config::Config;
use zulip_presence_mock::fixtures::Fixture;
use zulip_presence_mock::{run, telemetry, AppState};

/// Exit status when the fixture is missing, unreadable, malformed or inconsistent.
const EXIT_BAD_FIXTURE: u8 = 2;
/// Exit status when the address cannot be bound or serving fails.
const EXIT_SERVE_FAILED: u8 = 3;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    telemetry::init_tracing(config.log_format);

    let fixture = match &config.fixtures {
        Some(path) => Fixture::load(path),
        None => Ok(Fixture::default_fixture()),
    };
    let fixture = match fixture {
        Ok(fixture) => fixture,
        Err(err) => {
            eprintln!("zulip-presence-mock: bad fixture: {err}");
            return ExitCode::from(EXIT_BAD_FIXTURE);
        }
    };
    let state = AppState::new(fixture, Clock::system(), config.options());

    let listener = match TcpListener::bind(config.bind).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!(
                "zulip-presence-mock: cannot listen on {}: {err}",
                config.bind
            );
            return ExitCode::from(EXIT_SERVE_FAILED);
        }
    };
    match listener.local_addr() {
        Ok(addr) => tracing::info!(%addr, "listening"),
        Err(_) => tracing::info!(addr = %config.bind, "listening"),
    }
    if let Err(err) = run(listener, state, shutdown_signal()).await {
        eprintln!("zulip-presence-mock: server error: {err}");
        return ExitCode::from(EXIT_SERVE_FAILED);
    }
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

/// Completes on Ctrl-C (SIGINT) or, on unix, SIGTERM (what `docker stop` sends).
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
