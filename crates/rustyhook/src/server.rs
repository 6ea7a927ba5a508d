//! The running server: binds first (so tests can use port 0 and read the port back), then runs
//! the API and the dispatcher until a cancellation token fires.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, bail};
use metrics_exporter_prometheus::PrometheusHandle;
use rand::distr::{Alphanumeric, SampleString};
use rustyhook_api::hooks::HooksState;
use rustyhook_api::http::audit::{AuditLog, AuditWriter};
use rustyhook_api::{ApiState, Services};
use rustyhook_core::settings::{ClusterSettings, Role, Settings};
use rustyhook_core::sources::SourceConfig;
use rustyhook_core::time::now_millis;
use rustyhook_engine::automation::{Automation, Backlog, Executor, ExecutorConfig};
use rustyhook_engine::cluster::redis::{self, RedisCoordinator, RedisRateLimiter};
use rustyhook_engine::cluster::{self, Coordinator, Fence, SharedRateLimiter, StoreCoordinator};
use rustyhook_engine::dispatcher::{DeliveryObserver, Runner};
use rustyhook_engine::feed::Feed;
use rustyhook_engine::health::StoreHealth;
use rustyhook_engine::operational::{self, Publisher};
use rustyhook_engine::sources::brokers;
use rustyhook_engine::sources::sendhooks::Sendhooks;
use rustyhook_engine::sources::status::SourceStates;
use rustyhook_engine::{Dispatcher, EngineConfig, Ingest};
use rustyhook_store::{NodeSeen, Store};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bootstrap;
use crate::config::Config;
use crate::listener::{self, ConnectionLimits, Connections};

/// A server that has bound its port and opened its store.
pub struct Application {
    /// Stores the audit log the API queues; runs until the server has stopped.
    audit_writer: AuditWriter,
    /// How long audit entries are kept.
    audit_retention: std::time::Duration,
    stats: rustyhook_core::settings::StatsSettings,
    listener: TcpListener,
    router: axum::Router,
    /// Webhook handlers' own ports, bound at build time.
    hook_ports: Vec<(TcpListener, axum::Router)>,
    runner: Runner,
    automation: Automation,
    store: Arc<dyn Store>,
    new_admin_token: Option<String>,
    /// This process's name in leases and heartbeats.
    node_id: String,
    /// How often the leading node measures the alert rules.
    alert_interval: std::time::Duration,
    role: Role,
    coordination: Coordination,
    cluster: ClusterSettings,
    sources: Vec<SourceConfig>,
    /// What this node's sources are doing, shared with the API.
    source_states: SourceStates,
    sendhooks: BTreeMap<String, Sendhooks>,
    /// Whether this node may act on its leases (see [`Fence`]).
    fence: Fence,
    /// The store's health, probed by a monitor this server runs.
    health: StoreHealth,
    /// Every listener's connections, held to one set of limits.
    connections: Connections,
    /// The live feed the API streams; read while the server runs.
    feed: Feed,
    /// Publishes operational events and disables endpoints failing too long (working nodes).
    operational: Publisher,
}

/// Who decides leadership, and where rate limits are kept across nodes.
struct Coordination {
    coordinator: Arc<dyn Coordinator>,
    rate_limits: Option<Arc<dyn SharedRateLimiter>>,
}

impl Coordination {
    /// Redis when `cluster.coordinator` names it; the store (an advisory lock) otherwise.
    async fn connect(
        settings: &Settings,
        store: Arc<dyn Store>,
        node_id: &str,
    ) -> anyhow::Result<Self> {
        let Some(url) = &settings.cluster.coordinator else {
            return Ok(Self {
                coordinator: Arc::new(StoreCoordinator(store)),
                rate_limits: None,
            });
        };
        let conn = redis::connect(url).await.map_err(anyhow::Error::msg)?;
        let prefix = redis::prefix(&bootstrap::cluster_id(store.as_ref()).await?);
        Ok(Self {
            coordinator: Arc::new(RedisCoordinator::new(
                conn.clone(),
                prefix.clone(),
                node_id.to_owned(),
                settings.cluster.heartbeat_interval * 3,
            )),
            rate_limits: Some(Arc::new(RedisRateLimiter::new(conn, prefix))),
        })
    }
}

impl Application {
    /// Opens the store, binds the listener and builds the API and dispatcher.
    pub async fn build(
        settings: Settings,
        metrics: Option<PrometheusHandle>,
    ) -> anyhow::Result<Self> {
        Self::build_from(Config::build(settings)?, metrics).await
    }

    /// Like [`Self::build`], for a config whose handlers are already checked (by `main`, which
    /// also reported their warnings).
    pub async fn build_from(
        config: Config,
        metrics: Option<PrometheusHandle>,
    ) -> anyhow::Result<Self> {
        let settings = config.settings;
        let dir = bootstrap::data_dir(&settings)?;
        // Before any run can start again: kill commands a killed predecessor left running.
        let ledger = bootstrap::command_ledger(&dir)?;
        let sbox = bootstrap::encryption_key(&dir)?;
        let role = settings.cluster.role;
        if role != Role::All && !bootstrap::is_shared(&settings) {
            bail!(
                "role {role:?} needs a database shared with other nodes: set database.url to postgres://…"
            );
        }
        let store = bootstrap::open_store(&settings, &dir, sbox).await?;
        let (auth, new_admin_token) = bootstrap::admin_auth(store.as_ref(), &settings).await?;
        let operational_app = operational::ensure_app(store.as_ref())
            .await
            .context("could not create the operational webhooks app")?;
        operational::sync_config(
            store.as_ref(),
            &operational_app,
            &settings.operational_webhooks,
            settings.delivery.max_in_flight_per_endpoint,
        )
        .await
        .context("could not set up the operational webhook endpoints of the config")?;
        store
            .sync_config_alert_rules(settings.alerts.clone(), now_millis())
            .await
            .map_err(|e| anyhow::anyhow!(e.with_causes()))
            .context("could not set up the alert rules of the config (alerts:)")?;
        // A fresh name per process: a restarted node must not inherit the leases of the one
        // that died, which are released once its heartbeat goes stale.
        let node_id = format!(
            "{}-{}",
            settings.cluster.node_id.as_deref().unwrap_or("rh"),
            Alphanumeric.sample_string(&mut rand::rng(), 8)
        );
        store
            .heartbeat(&node_id)
            .await
            .context("could not register this node")?;
        let fence = Fence::new();
        let health = StoreHealth::new();
        let coordination = Coordination::connect(&settings, store.clone(), &node_id).await?;
        let mut engine = EngineConfig::from_settings(&settings, node_id.clone());
        engine.shared_limits = coordination.rate_limits.clone();
        engine.fence = fence.clone();
        engine.health = health.clone();
        let sendhooks = brokers::sendhooks(&settings.sources, &store);
        engine.observers = sendhooks
            .values()
            .map(|s| Arc::new(s.clone()) as Arc<dyn DeliveryObserver>)
            .collect();
        let executor = Executor::new(
            store.clone(),
            config.handlers,
            ExecutorConfig {
                base_env: Arc::new(bootstrap::child_env(&settings)),
                max_output_bytes: settings.limits.max_response_bytes,
                max_payload_bytes: settings.limits.max_payload_bytes,
                ledger: Some(ledger),
            },
        );
        let (dispatcher, runner) = Dispatcher::new(store.clone(), engine, executor)
            .context("could not start the dispatcher")?;
        let ingest = Ingest::new(
            store.clone(),
            dispatcher.clone(),
            settings.limits.max_payload_bytes,
        );
        let operational = Publisher::new(
            store.clone(),
            ingest.clone(),
            dispatcher.clone(),
            operational_app.id,
            settings.delivery.auto_disable_after,
        );
        let automation = Automation::new(
            dispatcher.clone(),
            ingest.clone(),
            Backlog {
                per_handler: settings.limits.max_queued_runs_per_handler,
                total: settings.limits.max_queued_runs,
            },
        );
        let (audit, audit_writer) = AuditLog::new(store.clone(), settings.auth.trust_forwarded_for);
        let feed = Feed::new(store.clone());
        let source_states = SourceStates::default();
        let state = ApiState::new(Services {
            store: store.clone(),
            automation: automation.clone(),
            ingest,
            dispatcher,
            auth: Arc::new(auth),
            metrics,
            limits: settings.limits.clone(),
            default_max_in_flight: settings.delivery.max_in_flight_per_endpoint,
            sources: settings.sources.clone().into(),
            source_states: source_states.clone(),
            health: health.clone(),
            audit,
            feed: feed.clone(),
            node_timeout: settings.cluster.node_timeout,
        });
        let hooks = HooksState::new(automation.clone(), settings.limits.max_payload_bytes);
        let fd_limit = listener::raise_fd_limit();
        let connections =
            Connections::new(ConnectionLimits::from_settings(&settings.limits, fd_limit));
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("could not listen on {}", settings.listen))?;
        let mut hook_ports = Vec::new();
        let own_ports = if role.serves_api() {
            rustyhook_api::hooks::port_routers(&hooks)
        } else {
            Default::default()
        };
        for (port, router) in own_ports {
            let addr = SocketAddr::new(settings.listen.ip(), port);
            let l = TcpListener::bind(addr)
                .await
                .with_context(|| format!("could not listen on {addr} for a webhook handler"))?;
            hook_ports.push((l, router));
        }
        let router = if role.serves_api() {
            rustyhook_api::router(state).merge(rustyhook_api::hooks::router(hooks))
        } else {
            rustyhook_api::worker_router(state)
        };
        Ok(Self {
            audit_writer,
            audit_retention: settings.auth.audit_retention,
            stats: settings.stats.clone(),
            listener,
            router,
            hook_ports,
            runner,
            automation,
            store,
            new_admin_token,
            node_id,
            alert_interval: settings.alert_interval,
            role,
            coordination,
            cluster: settings.cluster.clone(),
            sources: settings.sources.clone(),
            source_states,
            sendhooks,
            fence,
            health,
            connections,
            feed,
            operational,
        })
    }

    /// The addresses of webhook handlers' own ports.
    pub fn hook_addrs(&self) -> Vec<SocketAddr> {
        self.hook_ports
            .iter()
            .filter_map(|(l, _)| l.local_addr().ok())
            .collect()
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
        let works = self.role.works();
        let leader = if works {
            Some(
                cluster::lead(
                    self.coordination.coordinator.clone(),
                    self.cluster.heartbeat_interval,
                    token.clone(),
                )
                .await,
            )
        } else {
            None
        };
        let liveness = tokio::spawn(cluster::run_liveness(
            self.store.clone(),
            cluster::Liveness {
                node: self.node_id.clone(),
                interval: self.cluster.heartbeat_interval,
                timeout: self.cluster.node_timeout,
                fence: self.fence.clone(),
                seen: NodeSeen {
                    name: self
                        .cluster
                        .node_id
                        .clone()
                        .unwrap_or_else(|| self.node_id.clone()),
                    role: self.role.as_str().to_owned(),
                    leader: false,
                },
                leader: leader.clone(),
            },
            token.clone(),
        ));
        let monitor = tokio::spawn(
            self.health
                .clone()
                .monitor(self.store.clone(), token.clone()),
        );
        // Stopped only once the server has, so it stores every entry the last requests queued.
        let audit_stop = CancellationToken::new();
        let audit_writer = tokio::spawn(self.audit_writer.run(audit_stop.clone()));
        let purge = self.role.serves_api().then(|| {
            tokio::spawn(rustyhook_api::http::retention::purge_expired(
                self.store.clone(),
                self.audit_retention,
                self.stats.clone(),
                token.clone(),
            ))
        });
        // Stopping it ends every open stream, so the server's graceful shutdown does not wait on
        // them.
        let feed = tokio::spawn(self.feed.run(token.clone()));
        let sources = if let Some(leader) = leader {
            let tasks = rustyhook_engine::triggers::start(&self.automation, &leader, &token);
            tasks.spawn(rustyhook_engine::stats::sample_queue(
                self.store.clone(),
                leader.clone(),
                token.clone(),
            ));
            let evaluator = rustyhook_engine::alerts::Evaluator {
                store: self.store.clone(),
                leader: leader.clone(),
                interval: self.alert_interval,
                sources: self.sources.iter().map(SourceConfig::name).collect(),
            };
            tasks.spawn(evaluator.run(token.clone()));
            brokers::start(
                &tasks,
                &self.sources,
                &self.sendhooks,
                &self.automation,
                &self.source_states,
                &self.node_id,
                &token,
            );
            tasks
        } else {
            TaskTracker::new()
        };
        sources.close();
        let mut ports = tokio::task::JoinSet::new();
        for (listener, router) in self.hook_ports {
            let connections = self.connections.clone();
            let token = token.clone();
            ports.spawn(async move { connections.serve(listener, router, token).await });
        }
        let server = self
            .connections
            .serve(self.listener, self.router, token.clone());
        let dispatcher = async {
            if works {
                self.runner.run(token.clone()).await;
            }
        };
        let operational = async {
            if works {
                self.operational.run(token.clone()).await;
            }
        };
        let (served, (), ()) = tokio::join!(server, dispatcher, operational);
        audit_stop.cancel();
        let _ = audit_writer.await;
        served.context("the HTTP server failed")?;
        while let Some(r) = ports.join_next().await {
            r.context("a webhook listener panicked")?
                .context("a webhook listener failed")?;
        }
        sources.wait().await;
        let _ = liveness.await;
        let _ = monitor.await;
        let _ = feed.await;
        if let Some(purge) = purge {
            let _ = purge.await;
        }
        tracing::info!("rustyhook stopped");
        Ok(())
    }
}
