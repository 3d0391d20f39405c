#!/usr/bin/env bash
# Issue #18's benchmark: per-request cost against the framework's own
# hello-world, for this build and (optionally) an older `pan` binary, in
# interleaved runs in the same sitting, with medians over the runs.
#
#   bench/cost.sh [ROUNDS] [SECONDS] [BEFORE_PAN]     (default 3 rounds of 5 s rows)
#
# Each round runs `pan-bench http` (wrk -t2 -c32, a Hummingbird hello-world in
# its own process, the rows token, instant, callback, page by name and by
# time) once per binary, alternating; then the deep-chain row once per binary.
# Needs a release build (`swift build -c release`) and wrk (apt-get install wrk).
# The raw tables stay in /tmp/pan-cost-*.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}; seconds=${2:-5}; before=${3:-}
bin=.build/release
[ -x "$bin/pan-bench" ] && [ -x "$bin/pan" ] || { echo "build first: swift build -c release" >&2; exit 1; }
command -v wrk >/dev/null || { echo "no wrk (apt-get install wrk)" >&2; exit 1; }
rows=hello,trivial,info,token,instant,callback,page,pagetime
binaries=("$bin/pan"); labels=(after)
[ -n "$before" ] && { binaries=("$before" "$bin/pan"); labels=(before after); }
rm -f /tmp/pan-cost-*.txt
for round in $(seq "$rounds"); do
    for i in "${!binaries[@]}"; do
        echo "=== round $round: ${labels[$i]} (${binaries[$i]})" >&2
        "$bin/pan-bench" http --pan "${binaries[$i]}" --seconds "$seconds" --only "$rows" --hash-size 0 \
            >"/tmp/pan-cost-${labels[$i]}-$round.txt" 2>/dev/null
    done
done
for i in "${!binaries[@]}"; do
    "$bin/pan-bench" http --pan "${binaries[$i]}" --only chain --hash-size 0 >"/tmp/pan-cost-${labels[$i]}-chain.txt" 2>/dev/null || true
done
python3 - "$rounds" "${labels[@]}" <<'PY'
import re, statistics, sys
rounds = int(sys.argv[1]); labels = sys.argv[2:]
def rows(path):
    out = {}
    for line in open(path):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 9 and cells[1].replace(".", "").isdigit():
            out[cells[0]] = cells
    return out
tables = {l: [rows(f"/tmp/pan-cost-{l}-{r}.txt") for r in range(1, rounds + 1)] for l in labels}
order = [k for k in tables[labels[-1]][0]]
def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None
def num(cell):
    try: return float(cell.rstrip("×%").split()[0])
    except ValueError: return None
print(f"| row | build | req/s | p50 ms | p99 ms | errors | server CPU µs/req | CPU ÷ hello | req/s ÷ hello |")
print("|---|---|---|---|---|---|---|---|---|")
for name in order:
    for l in labels:
        runs = [t.get(name) for t in tables[l] if t.get(name)]
        if not runs: continue
        m = lambda i: median([num(r[i]) for r in runs])
        errors = sum(int(num(r[4]) or 0) for r in runs)
        fmt = lambda v, d=0, s="": "-" if v is None else f"{v:.{d}f}{s}"
        print(f"| {name} | {l} | {fmt(m(1))} | {fmt(m(2),2)} | {fmt(m(3),2)} | {errors} | {fmt(m(5))} | {fmt(m(7),2,'×')} | {fmt(m(8),0,'%')} |")
for l in labels:
    print(f"\n{l}, deep chain:")
    for line in open(f"/tmp/pan-cost-{l}-chain.txt"):
        if line.startswith("|"): print(line.rstrip())
PY
