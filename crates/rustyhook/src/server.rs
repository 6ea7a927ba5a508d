//! The running server: binds first (so tests can use port 0 and read the port back), then runs
//! the API and the dispatcher until a cancellation token fires.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::ServiceExt;
use axum::extract::Request;
use metrics_exporter_prometheus::PrometheusHandle;
use rand::distr::{Alphanumeric, SampleString};
use rustyhook_api::ApiState;
use rustyhook_core::settings::Settings;
use rustyhook_engine::dispatcher::Runner;
use rustyhook_engine::{Dispatcher, EngineConfig};
use rustyhook_store::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::Layer;
use tower_http::normalize_path::NormalizePathLayer;

use crate::bootstrap;

/// A server that has bound its port and opened its store.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    runner: Runner,
    store: Arc<dyn Store>,
    new_admin_token: Option<String>,
}

impl Application {
    /// Opens the store, binds the listener and builds the API and dispatcher.
    pub async fn build(
        settings: Settings,
        metrics: Option<PrometheusHandle>,
    ) -> anyhow::Result<Self> {
        let dir = bootstrap::data_dir(&settings)?;
        let sbox = bootstrap::encryption_key(&dir)?;
        let store = bootstrap::open_store(&settings, &dir, sbox)?;
        let (auth, new_admin_token) = bootstrap::admin_auth(store.as_ref(), &settings).await?;
        let node_id = format!("rh-{}", Alphanumeric.sample_string(&mut rand::rng(), 10));
        let engine = EngineConfig::from_settings(&settings, node_id);
        let (dispatcher, runner) =
            Dispatcher::new(store.clone(), engine).context("could not start the dispatcher")?;
        let state = ApiState {
            store: store.clone(),
            dispatcher,
            auth: Arc::new(auth),
            metrics,
            limits: settings.limits.clone(),
            default_max_in_flight: settings.delivery.max_in_flight_per_endpoint,
        };
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("could not listen on {}", settings.listen))?;
        Ok(Self {
            listener,
            router: rustyhook_api::router(state),
            runner,
            store,
            new_admin_token,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The admin token generated at this start, if one was (first start without a configured
    /// token). Show it once; only its hash is kept.
    pub fn new_admin_token(&self) -> Option<&str> {
        self.new_admin_token.as_deref()
    }

    /// The store, for tests that inspect what was recorded.
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Serves until `token` is cancelled: stops accepting, lets requests and attempts in flight
    /// finish (bounded by the shutdown grace), then returns.
    pub async fn run_until_stopped(self, token: CancellationToken) -> anyhow::Result<()> {
        let app = NormalizePathLayer::trim_trailing_slash().layer(self.router);
        let server = axum::serve(self.listener, ServiceExt::<Request>::into_make_service(app))
            .with_graceful_shutdown(token.clone().cancelled_owned());
        let dispatcher = self.runner.run(token.clone());
        let (served, ()) = tokio::join!(server, dispatcher);
        served.context("the HTTP server failed")?;
        tracing::info!("rustyhook stopped");
        Ok(())
    }
}
