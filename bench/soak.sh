#!/usr/bin/env bash
# Memory soak (issue #8): a release `pan serve` on 127.0.0.1 under a mixed
# load (bench/soak_load.py: uploads form and slice, instant uploads, listing,
# downloads, rename/move/copy/recycle/restore/remove) for DURATION seconds,
# sampling the server's RSS from /proc; prints the series and the ratio of
# the last third's mean to the first third's; exits non-zero when RSS grows
# by more than MAX_GROWTH, on any 5xx, or when the server dies.
#   bench/soak.sh [DURATION_SECONDS=120] [MAX_GROWTH=1.5]
# Env: PAN_BINARY (default .build/release/pan, built if missing), SOAK_THREADS (8),
#      SOAK_SAMPLE_SECONDS (3).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-120}
max_growth=${2:-1.5}
pan=${PAN_BINARY:-.build/release/pan}
if [ ! -x "$pan" ]; then
  echo "building $pan (swift build -c release --product pan)…"
  swift build -c release --product pan
fi
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
server=""
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then kill -TERM "$server"; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$pan" user add soak --password secret --quota 100G --data-dir "$work/data" >/dev/null
PAN_LOG_LEVEL=error PAN_MAX_PENDING_UPLOADS=${PAN_MAX_PENDING_UPLOADS:-100000000} "$pan" serve --data-dir "$work/data" --host 127.0.0.1 --port "$port" 2>"$work/server.log" &
server=$!
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || { echo "pan serve did not start"; cat "$work/server.log"; exit 1; }
echo "soak: $pan pid $server on 127.0.0.1:$port for ${duration}s, limit ${max_growth}x"
status=0
python3 bench/soak_load.py "http://127.0.0.1:$port" "$server" soak secret "$duration" \
  "${SOAK_THREADS:-8}" "$max_growth" "${SOAK_SAMPLE_SECONDS:-3}" || status=$?
if kill -0 "$server" 2>/dev/null; then
  kill -TERM "$server"; wait "$server" 2>/dev/null || { echo "FAIL: pan serve did not exit cleanly"; status=1; }
else
  echo "FAIL: the server died"; status=1
fi
server=""
if "$pan" fsck --data-dir "$work/data" >"$work/fsck.txt" 2>&1; then echo "fsck: clean"; else echo "FAIL: fsck"; head -5 "$work/fsck.txt"; status=1; fi
if [ -s "$work/server.log" ]; then echo "server errors (last lines):"; tail -5 "$work/server.log"; fi
exit $status
