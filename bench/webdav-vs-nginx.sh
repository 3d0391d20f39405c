#!/usr/bin/env bash
# Pan's upload byte path and WebDAV against nginx's own WebDAV module, same
# machine, same run, rounds alternating (issue #29, Performance):
#   - 1 GiB PUT with curl: nginx PUT followed by an fsync of the stored file
#     (Pan fsyncs before it answers), Pan's form upload (`/file/upload`),
#     Pan's WebDAV PUT, Pan's slice upload (mkblk per 4 MiB block on one
#     keep-alive curl, then mkfile);
#   - rclone copy of 1,000 small files (1–64 KiB) up and down, files/s;
#   - rclone copy of one 1 GiB file up (nginx: + fsync) and down.
# Per row: wall seconds, server CPU seconds (utime+stime of the server
# processes), and for Pan the peak RSS during the row (VmHWM, reset per row).
# Medians over the rounds; the table is printed as Markdown.
#
#   bench/webdav-vs-nginx.sh [ROUNDS] [PAN_BINARY] [OLDER_PAN_BINARY]
# Default: 3 rounds, .build/release/pan (`swift build -c release --product pan`).
# With an older binary, its form and slice uploads are measured too (a server
# of its own), for before/after in the same run. ROWS=put: only the 1 GiB
# curl rows of nginx, the form upload and the WebDAV PUT (~10 s a round).
# Needs nginx with the dav module, libnginx-mod-http-dav-ext (PROPFIND, for
# rclone), rclone and curl. Scratch in $BENCH_DIR (default /tmp; ~2 GiB per
# round on disk), removed at the end; raw rows in /tmp/pan-webdav-rows.tsv.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
pan=$(realpath "${2:-.build/release/pan}")
before=${3:+$(realpath "$3")}
work=$(mktemp -d "${BENCH_DIR:-/tmp}/pan-webdav-bench.XXXXXX")
rows=/tmp/pan-webdav-rows.tsv
port=$((20000 + RANDOM % 10000)); nport=$((port + 1))
server=""; nginx_master=""; old_server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  [ -n "$old_server" ] && kill "$old_server" 2>/dev/null || true
  [ -n "$nginx_master" ] && kill "$nginx_master" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- the servers -----------------------------------------------------------
mkdir -p "$work/nginx/root" "$work/nginx/tmp" "$work/nginx/logs"
dav_ext=/usr/lib/nginx/modules/ngx_http_dav_ext_module.so
[ -f "$dav_ext" ] || { echo "needs libnginx-mod-http-dav-ext (PROPFIND for rclone)" >&2; exit 1; }
cat >"$work/nginx/nginx.conf" <<EOF
load_module $dav_ext;
user $(id -un) $(id -gn);
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log error;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  client_max_body_size 0;
  client_body_temp_path $work/nginx/tmp;
  server {
    listen 127.0.0.1:$nport;
    location / {
      root $work/nginx/root;
      dav_methods PUT DELETE MKCOL COPY MOVE;
      dav_ext_methods PROPFIND OPTIONS;
      create_full_put_path on;
      dav_access user:rw;
    }
  }
}
EOF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
nginx_master=$!

"$pan" user add bench --password pw --quota 1000G --data-dir "$work/pan" >/dev/null
PAN_LOG_LEVEL=error "$pan" serve --data-dir "$work/pan" --port "$port" &
server=$!
if [ -n "$before" ]; then
  old_port=$((port + 2))
  "$before" user add bench --password pw --quota 1000G --data-dir "$work/pan-before" >/dev/null
  PAN_LOG_LEVEL=error "$before" serve --data-dir "$work/pan-before" --port "$old_port" &
  old_server=$!
fi
for p in $port ${old_port:-}; do
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$p/healthz" >/dev/null && break; sleep 0.1; done
done
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$nport/" && break; sleep 0.1; done

# --- measuring ---------------------------------------------------------------
ticks=$(getconf CLK_TCK)
# utime+stime (seconds) of a process and its live children (nginx's workers).
cpu() { local total=0 p; for p in "$1" $(pgrep -P "$1" || true); do
  total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$total"; }
reset_peak() { echo 5 >"/proc/$1/clear_refs" 2>/dev/null || true; }
peak_mib() { awk '/VmHWM/{printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
now() { date +%s.%N; }
# row ROUND NAME SERVER_PID COMMAND… — runs COMMAND, appends a row.
row() {
  local round=$1 name=$2 pid=$3; shift 3
  [ "$pid" != "$nginx_master" ] && reset_peak "$pid"
  local c0 t0 t1 c1 peak=-
  c0=$(cpu "$pid"); t0=$(now)
  "$@" >"$work/out" 2>&1 || { echo "FAILED: $name" >&2; cat "$work/out" >&2; exit 1; }
  t1=$(now); c1=$(cpu "$pid")
  [ "$pid" != "$nginx_master" ] && peak=$(peak_mib "$pid")
  printf '%s\t%s\t%.3f\t%.2f\t%s\n' "$round" "$name" "$(echo "$t1 - $t0" | bc)" "$(echo "($c1 - $c0) / $ticks" | bc -l)" "$peak" | tee -a "$rows"
}

# The Pan server the form and slice uploads go to: the new one, or the older binary's.
at=$port
api() { curl -sf -X POST "http://127.0.0.1:$at$1" -H 'Content-Type: application/json' ${TOKEN:+-H "Authorization: Bearer $TOKEN"} -d "$2"; }
json() { python3 -c "import sys,json; print(json.load(sys.stdin)$1)"; }
login() { TOKEN=; TOKEN=$(api /v1/user/login '{"value":"bench","password":"pw"}' | json '["token"]'); }

export RCLONE_CONFIG_NGINX_TYPE=webdav RCLONE_CONFIG_NGINX_URL="http://127.0.0.1:$nport/" RCLONE_CONFIG_NGINX_VENDOR=other
export RCLONE_CONFIG_PAN_TYPE=webdav RCLONE_CONFIG_PAN_URL="http://127.0.0.1:$port/dav/" RCLONE_CONFIG_PAN_VENDOR=other
export RCLONE_CONFIG_PAN_USER=bench RCLONE_CONFIG_PAN_PASS=$(rclone obscure pw)
export RCLONE_CONFIG=/dev/null
rc() { rclone copy --retries 1 --low-level-retries 1 "$@"; }

nginx_put() { curl -sf -T "$1" "http://127.0.0.1:$nport/$2" && python3 -c "import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)" "$work/nginx/root/$2"; }
nginx_rclone_up() { rc "$1" "nginx:$2" && python3 -c "import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)" "$work/nginx/root/$2/$(basename "$1")"; }
pan_form() {
  local up; up=$(api /v1/store/token "{\"name\":\"$2\"}" | json '["result"]["token"]')
  curl -sf -X POST "http://127.0.0.1:$at/file/upload" -F "token=$up" -F "file=@$1" | grep -q '"success"'
}
pan_put() { curl -sf -T "$1" -u bench:pw "http://127.0.0.1:$port/dav/$2"; }
# Slice upload: every block on one keep-alive curl, then mkfile with their ctxs.
pan_slice() {
  local up config="$work/slice.curl" order=0 size; up=$(api /v1/store/token "{\"name\":\"$2\"}" | json '["result"]["token"]')
  rm -f "$work"/blk.*; split -b 4194304 -d -a 5 "$1" "$work/blk."
  : >"$config"
  for block in "$work"/blk.*; do
    size=$(stat -c %s "$block")
    [ $order -gt 0 ] && echo "next" >>"$config"
    printf 'url = "http://127.0.0.1:%s/mkblk/%s/%s"\nheader = "Authorization: %s"\ndata-binary = "@%s"\nwrite-out = "\\n"\n' \
      "$at" "$size" "$order" "$up" "$block" >>"$config"
    order=$((order + 1))
  done
  local ctxs; ctxs=$(curl -sf -K "$config" | python3 -c "import sys,json; print(','.join(json.loads(l)['ctx'] for l in sys.stdin if l.strip()))")
  curl -sf -X POST "http://127.0.0.1:$at/mkfile/$(stat -c %s "$1")" -H "Authorization: $up" -d "$ctxs" | grep -q '"hash"'
}

echo "generating the files in $work" >&2
head -c 1073741824 /dev/urandom >"$work/big.bin"
python3 - "$work/small" <<'EOF'
import os, random, sys
random.seed(29)
os.makedirs(sys.argv[1])
for i in range(1000):
    with open(os.path.join(sys.argv[1], f"f{i:04}.bin"), "wb") as f:
        f.write(os.urandom(random.randint(1024, 64 * 1024)))
EOF
: >"$rows"
sync

for r in $(seq "$rounds"); do
  # New content each round (Pan would otherwise deduplicate the form upload's key).
  printf '%04d' "$r" | dd of="$work/big.bin" bs=1 seek=0 conv=notrunc 2>/dev/null
  row "$r" "1 GiB PUT (curl) + fsync: nginx" "$nginx_master" nginx_put "$work/big.bin" "big-$r.bin"
  at=$port; login
  row "$r" "1 GiB form upload: Pan" "$server" pan_form "$work/big.bin" "form-$r.bin"
  if [ -n "$before" ]; then
    at=$old_port; login
    row "$r" "1 GiB form upload: Pan (older binary)" "$old_server" pan_form "$work/big.bin" "form-$r.bin"
  fi
  printf '%04dd' "$r" | dd of="$work/big.bin" bs=1 seek=0 conv=notrunc 2>/dev/null
  row "$r" "1 GiB PUT (curl): Pan /dav/" "$server" pan_put "$work/big.bin" "big-$r.bin"
  if [ "${ROWS:-all}" = put ]; then rm -f "$work/nginx/root/big-$r.bin"; continue; fi
  printf '%04ds' "$r" | dd of="$work/big.bin" bs=1 seek=0 conv=notrunc 2>/dev/null
  at=$port; login
  row "$r" "1 GiB slice upload (4 MiB blocks): Pan" "$server" pan_slice "$work/big.bin" "slice-$r.bin"
  if [ -n "$before" ]; then
    at=$old_port; login
    row "$r" "1 GiB slice upload (4 MiB blocks): Pan (older binary)" "$old_server" pan_slice "$work/big.bin" "slice-$r.bin"
  fi
  rm -f "$work"/blk.* "$work/nginx/root/big-$r.bin"

  row "$r" "1,000 small files up (rclone): nginx" "$nginx_master" rc "$work/small" "nginx:small-$r"
  row "$r" "1,000 small files up (rclone): Pan" "$server" rc "$work/small" "pan:small-$r"
  row "$r" "1,000 small files down (rclone): nginx" "$nginx_master" rc "nginx:small-$r" "$work/down-n-$r"
  row "$r" "1,000 small files down (rclone): Pan" "$server" rc "pan:small-$r" "$work/down-p-$r"
  rm -rf "$work/down-n-$r" "$work/down-p-$r"

  printf '%04dr' "$r" | dd of="$work/big.bin" bs=1 seek=0 conv=notrunc 2>/dev/null
  row "$r" "1 GiB up (rclone) + fsync: nginx" "$nginx_master" nginx_rclone_up "$work/big.bin" "rbig-$r"
  row "$r" "1 GiB up (rclone): Pan" "$server" rc "$work/big.bin" "pan:rbig-$r"
  row "$r" "1 GiB down (rclone): nginx" "$nginx_master" rc "nginx:rbig-$r" "$work/down-n-$r"
  row "$r" "1 GiB down (rclone): Pan" "$server" rc "pan:rbig-$r" "$work/down-p-$r"
  rm -rf "$work/down-n-$r" "$work/down-p-$r" "$work/nginx/root/rbig-$r"
done

python3 - "$rows" <<'EOF'
import statistics, sys
rows, order = {}, []
for line in open(sys.argv[1]):
    _, name, wall, cpu, peak = line.rstrip("\n").split("\t")
    if name not in rows: order.append(name); rows[name] = []
    rows[name].append((float(wall), float(cpu), None if peak == "-" else float(peak)))
def kind(name):  # what a row measures, without the server and nginx's fsync
    return name.rsplit(": ", 1)[0].replace(" + fsync", "").replace(" (curl)", "")
nginx = {kind(n): statistics.median(w for w, _, _ in rows[n]) for n in order if n.endswith(": nginx")}
print("| row | wall s, median (min–max) | rate | server CPU s (1,000 files: = ms/file) | Pan peak RSS | Pan vs nginx (speed) |")
print("|---|---|---|---|---|---|")
for name in order:
    walls = [w for w, _, _ in rows[name]]; cpus = [c for _, c, _ in rows[name]]; peaks = [p for _, _, p in rows[name] if p is not None]
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    small = "small files" in name
    rate = f"{1000 / wall:.0f} files/s" if small else f"{1024 / wall:.0f} MiB/s"
    cpu_text = f"{cpu:.2f}"
    peak = f"{max(peaks):.0f} MiB" if peaks else "-"
    if name.endswith(": nginx"): ratio = "1 (anchor)"
    elif kind(name) in nginx: ratio = f"**{nginx[kind(name)] / wall:.2f}×**"
    else: ratio = f"**{nginx['1 GiB PUT'] / wall:.2f}×** of nginx's PUT + fsync"
    print(f"| {name} | {wall:.2f} ({min(walls):.2f}–{max(walls):.2f}) | {rate} | {cpu_text} | {peak} | {ratio} |")
EOF
