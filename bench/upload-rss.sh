#!/usr/bin/env bash
# Uploads one large file through Pan's local WCS endpoint (form upload, then
# slice upload in 4 MiB blocks) and reports the server's resident memory:
# the peak must stay flat whatever the file size.
#   bench/upload-rss.sh [SIZE_MIB] [PAN_BINARY]
# Default: 1024 MiB, .build/release/pan (build it with `swift build -c release`).
set -euo pipefail
size_mib=${1:-1024}
pan=${2:-.build/release/pan}
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

"$pan" user add bench --password pw --quota 100G --data-dir "$work/data" >/dev/null
PAN_LOG_LEVEL=error "$pan" serve --data-dir "$work/data" --port "$port" &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
rss() { awk '/VmRSS/{print $2}' /proc/$server/status; }
hwm() { awk '/VmHWM/{print $2}' /proc/$server/status; }
api() { curl -s -X POST "http://127.0.0.1:$port$1" -H 'Content-Type: application/json' ${TOKEN:+-H "Authorization: Bearer $TOKEN"} -d "$2"; }
json() { python3 -c "import sys,json; print(json.load(sys.stdin)$1)"; }

TOKEN=$(api /v1/user/login '{"value":"bench","password":"pw"}' | json '["token"]')
head -c $((size_mib * 1048576)) /dev/urandom > "$work/big.bin"
echo "file: ${size_mib} MiB; server RSS at start: $(rss) KiB (peak $(hwm) KiB)"

up=$(api /v1/store/token '{"name":"form.bin"}' | json '["result"]["token"]')
start=$(date +%s.%N)
curl -s -X POST "http://127.0.0.1:$port/file/upload" -F "token=$up" -F "file=@$work/big.bin" > "$work/form.json"
end=$(date +%s.%N)
echo "form upload:  $(python3 -c "print(f'{$size_mib/($end-$start):.0f}')") MiB/s; result $(json '["success"]' < "$work/form.json"); RSS $(rss) KiB, peak $(hwm) KiB"

up=$(api /v1/store/token '{"name":"slice.bin"}' | json '["result"]["token"]')
# Change one byte so the content is new (not deduplicated).
printf 'X' | dd of="$work/big.bin" bs=1 seek=0 conv=notrunc 2>/dev/null
split -b 4194304 -d -a 5 "$work/big.bin" "$work/blk."
start=$(date +%s.%N)
ctxs=""; order=0
for block in "$work"/blk.*; do
  n=$(stat -c %s "$block")
  ctx=$(curl -s -X POST "http://127.0.0.1:$port/mkblk/$n/$order" -H "Authorization: $up" -H 'UploadBatch: b1' --data-binary "@$block" | json '["ctx"]')
  ctxs="$ctxs${ctxs:+,}$ctx"; order=$((order + 1))
done
curl -s -X POST "http://127.0.0.1:$port/mkfile/$((size_mib * 1048576))" -H "Authorization: $up" -d "$ctxs" > "$work/slice.json"
end=$(date +%s.%N)
echo "slice upload: $(python3 -c "print(f'{$size_mib/($end-$start):.0f}')") MiB/s; hash $(json '["hash"]' < "$work/slice.json"); RSS $(rss) KiB, peak $(hwm) KiB"
echo "pan hash:     $("$pan" hash "$work/big.bin" | cut -d' ' -f1)"
