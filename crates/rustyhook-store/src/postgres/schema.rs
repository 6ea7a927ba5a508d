//! The PostgreSQL schema, as numbered migrations recorded in `schema_migrations`. A migration is
//! never edited once released; changes go in a new one.
//!
//! The tables are SQLite's (migrations 1 and 2 match its 1 and 2) in PostgreSQL's types: `BIGINT`
//! for every integer (millisecond times included), `BOOLEAN` for flags, `BYTEA` for blobs, and
//! JSON kept as text exactly as SQLite keeps it. Ids, uids and names are `COLLATE "C"`: ids are
//! base62 and sort by creation time only byte-wise, which keyset pagination relies on.

use sqlx::{Connection, PgConnection};

use super::conn::{db_err, fault};
use crate::StoreResult;

/// The advisory lock (transaction-scoped) that serializes migrations across nodes starting at
/// once: "rhmigrat" in ASCII.
const MIGRATION_LOCK: i64 = 0x7268_6d69_6772_6174;

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (
    key TEXT COLLATE "C" PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE apps (
    id TEXT COLLATE "C" PRIMARY KEY,
    uid TEXT COLLATE "C" UNIQUE,
    name TEXT NOT NULL,
    rate_limit BIGINT,
    metadata TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE event_types (
    name TEXT COLLATE "C" PRIMARY KEY,
    description TEXT NOT NULL,
    schemas TEXT,
    archived BOOLEAN NOT NULL DEFAULT FALSE,
    deprecated BOOLEAN NOT NULL DEFAULT FALSE,
    feature_flag TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE endpoints (
    id TEXT COLLATE "C" PRIMARY KEY,
    app_id TEXT COLLATE "C" NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    uid TEXT COLLATE "C",
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    version BIGINT NOT NULL,
    disabled BOOLEAN NOT NULL,
    rate_limit BIGINT,
    filter_types TEXT,
    channels TEXT,
    metadata TEXT NOT NULL,
    headers TEXT NOT NULL,
    secrets TEXT NOT NULL,
    header_style TEXT NOT NULL,
    max_in_flight BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (app_id, uid)
);
CREATE INDEX endpoints_app ON endpoints (app_id, id);

CREATE TABLE messages (
    id TEXT COLLATE "C" PRIMARY KEY,
    app_id TEXT COLLATE "C" NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    event_id TEXT COLLATE "C",
    event_type TEXT COLLATE "C" NOT NULL,
    payload TEXT,
    channels TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (app_id, event_id)
);
CREATE INDEX messages_app ON messages (app_id, id);

CREATE TABLE deliveries (
    id TEXT COLLATE "C" PRIMARY KEY,
    msg_id TEXT COLLATE "C" NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    endpoint_id TEXT COLLATE "C" NOT NULL,
    app_id TEXT COLLATE "C" NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT,
    manual BOOLEAN NOT NULL DEFAULT FALSE,
    lease_owner TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (msg_id, endpoint_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at)
    WHERE lease_owner IS NULL AND status IN ('pending', 'failed');
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, msg_id);

CREATE TABLE attempts (
    id TEXT COLLATE "C" PRIMARY KEY,
    delivery_id TEXT COLLATE "C" NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    msg_id TEXT COLLATE "C" NOT NULL,
    endpoint_id TEXT COLLATE "C" NOT NULL,
    app_id TEXT COLLATE "C" NOT NULL,
    url TEXT NOT NULL,
    outcome TEXT NOT NULL,
    status_code BIGINT NOT NULL,
    response TEXT,
    duration_ms BIGINT NOT NULL,
    trigger_type BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX attempts_msg ON attempts (msg_id, id);
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, id);
CREATE INDEX attempts_delivery ON attempts (delivery_id);

CREATE TABLE idempotency (
    key TEXT COLLATE "C" PRIMARY KEY,
    state TEXT NOT NULL,
    status BIGINT,
    body BYTEA,
    created_at BIGINT NOT NULL
);
"#,
    r#"
CREATE TABLE runs (
    id TEXT COLLATE "C" PRIMARY KEY,
    handler_id TEXT COLLATE "C" NOT NULL,
    step TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT,
    triggered_by TEXT NOT NULL,
    parent_id TEXT COLLATE "C",
    event TEXT NOT NULL,
    exit_code BIGINT,
    output TEXT,
    lease_owner TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX runs_due ON runs (next_attempt_at)
    WHERE lease_owner IS NULL AND status IN ('pending', 'failed');
CREATE INDEX runs_handler ON runs (handler_id, id);
CREATE INDEX runs_busy ON runs (handler_id)
    WHERE status IN ('pending', 'sending', 'failed');

CREATE TABLE run_attempts (
    id TEXT COLLATE "C" PRIMARY KEY,
    run_id TEXT COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    handler_id TEXT COLLATE "C" NOT NULL,
    outcome TEXT NOT NULL,
    exit_code BIGINT,
    output TEXT NOT NULL,
    duration_ms BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX run_attempts_run ON run_attempts (run_id, id);

CREATE TABLE exports (
    name TEXT COLLATE "C" PRIMARY KEY,
    value TEXT NOT NULL,
    run_id TEXT COLLATE "C" NOT NULL,
    updated_at BIGINT NOT NULL
);
"#,
    r#"
CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);
CREATE INDEX deliveries_leased ON deliveries (lease_owner)
    WHERE lease_owner IS NOT NULL;
CREATE INDEX runs_leased ON runs (lease_owner)
    WHERE lease_owner IS NOT NULL;
"#,
    r#"
CREATE TABLE rejected_messages (
    id TEXT COLLATE "C" PRIMARY KEY,
    source TEXT COLLATE "C" NOT NULL,
    broker_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX rejected_messages_source ON rejected_messages (source, id);
"#,
    r#"
-- The key each keyed run was stored under (a broker message's id), so it is stored once; a key
-- goes when its run does.
CREATE TABLE run_keys (
    key TEXT COLLATE "C" PRIMARY KEY,
    run_id TEXT COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE
);
CREATE INDEX run_keys_run ON run_keys (run_id);
"#,
    r#"
-- Saved idempotent responses are sealed from this version on; any saved in clear are dropped
-- (they would have expired within 12 hours). The index serves the purge of expired keys.
DELETE FROM idempotency;
CREATE INDEX idempotency_created ON idempotency (created_at);
"#,
    r#"
-- API tokens besides the admin token (only the secret's SHA-256 is kept; the unique index is
-- the lookup every request with such a token makes), and the audit log of API writes.
CREATE TABLE api_tokens (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    app_id TEXT COLLATE "C" REFERENCES apps (id) ON DELETE CASCADE,
    read_only BOOLEAN NOT NULL DEFAULT FALSE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_tokens_app ON api_tokens (app_id);

CREATE TABLE audit_log (
    id TEXT COLLATE "C" PRIMARY KEY,
    actor TEXT COLLATE "C" NOT NULL,
    method TEXT NOT NULL,
    route TEXT NOT NULL,
    resource TEXT NOT NULL,
    address TEXT NOT NULL,
    status BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX audit_log_created ON audit_log (created_at);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
"#,
    r#"
-- Header style inherits: an endpoint's NULL follows its app's, an app's NULL the server's
-- delivery.header_style. 'standard' was the only default so far, so stored 'standard' becomes
-- NULL and nothing changes until an operator picks another default.
ALTER TABLE apps ADD COLUMN header_style TEXT;
ALTER TABLE endpoints ALTER COLUMN header_style DROP NOT NULL;
UPDATE endpoints
SET header_style = NULL
WHERE header_style = 'standard';
-- Svix's event type fields that were dropped before.
ALTER TABLE event_types ADD COLUMN feature_flags TEXT;
ALTER TABLE event_types ADD COLUMN group_name TEXT;
"#,
    r#"
-- Svix's message tags, a JSON list of text like channels, filtered on with GET …/msg?tag=….
ALTER TABLE messages ADD COLUMN tags TEXT;
"#,
    r#"
-- One queue, as SQLite's migration 9: a handler's run is a delivery whose target is a handler
-- step. Runs move into deliveries, their attempts into attempts (output in `response`), and
-- run keys follow them; the run tables go.
ALTER TABLE deliveries
    ALTER COLUMN msg_id DROP NOT NULL,
    ALTER COLUMN endpoint_id DROP NOT NULL,
    ALTER COLUMN app_id DROP NOT NULL,
    ADD COLUMN handler_id TEXT COLLATE "C",
    ADD COLUMN step TEXT,
    ADD COLUMN triggered_by TEXT,
    ADD COLUMN parent_id TEXT COLLATE "C",
    ADD COLUMN event TEXT,
    ADD COLUMN exit_code BIGINT,
    ADD COLUMN output TEXT,
    ADD CONSTRAINT deliveries_one_target CHECK ((endpoint_id IS NULL) <> (handler_id IS NULL));
INSERT INTO deliveries (id, handler_id, step, triggered_by, parent_id, event, exit_code, output,
    status, attempts, next_attempt_at, manual, lease_owner, created_at, updated_at)
SELECT id, handler_id, step, triggered_by, parent_id, event, exit_code, output, status,
    attempts, next_attempt_at, FALSE, lease_owner, created_at, updated_at
FROM runs;

ALTER TABLE attempts
    ALTER COLUMN msg_id DROP NOT NULL,
    ALTER COLUMN endpoint_id DROP NOT NULL,
    ALTER COLUMN app_id DROP NOT NULL,
    ALTER COLUMN url DROP NOT NULL,
    ADD COLUMN handler_id TEXT COLLATE "C",
    ADD COLUMN exit_code BIGINT;
INSERT INTO attempts (id, delivery_id, handler_id, exit_code, outcome, status_code, response,
    duration_ms, trigger_type, created_at)
SELECT id, run_id, handler_id, exit_code, outcome, 0, output, duration_ms, 0, created_at
FROM run_attempts;

DROP TABLE run_attempts;
-- CASCADE drops run_keys' reference to runs (not run_keys); it points at deliveries next.
DROP TABLE runs CASCADE;
ALTER TABLE run_keys
    ADD CONSTRAINT run_keys_run_id_fkey FOREIGN KEY (run_id) REFERENCES deliveries (id)
    ON DELETE CASCADE;

CREATE INDEX deliveries_handler ON deliveries (handler_id, id)
    WHERE handler_id IS NOT NULL;
CREATE INDEX deliveries_busy ON deliveries (handler_id)
    WHERE handler_id IS NOT NULL AND status IN ('pending', 'sending', 'failed');
DROP INDEX attempts_delivery;
CREATE INDEX attempts_delivery ON attempts (delivery_id, id);
"#,
    r#"
-- Background tasks, as SQLite's migration 10: a recover or a replay of an endpoint, kept so its
-- outcome can be fetched by id; `data` is a JSON object kept as text.
CREATE TABLE background_tasks (
    id TEXT COLLATE "C" PRIMARY KEY,
    app_id TEXT COLLATE "C" NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    task TEXT NOT NULL,
    status TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX background_tasks_app ON background_tasks (app_id, id);
CREATE INDEX background_tasks_created ON background_tasks (created_at);
"#,
    r#"
-- Pauses: what is paused (the server, an app, an endpoint, a handler, a source) and by whom.
-- Every node's claim leaves out the deliveries and runs a pause holds back; the server's
-- target is ''.
CREATE TABLE pauses (
    scope TEXT NOT NULL,
    target TEXT COLLATE "C" NOT NULL,
    reason TEXT,
    paused_by TEXT NOT NULL,
    paused_at BIGINT NOT NULL,
    PRIMARY KEY (scope, target)
);
"#,
    r#"
-- Operational events: the outbox (written in the transaction of the change each reports) and
-- endpoints' `failing_since`, for disabling endpoints that fail too long.
CREATE TABLE operational_events (
    id TEXT COLLATE "C" PRIMARY KEY,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
ALTER TABLE endpoints ADD COLUMN failing_since BIGINT;
CREATE INDEX endpoints_failing ON endpoints (failing_since)
    WHERE failing_since IS NOT NULL AND NOT disabled;
"#,
    r#"
-- Stats over time: additive counts per scope (server, app, endpoint, handler, source), time
-- bucket (width 60000 or 3600000 ms) and shard (PostgreSQL spreads one hot bucket over a few
-- rows so that nodes do not queue on one row lock; reads add the shards up). lat_N counts
-- attempts by duration over fixed bounds; depth and oldest_pending_ms are sampled gauges.
CREATE TABLE stats (
    scope TEXT NOT NULL,
    scope_id TEXT NOT NULL,
    width BIGINT NOT NULL,
    start_at BIGINT NOT NULL,
    shard BIGINT NOT NULL,
    ok BIGINT NOT NULL DEFAULT 0,
    rejected BIGINT NOT NULL DEFAULT 0,
    timeout BIGINT NOT NULL DEFAULT 0,
    other BIGINT NOT NULL DEFAULT 0,
    lat_0 BIGINT NOT NULL DEFAULT 0,
    lat_1 BIGINT NOT NULL DEFAULT 0,
    lat_2 BIGINT NOT NULL DEFAULT 0,
    lat_3 BIGINT NOT NULL DEFAULT 0,
    lat_4 BIGINT NOT NULL DEFAULT 0,
    lat_5 BIGINT NOT NULL DEFAULT 0,
    lat_6 BIGINT NOT NULL DEFAULT 0,
    lat_7 BIGINT NOT NULL DEFAULT 0,
    lat_8 BIGINT NOT NULL DEFAULT 0,
    lat_9 BIGINT NOT NULL DEFAULT 0,
    lat_10 BIGINT NOT NULL DEFAULT 0,
    lat_11 BIGINT NOT NULL DEFAULT 0,
    lat_12 BIGINT NOT NULL DEFAULT 0,
    lat_13 BIGINT NOT NULL DEFAULT 0,
    lat_14 BIGINT NOT NULL DEFAULT 0,
    created BIGINT NOT NULL DEFAULT 0,
    dead BIGINT NOT NULL DEFAULT 0,
    stored BIGINT NOT NULL DEFAULT 0,
    source_rejected BIGINT NOT NULL DEFAULT 0,
    duplicate BIGINT NOT NULL DEFAULT 0,
    depth BIGINT,
    oldest_pending_ms BIGINT,
    PRIMARY KEY (scope, scope_id, width, start_at, shard)
);
CREATE INDEX stats_age ON stats (width, start_at);
CREATE INDEX stats_kind ON stats (scope, width, start_at);
"#,
    r#"
-- Endpoint state changes for the live feed (GET /api/v1/stream), written in the transaction of
-- the change so that every node's feed reads them. id is the change's position in the feed: an
-- id of the attempts' form (its time, then random bits), so one cursor orders attempts and
-- changes alike. change is created, updated, deleted, disabled, enabled, paused or resumed;
-- detail says more for some (disabled: automatic or manual; paused: the reason). Rows older
-- than a day are deleted.
CREATE TABLE endpoint_changes (
    id TEXT COLLATE "C" PRIMARY KEY,
    app_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    change TEXT NOT NULL,
    detail TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX endpoint_changes_age ON endpoint_changes (created_at);
"#,
    r#"
-- The dashboard's needs (issue 17). An app's logo for the app portal; the headers each
-- attempt sent (JSON, credentials redacted), written in the attempt's one insert. Dead letters
-- are listed across apps and handlers by when they died (a dead row's updated_at), newest
-- first, and recovered by the same filters: partial indexes over dead rows only, so they cost
-- nothing on the hot path and a list or recover never reads live rows.
ALTER TABLE apps ADD COLUMN logo_url TEXT;
ALTER TABLE attempts ADD COLUMN request_headers TEXT;
CREATE INDEX deliveries_dead ON deliveries (updated_at, id)
    WHERE status = 'dead';
CREATE INDEX deliveries_dead_app ON deliveries (app_id, updated_at, id)
    WHERE status = 'dead' AND app_id IS NOT NULL;
CREATE INDEX deliveries_dead_endpoint ON deliveries (endpoint_id, updated_at, id)
    WHERE status = 'dead' AND endpoint_id IS NOT NULL;
CREATE INDEX deliveries_dead_handler ON deliveries (handler_id, updated_at, id)
    WHERE status = 'dead' AND handler_id IS NOT NULL;
"#,
    r#"
-- The queue's depth and its oldest waiting work (the stats summary, and the sample taken each
-- minute) read an index of waiting rows only: with a million delivered rows, counting them by
-- scanning every delivery took a third of a second.
CREATE INDEX deliveries_waiting ON deliveries (created_at)
    WHERE status IN ('pending', 'failed');
"#,
    r#"
-- Alert rules (from the config or the API) and the alerts they fire. At most one alert of a
-- rule is firing per subject: the partial unique index is what makes an alert fire once, even
-- from two nodes at once; resolving sets resolved_at only where it is unset.
CREATE TABLE alert_rules (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    threshold DOUBLE PRECISION NOT NULL,
    window_ms BIGINT NOT NULL,
    app TEXT,
    endpoint TEXT,
    handler TEXT,
    source TEXT,
    min_attempts BIGINT NOT NULL,
    disabled BOOLEAN NOT NULL,
    origin TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL,
    rule_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    threshold DOUBLE PRECISION NOT NULL,
    summary TEXT NOT NULL,
    fired_at BIGINT NOT NULL,
    resolved_at BIGINT
);
CREATE UNIQUE INDEX alerts_firing ON alerts (rule_id, subject) WHERE resolved_at IS NULL;
CREATE INDEX alerts_rule ON alerts (rule_id, id);
-- The nodes by name, as each last said on its heartbeat (role, leadership): kept apart from
-- the nodes table, whose rows go with a dead node's leases.
CREATE TABLE nodes_seen (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    leader BOOLEAN NOT NULL,
    last_seen BIGINT NOT NULL
);
"#,
    // Each claim of a delivery or run is numbered (see `Lease`): release and record act only
    // while the claim they were made under holds it.
    r#"
ALTER TABLE deliveries ADD COLUMN lease_claim BIGINT;
"#,
    r#"
-- Stats increments waiting to be added to stats: a write appends its increments here, as one
-- row (JSON, see Tally::encode), instead of updating its buckets' rows of stats; every node
-- folds this table into stats each second and before each read of stats, one node at a time.
CREATE TABLE stats_pending (
    tally TEXT NOT NULL
);
"#,
];

/// Brings the schema up to date, in one transaction that holds [`MIGRATION_LOCK`]: a node
/// starting beside another waits for it, then finds the schema current.
pub(crate) async fn migrate(conn: &mut PgConnection) -> StoreResult<()> {
    let mut tx = conn.begin().await.map_err(db_err)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    sqlx::raw_sql(
        r#"CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )"#,
    )
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    let current: i64 = sqlx::query_scalar(
        r#"SELECT COALESCE(MAX(version), 0)
        FROM schema_migrations"#,
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(db_err)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = i as i64 + 1;
        let failed = |e| fault(format!("PostgreSQL migration {version} failed"), e);
        sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(failed)?;
        sqlx::query(
            r#"INSERT INTO schema_migrations (version)
            VALUES ($1)"#,
        )
        .bind(version)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tracing::info!(version, "applied postgres migration");
    }
    tx.commit().await.map_err(db_err)
}
