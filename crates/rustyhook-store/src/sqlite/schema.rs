//! The SQLite schema, as numbered migrations applied in order on start. A migration is never
//! edited once released; changes go in a new one.

use rusqlite::Connection;

use super::conn::db_err;
use crate::StoreResult;

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE apps (
    id TEXT PRIMARY KEY,
    uid TEXT UNIQUE,
    name TEXT NOT NULL,
    rate_limit INTEGER,
    metadata TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE event_types (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    schemas TEXT,
    archived INTEGER NOT NULL DEFAULT 0,
    deprecated INTEGER NOT NULL DEFAULT 0,
    feature_flag TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE endpoints (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    uid TEXT,
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    version INTEGER NOT NULL,
    disabled INTEGER NOT NULL,
    rate_limit INTEGER,
    filter_types TEXT,
    channels TEXT,
    metadata TEXT NOT NULL,
    headers TEXT NOT NULL,
    secrets TEXT NOT NULL,
    header_style TEXT NOT NULL,
    max_in_flight INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (app_id, uid)
);
CREATE INDEX endpoints_app ON endpoints (app_id, id);

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    event_id TEXT,
    event_type TEXT NOT NULL,
    payload TEXT,
    channels TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (app_id, event_id)
);
CREATE INDEX messages_app ON messages (app_id, id);

CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    msg_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    endpoint_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at INTEGER,
    manual INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (msg_id, endpoint_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at)
    WHERE lease_owner IS NULL AND status IN ('pending', 'failed');
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, msg_id);

CREATE TABLE attempts (
    id TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    msg_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    url TEXT NOT NULL,
    outcome TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    response TEXT,
    duration_ms INTEGER NOT NULL,
    trigger_type INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX attempts_msg ON attempts (msg_id, id);
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, id);
CREATE INDEX attempts_delivery ON attempts (delivery_id);

CREATE TABLE idempotency (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    status INTEGER,
    body BLOB,
    created_at INTEGER NOT NULL
);
"#,
    r#"
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    handler_id TEXT NOT NULL,
    step TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at INTEGER,
    triggered_by TEXT NOT NULL,
    parent_id TEXT,
    event TEXT NOT NULL,
    exit_code INTEGER,
    output TEXT,
    lease_owner TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX runs_due ON runs (next_attempt_at)
    WHERE lease_owner IS NULL AND status IN ('pending', 'failed');
CREATE INDEX runs_handler ON runs (handler_id, id);
CREATE INDEX runs_busy ON runs (handler_id)
    WHERE status IN ('pending', 'sending', 'failed');

CREATE TABLE run_attempts (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    handler_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    exit_code INTEGER,
    output TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX run_attempts_run ON run_attempts (run_id, id);

CREATE TABLE exports (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    run_id TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
"#,
    r#"
CREATE TABLE rejected_messages (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    broker_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX rejected_messages_source ON rejected_messages (source, id);
"#,
    r#"
-- The key each keyed run was stored under (a broker message's id), so it is stored once; a key
-- goes when its run does.
CREATE TABLE run_keys (
    key TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE
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
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    app_id TEXT REFERENCES apps (id) ON DELETE CASCADE,
    read_only INTEGER NOT NULL DEFAULT 0,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    last_used_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX api_tokens_app ON api_tokens (app_id);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    actor TEXT NOT NULL,
    method TEXT NOT NULL,
    route TEXT NOT NULL,
    resource TEXT NOT NULL,
    address TEXT NOT NULL,
    status INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX audit_log_created ON audit_log (created_at);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
"#,
    r#"
-- Header style inherits: an endpoint's NULL follows its app's, an app's NULL the server's
-- delivery.header_style. 'standard' was the only default so far, so stored 'standard' becomes
-- NULL and nothing changes until an operator picks another default. SQLite cannot drop NOT NULL,
-- hence the rebuild (no table references endpoints).
ALTER TABLE apps ADD COLUMN header_style TEXT;
CREATE TABLE endpoints_new (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    uid TEXT,
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    version INTEGER NOT NULL,
    disabled INTEGER NOT NULL,
    rate_limit INTEGER,
    filter_types TEXT,
    channels TEXT,
    metadata TEXT NOT NULL,
    headers TEXT NOT NULL,
    secrets TEXT NOT NULL,
    header_style TEXT,
    max_in_flight INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (app_id, uid)
);
INSERT INTO endpoints_new
SELECT id, app_id, uid, url, description, version, disabled, rate_limit, filter_types, channels,
    metadata, headers, secrets, NULLIF(header_style, 'standard'), max_in_flight, created_at,
    updated_at
FROM endpoints;
DROP TABLE endpoints;
ALTER TABLE endpoints_new RENAME TO endpoints;
CREATE INDEX endpoints_app ON endpoints (app_id, id);
-- Svix's event type fields that were dropped before.
ALTER TABLE event_types ADD COLUMN feature_flags TEXT;
ALTER TABLE event_types ADD COLUMN group_name TEXT;
"#,
    r#"
-- Svix's message tags, a JSON list of text like channels, filtered on with GET …/msg?tag=….
ALTER TABLE messages ADD COLUMN tags TEXT;
"#,
    r#"
-- One queue. A handler's run is a delivery whose target is a handler step rather than an
-- endpoint: runs move into deliveries and their attempts into attempts, so one claim, one
-- lease and one record serve both. An endpoint delivery has msg_id, endpoint_id and app_id; a
-- run has handler_id, step, triggered_by, event (and a parent, exit code and output). A run's
-- attempt keeps its output in `response`. SQLite cannot relax NOT NULL, hence the rebuild;
-- the old tables go only after every row is copied, children first so no cascade fires.
CREATE TABLE deliveries_new (
    id TEXT PRIMARY KEY,
    msg_id TEXT REFERENCES messages (id) ON DELETE CASCADE,
    endpoint_id TEXT,
    app_id TEXT,
    handler_id TEXT,
    step TEXT,
    triggered_by TEXT,
    parent_id TEXT,
    event TEXT,
    exit_code INTEGER,
    output TEXT,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at INTEGER,
    manual INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (msg_id, endpoint_id),
    CHECK ((endpoint_id IS NULL) <> (handler_id IS NULL))
);
INSERT INTO deliveries_new (id, msg_id, endpoint_id, app_id, status, attempts, next_attempt_at,
    manual, lease_owner, created_at, updated_at)
SELECT id, msg_id, endpoint_id, app_id, status, attempts, next_attempt_at, manual, lease_owner,
    created_at, updated_at
FROM deliveries;
INSERT INTO deliveries_new (id, handler_id, step, triggered_by, parent_id, event, exit_code,
    output, status, attempts, next_attempt_at, lease_owner, created_at, updated_at)
SELECT id, handler_id, step, triggered_by, parent_id, event, exit_code, output, status,
    attempts, next_attempt_at, lease_owner, created_at, updated_at
FROM runs;

CREATE TABLE attempts_new (
    id TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES deliveries_new (id) ON DELETE CASCADE,
    msg_id TEXT,
    endpoint_id TEXT,
    app_id TEXT,
    url TEXT,
    handler_id TEXT,
    exit_code INTEGER,
    outcome TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    response TEXT,
    duration_ms INTEGER NOT NULL,
    trigger_type INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
INSERT INTO attempts_new (id, delivery_id, msg_id, endpoint_id, app_id, url, outcome,
    status_code, response, duration_ms, trigger_type, created_at)
SELECT id, delivery_id, msg_id, endpoint_id, app_id, url, outcome, status_code, response,
    duration_ms, trigger_type, created_at
FROM attempts;
INSERT INTO attempts_new (id, delivery_id, handler_id, exit_code, outcome, status_code,
    response, duration_ms, trigger_type, created_at)
SELECT id, run_id, handler_id, exit_code, outcome, 0, output, duration_ms, 0, created_at
FROM run_attempts;

CREATE TABLE run_keys_new (
    key TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES deliveries_new (id) ON DELETE CASCADE
);
INSERT INTO run_keys_new (key, run_id)
SELECT key, run_id
FROM run_keys;

DROP TABLE run_keys;
DROP TABLE run_attempts;
DROP TABLE runs;
DROP TABLE attempts;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
ALTER TABLE attempts_new RENAME TO attempts;
ALTER TABLE run_keys_new RENAME TO run_keys;

CREATE INDEX deliveries_due ON deliveries (next_attempt_at)
    WHERE lease_owner IS NULL AND status IN ('pending', 'failed');
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, msg_id);
CREATE INDEX deliveries_handler ON deliveries (handler_id, id)
    WHERE handler_id IS NOT NULL;
CREATE INDEX deliveries_busy ON deliveries (handler_id)
    WHERE handler_id IS NOT NULL AND status IN ('pending', 'sending', 'failed');
CREATE INDEX attempts_msg ON attempts (msg_id, id);
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, id);
CREATE INDEX attempts_delivery ON attempts (delivery_id, id);
CREATE INDEX run_keys_run ON run_keys (run_id);
"#,
    r#"
-- Background tasks (Svix's BackgroundTaskOut): a recover or a replay of an endpoint, kept so
-- its outcome can be fetched by id. `data` is a JSON object; the tasks go with their app.
CREATE TABLE background_tasks (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    task TEXT NOT NULL,
    status TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX background_tasks_app ON background_tasks (app_id, id);
CREATE INDEX background_tasks_created ON background_tasks (created_at);
"#,
    r#"
-- Pauses: what is paused (the server, an app, an endpoint, a handler, a source) and by whom.
-- The claim leaves out the deliveries and runs a pause holds back; the server's target is ''.
CREATE TABLE pauses (
    scope TEXT NOT NULL,
    target TEXT NOT NULL,
    reason TEXT,
    paused_by TEXT NOT NULL,
    paused_at INTEGER NOT NULL,
    PRIMARY KEY (scope, target)
);
"#,
    r#"
-- Operational events (Svix's operational webhooks) wait here, written in the transaction of
-- the change they report, until the engine publishes them as messages of the operational app.
-- `failing_since`: when the endpoint's current run of failed attempts began (cleared by a
-- success), for disabling endpoints that fail too long.
CREATE TABLE operational_events (
    id TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
ALTER TABLE endpoints ADD COLUMN failing_since INTEGER;
CREATE INDEX endpoints_failing ON endpoints (failing_since)
    WHERE failing_since IS NOT NULL AND disabled = 0;
"#,
    r#"
-- Stats over time: additive counts per scope (server, app, endpoint, handler, source), time
-- bucket (width 60000 or 3600000 ms) and shard (PostgreSQL spreads one hot bucket over a few
-- rows so that nodes do not queue on one row lock; reads add the shards up). lat_N counts
-- attempts by duration over fixed bounds; depth and oldest_pending_ms are sampled gauges.
CREATE TABLE stats (
    scope TEXT NOT NULL,
    scope_id TEXT NOT NULL,
    width INTEGER NOT NULL,
    start_at INTEGER NOT NULL,
    shard INTEGER NOT NULL,
    ok INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    timeout INTEGER NOT NULL DEFAULT 0,
    other INTEGER NOT NULL DEFAULT 0,
    lat_0 INTEGER NOT NULL DEFAULT 0,
    lat_1 INTEGER NOT NULL DEFAULT 0,
    lat_2 INTEGER NOT NULL DEFAULT 0,
    lat_3 INTEGER NOT NULL DEFAULT 0,
    lat_4 INTEGER NOT NULL DEFAULT 0,
    lat_5 INTEGER NOT NULL DEFAULT 0,
    lat_6 INTEGER NOT NULL DEFAULT 0,
    lat_7 INTEGER NOT NULL DEFAULT 0,
    lat_8 INTEGER NOT NULL DEFAULT 0,
    lat_9 INTEGER NOT NULL DEFAULT 0,
    lat_10 INTEGER NOT NULL DEFAULT 0,
    lat_11 INTEGER NOT NULL DEFAULT 0,
    lat_12 INTEGER NOT NULL DEFAULT 0,
    lat_13 INTEGER NOT NULL DEFAULT 0,
    lat_14 INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL DEFAULT 0,
    dead INTEGER NOT NULL DEFAULT 0,
    stored INTEGER NOT NULL DEFAULT 0,
    source_rejected INTEGER NOT NULL DEFAULT 0,
    duplicate INTEGER NOT NULL DEFAULT 0,
    depth INTEGER,
    oldest_pending_ms INTEGER,
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
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    change TEXT NOT NULL,
    detail TEXT,
    created_at INTEGER NOT NULL
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
    threshold REAL NOT NULL,
    window_ms INTEGER NOT NULL,
    app TEXT,
    endpoint TEXT,
    handler TEXT,
    source TEXT,
    min_attempts INTEGER NOT NULL,
    disabled INTEGER NOT NULL,
    origin TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL,
    rule_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    value REAL NOT NULL,
    threshold REAL NOT NULL,
    summary TEXT NOT NULL,
    fired_at INTEGER NOT NULL,
    resolved_at INTEGER
);
CREATE UNIQUE INDEX alerts_firing ON alerts (rule_id, subject) WHERE resolved_at IS NULL;
CREATE INDEX alerts_rule ON alerts (rule_id, id);
-- The nodes by name, as each last said on its heartbeat (role, leadership): kept apart from
-- the nodes table, whose rows go with a dead node's leases.
CREATE TABLE nodes_seen (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    leader INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
);
"#,
    // Each claim of a delivery or run is numbered (see `Lease`): release and record act only
    // while the claim they were made under holds it.
    r#"
ALTER TABLE deliveries ADD COLUMN lease_claim INTEGER;
"#,
    r#"
-- Stats increments waiting to be added to stats, as on PostgreSQL: each group commit appends
-- its increments here as one row (JSON, see Tally::encode) instead of updating its buckets'
-- rows of stats; the writer folds this table into stats about once a second, and before each
-- read or purge of stats.
CREATE TABLE stats_pending (
    tally TEXT NOT NULL
);
"#,
];

/// Brings the schema up to date.
pub(crate) fn migrate(conn: &Connection) -> StoreResult<()> {
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db_err)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = i + 1;
        conn.execute_batch(&format!(
            "BEGIN;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;"
        ))
        .map_err(db_err)?;
        tracing::info!(version, "applied sqlite migration");
    }
    Ok(())
}
