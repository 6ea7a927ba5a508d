//! A Redis stream read through a consumer group.
//!
//! Each node reads as its own consumer (its node id) of the source's group, so the nodes share
//! the stream. An entry is acknowledged (`XACK`) only after the intake has stored it, or
//! recorded it as rejected and copied it to the dead-letter stream `<stream>.dead` with the
//! reason. An entry left pending by a consumer that stopped (a crash between read and commit)
//! is taken over with `XAUTOCLAIM` once it has been idle for `claim_after`, so it is stored
//! after all: at least once, and a repeated entry id makes no second message or run (it is the
//! message's idempotency key when it carries no `eventId`, and keys a handler's run). While
//! the source is paused nothing is read; the stream keeps its entries until the resume.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::future::join_all;
use redis::aio::MultiplexedConnection;
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamInfoConsumersReply,
    StreamReadOptions, StreamReadReply,
};
use redis::{AsyncCommands, RedisResult, Value};
use rustyhook_core::crypto::redact_url;
use rustyhook_core::sources::RedisSource;
use tokio_util::sync::CancellationToken;

use super::intake::{Incoming, Intake, Taken};
use super::sendhooks::Sendhooks;

/// How long one read waits for new entries.
const BLOCK: Duration = Duration::from_secs(1);
/// A consumer silent this long, with nothing pending, is a process that is gone.
const GONE_AFTER_MS: usize = 60 * 60 * 1000;
/// The longest pause between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Reads `cfg`'s stream as `consumer` until `token` is cancelled.
pub async fn run(
    cfg: RedisSource,
    intake: Intake,
    sendhooks: Option<Sendhooks>,
    consumer: String,
    token: CancellationToken,
) {
    let shown = redact_url(&cfg.url);
    let mut backoff = Duration::from_secs(1);
    loop {
        let reader = Reader {
            cfg: &cfg,
            intake: &intake,
            sendhooks: sendhooks.as_ref(),
            consumer: &consumer,
        };
        if let Some(s) = &sendhooks
            && let Err(e) = s.app().await
        {
            tracing::warn!(source = intake.name(), error = %e, "could not set up the sendhooks app; retrying");
            intake.reconnecting(&format_args!("could not set up the sendhooks app: {e}"));
        } else {
            match reader.connect().await {
                Ok(conn) => {
                    tracing::info!(source = intake.name(), url = %shown, stream = %cfg.stream, "reading the Redis stream");
                    intake.reading();
                    backoff = Duration::from_secs(1);
                    match reader.read(conn, &token).await {
                        Ok(()) => return,
                        Err(e) => {
                            tracing::warn!(source = intake.name(), error = %e, "the Redis stream source failed; reconnecting");
                            intake.reconnecting(&e);
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(source = intake.name(), url = %shown, error = %e, "could not connect to Redis; retrying");
                    intake.reconnecting(&format_args!("could not connect to Redis: {e}"));
                }
            }
        }
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

struct Reader<'a> {
    cfg: &'a RedisSource,
    intake: &'a Intake,
    sendhooks: Option<&'a Sendhooks>,
    consumer: &'a str,
}

impl Reader<'_> {
    async fn connect(&self) -> RedisResult<MultiplexedConnection> {
        let client = client(self.cfg)?;
        // A blocking read waits up to BLOCK for an answer: the response timeout must allow it.
        let config = redis::AsyncConnectionConfig::new()
            .set_response_timeout(Some(BLOCK + Duration::from_secs(10)));
        let mut conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        // The group starts at the stream's beginning: entries written before rustyhook first
        // read them are delivered too.
        let created: RedisResult<()> = conn
            .xgroup_create_mkstream(&self.cfg.stream, &self.cfg.group, "0")
            .await;
        match created {
            Ok(()) => {}
            Err(e) if e.code() == Some("BUSYGROUP") => {}
            Err(e) => return Err(e),
        }
        Ok(conn)
    }

    /// Reads until cancelled (`Ok`) or the connection fails (`Err`).
    async fn read(
        &self,
        mut conn: MultiplexedConnection,
        token: &CancellationToken,
    ) -> RedisResult<()> {
        let claim_every = self.cfg.claim_after.min(Duration::from_secs(30));
        let mut next_claim = tokio::time::Instant::now();
        // After a store outage, this consumer's own unacknowledged entries come first.
        let mut own_pending = true;
        while !token.is_cancelled() {
            // Paused: read nothing, so the stream keeps every entry (and what this consumer
            // holds stays pending, unacknowledged) until the resume.
            self.intake.until_resumed(token).await;
            if token.is_cancelled() {
                break;
            }
            if tokio::time::Instant::now() >= next_claim {
                let claimed = self.claim_stale(&mut conn).await?;
                next_claim = tokio::time::Instant::now() + claim_every;
                if !self.take_all(&mut conn, claimed, token).await? {
                    own_pending = true;
                    continue;
                }
            }
            let start = if own_pending { "0" } else { ">" };
            let opts = StreamReadOptions::default()
                .group(&self.cfg.group, self.consumer)
                .count(self.cfg.batch);
            let opts = if own_pending {
                opts
            } else {
                opts.block(BLOCK.as_millis() as usize)
            };
            let (keys, ids) = ([&self.cfg.stream], [start]);
            let reply: Option<StreamReadReply> = tokio::select! {
                () = token.cancelled() => return Ok(()),
                r = conn.xread_options(&keys, &ids, &opts) => r?,
            };
            let entries: Vec<StreamId> = reply
                .map(|r| r.keys.into_iter().flat_map(|k| k.ids).collect())
                .unwrap_or_default();
            if own_pending && entries.is_empty() {
                own_pending = false;
                continue;
            }
            if !entries.is_empty() && self.intake.paused().await {
                // Paused during the read: leave what it returned pending, unacknowledged, for
                // this consumer to take first once resumed.
                own_pending = true;
                continue;
            }
            if !self.take_all(&mut conn, entries, token).await? {
                own_pending = true;
            }
        }
        Ok(())
    }

    /// Takes over entries pending longer than `claim_after` with other (stopped) consumers.
    async fn claim_stale(&self, conn: &mut MultiplexedConnection) -> RedisResult<Vec<StreamId>> {
        let idle = self.cfg.claim_after.as_millis() as u64;
        let reply: StreamAutoClaimReply = conn
            .xautoclaim_options(
                &self.cfg.stream,
                &self.cfg.group,
                self.consumer,
                idle,
                "0-0",
                StreamAutoClaimOptions::default().count(self.cfg.batch),
            )
            .await?;
        let entries = reply.claimed;
        self.forget_gone_consumers(conn).await?;
        if !entries.is_empty() {
            tracing::info!(
                source = self.intake.name(),
                claimed = entries.len(),
                "took over entries a stopped consumer left pending"
            );
        }
        Ok(entries)
    }

    /// Removes consumers that have been silent for an hour with nothing pending: each process
    /// reads under a name of its own, so every restart would otherwise leave one behind.
    async fn forget_gone_consumers(&self, conn: &mut MultiplexedConnection) -> RedisResult<()> {
        let info: StreamInfoConsumersReply = conn
            .xinfo_consumers(&self.cfg.stream, &self.cfg.group)
            .await?;
        for c in info.consumers {
            if c.name != self.consumer && c.pending == 0 && c.idle > GONE_AFTER_MS {
                let _: i64 = conn
                    .xgroup_delconsumer(&self.cfg.stream, &self.cfg.group, &c.name)
                    .await?;
            }
        }
        Ok(())
    }

    /// Takes the entries, all at once, and acknowledges those stored or rejected. Returns false
    /// if the store was unavailable for any (those stay pending for a later pass).
    ///
    /// Taking them together lets their commits share the store's group commits: taken one
    /// after another, each entry would wait for a commit of its own. Their order is not kept,
    /// as it is not for messages posted to the API; `batch: 1` takes them in stream order.
    async fn take_all(
        &self,
        conn: &mut MultiplexedConnection,
        entries: Vec<StreamId>,
        token: &CancellationToken,
    ) -> RedisResult<bool> {
        let messages: Vec<Incoming> = entries.iter().map(incoming).collect();
        let taken = join_all(messages.iter().map(|msg| async move {
            match self.sendhooks {
                Some(s) => s.take(self.intake, msg).await,
                None => self.intake.take(msg).await,
            }
        }))
        .await;
        let mut done = Vec::new();
        let mut unavailable = None;
        for ((entry, msg), taken) in entries.into_iter().zip(messages).zip(taken) {
            match taken {
                Ok(Taken::Stored) => done.push(entry.id),
                Ok(Taken::Rejected(reason)) => {
                    let mut fields: Vec<(String, String)> = msg.fields.into_iter().collect();
                    fields.push(("reason".into(), reason));
                    let dead = format!("{}.dead", self.cfg.stream);
                    let _: String = conn.xadd(&dead, "*", &fields).await?;
                    done.push(entry.id);
                }
                Err(e) => {
                    unavailable.get_or_insert(e);
                }
            }
        }
        if !done.is_empty() {
            let _: i64 = conn.xack(&self.cfg.stream, &self.cfg.group, &done).await?;
        }
        let Some(e) = unavailable else {
            return Ok(true);
        };
        tracing::warn!(source = self.intake.name(), error = %e, "could not store stream entries; they stay pending");
        tokio::select! {
            () = token.cancelled() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        Ok(false)
    }
}

/// A client for `cfg`: plain, or TLS (`rediss://`) trusting `ca_cert` (the system's roots when
/// unset) and presenting `client_cert` when set.
pub fn client(cfg: &RedisSource) -> RedisResult<redis::Client> {
    if cfg.url.starts_with("rediss://") {
        // The TLS stack is rustls with ring, as for outgoing webhooks. Where a second provider
        // is linked in (test builds), rustls needs to be told which one to use.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    if cfg.ca_cert.is_none() && cfg.client_cert.is_none() {
        return redis::Client::open(cfg.url.as_str());
    }
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| {
            redis::RedisError::from((
                redis::ErrorKind::Client,
                "could not read a TLS file",
                format!("{}: {e}", path.display()),
            ))
        })
    };
    let client_tls = match (&cfg.client_cert, &cfg.client_key) {
        (Some(cert), Some(key)) => Some(redis::ClientTlsConfig {
            client_cert: read(cert)?,
            client_key: read(key)?,
        }),
        _ => None,
    };
    let root_cert = cfg.ca_cert.as_deref().map(read).transpose()?;
    redis::Client::build_with_tls(
        cfg.url.as_str(),
        redis::TlsCertificates {
            client_tls,
            root_cert,
        },
    )
}

/// An entry's fields as text, ready for the intake.
fn incoming(entry: &StreamId) -> Incoming {
    let fields: BTreeMap<String, String> = entry
        .map
        .iter()
        .map(|(k, v)| (k.clone(), value_text(v)))
        .collect();
    Incoming {
        id: entry.id.clone(),
        stable_id: Some(entry.id.clone()),
        body: None,
        fields,
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        other => format!("{other:?}"),
    }
}
