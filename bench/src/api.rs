//! The HTTP calls the load generator makes: rustyhook's API (create the app and endpoint,
//! post messages), its `/metrics`, and the benchmark receiver's `/stats`, `/arrivals` and
//! `/reset`. Everything goes to loopback addresses given on the command line.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use reqwest::StatusCode;
use serde::Deserialize;

/// The app every benchmark message is posted to.
pub const APP_UID: &str = "bench";

/// A rustyhook server and a receiver, reached through one connection pool.
pub struct Target {
    /// Keep-alive HTTP/1.1 pool shared by every task of a run.
    client: reqwest::Client,
    /// rustyhook's base URL, e.g. `http://127.0.0.1:8071`.
    api: String,
    /// The admin bearer token.
    token: String,
    /// The receiver's base URL, e.g. `http://127.0.0.1:9000`.
    receiver: String,
}

/// The counters of rustyhook's `/metrics` the benchmark reads.
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

#[derive(Deserialize)]
struct MessageOut {
    id: String,
}

#[derive(Deserialize)]
struct EndpointOut {
    id: String,
}

impl Target {
    /// A client for rustyhook at `api` and the receiver at `receiver`.
    pub fn new(api: &str, token: &str, receiver: &str) -> anyhow::Result<Self> {
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
            api: api.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            receiver: receiver.trim_end_matches('/').to_owned(),
        })
    }

    /// Waits until `GET /api/v1/health` answers 2xx, or fails after `timeout`.
    pub async fn wait_healthy(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let url = format!("{}/api/v1/health", self.api);
        loop {
            if let Ok(r) = self.client.get(&url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "rustyhook at {} was not healthy within {timeout:?}",
                    self.api
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Creates the `bench` app (if missing) and an endpoint on it; returns the endpoint id.
    pub async fn setup(
        &self,
        endpoint_url: &str,
        rate_limit: Option<u32>,
    ) -> anyhow::Result<String> {
        let app = self
            .client
            .post(format!("{}/api/v1/app", self.api))
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
            .post(format!("{}/api/v1/app/{APP_UID}/endpoint", self.api))
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

    /// Posts one message (a complete `MessageIn` JSON body); returns its id once the API
    /// answered 202.
    pub async fn post_message(&self, body: Bytes) -> anyhow::Result<String> {
        let response = self
            .client
            .post(format!("{}/api/v1/app/{APP_UID}/msg", self.api))
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

    /// Reads and parses rustyhook's `/metrics`.
    pub async fn metrics(&self) -> anyhow::Result<Metrics> {
        let text = self
            .client
            .get(format!("{}/metrics", self.api))
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
            rustyhook_dispatcher_queued 5\n";
        let m = parse_metrics(text);
        assert_eq!(m.attempts_ok, 1200);
        assert_eq!(m.attempts_other, 5);
        assert_eq!(m.queue_depth, Some(17.0));
        assert_eq!(m.dispatcher_queued, Some(5.0));
    }

    #[test]
    fn missing_metrics_read_as_zero() {
        assert_eq!(parse_metrics(""), Metrics::default());
    }
}
