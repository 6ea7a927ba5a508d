//! The HTTP calls the load generator makes: rustyhook's API (create the app and endpoint,
//! post messages), its `/metrics`, and the benchmark receiver's `/stats`, `/arrivals` and
//! `/reset`. Everything goes to loopback addresses given on the command line.
//!
//! rustyhook may be several nodes sharing one PostgreSQL database: messages then go to the
//! nodes in turn, the app and endpoint are created once through the first node (every node
//! reads them from the shared database), and `/metrics`, which is per node, is summed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use reqwest::StatusCode;
use serde::Deserialize;

/// The app every benchmark message is posted to.
pub const APP_UID: &str = "bench";

/// One or more rustyhook nodes and a receiver, reached through one connection pool.
pub struct Target {
    /// Keep-alive HTTP/1.1 pool shared by every task of a run.
    client: reqwest::Client,
    /// rustyhook's base URLs, one per node, e.g. `http://127.0.0.1:8071`; never empty.
    apis: Vec<String>,
    /// How many messages were posted so far: the next one goes to `apis[next % len]`.
    next_api: AtomicUsize,
    /// The admin bearer token.
    token: String,
    /// The receiver's base URL, e.g. `http://127.0.0.1:9000`.
    receiver: String,
}

/// The counters of rustyhook's `/metrics` the benchmark reads.
/// Summed over nodes by [`Target::metrics`] (the gauges too: each node counts its own).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// `rustyhook_attempts_total{outcome="OK"}`: successful attempts, process-wide.
    pub attempts_ok: u64,
    /// Attempts with any other outcome (timeouts, connection errors, non-2xx).
    pub attempts_other: u64,
    /// `rustyhook_queue_depth`: deliveries not yet finished, as the store counts them.
    pub queue_depth: Option<f64>,
    /// `rustyhook_dispatcher_queued`: deliveries held in the dispatcher's memory.
    pub dispatcher_queued: Option<f64>,
    /// `rustyhook_source_messages_total{outcome="stored"}`, over every broker source.
    pub source_stored: u64,
    /// `rustyhook_source_messages_total{outcome="rejected"}`, over every broker source.
    pub source_rejected: u64,
}

/// The receiver's `/stats`.
#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub struct ReceiverStats {
    /// Every `POST /hook` since the last reset.
    pub requests: u64,
    /// Distinct `webhook-id`s seen.
    pub distinct: u64,
    /// Requests whose `webhook-id` had been seen already.
    pub duplicates: u64,
    /// Sum of the request bodies' sizes.
    pub body_bytes: u64,
}

impl Metrics {
    /// The sum of several nodes' figures.
    pub fn total(nodes: &[Metrics]) -> Metrics {
        let mut sum = Metrics::default();
        for node in nodes {
            sum.add(node);
        }
        sum
    }

    /// Adds another node's figures to these; a gauge absent on both stays `None`.
    pub fn add(&mut self, other: &Metrics) {
        let sum = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
        };
        self.attempts_ok += other.attempts_ok;
        self.attempts_other += other.attempts_other;
        self.source_stored += other.source_stored;
        self.source_rejected += other.source_rejected;
        self.queue_depth = sum(self.queue_depth, other.queue_depth);
        self.dispatcher_queued = sum(self.dispatcher_queued, other.dispatcher_queued);
    }
}

#[derive(Deserialize)]
struct MessageOut {
    id: String,
}

#[derive(Deserialize)]
struct EndpointOut {
    id: String,
}

impl Target {
    /// A client for the rustyhook nodes at `apis` (at least one) and the receiver at
    /// `receiver`.
    pub fn new(apis: &[String], token: &str, receiver: &str) -> anyhow::Result<Self> {
        if apis.is_empty() {
            bail!("no rustyhook URL given");
        }
        let client = reqwest::Client::builder()
            .http1_only()
            .no_proxy()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(1024)
            .timeout(Duration::from_secs(120))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            client,
            apis: apis
                .iter()
                .map(|api| api.trim_end_matches('/').to_owned())
                .collect(),
            next_api: AtomicUsize::new(0),
            token: token.to_owned(),
            receiver: receiver.trim_end_matches('/').to_owned(),
        })
    }

    /// How many rustyhook nodes messages are spread over.
    pub fn nodes(&self) -> usize {
        self.apis.len()
    }

    /// The node that setup goes through.
    fn first_api(&self) -> &str {
        &self.apis[0]
    }

    /// The node the next message goes to: each in turn.
    fn next_api(&self) -> &str {
        &self.apis[self.next_api.fetch_add(1, Ordering::Relaxed) % self.apis.len()]
    }

    /// Waits until `GET /api/v1/health` answers 2xx on every node, or fails after `timeout`.
    pub async fn wait_healthy(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        for api in &self.apis {
            let url = format!("{api}/api/v1/health");
            loop {
                if let Ok(r) = self.client.get(&url).send().await
                    && r.status().is_success()
                {
                    break;
                }
                if Instant::now() > deadline {
                    bail!("rustyhook at {api} was not healthy within {timeout:?}");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    /// Creates the `bench` app (if missing) and an endpoint on it, through the first node;
    /// returns the endpoint id.
    pub async fn setup(
        &self,
        endpoint_url: &str,
        rate_limit: Option<u32>,
    ) -> anyhow::Result<String> {
        let app = self
            .client
            .post(format!("{}/api/v1/app", self.first_api()))
            .bearer_auth(&self.token)
            .json(&serde_json::json!({"name": APP_UID, "uid": APP_UID}))
            .send()
            .await
            .context("creating the bench app")?;
        if app.status() != StatusCode::CREATED && app.status() != StatusCode::CONFLICT {
            bail!(
                "creating the app: {} {}",
                app.status(),
                app.text().await.unwrap_or_default()
            );
        }
        let mut body = serde_json::json!({"url": endpoint_url});
        if let Some(limit) = rate_limit {
            body["rateLimit"] = limit.into();
        }
        let endpoint = self
            .client
            .post(format!(
                "{}/api/v1/app/{APP_UID}/endpoint",
                self.first_api()
            ))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .context("creating the endpoint")?;
        if endpoint.status() != StatusCode::CREATED {
            let status = endpoint.status();
            bail!(
                "creating the endpoint: {status} {}",
                endpoint.text().await.unwrap_or_default()
            );
        }
        let out: EndpointOut = endpoint.json().await.context("reading the endpoint")?;
        Ok(out.id)
    }

    /// Posts one message (a complete `MessageIn` JSON body) to the next node in turn; returns
    /// its id once the API answered 202.
    pub async fn post_message(&self, body: Bytes) -> anyhow::Result<String> {
        let api = self.next_api();
        let response = self
            .client
            .post(format!("{api}/api/v1/app/{APP_UID}/msg"))
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .context("posting a message")?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .context("reading the message response")?;
        if status != StatusCode::ACCEPTED {
            bail!(
                "posting a message: {status} {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        let out: MessageOut = serde_json::from_slice(&bytes).context("parsing MessageOut")?;
        Ok(out.id)
    }

    /// Reads every node's `/metrics` and sums them.
    pub async fn metrics(&self) -> anyhow::Result<Metrics> {
        Ok(Metrics::total(&self.node_metrics().await?))
    }

    /// Reads and parses each node's `/metrics`, in the order the nodes were given.
    pub async fn node_metrics(&self) -> anyhow::Result<Vec<Metrics>> {
        let mut nodes = Vec::with_capacity(self.apis.len());
        for api in &self.apis {
            nodes.push(self.metrics_of(api).await?);
        }
        Ok(nodes)
    }

    /// Reads and parses the `/metrics` of the node at `api`.
    async fn metrics_of(&self, api: &str) -> anyhow::Result<Metrics> {
        let text = self
            .client
            .get(format!("{api}/metrics"))
            .send()
            .await
            .context("fetching /metrics")?
            .error_for_status()
            .context("fetching /metrics")?
            .text()
            .await
            .context("reading /metrics")?;
        Ok(parse_metrics(&text))
    }

    /// Reads the receiver's counters.
    pub async fn receiver_stats(&self) -> anyhow::Result<ReceiverStats> {
        self.client
            .get(format!("{}/stats", self.receiver))
            .send()
            .await
            .context("fetching the receiver's /stats")?
            .json()
            .await
            .context("parsing the receiver's /stats")
    }

    /// Reads the receiver's first-arrival time (Unix nanos) per `webhook-id`.
    pub async fn receiver_arrivals(&self) -> anyhow::Result<HashMap<String, u64>> {
        self.client
            .get(format!("{}/arrivals", self.receiver))
            .send()
            .await
            .context("fetching the receiver's /arrivals")?
            .json()
            .await
            .context("parsing the receiver's /arrivals")
    }

    /// Makes the receiver forget every arrival.
    pub async fn receiver_reset(&self) -> anyhow::Result<()> {
        self.client
            .post(format!("{}/reset", self.receiver))
            .send()
            .await
            .context("resetting the receiver")?
            .error_for_status()
            .context("resetting the receiver")?;
        Ok(())
    }
}

/// Picks the benchmark's counters out of Prometheus text; absent ones read as zero/`None`.
pub fn parse_metrics(text: &str) -> Metrics {
    let mut m = Metrics::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        if name.starts_with("rustyhook_attempts_total{") {
            if name.contains("outcome=\"OK\"") {
                m.attempts_ok += value as u64;
            } else {
                m.attempts_other += value as u64;
            }
        } else if name.starts_with("rustyhook_source_messages_total{") {
            if name.contains("outcome=\"stored\"") {
                m.source_stored += value as u64;
            } else if name.contains("outcome=\"rejected\"") {
                m.source_rejected += value as u64;
            }
        } else if name == "rustyhook_queue_depth" {
            m.queue_depth = Some(value);
        } else if name == "rustyhook_dispatcher_queued" {
            m.dispatcher_queued = Some(value);
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_read_from_prometheus_text() {
        let text = "# TYPE rustyhook_attempts_total counter\n\
            rustyhook_attempts_total{outcome=\"OK\"} 1200\n\
            rustyhook_attempts_total{outcome=\"E_TIMEOUT\"} 3\n\
            rustyhook_attempts_total{outcome=\"E_CONNECT\"} 2\n\
            rustyhook_queue_depth 17\n\
            rustyhook_dispatcher_queued 5\n\
            rustyhook_source_messages_total{source=\"redis-a\",outcome=\"stored\"} 40\n\
            rustyhook_source_messages_total{source=\"nats-b\",outcome=\"stored\"} 2\n\
            rustyhook_source_messages_total{source=\"nats-b\",outcome=\"rejected\"} 1\n";
        let m = parse_metrics(text);
        assert_eq!((m.source_stored, m.source_rejected), (42, 1));
        assert_eq!(m.attempts_ok, 1200);
        assert_eq!(m.attempts_other, 5);
        assert_eq!(m.queue_depth, Some(17.0));
        assert_eq!(m.dispatcher_queued, Some(5.0));
    }

    #[test]
    fn missing_metrics_read_as_zero() {
        assert_eq!(parse_metrics(""), Metrics::default());
    }

    #[test]
    fn nodes_metrics_add_up() {
        let mut sum = parse_metrics("rustyhook_attempts_total{outcome=\"OK\"} 10\n");
        sum.add(&parse_metrics(
            "rustyhook_attempts_total{outcome=\"OK\"} 5\n\
             rustyhook_attempts_total{outcome=\"E_TIMEOUT\"} 1\n\
             rustyhook_queue_depth 3\n",
        ));
        assert_eq!(sum.attempts_ok, 15);
        assert_eq!(sum.attempts_other, 1);
        assert_eq!(sum.queue_depth, Some(3.0));
        assert_eq!(sum.dispatcher_queued, None);
    }

    #[test]
    fn messages_go_to_the_nodes_in_turn() {
        let apis = ["http://a/".to_owned(), "http://b".to_owned()];
        let target = Target::new(&apis, "t", "http://r").expect("two URLs make a target");
        assert_eq!(target.nodes(), 2);
        assert_eq!(target.first_api(), "http://a");
        let turns: Vec<_> = (0..5).map(|_| target.next_api()).collect();
        assert_eq!(
            turns,
            ["http://a", "http://b", "http://a", "http://b", "http://a"]
        );
        assert!(Target::new(&[], "t", "http://r").is_err());
    }
}
