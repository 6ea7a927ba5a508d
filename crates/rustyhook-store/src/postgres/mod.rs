//! The shared store: one PostgreSQL database used by any number of rustyhook nodes.
//!
//! It behaves as the SQLite store does, method for method, with what several nodes need on
//! top: claims lock rows with `FOR UPDATE SKIP LOCKED` so no two nodes take the same work;
//! nothing is cached across transactions (another node may have changed it); opening releases no
//! leases (their owners may be alive) — instead nodes send heartbeats and
//! [`Store::release_dead_nodes`] frees the leases of those that stopped; transactions that make
//! unleased work due `NOTIFY` the other nodes ([`Store::wakeups`]); and an advisory lock elects
//! a leader per name ([`Store::hold_leadership`]).

mod access;
mod alerts;
mod apps;
mod attempts;
mod conn;
mod deliveries;
mod endpoints;
mod leader;
mod list;
mod listen;
mod messages;
mod nodes;
mod operational;
mod pauses;
mod queue;
mod rejected;
mod rows;
mod runs;
mod schema;
mod stats;
mod tasks;

use async_trait::async_trait;
use rustyhook_core::alert::{Alert, AlertRule, RuleSpec};
use rustyhook_core::crypto::SecretBox;
use rustyhook_core::id::{AppId, AttemptId, EndpointId, MessageId, RunId};
use rustyhook_core::model::{App, Attempt, Delivery, DeliveryStatus, Endpoint, EventType, Message};
use rustyhook_core::operational::{EndpointRef, OperationalEvent, OperationalKind};
use rustyhook_core::run::{Run, RunAttempt};
use rustyhook_core::stats::{Bucket, Counts, Scope, Width};
use rustyhook_core::time::{Millis, now_millis};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};
use tokio_util::sync::{CancellationToken, DropGuard};

use self::conn::db_err;
use self::leader::Leadership;
use crate::page::{Listed, Page};
use crate::*;

/// How to connect the PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Most connections in the pool (the listener and the leadership connection are extra).
    pub max_connections: u32,
    /// How long a call waits for a connection before it fails as unavailable. Short, so that
    /// while the server is down callers hear so quickly instead of hanging (sqlx's default is
    /// 30 s).
    pub acquire_timeout: std::time::Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: std::time::Duration::from_secs(5),
        }
    }
}

/// The PostgreSQL implementation of [`Store`].
pub struct PostgresStore {
    pool: PgPool,
    sbox: SecretBox,
    /// Pokes from other nodes' transactions; fed by the listener task.
    wakeups: Wakeups,
    /// This node's leadership locks, on their own connection.
    leadership: Leadership,
    /// Stops the listener and stats folding tasks when the store is dropped.
    _stop_tasks: DropGuard,
}

impl PostgresStore {
    /// Connects to the database at `url` (a `postgres://` URL), brings its schema up to date
    /// and starts listening for other nodes' work. Leases are left as they are: other nodes
    /// may be alive and working.
    pub async fn connect(url: &str, options: PgOptions, sbox: SecretBox) -> StoreResult<Self> {
        let opts = conn::parse_url(url)?;
        let unreachable = |e| {
            conn::fault(
                format!(
                    "could not connect to PostgreSQL at {}",
                    conn::describe(&opts)
                ),
                e,
            )
        };
        // One plain connection first: it fails at once, with the server's name, where a pool
        // would retry until its timeout; and it carries the migrations.
        let mut first = PgConnection::connect_with(&opts)
            .await
            .map_err(unreachable)?;
        schema::migrate(&mut first).await?;
        let _ = first.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_lazy_with(opts.clone());
        let stop = CancellationToken::new();
        let wakeups = listen::start(&opts, stop.clone()).await?;
        tokio::spawn(stats::keep_folding(pool.clone(), stop.clone()));
        Ok(Self {
            pool,
            sbox,
            wakeups,
            leadership: Leadership::new(opts),
            _stop_tasks: stop.drop_guard(),
        })
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn create_app(&self, app: App) -> StoreResult<App> {
        apps::insert_app(&self.pool, &app).await.map(|()| app)
    }

    async fn get_app(&self, id_or_uid: &str) -> StoreResult<Option<App>> {
        apps::get_app(&self.pool, id_or_uid).await
    }

    async fn list_apps(&self, page: Page, with_endpoints_only: bool) -> StoreResult<Listed<App>> {
        apps::list_apps(&self.pool, &page, with_endpoints_only).await
    }

    async fn update_app(&self, app: App) -> StoreResult<App> {
        apps::update_app(&self.pool, &app).await.map(|()| app)
    }

    async fn delete_app(&self, id: &AppId) -> StoreResult<()> {
        apps::delete_app(&self.pool, id).await
    }

    async fn upsert_event_type(&self, event_type: EventType) -> StoreResult<bool> {
        apps::upsert_event_type(&self.pool, &event_type).await
    }

    async fn get_event_type(&self, name: &str) -> StoreResult<Option<EventType>> {
        apps::get_event_type(&self.pool, name).await
    }

    async fn list_event_types(
        &self,
        page: Page,
        include_archived: bool,
    ) -> StoreResult<Listed<EventType>> {
        apps::list_event_types(&self.pool, &page, include_archived).await
    }

    async fn delete_event_type(&self, name: &str) -> StoreResult<()> {
        apps::delete_event_type(&self.pool, name).await
    }

    async fn create_endpoint(&self, endpoint: Endpoint) -> StoreResult<Endpoint> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        endpoints::insert(&mut tx, &endpoint, &self.sbox).await?;
        let created = [OperationalKind::EndpointCreated];
        operational::endpoint_events(&mut tx, &created, &endpoint, endpoint.updated_at).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(endpoint)
    }

    async fn get_endpoint(&self, app: &AppId, id_or_uid: &str) -> StoreResult<Option<Endpoint>> {
        endpoints::get(&self.pool, app, id_or_uid, &self.sbox).await
    }

    async fn get_endpoint_by_id(&self, id: &EndpointId) -> StoreResult<Option<Endpoint>> {
        endpoints::get_by_id(&self.pool, id, &self.sbox).await
    }

    async fn list_endpoints(&self, app: &AppId, page: Page) -> StoreResult<Listed<Endpoint>> {
        endpoints::list(&self.pool, app, &page, &self.sbox).await
    }

    async fn update_endpoint(&self, endpoint: Endpoint) -> StoreResult<Endpoint> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let before = operational::was_disabled(&mut tx, &endpoint).await?;
        endpoints::update(&mut tx, &endpoint, &self.sbox).await?;
        if before == Some(true) && !endpoint.disabled {
            operational::clear_failing(&mut tx, &endpoint).await?;
        }
        let kinds = crate::operational::update_kinds(before == Some(true), &endpoint);
        operational::endpoint_events(&mut tx, &kinds, &endpoint, endpoint.updated_at).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(endpoint)
    }

    async fn delete_endpoint(&self, id: &EndpointId) -> StoreResult<()> {
        endpoints::delete(&self.pool, id, now_millis(), &self.sbox).await
    }

    async fn endpoint_stats(
        &self,
        id: &EndpointId,
        since: Option<Millis>,
        until: Option<Millis>,
    ) -> StoreResult<EndpointStats> {
        endpoints::stats(&self.pool, id, since, until).await
    }

    async fn create_message(&self, new: NewMessage) -> StoreResult<MessageCreated> {
        messages::create(&self.pool, &new, &self.sbox).await
    }

    async fn get_message(&self, app: &AppId, id_or_event_id: &str) -> StoreResult<Option<Message>> {
        let mut conn = self.pool.acquire().await.map_err(conn::db_err)?;
        messages::get(&mut conn, app, id_or_event_id).await
    }

    async fn list_messages(
        &self,
        app: &AppId,
        filter: MessageFilter,
        page: Page,
    ) -> StoreResult<Listed<Message>> {
        messages::list(&self.pool, app, filter, &page).await
    }

    async fn expunge_message(&self, id: &MessageId) -> StoreResult<()> {
        messages::expunge(&self.pool, id).await
    }

    async fn list_endpoint_messages(
        &self,
        endpoint: &EndpointId,
        status: Option<u8>,
        filter: MessageFilter,
        page: Page,
    ) -> StoreResult<Listed<EndpointMessage>> {
        messages::list_for_endpoint(&self.pool, endpoint, status, filter, &page).await
    }

    async fn list_message_deliveries(
        &self,
        msg: &MessageId,
        page: Page,
    ) -> StoreResult<Listed<(Delivery, Endpoint)>> {
        deliveries::list_for_message(&self.pool, msg, &page, &self.sbox).await
    }

    async fn claim_due(&self, lease: &Lease, now: Millis, limit: usize) -> StoreResult<Vec<Due>> {
        deliveries::claim_due(&self.pool, lease, now, limit).await
    }

    async fn next_due(&self) -> StoreResult<Option<Millis>> {
        deliveries::next_due(&self.pool).await
    }

    async fn record_attempts(&self, records: Vec<AttemptRecord>) -> StoreResult<()> {
        deliveries::record_attempts(&self.pool, &records).await
    }

    async fn release(
        &self,
        node: &str,
        work: Vec<(WorkId, i64)>,
        due_at: Option<Millis>,
    ) -> StoreResult<()> {
        deliveries::release(&self.pool, node, &work, due_at).await
    }

    async fn resend(&self, msg: &Message, endpoint: &Endpoint, now: Millis) -> StoreResult<()> {
        deliveries::resend(&self.pool, msg, endpoint, now).await
    }

    async fn list_dead_letters(
        &self,
        filter: DeadLetterFilter,
        page: DeadPage,
    ) -> StoreResult<Listed<DeadLetter>> {
        deliveries::list_dead(&self.pool, filter, &page).await
    }

    async fn recover_dead_letters(
        &self,
        filter: DeadLetterFilter,
        now: Millis,
        limit: usize,
    ) -> StoreResult<u64> {
        let statement = crate::dead::recover(filter, now, limit, &deliveries::DEAD_DIALECT);
        deliveries::requeue(&self.pool, statement).await
    }

    async fn resend_failed(
        &self,
        app: &AppId,
        msgs: Vec<MessageId>,
        now: Millis,
    ) -> StoreResult<u64> {
        let msgs = msgs.into_iter().map(String::from).collect();
        let statement = crate::dead::resend_failed(app, msgs, now);
        deliveries::requeue(&self.pool, statement).await
    }

    async fn recover(
        &self,
        target: &Target,
        since: Millis,
        until: Option<Millis>,
        now: Millis,
    ) -> StoreResult<u64> {
        deliveries::recover(&self.pool, target, since, until, now).await
    }

    async fn stats_series(
        &self,
        scope: &Scope,
        width: Width,
        since: Millis,
        until: Millis,
    ) -> StoreResult<Vec<Bucket>> {
        stats::series(&self.pool, scope, width, since, until).await
    }

    async fn stats_top(
        &self,
        kind: &str,
        width: Width,
        since: Millis,
        until: Millis,
        limit: usize,
    ) -> StoreResult<Vec<(String, Counts)>> {
        stats::top(&self.pool, kind, (width, since, until), limit).await
    }

    async fn queue_now(&self) -> StoreResult<QueueNow> {
        let mut conn = self.pool.acquire().await.map_err(conn::db_err)?;
        stats::queue_now(&mut conn).await
    }

    async fn stats_sample(&self, now: Millis) -> StoreResult<QueueNow> {
        stats::sample(&self.pool, now).await
    }

    async fn count_source(&self, source: &str, taken: SourceTaken, at: Millis) -> StoreResult<()> {
        let mut tally = crate::stats::Tally::default();
        tally.source(source, taken, at);
        let mut conn = self.pool.acquire().await.map_err(conn::db_err)?;
        stats::apply(&mut conn, &tally).await
    }

    async fn sample_source_lag(&self, source: &str, lag: u64, at: Millis) -> StoreResult<()> {
        let mut tally = crate::stats::Tally::default();
        tally.source_lag(source, lag, at);
        let mut conn = self.pool.acquire().await.map_err(conn::db_err)?;
        stats::apply(&mut conn, &tally).await
    }

    async fn stats_purge(&self, width: Width, before: Millis) -> StoreResult<u64> {
        stats::purge(&self.pool, width, before).await
    }

    async fn recover_endpoint(
        &self,
        endpoint: &Endpoint,
        since: Millis,
        until: Option<Millis>,
        now: Millis,
    ) -> StoreResult<BackgroundTask> {
        tasks::recover_endpoint(&self.pool, endpoint, since, until, now).await
    }

    async fn replay_missing(
        &self,
        endpoint: &Endpoint,
        since: Millis,
        until: Option<Millis>,
        now: Millis,
        limit: usize,
    ) -> StoreResult<BackgroundTask> {
        let replay = crate::query::Replay {
            endpoint,
            since,
            until,
            now,
            limit,
        };
        tasks::replay_missing(&self.pool, &replay).await
    }

    async fn get_task(&self, id: &str) -> StoreResult<Option<BackgroundTask>> {
        tasks::get(&self.pool, id).await
    }

    async fn list_tasks(
        &self,
        filter: TaskFilter,
        page: Page,
    ) -> StoreResult<Listed<BackgroundTask>> {
        tasks::list(&self.pool, filter, &page).await
    }

    async fn task_purge(&self, before: Millis) -> StoreResult<u64> {
        tasks::purge(&self.pool, before).await
    }

    async fn list_attempts(
        &self,
        app: &AppId,
        filter: AttemptFilter,
        page: Page,
    ) -> StoreResult<Listed<Attempt>> {
        attempts::list(&self.pool, app, filter, &page).await
    }

    async fn get_attempt(&self, msg: &MessageId, id: &str) -> StoreResult<Option<Attempt>> {
        attempts::get(&self.pool, msg, id).await
    }

    async fn expunge_attempt(&self, id: &AttemptId) -> StoreResult<()> {
        attempts::expunge(&self.pool, id).await
    }

    async fn feed(&self, query: FeedQuery) -> StoreResult<Vec<FeedEntry>> {
        let attempts = list::select(&self.pool, feed::statement(&query), feed::feed_row).await?;
        let changes = match feed::changes_statement(&query) {
            Some(s) => list::select(&self.pool, s, feed::change_row).await?,
            None => Vec::new(),
        };
        Ok(feed::merge(attempts, changes, query.limit))
    }

    async fn feed_purge(&self, before: Millis) -> StoreResult<u64> {
        let mut conn = self.pool.acquire().await.map_err(conn::db_err)?;
        list::execute(&mut conn, feed::purge_changes(before)).await
    }

    async fn feed_endpoint_change(
        &self,
        endpoint_id: &EndpointId,
        change: &str,
        detail: &str,
        at: Millis,
    ) -> StoreResult<()> {
        let change = feed::change_of_endpoint(endpoint_id.as_str(), change, Some(detail), at);
        let mut conn = self.pool.acquire().await.map_err(conn::db_err)?;
        list::execute(&mut conn, change).await?;
        Ok(())
    }

    async fn idempotency_begin(
        &self,
        key: &str,
        now: Millis,
        stale_before: Millis,
        expire_before: Millis,
    ) -> StoreResult<IdempotencyBegin> {
        let found =
            apps::idempotency_begin(&self.pool, key, now, stale_before, expire_before).await?;
        crate::rows::open_response(found, &self.sbox)
    }

    async fn idempotency_complete(&self, key: &str, status: u16, body: Vec<u8>) -> StoreResult<()> {
        let body = crate::rows::seal_response(&body, &self.sbox);
        apps::idempotency_complete(&self.pool, key, status, &body).await
    }

    async fn idempotency_abandon(&self, key: &str) -> StoreResult<()> {
        apps::idempotency_abandon(&self.pool, key).await
    }

    async fn idempotency_purge(&self, expire_before: Millis) -> StoreResult<u64> {
        apps::idempotency_purge(&self.pool, expire_before).await
    }

    async fn create_runs(&self, new: Vec<Run>, lease_to: Option<Lease>) -> StoreResult<()> {
        runs::create(&self.pool, &new, lease_to.as_ref()).await
    }

    async fn get_run(&self, id: &str) -> StoreResult<Option<Run>> {
        runs::get(&self.pool, id).await
    }

    async fn list_runs(
        &self,
        handler: Option<String>,
        status: Option<DeliveryStatus>,
        page: Page,
    ) -> StoreResult<Listed<Run>> {
        runs::list(&self.pool, handler, status, &page).await
    }

    async fn list_run_attempts(&self, run: &RunId, page: Page) -> StoreResult<Listed<RunAttempt>> {
        runs::list_attempts(&self.pool, run, &page).await
    }

    async fn start_run(&self, id: &RunId, now: Millis) -> StoreResult<()> {
        runs::start(&self.pool, id, now).await
    }

    async fn handlers_busy(&self, handlers: Vec<String>, except: &RunId) -> StoreResult<bool> {
        runs::busy(&self.pool, &handlers, except).await
    }

    async fn count_open_runs(&self, handler: &str) -> StoreResult<OpenRuns> {
        runs::count_open(&self.pool, handler).await
    }

    async fn exports(&self) -> StoreResult<Vec<(String, String)>> {
        runs::exports(&self.pool).await
    }

    async fn create_tick_runs(
        &self,
        key: &str,
        tick: Millis,
        new: Vec<Run>,
        lease_to: Option<Lease>,
    ) -> StoreResult<bool> {
        runs::create_tick(&self.pool, key, tick, &new, lease_to.as_ref()).await
    }

    async fn create_keyed_run(
        &self,
        key: &str,
        run: Run,
        lease_to: Option<Lease>,
    ) -> StoreResult<bool> {
        runs::create_keyed(&self.pool, key, &run, lease_to.as_ref()).await
    }

    async fn heartbeat(&self, node: &str) -> StoreResult<Beat> {
        nodes::heartbeat(&self.pool, node).await
    }

    async fn release_dead_nodes(&self, timeout: Millis) -> StoreResult<u64> {
        nodes::release_dead(&self.pool, timeout).await
    }

    async fn probe(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(conn::db_err)?;
        Ok(())
    }

    fn wakeups(&self) -> Option<Wakeups> {
        Some(self.wakeups.clone())
    }

    async fn hold_leadership(&self, name: &str) -> StoreResult<bool> {
        self.leadership.hold(name).await
    }

    async fn pause(&self, pause: Pause) -> StoreResult<Pause> {
        pauses::pause(&self.pool, &pause).await
    }

    async fn resume(&self, scope: PauseScope, target: &str) -> StoreResult<Option<Pause>> {
        pauses::resume(&self.pool, scope, target).await
    }

    async fn list_pauses(&self) -> StoreResult<Vec<Pause>> {
        pauses::list(&self.pool).await
    }

    async fn waiting(&self, scope: PauseScope, target: &str) -> StoreResult<Waiting> {
        pauses::waiting(&self.pool, scope, target).await
    }

    async fn record_rejected(&self, r: RejectedMessage) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        rejected::insert(&mut tx, &r).await?;
        let event = crate::operational::rejected_event(&r);
        operational::insert(&mut tx, &[event]).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn queue_operational(&self, events: Vec<OperationalEvent>) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        operational::insert(&mut conn, &events).await
    }

    async fn pending_operational(&self, limit: usize) -> StoreResult<Vec<OperationalEvent>> {
        operational::pending(&self.pool, limit).await
    }

    async fn forget_operational(&self, ids: Vec<MessageId>) -> StoreResult<()> {
        operational::forget(&self.pool, &ids).await
    }

    async fn disable_failing_endpoints(
        &self,
        failing_before: Millis,
        now: Millis,
    ) -> StoreResult<Vec<EndpointRef>> {
        operational::disable_failing(&self.pool, failing_before, now).await
    }

    async fn list_rejected(
        &self,
        source: Option<String>,
        page: Page,
    ) -> StoreResult<Listed<RejectedMessage>> {
        rejected::list(&self.pool, source, &page).await
    }

    async fn create_alert_rule(&self, rule: AlertRule) -> StoreResult<AlertRule> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        alerts::insert_rule(&mut conn, &rule).await?;
        Ok(rule)
    }

    async fn get_alert_rule(&self, id: &str) -> StoreResult<Option<AlertRule>> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        alerts::get_rule(&mut conn, id).await
    }

    async fn list_alert_rules(&self, page: Page) -> StoreResult<Listed<AlertRule>> {
        alerts::list_rules(&self.pool, &page).await
    }

    async fn update_alert_rule(&self, rule: AlertRule) -> StoreResult<AlertRule> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        alerts::update_rule(&mut conn, &rule).await?;
        alerts::get_rule(&mut conn, &rule.id)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn delete_alert_rule(&self, id: &str) -> StoreResult<()> {
        alerts::delete_rule(&self.pool, id).await
    }

    async fn sync_config_alert_rules(&self, rules: Vec<RuleSpec>, now: Millis) -> StoreResult<()> {
        alerts::sync_config(&self.pool, &rules, now).await
    }

    async fn fire_alert(&self, alert: Alert) -> StoreResult<bool> {
        alerts::fire(&self.pool, &alert).await
    }

    async fn resolve_alert(&self, alert: Alert) -> StoreResult<bool> {
        alerts::resolve(&self.pool, &alert).await
    }

    async fn list_alerts(&self, filter: AlertFilter, page: Page) -> StoreResult<Listed<Alert>> {
        alerts::list_alerts(&self.pool, filter, &page).await
    }

    async fn firing_alerts(&self) -> StoreResult<Vec<Alert>> {
        alerts::firing(&self.pool).await
    }

    async fn record_node(&self, node: NodeSeen) -> StoreResult<()> {
        alerts::record_node(&self.pool, &node).await
    }

    async fn list_nodes(&self) -> StoreResult<Nodes> {
        alerts::list_nodes(&self.pool).await
    }

    async fn create_token(&self, token: ApiToken) -> StoreResult<()> {
        access::insert_token(&self.pool, &token).await
    }

    async fn find_token(&self, token_hash: &str) -> StoreResult<Option<ApiToken>> {
        access::token_where(&self.pool, "token_hash", token_hash).await
    }

    async fn get_token(&self, id: &str) -> StoreResult<Option<ApiToken>> {
        access::token_where(&self.pool, "id", id).await
    }

    async fn list_tokens(&self, page: Page) -> StoreResult<Listed<ApiToken>> {
        access::list_tokens(&self.pool, &page).await
    }

    async fn revoke_token(&self, id: &str, now: Millis) -> StoreResult<()> {
        access::revoke(&self.pool, id, now).await
    }

    async fn touch_token(&self, id: &str, now: Millis) -> StoreResult<()> {
        access::touch(&self.pool, id, now).await
    }

    async fn record_audit(&self, entries: Vec<AuditEntry>) -> StoreResult<()> {
        access::insert_audit(&self.pool, &entries).await
    }

    async fn list_audit(&self, filter: AuditFilter, page: Page) -> StoreResult<Listed<AuditEntry>> {
        access::list_audit(&self.pool, filter, &page).await
    }

    async fn audit_purge(&self, before: Millis) -> StoreResult<u64> {
        access::purge_audit(&self.pool, before).await
    }

    async fn get_meta(&self, key: &str) -> StoreResult<Option<String>> {
        apps::get_meta(&self.pool, key).await
    }

    async fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        apps::set_meta(&self.pool, key, value).await
    }
}
