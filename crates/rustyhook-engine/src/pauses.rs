//! This node's view of the pauses kept in the store, for what the claim query cannot filter:
//! work already in memory (handed over on the hot path, or claimed before the pause) and broker
//! sources, which read rather than claim.
//!
//! The view is re-read from the store when older than [`FRESH`], and at once after this node
//! paused or resumed something ([`Pauses::changed`]). So a pause made on another node holds
//! here within [`FRESH`]; in the meantime nothing new can be claimed under it anyway, since
//! claims read the store itself.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustyhook_core::id::{AppId, EndpointId};
use rustyhook_store::{PauseScope, Store};
use tokio::sync::{Mutex, Notify};
use tokio_util::sync::CancellationToken;

/// How old the view may get before it is read again.
pub const FRESH: Duration = Duration::from_secs(1);

/// The pauses in force, as this node last read them. Cheap to clone.
#[derive(Clone)]
pub struct Pauses {
    inner: Arc<Inner>,
}

/// A paused target: its scope, and its id (the server's is `""`).
type Paused = (PauseScope, String);

struct Inner {
    store: Arc<dyn Store>,
    /// The pauses as last read.
    view: Mutex<View>,
    /// Woken when this node paused or resumed something.
    changed: Notify,
}

/// The pauses as last read.
#[derive(Default)]
struct View {
    /// The paused targets.
    paused: HashSet<Paused>,
    /// When they were read; `None` when they must be read again before they are used.
    read_at: Option<Instant>,
}

impl Pauses {
    /// A view of the pauses in `store`, read on first use.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                view: Mutex::new(View::default()),
                changed: Notify::new(),
            }),
        }
    }

    /// Says this node paused or resumed something: the view is read again on its next use,
    /// and sources waiting on a pause look again at once.
    pub async fn changed(&self) {
        self.inner.view.lock().await.read_at = None;
        self.inner.changed.notify_waiters();
    }

    /// Whether a pause holds back deliveries to `endpoint` of `app`.
    pub async fn holds_endpoint(&self, app: &AppId, endpoint: &EndpointId) -> bool {
        self.any(&[
            (PauseScope::App, app.as_str()),
            (PauseScope::Endpoint, endpoint.as_str()),
        ])
        .await
    }

    /// Whether a pause holds back the runs of `handler`.
    pub async fn holds_handler(&self, handler: &str) -> bool {
        self.any(&[(PauseScope::Handler, handler)]).await
    }

    /// Whether the source named `name` is paused.
    pub async fn holds_source(&self, name: &str) -> bool {
        let view = self.current().await;
        view.contains(&(PauseScope::Source, name.to_owned()))
    }

    /// Returns once the source named `name` is not paused (at once if it is not), or when
    /// `token` is cancelled. Looks again every [`FRESH`], and at once after a change made here.
    pub async fn until_source_resumed(&self, name: &str, token: &CancellationToken) {
        let mut told = false;
        while self.holds_source(name).await {
            if !told {
                tracing::info!(
                    source = name,
                    "source paused: not reading until it is resumed"
                );
                told = true;
            }
            tokio::select! {
                () = token.cancelled() => return,
                () = self.inner.changed.notified() => {}
                () = tokio::time::sleep(FRESH) => {}
            }
        }
        if told {
            tracing::info!(source = name, "source resumed: reading again");
        }
    }

    /// Whether the server, or any of `targets`, is paused. Delivery work is held back by the
    /// server's pause too; a source is not (its messages are stored, and wait).
    async fn any(&self, targets: &[(PauseScope, &str)]) -> bool {
        let view = self.current().await;
        view.contains(&(PauseScope::Server, String::new()))
            || targets
                .iter()
                .any(|(scope, id)| view.contains(&(*scope, (*id).to_owned())))
    }

    /// The view, read again from the store when stale. While the store cannot be read, the
    /// last view holds (and is tried again after [`FRESH`]).
    async fn current(&self) -> HashSet<Paused> {
        let mut view = self.inner.view.lock().await;
        if view.read_at.is_none_or(|at| at.elapsed() >= FRESH) {
            match self.inner.store.list_pauses().await {
                Ok(pauses) => {
                    view.paused = pauses.into_iter().map(|p| (p.scope, p.target)).collect();
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the pauses; using the last ones read")
                }
            }
            view.read_at = Some(Instant::now());
        }
        view.paused.clone()
    }
}
