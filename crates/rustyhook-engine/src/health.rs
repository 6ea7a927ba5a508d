//! The store's health as this node sees it: up, down (cannot be reached) or full (cannot be
//! written). A monitor probes the store every second with a short timeout, and callers that
//! see a store error report it at once; the API reads the state to answer at once while the
//! store is known to be down, instead of letting each request wait for the database's own
//! timeouts, and the readiness route reports it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustyhook_store::{Store, StoreError};
use tokio_util::sync::CancellationToken;

use crate::observe;

/// How often the monitor probes.
const EVERY: Duration = Duration::from_secs(1);
/// A probe that takes longer than this counts as the store being down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What the store can do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreState {
    /// Reads and writes work.
    Up,
    /// The database cannot be reached.
    Down,
    /// The database's disk is full: reads work, writes fail.
    Full,
}

impl StoreState {
    /// The state's name in readiness answers and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::Full => "full",
        }
    }

    /// The `kind` label of `rustyhook_store_errors_total` for an error that shows this state.
    fn error_kind(self) -> &'static str {
        match self {
            Self::Up => "other",
            Self::Down => "unavailable",
            Self::Full => "full",
        }
    }

    /// The state an error shows, if it shows one.
    pub fn of_error(e: &StoreError) -> Option<Self> {
        match e {
            StoreError::Unavailable(_) => Some(Self::Down),
            StoreError::Full(_) => Some(Self::Full),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct Seen {
    state: StoreState,
    since: Instant,
    /// The last error's text, for operators (never a URL or a secret: store errors name
    /// neither).
    detail: Option<String>,
}

/// The store's health, shared by the monitor, the API and the engine. Cheap to clone.
#[derive(Debug, Clone)]
pub struct StoreHealth(Arc<Mutex<Seen>>);

impl Default for StoreHealth {
    fn default() -> Self {
        Self::new()
    }
}

impl StoreHealth {
    /// A store taken to be up until a probe or a caller says otherwise.
    pub fn new() -> Self {
        observe::store_state(StoreState::Up.as_str());
        Self(Arc::new(Mutex::new(Seen {
            state: StoreState::Up,
            since: Instant::now(),
            detail: None,
        })))
    }

    /// The current state, how long it has held, and the last error's text.
    pub fn get(&self) -> (StoreState, Duration, Option<String>) {
        let seen = self.lock();
        (seen.state, seen.since.elapsed(), seen.detail.clone())
    }

    /// The current state.
    pub fn state(&self) -> StoreState {
        self.lock().state
    }

    /// A caller saw `e`: when it shows the store down or full, that is the state from now until
    /// the next successful probe. Counts every error in the metrics.
    pub fn report(&self, e: &StoreError) {
        observe::store_error(StoreState::of_error(e).map_or("other", StoreState::error_kind));
        if let Some(state) = StoreState::of_error(e) {
            self.set(state, Some(e.with_causes()));
        }
    }

    /// A caller saw the store in `state` (an answer the API gave): as [`Self::report`], when
    /// only the state is known.
    pub fn saw(&self, state: StoreState) {
        if state != StoreState::Up {
            observe::store_error(state.error_kind());
            let detail = self.lock().detail.clone();
            self.set(state, detail);
        }
    }

    fn set(&self, state: StoreState, detail: Option<String>) {
        let mut seen = self.lock();
        if seen.state != state {
            match state {
                StoreState::Up => {
                    tracing::info!(was = seen.state.as_str(), "the store answers again")
                }
                _ => tracing::error!(
                    state = state.as_str(),
                    detail = detail.as_deref().unwrap_or(""),
                    "the store cannot be used; the API answers 503/507 until it can"
                ),
            }
            seen.state = state;
            seen.since = Instant::now();
            observe::store_state(state.as_str());
        }
        seen.detail = detail;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        // Only plain assignments happen under the lock; a poisoned one still holds a valid value.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Probes `store` every second until `token` is cancelled.
    pub async fn monitor(self, store: Arc<dyn Store>, token: CancellationToken) {
        loop {
            let state = match tokio::time::timeout(PROBE_TIMEOUT, store.probe()).await {
                Ok(Ok(())) => (StoreState::Up, None),
                Ok(Err(e)) => match StoreState::of_error(&e) {
                    Some(state) => {
                        observe::store_error(state.error_kind());
                        (state, Some(e.with_causes()))
                    }
                    // A fault that is not about reaching the database: still usable.
                    None => (StoreState::Up, Some(e.with_causes())),
                },
                Err(_) => {
                    observe::store_error(StoreState::Down.error_kind());
                    (
                        StoreState::Down,
                        Some(format!(
                            "the database did not answer within {} s",
                            PROBE_TIMEOUT.as_secs()
                        )),
                    )
                }
            };
            self.set(state.0, state.1);
            tokio::select! {
                () = token.cancelled() => return,
                () = tokio::time::sleep(EVERY) => {}
            }
        }
    }
}

impl StoreHealth {
    /// Runs `write` until it succeeds or fails for a reason that will not pass: a transient
    /// error (the database down, full, or failing for a moment) is reported and tried again
    /// with a growing pause, for as long as it takes. This is how results that are already
    /// real (an attempt made, a command run) reach the store: they wait in memory, bounded by
    /// the work the caller holds, instead of being dropped.
    pub async fn keep_trying<T, F, Fut>(
        &self,
        what: &'static str,
        mut write: F,
    ) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        let mut pause = RETRY_FIRST;
        let mut tries = 0u32;
        loop {
            match write().await {
                Ok(v) => {
                    if tries > 0 {
                        tracing::info!(what, tries, "results written after the store came back");
                    }
                    return Ok(v);
                }
                Err(e) if e.is_transient() => {
                    self.report(&e);
                    observe::store_write_retried(
                        what,
                        StoreState::of_error(&e).map_or("other", StoreState::as_str),
                    );
                    if tries == 0 {
                        tracing::error!(what, error = %e.with_causes(),
                            "could not write results to the store; they are kept in memory and written when it can be");
                    }
                    tries += 1;
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(RETRY_MAX);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// The first pause before writing results again.
const RETRY_FIRST: Duration = Duration::from_millis(100);
/// The longest pause between tries.
const RETRY_MAX: Duration = Duration::from_secs(2);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reported_outage_or_full_disk_is_the_state_until_told_otherwise() {
        let health = StoreHealth::new();
        assert_eq!(health.state(), StoreState::Up);
        health.report(&StoreError::NotFound);
        assert_eq!(health.state(), StoreState::Up, "a missing row says nothing");
        health.report(&StoreError::Unavailable("refused".into()));
        assert_eq!(health.state(), StoreState::Down);
        health.report(&StoreError::Full("no space".into()));
        let (state, _, detail) = health.get();
        assert_eq!(state, StoreState::Full);
        assert!(detail.is_some_and(|d| d.contains("no space")));
        health.set(StoreState::Up, None);
        assert_eq!(health.state(), StoreState::Up);
    }
}
