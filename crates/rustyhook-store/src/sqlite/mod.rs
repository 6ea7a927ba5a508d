//! The embedded store: one SQLite file in WAL mode.
//!
//! Only one process may use a database file at a time (an exclusive lock on `<file>.lock` holds
//! that), so on open every delivery lease left by a previous process — one that crashed mid-flight
//! — is released and its deliveries become due again. That is what makes a `kill -9` lose nothing.

mod access;
mod alerts;
mod apps;
mod attempts;
mod conn;
mod deliveries;
mod endpoints;
mod fanout;
mod list;
mod messages;
mod operational;
mod pauses;
mod rejected;
mod rows;
mod runs;
mod schema;
mod stats;
mod tasks;

use std::fs::File;
use std::path::Path;

use async_trait::async_trait;
use rustyhook_core::alert::{Alert, AlertRule, RuleSpec};
use rustyhook_core::crypto::SecretBox;
use rustyhook_core::id::{AppId, AttemptId, EndpointId, MessageId, RunId};
use rustyhook_core::model::{App, Attempt, Delivery, DeliveryStatus, Endpoint, EventType, Message};
use rustyhook_core::operational::{EndpointRef, OperationalEvent, OperationalKind};
use rustyhook_core::run::{Run, RunAttempt};
use rustyhook_core::stats::{Bucket, Counts, Scope, Width};
use rustyhook_core::time::{Millis, now_millis};

use self::conn::Db;
use self::fanout::FanoutCache;
use crate::page::{Listed, Page};
use crate::*;

/// How to open the SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// `synchronous=FULL` (survives power loss) when true; `NORMAL` (survives a process crash)
    /// when false.
    pub full_sync: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self { full_sync: true }
    }
}

/// The SQLite implementation of [`Store`].
pub struct SqliteStore {
    db: Db,
    sbox: SecretBox,
    /// Each app's enabled endpoints, for fan-out; used only inside write jobs.
    fanout: FanoutCache,
    /// Held for the store's lifetime: the exclusive lock on the database.
    _lock: File,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, migrates it and releases stale leases.
    /// Fails if another process has it open.
    pub fn open(path: &Path, sbox: SecretBox, options: SqliteOptions) -> StoreResult<Self> {
        let lock_path = path.with_extension("lock");
        let lock = File::create(&lock_path).map_err(|e| StoreError::Database(Box::new(e)))?;
        if lock.try_lock().is_err() {
            return Err(StoreError::Database(
                format!(
                    "{} is in use by another rustyhook process (lock {} is held)",
                    path.display(),
                    lock_path.display()
                )
                .into(),
            ));
        }
        let fanout = FanoutCache::default();
        let on_rollback = {
            let fanout = fanout.clone();
            move || fanout.clear()
        };
        let db = Db::open(
            path,
            options.full_sync,
            |conn| {
                schema::migrate(conn)?;
                let released = deliveries::release_all(conn)?;
                if released > 0 {
                    tracing::info!(released, "released deliveries leased by a previous process");
                }
                Ok(())
            },
            on_rollback,
        )?;
        Ok(Self {
            db,
            sbox,
            fanout,
            _lock: lock,
        })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_runs(&self, new: Vec<Run>, lease_to: Option<Lease>) -> StoreResult<()> {
        self.db
            .write(move |c| {
                new.iter()
                    .try_for_each(|r| runs::insert(c, r, lease_to.as_ref()))
            })
            .await
    }

    async fn create_tick_runs(
        &self,
        key: &str,
        tick: Millis,
        new: Vec<Run>,
        lease_to: Option<Lease>,
    ) -> StoreResult<bool> {
        let key = key.to_owned();
        self.db
            .write(move |c| runs::create_tick(c, &key, tick, &new, lease_to.as_ref()))
            .await
    }

    async fn create_keyed_run(
        &self,
        key: &str,
        run: Run,
        lease_to: Option<Lease>,
    ) -> StoreResult<bool> {
        let key = key.to_owned();
        self.db
            .write(move |c| runs::create_keyed(c, &key, &run, lease_to.as_ref()))
            .await
    }

    /// One process owns the file: there are no other nodes to tell about.
    async fn heartbeat(&self, _node: &str) -> StoreResult<Beat> {
        Ok(Beat {
            at: now_millis(),
            known: true,
        })
    }

    /// Leases of a previous process were released on open; no other process can hold one.
    async fn release_dead_nodes(&self, _timeout: Millis) -> StoreResult<u64> {
        Ok(0)
    }

    /// A write, through the group commit like every other: a full disk shows only on writes.
    async fn probe(&self) -> StoreResult<()> {
        let now = now_millis();
        self.db
            .write(move |c| apps::set_meta(c, "probe", &now.to_string()))
            .await
    }

    /// Only this process writes: its own code knows when it made work due.
    fn wakeups(&self) -> Option<Wakeups> {
        None
    }

    /// The only process on the file leads everything.
    async fn hold_leadership(&self, _name: &str) -> StoreResult<bool> {
        Ok(true)
    }

    async fn get_run(&self, id: &str) -> StoreResult<Option<Run>> {
        let id = id.to_owned();
        self.db.read(move |c| runs::get(c, &id)).await
    }

    async fn list_runs(
        &self,
        handler: Option<String>,
        status: Option<DeliveryStatus>,
        page: Page,
    ) -> StoreResult<Listed<Run>> {
        self.db
            .read(move |c| runs::list(c, handler, status, &page))
            .await
    }

    async fn list_run_attempts(&self, run: &RunId, page: Page) -> StoreResult<Listed<RunAttempt>> {
        let run = run.clone();
        self.db
            .read(move |c| runs::list_attempts(c, &run, &page))
            .await
    }

    async fn start_run(&self, id: &RunId, now: Millis) -> StoreResult<()> {
        let id = id.clone();
        self.db.write(move |c| runs::start(c, &id, now)).await
    }

    async fn handlers_busy(&self, handlers: Vec<String>, except: &RunId) -> StoreResult<bool> {
        let except = except.clone();
        self.db
            .read(move |c| runs::busy(c, &handlers, &except))
            .await
    }

    async fn count_open_runs(&self, handler: &str) -> StoreResult<OpenRuns> {
        let handler = handler.to_owned();
        self.db.read(move |c| runs::count_open(c, &handler)).await
    }

    async fn exports(&self) -> StoreResult<Vec<(String, String)>> {
        self.db.read(runs::exports).await
    }

    async fn create_app(&self, app: App) -> StoreResult<App> {
        self.db
            .write(move |c| apps::insert_app(c, &app).map(|()| app))
            .await
    }

    async fn get_app(&self, id_or_uid: &str) -> StoreResult<Option<App>> {
        let key = id_or_uid.to_owned();
        self.db.read(move |c| apps::get_app(c, &key)).await
    }

    async fn list_apps(&self, page: Page, with_endpoints_only: bool) -> StoreResult<Listed<App>> {
        self.db
            .read(move |c| apps::list_apps(c, &page, with_endpoints_only))
            .await
    }

    async fn update_app(&self, app: App) -> StoreResult<App> {
        self.db
            .write(move |c| apps::update_app(c, &app).map(|()| app))
            .await
    }

    async fn delete_app(&self, id: &AppId) -> StoreResult<()> {
        let (id, fanout) = (id.clone(), self.fanout.clone());
        self.db
            .write(move |c| {
                fanout.forget(&id);
                apps::delete_app(c, &id)
            })
            .await
    }

    async fn upsert_event_type(&self, event_type: EventType) -> StoreResult<bool> {
        self.db
            .write(move |c| apps::upsert_event_type(c, &event_type))
            .await
    }

    async fn get_event_type(&self, name: &str) -> StoreResult<Option<EventType>> {
        let name = name.to_owned();
        self.db.read(move |c| apps::get_event_type(c, &name)).await
    }

    async fn list_event_types(
        &self,
        page: Page,
        include_archived: bool,
    ) -> StoreResult<Listed<EventType>> {
        self.db
            .read(move |c| apps::list_event_types(c, &page, include_archived))
            .await
    }

    async fn delete_event_type(&self, name: &str) -> StoreResult<()> {
        let name = name.to_owned();
        self.db
            .write(move |c| apps::delete_event_type(c, &name))
            .await
    }

    async fn create_endpoint(&self, endpoint: Endpoint) -> StoreResult<Endpoint> {
        let (sbox, fanout) = (self.sbox.clone(), self.fanout.clone());
        self.db
            .write(move |c| {
                fanout.forget(&endpoint.app_id);
                endpoints::insert(c, &endpoint, &sbox)?;
                let created = [OperationalKind::EndpointCreated];
                operational::endpoint_events(c, &created, &endpoint, endpoint.updated_at)?;
                Ok(endpoint)
            })
            .await
    }

    async fn get_endpoint(&self, app: &AppId, id_or_uid: &str) -> StoreResult<Option<Endpoint>> {
        let (app, key, sbox) = (app.clone(), id_or_uid.to_owned(), self.sbox.clone());
        self.db
            .read(move |c| endpoints::get(c, &app, &key, &sbox))
            .await
    }

    async fn get_endpoint_by_id(&self, id: &EndpointId) -> StoreResult<Option<Endpoint>> {
        let (id, sbox) = (id.clone(), self.sbox.clone());
        self.db
            .read(move |c| endpoints::get_by_id(c, &id, &sbox))
            .await
    }

    async fn list_endpoints(&self, app: &AppId, page: Page) -> StoreResult<Listed<Endpoint>> {
        let (app, sbox) = (app.clone(), self.sbox.clone());
        self.db
            .read(move |c| endpoints::list(c, &app, &page, &sbox))
            .await
    }

    async fn update_endpoint(&self, endpoint: Endpoint) -> StoreResult<Endpoint> {
        let (sbox, fanout) = (self.sbox.clone(), self.fanout.clone());
        self.db
            .write(move |c| {
                fanout.forget(&endpoint.app_id);
                let before = operational::was_disabled(c, &endpoint)?;
                endpoints::update(c, &endpoint, &sbox)?;
                if before == Some(true) && !endpoint.disabled {
                    operational::clear_failing(c, &endpoint)?;
                }
                let kinds = crate::operational::update_kinds(before == Some(true), &endpoint);
                operational::endpoint_events(c, &kinds, &endpoint, endpoint.updated_at)?;
                Ok(endpoint)
            })
            .await
    }

    async fn delete_endpoint(&self, id: &EndpointId) -> StoreResult<()> {
        let (id, fanout, sbox) = (id.clone(), self.fanout.clone(), self.sbox.clone());
        self.db
            .write(move |c| {
                fanout.clear();
                let now = now_millis();
                let gone = endpoints::get_by_id(c, &id, &sbox)?;
                endpoints::delete(c, &id, now)?;
                match gone {
                    Some(e) => {
                        let deleted = [OperationalKind::EndpointDeleted];
                        operational::endpoint_events(c, &deleted, &e, now)
                    }
                    None => Ok(()),
                }
            })
            .await
    }

    async fn endpoint_stats(
        &self,
        id: &EndpointId,
        since: Option<Millis>,
        until: Option<Millis>,
    ) -> StoreResult<EndpointStats> {
        let id = id.clone();
        self.db
            .read(move |c| endpoints::stats(c, &id, since, until))
            .await
    }

    async fn create_message(&self, new: NewMessage) -> StoreResult<MessageCreated> {
        let (sbox, fanout) = (self.sbox.clone(), self.fanout.clone());
        self.db
            .write(move |c| messages::create(c, &new, &sbox, &fanout))
            .await
    }

    async fn get_message(&self, app: &AppId, id_or_event_id: &str) -> StoreResult<Option<Message>> {
        let (app, key) = (app.clone(), id_or_event_id.to_owned());
        self.db.read(move |c| messages::get(c, &app, &key)).await
    }

    async fn list_messages(
        &self,
        app: &AppId,
        filter: MessageFilter,
        page: Page,
    ) -> StoreResult<Listed<Message>> {
        let app = app.clone();
        self.db
            .read(move |c| messages::list(c, &app, filter, &page))
            .await
    }

    async fn expunge_message(&self, id: &MessageId) -> StoreResult<()> {
        let id = id.clone();
        self.db.write(move |c| messages::expunge(c, &id)).await
    }

    async fn list_endpoint_messages(
        &self,
        endpoint: &EndpointId,
        status: Option<u8>,
        filter: MessageFilter,
        page: Page,
    ) -> StoreResult<Listed<EndpointMessage>> {
        let endpoint = endpoint.clone();
        self.db
            .read(move |c| messages::list_for_endpoint(c, &endpoint, status, filter, &page))
            .await
    }

    async fn list_message_deliveries(
        &self,
        msg: &MessageId,
        page: Page,
    ) -> StoreResult<Listed<(Delivery, Endpoint)>> {
        let (msg, sbox) = (msg.clone(), self.sbox.clone());
        self.db
            .read(move |c| deliveries::list_for_message(c, &msg, &page, &sbox))
            .await
    }

    async fn claim_due(&self, lease: &Lease, now: Millis, limit: usize) -> StoreResult<Vec<Due>> {
        let lease = lease.clone();
        self.db
            .write(move |c| deliveries::claim_due(c, &lease, now, limit))
            .await
    }

    async fn next_due(&self) -> StoreResult<Option<Millis>> {
        self.db.read(deliveries::next_due).await
    }

    async fn record_attempts(&self, records: Vec<AttemptRecord>) -> StoreResult<()> {
        let fanout = self.fanout.clone();
        // Counted and encoded here, on the caller's thread: every write queues on the one
        // writer thread, so it is left only what must run in the transaction.
        let mut tally = crate::stats::Tally::default();
        let records: Vec<_> = records
            .into_iter()
            .map(|r| {
                tally.attempt(&r);
                let headers = match &r.attempt {
                    Attempted::Endpoint(a) => a.request_headers.as_ref().map(crate::rows::to_json),
                    Attempted::Handler { .. } => None,
                };
                (r, headers)
            })
            .collect();
        self.db
            .write(move |c| {
                records.iter().try_for_each(|(r, headers)| {
                    if let Attempted::Endpoint(a) = &r.attempt
                        && r.disable_endpoint
                    {
                        fanout.forget(&a.app_id);
                    }
                    deliveries::record_attempt(c, r, headers.as_deref())
                })?;
                stats::apply(&tally);
                Ok(())
            })
            .await
    }

    async fn release(
        &self,
        node: &str,
        work: Vec<(WorkId, i64)>,
        due_at: Option<Millis>,
    ) -> StoreResult<()> {
        let node = node.to_owned();
        self.db
            .write(move |c| deliveries::release(c, &node, &work, due_at))
            .await
    }

    async fn resend(&self, msg: &Message, endpoint: &Endpoint, now: Millis) -> StoreResult<()> {
        let (msg, endpoint) = (msg.clone(), endpoint.clone());
        self.db
            .write(move |c| deliveries::resend(c, &msg, &endpoint, now))
            .await
    }

    async fn list_dead_letters(
        &self,
        filter: DeadLetterFilter,
        page: DeadPage,
    ) -> StoreResult<Listed<DeadLetter>> {
        self.db
            .read(move |c| deliveries::list_dead(c, filter, &page))
            .await
    }

    async fn recover_dead_letters(
        &self,
        filter: DeadLetterFilter,
        now: Millis,
        limit: usize,
    ) -> StoreResult<u64> {
        let statement = crate::dead::recover(filter, now, limit, &deliveries::DEAD_DIALECT);
        self.db.write(move |c| list::execute(c, statement)).await
    }

    async fn resend_failed(
        &self,
        app: &AppId,
        msgs: Vec<MessageId>,
        now: Millis,
    ) -> StoreResult<u64> {
        let msgs = msgs.into_iter().map(String::from).collect();
        let statement = crate::dead::resend_failed(app, msgs, now);
        self.db.write(move |c| list::execute(c, statement)).await
    }

    async fn recover(
        &self,
        target: &Target,
        since: Millis,
        until: Option<Millis>,
        now: Millis,
    ) -> StoreResult<u64> {
        let target = target.clone();
        self.db
            .write(move |c| deliveries::recover(c, &target, since, until, now))
            .await
    }

    async fn stats_series(
        &self,
        scope: &Scope,
        width: Width,
        since: Millis,
        until: Millis,
    ) -> StoreResult<Vec<Bucket>> {
        let scope = scope.clone();
        // What is pending first, so the read counts every write that returned before it.
        self.db.write(stats::fold).await?;
        self.db
            .read(move |c| stats::series(c, &scope, width, since, until))
            .await
    }

    async fn stats_top(
        &self,
        kind: &str,
        width: Width,
        since: Millis,
        until: Millis,
        limit: usize,
    ) -> StoreResult<Vec<(String, Counts)>> {
        let kind = kind.to_owned();
        self.db.write(stats::fold).await?;
        self.db
            .read(move |c| stats::top(c, &kind, (width, since, until), limit))
            .await
    }

    async fn queue_now(&self) -> StoreResult<QueueNow> {
        self.db.read(stats::queue_now).await
    }

    async fn stats_sample(&self, now: Millis) -> StoreResult<QueueNow> {
        self.db.write(move |c| stats::sample(c, now)).await
    }

    async fn count_source(&self, source: &str, taken: SourceTaken, at: Millis) -> StoreResult<()> {
        let mut tally = crate::stats::Tally::default();
        tally.source(source, taken, at);
        self.db
            .write(move |_| {
                stats::apply(&tally);
                Ok(())
            })
            .await
    }

    async fn sample_source_lag(&self, source: &str, lag: u64, at: Millis) -> StoreResult<()> {
        let mut tally = crate::stats::Tally::default();
        tally.source_lag(source, lag, at);
        self.db
            .write(move |_| {
                stats::apply(&tally);
                Ok(())
            })
            .await
    }

    async fn stats_purge(&self, width: Width, before: Millis) -> StoreResult<u64> {
        self.db.write(move |c| stats::purge(c, width, before)).await
    }

    async fn recover_endpoint(
        &self,
        endpoint: &Endpoint,
        since: Millis,
        until: Option<Millis>,
        now: Millis,
    ) -> StoreResult<BackgroundTask> {
        let endpoint = endpoint.clone();
        self.db
            .write(move |c| tasks::recover_endpoint(c, &endpoint, since, until, now))
            .await
    }

    async fn replay_missing(
        &self,
        endpoint: &Endpoint,
        since: Millis,
        until: Option<Millis>,
        now: Millis,
        limit: usize,
    ) -> StoreResult<BackgroundTask> {
        let endpoint = endpoint.clone();
        self.db
            .write(move |c| {
                let replay = crate::query::Replay {
                    endpoint: &endpoint,
                    since,
                    until,
                    now,
                    limit,
                };
                tasks::replay_missing(c, &replay)
            })
            .await
    }

    async fn get_task(&self, id: &str) -> StoreResult<Option<BackgroundTask>> {
        let id = id.to_owned();
        self.db.read(move |c| tasks::get(c, &id)).await
    }

    async fn list_tasks(
        &self,
        filter: TaskFilter,
        page: Page,
    ) -> StoreResult<Listed<BackgroundTask>> {
        self.db.read(move |c| tasks::list(c, filter, &page)).await
    }

    async fn task_purge(&self, before: Millis) -> StoreResult<u64> {
        self.db.write(move |c| tasks::purge(c, before)).await
    }

    async fn list_attempts(
        &self,
        app: &AppId,
        filter: AttemptFilter,
        page: Page,
    ) -> StoreResult<Listed<Attempt>> {
        let app = app.clone();
        self.db
            .read(move |c| attempts::list(c, &app, filter, &page))
            .await
    }

    async fn get_attempt(&self, msg: &MessageId, id: &str) -> StoreResult<Option<Attempt>> {
        let (msg, id) = (msg.clone(), id.to_owned());
        self.db.read(move |c| attempts::get(c, &msg, &id)).await
    }

    async fn expunge_attempt(&self, id: &AttemptId) -> StoreResult<()> {
        let id = id.clone();
        self.db.write(move |c| attempts::expunge(c, &id)).await
    }

    async fn feed(&self, query: FeedQuery) -> StoreResult<Vec<FeedEntry>> {
        self.db
            .read(move |c| {
                let attempts = list::select(c, feed::statement(&query), |r| feed::feed_row(r))?;
                let changes = match feed::changes_statement(&query) {
                    Some(s) => list::select(c, s, |r| feed::change_row(r))?,
                    None => Vec::new(),
                };
                Ok(feed::merge(attempts, changes, query.limit))
            })
            .await
    }

    async fn feed_purge(&self, before: Millis) -> StoreResult<u64> {
        self.db
            .write(move |c| list::execute(c, feed::purge_changes(before)))
            .await
    }

    async fn feed_endpoint_change(
        &self,
        endpoint_id: &EndpointId,
        change: &str,
        detail: &str,
        at: Millis,
    ) -> StoreResult<()> {
        let change = feed::change_of_endpoint(endpoint_id.as_str(), change, Some(detail), at);
        self.db.write(move |c| list::execute(c, change)).await?;
        Ok(())
    }

    async fn idempotency_begin(
        &self,
        key: &str,
        now: Millis,
        stale_before: Millis,
        expire_before: Millis,
    ) -> StoreResult<IdempotencyBegin> {
        let key = key.to_owned();
        let found = self
            .db
            .write(move |c| apps::idempotency_begin(c, &key, now, stale_before, expire_before))
            .await?;
        crate::rows::open_response(found, &self.sbox)
    }

    async fn idempotency_complete(&self, key: &str, status: u16, body: Vec<u8>) -> StoreResult<()> {
        let key = key.to_owned();
        let body = crate::rows::seal_response(&body, &self.sbox);
        self.db
            .write(move |c| apps::idempotency_complete(c, &key, status, &body))
            .await
    }

    async fn idempotency_abandon(&self, key: &str) -> StoreResult<()> {
        let key = key.to_owned();
        self.db
            .write(move |c| apps::idempotency_abandon(c, &key))
            .await
    }

    async fn idempotency_purge(&self, expire_before: Millis) -> StoreResult<u64> {
        self.db
            .write(move |c| apps::idempotency_purge(c, expire_before))
            .await
    }

    async fn pause(&self, pause: Pause) -> StoreResult<Pause> {
        self.db.write(move |c| pauses::pause(c, &pause)).await
    }

    async fn resume(&self, scope: PauseScope, target: &str) -> StoreResult<Option<Pause>> {
        let target = target.to_owned();
        self.db
            .write(move |c| pauses::resume(c, scope, &target))
            .await
    }

    async fn list_pauses(&self) -> StoreResult<Vec<Pause>> {
        self.db.read(pauses::list).await
    }

    async fn waiting(&self, scope: PauseScope, target: &str) -> StoreResult<Waiting> {
        let target = target.to_owned();
        self.db
            .read(move |c| pauses::waiting(c, scope, &target))
            .await
    }

    async fn record_rejected(&self, r: RejectedMessage) -> StoreResult<()> {
        self.db
            .write(move |c| {
                rejected::insert(c, &r)?;
                operational::insert(c, &[crate::operational::rejected_event(&r)])
            })
            .await
    }

    async fn queue_operational(&self, events: Vec<OperationalEvent>) -> StoreResult<()> {
        self.db
            .write(move |c| operational::insert(c, &events))
            .await
    }

    async fn pending_operational(&self, limit: usize) -> StoreResult<Vec<OperationalEvent>> {
        self.db.read(move |c| operational::pending(c, limit)).await
    }

    async fn forget_operational(&self, ids: Vec<MessageId>) -> StoreResult<()> {
        self.db.write(move |c| operational::forget(c, &ids)).await
    }

    async fn disable_failing_endpoints(
        &self,
        failing_before: Millis,
        now: Millis,
    ) -> StoreResult<Vec<EndpointRef>> {
        let fanout = self.fanout.clone();
        self.db
            .write(move |c| {
                let disabled = operational::disable_failing(c, failing_before, now)?;
                if !disabled.is_empty() {
                    fanout.clear();
                }
                Ok(disabled)
            })
            .await
    }

    async fn list_rejected(
        &self,
        source: Option<String>,
        page: Page,
    ) -> StoreResult<Listed<RejectedMessage>> {
        self.db
            .read(move |c| rejected::list(c, source, &page))
            .await
    }

    async fn create_alert_rule(&self, rule: AlertRule) -> StoreResult<AlertRule> {
        self.db
            .write(move |c| {
                alerts::insert_rule(c, &rule)?;
                Ok(rule)
            })
            .await
    }

    async fn get_alert_rule(&self, id: &str) -> StoreResult<Option<AlertRule>> {
        let id = id.to_owned();
        self.db.read(move |c| alerts::get_rule(c, &id)).await
    }

    async fn list_alert_rules(&self, page: Page) -> StoreResult<Listed<AlertRule>> {
        self.db.read(move |c| alerts::list_rules(c, &page)).await
    }

    async fn update_alert_rule(&self, rule: AlertRule) -> StoreResult<AlertRule> {
        self.db
            .write(move |c| {
                alerts::update_rule(c, &rule)?;
                alerts::get_rule(c, &rule.id)?.ok_or(StoreError::NotFound)
            })
            .await
    }

    async fn delete_alert_rule(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.db.write(move |c| alerts::delete_rule(c, &id)).await
    }

    async fn sync_config_alert_rules(&self, rules: Vec<RuleSpec>, now: Millis) -> StoreResult<()> {
        self.db
            .write(move |c| alerts::sync_config(c, &rules, now))
            .await
    }

    async fn fire_alert(&self, alert: Alert) -> StoreResult<bool> {
        self.db.write(move |c| alerts::fire(c, &alert)).await
    }

    async fn resolve_alert(&self, alert: Alert) -> StoreResult<bool> {
        self.db.write(move |c| alerts::resolve(c, &alert)).await
    }

    async fn list_alerts(&self, filter: AlertFilter, page: Page) -> StoreResult<Listed<Alert>> {
        self.db
            .read(move |c| alerts::list_alerts(c, filter, &page))
            .await
    }

    async fn firing_alerts(&self) -> StoreResult<Vec<Alert>> {
        self.db.read(alerts::firing).await
    }

    async fn record_node(&self, node: NodeSeen) -> StoreResult<()> {
        self.db
            .write(move |c| alerts::record_node(c, &node, now_millis()))
            .await
    }

    async fn list_nodes(&self) -> StoreResult<Nodes> {
        self.db
            .read(move |c| alerts::list_nodes(c, now_millis()))
            .await
    }

    async fn create_token(&self, token: ApiToken) -> StoreResult<()> {
        self.db
            .write(move |c| access::insert_token(c, &token))
            .await
    }

    async fn find_token(&self, token_hash: &str) -> StoreResult<Option<ApiToken>> {
        let hash = token_hash.to_owned();
        self.db
            .read(move |c| access::token_where(c, "token_hash", &hash))
            .await
    }

    async fn get_token(&self, id: &str) -> StoreResult<Option<ApiToken>> {
        let id = id.to_owned();
        self.db
            .read(move |c| access::token_where(c, "id", &id))
            .await
    }

    async fn list_tokens(&self, page: Page) -> StoreResult<Listed<ApiToken>> {
        self.db.read(move |c| access::list_tokens(c, &page)).await
    }

    async fn revoke_token(&self, id: &str, now: Millis) -> StoreResult<()> {
        let id = id.to_owned();
        self.db.write(move |c| access::revoke(c, &id, now)).await
    }

    async fn touch_token(&self, id: &str, now: Millis) -> StoreResult<()> {
        let id = id.to_owned();
        self.db.write(move |c| access::touch(c, &id, now)).await
    }

    async fn record_audit(&self, entries: Vec<AuditEntry>) -> StoreResult<()> {
        self.db
            .write(move |c| access::insert_audit(c, &entries))
            .await
    }

    async fn list_audit(&self, filter: AuditFilter, page: Page) -> StoreResult<Listed<AuditEntry>> {
        self.db
            .read(move |c| access::list_audit(c, filter, &page))
            .await
    }

    async fn audit_purge(&self, before: Millis) -> StoreResult<u64> {
        self.db.write(move |c| access::purge_audit(c, before)).await
    }

    async fn get_meta(&self, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_owned();
        self.db.read(move |c| apps::get_meta(c, &key)).await
    }

    async fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.db
            .write(move |c| apps::set_meta(c, &key, &value))
            .await
    }
}
