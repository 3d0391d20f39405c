#!/usr/bin/env bash
# Issue #16's benchmark, one command: SQLite (one server), PostgreSQL (one
# server) and PostgreSQL (two servers behind nginx), in interleaved rounds in
# the same run, each row against the framework's trivial route (`GET
# /healthz`) measured in the same server run. PostgreSQL is a throwaway
# cluster in a temp dir with default durability (fsync on, synchronous
# commit), so a PostgreSQL commit costs what it would in production.
#
#   bench/backends.sh [ROUNDS] [SECONDS]        (default 3 rounds of 5 s rows)
#
# Needs a release build (`swift build -c release`), PostgreSQL's server
# binaries (apt-get install postgresql) and nginx. Prints one table per run;
# BENCHMARKS.md has the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
seconds=${2:-5}
bin=.build/release
[ -x "$bin/pan-bench" ] && [ -x "$bin/pan" ] || { echo "build first: swift build -c release" >&2; exit 1; }
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pgbin/initdb" ] || { echo "no PostgreSQL server binaries (apt-get install postgresql)" >&2; exit 1; }

cluster=$(mktemp -d /tmp/pan-bench-pg.XXXXXX)
port=$((20000 + RANDOM % 10000))
runas=()
if [ "$(id -u)" = 0 ]; then
    user=postgres; id postgres >/dev/null 2>&1 || user=nobody
    chown "$user" "$cluster"; runas=(runuser -u "$user" --)
fi
"${runas[@]}" "$pgbin/initdb" -D "$cluster/data" -U pan -A trust >/dev/null
"${runas[@]}" "$pgbin/postgres" -D "$cluster/data" -p "$port" -k "$cluster" \
    -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=256MB >"$cluster/log" 2>&1 &
pg=$!
# pg_ctl, not a signal to $pg: runuser does not pass signals on to the server.
trap '"${runas[@]}" "$pgbin/pg_ctl" -D "$cluster/data" -m fast -w stop >/dev/null 2>&1; wait $pg 2>/dev/null; rm -rf "$cluster"' EXIT
for _ in $(seq 100); do "$pgbin/pg_isready" -q -h 127.0.0.1 -p "$port" && break; sleep 0.1; done

rows=trivial,token,instant,callback,page
# One user's writes are serialized by design (on PostgreSQL by its row lock): spread the load.
users=8
n=0
for round in $(seq "$rounds"); do
    for mode in sqlite pg1 pg2; do
        n=$((n + 1))
        echo "=== round $round: $mode"
        case $mode in
        sqlite) "$bin/pan-bench" http --seconds "$seconds" --only "$rows" --hash-size 0 --users "$users" ;;
        pg*)
            db=bench$n
            "$pgbin/createdb" -h 127.0.0.1 -p "$port" -U pan "$db"
            servers=${mode#pg}
            "$bin/pan-bench" http --seconds "$seconds" --only "$rows" --hash-size 0 --users "$users" \
                --database-url "postgres://pan@127.0.0.1:$port/$db" --servers "$servers"
            ;;
        esac
    done
done
