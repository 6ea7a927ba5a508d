//! What each broker source of this node is doing, and how many messages wait in its broker:
//! written by the source's reader and its [`lag`](super::lag) probe, read by the API
//! (`GET /api/v1/source`). Only the sources this node reads are here (a node with
//! `--role api` reads none).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use rustyhook_core::time::{Millis, now_millis};

/// What a source's reader is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// Started, not yet connected to its broker.
    Starting,
    /// Connected, reading (or waiting for) messages.
    Reading,
    /// Paused: reading nothing until it is resumed.
    Paused,
    /// Its connection failed; trying again after a pause.
    Reconnecting,
}

impl Activity {
    /// Its name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Reading => "reading",
            Self::Paused => "paused",
            Self::Reconnecting => "reconnecting",
        }
    }
}

/// One source as this node sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceState {
    /// What its reader is doing.
    pub activity: Activity,
    /// When it began doing that.
    pub since: Millis,
    /// Why it is reconnecting; `None` in every other activity.
    pub last_error: Option<String>,
    /// How many messages waited in the broker when last measured; `None` until measured once.
    /// A failed measurement keeps the last one (its [`Self::lag_at`] tells its age).
    pub lag: Option<u64>,
    /// When [`Self::lag`] was measured.
    pub lag_at: Option<Millis>,
}

/// The sources of this node, by name. Cheap to clone; every clone sees the same states.
#[derive(Debug, Clone, Default)]
pub struct SourceStates(Arc<Mutex<BTreeMap<String, SourceState>>>);

impl SourceStates {
    /// The state of the source named `name`, if this node reads it.
    pub fn get(&self, name: &str) -> Option<SourceState> {
        self.lock().get(name).cloned()
    }

    /// Records that `name` is now doing `activity` (for `error`, when reconnecting). `since`
    /// moves only when the activity changes.
    pub(crate) fn set_activity(&self, name: &str, activity: Activity, error: Option<String>) {
        let now = now_millis();
        let mut states = self.lock();
        let state = states.entry(name.to_owned()).or_insert(SourceState {
            activity,
            since: now,
            last_error: None,
            lag: None,
            lag_at: None,
        });
        if state.activity != activity {
            state.activity = activity;
            state.since = now;
        }
        state.last_error = error;
    }

    /// Records `lag` messages waiting in `name`'s broker at `at`.
    pub(crate) fn set_lag(&self, name: &str, lag: u64, at: Millis) {
        let mut states = self.lock();
        let state = states.entry(name.to_owned()).or_insert(SourceState {
            activity: Activity::Starting,
            since: at,
            last_error: None,
            lag: None,
            lag_at: None,
        });
        state.lag = Some(lag);
        state.lag_at = Some(at);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, SourceState>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_moves_only_when_the_activity_changes_and_an_error_lasts_while_reconnecting() {
        let states = SourceStates::default();
        assert_eq!(states.get("orders"), None);
        states.set_activity("orders", Activity::Reconnecting, Some("refused".into()));
        let first = states.get("orders").expect("state");
        std::thread::sleep(std::time::Duration::from_millis(5));
        states.set_activity("orders", Activity::Reconnecting, Some("timed out".into()));
        let again = states.get("orders").expect("state");
        assert_eq!(again.since, first.since);
        assert_eq!(again.last_error.as_deref(), Some("timed out"));
        states.set_activity("orders", Activity::Reading, None);
        let reading = states.get("orders").expect("state");
        assert!(reading.since > first.since);
        assert_eq!(reading.last_error, None);
        assert_eq!(reading.lag, None);
        states.set_lag("orders", 7, 1_000);
        let measured = states.get("orders").expect("state");
        assert_eq!((measured.lag, measured.lag_at), (Some(7), Some(1_000)));
        assert_eq!(measured.activity, Activity::Reading);
    }
}
