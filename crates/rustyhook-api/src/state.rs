//! What every handler can reach.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use rustyhook_core::settings::LimitSettings;
use rustyhook_core::sources::SourceConfig;
use rustyhook_engine::automation::Automation;
use rustyhook_engine::feed::Feed;
use rustyhook_engine::health::StoreHealth;
use rustyhook_engine::sources::status::SourceStates;
use rustyhook_engine::{Dispatcher, Ingest};
use rustyhook_store::Store;

use crate::http::audit::AuditLog;
use crate::http::auth::Auth;

/// Shared by all handlers: a handle to the [`Services`], which it derefs to. Every request
/// clones it once per middleware and handler, so it is one reference count to bump, not one per
/// service: the per-service clone measured about 2.5% of the server's CPU under load.
#[derive(Clone)]
pub struct ApiState(Arc<Services>);

impl ApiState {
    /// The handle to `services`.
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for ApiState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// What every handler can reach, through [`ApiState`].
pub struct Services {
    /// The durable store.
    pub store: Arc<dyn Store>,
    /// Handlers and their runs.
    pub automation: Automation,
    /// Where messages are created (and their deliveries handed for sending).
    pub ingest: Ingest,
    /// Told when endpoints change and woken when deliveries are due again.
    pub dispatcher: Dispatcher,
    /// Accepted tokens.
    pub auth: Arc<Auth>,
    /// Renders `/metrics`; `None` when no recorder is installed (tests).
    pub metrics: Option<PrometheusHandle>,
    /// Size caps.
    pub limits: LimitSettings,
    /// `maxInFlight` for endpoints that do not set one.
    pub default_max_in_flight: u32,
    /// The configured broker sources.
    pub sources: Arc<[SourceConfig]>,
    /// What this node's sources are doing, and their lag (empty where the node reads none).
    pub source_states: SourceStates,
    /// The store's health as this node sees it: the store gate and the health routes read it.
    pub health: StoreHealth,
    /// Where successful writes are queued for the audit log.
    pub audit: AuditLog,
    /// The live feed `GET /api/v1/stream` serves.
    pub feed: Feed,
    /// How long a node may go without a heartbeat before it is taken for dead
    /// (`cluster.node_timeout`): what `GET /api/v1/node` calls alive.
    pub node_timeout: std::time::Duration,
}
