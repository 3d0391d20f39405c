#!/usr/bin/env bash
# Upload throughput of one file: the web app in headless Chromium against
# curl doing the same slice upload (4 MiB mkblk blocks, 3 at a time, then
# mkfile), both to Pan's local endpoint on this machine.
#   bench/webapp-upload.sh [SIZE_MIB] [PAN_BINARY]
# Default: 256 MiB, .build/release/pan (`swift build -c release`); needs
# chromium, chromium-driver and Selenium in .build/python-browser (WebAppTests install it).
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-256}
pan=${2:-.build/release/pan}
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
base="http://127.0.0.1:$port"
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

"$pan" user add bench --password pw --quota 100G --data-dir "$work/data" >/dev/null
PAN_LOG_LEVEL=error "$pan" serve --data-dir "$work/data" --port "$port" &
server=$!
for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
api() { curl -s -X POST "$base$1" -H 'Content-Type: application/json' ${TOKEN:+-H "Authorization: Bearer $TOKEN"} -d "$2"; }
json() { python3 -c "import sys,json; print(json.load(sys.stdin)$1)"; }
TOKEN=$(api /v1/user/login '{"value":"bench","password":"pw"}' | json '["token"]')

head -c $((size_mib * 1048576)) /dev/urandom > "$work/curl.bin"
cp "$work/curl.bin" "$work/browser.bin"
printf 'X' | dd of="$work/browser.bin" bs=1 seek=0 conv=notrunc 2>/dev/null   # new content: no instant upload

# curl: the same protocol the app speaks, 3 blocks in parallel.
up=$(api /v1/store/token '{"name":"curl.bin"}' | json '["result"]["token"]')
split -b 4194304 -d -a 5 "$work/curl.bin" "$work/blk."
export up base work
start=$(date +%s.%N)
ls "$work"/blk.* | awk '{print NR-1, $0}' | xargs -P 3 -n 2 sh -c \
  'curl -sf -X POST "$base/mkblk/$(stat -c %s "$1")/$0" -H "Authorization: $up" -H "Expect:" -H "Content-Type: application/octet-stream" --data-binary "@$1" > "$work/ctx.$0"'
blocks_done=$(date +%s.%N)
ctxs=$(for i in $(seq 0 $(( $(ls "$work"/blk.* | wc -l) - 1 ))); do printf '%s\n' "$(sed -n 's/.*"ctx" *: *"\([^"]*\)".*/\1/p' "$work/ctx.$i")"; done | paste -sd,)
curl -sf -X POST "$base/mkfile/$((size_mib * 1048576))" -H "Authorization: $up" -H 'Content-Type: text/plain' -d "$ctxs" > "$work/mkfile.json"
end=$(date +%s.%N)
echo "curl slice upload: ${size_mib} MiB in $(python3 -c "print(f'{$end-$start:.2f}')") s = $(python3 -c "print(f'{$size_mib/($end-$start):.0f}')") MiB/s (blocks $(python3 -c "print(f'{$blocks_done-$start:.2f}')") s; $(json '["hash"]' < "$work/mkfile.json"))"
rm -f "$work"/blk.* "$work"/ctx.*

# The web app: hash in a worker, token, slice upload — timed from picking the file to "Uploaded".
PYTHONPATH=.build/python-browser python3 Tests/PanTests/Clients/webapp_browser.py throughput "$base" bench pw "$work/browser.bin"
