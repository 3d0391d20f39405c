#!/usr/bin/env bash
# Profiles one row of `pan-bench http` on the server's side: `perf record -g`
# on the `pan serve` process while wrk drives that row, then the hottest
# symbols (self and with children).
#
#   bench/profile.sh ROW [SECONDS] [PAN_BINARY]     e.g. bench/profile.sh token 8
#   DATABASE_URL=postgres://… bench/profile.sh token 8   (the same on PostgreSQL)
#
# Needs a release build and perf (apt-get install linux-perf). The report is
# left in /tmp/pan-profile-ROW.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
row=$1; seconds=${2:-8}; pan=${3:-.build/release/pan}
out=/tmp/pan-profile-$row
phase=$(mktemp)
export PAN_BENCH_PHASE_FILE=$phase
.build/release/pan-bench http --only "$row" --seconds "$seconds" --hash-size 0 --pan "$pan" \
    ${DATABASE_URL:+--database-url "$DATABASE_URL"} >"$out.bench" 2>&1 &
bench=$!
# Wait for the row itself (PAN_BENCH_PHASE_FILE is written when a row starts).
for _ in $(seq 600); do [ -s "$phase" ] && break; sleep 0.1; done
sleep 1
pid=$(pgrep -n -f "serve --data-dir /tmp/pan-bench-http" || true)
[ -n "$pid" ] || { echo "no pan serve found" >&2; exit 1; }
perf record -g -F 999 -p "$pid" -o "$out.data" -- sleep $((seconds - 2)) >/dev/null 2>&1
wait $bench
perf report -i "$out.data" --no-children --percent-limit 0.7 --stdio 2>/dev/null | grep -E "^ +[0-9]" | head -60 >"$out.txt"
perf report -i "$out.data" --children --percent-limit 2 --stdio 2>/dev/null | grep -E "^ +[0-9]" | head -80 >>"$out.txt"
cat "$out.bench" | grep -E "^\|" ; cat "$out.txt"
