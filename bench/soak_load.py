#!/usr/bin/env python3
"""Mixed load for bench/soak.sh: drives a running Pan for DURATION seconds with
THREADS clients (directories, form uploads through the local WCS endpoint,
slice uploads, instant uploads, listing, get + download, rename, move, copy,
recycle, restore, permanent removal) while sampling the server's RSS from
/proc/PID/status. Each client keeps a bounded working set (old files are
removed for good), so the database stays small and memory should plateau.

Prints the RSS series and the mean of the last third over the mean of the
first third; exits 1 when that ratio exceeds MAX_GROWTH or any reply was a 5xx.

usage: soak_load.py BASE_URL PID USER PASSWORD DURATION [THREADS] [MAX_GROWTH] [SAMPLE_SECONDS]
"""
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse

base, pid, user, password, duration = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5])
threads = int(sys.argv[6]) if len(sys.argv) > 6 else 8
max_growth = float(sys.argv[7]) if len(sys.argv) > 7 else 1.5
sample_every = float(sys.argv[8]) if len(sys.argv) > 8 else 3.0
host = urllib.parse.urlparse(base)

lock = threading.Lock()
counts = {}
errors = []
stop = time.monotonic() + duration


def count(kind, status):
    with lock:
        counts[(kind, status)] = counts.get((kind, status), 0) + 1
        if status >= 500:
            errors.append(f"{kind} -> {status}")


class Client:
    def __init__(self):
        self.conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
        self.token = None

    def call(self, kind, method, path, body=None, headers=None):
        headers = dict(headers or {})
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                count(kind, response.status)
                return response.status, data
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
                if attempt == 1:
                    count(kind, 599)
                    return 599, b""

    def api(self, kind, path, payload):
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        status, data = self.call(kind, "POST", path, json.dumps(payload).encode(), headers)
        try:
            return status, json.loads(data)
        except ValueError:
            return status, {}

    def form_upload(self, upload_token, name, data):
        boundary = "soak%016x" % random.getrandbits(64)
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n{upload_token}\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        status, reply = self.call("form-upload", "POST", "/file/upload", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        try:
            return status, json.loads(reply)
        except ValueError:
            return status, {}

    def slice_upload(self, upload_token, data):
        headers = {"Authorization": "UpToken " + upload_token, "Content-Type": "application/octet-stream"}
        status, reply = self.call("mkblk", "POST", f"/mkblk/{len(data)}/0", data, headers)
        if status != 200:
            return status
        ctx = json.loads(reply)["ctx"]
        status, _ = self.call("mkfile", "POST", f"/mkfile/{len(data)}", ctx.encode(), dict(headers, **{"Content-Type": "text/plain"}))
        return status


def worker(index):
    rng = random.Random(index)
    client = Client()
    _, login = client.api("login", "/v1/user/login", {"value": user, "password": password})
    client.token = login.get("token")
    home = f"/soak/t{index}"
    client.api("mkdir", "/v1/files/createDirectory", {"path": home + "/in"})
    files = []
    known_hash = None
    serial = 0
    while time.monotonic() < stop:
        serial += 1
        op = rng.randrange(12)
        name = f"f{serial}.bin"
        if op <= 2:
            _, grant = client.api("token", "/v1/store/token", {"path": home, "name": name})
            upload = (grant.get("result") or {}).get("token")
            if upload:
                data = os.urandom(rng.randrange(1, 64 * 1024))
                if op == 2:
                    client.slice_upload(upload, data)
                else:
                    _, reply = client.form_upload(upload, name, data)
                    stored = (reply.get("result") or {}).get("storeId")
                    known_hash = known_hash or stored
                files.append(f"{home}/{name}")
        elif op == 3 and known_hash:
            _, reply = client.api("instant", "/v1/store/token", {"path": home, "name": name, "hash": known_hash, "conflict": "rename"})
            path = (reply.get("result") or {}).get("path")
            if path:
                files.append(path)
        elif op == 4:
            client.api("page", "/v1/files/page", {"path": home, "pageSize": 50, "orderBy": rng.choice([1, 2, 3, 12, 13])})
        elif op == 5 and files:
            _, reply = client.api("get", "/v1/files/get", {"path": rng.choice(files)})
            address = (reply.get("result") or {}).get("downloadAddress")
            if address:
                client.call("download", "GET", urllib.parse.urlparse(address)._replace(scheme="", netloc="").geturl())
        elif op == 6 and files:
            path = files.pop(rng.randrange(len(files)))
            _, reply = client.api("rename", "/v1/files/rename", {"path": path, "name": "r" + name, "conflict": "rename"})
            files.append((reply.get("result") or {}).get("path") or path)
        elif op == 7 and files:
            path = files.pop(rng.randrange(len(files)))
            dest = rng.choice([home, home + "/in"])
            client.api("move", "/v1/files/move", {"path": [path], "destPath": dest, "conflict": "rename"})
            files.append(dest + "/" + path.rsplit("/", 1)[1])
        elif op == 8 and files:
            client.api("copy", "/v1/files/copy", {"path": [rng.choice(files)], "destPath": home + "/in", "conflict": "rename"})
        elif op == 9 and files:
            path = files.pop(rng.randrange(len(files)))
            _, reply = client.api("recycle", "/v1/files/remove", {"path": path, "recycle": 1})
            if reply.get("success"):
                client.api("restore", "/v1/files/recycle", {"path": path, "recycle": 0, "conflict": "rename"})
                files.append(path)
        else:
            client.api("info", "/v1/user/info", {})
        # A bounded working set: the oldest files and the copies go for good.
        if len(files) > 40:
            for path in files[:20]:
                client.api("remove", "/v1/files/remove", {"path": path})
            del files[:20]
            client.api("remove", "/v1/files/remove", {"path": home + "/in"})
            client.api("mkdir", "/v1/files/createDirectory", {"path": home + "/in"})


def rss_kib():
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


started = time.monotonic()
workers = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
for thread in workers:
    thread.start()
samples = []
while time.monotonic() < stop:
    try:
        samples.append((time.monotonic() - started, rss_kib()))
    except OSError:
        print("the server process is gone", file=sys.stderr)
        sys.exit(1)
    time.sleep(min(sample_every, max(0.0, stop - time.monotonic())))
for thread in workers:
    thread.join(timeout=60)
samples.append((time.monotonic() - started, rss_kib()))

total = sum(counts.values())
print(f"requests: {total} in {time.monotonic() - started:.0f} s ({total / duration:.0f}/s) by {threads} clients")
for (kind, status), n in sorted(counts.items()):
    print(f"  {kind:12} {status}: {n}")
print("RSS series (s: MiB): " + ", ".join(f"{t:.0f}: {kib / 1024:.1f}" for t, kib in samples))
third = max(1, len(samples) // 3)
first = sum(k for _, k in samples[:third]) / third
last = sum(k for _, k in samples[-third:]) / third
ratio = last / first if first else float("inf")
print(f"RSS first third {first / 1024:.1f} MiB, last third {last / 1024:.1f} MiB, ratio {ratio:.3f} (limit {max_growth}); peak {max(k for _, k in samples) / 1024:.1f} MiB")
failed = False
if errors:
    print(f"FAIL: {len(errors)} 5xx or transport failures, first: {errors[:5]}")
    failed = True
if ratio > max_growth:
    print(f"FAIL: RSS grew by {ratio:.2f}x (more than {max_growth}x)")
    failed = True
sys.exit(1 if failed else 0)
