//! sendhooks-engine's Redis format, so a sendhooks user switches by changing one config.
//!
//! Each entry names its own destination (`url`) and a shared secret (`secretHash`) sent verbatim
//! in a header. rustyhook keeps one app per sendhooks source (uid `sendhooks-<source>`) and one
//! endpoint per destination and secret (uid `sh-<digest>`, the secret as an extra header), and
//! stores each entry as a message for that one endpoint, its `webhookId` the idempotency key.
//! From there it is an ordinary delivery: retried, recorded, visible in the API.
//!
//! When a delivery of that app ends — delivered, or dead after its last attempt — a status entry
//! is written to the source's `status_stream` in sendhooks's schema (camelCase, with the older
//! snake_case names too, which the sendhooks-monitoring dashboard reads).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use rustyhook_core::id::{AppId, EndpointId};
use rustyhook_core::model::{App, DeliveryStatus, Endpoint, EndpointSecret};
use rustyhook_core::names::Uid;
use rustyhook_core::signing::SigningSecret;
use rustyhook_core::sources::{RedisSource, SendhooksEvent};
use rustyhook_core::time::{now_millis, to_rfc3339};
use rustyhook_store::{Store, StoreError};

use super::intake::{Incoming, Intake, Kept, Taken, Unavailable, digest};
use crate::dispatcher::{DeliveryObserver, FinishedDelivery};
use crate::ingest::{Publication, PublishError, Published};

/// The event type of sendhooks messages.
const EVENT_TYPE: &str = "sendhooks.webhook";

/// One sendhooks source's app, endpoints and status stream.
#[derive(Clone)]
pub struct Sendhooks {
    inner: Arc<Inner>,
}

struct Inner {
    app_uid: String,
    secret_header: String,
    store: Arc<dyn Store>,
    /// The app's id once known.
    app_id: Mutex<Option<AppId>>,
    /// Endpoint ids by their uid.
    endpoints: Mutex<HashMap<String, EndpointId>>,
    /// Where statuses go: the stream and a connection to its Redis.
    status: Option<(String, String)>,
    status_conn: tokio::sync::OnceCell<ConnectionManager>,
}

impl Sendhooks {
    /// The sendhooks side of the source `name` reading `cfg`.
    pub fn new(name: &str, cfg: &RedisSource, store: Arc<dyn Store>) -> Self {
        Self {
            inner: Arc::new(Inner {
                app_uid: format!("sendhooks-{name}"),
                secret_header: cfg.secret_header.clone(),
                store,
                app_id: Mutex::new(None),
                endpoints: Mutex::new(HashMap::new()),
                status: cfg
                    .status_stream
                    .clone()
                    .map(|stream| (cfg.url.clone(), stream)),
                status_conn: tokio::sync::OnceCell::new(),
            }),
        }
    }

    /// Stores one sendhooks entry as a message for its destination, or rejects it.
    pub async fn take(&self, intake: &Intake, msg: &Incoming) -> Result<Taken, Unavailable> {
        let event = match SendhooksEvent::parse(&msg.fields) {
            Ok(e) => e,
            Err(reason) => {
                intake.reject(msg, &reason).await?;
                return Ok(Taken::Rejected(reason));
            }
        };
        match self.store_event(intake, &event).await {
            Ok(published) => {
                intake.count_kept(msg, Kept::of(&published)).await;
                Ok(Taken::Stored)
            }
            Err(PublishError::Invalid(reason)) => {
                intake.reject(msg, &reason).await?;
                Ok(Taken::Rejected(reason))
            }
            Err(PublishError::Unavailable(why)) => Err(Unavailable(why)),
        }
    }

    async fn store_event(
        &self,
        intake: &Intake,
        event: &SendhooksEvent,
    ) -> Result<Published, PublishError> {
        let app = self.app().await?;
        let endpoint = self.endpoint(&app, event).await?;
        let event_id = match Uid::parse(event.webhook_id.clone()) {
            Ok(_) => event.webhook_id.clone(),
            Err(_) => format!("sh-{}", digest(&[&event.webhook_id])),
        };
        intake
            .ingest()
            .publish(Publication {
                app: app.as_str(),
                event_type: EVENT_TYPE,
                channels: &[],
                payload: &event.data,
                event_id: &event_id,
                endpoint: Some(&endpoint),
            })
            .await
    }

    /// The source's app, created if missing. The source calls it before reading, so statuses
    /// can be matched to the app without a lookup per delivery.
    pub async fn app(&self) -> Result<AppId, PublishError> {
        if let Some(id) = lock(&self.inner.app_id).clone() {
            return Ok(id);
        }
        let store = &self.inner.store;
        let uid = &self.inner.app_uid;
        let found = match store.get_app(uid).await.map_err(unavailable)? {
            Some(app) => app.id,
            None => {
                let now = now_millis();
                let app = App {
                    id: AppId::generate(now),
                    uid: Some(
                        Uid::parse(uid.clone())
                            .map_err(|e| PublishError::Invalid(e.to_string()))?,
                    ),
                    name: format!("sendhooks ({uid})"),
                    rate_limit: None,
                    metadata: BTreeMap::from([("source".into(), "sendhooks".into())]),
                    header_style: None,
                    logo_url: None,
                    created_at: now,
                    updated_at: now,
                };
                match store.create_app(app).await {
                    Ok(app) => app.id,
                    // Another node made it first.
                    Err(StoreError::Conflict(_)) => {
                        store
                            .get_app(uid)
                            .await
                            .map_err(unavailable)?
                            .ok_or_else(|| PublishError::Unavailable("the app vanished".into()))?
                            .id
                    }
                    Err(e) => return Err(unavailable(e)),
                }
            }
        };
        *lock(&self.inner.app_id) = Some(found.clone());
        Ok(found)
    }

    /// The endpoint for the entry's destination and secret, created on first use.
    async fn endpoint(&self, app: &AppId, e: &SendhooksEvent) -> Result<EndpointId, PublishError> {
        let secret = e.secret_hash.as_deref().unwrap_or("");
        let uid = format!("sh-{}", digest(&[&e.url, secret]));
        if let Some(id) = lock(&self.inner.endpoints).get(&uid).cloned() {
            return Ok(id);
        }
        let store = &self.inner.store;
        let id = match store.get_endpoint(app, &uid).await.map_err(unavailable)? {
            Some(ep) => ep.id,
            None => {
                let url = rustyhook_core::names::EndpointUrl::parse(e.url.clone())
                    .map_err(|err| PublishError::Invalid(format!("\"url\": {err}")))?;
                let now = now_millis();
                let mut headers = BTreeMap::new();
                if !secret.is_empty() {
                    headers.insert(self.inner.secret_header.clone(), secret.to_owned());
                }
                let endpoint = Endpoint {
                    id: EndpointId::generate(now),
                    app_id: app.clone(),
                    uid: Some(
                        Uid::parse(uid.clone())
                            .map_err(|err| PublishError::Invalid(err.to_string()))?,
                    ),
                    url: url.into(),
                    description: "sendhooks destination".into(),
                    version: 1,
                    disabled: false,
                    rate_limit: None,
                    filter_types: None,
                    channels: None,
                    metadata: BTreeMap::new(),
                    headers,
                    secrets: vec![EndpointSecret {
                        secret: SigningSecret::generate(),
                        expires_at: None,
                    }],
                    header_style: None,
                    max_in_flight: 32,
                    created_at: now,
                    updated_at: now,
                };
                match store.create_endpoint(endpoint).await {
                    Ok(ep) => ep.id,
                    Err(StoreError::Conflict(_)) => {
                        store
                            .get_endpoint(app, &uid)
                            .await
                            .map_err(unavailable)?
                            .ok_or_else(|| {
                                PublishError::Unavailable("the endpoint vanished".into())
                            })?
                            .id
                    }
                    Err(err) => return Err(unavailable(err)),
                }
            }
        };
        lock(&self.inner.endpoints).insert(uid, id.clone());
        Ok(id)
    }

    async fn status_conn(&self) -> Option<ConnectionManager> {
        let (url, _) = self.inner.status.as_ref()?;
        self.inner
            .status_conn
            .get_or_try_init(|| async {
                let client = redis::Client::open(url.as_str())?;
                client.get_connection_manager().await
            })
            .await
            .map_err(
                |e| tracing::warn!(error = %e, "could not connect to Redis for sendhooks statuses"),
            )
            .ok()
            .cloned()
    }

    async fn write_status(&self, f: FinishedDelivery) {
        let Some((_, stream)) = &self.inner.status else {
            return;
        };
        let Some(mut conn) = self.status_conn().await else {
            return;
        };
        let message = match self
            .inner
            .store
            .get_message(&f.app_id, f.msg_id.as_str())
            .await
        {
            Ok(Some(m)) => m,
            _ => return,
        };
        let webhook_id = message
            .event_id
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default();
        let delivered = f.status == DeliveryStatus::Succeeded;
        let error = if delivered {
            String::new()
        } else {
            format!("status {}: {}", f.status_code, f.response)
        };
        let created = to_rfc3339(message.created_at);
        let finished = if delivered {
            to_rfc3339(f.finished_at)
        } else {
            String::new()
        };
        let failed_tries = if delivered {
            f.attempts.saturating_sub(1)
        } else {
            f.attempts
        };
        let size = message.payload.as_ref().map_or(0, |p| p.len());
        let status = serde_json::json!({
            "webhookId": webhook_id,
            "status": if delivered { "success" } else { "failed" },
            "deliveryError": error,
            "url": f.url,
            "created": created,
            "payloadSize": size,
            "numberOfTries": failed_tries,
            "delivered": finished,
            "webhook_id": webhook_id,
            "delivery_error": error,
            "payload_size": size,
            "number_of_tries": failed_tries,
        });
        let written: redis::RedisResult<String> = conn
            .xadd(stream, "*", &[("data", status.to_string())])
            .await;
        if let Err(e) = written {
            tracing::warn!(error = %e, webhook_id, "could not write a sendhooks status");
        }
    }
}

#[async_trait]
impl DeliveryObserver for Sendhooks {
    fn wants(&self, app: &AppId) -> bool {
        self.inner.status.is_some() && lock(&self.inner.app_id).as_ref() == Some(app)
    }

    async fn finished(&self, f: FinishedDelivery) {
        self.write_status(f).await;
    }
}

impl std::fmt::Debug for Sendhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sendhooks({})", self.inner.app_uid)
    }
}

fn unavailable(e: StoreError) -> PublishError {
    PublishError::Unavailable(e.to_string())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
