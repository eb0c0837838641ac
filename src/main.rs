//! The `zulip-presence-mock` binary: configuration, logging, fixture, listener, serve.

use std::process::ExitCode;

use clap::Parser;
use tokio::net::TcpListener;
use zulip_presence_mock::Fixture;
use zulip_presence_mock::{check_health, init_tracing, run, watch_fixture, AppState};
use zulip_presence_mock::{Command, Config};

/// Exit status when the fixture is missing, unreadable, malformed or inconsistent.
const EXIT_BAD_FIXTURE: u8 = 2;
/// Exit status when the address cannot be bound or serving fails.
const EXIT_SERVE_FAILED: u8 = 3;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    if let Some(Command::Healthcheck) = config.command {
        return match check_health(config.bind) {
            Ok(()) => ExitCode::SUCCESS,
            Err(problem) => {
                eprintln!("zulip-presence-mock: unhealthy: {problem}");
                ExitCode::FAILURE
            }
        };
    }
    init_tracing(config.log_format);

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
    let state = AppState::new(fixture, config.clock.start(), config.options());
    if let (true, Some(path)) = (config.watch, &config.fixtures) {
        tokio::spawn(watch_fixture(path.clone(), state.clone()));
    }
    let shutdown = match shutdown_signal() {
        Ok(shutdown) => shutdown,
        Err(err) => {
            eprintln!("zulip-presence-mock: cannot install signal handlers: {err}");
            return ExitCode::from(EXIT_SERVE_FAILED);
        }
    };

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
    if let Err(err) = run(listener, state, shutdown).await {
        eprintln!("zulip-presence-mock: server error: {err}");
        return ExitCode::from(EXIT_SERVE_FAILED);
    }
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

/// Listens for SIGINT (Ctrl-C) and SIGTERM (what `docker stop` sends) from now on, and
/// returns a future that completes when either arrives. The handlers are installed before the
/// server says it is listening, so a signal sent right after start-up is never missed.
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT received, shutting down"),
            _ = terminate.recv() => tracing::info!("SIGTERM received, shutting down"),
        }
    })
}

/// Elsewhere, Ctrl-C only.
#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("Ctrl-C received, shutting down");
        }
    })
}
