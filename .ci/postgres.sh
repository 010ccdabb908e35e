#!/usr/bin/env bash
# A throwaway PostgreSQL server for the corrections tests: `start` creates a cluster in a temporary
# folder (Unix socket only, no TCP port), creates the test database and prints its SQLAlchemy URL;
# `stop` stops it and removes the folder. PostgreSQL refuses to run as root: as root the cluster
# belongs to an unprivileged user (PGTEST_USER, default pgtest, created when missing).
#   url=$(bash .ci/postgres.sh start); export DISPATCH_NLP_TEST_PG_URL=$url; ...; bash .ci/postgres.sh stop
set -euo pipefail
DIR=${PGTEST_DIR:-/tmp/dispatch_nlp_pgtest}
PORT=${PGTEST_PORT:-55432}
DB=dispatch_nlp_test
PGUSER_NAME=${PGTEST_USER:-pgtest}

bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$d" ] && command -v initdb >/dev/null 2>&1 && command -v createdb >/dev/null 2>&1; then
        d=$(dirname "$(command -v initdb)")
    fi
    if [ -z "$d" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        # A machine without the server: Debian's package (the image usually has it already).
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } >&2 || true
        d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    fi
    if [ -z "$d" ]; then
        echo "postgres.sh: no PostgreSQL binaries (apt-get install -y postgresql)" >&2
        exit 1
    fi
    echo "$d"
}

as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u "$PGUSER_NAME" -- "$@"; else "$@"; fi
}

start() {
    local bin
    bin=$(bindir)
    if [ "$(id -u)" = 0 ] && ! id "$PGUSER_NAME" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$PGUSER_NAME"
    fi
    if [ -f "$DIR/data/postmaster.pid" ]; then stop >/dev/null; fi
    rm -rf "$DIR"
    mkdir -p "$DIR"
    if [ "$(id -u)" = 0 ]; then chown "$PGUSER_NAME" "$DIR"; fi
    chmod 0700 "$DIR"  # the socket and the trust-auth cluster: for its owner (and root) only
    as_owner "$bin/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 --no-locale >"$DIR/initdb.log" 2>&1 \
        || { cat "$DIR/initdb.log" >&2; exit 1; }
    # fsync and synchronous_commit stay on (the defaults): the tests check a commit is durable.
    as_owner "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
        -o "-c listen_addresses='' -c unix_socket_directories=$DIR -p $PORT -c fsync=on -c synchronous_commit=on" \
        start >/dev/null || { cat "$DIR/server.log" >&2; exit 1; }
    as_owner "$bin/createdb" -h "$DIR" -p "$PORT" -U postgres "$DB"
    echo "postgresql+psycopg://postgres@/$DB?host=$DIR&port=$PORT"
}

stop() {
    local bin
    bin=$(bindir)
    if [ -f "$DIR/data/postmaster.pid" ]; then
        as_owner "$bin/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null
    fi
    rm -rf "$DIR"
    echo "stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
