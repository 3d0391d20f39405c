#!/usr/bin/env bash
# The reliability suite of issue #8 in one command:
#   bench/reliability.sh [short|long|asan]
#   short  the CI form (also part of plain `swift test`): crash (4 kill -9 rounds),
#          concurrency (24 clients, 4 s), fuzzing (1,600 requests)
#   long   PAN_RELIABILITY=long: 25 kill -9 rounds, 32 clients for 60 s, 20,000 fuzz requests
#   asan   builds `pan` with AddressSanitizer (.build-asan) and runs the fuzz and
#          concurrency suites against it as a subprocess (PAN_BINARY)
# Env passed through: PAN_FUZZ_SEED (replay), PAN_FUZZ_COUNT, PAN_CONCURRENCY_SECONDS,
# PAN_CRASH_ROUNDS. The memory soak is separate: bench/soak.sh [SECONDS].
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-short}
suites='PanTests\.(ReliabilityTests|ConcurrencyTests|FuzzTests)'
case "$mode" in
  short) ;;
  long) export PAN_RELIABILITY=long ;;
  asan)
    nice swift build --sanitize=address --scratch-path .build-asan --product pan
    export PAN_BINARY="$PWD/.build-asan/debug/pan"
    # ASan makes the server ~10x slower: fewer fuzz cases, a longer hang deadline.
    export PAN_FUZZ_COUNT=${PAN_FUZZ_COUNT:-800} PAN_REQUEST_TIMEOUT=${PAN_REQUEST_TIMEOUT:-120}
    suites='PanTests\.(ConcurrencyTests|FuzzTests)'
    ;;
  *) echo "usage: $0 [short|long|asan]" >&2; exit 2 ;;
esac
# The crash suite runs .build/debug/pan: build everything first.
swift build --build-tests
exec swift test --skip-build --filter "$suites"
