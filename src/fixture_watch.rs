//! `--watch`: reloads the fixture file when it changes. A valid new fixture replaces the whole
//! state at once and becomes what a reset restores; an invalid one is logged with its JSON path
//! and the old state kept. The file is polled (not watched with inotify), which also works for
//! files bind-mounted into a container and edited from the host.

use std::path::PathBuf;
use std::time::Duration;

use crate::app_state::AppState;
use crate::fixtures::Fixture;

/// How often the file is looked at.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Watches `path` for the life of the server, reloading `state` from it on every change. The
/// file is read once now, so that an edit made after this call (and so after the server says
/// it is listening) is never missed.
pub fn watch_fixture(path: PathBuf, state: AppState) -> impl std::future::Future<Output = ()> {
    let last = std::fs::read(&path).ok();
    poll(path, state, last)
}

async fn poll(path: PathBuf, state: AppState, mut last: Option<Vec<u8>>) {
    let mut interval = tokio::time::interval(POLL_INTERVAL);
    loop {
        interval.tick().await;
        let current = match tokio::fs::read(&path).await {
            Ok(bytes) => Some(bytes),
            Err(err) => {
                if last.is_some() {
                    tracing::warn!(file = %path.display(), error = %err, "cannot read the watched fixture; keeping the current state");
                }
                None
            }
        };
        if current.is_none() || current == last {
            if current.is_none() {
                last = None;
            }
            continue;
        }
        last = current;
        let text = String::from_utf8_lossy(last.as_deref().unwrap_or_default()).into_owned();
        match Fixture::parse_source(&path.display().to_string(), text.into()) {
            Ok(fixture) => {
                state.load(fixture, true);
                tracing::info!(file = %path.display(), "fixture changed: state reloaded");
            }
            Err(err) => {
                tracing::error!(error = %err, "fixture changed but is invalid; keeping the current state");
            }
        }
    }
}
