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
#   6. pg     (optional) phase 2 again with one rustyhook on PostgreSQL, in a fresh database
#             (rh_bench_<random>) that is dropped afterwards, however the script exits.
#   7. pg3    (optional) phase 2 again with three rustyhook nodes on one fresh PostgreSQL
#             database, the messages sent to the nodes in turn. They share this machine's
#             cores with each other and with PostgreSQL: not a scale-out measurement.
#   2b/6b. (with BASELINE=<git revision>) phases 2 and 6 again through that revision's binary,
#             built aside, for a before/after comparison within this one run (on each
#             backend the two builds' runs take turns, each build on its own instance).
#   8. brokers (optional) per broker (Redis streams, RabbitMQ, NATS JetStream): a bare
#             consumer's read+ack rate, then messages published into the broker, read by a
#             rustyhook source and delivered to the receiver (bench/brokers.sh).
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
SQLITE_PAIRS=${SQLITE_PAIRS:-$E2E_RUNS} # with BASELINE: SQLite's pairs (phases 2 and 2b)
LAT_RATE=${LAT_RATE:-1000}
LAT_SECONDS=${LAT_SECONDS:-12}
MEM_MESSAGES=${MEM_MESSAGES:-100000}
MEM_CONCURRENCY=${MEM_CONCURRENCY:-64}
FAST_SYNC_LINE=${FAST_SYNC_LINE:-1}
PG_PHASES=${PG_PHASES:-1}
PG_CLUSTER_PHASE=${PG_CLUSTER_PHASE:-1}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432}
PG_MAX_CONNECTIONS=${PG_MAX_CONNECTIONS:-10}
OUT=${OUT:-$ROOT/BENCHMARKS.md}
BASELINE=${BASELINE:-}
E2E_TAKEN=$([ -n "$BASELINE" ] && echo "$SQLITE_PAIRS" || echo "$E2E_RUNS") # phase 2's runs
WORK=${BENCH_WORK_DIR:-$ROOT/target/bench-run}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$CARGO_TARGET_DIR/release
TOKEN=bench-admin-token-$RANDOM$RANDOM
HZ=$(getconf CLK_TCK)
TIMEFORMAT='%R %U %S'

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
calc() { awk "BEGIN { printf \"%${2:-.0f}\", ($1) }"; }

# ---------------------------------------------------------------- processes and cleanup
PIDS=()   # everything this script started, stopped by pid on exit
PG_DBS=() # PostgreSQL databases this script created, dropped on exit
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
    local pid db
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    for db in "${PG_DBS[@]}"; do pg_drop "$db" || log "could not drop database $db"; done
    ! declare -F broker_remove_all >/dev/null || broker_remove_all
    rm -rf "$WORK"/data-* "$OUT.tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port: a port nothing listens on, below the kernel's range for outgoing connections'
# local ports (32768 and up by default): a port picked in that range could be taken by one of a
# running node's connections to PostgreSQL between the check and the bind.
free_port() {
    local port
    while :; do
        port=$((10000 + RANDOM % 20000))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
    done
}

# ------------------------------------------------------------------------- PostgreSQL
pg_sql() { # SQL → its result, unaligned, on the server's maintenance database
    psql "$PG_ADMIN_URL/postgres" -X -v ON_ERROR_STOP=1 -qAtc "$1"
}
# pg_create: a fresh, empty database named rh_bench_<random>, dropped on exit; sets PG_DB and
# PG_URL (the database's URL for rustyhook).
pg_create() {
    PG_DB=rh_bench_${RANDOM}${RANDOM}
    PG_DBS+=("$PG_DB")
    pg_sql "CREATE DATABASE $PG_DB" >/dev/null
    PG_URL=$PG_ADMIN_URL/$PG_DB
    log "created PostgreSQL database $PG_DB"
}
pg_drop() { # DB: drops it, disconnecting whoever is still connected
    pg_sql "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null || return 1
    local kept=() db
    for db in "${PG_DBS[@]}"; do [ "$db" = "$1" ] || kept+=("$db"); done
    PG_DBS=("${kept[@]}")
}
# pg_snapshot DB FILE: one line per PostgreSQL server process on this machine (user postgres,
# name postgres*): pid, parent pid, its CPU ticks, its reaped children's CPU ticks, and what it
# is by its title: 1 working on DB (its connections, its autovacuum), 2 a connection to another
# database, 0 anything else (postmaster, WAL writer, checkpointer…). Nearly only built-ins, so
# that taking it costs next to no CPU.
pg_snapshot() {
    local pid line f args title kind
    for pid in $(pgrep -u postgres '^postgres' || true); do
        read -r line <"/proc/$pid/stat" 2>/dev/null || continue
        mapfile -d '' args <"/proc/$pid/cmdline" 2>/dev/null || continue
        read -ra f <<<"${line##*) }"
        title=" ${args[*]} "
        kind=0
        if [[ $title == *" $1 "* ]]; then kind=1
        elif [[ $title == *\(*\)* || $title == *"[local]"* ]]; then kind=2; fi
        echo "$pid ${f[1]} $((f[11] + f[12])) $((f[13] + f[14])) $kind"
    done >"$2"
}
# pg_cpu_delta BEFORE AFTER → "server db others background exited": CPU seconds between two
# snapshots, of the whole server (every process, plus what the postmaster reaped), and of it:
# the processes working on the benchmark's database, connections to other databases and the
# server's own processes, each among those alive at the end; and the processes that exited in
# between (short connections of any database, autovacuum workers), the rest.
pg_cpu_delta() {
    awk -v hz="$HZ" '
        { k = FILENAME == ARGV[1] ? 1 : 2; pid[k, $1] = 1; n[k]++; l[k, n[k]] = $0 }
        END {
            for (k = 1; k <= 2; k++)
                for (i = 1; i <= n[k]; i++) {
                    split(l[k, i], f, " ")
                    total[k] += f[3]
                    if (!((k, f[2]) in pid)) total[k] += f[4] # the postmaster
                    if (k == 1) before[f[1]] = f[3]
                    else part[f[5]] += f[3] - before[f[1]]
                }
            server = total[2] - total[1]
            printf "%.1f %.1f %.1f %.1f %.1f\n", server / hz, part[1] / hz, part[2] / hz,
                part[0] / hz, (server - part[0] - part[1] - part[2]) / hz
        }' "$1" "$2"
}

# start_rustyhook NAME [VAR=value ...]: fresh data dir and port; sets RH_PID and RH_URL, and
# makes it the instance under test: RH_PIDS (whose CPU windows measure) and API_URLS (where the
# load generator sends its requests).
start_rustyhook() {
    local name=$1 port; shift
    port=$(free_port)
    rm -rf "$WORK/data-$name"; mkdir -p "$WORK/data-$name"
    env RUSTYHOOK_DATA_DIR="$WORK/data-$name" RUSTYHOOK_LISTEN="127.0.0.1:$port" \
        RUSTYHOOK_ADMIN_TOKEN="$TOKEN" RUSTYHOOK_ALLOW_PRIVATE_NETWORKS=true \
        RUSTYHOOK_LOG_LEVEL=warn "$@" \
        "${RH_BIN:-$BIN/rustyhook}" serve >"$WORK/rustyhook-$name.log" 2>&1 &
    PIDS+=("$!")
    use_rustyhook "$!" "http://127.0.0.1:$port"
    log "rustyhook ($name) pid $RH_PID on $RH_URL"
}
# use_rustyhook PID URL: makes that instance the one under test (RH_PID, RH_URL, RH_PIDS and
# API_URLS, as start_rustyhook sets them).
use_rustyhook() {
    RH_PID=$1 RH_URL=$2
    RH_PIDS=("$1")
    API_URLS=$2
}
# stop_rustyhook NAME [PID]: SIGTERM to PID (default RH_PID; SIGKILL after 60 s); sets
# STOP_NAME_SECS, STOP_NAME_RC and NAME_WARNINGS, with NAME upper-cased.
stop_rustyhook() {
    local started=$SECONDS rc=0 pid=${2:-$RH_PID}
    kill -TERM "$pid"
    for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null && log "rustyhook ($1) ignored SIGTERM for 60 s: killed"
    wait "$pid" || rc=$?
    forget_pid "$pid"
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
pids_cpu_secs() { # pid... → each one's CPU seconds so far, one per line
    local pid
    for pid; do cpu_secs "$pid"; echo; done
}
pids_cpu_total() { # pid... → their CPU seconds so far, summed (0 for none)
    local pid sum=0
    for pid; do sum=$(calc "$sum + $(cpu_secs "$pid" 2>/dev/null || echo 0)" .2f); done
    echo "$sum"
}
BROKER_PIDS=() # the broker server's processes while phase 8 measures one (their CPU: NAME_BROKER_CPU)
# window_start / window_end NAME [PID...]: CPU of the PIDs (default RH_PIDS, the rustyhook
# instance or nodes under test), of the receiver, of the PostgreSQL server and of the whole
# machine between the two calls, as NAME_RH_CPU (summed over the PIDs; NAME_RH_CPU_EACH lists
# each), NAME_RECV_CPU, NAME_PG_CPU (the whole server; of it NAME_PG_DB_CPU working on the
# database PG_DB, NAME_PG_OTHER_DB_CPU in connections to other databases, NAME_PG_BG_CPU in the
# server's own processes, NAME_PG_EXITED_CPU in processes that exited meanwhile), NAME_BUSY_PCT,
# NAME_BUSY_CPU, NAME_STEAL_CPU and NAME_IOWAIT_CPU (seconds), NAME_BROKER_CPU (BROKER_PIDS, the
# broker server phase 8 measures, if any); and of the PIDs' busiest threads:
# NAME_WRITER_CPU (the SQLite writer thread) and NAME_TOP_THREADS (the three busiest others).
window_start() {
    if [ $# -gt 0 ]; then W_PIDS=("$@"); else W_PIDS=("${RH_PIDS[@]}"); fi
    pg_snapshot "${PG_DB:--}" "$WORK/pg.before"
    pids_cpu_secs "${W_PIDS[@]}" >"$WORK/cpu.before"
    W_RECV=$(cpu_secs "$RECV_PID")
    W_BROKER=$(pids_cpu_total "${BROKER_PIDS[@]}")
    local pid
    for pid in "${W_PIDS[@]}"; do thread_ticks "$pid"; done >"$WORK/threads.before"
    read -r W_BUSY W_TOTAL W_STEAL W_IOWAIT < <(machine_ticks)
}
window_end() {
    local busy total steal iowait writer top pid pg each
    read -r busy total steal iowait < <(machine_ticks)
    pg_snapshot "${PG_DB:--}" "$WORK/pg.after"
    pg=$(pg_cpu_delta "$WORK/pg.before" "$WORK/pg.after")
    pids_cpu_secs "${W_PIDS[@]}" | paste -d' ' "$WORK/cpu.before" - \
        | awk '{ print $2 - $1 }' >"$WORK/cpu.delta"
    each=$(awk '{ printf "%s%.1f", sep, $1; sep = ", " }' "$WORK/cpu.delta")
    for pid in "${W_PIDS[@]}"; do thread_ticks "$pid"; done \
        | awk -v hz="$HZ" 'NR == FNR { before[$1] = $3; next }
        { printf "%.2f %s\n", ($3 - before[$1]) / hz, $2 }' "$WORK/threads.before" - \
        | sort -rn >"$WORK/threads.delta"
    writer=$(awk '$2 ~ /^rustyhook-sqlit/ { w += $1 } END { printf "%.2f", w }' "$WORK/threads.delta")
    top=$(awk '$2 !~ /^rustyhook-sqlit/ && n++ < 3 { printf "%s%s %s s", sep, $2, $1; sep = ", " }' \
        "$WORK/threads.delta")
    {
        echo "${1}_WRITER_CPU=$writer"
        echo "${1}_TOP_THREADS='$top'"
        echo "${1}_RH_CPU=$(awk '{ s += $1 } END { printf "%.1f", s }' "$WORK/cpu.delta")"
        echo "${1}_RH_CPU_EACH='$each'"
        echo "${1}_PG_CPU=$(cut -d' ' -f1 <<<"$pg")"
        echo "${1}_PG_DB_CPU=$(cut -d' ' -f2 <<<"$pg")"
        echo "${1}_PG_OTHER_DB_CPU=$(cut -d' ' -f3 <<<"$pg")"
        echo "${1}_PG_BG_CPU=$(cut -d' ' -f4 <<<"$pg")"
        echo "${1}_PG_EXITED_CPU=$(cut -d' ' -f5 <<<"$pg")"
        echo "${1}_RECV_CPU=$(calc "$(cpu_secs "$RECV_PID") - $W_RECV" .1f)"
        echo "${1}_BROKER_CPU=$(calc "$(pids_cpu_total "${BROKER_PIDS[@]}") - $W_BROKER" .1f)"
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
    if ! { time "$BIN/loadgen" --api "$API_URLS" --token "$TOKEN" --receiver "$RECV_URL" \
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

# measured_run PREFIX I LOADGEN_ARGS...: run I of PREFIX: the load generator with LOADGEN_ARGS
# (and a --first-seq of its own) against what is running, in a CPU window; its figures are
# PREFIXRUNI_*, and its rate is noted for median_run.
measured_run() {
    local prefix=$1 i=$2 name=${1}RUN$2 rate ingest_key=${INGEST_RATE_KEY:-INGEST_RATE}
    shift 2
    window_start
    loadgen "$name" "$@" --first-seq $((i * 1000000))
    window_end "$name"
    rate=$(grep -oP "^${name}_DELIVERY_RATE=\K.*" "$WORK/$name.env" || echo 0)
    log "$name: ingest $(grep -oP "^${name}_${ingest_key}=\K.*" "$WORK/$name.env" || echo n/a)/s," \
        "delivered ${rate}/s"
    echo "$rate $name" >>"$WORK/$prefix.runs"
}
# median_run PREFIX: of PREFIX's runs so far, the median one's figures (by deliveries/s; an
# incomplete run counts as 0) become PREFIX_*, and every run's rates are listed in
# PREFIX_ALL_RATES (deliveries/s) and PREFIX_ALL_INGEST (PREFIX_INGEST_RATE_KEY of each run:
# INGEST_RATE unless set otherwise).
median_run() {
    local prefix=$1 runs rate name chosen all="" ingest="" ingest_key=${INGEST_RATE_KEY:-INGEST_RATE}
    runs=$(wc -l <"$WORK/$prefix.runs")
    while read -r rate name; do
        ingest+="${ingest:+, }$(grep -oP "^${name}_${ingest_key}=\K.*" "$WORK/$name.env" || echo n/a)"
        [ "$rate" != 0 ] || rate="did not complete"
        all+="${all:+, }$rate"
    done <"$WORK/$prefix.runs"
    printf -v "${prefix}_ALL_RATES" '%s' "$all"
    printf -v "${prefix}_ALL_INGEST" '%s' "$ingest"
    chosen=$(sort -n "$WORK/$prefix.runs" | sed -n "$(((runs + 1) / 2))p" | cut -d' ' -f2)
    sed "s/^${chosen}_/${prefix}_/" "$WORK/$chosen.env" >"$WORK/$prefix.env"
    # shellcheck disable=SC1090
    source "$WORK/$prefix.env"
    printf -v "${prefix}_MEDIAN_RUN" '%s' "${chosen#"${prefix}RUN"}"
}
# measured_runs PREFIX RUNS LOADGEN_ARGS...: RUNS runs of the load generator with LOADGEN_ARGS
# against what is running, one after another (measured_run), then their median (median_run).
measured_runs() {
    local prefix=$1 runs=$2 i
    shift 2
    rm -f "$WORK/$prefix.runs"
    for i in $(seq "$runs"); do measured_run "$prefix" "$i" "$@"; done
    median_run "$prefix"
}
# e2e_runs PREFIX: E2E_RUNS runs of phase 2 (messages posted to the API) against the running
# rustyhook; see measured_runs.
e2e_runs() {
    measured_runs "$1" "$E2E_RUNS" throughput --messages "$E2E_MESSAGES" \
        --concurrency "$E2E_CONCURRENCY"
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
            "against \`FULL\` (whose ${E2E_TAKEN} runs spanned ${lo}–${hi}/s); rustyhook's CPU per" \
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
# during phase 1, the median run of phase 2 or the median runs of phases 6, 7 and 8 (where
# PostgreSQL's processes count as the benchmark's, except connections to other databases); and
# one when the hypervisor held back (steal) more than 5% of the machine's CPU in any of them.
interference_note() {
    local others avail steal high=0 stolen=0 parts="" steals="" p label k
    for p in RAW E2E PG1 PG3 $(for k in $BROKERS; do echo "BK_${k^^}"; done); do
        has "$p" WALL || continue
        case $p in
            RAW) label="phase 1" ;; E2E) label="phase 2, median run" ;;
            PG1) label="phase 6, median run" ;; PG3) label="phase 7, median run" ;;
            *) k=${p#BK_}; label="phase 8, $(broker_label "${k,,}"), median run" ;;
        esac
        if [ "$p" = RAW ]; then
            others=$(calc "$RAW_BUSY_CPU - $RAW_RECV_CPU - $RAW_WRK_CPU" .1f)
        else
            others=$(outside_cpu "$p")
        fi
        avail=$(calc "$NPROC * $(val "$p" WALL)" .1f)
        steal=$(val "$p" STEAL_CPU 0)
        [ "$(calc "$others > 0.1 * $avail")" = 0 ] || high=1
        [ "$(calc "$steal > 0.05 * $avail")" = 0 ] || stolen=1
        parts+="${parts:+; }${label}: ${others} s of ${avail}"
        steals+="${steals:+; }${label}: ${steal} s of ${avail}"
    done
    if [ "$high" = 1 ]; then
        echo "> **Warning:** CPU time outside the benchmark's processes was high during this run"
        echo "> (${parts}). Something else was running;"
        echo "> the figures below are lower than this machine can do. Rerun on a quiet machine."
        echo
    fi
    if [ "$stolen" = 1 ]; then
        echo "> **Warning:** the hypervisor held back part of this virtual machine's CPU during this run"
        echo "> (steal: ${steals}). Other guests on the same host were busy, so the absolute"
        echo "> figures are lower than this machine can do; the ratios, each measured within one run, hold better."
        echo
    fi
}

# ------------------------------------------------------------ report: PostgreSQL phases
# val PREFIX KEY [DEFAULT]: the value of PREFIX_KEY, or DEFAULT (n/a) when unset or empty.
val() { local v="${1}_$2"; printf '%s' "${!v:-${3:-n/a}}"; }
has() { local v="${1}_$2"; [ -n "${!v:-}" ]; } # PREFIX KEY: is PREFIX_KEY set and not empty?
is_num() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]]; }
# pct NUM DEN → NUM as a percentage of DEN, or n/a when either is missing.
pct() {
    if is_num "$1" && is_num "$2" && [ "$2" != 0 ]; then
        echo "$(calc "100 * $1 / $2" .1f)%"
    else
        echo "n/a"
    fi
}
# per_msg PREFIX KEY → µs of that CPU figure per message accepted in the median run.
per_msg() { calc "1000000 * $(val "$1" "$2" 0) / $(val "$1" ACCEPTED 1)"; }
# unaccounted PREFIX → the machine's busy CPU-seconds not in any process listed in section 5
# (never below zero: the figures are rounded to ticks).
unaccounted() {
    local p=$1 rest
    rest="$(val "$p" BUSY_CPU 0) - $(val "$p" RH_CPU 0) - $(val "$p" PG_CPU 0) - $(val "$p" LG_CPU 0) - $(val "$p" RECV_CPU 0)"
    calc "$rest > 0 ? $rest : 0" .1f
}
# span PREFIX → "lowest highest" of the runs' deliveries/s (a run that did not complete is 0).
span() {
    tr ',' '\n' <<<"$(val "$1" ALL_RATES)" | tr -d ' ' | sed 's/^[^0-9].*/0/' | sort -n \
        | awk 'NR == 1 { l = $1 } { h = $1 } END { print l + 0, h + 0 }'
}
range() { [ "$1" = "$2" ] && echo "$1" || echo "$1–$2"; } # LOW HIGH → "LOW–HIGH", or one figure
# busy_per_msg PREFIX → µs of the machine's busy CPU (every process) per message accepted.
busy_per_msg() { per_msg "$1" BUSY_CPU; }
# outside_cpu PREFIX → CPU-seconds of the window's busy time outside the benchmark's processes
# (rustyhook, the load generator, the receiver, the broker server in phase 8 and, in phases 6
# and 7, PostgreSQL except its connections to other databases).
outside_cpu() {
    local p=$1 others
    others=$(calc "$(val "$p" BUSY_CPU) - $(val "$p" RH_CPU) - $(val "$p" LG_CPU) - $(val "$p" RECV_CPU) - $(val "$p" BROKER_CPU 0)" .1f)
    [[ $p == E2E || $p == BK_* ]] || others=$(calc "$others - $(val "$p" PG_CPU) + $(val "$p" PG_OTHER_DB_CPU)" .1f)
    echo "$others"
}
# disturbed PREFIX: did processes outside the benchmark take more than 10% of the machine?
disturbed() { [ "$(calc "$(outside_cpu "$1") > 0.1 * $NPROC * $(val "$1" WALL)")" != 0 ]; }

# pg_row LABEL KEY...: a row of section 5's table, one cell per column (SQLite phase 2, and the
# PostgreSQL phases that ran); each cell is the output of the function named by the first KEY
# applied to the column's prefix, or, if KEY is not a function, PREFIX_KEY.
pg_row() {
    local label=$1 fn=$2 prefix cells=""
    shift 2
    for prefix in $PG_COLUMNS; do
        if declare -F "$fn" >/dev/null; then
            cells+=" $("$fn" "$prefix" "$@") |"
        else
            cells+=" $(val "$prefix" "$fn") |"
        fi
    done
    echo "| $label |$cells"
}
cell_rate() { echo "**$(val "$1" DELIVERY_RATE "did not complete")**"; }
cell_ratio() { pct "$(val "$1" DELIVERY_RATE)" "$RAW_RPS"; }
cell_ingest() { echo "$(val "$1" INGEST_RATE) (runs: $(val "$1" ALL_INGEST))"; }
cell_counts() { echo "$(val "$1" ACCEPTED) / $(val "$1" FAILED)"; }
cell_receiver() { echo "$(val "$1" REQUESTS) / $(val "$1" DISTINCT) / $(val "$1" DUPLICATES)"; }
cell_busy() { echo "$(val "$1" BUSY_PCT)% ($(val "$1" BUSY_CPU) of $(calc "$NPROC * $(val "$1" WALL 0)" .1f) CPU-s)"; }
cell_rh() {
    local each
    each=$(val "$1" RH_CPU_EACH)
    case "$each" in *,*) each=" (per node: $each)" ;; *) each="" ;; esac
    echo "$(val "$1" RH_CPU) s$each, $(per_msg "$1" RH_CPU) µs/message"
}
cell_pg() {
    if [ "$1" = E2E ]; then
        echo "$(val "$1" PG_CPU) s (this phase does not use PostgreSQL: any CPU here is other clients')"
    else
        echo "$(val "$1" PG_CPU) s, $(per_msg "$1" PG_CPU) µs/message; of it the bench database's processes $(val "$1" PG_DB_CPU) s, the server's own (WAL writer, checkpointer…) $(val "$1" PG_BG_CPU) s, processes that exited during the run $(val "$1" PG_EXITED_CPU) s, connections to other databases $(val "$1" PG_OTHER_DB_CPU) s"
    fi
}
cell_tools() { echo "$(val "$1" LG_CPU) s / $(val "$1" RECV_CPU) s"; }
cell_rest() { echo "$(unaccounted "$1") s; I/O wait $(val "$1" IOWAIT_CPU) s, steal $(val "$1" STEAL_CPU) s"; }
cell_rss() {
    if [ "$1" = E2E ]; then echo "${FULL_RSS_END} (after phase 3)"; else val "$1" RSS_END; fi
}
cell_size() {
    if [ "$1" = E2E ]; then echo "data directory ${FULL_DB_MIB} (after phase 3)"; else echo "database $(val "$1" DB_MIB)"; fi
}
cell_stop() {
    if [ "$1" = E2E ]; then echo "${STOP_FULL_SECS} s / ${STOP_FULL_RC} (after phase 3)"; else echo "$(val "$1" STOP_SECS) s / $(val "$1" STOP_RCS)"; fi
}
cell_warnings() {
    if [ "$1" = E2E ]; then echo "${FULL_WARNINGS} (phases 2–3)"; else val "$1" WARNINGS; fi
}

# "What limited it" on PostgreSQL: each sentence chosen by a measured figure.
pg_limits_text() {
    local p name both_busy
    for p in PG1 PG3; do
        has "$p" WALL || continue
        [ "$p" = PG1 ] && name="one node" || name="three nodes"
        echo "- **CPU, ${name}.** In the median run the ${NPROC} cores were $(val "$p" BUSY_PCT)% busy" \
            "($(val "$p" BUSY_CPU) of $(calc "$NPROC * $(val "$p" WALL)" .1f) CPU-seconds): rustyhook" \
            "$(val "$p" RH_CPU) s ($(per_msg "$p" RH_CPU) µs per message), PostgreSQL" \
            "$(val "$p" PG_CPU) s ($(per_msg "$p" PG_CPU) µs per message; $(val "$p" PG_DB_CPU) s of" \
            "it in the processes working on the bench database, $(val "$p" PG_OTHER_DB_CPU) s in" \
            "connections to other databases), the load generator" \
            "$(val "$p" LG_CPU) s, the receiver $(val "$p" RECV_CPU) s, everything else" \
            "$(unaccounted "$p") s; I/O wait $(val "$p" IOWAIT_CPU) s."
        if [ "$(val "$p" BUSY_PCT 0)" -ge 85 ]; then
            echo "  At $(val "$p" BUSY_PCT)% the cores were (nearly) saturated: this figure is bound" \
                "by CPU shared between rustyhook, PostgreSQL and the tools measuring them;" \
                "PostgreSQL used $(calc "$(val "$p" PG_CPU 0) / ($(val "$p" RH_CPU 0) + 1e-9)" .1f)×" \
                "the CPU rustyhook did."
        else
            echo "  The cores were not saturated ($((100 - $(val "$p" BUSY_PCT 0)))% idle), so part" \
                "of the time went to waiting rather than computing: on commits (each waits for" \
                "PostgreSQL's WAL flush; I/O wait $(val "$p" IOWAIT_CPU) s), on the pool of" \
                "${PG_MAX_CONNECTIONS} connections per node, or on the limit of 32 requests in" \
                "flight per endpoint and node."
        fi
    done
    if [ -n "${PG1_DELIVERY_RATE:-}" ] && [ -n "${E2E_DELIVERY_RATE:-}" ]; then
        echo "- **PostgreSQL against SQLite, one node each.** ${PG1_DELIVERY_RATE} against" \
            "${E2E_DELIVERY_RATE} deliveries/s: $(pct "$PG1_DELIVERY_RATE" "$E2E_DELIVERY_RATE")" \
            "of the SQLite figure in this run. CPU per message on PostgreSQL: rustyhook" \
            "$(per_msg PG1 RH_CPU) µs plus PostgreSQL $(per_msg PG1 PG_CPU) µs, against" \
            "$(per_msg E2E RH_CPU) µs for rustyhook on SQLite, whose store runs inside the" \
            "process (one writer thread, group commit)."
        both_busy=$(( $(val PG1 BUSY_PCT 0) >= 85 && $(val E2E BUSY_PCT 0) >= 85 ))
        if [ "$both_busy" = 1 ]; then
            echo "  Both runs saturated the cores, so each rate is set by the CPU a message takes on" \
                "this machine, counting every process: $(busy_per_msg PG1) µs with PostgreSQL," \
                "$(busy_per_msg E2E) µs with SQLite ($(calc "$(busy_per_msg PG1) / $(busy_per_msg E2E)" .1f)×;" \
                "the rates differ $(calc "$E2E_DELIVERY_RATE / $PG1_DELIVERY_RATE" .1f)×)."
        else
            echo "  At least one of the two runs left the cores partly idle" \
                "($(val E2E BUSY_PCT)% busy on SQLite, $(val PG1 BUSY_PCT)% on PostgreSQL), so CPU" \
                "per message does not explain the whole difference."
        fi
        if disturbed E2E || disturbed PG1; then
            echo "  Processes outside the benchmark took $(outside_cpu E2E) s of phase 2's median run" \
                "and $(outside_cpu PG1) s of phase 6's (see the warning at the top), so part of" \
                "the difference between the two may be theirs."
        fi
    fi
    if [ -n "${PG3_DELIVERY_RATE:-}" ] && [ -n "${PG1_DELIVERY_RATE:-}" ]; then
        local lo1 hi1 lo3 hi3 verdict
        read -r lo1 hi1 <<<"$(span PG1)"
        read -r lo3 hi3 <<<"$(span PG3)"
        if [ "$lo3" -le "$hi1" ] && [ "$lo1" -le "$hi3" ]; then
            verdict="The runs' ranges overlap (one node $(range "$lo1" "$hi1")/s, three nodes $(range "$lo3" "$hi3")/s): no difference this benchmark can tell apart."
        elif [ "$hi3" -lt "$lo1" ]; then
            verdict="Every run with three nodes ($(range "$lo3" "$hi3")/s) was slower than every run with one ($(range "$lo1" "$hi1")/s)."
        else
            verdict="Every run with three nodes ($(range "$lo3" "$hi3")/s) was faster than every run with one ($(range "$lo1" "$hi1")/s)."
        fi
        echo "- **One node against three.** Three nodes delivered ${PG3_DELIVERY_RATE}/s," \
            "$(pct "$PG3_DELIVERY_RATE" "$PG1_DELIVERY_RATE") of one node's ${PG1_DELIVERY_RATE}/s." \
            "${verdict} CPU per message, all nodes together: rustyhook $(per_msg PG3 RH_CPU) µs" \
            "against $(per_msg PG1 RH_CPU) µs with one node, PostgreSQL $(per_msg PG3 PG_CPU) µs" \
            "against $(per_msg PG1 PG_CPU) µs. OK attempts per node in the median run:" \
            "${PG3_NODE_OK_DELTAS} (each node delivers what it ingested)."
        if disturbed PG1 || disturbed PG3; then
            echo "  Processes outside the benchmark took $(outside_cpu PG1) s of the one-node median" \
                "run and $(outside_cpu PG3) s of the three-node one (see the warning at the top)," \
                "so part of the difference between the two may be theirs."
        fi
        echo "  The three nodes ran on the same ${NPROC} cores as PostgreSQL, the load generator" \
            "and the receiver: a second and third node add processes competing for those cores," \
            "not capacity. This shows what running three nodes costs on one machine and that they" \
            "share the work; it does not show how three nodes on three machines would do."
    fi
}

# Section 5 of the report, when the PostgreSQL phases ran.
pg_section() {
    local setup3="" title="PostgreSQL: one node"
    PG_COLUMNS="E2E PG1"
    local header="| | SQLite, 1 node (phase 2) | PostgreSQL, 1 node |" rule="|---|---|---|"
    if [ "$PG_CLUSTER_PHASE" = 1 ]; then
        PG_COLUMNS+=" PG3"
        title+=", and three nodes on one database"
        header+=" PostgreSQL, 3 nodes on the same ${NPROC} cores |"; rule+="---|"
        setup3="

**Three nodes** (phase 7): three \`rustyhook serve\` processes on one fresh database, each with
its own data directory and port and the same \`RUSTYHOOK_SECRET_KEY\` and admin token. The app
and endpoint were created once, through the first node; the load generator sent message *i* to
node *i* mod 3 (the same ${E2E_CONCURRENCY} clients in all), and summed the three nodes'
\`/metrics\` counters to know when every attempt was recorded. A node delivers what it ingested,
with its own limit of 32 requests in flight to the endpoint, so up to 96 were in flight at the
receiver.

**All three nodes ran on this one ${NPROC}-core machine, together with PostgreSQL, the load
generator and the receiver. They competed for the same ${NPROC} cores instead of adding any: the
one-node and three-node figures below are what was measured here, not what three machines would
deliver.**"
    fi
    cat <<EOF
## 5. ${title}

Phase 2 again — after the same warm-up of ${WARMUP_MESSAGES} messages, ${E2E_MESSAGES} messages from
${E2E_CONCURRENCY} concurrent clients, ${E2E_RUNS} times in a row, the same clock, the median run
reported — with rustyhook on PostgreSQL instead of SQLite
(\`RUSTYHOOK_DATABASE_URL=${PG_ADMIN_URL}/rh_bench_…\`). Each phase used a database the script
created empty for it and dropped afterwards.

| | |
|---|---|
| server | ${PG_SERVER_VERSION}, on this machine, reached over TCP on 127.0.0.1 |
| client | ${PSQL_VERSION} |
| data directory | \`${PG_DATA_DIR}\` ${PG_WHERE} |
| settings (as found, not tuned) | ${PG_SETTINGS} |
| server processes found in /proc | ${PG_SERVER_PROCS} at the start; other client connections then: ${PG_CLIENTS_START} |
| rustyhook's pool | at most ${PG_MAX_CONNECTIONS} connections per node (\`RUSTYHOOK_DATABASE_MAX_CONNECTIONS\`), plus one for \`LISTEN\` and one for the leader lock |

**One node** (phase 6): one \`rustyhook serve\` on a fresh database, otherwise set up as in
phase 2.${setup3}

PostgreSQL's CPU is the sum over its processes in \`/proc\` (user \`postgres\`, name
\`postgres*\`) over the run, including what the postmaster reaped from processes that exited
meanwhile. It is split by process title among the processes alive at the end of the run: those
naming the benchmark's database (its connections, its autovacuum), connections to other
databases (not the benchmark's: other users of the same server), and the server's own
processes; what remains was used by processes that exited during the run, whichever database
they served. rustyhook's CPU is summed over its nodes. Deliveries/s per run and the CPU figures
are for the median run of each phase.

${header}
${rule}
$(pg_row "deliveries/s, median run" cell_rate)
$(pg_row "every run's deliveries/s" ALL_RATES)
$(pg_row "ratio to the raw receiver limit (${RAW_RPS}/s)" cell_ratio)
$(pg_row "ingest messages/s, median run (every run)" cell_ingest)
$(pg_row "messages accepted (202) / failed" cell_counts)
$(pg_row "receiver requests / distinct ids / duplicates" cell_receiver)
$(pg_row "attempts other than OK during the run" OTHER_ATTEMPTS_DELTA)
$(pg_row "OK attempts per node" NODE_OK_DELTAS)
$(pg_row "run's wall time, s" WALL)
$(pg_row "machine busy" cell_busy)
$(pg_row "rustyhook CPU" cell_rh)
$(pg_row "PostgreSQL server CPU" cell_pg)
$(pg_row "load generator / receiver CPU" cell_tools)
$(pg_row "everything else (kernel not charged to a process, other processes)" cell_rest)
$(pg_row "rustyhook VmRSS after the runs, MiB (per node)" cell_rss)
$(pg_row "size after the runs, MiB" cell_size)
$(pg_row "graceful stop / exit code (per node)" cell_stop)
$(pg_row "rustyhook warn/error log lines" cell_warnings)

### What limited it

$(pg_limits_text)
EOF
}

# The same phases through the baseline's binary, measured in this run against the same receiver.
baseline_section() {
    local pg_line="" pg_pairs=""
    if [ "$PG_PHASES" = 1 ]; then
        pg_pairs="; PostgreSQL, one node $(pair_changes PGBASE PG1 "$E2E_RUNS")"
        pg_line=$'\n'"| PostgreSQL, one node (phase 6 and 6b) | $(val PGBASE DELIVERY_RATE) /s ($(pct "$(val PGBASE DELIVERY_RATE)" "$RAW_RPS") of raw), median of $(val PGBASE ALL_RATES) | $(val PG1 DELIVERY_RATE) /s ($(pct "$(val PG1 DELIVERY_RATE)" "$RAW_RPS") of raw) | $(change PGBASE PG1) |"
    fi
    cat <<EOT
## Before and after: the baseline ${BASELINE_COMMIT} against ${COMMIT}

\`BASELINE=${BASELINE}\`: the same end-to-end phase through the binary built from commit
${BASELINE_COMMIT}, in this run, on the same receiver against the same raw limit (${RAW_RPS} requests/s); medians of
${SQLITE_PAIRS} runs each on SQLite and ${E2E_RUNS} on PostgreSQL, the baseline's runs listed here and this
commit's in sections 2 and 5. On
each backend the two builds' runs took turns, each build on its own instance (phases 2 and 2b
together, 6 and 6b together), this commit first in odd pairs and the baseline first in even
ones, since run one block after the other the second block measured several percent faster
whichever it was.

| end-to-end deliveries/s | baseline ${BASELINE_COMMIT} | this commit ${COMMIT} | change |
|---|---|---|---|
| SQLite, default durability (phase 2 and 2b) | $(val BASE DELIVERY_RATE) /s ($(pct "$(val BASE DELIVERY_RATE)" "$RAW_RPS") of raw), median of $(val BASE ALL_RATES) | $(val E2E DELIVERY_RATE) /s ($(pct "$(val E2E DELIVERY_RATE)" "$RAW_RPS") of raw) | $(change BASE E2E) |${pg_line}

Pair by pair (this commit's run against the baseline's run of the same pair): SQLite
$(pair_changes BASE E2E "$SQLITE_PAIRS")${pg_pairs}.
EOT
}
# pair_changes BEFORE AFTER N → each pair's change in delivery rate from run i of PREFIX BEFORE
# to run i of AFTER, in percent, then "(median X%)": a drift of the machine between pairs falls
# on both runs of a pair, so these vary less than the rates.
pair_changes() {
    local i b a list="" all=()
    for i in $(seq "$3"); do
        b=$(val "$1RUN$i" DELIVERY_RATE) a=$(val "$2RUN$i" DELIVERY_RATE)
        if is_num "$b" && is_num "$a" && [ "$b" != 0 ]; then
            all+=("$(calc "100 * ($a - $b) / $b" .2f)")
            list+="${list:+, }$(calc "100 * ($a - $b) / $b" +.1f)%"
        fi
    done
    [ ${#all[@]} -gt 0 ] || { echo "n/a"; return; }
    echo "$list (median $(printf '%s\n' "${all[@]}" | sort -g \
        | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%+.1f", m }')%)"
}
# change BEFORE AFTER → the median delivery rate's change from PREFIX BEFORE to AFTER, in percent.
change() {
    local b a
    b=$(val "$1" DELIVERY_RATE) a=$(val "$2" DELIVERY_RATE)
    if is_num "$b" && is_num "$a" && [ "$b" != 0 ]; then
        echo "$(calc "100 * ($a - $b) / $b" +.1f)%"
    else
        echo "n/a"
    fi
}

write_report() {
    local ratio="n/a" fast_row="" note pg_rows="" pg_machine="" pg_part="" pg_name
    local broker_row="" broker_part=""
    if [ "$BROKER_PHASE" = 1 ]; then
        broker_row=$'\n'"$(broker_summary_row)"
        broker_part=$'\n'"$(broker_section)"$'\n'
    fi
    note=$(interference_note)
    local baseline_part=""
    [ -z "$BASELINE" ] || baseline_part="$(baseline_section)"$'\n\n'
    [ -z "$note" ] || note+=$'\n\n'
    [ -z "${E2E_DELIVERY_RATE:-}" ] || ratio="$(calc "100 * $E2E_DELIVERY_RATE / $RAW_RPS" .1f)%"
    if [ "$FAST_SYNC_LINE" = 1 ]; then
        fast_row=$'\n'"| End-to-end deliveries/s with \`RUSTYHOOK_SQLITE_FAST_UNSAFE_SYNC=true\` (synchronous=NORMAL; **not** the default: a power loss can lose acknowledged messages) | ${FAST_DELIVERY_RATE:-did not complete} /s, median of ${FAST_ALL_RATES} (ingest ${FAST_INGEST_RATE}/s) |"
    fi
    if [ "$PG_PHASES" = 1 ]; then
        pg_name=${PG_SERVER_VERSION%% on *}
        pg_rows=$'\n'"| End-to-end deliveries/s on ${pg_name}, one node (section 5) | **${PG1_DELIVERY_RATE:-did not complete} /s**, median of ${PG1_ALL_RATES}; $(pct "${PG1_DELIVERY_RATE:-}" "$RAW_RPS") of the raw limit; ingest ${PG1_INGEST_RATE} messages/s |"
        if [ "$PG_CLUSTER_PHASE" = 1 ]; then
            pg_rows+=$'\n'"| End-to-end deliveries/s on ${pg_name}, three nodes on one database, all on this same ${NPROC}-core machine (competing for its cores with each other and PostgreSQL; section 5) | **${PG3_DELIVERY_RATE:-did not complete} /s**, median of ${PG3_ALL_RATES}; $(pct "${PG3_DELIVERY_RATE:-}" "$RAW_RPS") of the raw limit; ingest ${PG3_INGEST_RATE} messages/s |"
        fi
        pg_machine=$'\n'"| PostgreSQL | ${pg_name}, data directory \`${PG_DATA_DIR}\` ${PG_WHERE} (section 5) |"
        pg_part=$'\n'"$(pg_section)"$'\n'
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
| rustyhook RSS right after start → with ${MEM_MESSAGES} messages queued | **${MEM_RSS_START} MiB → ${MEM_RSS_END} MiB** (peak VmHWM ${MEM_HWM_END} MiB) |${fast_row}${pg_rows}${broker_row}

${baseline_part}## Machine and run

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
| load tool | ${WRK_VERSION} |${pg_machine}
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
\`POST /api/v1/app/bench/msg\` from ${E2E_CONCURRENCY} concurrent clients (keep-alive HTTP/1.1), ${E2E_TAKEN}
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
${pg_part}${broker_part}
## Settings of this run

\`PAYLOAD_BYTES=${PAYLOAD_BYTES} WRK_THREADS=${WRK_THREADS} WRK_CONNECTIONS=${WRK_CONNECTIONS}
WRK_SECONDS=${WRK_SECONDS} WARMUP_MESSAGES=${WARMUP_MESSAGES} E2E_MESSAGES=${E2E_MESSAGES}
E2E_CONCURRENCY=${E2E_CONCURRENCY} E2E_RUNS=${E2E_RUNS} SQLITE_PAIRS=${SQLITE_PAIRS} LAT_RATE=${LAT_RATE} LAT_SECONDS=${LAT_SECONDS}
MEM_MESSAGES=${MEM_MESSAGES} MEM_CONCURRENCY=${MEM_CONCURRENCY} FAST_SYNC_LINE=${FAST_SYNC_LINE}
PG_PHASES=${PG_PHASES} PG_CLUSTER_PHASE=${PG_CLUSTER_PHASE} PG_MAX_CONNECTIONS=${PG_MAX_CONNECTIONS}
BROKER_PHASE=${BROKER_PHASE} BROKERS='${BROKERS}' BROKER_MESSAGES=${BROKER_MESSAGES}
BROKER_WARMUP=${BROKER_WARMUP} BROKER_RUNS=${BROKER_RUNS}\`

Raw outputs (wrk's report, each phase's \`KEY=value\` lines, rustyhook's logs) are left in
\`${WORK#"$ROOT"/}/\` after a run.
EOF
}

# shellcheck source=bench/brokers.sh
source "$ROOT/bench/brokers.sh"
# shellcheck source=bench/revision.sh
source "$ROOT/bench/revision.sh"

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
build_started=$SECONDS
if [ -n "$BASELINE" ]; then
    BASELINE_COMMIT=$(git rev-parse --short "$BASELINE^{commit}")
    BASELINE_BIN=$(build_revision "$BASELINE" "$WORK")
fi
log "building release binaries"
cargo build --release --quiet -p rustyhook -p rustyhook-bench
BUILD_SECS=$((SECONDS - build_started))
if [ -n "$BASELINE" ] && cmp -s "$BIN/rustyhook" "$BASELINE_BIN"; then
    log "the current binary is the baseline's: nothing to compare (is BASELINE the checked-out commit?)"
    exit 1
fi
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
if [ "$PG_PHASES" = 1 ]; then
    # Fail now, not after the SQLite phases, if the server cannot be reached.
    pg_sql "SELECT 1" >/dev/null \
        || { log "PostgreSQL at $PG_ADMIN_URL is not reachable (PG_PHASES=0 skips phases 6-7)"; exit 1; }
    PG_SERVER_VERSION=$(pg_sql "SELECT version()")
    PSQL_VERSION=$(psql -V)
    PG_SETTINGS=$(pg_sql "SELECT 'synchronous_commit=' || current_setting('synchronous_commit')
        || ', fsync=' || current_setting('fsync') || ', wal_sync_method='
        || current_setting('wal_sync_method') || ', shared_buffers='
        || current_setting('shared_buffers') || ', max_connections='
        || current_setting('max_connections')")
    PG_DATA_DIR=$(pg_sql "SHOW data_directory")
    PG_SERVER_PROCS=$(pgrep -c -u postgres '^postgres' || true)
    if [ -d "$PG_DATA_DIR" ]; then
        read -r pg_dev PG_FS_TYPE < <(df -T "$PG_DATA_DIR" | awk 'NR == 2 { print $1, $2 }')
        if [ "$pg_dev" = "$(df "$WORK" | awk 'NR == 2 { print $1 }')" ]; then
            PG_WHERE="on ${PG_FS_TYPE} (\`${pg_dev}\`), the same filesystem as the SQLite data directories"
        else
            PG_WHERE="on ${PG_FS_TYPE} (\`${pg_dev}\`), not the filesystem of the SQLite data directories"
        fi
    else
        PG_WHERE="not on this machine, or not visible to the script"
    fi
    PG_CLIENTS_START=$(pg_sql "SELECT count(*) || ' (databases: ' || coalesce(string_agg(DISTINCT datname, ', '), 'none') || ')'
        FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")
    PG_SECRET_KEY=$(head -c32 /dev/urandom | base64)
fi

[ "$BROKER_PHASE" != 1 ] || broker_check

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

# in_turns I A B: the order of pair I's two runs: A then B in odd pairs, B then A in even ones
# (ABBA), so that a drift over the minutes, or an edge of whichever runs second, falls on both.
in_turns() {
    if [ $(($1 % 2)) = 1 ]; then echo "$2 $3"; else echo "$3 $2"; fi
}
# runs_in_turns N A B USE: N pairs of phase-2 runs of the instances A and B (prefixes), taken
# in turns (in_turns), `USE PREFIX` making that instance the one under test before each run;
# then each one's median (median_run).
runs_in_turns() {
    local n=$1 a=$2 b=$3 use=$4 i prefix
    local args=(throughput --messages "$E2E_MESSAGES" --concurrency "$E2E_CONCURRENCY")
    rm -f "$WORK/$a.runs" "$WORK/$b.runs"
    for i in $(seq "$n"); do
        for prefix in $(in_turns "$i" "$a" "$b"); do
            "$use" "$prefix"
            measured_run "$prefix" "$i" "${args[@]}"
        done
    done
    median_run "$a"
    median_run "$b"
}
# sqlite_pair: phases 2 and 2b together, as pg_pair does on PostgreSQL: with this build's
# instance (full) running and warmed up, one of the baseline's (base) is started beside it,
# set up and warmed up, then their runs are taken in turns (runs_in_turns: E2E, BASE, BASE,
# E2E...). The baseline's instance is stopped after, and full is the instance under test again.
sqlite_pair() {
    local full_pid=$RH_PID full_url=$RH_URL base_pid base_url
    RH_BIN="$BASELINE_BIN" start_rustyhook base
    base_pid=$RH_PID base_url=$RH_URL
    loadgen BASESETUP setup --endpoint-url "$RECV_URL/hook"
    loadgen BASEWARM throughput --messages "$WARMUP_MESSAGES" --concurrency "$E2E_CONCURRENCY"
    log "phases 2 and 2b: $SQLITE_PAIRS × $E2E_MESSAGES messages each, $E2E_CONCURRENCY clients," \
        "this build and the baseline $BASELINE_COMMIT in turns"
    runs_in_turns "$SQLITE_PAIRS" E2E BASE sqlite_use
    stop_rustyhook base "$base_pid"
    use_rustyhook "$full_pid" "$full_url"
}
# sqlite_use PREFIX: within sqlite_pair, makes E2E's instance (full) or BASE's the one under test.
sqlite_use() {
    if [ "$1" = E2E ]; then use_rustyhook "$full_pid" "$full_url"; else use_rustyhook "$base_pid" "$base_url"; fi
}

# ------------------------------------------------- phases 2 and 3: default durability
start_rustyhook full
loadgen SETUP setup --endpoint-url "$RECV_URL/hook"
FULL_RSS_START=$(rss_mib "$RH_PID" VmRSS)
log "warm-up: $WARMUP_MESSAGES messages"
loadgen WARM throughput --messages "$WARMUP_MESSAGES" --concurrency "$E2E_CONCURRENCY"
if [ -n "$BASELINE" ]; then
    sqlite_pair
else
    log "phase 2: $E2E_RUNS × $E2E_MESSAGES messages, $E2E_CONCURRENCY clients"
    e2e_runs E2E
fi
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

# ------------------------------------------------------- phases 6 and 7: PostgreSQL
# start_pg_node NAME: a rustyhook node on the database PG_URL, with the shared secret key.
start_pg_node() {
    start_rustyhook "$1" RUSTYHOOK_DATABASE_URL="$PG_URL" RUSTYHOOK_SECRET_KEY="$PG_SECRET_KEY" \
        RUSTYHOOK_DATABASE_MAX_CONNECTIONS="$PG_MAX_CONNECTIONS" RUSTYHOOK_NODE_ID="$1"
}
# pg_start PREFIX NODE...: a fresh database with one rustyhook node per NODE name (RH_BIN's),
# set up and warmed up, kept as PREFIX's (PGDB_PREFIX, PGPIDS_PREFIX, PGURLS_PREFIX and
# PGNODES_PREFIX: not PREFIX_*, which the load generator's figures use) for pg_use and
# pg_finish.
pg_start() {
    local prefix=$1 node pids=() urls=(); shift
    pg_create
    for node; do
        start_pg_node "$node"
        pids+=("$RH_PID"); urls+=("$RH_URL")
    done
    printf -v "PGDB_${prefix}" '%s' "$PG_DB"
    declare -ga "PGPIDS_${prefix}=(${pids[*]})" "PGNODES_${prefix}=($*)"
    printf -v "PGURLS_${prefix}" '%s' "$(IFS=,; echo "${urls[*]}")"
    pg_use "$prefix"
    loadgen "${prefix}SETUP" setup --endpoint-url "$RECV_URL/hook"
    loadgen "${prefix}WARM" throughput --messages "$WARMUP_MESSAGES" --concurrency "$E2E_CONCURRENCY"
}
# pg_use PREFIX: makes PREFIX's nodes the instance under test (the CPU windows, the load
# generator's target, the database whose processes are told apart).
pg_use() {
    local pids="PGPIDS_${1}[@]" db="PGDB_${1}" urls="PGURLS_${1}"
    RH_PIDS=("${!pids}")
    API_URLS=${!urls}
    PG_DB=${!db}
}
# pg_finish PREFIX: besides the runs' PREFIX_* figures, sets PREFIX_RSS_END (each node's VmRSS
# after the runs), PREFIX_DB_MIB (the database's size), PREFIX_STOP_SECS and PREFIX_STOP_RCS
# (each node's graceful stop) and PREFIX_WARNINGS (warn and error log lines over all nodes);
# stops the nodes and drops the database.
pg_finish() {
    local prefix=$1 node rss=() stops=() rcs=() warnings=0 var i=0 pids=() nodes=()
    var="PGPIDS_${prefix}[@]"; pids=("${!var}")
    var="PGNODES_${prefix}[@]"; nodes=("${!var}")
    pg_use "$prefix"
    printf -v "${prefix}_DB_MIB" '%s' "$(pg_sql "SELECT pg_database_size('$PG_DB') / 1048576")"
    for node in "${nodes[@]}"; do
        rss+=("$(rss_mib "${pids[$i]}" VmRSS)")
        i=$((i + 1))
    done
    i=0
    for node in "${nodes[@]}"; do
        stop_rustyhook "$node" "${pids[$i]}"
        var=STOP_${node^^}_SECS; stops+=("${!var}")
        var=STOP_${node^^}_RC; rcs+=("${!var}")
        var=${node^^}_WARNINGS; warnings=$((warnings + ${!var}))
        i=$((i + 1))
    done
    printf -v "${prefix}_RSS_END" '%s' "$(IFS=/; echo "${rss[*]}")"
    printf -v "${prefix}_STOP_SECS" '%s' "$(IFS=/; echo "${stops[*]}")"
    printf -v "${prefix}_STOP_RCS" '%s' "$(IFS=/; echo "${rcs[*]}")"
    printf -v "${prefix}_WARNINGS" '%s' "$warnings"
    pg_drop "$PG_DB"
    log "dropped PostgreSQL database $PG_DB"
    PG_DB=
}
# pg_phase PREFIX NODE...: phase 2 on a fresh database with one rustyhook node per NODE name,
# the load generator sending to them in turn (pg_start, e2e_runs, pg_finish).
pg_phase() {
    pg_start "$@"
    log "$1: $E2E_RUNS × $E2E_MESSAGES messages over $(($# - 1)) node(s) on PostgreSQL"
    e2e_runs "$1"
    pg_finish "$1"
}
# pg_pair: phases 6 and 6b together: a node of this build (PG1) and one of the baseline's
# (PGBASE), each on its own fresh database, both set up and warmed up, then their runs taken
# in turns (runs_in_turns: this build's first run, the baseline's first and second, this build's
# second...). Taken one block after the other, the second block ran a few percent faster
# whichever it was (bench/ab.sh in both orders), and the machine's speed drifts over minutes:
# in turns, both fall on each alike.
pg_pair() {
    pg_start PG1 pg1
    RH_BIN="$BASELINE_BIN" pg_start PGBASE pgbase
    log "phases 6 and 6b: $E2E_RUNS × $E2E_MESSAGES messages each, this build and the baseline in turns"
    runs_in_turns "$E2E_RUNS" PG1 PGBASE pg_use
    pg_finish PG1
    pg_finish PGBASE
}
if [ "$PG_PHASES" = 1 ]; then
    if [ -n "$BASELINE" ]; then
        log "phases 6 and 6b: phase 2 with one rustyhook on PostgreSQL, and the baseline $BASELINE_COMMIT"
        pg_pair
    else
        log "phase 6: phase 2 with one rustyhook on PostgreSQL"
        pg_phase PG1 pg1
    fi
    if [ "$PG_CLUSTER_PHASE" = 1 ]; then
        log "phase 7: phase 2 with three rustyhook nodes on one PostgreSQL database"
        pg_phase PG3 pg3a pg3b pg3c
    fi
fi

if [ "$BROKER_PHASE" = 1 ]; then
    for kind in $BROKERS; do broker_phase "$kind"; done
fi

BENCH_SECS=$((SECONDS - BENCH_STARTED))
log "measurements done in ${BENCH_SECS}s; writing $OUT"
write_report >"$OUT.tmp"
# The dashboard's load check (bench/dashboard-load.sh) writes its own marked section: keep it.
if [ -f "$OUT" ] && grep -q '<!-- dashboard-load:begin -->' "$OUT"; then
    { echo; sed -n '/<!-- dashboard-load:begin -->/,/<!-- dashboard-load:end -->/p' "$OUT"; } >>"$OUT.tmp"
fi
mv "$OUT.tmp" "$OUT"
log "wrote $OUT"
