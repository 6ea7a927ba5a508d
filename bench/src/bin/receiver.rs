//! The benchmark's webhook receiver: a bare hyper HTTP/1.1 server that answers every
//! `POST /hook` with an empty 200 and records, per `webhook-id` header, when the first
//! request carrying that id arrived (Unix nanoseconds, `CLOCK_REALTIME`).
//!
//! It is kept as cheap as possible so that it is not what limits rustyhook's figures:
//! `bench/run.sh` first measures its own ceiling with `wrk`, then points rustyhook at it.
//!
//! Routes:
//! - `POST /hook` — the webhook target; reads the body, records the arrival, answers 200.
//! - `GET /stats` — `{"requests":…,"distinct":…,"duplicates":…,"bodyBytes":…}`.
//! - `GET /arrivals` — `{"<webhook-id>": <unix nanos of first arrival>, …}`.
//! - `POST /reset` — forgets every arrival and zeroes the counters between phases.
//!
//! The bound port is written to `--port-file` once listening, so the caller can bind port 0.

use std::collections::HashMap;
use std::convert::Infallible;
use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Shards of the arrival map: enough that 64 concurrent requests rarely share a lock.
const SHARDS: usize = 64;

#[derive(Debug, Parser)]
#[command(about = "Fast webhook receiver for rustyhook's benchmark")]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// File to write the bound port to, once the listener is up.
    #[arg(long)]
    port_file: Option<PathBuf>,
}

/// What the receiver has seen since start or the last `/reset`.
struct Recorder {
    /// First-arrival time per `webhook-id`, split over `SHARDS` locks by the id's hash.
    shards: Vec<Mutex<HashMap<Box<str>, u64>>>,
    /// Picks the shard for an id; one instance so an id always lands in the same shard.
    hasher: std::collections::hash_map::RandomState,
    /// Every `POST /hook`, with or without an id.
    requests: AtomicU64,
    /// Requests whose id had been seen before (retries or duplicate deliveries).
    duplicates: AtomicU64,
    /// Sum of request body sizes, to check the payload size that was delivered.
    body_bytes: AtomicU64,
}

impl Recorder {
    fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
            requests: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            body_bytes: AtomicU64::new(0),
        }
    }

    fn shard(&self, id: &str) -> &Mutex<HashMap<Box<str>, u64>> {
        let index = self.hasher.hash_one(id) as usize % SHARDS;
        &self.shards[index]
    }

    fn record(&self, id: Option<&str>, arrived_ns: u64, body_len: usize) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.body_bytes
            .fetch_add(body_len as u64, Ordering::Relaxed);
        let Some(id) = id else { return };
        let mut shard = self
            .shard(id)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if shard.contains_key(id) {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
        } else {
            shard.insert(id.into(), arrived_ns);
        }
    }

    fn distinct(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }

    fn stats_json(&self) -> serde_json::Value {
        serde_json::json!({
            "requests": self.requests.load(Ordering::Relaxed),
            "distinct": self.distinct(),
            "duplicates": self.duplicates.load(Ordering::Relaxed),
            "bodyBytes": self.body_bytes.load(Ordering::Relaxed),
        })
    }

    fn arrivals_json(&self) -> serde_json::Result<Vec<u8>> {
        let mut all: HashMap<Box<str>, u64> = HashMap::new();
        for shard in &self.shards {
            let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            all.extend(shard.iter().map(|(k, v)| (k.clone(), *v)));
        }
        serde_json::to_vec(&all)
    }

    fn reset(&self) {
        for shard in &self.shards {
            shard.lock().unwrap_or_else(PoisonError::into_inner).clear();
        }
        self.requests.store(0, Ordering::Relaxed);
        self.duplicates.store(0, Ordering::Relaxed);
        self.body_bytes.store(0, Ordering::Relaxed);
    }
}

/// Nanoseconds since the Unix epoch on the realtime clock, comparable across processes.
fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn reply(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
}

async fn handle(
    recorder: Arc<Recorder>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let arrived_ns = unix_nanos();
    let response = match (req.method(), req.uri().path()) {
        (&Method::POST, "/hook") => {
            let id = req
                .headers()
                .get("webhook-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            match req.into_body().collect().await {
                Ok(body) => {
                    recorder.record(id.as_deref(), arrived_ns, body.to_bytes().len());
                    reply(StatusCode::OK, Bytes::new())
                }
                Err(_) => reply(StatusCode::BAD_REQUEST, Bytes::new()),
            }
        }
        (&Method::GET, "/stats") => reply(StatusCode::OK, recorder.stats_json().to_string().into()),
        (&Method::GET, "/arrivals") => match recorder.arrivals_json() {
            Ok(json) => reply(StatusCode::OK, json.into()),
            Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string().into()),
        },
        (&Method::POST, "/reset") => {
            recorder.reset();
            reply(StatusCode::NO_CONTENT, Bytes::new())
        }
        _ => reply(StatusCode::NOT_FOUND, Bytes::new()),
    };
    Ok(response)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding the receiver to {}", args.listen))?;
    let local = listener.local_addr().context("reading the bound address")?;
    if let Some(path) = &args.port_file {
        std::fs::write(path, local.port().to_string())
            .with_context(|| format!("writing the port to {}", path.display()))?;
    }
    eprintln!("receiver listening on {local}");

    let recorder = Arc::new(Recorder::new());
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted.context("accepting a connection")?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        // Small responses on a keep-alive connection: Nagle would only add delay.
        stream.set_nodelay(true).context("setting TCP_NODELAY")?;
        let recorder = Arc::clone(&recorder);
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(Arc::clone(&recorder), req));
            // A client closing its connection mid-request is not the receiver's concern.
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
