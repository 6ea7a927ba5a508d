//! The benchmark's load generator: posts messages to rustyhook's API and measures what
//! happens to them at the receiver and in rustyhook's `/metrics`. Each subcommand is one
//! phase of `bench/run.sh` and prints its results as `PREFIX_KEY=value` lines on stdout
//! (progress goes to stderr):
//!
//! - `payload` prints the JSON payload every message carries, for `wrk`'s Lua script.
//! - `setup` waits for rustyhook to be healthy and creates the `bench` app and an endpoint.
//!
//! `--api` takes several URLs (repeated, or separated by commas) when rustyhook runs as several
//! nodes on one PostgreSQL database: messages go to the nodes in turn, setup goes through the
//! first, and `/metrics` counters are summed over the nodes.
//! - `throughput` posts N messages with C concurrent clients, then waits until the receiver
//!   has seen every id and `/metrics` counts every attempt: ingest rate and deliveries/s.
//! - `latency` posts at a fixed rate and reports arrival − 202-accept per message.
//! - `fill` posts N messages as fast as it can and reports the ingest rate (memory phase).
//! - `metrics` prints rustyhook's attempt counters and queue depths.
//! - `broker … prepare|remove|raw|throughput` is the source phase, on one broker's stream or
//!   queue: make it empty or remove it; publish N messages and read them back with a bare
//!   consumer (the broker's own limit); or publish N messages for rustyhook's source to read,
//!   then wait, as `throughput` does, until every one is delivered and recorded.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use rustyhook_bench::api::{Metrics, Target};
use rustyhook_bench::brokers::{Broker, Kind};
use rustyhook_bench::drive::{Posted, post_many, wait_drained};
use rustyhook_bench::report::{Emitter, Summary, message_body, payload, unix_nanos};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

#[derive(Debug, Parser)]
#[command(about = "Load generator for rustyhook's benchmark")]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    phase: Phase,
}

#[derive(Debug, Args)]
struct Common {
    /// rustyhook's base URL; several (repeated or comma-separated) for several nodes on one
    /// database, which then get the messages in turn.
    #[arg(
        long,
        global = true,
        value_delimiter = ',',
        default_value = "http://127.0.0.1:8071"
    )]
    api: Vec<String>,
    /// rustyhook's admin token.
    #[arg(long, global = true, env = "RUSTYHOOK_ADMIN_TOKEN", default_value = "")]
    token: String,
    /// The benchmark receiver's base URL.
    #[arg(long, global = true, default_value = "http://127.0.0.1:9000")]
    receiver: String,
    /// Size in bytes of each message's JSON payload (the body the receiver gets).
    #[arg(long, global = true, default_value_t = 512)]
    payload_bytes: usize,
    /// Prefix of the printed keys.
    #[arg(long, global = true, default_value = "OUT")]
    prefix: String,
}

#[derive(Debug, Subcommand)]
enum Phase {
    /// Print the payload of message 0.
    Payload,
    /// Wait for rustyhook, then create the app and one endpoint.
    Setup {
        /// The endpoint's URL.
        #[arg(long)]
        endpoint_url: String,
        /// The endpoint's `rateLimit` (requests per second).
        #[arg(long)]
        rate_limit: Option<u32>,
    },
    /// Post N messages, then wait until all are delivered and recorded.
    Throughput(ThroughputArgs),
    /// Post at a fixed rate and measure API accept → receiver arrival.
    Latency(LatencyArgs),
    /// Post N messages as fast as possible, without waiting for deliveries.
    Fill {
        #[arg(long, default_value_t = 100_000)]
        messages: u64,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
    },
    /// Print rustyhook's attempt counters and queue depths.
    Metrics,
    /// The source phase, on one broker's stream or queue.
    Broker(BrokerArgs),
}

#[derive(Debug, Args)]
struct BrokerArgs {
    /// Which broker.
    #[arg(long, value_enum)]
    kind: Kind,
    /// The broker's URL.
    #[arg(long)]
    url: String,
    /// The Redis stream, RabbitMQ queue or JetStream stream.
    #[arg(long)]
    name: String,
    #[command(subcommand)]
    action: BrokerAction,
}

#[derive(Debug, Subcommand)]
enum BrokerAction {
    /// Make the stream or queue, empty.
    Prepare,
    /// Remove the stream or queue and its `.dead` companion.
    Remove,
    /// Publish N messages, then read and acknowledge them with a bare consumer.
    Raw {
        #[arg(long, default_value_t = 20_000)]
        messages: u64,
        /// Entries per read (Redis), prefetch (RabbitMQ), messages per pull (NATS): rustyhook's
        /// default for its source.
        #[arg(long, default_value_t = 100)]
        batch: usize,
    },
    /// Publish N messages for rustyhook's source, then wait until all are delivered and
    /// recorded.
    Throughput {
        #[arg(long, default_value_t = 20_000)]
        messages: u64,
        /// First sequence number, so runs publish distinct payloads.
        #[arg(long, default_value_t = 0)]
        first_seq: u64,
        /// Give up waiting for deliveries after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout_secs: u64,
    },
}

#[derive(Debug, Args)]
struct ThroughputArgs {
    /// Messages to post.
    #[arg(long, default_value_t = 50_000)]
    messages: u64,
    /// Concurrent API clients.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Give up waiting for deliveries after this many seconds.
    #[arg(long, default_value_t = 180)]
    timeout_secs: u64,
    /// First sequence number, so phases on one server post distinct payloads.
    #[arg(long, default_value_t = 0)]
    first_seq: u64,
}

#[derive(Debug, Args)]
struct LatencyArgs {
    /// Messages per second.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// How long to post for.
    #[arg(long, default_value_t = 12)]
    seconds: u64,
    /// Cap on requests awaiting their 202; the rate drops if it is reached.
    #[arg(long, default_value_t = 1024)]
    max_outstanding: usize,
    /// Give up waiting for deliveries after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout_secs: u64,
    /// First sequence number, so phases on one server post distinct payloads.
    #[arg(long, default_value_t = 10_000_000)]
    first_seq: u64,
}

fn emit_posted(out: &Emitter, posted: &Posted) {
    let secs = posted.elapsed.as_secs_f64();
    out.num("ACCEPTED", posted.accepted);
    out.num("FAILED", posted.failed);
    out.text("FIRST_ERROR", posted.first_error.as_deref().unwrap_or(""));
    out.float("INGEST_SECS", secs, 3);
    out.float("INGEST_RATE", posted.accepted as f64 / secs, 0);
}

async fn throughput(
    target: Arc<Target>,
    common: &Common,
    args: ThroughputArgs,
) -> anyhow::Result<()> {
    let ThroughputArgs {
        messages,
        concurrency,
        timeout_secs,
        first_seq,
    } = args;
    let out = Emitter::new(&common.prefix);
    target.receiver_reset().await?;
    let nodes_before = target.node_metrics().await?;
    let before = Metrics::total(&nodes_before);
    eprintln!(
        "posting {messages} messages with {concurrency} clients to {} node(s)",
        target.nodes()
    );
    let started = Instant::now();
    let posted = post_many(
        &target,
        first_seq,
        messages,
        concurrency,
        common.payload_bytes,
    )
    .await;
    eprintln!("ingest took {:.2?}; waiting for deliveries", posted.elapsed);
    let deadline = Instant::now() + Duration::from_secs(timeout_secs);
    let drained = wait_drained(&target, posted.accepted, &before, false, deadline).await?;
    let nodes_after = target.node_metrics().await?;
    let after = Metrics::total(&nodes_after);
    let stats = target.receiver_stats().await?;

    out.num("MESSAGES", messages);
    out.num("CONCURRENCY", concurrency);
    out.num("NODES", target.nodes());
    // Each node delivers what it ingested, so this shows how the work was split.
    let per_node: Vec<String> = nodes_before
        .iter()
        .zip(&nodes_after)
        .map(|(b, a)| a.attempts_ok.saturating_sub(b.attempts_ok).to_string())
        .collect();
    out.text("NODE_OK_DELTAS", &per_node.join(", "));
    emit_posted(&out, &posted);
    out.num("COMPLETE", u8::from(drained.recorded_at.is_some()));
    if let Some(t) = drained.received_at {
        out.float("RECEIVED_SECS", (t - started).as_secs_f64(), 3);
    }
    if let Some(t) = drained.recorded_at {
        let secs = (t - started).as_secs_f64();
        out.float("RECORDED_SECS", secs, 3);
        out.float("DELIVERY_RATE", posted.accepted as f64 / secs, 0);
    }
    out.num("DISTINCT", drained.distinct.max(stats.distinct));
    out.num("REQUESTS", stats.requests);
    out.num("DUPLICATES", stats.duplicates);
    out.float(
        "BODY_BYTES_AVG",
        stats.body_bytes as f64 / stats.requests.max(1) as f64,
        1,
    );
    out.num("OK_DELTA", drained.ok_delta);
    out.num(
        "OTHER_ATTEMPTS_DELTA",
        after.attempts_other.saturating_sub(before.attempts_other),
    );
    Ok(())
}

async fn broker(target: Arc<Target>, common: &Common, args: BrokerArgs) -> anyhow::Result<()> {
    let out = Emitter::new(&common.prefix);
    let broker = Broker {
        kind: args.kind,
        url: args.url,
        name: args.name,
    };
    match args.action {
        BrokerAction::Prepare => broker.prepare().await?,
        BrokerAction::Remove => broker.remove().await?,
        BrokerAction::Raw { messages, batch } => {
            broker.prepare().await?;
            let published = broker
                .publish(0, messages, common.payload_bytes)
                .await
                .context("publishing")?;
            eprintln!("published {messages} in {published:.2?}; reading them back");
            let drained = broker.drain(messages, batch).await.context("draining")?;
            broker.remove().await?;
            out.num("MESSAGES", messages);
            out.float("PUBLISH_SECS", published.as_secs_f64(), 3);
            out.float("PUBLISH_RATE", messages as f64 / published.as_secs_f64(), 0);
            out.float("CONSUME_SECS", drained.as_secs_f64(), 3);
            out.float("CONSUME_RATE", messages as f64 / drained.as_secs_f64(), 0);
        }
        BrokerAction::Throughput {
            messages,
            first_seq,
            timeout_secs,
        } => {
            target.receiver_reset().await?;
            let before = target.metrics().await?;
            eprintln!("publishing {messages} messages to {:?}", broker.kind);
            let started = Instant::now();
            let published = broker
                .publish(first_seq, messages, common.payload_bytes)
                .await
                .context("publishing")?;
            eprintln!("published in {published:.2?}; waiting for deliveries");
            let deadline = Instant::now() + Duration::from_secs(timeout_secs);
            let drained = wait_drained(&target, messages, &before, true, deadline).await?;
            let after = target.metrics().await?;
            let stats = target.receiver_stats().await?;
            let secs_since = |t: Instant| (t - started).as_secs_f64();
            out.num("MESSAGES", messages);
            out.num("ACCEPTED", messages);
            out.float("PUBLISH_SECS", published.as_secs_f64(), 3);
            out.float("PUBLISH_RATE", messages as f64 / published.as_secs_f64(), 0);
            out.num("COMPLETE", u8::from(drained.recorded_at.is_some()));
            if let Some(t) = drained.stored_at {
                out.float("STORED_SECS", secs_since(t), 3);
                out.float("INTAKE_RATE", messages as f64 / secs_since(t), 0);
            }
            if let Some(t) = drained.received_at {
                out.float("RECEIVED_SECS", secs_since(t), 3);
            }
            if let Some(t) = drained.recorded_at {
                out.float("RECORDED_SECS", secs_since(t), 3);
                out.float("DELIVERY_RATE", messages as f64 / secs_since(t), 0);
            }
            out.num("DISTINCT", drained.distinct.max(stats.distinct));
            out.num("REQUESTS", stats.requests);
            out.num("DUPLICATES", stats.duplicates);
            out.num("OK_DELTA", drained.ok_delta);
            out.num(
                "STORED_DELTA",
                after.source_stored.saturating_sub(before.source_stored),
            );
            out.num(
                "REJECTED_DELTA",
                after.source_rejected.saturating_sub(before.source_rejected),
            );
            out.num(
                "OTHER_ATTEMPTS_DELTA",
                after.attempts_other.saturating_sub(before.attempts_other),
            );
        }
    }
    Ok(())
}

async fn latency(target: Arc<Target>, common: &Common, args: LatencyArgs) -> anyhow::Result<()> {
    let LatencyArgs {
        rate,
        seconds,
        max_outstanding,
        timeout_secs,
        first_seq,
    } = args;
    let out = Emitter::new(&common.prefix);
    target.receiver_reset().await?;
    let before = target.metrics().await?;
    let total = rate * seconds;
    let outstanding = Arc::new(Semaphore::new(max_outstanding));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(1) as f64));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = JoinSet::new();
    eprintln!("posting {total} messages at {rate}/s");
    let started = Instant::now();
    for i in 0..total {
        ticker.tick().await;
        let permit = Arc::clone(&outstanding)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let (target, size) = (Arc::clone(&target), common.payload_bytes);
        tasks.spawn(async move {
            let sent = unix_nanos();
            let result = target.post_message(message_body(first_seq + i, size)).await;
            let accepted = unix_nanos();
            drop(permit);
            result.map(|id| (id, sent, accepted))
        });
    }
    let send_secs = started.elapsed().as_secs_f64();
    let (mut accepted, mut failed, mut first_error) = (HashMap::new(), 0u64, None);
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("posting tasks do not panic") {
            Ok((id, sent, at)) => {
                accepted.insert(id, (sent, at));
            }
            Err(e) => {
                failed += 1;
                first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }
    eprintln!("sent in {send_secs:.2}s; waiting for deliveries");
    let deadline = Instant::now() + Duration::from_secs(timeout_secs);
    let drained = wait_drained(&target, accepted.len() as u64, &before, false, deadline).await?;
    let arrivals = target.receiver_arrivals().await?;

    let ms = |from: u64, to: u64| (to as f64 - from as f64) / 1e6;
    let (mut e2e, mut from_send, mut api) = (Vec::new(), Vec::new(), Vec::new());
    let (mut missing, mut negative) = (0u64, 0u64);
    for (id, &(sent, at)) in &accepted {
        api.push(ms(sent, at));
        match arrivals.get(id) {
            Some(&arrived) => {
                negative += u64::from(arrived < at);
                e2e.push(ms(at, arrived));
                from_send.push(ms(sent, arrived));
            }
            None => missing += 1,
        }
    }
    out.num("RATE", rate);
    out.num("SECONDS", seconds);
    out.num("SENT", total);
    out.num("ACCEPTED", accepted.len());
    out.num("FAILED", failed);
    out.text("FIRST_ERROR", first_error.as_deref().unwrap_or(""));
    out.float("ACHIEVED_RATE", total as f64 / send_secs, 0);
    out.num("COMPLETE", u8::from(drained.recorded_at.is_some()));
    out.num("MISSING", missing);
    out.num("NEGATIVE", negative);
    out.summary_ms("ARRIVAL", Summary::of(e2e));
    out.summary_ms("FROM_SEND", Summary::of(from_send));
    out.summary_ms("API", Summary::of(api));
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let common = &cli.common;
    let target = Arc::new(
        Target::new(&common.api, &common.token, &common.receiver).context("building a client")?,
    );
    let out = Emitter::new(&common.prefix);
    match cli.phase {
        Phase::Payload => println!("{}", payload(0, common.payload_bytes)),
        Phase::Setup {
            endpoint_url,
            rate_limit,
        } => {
            target.wait_healthy(Duration::from_secs(60)).await?;
            let id = target.setup(&endpoint_url, rate_limit).await?;
            out.text("ENDPOINT_ID", &id);
        }
        Phase::Throughput(args) => throughput(target, common, args).await?,
        Phase::Latency(args) => latency(target, common, args).await?,
        Phase::Broker(args) => broker(target, common, args).await?,
        Phase::Fill {
            messages,
            concurrency,
        } => {
            eprintln!("posting {messages} messages with {concurrency} clients");
            let posted = post_many(
                &target,
                50_000_000,
                messages,
                concurrency,
                common.payload_bytes,
            )
            .await;
            out.num("MESSAGES", messages);
            out.num("CONCURRENCY", concurrency);
            emit_posted(&out, &posted);
        }
        Phase::Metrics => {
            let m = target.metrics().await?;
            out.num("ATTEMPTS_OK", m.attempts_ok);
            out.num("ATTEMPTS_OTHER", m.attempts_other);
            out.float("QUEUE_DEPTH", m.queue_depth.unwrap_or(-1.0), 0);
            out.float("DISPATCHER_QUEUED", m.dispatcher_queued.unwrap_or(-1.0), 0);
        }
    }
    Ok(())
}
