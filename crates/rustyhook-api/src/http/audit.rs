//! The audit log of API writes: who (token id or `admin`), what (method, route template and its
//! parameters), when, from where, and the answer's status, for every `POST`, `PUT`, `PATCH` and
//! `DELETE` that succeeded.
//!
//! Off the request path: the middleware queues an entry and returns; [`AuditWriter`] stores
//! queued entries in batches, one transaction each. Creating a message
//! (`POST /api/v1/app/{app_id}/msg`, the hot path) is not audited: the message is its own record,
//! and an audit row per message would double the writes of the busiest route. Entries older
//! than `auth.audit_retention` are deleted by [`super::retention`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, MatchedPath, RawPathParams, Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use rustyhook_core::id::AuditId;
use rustyhook_core::time::now_millis;
use rustyhook_store::{AuditEntry, Store};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::auth::Principal;
use crate::state::ApiState;

/// Entries waiting to be stored; past this a write waits for room (the writer is behind).
const QUEUE: usize = 4096;
/// Most entries stored in one transaction.
const BATCH: usize = 512;
/// The route not audited: message creation, recorded as the message itself.
const NOT_AUDITED: &str = "/api/v1/app/{app_id}/msg";

/// Where the API queues audit entries. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditLog {
    queue: mpsc::Sender<AuditEntry>,
    /// Take the caller's address from `X-Forwarded-For` (`auth.trust_forwarded_for`).
    trust_forwarded_for: bool,
}

/// Stores what the API queued; run it with [`AuditWriter::run`].
pub struct AuditWriter {
    queue: mpsc::Receiver<AuditEntry>,
    store: Arc<dyn Store>,
}

impl AuditLog {
    /// A log and the writer that stores it into `store`.
    pub fn new(store: Arc<dyn Store>, trust_forwarded_for: bool) -> (Self, AuditWriter) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (
            Self {
                queue: tx,
                trust_forwarded_for,
            },
            AuditWriter { queue: rx, store },
        )
    }
}

impl AuditWriter {
    /// Stores queued entries in batches until `stop` is cancelled, then stores what is still
    /// queued and returns. Cancel `stop` after the server has stopped, so nothing is left behind.
    pub async fn run(mut self, stop: CancellationToken) {
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            tokio::select! {
                n = self.queue.recv_many(&mut batch, BATCH) => {
                    if n == 0 {
                        return;
                    }
                    self.store_batch(&mut batch).await;
                }
                () = stop.cancelled() => break,
            }
        }
        while let Ok(entry) = self.queue.try_recv() {
            batch.push(entry);
            if batch.len() == BATCH {
                self.store_batch(&mut batch).await;
            }
        }
        self.store_batch(&mut batch).await;
    }

    /// Stores `batch`, trying again a few times while the store is unavailable, and empties it.
    async fn store_batch(&self, batch: &mut Vec<AuditEntry>) {
        if batch.is_empty() {
            return;
        }
        let entries = std::mem::take(batch);
        for attempt in 1..=5u32 {
            match self.store.record_audit(entries.clone()).await {
                Ok(()) => return,
                Err(e) if e.is_transient() && attempt < 5 => {
                    tracing::warn!(error = %e, attempt, "could not store audit entries; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, lost = entries.len(), "could not store audit entries");
                    return;
                }
            }
        }
    }
}

/// The caller's address: the peer, or with a trusted proxy the last address of
/// `X-Forwarded-For` (the one that proxy added; earlier ones are whatever the client sent).
fn address(headers: &HeaderMap, peer: Option<SocketAddr>, trust_forwarded_for: bool) -> String {
    let forwarded = trust_forwarded_for
        .then(|| headers.get("x-forwarded-for")?.to_str().ok())
        .flatten()
        .and_then(|v| v.rsplit(',').next())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    match (forwarded, peer) {
        (Some(f), _) => f.to_owned(),
        (None, Some(p)) => p.ip().to_string(),
        (None, None) => "unknown".into(),
    }
}

/// Queues an entry for each successful write. Runs inside authentication, so the caller's
/// [`Principal`] is known.
pub async fn record_writes(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    if matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| req.uri().path().to_owned());
    if route == NOT_AUDITED && method == Method::POST {
        return next.run(req).await;
    }
    let actor = req
        .extensions()
        .get::<Principal>()
        .map_or_else(|| "unknown".to_owned(), |p| p.actor().to_owned());
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let address = address(req.headers(), peer, state.audit.trust_forwarded_for);
    let (mut parts, body) = req.into_parts();
    let params: serde_json::Map<String, serde_json::Value> =
        match axum::RequestPartsExt::extract::<RawPathParams>(&mut parts).await {
            Ok(raw) => raw
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned().into()))
                .collect(),
            Err(_) => serde_json::Map::new(),
        };
    let response = next.run(Request::from_parts(parts, body)).await;
    if !response.status().is_success() {
        return response;
    }
    let now = now_millis();
    let entry = AuditEntry {
        id: AuditId::generate(now).into(),
        actor,
        method: method.to_string(),
        route,
        resource: serde_json::Value::Object(params).to_string(),
        address,
        status: response.status().as_u16(),
        created_at: now,
    };
    if state.audit.queue.send(entry).await.is_err() {
        tracing::error!("the audit writer has stopped; an API write went unrecorded");
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy_and_its_last_hop_is_taken() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "6.6.6.6, 203.0.113.9".parse().expect("ok"),
        );
        let peer = Some(SocketAddr::from(([10, 0, 0, 2], 4000)));
        assert_eq!(address(&headers, peer, false), "10.0.0.2");
        assert_eq!(address(&headers, peer, true), "203.0.113.9");
        assert_eq!(address(&HeaderMap::new(), peer, true), "10.0.0.2");
    }
}
