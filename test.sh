#!/usr/bin/env bash
# Runs every test of rustyhook, as CI does, on a fresh machine too: installs (from Debian's
# packages, PyPI and npm, where missing) and starts what the tests talk to — PostgreSQL, Redis,
# NATS with JetStream, RabbitMQ and a local SQS-compatible server (moto) — and Svix's Python and
# JavaScript SDKs for the client tests, checks the dashboard (web/: lint, types, unit tests, the
# committed build against a fresh one) and installs Chromium for its browser tests, then runs
# the whole suite.
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
apt_install() {
    if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq; APT_UPDATED=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
if ! need cc || ! need python3; then
    apt_install build-essential python3 python3-venv
fi

echo "== services: PostgreSQL, Redis, NATS, RabbitMQ"
.ci/services.sh
echo "== a local SQS-compatible server (moto)"
.ci/moto.sh

echo "== Svix's official SDKs, for the client tests: Python (PyPI) and JavaScript (npm)"
echo "   and the OpenAPI validator and client generator, for the OpenAPI document's test (PyPI)"
SDK_VENV="${RUSTYHOOK_SDK_VENV:-$HOME/.cache/rustyhook/sdk-venv}"
SDK_PYPI=('svix==2.9.1' 'openapi-spec-validator==0.9.0' 'openapi-python-client==0.29.1')
if ! "$SDK_VENV/bin/python" -c 'import svix, openapi_spec_validator, openapi_python_client' 2>/dev/null; then
    [ -x "$SDK_VENV/bin/python" ] || python3 -m venv "$SDK_VENV" || {
        apt_install python3-venv
        python3 -m venv "$SDK_VENV"
    }
    "$SDK_VENV/bin/pip" install -q "${SDK_PYPI[@]}"
fi
export RUSTYHOOK_TEST_PYTHON="$SDK_VENV/bin/python"
need node && need npm || apt_install nodejs npm
(cd crates/rustyhook/tests/sdk/js && npm ci --no-audit --no-fund --silent)

echo "== the dashboard (web/): lint, types, unit tests, the committed build; Chromium for its browser tests"
# Debian's Chromium drives the browser tests (crates/rustyhook/tests/dashboard.rs); Playwright
# never downloads one.
[ -x /usr/bin/chromium ] || [ -n "${RUSTYHOOK_TEST_CHROMIUM:-}" ] || apt_install chromium
(
    cd web
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent
    npm run --silent lint
    npm run --silent typecheck
    npm run --silent test
    ./check-dist.sh
)

echo "== cargo test"
if [ "$#" -eq 0 ]; then
    set -- --workspace
fi
exec cargo test --locked "$@"
