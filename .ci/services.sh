#!/usr/bin/env bash
# Install (from Debian's packages, where missing) and start the services the tests talk to:
# PostgreSQL on 127.0.0.1:5432 (trust auth for local connections), Redis on 127.0.0.1:6379, NATS
# with JetStream on 127.0.0.1:4222, and RabbitMQ on 127.0.0.1:5672 (its default guest user, which
# may connect from loopback only).
# Idempotent: a service already answering is left alone.
set -euo pipefail

say() { echo "services.sh: $*"; }
die() { echo "services.sh: error: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1; }

apt_install() {
    need apt-get || die "cannot install $* here: no apt-get"
    if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq; APT_UPDATED=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Waits up to $2 seconds for `$1` to succeed.
wait_for() {
    local check="$1" seconds="$2"
    for _ in $(seq 1 $((seconds * 4))); do
        if eval "$check" >/dev/null 2>&1; then return 0; fi
        sleep 0.25
    done
    return 1
}

postgres_up() { psql -h 127.0.0.1 -U postgres -d postgres -tAc 'SELECT 1' 2>/dev/null | grep -q 1; }

start_postgres() {
    if postgres_up; then say "PostgreSQL is up"; return; fi
    if ! need pg_ctlcluster; then
        say "installing PostgreSQL"
        apt_install postgresql postgresql-client
    fi
    local version
    version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)"
    [ -n "$version" ] || die "PostgreSQL is installed but has no cluster under /etc/postgresql"
    local conf="/etc/postgresql/$version/main"
    # Tests connect over TCP as postgres without a password, as on the project's machines.
    if ! grep -Eq '^host +all +all +127\.0\.0\.1/32 +trust' "$conf/pg_hba.conf"; then
        sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' \
            "$conf/pg_hba.conf"
    fi
    say "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_for postgres_up 60 || die "PostgreSQL did not come up on 127.0.0.1:5432"
    say "PostgreSQL is up"
}

redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

start_redis() {
    if need redis-cli && redis_up; then say "Redis is up"; return; fi
    if ! need redis-server; then
        say "installing Redis"
        apt_install redis-server
    fi
    mkdir -p /var/lib/redis /var/log/redis
    say "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for redis_up 30 || die "Redis did not come up on 127.0.0.1:6379"
    say "Redis is up"
}

# The first line a NATS server sends on connect: `INFO {...}`, saying among others whether
# JetStream is on.
nats_info() { timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/4222 && head -n 1 <&3' 2>/dev/null; }
nats_up() { nats_info | grep -q '^INFO'; }

start_nats() {
    if nats_up; then
        nats_info | grep -q '"jetstream":true' ||
            die "the NATS server on 127.0.0.1:4222 runs without JetStream; restart it with -js"
        say "NATS is up"
        return
    fi
    if [ ! -x /usr/sbin/nats-server ]; then
        say "installing NATS"
        apt_install nats-server
    fi
    mkdir -p /var/lib/nats-server
    say "starting NATS with JetStream"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
        -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
    wait_for nats_up 30 || die "NATS did not come up on 127.0.0.1:4222"
    say "NATS is up"
}

# The AMQP listener opens last in RabbitMQ's boot, so a TCP connect means it takes clients.
rabbitmq_up() { timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5672' 2>/dev/null; }

start_rabbitmq() {
    if rabbitmq_up; then say "RabbitMQ is up"; return; fi
    if ! need rabbitmq-server; then
        say "installing RabbitMQ"
        apt_install rabbitmq-server
    fi
    # Installing may have started it already.
    if ! wait_for rabbitmq_up 5; then
        say "starting RabbitMQ"
        # Run as root, the script switches to the rabbitmq user; "already running" is fine.
        rabbitmq-server -detached >/dev/null 2>&1 || true
    fi
    wait_for rabbitmq_up 60 || die "RabbitMQ did not come up on 127.0.0.1:5672"
    say "RabbitMQ is up"
}

start_postgres
start_redis
start_nats
start_rabbitmq
# The Redis TLS test makes its certificates with the openssl command.
need openssl || apt_install openssl
