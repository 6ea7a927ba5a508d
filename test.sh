#!/usr/bin/env bash
# Runs every test of rustyhook, as CI does, on a fresh machine too: installs (from Debian's
# packages and PyPI, where missing) and starts what the tests talk to — PostgreSQL, Redis, NATS
# with JetStream, RabbitMQ and a local SQS-compatible server (moto) — then runs the whole suite.
#
#   ./test.sh                  everything (unit, store, end-to-end, smoke, cluster, faults)
#   ./test.sh -p rustyhook-core   any arguments are passed on to `cargo test`
#
# Needs root for two things: installing missing packages, and the fault suite's small tmpfs
# (a store whose disk fills up). Crates without services run on their own with plain
# `cargo test -p rustyhook-core` (or -p rustyhook-engine --lib, -p rustyhook-api --lib).
set -euo pipefail
cd "$(dirname "$0")"

need() { command -v "$1" >/dev/null 2>&1; }
if ! need cc || ! need python3; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential python3 python3-venv >/dev/null
fi

echo "== services: PostgreSQL, Redis, NATS, RabbitMQ"
.ci/services.sh
echo "== a local SQS-compatible server (moto)"
.ci/moto.sh

echo "== cargo test"
if [ "$#" -eq 0 ]; then
    set -- --workspace
fi
exec cargo test --locked "$@"
