# Phase 8 of bench/run.sh, which sources this file: broker sources to the endpoint. For each
# broker in BROKERS, on a stream or queue of the benchmark's own:
#   raw   the load generator publishes N messages, then reads and acknowledges them with a bare
#         consumer that stores nothing: the broker's own limit for that pattern on this machine.
#   e2e   a fresh rustyhook (SQLite, defaults) with one `sources:` entry for it and the bench
#         app's endpoint at the receiver; the load generator publishes N messages into the
#         broker and waits until every one is delivered and recorded, BROKER_RUNS times.
# Streams and queues are named rh-bench-<random>-<broker>[-raw] and removed when the phase
# ends or, at the latest, when the script exits.

BROKER_PHASE=${BROKER_PHASE:-1}
BROKERS=${BROKERS:-redis rabbitmq nats}
BROKER_MESSAGES=${BROKER_MESSAGES:-20000}
BROKER_WARMUP=${BROKER_WARMUP:-1000}
BROKER_RUNS=${BROKER_RUNS:-3}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
AMQP_URL=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
NATS_URL=${NATS_URL:-nats://127.0.0.1:4222}
BROKER_NAME=rh-bench-$RANDOM$RANDOM
BROKER_MADE=() # "kind name" of every stream or queue this script made, removed on exit

broker_url() {
    case $1 in
        redis) echo "$REDIS_URL" ;;
        rabbitmq) echo "$AMQP_URL" ;;
        nats) echo "$NATS_URL" ;;
        *) log "unknown broker $1 in BROKERS (redis, rabbitmq, nats)"; exit 1 ;;
    esac
}
broker_label() {
    case $1 in redis) echo "Redis stream" ;; rabbitmq) echo "RabbitMQ" ;; nats) echo "NATS JetStream" ;; esac
}
# broker_cmd KIND NAME ACTION [ARGS...]: the load generator's broker subcommand, outside phases.
broker_cmd() {
    local kind=$1 name=$2; shift 2
    "$BIN/loadgen" broker --kind "$kind" --url "$(broker_url "$kind")" --name "$name" "$@"
}
# broker_remove_all: removes every stream and queue the script made (run by cleanup).
broker_remove_all() {
    local made
    for made in "${BROKER_MADE[@]}"; do
        # shellcheck disable=SC2086
        broker_cmd $made remove 2>/dev/null || log "could not remove the $made"
    done
    BROKER_MADE=()
}
# broker_pids KIND → the broker server's processes on this machine (their CPU is measured).
broker_pids() {
    case $1 in
        redis) pgrep -x redis-server || true ;;
        rabbitmq) pgrep -u rabbitmq || true ;; # the Erlang VM and its helpers
        nats) pgrep -x nats-server || true ;;
    esac
}
# broker_describe KIND: sets BK_KIND_SERVER (name and version) and BK_KIND_KEEPS (how it keeps
# what it confirmed), from the server itself.
broker_describe() {
    local p=BK_${1^^} server keeps ao save
    case $1 in
        redis)
            server="Redis $(redis-cli -u "$REDIS_URL" INFO server 2>/dev/null | tr -d '\r' \
                | awk -F: '$1 == "redis_version" { print $2 }')"
            ao=$(redis-cli -u "$REDIS_URL" CONFIG GET appendonly 2>/dev/null | sed -n 2p)
            save=$(redis-cli -u "$REDIS_URL" CONFIG GET save 2>/dev/null | sed -n 2p)
            keeps="as this server is configured: \`appendonly ${ao:-?}\`, \`save \"${save}\"\`"
            if [ "$ao" = no ] && [ -z "$save" ]; then
                keeps+=" (memory only: a restart of Redis loses the stream, whatever the consumer does)"
            fi
            ;;
        rabbitmq)
            server="RabbitMQ $(timeout 60 rabbitmqctl version 2>/dev/null || echo '(version unknown)')"
            keeps="a durable classic queue; each message persistent and confirmed (publisher confirms)"
            ;;
        nats)
            server="$(nats-server --version 2>/dev/null || echo 'nats-server (version unknown)')"
            keeps="a JetStream stream with file storage (the default); each publish acknowledged by the stream"
            ;;
    esac
    printf -v "${p}_SERVER" '%s' "$server"
    printf -v "${p}_KEEPS" '%s' "$keeps"
}
# broker_check: fails now, not after the other phases, if a broker cannot be reached.
broker_check() {
    local kind
    for kind in $BROKERS; do
        broker_cmd "$kind" "$BROKER_NAME-probe" remove >/dev/null 2>"$WORK/broker-probe.log" || {
            log "$(broker_label "$kind") at $(broker_url "$kind") is not reachable" \
                "(BROKERS=\"...\" chooses the brokers, BROKER_PHASE=0 skips phase 8):"
            cat "$WORK/broker-probe.log" >&2
            exit 1
        }
        broker_describe "$kind"
    done
}

# broker_source_yaml KIND NAME: rustyhook's config, one source reading NAME into the bench app.
broker_source_yaml() {
    local where=stream
    [ "$1" != rabbitmq ] || where=queue
    cat <<YAML
sources:
  - type: $1
    name: bench-$1
    url: "$(broker_url "$1")"
    $where: $2
    app: bench
YAML
}

# broker_phase KIND: phase 8 for one broker. Sets BK_KIND_RAW_* (the bare consumer), the
# median run's BK_KIND_* (as measured_runs does), BK_KIND_RSS_END and BK_KIND_WARNINGS.
broker_phase() {
    local kind=$1 p=BK_${1^^} name=$BROKER_NAME-$1 instance=b$1 var
    BROKER_PIDS=($(broker_pids "$kind"))
    BROKER_MADE+=("$kind $name-raw")
    log "phase 8, $(broker_label "$kind"): a bare consumer reads and acknowledges $BROKER_MESSAGES messages"
    window_start "$RECV_PID"
    loadgen "${p}_RAW" broker --kind "$kind" --url "$(broker_url "$kind")" --name "$name-raw" \
        raw --messages "$BROKER_MESSAGES"
    window_end "${p}_RAW"
    log "bare consumer: $(val "${p}_RAW" CONSUME_RATE)/s"

    BROKER_MADE+=("$kind $name")
    broker_cmd "$kind" "$name" prepare
    broker_source_yaml "$kind" "$name" >"$WORK/brokers-$kind.yaml"
    start_rustyhook "$instance" RUSTYHOOK_CONFIG="$WORK/brokers-$kind.yaml"
    loadgen SETUP setup --endpoint-url "$RECV_URL/hook"
    local through=(broker --kind "$kind" --url "$(broker_url "$kind")" --name "$name" throughput)
    loadgen "${p}_WARM" "${through[@]}" --messages "$BROKER_WARMUP" --first-seq 0
    log "phase 8, $(broker_label "$kind"): $BROKER_RUNS × $BROKER_MESSAGES messages through rustyhook"
    INGEST_RATE_KEY=INTAKE_RATE measured_runs "$p" "$BROKER_RUNS" "${through[@]}" \
        --messages "$BROKER_MESSAGES"
    printf -v "${p}_RSS_END" '%s' "$(rss_mib "$RH_PID" VmRSS)"
    stop_rustyhook "$instance"
    var=${instance^^}_WARNINGS
    printf -v "${p}_WARNINGS" '%s' "${!var}"
    broker_remove_all
    BROKER_PIDS=()
}

# ------------------------------------------------------------------------------ report
bk_cell() { # FUNCTION: a row's cells, one per broker in BROKERS
    local fn=$1 kind cells=""
    shift
    for kind in $BROKERS; do cells+=" $("$fn" "BK_${kind^^}" "$@") |"; done
    echo "$cells"
}
bk_server() { echo "$(val "$1" SERVER); $(val "$1" KEEPS)"; }
bk_raw() { echo "**$(val "$1_RAW" CONSUME_RATE)** (publishing: $(val "$1_RAW" PUBLISH_RATE)/s)"; }
bk_rate() { echo "**$(val "$1" DELIVERY_RATE "did not complete")**"; }
bk_runs() { val "$1" ALL_RATES; }
bk_of_raw() { pct "$(val "$1" DELIVERY_RATE)" "$(val "$1_RAW" CONSUME_RATE)"; }
bk_of_receiver() { pct "$(val "$1" DELIVERY_RATE)" "$RAW_RPS"; }
bk_of_api() { pct "$(val "$1" DELIVERY_RATE)" "${E2E_DELIVERY_RATE:-}"; }
bk_intake() { echo "$(val "$1" STORED_SECS) s → $(val "$1" INTAKE_RATE)/s (runs: $(val "$1" ALL_INGEST))"; }
bk_publish() { echo "$(val "$1" PUBLISH_SECS) s ($(val "$1" PUBLISH_RATE)/s)"; }
bk_receiver() { echo "$(val "$1" REQUESTS) / $(val "$1" DISTINCT) / $(val "$1" DUPLICATES)"; }
bk_faults() { echo "$(val "$1" REJECTED_DELTA) / $(val "$1" OTHER_ATTEMPTS_DELTA)"; }
bk_busy() { echo "$(val "$1" WALL) s; $(val "$1" BUSY_PCT)% busy"; }
bk_cpu() {
    echo "$(val "$1" RH_CPU) s ($(per_msg "$1" RH_CPU) µs/message) / $(val "$1" BROKER_CPU) s / $(val "$1" LG_CPU) s / $(val "$1" RECV_CPU) s"
}
bk_raw_cpu() { echo "$(val "$1_RAW" BROKER_CPU) s / $(val "$1_RAW" LG_CPU) s in $(val "$1_RAW" WALL) s"; }

# "What limits it" in phase 8: each sentence chosen by a measured figure.
broker_limits_text() {
    local kind p busy pub rec
    for kind in $BROKERS; do
        p=BK_${kind^^}
        has "$p" WALL || continue
        busy=$(val "$p" BUSY_PCT 0)
        echo "- **$(broker_label "$kind").** $(val "$p" DELIVERY_RATE "did not complete") deliveries/s:" \
            "$(bk_of_api "$p") of the API's end-to-end rate in phase 2 and $(bk_of_raw "$p") of what a" \
            "bare consumer read from this broker. In the median run the ${NPROC} cores were ${busy}% busy" \
            "($(val "$p" BUSY_CPU) of $(calc "$NPROC * $(val "$p" WALL 0)" .1f) CPU-seconds): rustyhook" \
            "$(val "$p" RH_CPU) s ($(per_msg "$p" RH_CPU) µs per message, against $(per_msg E2E RH_CPU) µs" \
            "per message posted to the API in phase 2), the broker server $(val "$p" BROKER_CPU) s, the" \
            "load generator $(val "$p" LG_CPU) s, the receiver $(val "$p" RECV_CPU) s; I/O wait" \
            "$(val "$p" IOWAIT_CPU) s."
        if [ "$busy" -ge 85 ]; then
            echo "  The cores were (nearly) saturated: the figure is bound by CPU shared between" \
                "rustyhook, the broker server and the tools measuring them."
        else
            echo "  The cores were not saturated ($((100 - busy))% idle), so part of the run went to" \
                "waiting: on SQLite's commits, which a message waits for before it is acknowledged" \
                "to the broker, or on the limit of 32 requests in flight to the endpoint."
        fi
        pub=$(val "$p" PUBLISH_SECS 0)
        rec=$(val "$p" RECORDED_SECS 0)
        if [ "$(calc "$rec > 0 && $pub >= 0.5 * $rec")" = 1 ]; then
            echo "  Publishing alone took ${pub} s of the ${rec} s until every attempt was recorded: the broker confirmed" \
                "$(val "$p" PUBLISH_RATE) messages/s while rustyhook consumed them on the same cores," \
                "so the publisher's pace bounds this figure as well as rustyhook's."
        fi
    done
}

# The summary's row for phase 8.
broker_summary_row() {
    local kind p parts=""
    for kind in $BROKERS; do
        p=BK_${kind^^}
        parts+="${parts:+; }$(broker_label "$kind") **$(val "$p" DELIVERY_RATE "did not complete") /s** ($(bk_of_raw "$p") of a bare consumer's $(val "${p}_RAW" CONSUME_RATE)/s)"
    done
    echo "| Broker → endpoint deliveries/s, SQLite, median of ${BROKER_RUNS} runs (section 6) | ${parts} |"
}

# Section 6 of the report.
broker_section() {
    local header="| |" rule="|---|" kind
    for kind in $BROKERS; do header+=" $(broker_label "$kind") |"; rule+="---|"; done
    cat <<EOF
## 6. Broker sources to the endpoint

For each broker, on a stream or queue made empty for the phase and removed after it:

- **Bare consumer.** The load generator published ${BROKER_MESSAGES} messages, then read and
  acknowledged them with a consumer that stores nothing, acknowledging as rustyhook's source for
  that broker does: Redis \`XREADGROUP\` of 100 entries, then one \`XACK\` for them; RabbitMQ
  \`basic.qos(100)\` and a \`basic.ack\` per message; JetStream pulls of 100 messages, a \`+ACK\`
  per message and one flush per pull. Its rate (from the first read to the last acknowledgement)
  is what this broker gives a consumer on this machine, the limit the rate through rustyhook is
  read against.
- **Through rustyhook.** A fresh \`rustyhook serve\` (SQLite, \`synchronous=FULL\`, otherwise the
  defaults of phase 2) with one \`sources:\` entry for the stream or queue (\`app: bench\`,
  rustyhook's own message format, the source's default batch or prefetch of 100) and the bench
  app's endpoint at the receiver. After a warm-up of ${BROKER_WARMUP} messages, the load generator
  published ${BROKER_MESSAGES} messages (\`{"eventType": …, "payload": …}\` with the ${PAYLOAD_BYTES}-byte
  payload; for Redis the same as entry fields), each confirmed by the broker, ${BROKER_RUNS} times.
  Each run's clock starts at its first publish and stops when the receiver has seen every
  \`webhook-id\` and \`/metrics\` counts every attempt as OK, as in phase 2; "stored after" is when
  \`rustyhook_source_messages_total{outcome="stored"}\` had grown by ${BROKER_MESSAGES}. Every message is
  acknowledged to the broker only once stored. The table shows the median run.

Broker servers are the machine's own, as found (not tuned), on 127.0.0.1; their CPU is summed over
their processes in \`/proc\`.

${header}
${rule}
| server; how it keeps messages |$(bk_cell bk_server)
| bare consumer: read + acknowledge, messages/s |$(bk_cell bk_raw)
| bare consumer: broker server / load generator CPU |$(bk_cell bk_raw_cpu)
| **deliveries/s through rustyhook, median run** |$(bk_cell bk_rate)
| every run's deliveries/s |$(bk_cell bk_runs)
| share of the bare consumer's rate |$(bk_cell bk_of_raw)
| share of the raw receiver limit (${RAW_RPS}/s) |$(bk_cell bk_of_receiver)
| share of the API's end-to-end rate (phase 2, ${E2E_DELIVERY_RATE:-n/a}/s) |$(bk_cell bk_of_api)
| every message stored after → intake messages/s |$(bk_cell bk_intake)
| publishing took |$(bk_cell bk_publish)
| receiver requests / distinct ids / duplicates |$(bk_cell bk_receiver)
| messages rejected / attempts other than OK |$(bk_cell bk_faults)
| run's wall time; machine busy |$(bk_cell bk_busy)
| CPU: rustyhook / broker server / load generator / receiver |$(bk_cell bk_cpu)
| rustyhook warn/error log lines |$(bk_cell val WARNINGS)
| rustyhook VmRSS after the runs, MiB |$(bk_cell val RSS_END)

### What limits it

$(broker_limits_text)
EOF
}
