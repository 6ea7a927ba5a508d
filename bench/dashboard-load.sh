#!/usr/bin/env bash
# The dashboard's load check: 1,000,000 messages in a fresh SQLite data directory, then the
# API calls each dashboard page makes, timed, p50 and p95 per call. Writes its results into
# BENCHMARKS.md between the markers `<!-- dashboard-load:begin -->` and
# `<!-- dashboard-load:end -->` (bench/run.sh keeps that section when it rewrites the file).
# See bench/README.md, "The dashboard's load check".
#
# Seeding. rustyhook makes the data directory, the app and its endpoints through the API, and
# one message gives the ids' time prefix; then, with rustyhook stopped, one SQLite transaction
# writes the 1,000,000 messages, one delivery and one attempt each (one in 1,000 dead, at a
# failing endpoint), and the stats buckets that rustyhook would have counted for them, in the
# same columns and id formats rustyhook writes. That takes seconds where posting a million
# messages through the API takes many minutes on two cores; what is measured is reading.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

MESSAGES=${LOAD_MESSAGES:-1000000}
REPEATS=${LOAD_REPEATS:-20}
OUT=${OUT:-$ROOT/BENCHMARKS.md}
WORK=${LOAD_WORK_DIR:-$ROOT/target/dashboard-load}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
# LOAD_BIN: a rustyhook binary to use as it is (default: build the release one).
BIN=${LOAD_BIN:-}
TOKEN=load-admin-token-$RANDOM$RANDOM

log() { printf '[load %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

RH_PID=
cleanup() { [ -z "$RH_PID" ] || { kill -TERM "$RH_PID" 2>/dev/null || true; wait "$RH_PID" 2>/dev/null || true; }; }
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v sqlite3 >/dev/null || { log "needs the sqlite3 command (apt-get install sqlite3)"; exit 1; }
if [ -z "$BIN" ]; then
    log "building the release binary"
    cargo build --release -q -p rustyhook
    BIN=$CARGO_TARGET_DIR/release/rustyhook
fi
PROFILE=$(case "$BIN" in */debug/*) echo debug ;; *) echo release ;; esac)

free_port() {
    local port
    while :; do
        port=$((10000 + RANDOM % 20000)) # below the range of outgoing connections' local ports
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
    done
}
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
start() {
    env RUSTYHOOK_DATA_DIR="$WORK/data" RUSTYHOOK_LISTEN="127.0.0.1:$PORT" \
        RUSTYHOOK_ADMIN_TOKEN="$TOKEN" RUSTYHOOK_LOG_LEVEL=warn \
        "$BIN" serve >>"$WORK/rustyhook.log" 2>&1 &
    RH_PID=$!
    for _ in $(seq 300); do curl -sf "$URL/api/v1/health" >/dev/null && return; sleep 0.1; done
    log "rustyhook did not start: see $WORK/rustyhook.log"; exit 1
}
stop() { kill -TERM "$RH_PID"; wait "$RH_PID" || true; RH_PID=; }
api() { # METHOD PATH [BODY] → body
    curl -sf -X "$1" "$URL/api/v1$2" -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/json' ${3:+-d "$3"}
}
field() { sed -E "s/.*\"$1\":\"([^\"]*)\".*/\1/"; }

rm -rf "$WORK"; mkdir -p "$WORK"
start
APP=$(api POST /app '{"name":"Load","uid":"load"}' | field id)
# Disabled: the seed writes their deliveries; rustyhook sends nothing during the check.
OK_EP=$(api POST /app/load/endpoint '{"url":"https://ok.example/hook","disabled":true}' | field id)
BAD_EP=$(api POST /app/load/endpoint '{"url":"https://failing.example/hook","disabled":true}' | field id)
PROBE=$(api POST /app/load/msg '{"eventType":"probe","payload":{}}' | field id)
stop
# Ids are a prefix and 22 characters that sort by time: the probe's first 15, then 7 digits.
BODY=${PROBE#msg_}
PREFIX=${BODY:0:15}
NOW_MS=$(($(date +%s) * 1000))
STEP=$((86400000 / MESSAGES)) # a day's worth, oldest first
T0=$((NOW_MS - MESSAGES * STEP))
log "seeding $MESSAGES messages into $WORK/data"
SEED_STARTED=$SECONDS
sqlite3 "$WORK/data/rustyhook.db" <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
BEGIN;
CREATE TEMP TABLE seq AS
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $MESSAGES - 1)
SELECT i, printf('%s%07d', '$PREFIX', i) AS body, $T0 + i * $STEP AS at,
    i % 1000 = 999 AS dead,
    CASE i % 4 WHEN 0 THEN 'invoice.paid' WHEN 1 THEN 'invoice.failed'
        WHEN 2 THEN 'order.made' ELSE 'order.shipped' END AS event_type
FROM n;
INSERT INTO messages (id, app_id, event_id, event_type, payload, channels, created_at, tags)
SELECT 'msg_' || body, '$APP', NULL, event_type,
    '{"invoice":"in_' || i || '","amount":' || (i % 9999) || ',"currency":"eur","lines":[{"sku":"s' || (i % 97) || '","qty":1}]}',
    NULL, at, NULL
FROM seq;
INSERT INTO deliveries (id, msg_id, endpoint_id, app_id, status, attempts, next_attempt_at,
    manual, lease_owner, created_at, updated_at)
SELECT 'dlv_' || body, 'msg_' || body, CASE WHEN dead THEN '$BAD_EP' ELSE '$OK_EP' END, '$APP',
    CASE WHEN dead THEN 'dead' ELSE 'succeeded' END, CASE WHEN dead THEN 8 ELSE 1 END, NULL,
    0, NULL, at, at + 40
FROM seq;
INSERT INTO attempts (id, delivery_id, msg_id, endpoint_id, app_id, url, outcome, status_code,
    response, duration_ms, trigger_type, created_at, request_headers)
SELECT 'atmpt_' || body, 'dlv_' || body, 'msg_' || body,
    CASE WHEN dead THEN '$BAD_EP' ELSE '$OK_EP' END, '$APP',
    CASE WHEN dead THEN 'https://failing.example/hook' ELSE 'https://ok.example/hook' END,
    CASE WHEN dead THEN 'E_HTTP_STATUS' ELSE 'OK' END, CASE WHEN dead THEN 500 ELSE 200 END,
    CASE WHEN dead THEN 'internal error' ELSE '{"ok":true}' END, 20 + i % 50, 0, at + 20,
    '{"content-type":"application/json","user-agent":"rustyhook/seed","webhook-id":"msg_' || body || '"}'
FROM seq;
-- What rustyhook counts with each write: per minute and hour, for the server, the app and
-- each endpoint (lat_2 holds 10–25 ms, lat_3 25–50 ms, lat_4 50–100 ms: close enough here).
-- Added to what the probe message counted in the same buckets, if any.
INSERT INTO stats (scope, scope_id, width, start_at, shard, ok, other, lat_3, created, dead)
SELECT * FROM (
    SELECT scope, scope_id, width, start_at, 0, SUM(NOT dead), SUM(dead), COUNT(*), COUNT(*),
        SUM(dead)
    FROM (
        SELECT s.dead, w.width, (s.at / w.width) * w.width AS start_at, sc.scope,
            CASE sc.scope WHEN 'server' THEN '' WHEN 'app' THEN '$APP'
                ELSE CASE WHEN s.dead THEN '$BAD_EP' ELSE '$OK_EP' END END AS scope_id
        FROM seq s
        CROSS JOIN (SELECT 60000 AS width UNION ALL SELECT 3600000) w
        CROSS JOIN (SELECT 'server' AS scope UNION ALL SELECT 'app' UNION ALL SELECT 'endpoint') sc
    )
    GROUP BY scope, scope_id, width, start_at
) WHERE TRUE
ON CONFLICT (scope, scope_id, width, start_at, shard) DO UPDATE
SET ok = ok + excluded.ok, other = other + excluded.other, lat_3 = lat_3 + excluded.lat_3,
    created = created + excluded.created, dead = dead + excluded.dead;
COMMIT;
ANALYZE;
SQL
SEED_SECS=$((SECONDS - SEED_STARTED))
log "seeded in ${SEED_SECS}s"

start
MID=$(sqlite3 "$WORK/data/rustyhook.db" "SELECT id FROM messages WHERE app_id = '$APP' ORDER BY id LIMIT 1 OFFSET $((MESSAGES / 2))")
iso() { date -u -d "@$(($1 / 1000))" +%Y-%m-%dT%H:%M:%SZ; }
HOUR_AGO=$(iso $((NOW_MS - 3600000)))
TWO_HOURS_AGO=$(iso $((NOW_MS - 7200000)))
CALLS=(
    "Apps: list|/app?limit=50"
    "App: endpoints|/app/load/endpoint?limit=50"
    "App: an endpoint's counts (stats route)|/app/load/endpoint/$OK_EP/stats"
    "App: an endpoint's last attempt|/app/load/attempt/endpoint/$OK_EP?limit=1"
    "Messages: first page|/app/load/msg?limit=50&with_content=false"
    "Messages: event type filter|/app/load/msg?limit=50&with_content=false&event_types=order.made"
    "Messages: time window|/app/load/msg?limit=50&with_content=false&after=$TWO_HOURS_AGO&before=$HOUR_AGO"
    "Message: its attempts|/app/load/attempt/msg/$MID?limit=50"
    "Message: its deliveries|/app/load/msg/$MID/endpoint?limit=50"
    "Dead letters: first page|/dead-letter?limit=50"
    "Dead letters: app and event type|/dead-letter?limit=50&app=load&eventType=order.made"
    "Stats: summary (a day)|/stats/summary"
    "Stats: server series (an hour, minutes)|/stats/server"
    "Stats: app series (a day, hours)|/stats/app/load?bucket=hour"
)
ROWS=()
EP_MARK='{ep}'
for call in "${CALLS[@]}"; do
    name=${call%%|*}; path=${call#*|}
    api GET "$path" >/dev/null || { log "GET $path failed"; exit 1; }
    times=$(for _ in $(seq "$REPEATS"); do
        curl -sf -o /dev/null -w '%{time_total}\n' "$URL/api/v1$path" -H "Authorization: Bearer $TOKEN"
    done | sort -n)
    p50=$(awk -v n="$REPEATS" 'NR == int((n + 1) / 2) { printf "%.1f", $1 * 1000 }' <<<"$times")
    p95=$(awk -v n="$REPEATS" 'NR == int(n * 0.95 + 0.999) { printf "%.1f", $1 * 1000 }' <<<"$times")
    log "$name: p50 ${p50} ms, p95 ${p95} ms"
    shown=${path//$OK_EP/$EP_MARK}
    ROWS+=("| $name | \`GET /api/v1$shown\` | $p50 | $p95 |")
done
stop
DB_MB=$(du -sm "$WORK/data" | cut -f1)

section() {
    echo "<!-- dashboard-load:begin -->"
    echo "## Dashboard pages with 1,000,000 messages"
    echo
    echo "Written by \`bench/dashboard-load.sh\` on $(date -u +%Y-%m-%d) ($(nproc) cores, load average"
    echo "$(cut -d' ' -f1-3 /proc/loadavg) at the end: the machine was shared), $PROFILE binary. $MESSAGES messages"
    echo "of one app over a day, each with one delivery and one attempt (one in 1,000 dead), seeded in"
    echo "${SEED_SECS} s by one SQLite transaction (see bench/README.md); data directory ${DB_MB} MB. Each API"
    echo "call a dashboard page makes, $REPEATS times in a row with curl on the loopback (\`{ep}\`: an"
    echo "endpoint's id):"
    echo
    echo "| page: call | request | p50 ms | p95 ms |"
    echo "|---|---|---:|---:|"
    printf '%s\n' "${ROWS[@]}"
    echo
    cat <<'NOTE'
What this check found and changed: a message looked up by id or event id (every message
page's first call) scanned every message (~0.5 s here), now two index lookups; the queue
depth in the stats summary scanned every delivery (~0.35 s), now reads an index of waiting
rows; dead letters read indexes over dead rows only. Still slow: an endpoint's counts
(`GET …/endpoint/{id}/stats`, Svix's route, on the app's endpoint list and the endpoint's
page) count that endpoint's deliveries by state, so they grow with its deliveries; the
charts' figures come from the stats buckets instead and stay flat.
NOTE
    echo "<!-- dashboard-load:end -->"
}
section >"$WORK/section.md"
if [ -f "$OUT" ] && grep -q '<!-- dashboard-load:begin -->' "$OUT"; then
    awk -v f="$WORK/section.md" '
        /<!-- dashboard-load:begin -->/ { while ((getline l < f) > 0) print l; skip = 1; next }
        /<!-- dashboard-load:end -->/ { skip = 0; next }
        !skip' "$OUT" >"$OUT.tmp"
else
    { [ -f "$OUT" ] && cat "$OUT" && echo; cat "$WORK/section.md"; } >"$OUT.tmp"
fi
mv "$OUT.tmp" "$OUT"
log "wrote the dashboard-load section of $OUT"
