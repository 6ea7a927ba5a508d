//! The engine's settings.

use std::sync::Arc;
use std::time::Duration;

use rustyhook_core::retry::RetryPolicy;
use rustyhook_core::settings::Settings;
use rustyhook_core::signing::HeaderStyle;

use crate::cluster::{Fence, SharedRateLimiter};
use crate::dispatcher::DeliveryObserver;
use crate::health::StoreHealth;

/// What the dispatcher and its targets need to know.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// This process's name in delivery leases.
    pub node_id: String,
    /// Retry policy for endpoints without their own.
    pub retry: RetryPolicy,
    /// Per-attempt timeout.
    pub request_timeout: Duration,
    /// Whether loopback, private and link-local destinations may be reached.
    pub allow_private_networks: bool,
    /// The proxy outgoing requests go through, if the operator set one (proxy environment
    /// variables are ignored).
    pub proxy: Option<String>,
    /// Default maximum requests in flight per endpoint.
    pub max_in_flight_per_endpoint: u32,
    /// Maximum requests in flight overall.
    pub max_in_flight_total: u32,
    /// Maximum handler commands running at once on this node, over all handlers.
    pub max_running_commands: u32,
    /// Deliveries held in memory before new ones are left in the store for the poller.
    pub queue_capacity: usize,
    /// Longest pause between scans for due retries.
    pub poll_interval: Duration,
    /// How long shutdown waits for attempts in flight.
    pub shutdown_grace: Duration,
    /// Response bodies longer than this are truncated before they are stored.
    pub max_response_bytes: usize,
    /// Whether this node delivers (false on an `api` node: what it accepts waits in the store
    /// for the workers).
    pub dispatches: bool,
    /// Endpoint rate limits shared by every node (Redis); per node when `None`.
    pub shared_limits: Option<Arc<dyn SharedRateLimiter>>,
    /// Told of deliveries that reached a final state.
    pub observers: Vec<Arc<dyn DeliveryObserver>>,
    /// Whether this node may act on its leases; attempts start only while it is up.
    pub fence: Fence,
    /// The store's health, told of write failures; results wait on it while the store is down.
    pub health: StoreHealth,
    /// Signature header names for endpoints whose app and own settings choose none.
    pub header_style: HeaderStyle,
    /// Consecutive failures that open an endpoint's breaker (0: never).
    pub breaker_threshold: u32,
    /// How long the failures must have gone on before the breaker opens.
    pub breaker_failing_for: Duration,
    /// The longest wait between probes of an open breaker.
    pub breaker_max_probe_interval: Duration,
}

impl EngineConfig {
    /// The engine's part of the server settings.
    pub fn from_settings(settings: &Settings, node_id: String) -> Self {
        let d = &settings.delivery;
        Self {
            node_id,
            retry: settings.retry.schedule.clone(),
            request_timeout: d.request_timeout,
            allow_private_networks: d.allow_private_networks,
            proxy: d.proxy.clone(),
            max_in_flight_per_endpoint: d.max_in_flight_per_endpoint,
            max_in_flight_total: d.max_in_flight_total,
            max_running_commands: settings.limits.max_running_commands,
            queue_capacity: d.queue_capacity,
            poll_interval: d.poll_interval,
            shutdown_grace: d.shutdown_grace,
            max_response_bytes: settings.limits.max_response_bytes,
            dispatches: settings.cluster.role.works(),
            shared_limits: None,
            observers: Vec::new(),
            fence: Fence::new(),
            health: StoreHealth::new(),
            header_style: d.header_style,
            breaker_threshold: d.breaker_threshold,
            breaker_failing_for: d.breaker_failing_for,
            breaker_max_probe_interval: d.breaker_max_probe_interval,
        }
    }
}
