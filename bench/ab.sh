#!/usr/bin/env bash
# A quick before/after of end-to-end delivery between git revisions, for finding which commit
# slowed it down: much shorter than run.sh, and no report. For each revision given (the first
# is the reference), builds its `rustyhook` (bench/revision.sh: kept in target/revisions/),
# then, one revision after another against one receiver: a fresh SQLite instance, a warm-up,
# and AB_RUNS runs of AB_MESSAGES messages posted by AB_CONCURRENCY clients. Prints each
# revision's delivered/s per run, the median, and its change against the first one's median.
#
#   bench/ab.sh eb2bd27 76be003 HEAD
#   AB_BACKEND=postgres bench/ab.sh eb2bd27 HEAD
#
# AB_BACKEND=postgres gives each instance a fresh database on the server at PG_ADMIN_URL
# (default postgres://postgres@127.0.0.1:5432; psql must reach it as a user allowed to create
# databases), named rh_ab_<random> and dropped when its revision is done or the script exits.
# The load generator and receiver are the current tree's. Traffic stays on 127.0.0.1; every
# process started is stopped when the script exits. Noise from run to run is several percent
# (more on a shared machine): believe a difference that holds in both orders.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
AB_MESSAGES=${AB_MESSAGES:-20000}
AB_RUNS=${AB_RUNS:-3}
AB_CONCURRENCY=${AB_CONCURRENCY:-64}
AB_BACKEND=${AB_BACKEND:-sqlite}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$CARGO_TARGET_DIR/release
WORK=$(mktemp -d)
TOKEN=ab-admin-token-$RANDOM$RANDOM
PIDS=()
PG_DB="" # the PostgreSQL database of the instance running, if any

log() { printf '[ab %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
    pg_drop
    [ ! -d "$WORK/revision-src" ] || git worktree remove --force "$WORK/revision-src" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

pg_sql() { psql "$PG_ADMIN_URL/postgres" -X -v ON_ERROR_STOP=1 -qAtc "$1"; }
pg_drop() {
    [ -z "$PG_DB" ] || pg_sql "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null || true
    PG_DB=""
}
case $AB_BACKEND in
    sqlite) ;;
    postgres) pg_sql "SELECT 1" >/dev/null \
        || { echo "PostgreSQL at $PG_ADMIN_URL is not reachable" >&2; exit 1; } ;;
    *) echo "AB_BACKEND is sqlite or postgres, not '$AB_BACKEND'" >&2; exit 2 ;;
esac
[ $# -ge 2 ] || { echo "usage: bench/ab.sh REFERENCE REVISION..." >&2; exit 2; }
# shellcheck source=bench/revision.sh
source "$ROOT/bench/revision.sh"
BINS=()
for rev in "$@"; do BINS+=("$(build_revision "$rev" "$WORK")"); done
log "building the load generator and receiver of the current tree"
cargo build --release --quiet -p rustyhook -p rustyhook-bench

"$BIN/receiver" --port-file "$WORK/receiver.port" 2>"$WORK/receiver.log" &
PIDS+=($!)
for _ in $(seq 50); do [ -s "$WORK/receiver.port" ] && break; sleep 0.1; done
RECV=http://127.0.0.1:$(cat "$WORK/receiver.port")
PORT=$((10000 + RANDOM % 20000)) # below the range of outgoing connections' local ports

median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
reference=""
for i in "${!BINS[@]}"; do
    rev=${*:i+1:1}
    rm -rf "$WORK/data"
    database=()
    if [ "$AB_BACKEND" = postgres ]; then
        PG_DB=rh_ab_${RANDOM}${RANDOM}
        pg_sql "CREATE DATABASE $PG_DB" >/dev/null
        database=(RUSTYHOOK_DATABASE_URL="$PG_ADMIN_URL/$PG_DB")
    fi
    env "${database[@]}" RUSTYHOOK_DATA_DIR="$WORK/data" RUSTYHOOK_LISTEN="127.0.0.1:$PORT" \
        RUSTYHOOK_ADMIN_TOKEN="$TOKEN" RUSTYHOOK_ALLOW_PRIVATE_NETWORKS=true \
        RUSTYHOOK_LOG_LEVEL=warn "${BINS[$i]}" serve >"$WORK/rustyhook.log" 2>&1 &
    rh=$!
    PIDS+=("$rh")
    lg=("$BIN/loadgen" --api "http://127.0.0.1:$PORT" --token "$TOKEN" --receiver "$RECV")
    "${lg[@]}" setup --endpoint-url "$RECV/hook" >/dev/null
    "${lg[@]}" throughput --messages 2000 --concurrency "$AB_CONCURRENCY" >/dev/null 2>&1
    rates=""
    for _ in $(seq "$AB_RUNS"); do
        rate=$("${lg[@]}" throughput --messages "$AB_MESSAGES" --concurrency "$AB_CONCURRENCY" 2>/dev/null \
            | awk -F= '$1 == "OUT_DELIVERY_RATE" { print $2 }')
        rates+=" ${rate:-failed}"
    done
    kill "$rh" && wait "$rh" 2>/dev/null || true
    pg_drop
    med=$(echo "$rates" | median)
    [ -n "$reference" ] || reference=$med
    change=$(awk -v m="$med" -v r="$reference" 'BEGIN { printf "%+.1f%%", 100 * (m - r) / r }')
    printf '%-12s %s  median %s  %s\n' "$rev" "$rates" "$med" "$change"
done
