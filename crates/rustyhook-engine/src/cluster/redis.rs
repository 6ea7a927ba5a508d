//! Redis as the cluster's coordinator (the roadmap's `cluster: {coordinator: redis://…}`):
//! schedule leadership as a key with a time to live, and per-endpoint rate limits as one GCRA
//! cell per endpoint, both updated atomically by Lua scripts. Time is Redis's own (`TIME`), so
//! nodes' clocks need not agree.

use std::time::Duration;

use async_trait::async_trait;
use redis::Script;
use redis::aio::ConnectionManager;
use rustyhook_core::crypto::redact_url;

use super::{Coordinator, SharedRateLimiter};

/// Renews the key if this node holds it, or takes it if nobody does.
const LEAD: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
    return 1
end
return 0
";

/// GCRA: ARGV[1] is the emission interval and ARGV[2] the burst tolerance, in microseconds.
/// Returns 0 when the request conforms (and records it), else the microseconds to wait.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then return allow_at - now end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 0
";

/// Connects to Redis at `url`, reconnecting by itself when the connection drops.
pub async fn connect(url: &str) -> Result<ConnectionManager, String> {
    let shown = redact_url(url);
    let client =
        redis::Client::open(url).map_err(|e| format!("the Redis URL {shown} is invalid: {e}"))?;
    client
        .get_connection_manager()
        .await
        .map_err(|e| format!("could not connect to Redis at {shown}: {e}"))
}

/// Where a cluster's keys live in Redis: `rustyhook:{cluster id}:…`, so clusters (and test
/// runs) sharing one Redis keep apart.
pub fn prefix(cluster_id: &str) -> String {
    format!("rustyhook:{cluster_id}")
}

/// Leadership held as `{prefix}:leader:{name}` = node id, with a time to live three times the
/// renewal interval; a node that dies loses it when the key expires.
pub struct RedisCoordinator {
    conn: ConnectionManager,
    prefix: String,
    node: String,
    ttl: Duration,
    script: Script,
}

impl RedisCoordinator {
    /// A coordinator for `node` under `prefix`, to be renewed at least every `ttl / 3`.
    pub fn new(conn: ConnectionManager, prefix: String, node: String, ttl: Duration) -> Self {
        Self {
            conn,
            prefix,
            node,
            ttl,
            script: Script::new(LEAD),
        }
    }
}

#[async_trait]
impl Coordinator for RedisCoordinator {
    async fn lead(&self, name: &str) -> bool {
        let mut conn = self.conn.clone();
        let held: Result<i64, _> = self
            .script
            .key(format!("{}:leader:{name}", self.prefix))
            .arg(&self.node)
            .arg(self.ttl.as_millis() as u64)
            .invoke_async(&mut conn)
            .await;
        match held {
            Ok(n) => n == 1,
            Err(e) => {
                tracing::warn!(error = %e, "could not reach the Redis coordinator; not leading until it answers");
                false
            }
        }
    }
}

/// Per-endpoint rate limits shared by every node through Redis.
#[derive(Clone)]
pub struct RedisRateLimiter {
    conn: ConnectionManager,
    prefix: String,
    script: Script,
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisRateLimiter")
    }
}

impl RedisRateLimiter {
    /// A limiter over `conn`, keeping its cells under `prefix`.
    pub fn new(conn: ConnectionManager, prefix: String) -> Self {
        Self {
            conn,
            prefix,
            script: Script::new(GCRA),
        }
    }
}

#[async_trait]
impl SharedRateLimiter for RedisRateLimiter {
    async fn take(&self, key: &str, per_second: u32) -> Result<(), Option<Duration>> {
        let per_second = u64::from(per_second.max(1));
        let interval = 1_000_000 / per_second;
        // The burst is one second's worth, as the local limiter allows.
        let tolerance = interval * (per_second - 1);
        let mut conn = self.conn.clone();
        let wait: Result<i64, _> = self
            .script
            .key(format!("{}:rate:{key}", self.prefix))
            .arg(interval)
            .arg(tolerance)
            .invoke_async(&mut conn)
            .await;
        match wait {
            Ok(0) => Ok(()),
            Ok(us) => Err(Some(Duration::from_micros(us.max(1) as u64))),
            Err(e) => {
                tracing::warn!(error = %e, "the Redis rate limiter is unreachable; limiting on this node");
                Err(None)
            }
        }
    }
}
