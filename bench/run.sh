#!/usr/bin/env bash
# Reruns rustyhook's benchmark on this machine and writes BENCHMARKS.md at the repository
# root. Every figure in that file comes from this one run; see bench/README.md.
#
# Phases (all traffic stays on 127.0.0.1):
#   1. raw    wrk posts straight to the receiver: the receiver's own ceiling.
#   2. e2e    loadgen posts N messages to rustyhook, which delivers them to the receiver;
#             timed until every id arrived and every attempt is counted in /metrics.
#             Repeated E2E_RUNS times on one instance; the median run is the headline.
#   3. lat    loadgen posts at a fixed rate; per message, receiver arrival − API 202.
#   4. fast   (optional) phase 2 again with synchronous=NORMAL, labelled as such.
#   5. mem    a fresh rustyhook whose endpoint is rate-limited to 1/s gets 100,000
#             messages; its RSS is read from /proc before and after.
#
# Settings can be overridden through the environment variables listed below.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PAYLOAD_BYTES=${PAYLOAD_BYTES:-512}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-32}
WRK_SECONDS=${WRK_SECONDS:-10}
WARMUP_MESSAGES=${WARMUP_MESSAGES:-2000}
E2E_MESSAGES=${E2E_MESSAGES:-50000}
E2E_CONCURRENCY=${E2E_CONCURRENCY:-64}
E2E_RUNS=${E2E_RUNS:-3}
LAT_RATE=${LAT_RATE:-1000}
LAT_SECONDS=${LAT_SECONDS:-12}
MEM_MESSAGES=${MEM_MESSAGES:-100000}
MEM_CONCURRENCY=${MEM_CONCURRENCY:-64}
FAST_SYNC_LINE=${FAST_SYNC_LINE:-1}
OUT=${OUT:-$ROOT/BENCHMARKS.md}
WORK=${BENCH_WORK_DIR:-$ROOT/target/bench-run}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$CARGO_TARGET_DIR/release
TOKEN=bench-admin-token-$RANDOM$RANDOM
HZ=$(getconf CLK_TCK)
TIMEFORMAT='%R %U %S'

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
calc() { awk "BEGIN { printf \"%${2:-.0f}\", ($1) }"; }

# ---------------------------------------------------------------- processes and cleanup
PIDS=() # everything this script started, stopped by pid on exit
stop_pid() { # pid: TERM, then KILL after 10 s
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
forget_pid() {
    local kept=() pid
    for pid in "${PIDS[@]}"; do [ "$pid" = "$1" ] || kept+=("$pid"); done
    PIDS=("${kept[@]}")
}
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    rm -rf "$WORK"/data-* "$OUT.tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 40000))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
    done
}

# start_rustyhook NAME [VAR=value ...]: fresh data dir and port; sets RH_PID and RH_URL.
start_rustyhook() {
    local name=$1 port; shift
    port=$(free_port)
    rm -rf "$WORK/data-$name"; mkdir -p "$WORK/data-$name"
    env RUSTYHOOK_DATA_DIR="$WORK/data-$name" RUSTYHOOK_LISTEN="127.0.0.1:$port" \
        RUSTYHOOK_ADMIN_TOKEN="$TOKEN" RUSTYHOOK_ALLOW_PRIVATE_NETWORKS=true \
        RUSTYHOOK_LOG_LEVEL=warn "$@" \
        "$BIN/rustyhook" serve >"$WORK/rustyhook-$name.log" 2>&1 &
    RH_PID=$!
    PIDS+=("$RH_PID")
    RH_URL="http://127.0.0.1:$port"
    log "rustyhook ($name) pid $RH_PID on $RH_URL"
}
# stop_rustyhook NAME: SIGTERM (SIGKILL after 60 s); sets STOP_NAME_SECS, STOP_NAME_RC and
# NAME_WARNINGS, with NAME upper-cased.
stop_rustyhook() {
    local started=$SECONDS rc=0
    kill -TERM "$RH_PID"
    for _ in $(seq 600); do kill -0 "$RH_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$RH_PID" 2>/dev/null && log "rustyhook ($1) ignored SIGTERM for 60 s: killed"
    wait "$RH_PID" || rc=$?
    forget_pid "$RH_PID"
    printf -v "STOP_${1^^}_RC" '%s' "$rc"
    printf -v "STOP_${1^^}_SECS" '%s' "$((SECONDS - started))"
    printf -v "${1^^}_WARNINGS" '%s' \
        "$(grep -ciE '"level":"(WARN|ERROR)"|\b(WARN|ERROR)\b' "$WORK/rustyhook-$1.log" || true)"
}

# ------------------------------------------------------------------ measuring a window
cpu_secs() { # pid → user+system CPU seconds so far
    sed 's/^.*) //' "/proc/$1/stat" | awk -v hz="$HZ" '{ printf "%.2f", ($12 + $13) / hz }'
}
rss_mib() { # pid VmRSS|VmHWM → MiB
    awk -v f="$2:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}
machine_ticks() { # → busy total steal iowait, all cores, from /proc/stat
    awk '$1 == "cpu" { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9, $9, $6 }' /proc/stat
}
thread_ticks() { # pid → "tid name ticks" per thread (names have no spaces here)
    sed 's/^\([0-9]*\) (\(.*\)) /\1 \2 /' /proc/"$1"/task/*/stat 2>/dev/null \
        | awk '{ print $1, $2, $14 + $15 }'
}
# window_start / window_end NAME [PID]: CPU of PID (default rustyhook), of the receiver and
# of the whole machine between the two calls, as NAME_RH_CPU, NAME_RECV_CPU, NAME_BUSY_PCT,
# NAME_BUSY_CPU, NAME_STEAL_CPU and NAME_IOWAIT_CPU (seconds); and of PID's busiest threads:
# NAME_WRITER_CPU (the SQLite writer thread) and NAME_TOP_THREADS (the three busiest others).
window_start() {
    W_PID=${1:-$RH_PID}
    W_RH=$(cpu_secs "$W_PID"); W_RECV=$(cpu_secs "$RECV_PID")
    thread_ticks "$W_PID" >"$WORK/threads.before"
    read -r W_BUSY W_TOTAL W_STEAL W_IOWAIT < <(machine_ticks)
}
window_end() {
    local busy total steal iowait writer top
    read -r busy total steal iowait < <(machine_ticks)
    thread_ticks "$W_PID" | awk -v hz="$HZ" 'NR == FNR { before[$1] = $3; next }
        { printf "%.2f %s\n", ($3 - before[$1]) / hz, $2 }' "$WORK/threads.before" - \
        | sort -rn >"$WORK/threads.delta"
    writer=$(awk '$2 ~ /^rustyhook-sqlit/ { w += $1 } END { printf "%.2f", w }' "$WORK/threads.delta")
    top=$(awk '$2 !~ /^rustyhook-sqlit/ && n++ < 3 { printf "%s%s %s s", sep, $2, $1; sep = ", " }' \
        "$WORK/threads.delta")
    {
        echo "${1}_WRITER_CPU=$writer"
        echo "${1}_TOP_THREADS='$top'"
        echo "${1}_RH_CPU=$(calc "$(cpu_secs "$W_PID") - $W_RH" .1f)"
        echo "${1}_RECV_CPU=$(calc "$(cpu_secs "$RECV_PID") - $W_RECV" .1f)"
        echo "${1}_BUSY_PCT=$(calc "100 * ($busy - $W_BUSY) / ($total - $W_TOTAL + 1e-9)")"
        echo "${1}_BUSY_CPU=$(calc "($busy - $W_BUSY) / $HZ" .1f)"
        echo "${1}_STEAL_CPU=$(calc "($steal - $W_STEAL) / $HZ" .1f)"
        echo "${1}_IOWAIT_CPU=$(calc "($iowait - $W_IOWAIT) / $HZ" .1f)"
    } >>"$WORK/$1.env"
    # shellcheck disable=SC1090
    source "$WORK/$1.env"
}

# loadgen NAME ARGS...: runs the load generator with NAME as the key prefix; its KEY=value
# output, plus NAME_WALL and NAME_LG_CPU (its own CPU seconds), lands in $WORK/NAME.env.
loadgen() {
    local name=$1 wall user sys; shift
    if ! { time "$BIN/loadgen" --api "$RH_URL" --token "$TOKEN" --receiver "$RECV_URL" \
        --payload-bytes "$PAYLOAD_BYTES" --prefix "$name" "$@" \
        >"$WORK/$name.env" 2>"$WORK/$name.log"; } 2>"$WORK/$name.time"; then
        log "loadgen $name failed:"; cat "$WORK/$name.log" >&2; exit 1
    fi
    read -r wall user sys <"$WORK/$name.time"
    printf '%s_WALL=%s\n%s_LG_CPU=%s\n' "$name" "$wall" "$name" "$(calc "$user + $sys" .1f)" \
        >>"$WORK/$name.env"
    # shellcheck disable=SC1090
    source "$WORK/$name.env"
}

# e2e_runs PREFIX: E2E_RUNS throughput runs against the running rustyhook. The median run's
# figures (by deliveries/s; an incomplete run counts as 0) become PREFIX_*, and every run's
# rates are listed in PREFIX_ALL_RATES (deliveries/s) and PREFIX_ALL_INGEST (messages/s).
e2e_runs() {
    local prefix=$1 i name rate rows=() chosen all="" ingest=""
    for i in $(seq "$E2E_RUNS"); do
        name=${prefix}RUN$i
        window_start
        loadgen "$name" throughput --messages "$E2E_MESSAGES" --concurrency "$E2E_CONCURRENCY" \
            --first-seq $((i * 1000000))
        window_end "$name"
        rate=$(grep -oP "^${name}_DELIVERY_RATE=\K.*" "$WORK/$name.env" || echo 0)
        log "$name: ingest $(grep -oP "^${name}_INGEST_RATE=\K.*" "$WORK/$name.env")/s," \
            "delivered ${rate}/s"
        rows+=("$rate $name")
        ingest+="${ingest:+, }$(grep -oP "^${name}_INGEST_RATE=\K.*" "$WORK/$name.env")"
        [ "$rate" != 0 ] || rate="did not complete"
        all+="${all:+, }$rate"
    done
    printf -v "${prefix}_ALL_RATES" '%s' "$all"
    printf -v "${prefix}_ALL_INGEST" '%s' "$ingest"
    chosen=$(printf '%s\n' "${rows[@]}" | sort -n | sed -n "$(((E2E_RUNS + 1) / 2))p" | cut -d' ' -f2)
    sed "s/^${chosen}_/${prefix}_/" "$WORK/$chosen.env" >"$WORK/$prefix.env"
    # shellcheck disable=SC1090
    source "$WORK/$prefix.env"
    printf -v "${prefix}_MEDIAN_RUN" '%s' "${chosen#"${prefix}RUN"}"
}

# ------------------------------------------------------------------------------ report
# "What limits it": each sentence is chosen by a measured figure, none is written in.
limits_text() {
    local avail ours others rh_cores rh_us gain lo hi writer_pct writer_verdict
    avail=$(calc "$NPROC * $E2E_WALL" .1f)
    ours=$(calc "$E2E_RH_CPU + $E2E_LG_CPU + $E2E_RECV_CPU" .1f)
    others=$(calc "$E2E_BUSY_CPU - $ours > 0 ? $E2E_BUSY_CPU - $ours : 0" .1f) # tick rounding
    rh_cores=$(calc "$E2E_RH_CPU / $E2E_WALL" .2f)
    rh_us=$(calc "1000000 * $E2E_RH_CPU / $E2E_ACCEPTED")
    echo "- **CPU.** In the median run of phase 2 the machine's ${NPROC} cores were" \
        "${E2E_BUSY_PCT}% busy (${E2E_BUSY_CPU} of ${avail} CPU-seconds): rustyhook" \
        "${E2E_RH_CPU} s (${rh_cores} cores on average, about ${rh_us} µs of CPU per message" \
        "for ingest, storage, delivery and recording), the load generator ${E2E_LG_CPU} s, the" \
        "receiver ${E2E_RECV_CPU} s, everything else (kernel work not charged to a process," \
        "other processes) ${others} s; steal ${E2E_STEAL_CPU} s, I/O wait ${E2E_IOWAIT_CPU} s."
    writer_pct=$(calc "100 * $E2E_WRITER_CPU / $E2E_WALL")
    if [ "$writer_pct" -ge 90 ]; then
        writer_verdict="nearly always busy: the single writer is a serial bottleneck"
    else
        writer_verdict="so its CPU work alone did not saturate it; time blocked in fsync is not CPU and not counted"
    fi
    echo "  Inside rustyhook, the SQLite writer thread used ${E2E_WRITER_CPU} s of CPU" \
        "(${writer_pct}% of the run's wall time, ${writer_verdict}); its busiest other" \
        "threads: ${E2E_TOP_THREADS}. For comparison, ingest into a backlog (phase 5, almost" \
        "nothing delivered) cost rustyhook $(calc "1000000 * $FILL_RH_CPU / $FILL_ACCEPTED") µs" \
        "of CPU per message with the machine ${FILL_BUSY_PCT}% busy."
    if [ "$E2E_BUSY_PCT" -ge 85 ]; then
        echo "  At ${E2E_BUSY_PCT}% the cores were (nearly) saturated, so this figure is bound by" \
            "CPU shared between rustyhook and the load generator and receiver measuring it; with" \
            "those on other machines, rustyhook would get both cores."
    else
        echo "  The cores were not saturated ($((100 - E2E_BUSY_PCT))% idle), so part of the time" \
            "went to waiting rather than computing: on SQLite commits (I/O wait" \
            "${E2E_IOWAIT_CPU} s) or on the limit of 32 requests in flight per endpoint."
    fi
    if [ -n "${FAST_DELIVERY_RATE:-}" ] && [ -n "${E2E_DELIVERY_RATE:-}" ]; then
        gain=$(calc "100 * ($FAST_DELIVERY_RATE - $E2E_DELIVERY_RATE) / $E2E_DELIVERY_RATE")
        read -r lo hi < <(tr ',' '\n' <<<"$E2E_ALL_RATES" | sort -n | awk 'NR == 1 { l = $1 } { h = $1 } END { print l, h }')
        echo "- **fsync.** Median with \`synchronous=NORMAL\`: ${FAST_DELIVERY_RATE}/s, ${gain}%" \
            "against \`FULL\` (whose ${E2E_RUNS} runs spanned ${lo}–${hi}/s); rustyhook's CPU per" \
            "message in the median runs: $(calc "1000000 * $FAST_RH_CPU / $FAST_ACCEPTED") µs with" \
            "\`NORMAL\`, $(calc "1000000 * $E2E_RH_CPU / $E2E_ACCEPTED") µs with \`FULL\`. This disk did" \
            "${FSYNC_PER_SEC} synchronous 4 KiB writes/s (dd), and group commit spreads each" \
            "fsync over the messages committed together."
        if [ "$gain" -ge 15 ]; then
            echo "  The fsync that ends each SQLite group commit is a real part of the cost here."
        else
            echo "  The fsync that ends each SQLite group commit is not what limits it here; on a" \
                "disk with slow fsync (network volume, no write cache) it would weigh more."
        fi
    fi
    if [ -n "${E2E_DELIVERY_RATE:-}" ]; then
        echo "- **Receiver.** Alone, the receiver took ${RAW_RPS} requests/s," \
            "$(calc "$RAW_RPS / $E2E_DELIVERY_RATE" .1f)× the end-to-end rate, and used" \
            "${E2E_RECV_CPU} CPU-seconds in the median run: it is not the limit. Its own figure" \
            "is itself CPU-bound (machine ${RAW_BUSY_PCT}% busy, wrk using ${RAW_WRK_CPU} s of it)."
    fi
    echo "- **Ingest and delivery share the server.** The API accepted ${E2E_INGEST_RATE}" \
        "messages/s while delivering, and ${FILL_INGEST_RATE}/s in phase 5 where almost nothing" \
        "was delivered. Each message is committed (message and delivery rows) before its 202 and" \
        "each attempt is committed after it, so ingest and delivery compete for one SQLite writer" \
        "and the same cores."
}

# A warning when processes outside the benchmark took more than 10% of the machine's CPU
# during phase 1 or the median run of phase 2.
interference_note() {
    local raw_others e2e_others
    raw_others=$(calc "$RAW_BUSY_CPU - $RAW_RECV_CPU - $RAW_WRK_CPU" .1f)
    e2e_others=$(calc "$E2E_BUSY_CPU - $E2E_RH_CPU - $E2E_LG_CPU - $E2E_RECV_CPU" .1f)
    if [ "$(calc "($raw_others > 0.1 * $NPROC * $RAW_WALL) + ($e2e_others > 0.1 * $NPROC * $E2E_WALL)")" != 0 ]; then
        echo "> **Warning:** CPU time outside the benchmark's processes was high during this run"
        echo "> (phase 1: ${raw_others} s of $(calc "$NPROC * $RAW_WALL" .1f); phase 2, median run:"
        echo "> ${e2e_others} s of $(calc "$NPROC * $E2E_WALL" .1f)). Something else was running;"
        echo "> the figures below are lower than this machine can do. Rerun on a quiet machine."
        echo
    fi
}

write_report() {
    local ratio="n/a" fast_row="" note
    note=$(interference_note)
    [ -z "$note" ] || note+=$'\n\n'
    [ -z "${E2E_DELIVERY_RATE:-}" ] || ratio="$(calc "100 * $E2E_DELIVERY_RATE / $RAW_RPS" .1f)%"
    if [ "$FAST_SYNC_LINE" = 1 ]; then
        fast_row="| End-to-end deliveries/s with \`RUSTYHOOK_SQLITE_FAST_UNSAFE_SYNC=true\` (synchronous=NORMAL; **not** the default: a power loss can lose acknowledged messages) | ${FAST_DELIVERY_RATE:-did not complete} /s, median of ${FAST_ALL_RATES} (ingest ${FAST_INGEST_RATE}/s) |"
    fi
    cat <<EOF
# rustyhook benchmarks

Written in full by \`bench/run.sh\` on ${RUN_DATE}; every figure comes from that one run on the
machine below, nothing was edited by hand. To rerun: \`bench/run.sh\` (see \`bench/README.md\`).

## Summary

${note}| figure | measured |
|---|---|
| Raw receiver limit (wrk, ${WRK_CONNECTIONS} connections) | **${RAW_RPS} requests/s** |
| End-to-end deliveries/s through rustyhook (default durability, \`synchronous=FULL\`) | **${E2E_DELIVERY_RATE:-did not complete} /s**, median of ${E2E_ALL_RATES}; ${ratio} of the raw limit |
| API ingest rate (while delivering; median run) | **${E2E_INGEST_RATE} messages/s** |
| API accept → first attempt at ${LAT_RATE} messages/s | p50 **${LAT_ARRIVAL_P50} ms**, p90 ${LAT_ARRIVAL_P90} ms, p99 **${LAT_ARRIVAL_P99} ms**, max ${LAT_ARRIVAL_MAX} ms |
| rustyhook RSS right after start → with ${MEM_MESSAGES} messages queued | **${MEM_RSS_START} MiB → ${MEM_RSS_END} MiB** (peak VmHWM ${MEM_HWM_END} MiB) |
${fast_row}

## Machine and run

| | |
|---|---|
| date | ${RUN_DATE} |
| git commit | ${COMMIT} |
| CPU | ${CPU_MODEL} |
| \`nproc\` | ${NPROC} |
| memory | ${MEM_TOTAL} |
| kernel | ${KERNEL} |
| data directory | \`${WORK#"$ROOT"/}\` on ${FS_TYPE}; 500 synchronous 4 KiB writes (\`dd oflag=dsync\`): ${FSYNC_PER_SEC}/s |
| machine before measuring | ${BEFORE_BUSY_PCT}% busy over 2 s; load average ${LOADAVG_START} (1, 5, 15 min; includes the build just before) |
| load tool | ${WRK_VERSION} |
| run time | ${BENCH_SECS} s of measurements (plus ${BUILD_SECS} s building) |

rustyhook, the receiver (\`bench/src/bin/receiver.rs\`, hyper HTTP/1.1) and the load generator
(\`bench/src/bin/loadgen.rs\`, reqwest; \`wrk\` in phase 1) all ran on this machine and shared its
${NPROC} cores; all traffic went over 127.0.0.1. Every message carried a ${PAYLOAD_BYTES}-byte JSON
payload, which is the body the receiver gets. rustyhook ran as \`target/release/rustyhook serve\`
with a fresh data directory per instance, \`RUSTYHOOK_LOG_LEVEL=warn\`,
\`RUSTYHOOK_ALLOW_PRIVATE_NETWORKS=true\` and otherwise default settings (SQLite with
\`synchronous=FULL\`, queue capacity 20,000, 32 in flight per endpoint), one app, one endpoint.

## 1. Raw receiver limit

\`wrk -t${WRK_THREADS} -c${WRK_CONNECTIONS} -d${WRK_SECONDS}s --latency -s post.lua\` against the
receiver's \`POST /hook\`. The Lua script sends the same ${PAYLOAD_BYTES}-byte body with Standard
Webhooks headers and a unique \`webhook-id\` per request, which the receiver records exactly as it
does for rustyhook's deliveries. ${WRK_CONNECTIONS} connections match rustyhook's default of 32
requests in flight per endpoint.

| | |
|---|---|
| requests/s | ${RAW_RPS} |
| latency p50 / p99 | ${RAW_P50} / ${RAW_P99} |
| errors | ${RAW_ERRORS} |
| CPU in ${RAW_WALL} s | machine ${RAW_BUSY_PCT}% busy; receiver ${RAW_RECV_CPU} s, wrk ${RAW_WRK_CPU} s |

## 2. End-to-end deliveries through rustyhook

After a warm-up of ${WARMUP_MESSAGES} messages, the load generator posted ${E2E_MESSAGES} messages to
\`POST /api/v1/app/bench/msg\` from ${E2E_CONCURRENCY} concurrent clients (keep-alive HTTP/1.1), ${E2E_RUNS}
times in a row on the same instance. Each run's clock starts at its first post and stops when the
receiver has seen all ${E2E_MESSAGES} distinct \`webhook-id\`s **and**
\`rustyhook_attempts_total{outcome="OK"}\` on \`/metrics\` has grown by ${E2E_MESSAGES} (the attempts
recorded); both are polled every 20 ms. The database grows by ${E2E_MESSAGES} messages per run.
Deliveries/s per run: ${E2E_ALL_RATES}; ingest messages/s per run: ${E2E_ALL_INGEST}. The table
shows the median run (run ${E2E_MEDIAN_RUN}).

| | |
|---|---|
| messages accepted (202) / failed | ${E2E_ACCEPTED} / ${E2E_FAILED} ${E2E_FIRST_ERROR} |
| all posts answered after | ${E2E_INGEST_SECS} s → **ingest ${E2E_INGEST_RATE} messages/s** |
| receiver had every id after | ${E2E_RECEIVED_SECS:-not reached} s |
| every attempt recorded after | ${E2E_RECORDED_SECS:-not reached} s → **${E2E_DELIVERY_RATE:-n/a} deliveries/s** |
| ratio to the raw receiver limit | ${ratio} |
| receiver requests / distinct ids / duplicates | ${E2E_REQUESTS} / ${E2E_DISTINCT} / ${E2E_DUPLICATES} |
| attempts other than OK during the run | ${E2E_OTHER_ATTEMPTS_DELTA} |
| mean body size at the receiver | ${E2E_BODY_BYTES_AVG} bytes |
| CPU in the run's ${E2E_WALL} s | machine ${E2E_BUSY_PCT}% busy; rustyhook ${E2E_RH_CPU} s, load generator ${E2E_LG_CPU} s, receiver ${E2E_RECV_CPU} s |
| rustyhook warn/error log lines (instance of phases 2–3) | ${FULL_WARNINGS} |

## 3. Latency from API accept to first attempt

On the same instance, the load generator posted at a fixed ${LAT_RATE} messages/s for ${LAT_SECONDS} s
(achieved ${LAT_ACHIEVED_RATE}/s; ${LAT_ACCEPTED} accepted, ${LAT_FAILED} failed). For each message it
took the wall clock (\`CLOCK_REALTIME\`) once it had read the 202; the receiver took it when the
request carrying that \`webhook-id\` arrived, and serves those times on \`GET /arrivals\`.
Latency = arrival − accept. rustyhook hands a delivery to its dispatcher when the message's
transaction commits, while the 202 is being written, so a delivery can arrive before the client has
read the response: ${LAT_NEGATIVE} of ${LAT_ARRIVAL_COUNT} did (negative values). The second row
measures from the moment the post was sent instead, an upper bound.

| ms | min | p50 | p90 | p99 | max | mean |
|---|---|---|---|---|---|---|
| arrival − 202 read | ${LAT_ARRIVAL_MIN} | **${LAT_ARRIVAL_P50}** | **${LAT_ARRIVAL_P90}** | **${LAT_ARRIVAL_P99}** | **${LAT_ARRIVAL_MAX}** | ${LAT_ARRIVAL_MEAN} |
| arrival − post sent | ${LAT_FROM_SEND_MIN} | ${LAT_FROM_SEND_P50} | ${LAT_FROM_SEND_P90} | ${LAT_FROM_SEND_P99} | ${LAT_FROM_SEND_MAX} | ${LAT_FROM_SEND_MEAN} |
| API response time (202) | ${LAT_API_MIN} | ${LAT_API_P50} | ${LAT_API_P90} | ${LAT_API_P99} | ${LAT_API_MAX} | ${LAT_API_MEAN} |

Messages never seen by the receiver: ${LAT_MISSING}. After phases 2–3, with every delivery done,
rustyhook's RSS was ${FULL_RSS_END} MiB (peak ${FULL_HWM_END} MiB; ${FULL_RSS_START} MiB after start) and its
data directory ${FULL_DB_MIB} MiB. Its graceful stop took ${STOP_FULL_SECS} s, exit code ${STOP_FULL_RC}.

## 4. Memory with ${MEM_MESSAGES} messages queued

A fresh rustyhook with one endpoint pointing at the receiver with \`"rateLimit": 1\` (one delivery
per second), so nearly every message stays queued. The load generator posted ${MEM_MESSAGES} messages
from ${MEM_CONCURRENCY} clients (${FILL_ACCEPTED} accepted, ${FILL_FAILED} failed, in ${FILL_INGEST_SECS} s:
${FILL_INGEST_RATE} messages/s); RSS was read from \`/proc/PID/status\` two seconds later.

| | |
|---|---|
| VmRSS right after start (app and endpoint created) | ${MEM_RSS_START} MiB |
| VmRSS with the messages queued | **${MEM_RSS_END} MiB** |
| VmHWM (peak) | ${MEM_HWM_END} MiB |
| \`/metrics\` then | \`rustyhook_queue_depth\` ${MET_QUEUE_DEPTH}, \`rustyhook_dispatcher_queued\` (held in memory) ${MET_DISPATCHER_QUEUED}, OK attempts ${MET_ATTEMPTS_OK} |
| data directory size | ${MEM_DB_MIB} MiB |
| rustyhook CPU while ingesting | ${FILL_RH_CPU} s, $(calc "1000000 * $FILL_RH_CPU / $FILL_ACCEPTED") µs per message; machine ${FILL_BUSY_PCT}% busy |
| rustyhook CPU over the next 3 s, holding the backlog | ${IDLE_RH_CPU} s |
| rustyhook warn/error log lines | ${MEM_WARNINGS} |

## What limits it

$(limits_text)

## Settings of this run

\`PAYLOAD_BYTES=${PAYLOAD_BYTES} WRK_THREADS=${WRK_THREADS} WRK_CONNECTIONS=${WRK_CONNECTIONS}
WRK_SECONDS=${WRK_SECONDS} WARMUP_MESSAGES=${WARMUP_MESSAGES} E2E_MESSAGES=${E2E_MESSAGES}
E2E_CONCURRENCY=${E2E_CONCURRENCY} E2E_RUNS=${E2E_RUNS} LAT_RATE=${LAT_RATE} LAT_SECONDS=${LAT_SECONDS}
MEM_MESSAGES=${MEM_MESSAGES} MEM_CONCURRENCY=${MEM_CONCURRENCY} FAST_SYNC_LINE=${FAST_SYNC_LINE}\`

Raw outputs (wrk's report, each phase's \`KEY=value\` lines, rustyhook's logs) are left in
\`${WORK#"$ROOT"/}/\` after a run.
EOF
}

# ---------------------------------------------------------------------------- preparation
mkdir -p "$WORK"
rm -f "$WORK"/*.env "$WORK"/*.log "$WORK"/*.time
if ! command -v wrk >/dev/null; then
    log "installing wrk"
    SUDO=(); [ "$(id -u)" -eq 0 ] || SUDO=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get install -y wrk >/dev/null 2>&1 \
        || { "${SUDO[@]}" apt-get update >/dev/null && "${SUDO[@]}" apt-get install -y wrk >/dev/null; }
fi
log "building release binaries"
build_started=$SECONDS
cargo build --release --quiet -p rustyhook -p rustyhook-bench
BUILD_SECS=$((SECONDS - build_started))
BENCH_STARTED=$SECONDS

RUN_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
NPROC=$(nproc)
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM_TOTAL=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
KERNEL=$(uname -r)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null)" ]; then
    COMMIT="$COMMIT, with uncommitted changes under crates/ or in Cargo.toml/Cargo.lock"
fi
FS_TYPE=$(df -T "$WORK" | awk 'NR == 2 { print $2 }')
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
read -r b0 t0 _ < <(machine_ticks); sleep 2; read -r b1 t1 _ < <(machine_ticks)
BEFORE_BUSY_PCT=$(calc "100 * ($b1 - $b0) / ($t1 - $t0 + 1e-9)")
[ "$BEFORE_BUSY_PCT" -lt 20 ] || log "warning: the machine is already ${BEFORE_BUSY_PCT}% busy"
WRK_VERSION=$(wrk -v 2>&1 | head -n1 | awk '{ print $1, $2 }' || true)

# fsync probe: 500 synchronous 4 KiB writes on the disk that holds the data dirs.
{ time dd if=/dev/zero of="$WORK/fsync-probe" bs=4k count=500 oflag=dsync 2>/dev/null; } \
    2>"$WORK/fsync.time"
FSYNC_PER_SEC=$(calc "500 / $(cut -d' ' -f1 "$WORK/fsync.time")")
rm -f "$WORK/fsync-probe"

# ------------------------------------------------------------------ phase 1: raw receiver
rm -f "$WORK/receiver.port"
"$BIN/receiver" --port-file "$WORK/receiver.port" 2>"$WORK/receiver.log" &
RECV_PID=$!
PIDS+=("$RECV_PID")
for _ in $(seq 100); do [ -s "$WORK/receiver.port" ] && break; sleep 0.05; done
RECV_URL="http://127.0.0.1:$(cat "$WORK/receiver.port")"
PAYLOAD_JSON=$("$BIN/loadgen" --payload-bytes "$PAYLOAD_BYTES" payload)
cat >"$WORK/post.lua" <<LUA
-- Generated by bench/run.sh: POSTs the benchmark payload ($PAYLOAD_BYTES bytes) with
-- Standard Webhooks headers and a unique webhook-id per request, like rustyhook does.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["webhook-timestamp"] = "1700000000"
wrk.headers["webhook-signature"] = "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="
wrk.body = '$PAYLOAD_JSON'
local counter = 0
request = function()
  counter = counter + 1
  wrk.headers["webhook-id"] = "msg_wrk_" .. tostring(tid) .. "_" .. counter
  return wrk.format(nil, "/hook")
end
local next_tid = 0
setup = function(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end
LUA
log "phase 1: wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d${WRK_SECONDS}s against the receiver"
window_start "$RECV_PID"
{ time wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${WRK_SECONDS}s" --latency \
    -s "$WORK/post.lua" "$RECV_URL/hook" >"$WORK/wrk.txt"; } 2>"$WORK/wrk.time"
window_end RAW
read -r RAW_WALL wrk_user wrk_sys <"$WORK/wrk.time"
RAW_WRK_CPU=$(calc "$wrk_user + $wrk_sys" .1f)
RAW_RPS=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$WORK/wrk.txt")
RAW_P50=$(awk '$1 == "50%" { print $2 }' "$WORK/wrk.txt")
RAW_P99=$(awk '$1 == "99%" { print $2 }' "$WORK/wrk.txt")
RAW_ERRORS=$(grep -E 'Non-2xx|Socket errors' "$WORK/wrk.txt" | tr -s ' ' | paste -sd';' - || true)
RAW_ERRORS=${RAW_ERRORS:-none}
log "raw: $RAW_RPS requests/s"

# ------------------------------------------------- phases 2 and 3: default durability
start_rustyhook full
loadgen SETUP setup --endpoint-url "$RECV_URL/hook"
FULL_RSS_START=$(rss_mib "$RH_PID" VmRSS)
log "warm-up: $WARMUP_MESSAGES messages"
loadgen WARM throughput --messages "$WARMUP_MESSAGES" --concurrency "$E2E_CONCURRENCY"
log "phase 2: $E2E_RUNS × $E2E_MESSAGES messages, $E2E_CONCURRENCY clients"
e2e_runs E2E
log "phase 3: ${LAT_RATE}/s for ${LAT_SECONDS}s"
loadgen LAT latency --rate "$LAT_RATE" --seconds "$LAT_SECONDS"
log "latency p50 ${LAT_ARRIVAL_P50} ms, p99 ${LAT_ARRIVAL_P99} ms"
FULL_RSS_END=$(rss_mib "$RH_PID" VmRSS)
FULL_HWM_END=$(rss_mib "$RH_PID" VmHWM)
FULL_DB_MIB=$(du -sm "$WORK/data-full" | cut -f1)
stop_rustyhook full

# ------------------------------------------------------ phase 4: synchronous=NORMAL line
if [ "$FAST_SYNC_LINE" = 1 ]; then
    start_rustyhook fast RUSTYHOOK_SQLITE_FAST_UNSAFE_SYNC=true
    loadgen SETUP setup --endpoint-url "$RECV_URL/hook"
    loadgen WARM throughput --messages "$WARMUP_MESSAGES" --concurrency "$E2E_CONCURRENCY"
    log "phase 4: $E2E_RUNS × $E2E_MESSAGES messages with synchronous=NORMAL"
    e2e_runs FAST
    stop_rustyhook fast
fi

# ---------------------------------------------------------------- phase 5: memory
start_rustyhook mem
loadgen SETUP setup --endpoint-url "$RECV_URL/hook" --rate-limit 1
MEM_RSS_START=$(rss_mib "$RH_PID" VmRSS)
log "phase 5: $MEM_MESSAGES messages to an endpoint limited to 1/s"
window_start
loadgen FILL fill --messages "$MEM_MESSAGES" --concurrency "$MEM_CONCURRENCY"
window_end FILL
sleep 2
MEM_RSS_END=$(rss_mib "$RH_PID" VmRSS)
MEM_HWM_END=$(rss_mib "$RH_PID" VmHWM)
window_start
sleep 3
window_end IDLE
loadgen MET metrics
stop_rustyhook mem
MEM_DB_MIB=$(du -sm "$WORK/data-mem" | cut -f1)

BENCH_SECS=$((SECONDS - BENCH_STARTED))
log "measurements done in ${BENCH_SECS}s; writing $OUT"
write_report >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
log "wrote $OUT"
