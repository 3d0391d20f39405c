#!/usr/bin/env python3
"""Issue #24 §2.3: how long one `files/copy` request holds the writer, seen from another user.

    bench/copy-hold.py PAN_BINARY [REPEATS=1000] [ROUNDS=2]

Starts PAN_BINARY on a fresh data directory (SQLite), makes two users, and for
each round sends user A's `POST /v1/files/copy` of one source repeated REPEATS
times with `conflict:"rename"` into one directory (round 2 goes on numbering
where round 1 stopped), while user B calls `createDirectory` in a loop.
Prints the copy's duration and B's createDirectory latencies (p50, p99, max)
during it. Standard library only.
"""
import hashlib, json, os, shutil, socket, statistics, subprocess, sys, tempfile, threading, time, urllib.request

binary = sys.argv[1]
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 2

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

data = tempfile.mkdtemp(prefix="pan-copy-hold-")
port = free_port()
env = dict(os.environ, PAN_DATA_DIR=data, PAN_PORT=str(port), PAN_LOG_LEVEL="error")
for name in ("alice", "bob"):
    subprocess.run([binary, "user", "add", name, "--password", "secret"], env=env, check=True, capture_output=True)
server = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
base = f"http://127.0.0.1:{port}"

def post(path, body, token=None, timeout=600):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, json.loads(reply.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")

try:
    for _ in range(200):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    md5 = hashlib.md5(b"secret").hexdigest()
    alice = post("/v1/user/login", {"value": "alice", "password": md5})[1]["token"]
    bob = post("/v1/user/login", {"value": "bob", "password": md5})[1]["token"]
    post("/v1/files/createDirectory", {"path": "/s"}, alice)
    post("/v1/files/createDirectory", {"path": "/dest"}, alice)
    post("/v1/files/createDirectory", {"path": "/dest2"}, alice)
    post("/v1/files/createDirectory", {"path": "/warm"}, bob)

    def measure(label, body):
        latencies, stop = [], threading.Event()
        def other_user():
            i = 0
            while not stop.is_set():
                sent = time.perf_counter()
                post("/v1/files/createDirectory", {"path": f"/{label}/d{i}"}, bob)
                latencies.append((sent, time.perf_counter() - sent))
                i += 1
        thread = threading.Thread(target=other_user)
        thread.start()
        time.sleep(0.3)
        started = time.perf_counter()
        status, reply = post("/v1/files/copy", body, alice)
        took = time.perf_counter() - started
        time.sleep(0.3)
        stop.set()
        thread.join()
        # The other user's calls sent while the copy ran (and the 0.3 s either side, for the p50).
        during = sorted(d for sent, d in latencies if started <= sent <= started + took)
        every = sorted(d for _, d in latencies)
        p = lambda xs, q: xs[min(len(xs) - 1, int(q * len(xs)))] * 1000
        print(f"{label}: {status} {reply.get('code', '')} in {took:.2f} s; other user's createDirectory: "
              f"all n={len(every)} p50 {p(every, 0.5):.1f} ms p99 {p(every, 0.99):.1f} ms max {every[-1] * 1000:.1f} ms; "
              f"sent during the copy n={len(during)} max {(during[-1] * 1000 if during else 0):.1f} ms")

    for round in range(1, rounds + 1):
        measure(f"round{round}-copy-x{repeats}", {"path": ["/s"] * repeats, "destPath": "/dest", "conflict": "rename"})
    # The biggest copy the caps allow: 99 sources of a 101-node directory, 9,999 nodes.
    for i in range(100):
        post("/v1/files/createDirectory", {"path": f"/big/d{i}"}, alice)
    measure("copy-9999-nodes", {"path": ["/big"] * 99, "destPath": "/dest2", "conflict": "rename"})
    # What a 1 MiB body allows: ~170,000 sources (a server without a cap runs it for hours).
    try:
        over = post("/v1/files/copy", {"path": ["/s"] * 170_000, "destPath": "/dest", "conflict": "rename"}, alice, timeout=30)
        print(f"copy x170000 -> {over[0]} {over[1].get('code', '')} {over[1].get('message', '')}")
    except OSError as error:
        print(f"copy x170000 -> no answer in 30 s ({error})")
finally:
    server.terminate()
    try:
        server.wait(timeout=5)
    except subprocess.TimeoutExpired:  # shutdown waits for the request in flight
        server.kill()
        server.wait()
    shutil.rmtree(data, ignore_errors=True)
