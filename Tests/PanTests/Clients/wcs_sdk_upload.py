#!/usr/bin/env python3
"""Uploads through Wangsu's own Python SDK (PyPI wcs-python3-sdk) to Pan.

Usage: wcs_sdk_upload.py API_BASE USER PASSWORD ROUNDS
API_BASE is where the v1 API is reached (Pan itself, or the nginx site); the
upload host is whatever `uploadUrl` the token reply names, as for any client.
Each round uploads 1 B, 4 MiB exactly, 5 MiB + 7 and 9 MiB + 3 by form upload
and by slice upload (512 KiB chunks) with 1 and 4 threads, each with a fresh
token, then checks the file Pan recorded (size and content hash). The SDK
runs with its defaults otherwise: `keepalive = False`, one pooled session.
Prints one JSON line; exits 1 on the first failure.
"""
import hashlib, json, os, sys, tempfile, base64, urllib.error, urllib.request

from wcs.commons.config import Config
from wcs.services.simpleupload import SimpleUpload
from wcs.services.multipartupload import MultipartUpload

api, user, password, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
Config.bput_size = 512 * 1024
Config.tmp_record_folder = tempfile.mkdtemp(prefix="wcs-records-") + "/"
SIZES = [1, 4 << 20, (5 << 20) + 7, (9 << 20) + 3]


def call(path, payload, token=None):
    request = urllib.request.Request(api + path, data=json.dumps(payload).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return json.load(reply)
    except urllib.error.HTTPError as error:
        fail(path, "%s %s" % (error.code, error.read()[:500]))


def wcs_hash(data):
    """The WCS content hash (docs/clients.md), computed here independently of Pan."""
    blocks = [data[i:i + (4 << 20)] for i in range(0, max(len(data), 1), 4 << 20)] or [b""]
    if len(blocks) == 1:
        raw = b"\x16" + hashlib.sha1(blocks[0]).digest()
    else:
        raw = b"\x96" + hashlib.sha1(b"".join(hashlib.sha1(b).digest() for b in blocks)).digest()
    return base64.urlsafe_b64encode(raw).decode()


def fail(what, detail):
    print(json.dumps({"ok": False, "failed": what, "detail": str(detail)[:2000]}))
    sys.exit(1)


session = call("/v1/user/login", {"value": user, "password": password})["token"]
work = tempfile.mkdtemp(prefix="wcs-sdk-")
files = {}
for size in SIZES:
    data = os.urandom(size)
    path = os.path.join(work, "f%d.bin" % size)
    with open(path, "wb") as f:
        f.write(data)
    files[size] = (path, wcs_hash(data))

done = 0
for round_ in range(rounds):
    for size, (path, expected) in files.items():
        for mode in ("form", "slice1", "slice4"):
            name = "r%d-%s-%d.bin" % (round_, mode, size)
            grant = call("/v1/store/token", {"name": name, "path": "/sdk", "size": size}, session)
            result = grant.get("result") or {}
            if "token" not in result:
                fail(name, grant)
            token, upload_url = result["token"], result["uploadUrl"]
            if mode == "form":
                code, text = SimpleUpload(upload_url).upload(path, token, name)
            else:
                Config.concurrency = 1 if mode == "slice1" else 4
                reply = MultipartUpload(upload_url).upload(path, token)
                if not isinstance(reply, tuple):
                    fail(name, reply)
                code, text = reply[0], reply[1]
            if code != 200:
                fail(name, "%s %s" % (code, text))
            stored = call("/v1/files/get", {"path": "/sdk/" + name}, session).get("result") or {}
            if stored.get("size") != size or stored.get("storeId") != expected:
                fail(name, "recorded %s" % stored)
            done += 1
print(json.dumps({"ok": True, "uploads": done}))
