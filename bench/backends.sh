#!/usr/bin/env bash
# Issues #16 and #25's benchmark, one command: SQLite (one server), PostgreSQL
# (one server) and PostgreSQL (two servers behind nginx), in interleaved rounds
# in the same run, each row against the framework's trivial route (`GET
# /healthz`) measured in the same server run; and, in every round, the anchor:
# PostgreSQL's own pgbench TPC-B transaction (`-M prepared`, and `-M simple`
# for reference; scale 8, 8 clients, 2 threads) on the same cluster.
# PostgreSQL is a throwaway cluster in a temp dir with default durability
# (fsync on, synchronous commit), so a PostgreSQL commit costs what it would in
# production.
#
#   bench/backends.sh [ROUNDS] [SECONDS]        (default 3 rounds of 5 s rows)
#
# MODES="sqlite pg1" (default "sqlite pg1 pg2") leaves out the two-server runs.
#
# "Pan CPU" is the Pan servers' utime + stime over a row. "PostgreSQL CPU" is
# the throwaway cluster's alone, from /proc the same way for Pan's rows and for
# pgbench: the postmaster's own, the backends it reaped (its cutime + cstime)
# and its live children's (backends, checkpointer, WAL writer, autovacuum),
# after minus before, divided by requests (or transactions). Neither includes
# nginx, wrk or pgbench.
#
# Needs a release build (`swift build -c release --product pan` and
# `--product pan-bench`), PostgreSQL's server binaries and pgbench (apt-get
# install postgresql), nginx and wrk. Prints pan-bench's table per run, then the
# medians over rounds and the issue #25 targets; the raw rows (tab-separated)
# are kept in /tmp/pan-backends-rows.tsv.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
seconds=${2:-5}
modes=${MODES:-sqlite pg1 pg2}
# BIN: the directory holding pan-bench and pan (default: this checkout's release build), e.g. an older build to compare with.
bin=${BIN:-.build/release}
[ -x "$bin/pan-bench" ] && [ -x "$bin/pan" ] || { echo "build first: swift build -c release" >&2; exit 1; }
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pgbin/initdb" ] && [ -x "$pgbin/pgbench" ] || { echo "no PostgreSQL server binaries or pgbench (apt-get install postgresql)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "no wrk (apt-get install wrk)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "no python3 (for the summary)" >&2; exit 1; }

cluster=$(mktemp -d /tmp/pan-bench-pg.XXXXXX)
port=$((20000 + RANDOM % 10000))
rows_tsv=/tmp/pan-backends-rows.tsv
: >"$rows_tsv"
runas=()
if [ "$(id -u)" = 0 ]; then
    user=postgres; id postgres >/dev/null 2>&1 || user=nobody
    chown "$user" "$cluster"; runas=(runuser -u "$user" --)
fi
# pan-bench's servers, nginx and wrk keep their files under $cluster/tmp (pan-bench's TMPDIR):
# the cleanup finds whatever an interrupted run left by that path in its command line.
mkdir "$cluster/tmp"
bench=
cleanup() {
    set +e
    [ -n "$bench" ] && kill "$bench" 2>/dev/null
    local left=() f c
    for f in /proc/[0-9]*/cmdline; do
        c=$(tr '\0' ' ' 2>/dev/null <"$f") || continue
        [[ $c == *"$cluster/tmp/"* ]] && left+=("$(basename "$(dirname "$f")")")
    done
    if [ ${#left[@]} -gt 0 ]; then
        kill "${left[@]}" 2>/dev/null
        sleep 2
        kill -KILL "${left[@]}" 2>/dev/null
    fi
    # pg_ctl, not a signal to $pg: runuser does not pass signals on to the server.
    "${runas[@]}" "$pgbin/pg_ctl" -D "$cluster/data" -m fast -w stop >/dev/null 2>&1
    wait "$pg" 2>/dev/null
    rm -rf "$cluster"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"${runas[@]}" "$pgbin/initdb" -D "$cluster/data" -U pan -A trust >/dev/null
"${runas[@]}" "$pgbin/postgres" -D "$cluster/data" -p "$port" -k "$cluster" \
    -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=256MB >"$cluster/log" 2>&1 &
pg=$!
for _ in $(seq 100); do "$pgbin/pg_isready" -q -h 127.0.0.1 -p "$port" && break; sleep 0.1; done
postmaster=$(head -1 "$cluster/data/postmaster.pid")
clients=(-h 127.0.0.1 -p "$port" -U pan)

# The cluster's CPU in clock ticks (see the header; pan-bench's --postgres-pid measures the same).
pgticks() {
    local total=0 stat line rest f
    for stat in /proc/[0-9]*/stat; do
        read -r line 2>/dev/null <"$stat" || continue
        rest=${line##*) }
        read -ra f <<<"$rest"
        # After the command: f[1] ppid, f[11] utime, f[12] stime, f[13] cutime, f[14] cstime.
        if [ "$stat" = "/proc/$postmaster/stat" ]; then
            total=$((total + f[11] + f[12] + f[13] + f[14]))
        elif [ "${f[1]}" = "$postmaster" ]; then
            total=$((total + f[11] + f[12]))
        fi
    done
    echo "$total"
}
hz=$(getconf CLK_TCK)

# pgbench's TPC-B tables, once: scale 8 (800,000 accounts), analyzed by -i.
"$pgbin/createdb" "${clients[@]}" pgbench
"$pgbin/pgbench" "${clients[@]}" -i -s 8 -q pgbench >"$cluster/pgbench-init.log" 2>&1

echo "# bench/backends.sh $rounds $seconds: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, $("$pgbin/postgres" --version), modes: $modes, load average $(cut -d' ' -f1-3 /proc/loadavg)"
started=$(date +%s)

# One pgbench run, measured as Pan's rows are: a line of $rows_tsv.
anchor() {
    local protocol=$1 round=$2 out="$cluster/pgbench-$1-$2.log" before after
    # What pgbench itself does before a run (its own vacuum is skipped with -n, so it is not measured).
    "$pgbin/psql" "${clients[@]}" -q -d pgbench -c "VACUUM pgbench_branches" -c "VACUUM pgbench_tellers" -c "TRUNCATE pgbench_history" >/dev/null
    before=$(pgticks)
    "$pgbin/pgbench" "${clients[@]}" -n -M "$protocol" -c 8 -j 2 -T "$seconds" pgbench >"$out" 2>&1
    after=$(pgticks)
    python3 - "$protocol" "$round" "$out" "$before" "$after" "$hz" >>"$rows_tsv" <<'PY'
import re, sys
protocol, round, path, before, after, hz = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
text = open(path).read()
def grab(pattern, default=None):
    m = re.search(pattern, text, re.M)
    return float(m.group(1)) if m else default
txns = grab(r"number of transactions actually processed: (\d+)")
tps = grab(r"^tps = ([\d.]+)")
latency = grab(r"^latency average = ([\d.]+) ms")
failed = grab(r"number of failed transactions: (\d+)", 0)
if not txns or tps is None:
    sys.exit("pgbench failed:\n" + text)
us = (after - before) / hz / txns * 1e6
print("\t".join([f"pgbench-{protocol}", round, "txn", f"{tps:.1f}", f"{latency:.3f}", "-", str(int(failed)), str(int(txns)), "-", f"{us:.1f}"]))
PY
    tail -1 "$rows_tsv" | awk -F'\t' '{ printf "pgbench -M %s: %s tps, latency %s ms, %s transactions, PostgreSQL CPU %s µs/txn\n", substr($1, 9), $4, $5, $8, $10 }'
}

rows=trivial,token,instant,callback,page
# One user's writes are serialized by design (on PostgreSQL by its row lock): spread the load.
users=8
n=0
for round in $(seq "$rounds"); do
    for mode in $modes; do
        n=$((n + 1))
        echo "=== round $round: $mode"
        args=(http --seconds "$seconds" --only "$rows" --hash-size 0 --users "$users" --record "$cluster/run.tsv" --label "$mode")
        case $mode in
        sqlite) TMPDIR=$cluster/tmp "$bin/pan-bench" "${args[@]}" & bench=$!; wait $bench; bench= ;;
        pg*)
            db=bench$n
            "$pgbin/createdb" "${clients[@]}" "$db"
            TMPDIR=$cluster/tmp "$bin/pan-bench" "${args[@]}" --database-url "postgres://pan@127.0.0.1:$port/$db" \
                --servers "${mode#pg}" --postgres-pid "$postmaster" & bench=$!
            wait $bench; bench=
            "$pgbin/dropdb" "${clients[@]}" "$db"
            ;;
        *) echo "unknown mode $mode (sqlite, pg1, pg2)" >&2; exit 1 ;;
        esac
        # pan-bench numbers its own rounds (one here): this run is round $round of the script.
        awk -v round="$round" 'BEGIN { FS = OFS = "\t" } { $2 = round; print }' "$cluster/run.tsv" >>"$rows_tsv"
        rm "$cluster/run.tsv"
        if [ "$mode" = pg1 ]; then
            echo "=== round $round: pgbench"
            anchor prepared "$round"
            anchor simple "$round"
        fi
    done
done
echo
echo "# $(( ($(date +%s) - started) / 60 )) min $(( ($(date +%s) - started) % 60 )) s, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; rows in $rows_tsv"

python3 - "$rows_tsv" "$rounds" "$seconds" <<'PY'
import statistics, sys
from collections import defaultdict
path, rounds, seconds = sys.argv[1], sys.argv[2], sys.argv[3]
runs = defaultdict(list)
for line in open(path):
    c = line.rstrip("\n").split("\t")
    if len(c) != 10: continue
    num = lambda s: None if s == "-" else float(s)
    runs[(c[0], c[2])].append(dict(rate=num(c[3]), p50=num(c[4]), p99=num(c[5]), errors=int(c[6]), requests=int(c[7]), pan=num(c[8]), db=num(c[9])))
def med(label, key, field):
    values = [r[field] for r in runs.get((label, key), []) if r[field] is not None]
    return statistics.median(values) if values else None
def errors(label, key): return sum(r["errors"] for r in runs.get((label, key), []))
def f(v, d=0, suffix=""): return "-" if v is None else f"{v:,.{d}f}{suffix}"
def ratio(a, b): return None if a is None or b is None or b == 0 else a / b
titles = {"trivial": "GET /healthz (trivial route)", "token": "token (upload session)", "instant": "token (instant upload)",
          "callback": "callback (node + object)", "page": "files/page 20 of a 10k directory"}
stores = {"sqlite": "SQLite, 1 server", "pg1": "PostgreSQL, 1 server", "pg2": "PostgreSQL, 2 servers + nginx"}
labels = [l for l in stores if any(k[0] == l for k in runs)]

print(f"\n## Medians over {rounds} rounds of {seconds} s rows\n")
print("| row | store | req/s | p50 ms | p99 ms | errors | Pan CPU µs/req | PostgreSQL CPU µs/req |")
print("|---|---|---|---|---|---|---|---|")
for key, title in titles.items():
    for label in labels:
        if (label, key) not in runs: continue
        print(f"| {title} | {stores[label]} | {f(med(label, key, 'rate'))} | {f(med(label, key, 'p50'), 1)} | {f(med(label, key, 'p99'), 1)} | "
              f"{errors(label, key)} | {f(med(label, key, 'pan'))} | {f(med(label, key, 'db'))} |")

anchor = {p: (med(f"pgbench-{p}", "txn", "rate"), med(f"pgbench-{p}", "txn", "db"), med(f"pgbench-{p}", "txn", "p50"), errors(f"pgbench-{p}", "txn"))
          for p in ("prepared", "simple") if (f"pgbench-{p}", "txn") in runs}
if anchor:
    print("\n## Anchor: pgbench TPC-B (scale 8, -c 8 -j 2, same cluster, fsync on), medians\n")
    print("| pgbench | tps | latency ms | failed | PostgreSQL CPU µs/txn |")
    print("|---|---|---|---|---|")
    for p, (tps, us, latency, failed) in anchor.items():
        print(f"| -M {p} | {f(tps)} | {f(latency, 1)} | {failed} | {f(us)} |")
txn = anchor.get("prepared", (None, None))[1]

print("\n## Summary (issue #25's table)\n")
print("| row | SQLite: Pan CPU µs/req | PostgreSQL, 1 server: Pan CPU + PostgreSQL CPU µs/req | req/s SQLite → PostgreSQL 1 server" +
      (" (2 servers)" if "pg2" in labels else "") + " | Pan CPU PG ÷ SQLite | PG CPU ÷ pgbench prepared txn | req/s PG ÷ SQLite |")
print("|---|---|---|---|---|---|---|")
for key, title in titles.items():
    s_pan, p_pan, p_db = med("sqlite", key, "pan"), med("pg1", key, "pan"), med("pg1", key, "db")
    s_rate, p_rate, p2_rate = med("sqlite", key, "rate"), med("pg1", key, "rate"), med("pg2", key, "rate")
    rates = f"{f(s_rate)} → {f(p_rate)}" + (f" ({f(p2_rate)})" if "pg2" in labels else "")
    print(f"| {title} | {f(s_pan)} | {f(p_pan)} + {f(p_db)} | {rates} | {f(ratio(p_pan, s_pan), 2, '×')} | {f(ratio(p_db, txn), 2, '×')} | "
          f"{f(None if ratio(p_rate, s_rate) is None else 100 * ratio(p_rate, s_rate), 0, '%')} |")

print("\n## Targets (issue #25)\n")
print("| target | measured | limit | met |")
print("|---|---|---|---|")
def target(name, value, limit, below=True, percent=False):
    met = "?" if value is None else ("yes" if (value <= limit if below else value >= limit) else "no")
    show = (lambda v: f(None if v is None else 100 * v, 0, "%")) if percent else (lambda v: f(v, 2, "×"))
    print(f"| {name} | {show(value)} | {'≤' if below else '≥'} {show(limit)} | {met} |")
target("PostgreSQL CPU per callback ÷ pgbench prepared txn", ratio(med("pg1", "callback", "db"), txn), 2)
target("PostgreSQL CPU per token ÷ pgbench prepared txn", ratio(med("pg1", "token", "db"), txn), 1)
target("PostgreSQL CPU per instant ÷ pgbench prepared txn", ratio(med("pg1", "instant", "db"), txn), 1)
for key in ("token", "instant", "callback", "page", "trivial"):
    target(f"Pan CPU per {key} on PostgreSQL ÷ SQLite", ratio(med("pg1", key, "pan"), med("sqlite", key, "pan")), 2)
for key in ("token", "callback"):
    target(f"req/s on PostgreSQL (1 server) ÷ SQLite, {key}", ratio(med("pg1", key, "rate"), med("sqlite", key, "rate")), 0.4, below=False, percent=True)
PY
