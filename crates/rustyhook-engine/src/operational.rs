//! Operational webhooks: publishing operational events as messages of the reserved
//! operational app, disabling endpoints that fail for too long, and keeping the operator's
//! endpoints in step with the config.
//!
//! The store queues an event in the transaction of the change it reports (an outbox); the
//! [`Publisher`] takes queued events and [`Ingest::create`]s each as a message whose id and
//! `eventId` are the event's, then forgets them. A crash between the two publishes the event
//! again, which the `eventId` makes a no-op, so each event becomes exactly one message, and from
//! there it is signed, retried and recorded like any other. Emitting a new kind of event (an
//! alert firing) is one call: [`emit`].

use std::sync::Arc;
use std::time::Duration;

use rustyhook_core::id::{AppId, EndpointId};
use rustyhook_core::model::{App, Endpoint, EndpointSecret, Message};
use rustyhook_core::names::{EventTypeName, Uid};
use rustyhook_core::operational::{
    OPERATIONAL_APP_UID, OperationalEvent, OperationalKind, OperationalWebhookSettings,
};
use rustyhook_core::signing::SigningSecret;
use rustyhook_core::time::{Millis, now_millis};
use rustyhook_store::{Store, StoreError, StoreResult};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::{Dispatcher, Ingest};

/// How often queued events are published.
const TICK: Duration = Duration::from_secs(1);
/// Most events published per tick.
const BATCH: usize = 256;
/// The longest wait between checks for endpoints failing too long.
const MAX_DISABLE_CHECK: Duration = Duration::from_secs(60);
/// The metadata key marking an operational endpoint made from the config.
pub const FROM_CONFIG: &str = "rustyhook.source";

/// Queues one operational event of `kind` carrying `data` (an object with camelCase names),
/// to be delivered to the operator's endpoints that want it.
pub async fn emit(store: &dyn Store, kind: OperationalKind, data: Value) -> StoreResult<()> {
    let event = OperationalEvent::new(kind, data, now_millis());
    store.queue_operational(vec![event]).await
}

/// The operational app, created if missing (on PostgreSQL another node may create it at the
/// same moment: then theirs is used).
pub async fn ensure_app(store: &dyn Store) -> StoreResult<App> {
    if let Some(app) = store.get_app(OPERATIONAL_APP_UID).await? {
        return Ok(app);
    }
    let now = now_millis();
    let app = App {
        id: AppId::generate(now),
        uid: Some(Uid::parse(OPERATIONAL_APP_UID).expect("the operational app's uid is valid")),
        name: "rustyhook operational events".into(),
        rate_limit: None,
        metadata: Default::default(),
        header_style: None,
        created_at: now,
        updated_at: now,
    };
    match store.create_app(app).await {
        Ok(app) => Ok(app),
        Err(StoreError::Conflict(_)) => store
            .get_app(OPERATIONAL_APP_UID)
            .await?
            .ok_or(StoreError::NotFound),
        Err(e) => Err(e),
    }
}

/// Brings the operational app's endpoints in step with `operational_webhooks:`: each entry's
/// endpoint (by uid) is created, or updated where its URL, filter, description or given
/// secret differ; an endpoint the config made earlier whose entry is gone is deleted. Running
/// it again with the same list changes nothing. Endpoints made through the API are left alone.
pub async fn sync_config(
    store: &dyn Store,
    app: &App,
    entries: &[OperationalWebhookSettings],
    max_in_flight: u32,
) -> StoreResult<()> {
    let mut wanted = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let uid = entry.uid_at(i);
        wanted.push(uid.as_str().to_owned());
        let now = now_millis();
        match store.get_endpoint(&app.id, uid.as_str()).await? {
            None => {
                let endpoint = from_config(app, uid, entry, max_in_flight, now);
                match store.create_endpoint(endpoint).await {
                    Ok(_) => {
                        tracing::info!(url = %entry.url.as_str(), "operational webhook endpoint created from the config")
                    }
                    // Another node starting at the same moment created it.
                    Err(StoreError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            Some(mut e) => {
                if apply_config(&mut e, entry) {
                    e.updated_at = now;
                    store.update_endpoint(e).await?;
                    tracing::info!(url = %entry.url.as_str(), "operational webhook endpoint updated from the config");
                }
            }
        }
    }
    let mut page = rustyhook_store::Page::first(1_000, rustyhook_store::Order::Ascending);
    loop {
        let listed = store.list_endpoints(&app.id, page.clone()).await?;
        for e in &listed.items {
            let from_config = e.metadata.get(FROM_CONFIG).is_some_and(|v| v == "config");
            let kept = e
                .uid
                .as_ref()
                .is_some_and(|u| wanted.iter().any(|w| w == u.as_str()));
            if from_config && !kept {
                store.delete_endpoint(&e.id).await?;
                tracing::info!(url = %e.url, "operational webhook endpoint removed: gone from the config");
            }
        }
        match listed.items.last() {
            Some(last) if !listed.done => {
                page.cursor = Some(rustyhook_store::Cursor::After(last.id.to_string()))
            }
            _ => break,
        }
    }
    Ok(())
}

fn from_config(
    app: &App,
    uid: Uid,
    entry: &OperationalWebhookSettings,
    max_in_flight: u32,
    now: Millis,
) -> Endpoint {
    Endpoint {
        id: EndpointId::generate(now),
        app_id: app.id.clone(),
        uid: Some(uid),
        url: entry.url.as_str().to_owned(),
        description: entry.description.clone(),
        version: 1,
        disabled: false,
        rate_limit: None,
        filter_types: entry.filter_types.clone(),
        channels: None,
        metadata: {
            let mut m: std::collections::BTreeMap<_, _> =
                [(FROM_CONFIG.to_owned(), "config".to_owned())].into();
            entry.format.apply(&mut m);
            m
        },
        headers: Default::default(),
        secrets: vec![EndpointSecret {
            secret: entry.secret.clone().unwrap_or_else(SigningSecret::generate),
            expires_at: None,
        }],
        header_style: None,
        max_in_flight,
        created_at: now,
        updated_at: now,
    }
}

/// Applies `entry` to its endpoint; true if anything changed.
fn apply_config(e: &mut Endpoint, entry: &OperationalWebhookSettings) -> bool {
    let before = e.clone();
    e.url = entry.url.as_str().to_owned();
    e.filter_types = entry.filter_types.clone();
    e.description = entry.description.clone();
    e.metadata
        .insert(FROM_CONFIG.to_owned(), "config".to_owned());
    entry.format.apply(&mut e.metadata);
    if let Some(secret) = &entry.secret
        && e.secrets.first().map(|s| &s.secret) != Some(secret)
    {
        e.secrets = vec![EndpointSecret {
            secret: secret.clone(),
            expires_at: None,
        }];
    }
    *e != before
}

/// Publishes queued operational events and disables endpoints failing too long.
pub struct Publisher {
    /// Where events are queued and endpoints kept.
    store: Arc<dyn Store>,
    /// Creates the events' messages.
    ingest: Ingest,
    /// Told when endpoints are disabled, so lanes stop sending at once.
    dispatcher: Dispatcher,
    /// The operational app's id.
    app: AppId,
    /// `delivery.auto_disable_after`; `None` when off.
    auto_disable_after: Option<Duration>,
}

impl Publisher {
    /// A publisher into the operational app `app`.
    pub fn new(
        store: Arc<dyn Store>,
        ingest: Ingest,
        dispatcher: Dispatcher,
        app: AppId,
        auto_disable_after: Duration,
    ) -> Self {
        Self {
            store,
            ingest,
            dispatcher,
            app,
            auto_disable_after: (!auto_disable_after.is_zero()).then_some(auto_disable_after),
        }
    }

    /// Runs until `token` is cancelled.
    pub async fn run(self, token: CancellationToken) {
        let check_every = self
            .auto_disable_after
            .map(|d| (d / 10).clamp(TICK, MAX_DISABLE_CHECK));
        let mut last_check: Option<tokio::time::Instant> = None;
        loop {
            if let Some(every) = check_every
                && last_check.is_none_or(|t| t.elapsed() >= every)
            {
                last_check = Some(tokio::time::Instant::now());
                self.disable_failing().await;
            }
            while matches!(self.publish().await, Ok(n) if n == BATCH) {}
            tokio::select! {
                () = token.cancelled() => break,
                () = tokio::time::sleep(TICK) => {}
            }
        }
        // Whatever is still queued is published by the next start (or another node).
    }

    /// Publishes up to [`BATCH`] queued events; returns how many.
    async fn publish(&self) -> Result<usize, ()> {
        let events =
            self.store.pending_operational(BATCH).await.map_err(
                |e| tracing::warn!(error = %e, "could not read queued operational events"),
            )?;
        let mut published = Vec::with_capacity(events.len());
        for event in events {
            let id = event.id.clone();
            match self.ingest.create(self.message(event)?, None, None).await {
                Ok(_) | Err(StoreError::Conflict(_)) => published.push(id),
                Err(e) => {
                    tracing::warn!(error = %e, "could not publish an operational event; trying again");
                    break;
                }
            }
        }
        let n = published.len();
        if n > 0 {
            self.store.forget_operational(published).await.map_err(
                |e| tracing::warn!(error = %e, "could not forget published operational events"),
            )?;
        }
        Ok(n)
    }

    /// The message `event` becomes: its id and `eventId` are the event's.
    fn message(&self, event: OperationalEvent) -> Result<Message, ()> {
        let event_type = EventTypeName::parse(event.event_type)
            .map_err(|e| tracing::error!(error = %e, "an operational event has a bad type"))?;
        let event_id = Uid::parse(event.id.as_str())
            .map_err(|e| tracing::error!(error = %e, "an operational event has a bad id"))?;
        Ok(Message {
            id: event.id,
            app_id: self.app.clone(),
            event_id: Some(event_id),
            event_type,
            payload: Some(Arc::from(event.payload)),
            channels: None,
            tags: None,
            created_at: event.created_at,
        })
    }

    /// Disables endpoints failing for longer than the setting.
    async fn disable_failing(&self) {
        let Some(after) = self.auto_disable_after else {
            return;
        };
        let now = now_millis();
        let before = now - after.as_millis() as Millis;
        match self.store.disable_failing_endpoints(before, now).await {
            Ok(disabled) => {
                for e in disabled {
                    tracing::warn!(endpoint_id = %e.endpoint_id, app_id = %e.app_id,
                        failing_since = e.failing_since, "endpoint disabled: it failed every attempt for too long");
                    self.dispatcher
                        .endpoint_changed(&EndpointId::from_trusted(e.endpoint_id));
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not check for endpoints failing too long"),
        }
    }
}
