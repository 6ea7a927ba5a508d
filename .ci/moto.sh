#!/usr/bin/env bash
# Install (if missing) and start a local moto server for the SQS tests.
#
#   ./moto.sh          install moto[server] if needed, start it on 127.0.0.1:$MOTO_PORT, wait for it
#   ./moto.sh stop     stop the server this script started (pid file)
#
# Env: MOTO_PORT (5000), MOTO_VENV (~/.cache/rustyhook/moto-venv), MOTO_WAIT seconds (60),
#      MOTO_LOG (~/.cache/rustyhook/moto-$MOTO_PORT.log). Idempotent: safe to run again.
set -euo pipefail

PORT="${MOTO_PORT:-5000}"
HOST=127.0.0.1
STATE_DIR="${HOME}/.cache/rustyhook"
VENV="${MOTO_VENV:-$STATE_DIR/moto-venv}"
LOG="${MOTO_LOG:-$STATE_DIR/moto-$PORT.log}"
PIDFILE="$STATE_DIR/moto-$PORT.pid"
WAIT="${MOTO_WAIT:-60}"
URL="http://$HOST:$PORT"

say() { echo "moto.sh: $*"; }
die() { echo "moto.sh: error: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1; }

# Prints the HTTP status of $1 (000 when nothing answers).
http_status() {
    if need curl; then
        curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true
    else
        python3 - "$1" <<'EOF' 2>/dev/null || echo 000
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=2).status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("000")
EOF
    fi
}
listening() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }
is_moto() { [ "$(http_status "$URL/moto-api/data.json")" = 200 ]; }

if [ "${1:-}" = stop ]; then
    if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
        kill "$(cat "$PIDFILE")" && rm -f "$PIDFILE"
        say "stopped moto on $URL"
    else
        rm -f "$PIDFILE"
        say "no moto started by this script is running on port $PORT"
    fi
    exit 0
fi
[ -z "${1:-}" ] || die "unknown argument: $1 (use no argument or 'stop')"

if listening; then
    is_moto || die "something that is not moto already listens on $HOST:$PORT; set MOTO_PORT"
    say "moto already running on $URL; nothing to do"
    exit 0
fi

need python3 || die "python3 is required"
mkdir -p "$STATE_DIR"

apt_install() {
    need apt-get || return 1
    local sudo=""
    if [ "$(id -u)" != 0 ]; then need sudo && sudo -n true 2>/dev/null || return 1; sudo="sudo -n"; fi
    say "installing $* with apt-get"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}
has_moto() { "$1" -c 'import moto.server, flask, flask_cors' >/dev/null 2>&1; }

# Pick an interpreter that has moto's server: venv first, then python3 (incl. --user).
PY=""
if [ -x "$VENV/bin/python" ] && has_moto "$VENV/bin/python"; then
    PY="$VENV/bin/python"
    say "using moto from venv $VENV"
elif has_moto python3; then
    PY="$(python3 -c 'import sys; print(sys.executable)')"
    say "using moto already installed for $PY"
else
    if ! python3 -m pip --version >/dev/null 2>&1; then
        apt_install python3-pip || say "pip is missing and could not be installed with apt-get"
    fi
    pip_log="$(mktemp)"
    trap 'rm -f "$pip_log"' EXIT
    say "installing moto[server] with: python3 -m pip install --user 'moto[server]'"
    if python3 -m pip install --user -q 'moto[server]' >"$pip_log" 2>&1 && has_moto python3; then
        PY="$(python3 -c 'import sys; print(sys.executable)')"
        say "installed moto for $PY (user site-packages)"
    else
        if grep -q externally-managed-environment "$pip_log"; then
            say "pip refused (externally-managed-environment); using a venv at $VENV"
        else
            say "pip --user install failed ($(tail -n 1 "$pip_log")); using a venv at $VENV"
        fi
        if [ ! -x "$VENV/bin/python" ]; then
            if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
                rm -rf "$VENV"
                apt_install python3-venv || die "python3 -m venv failed and python3-venv could not be installed"
                python3 -m venv "$VENV" || die "python3 -m venv $VENV failed"
            fi
        fi
        "$VENV/bin/python" -m pip install -q 'moto[server]' || die "pip install into $VENV failed"
        has_moto "$VENV/bin/python" || die "moto installed into $VENV but cannot be imported"
        PY="$VENV/bin/python"
        say "installed moto into venv $VENV"
    fi
fi
say "moto version $("$PY" -c 'import moto; print(moto.__version__)')"

say "starting moto on $URL (log: $LOG)"
nohup "$PY" -m moto.server -H "$HOST" -p "$PORT" </dev/null >"$LOG" 2>&1 &
pid=$!
echo "$pid" >"$PIDFILE"

for _ in $(seq 1 $((WAIT * 4))); do
    if is_moto; then
        say "moto is up on $URL (pid $pid)"
        exit 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        tail -n 20 "$LOG" >&2 || true
        rm -f "$PIDFILE"
        die "moto exited before answering; log above"
    fi
    sleep 0.25
done
tail -n 20 "$LOG" >&2 || true
die "moto did not answer on $URL within ${WAIT}s (pid $pid still running; log: $LOG)"
