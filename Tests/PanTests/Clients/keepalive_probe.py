#!/usr/bin/env python3
"""Connection reuse and `Connection: close`, checked from the client's side.

Usage: keepalive_probe.py HOST PORT COUNT
RFC 9112 §9.6: a server that closes a connection after a response says
`close` in that response; a pooling client (urllib3) otherwise reuses the
socket and its next request dies unanswered. Checks, over real sockets:
  1. `requests`, one pooled Session, `Connection: close` on every request
     (what Wangsu's SDK does): every request answered, every reply says close.
  2. HTTP/1.1 keep-alive: COUNT requests on one socket, none says close.
  3. HTTP/1.0 without keep-alive: reply says close, HTTP/1.0, then EOF.
  4. HTTP/1.0 with `Connection: keep-alive`: reply says keep-alive, socket reused.
  5. `Close` and `close, TE` spellings: reply says close, then EOF.
  6. Pipelined requests, the last with close: all answered in order, then EOF.
Prints one JSON line; exit 1 on the first failure.
"""
import json, socket, sys
import requests

host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
checked = 0


def fail(what, detail=""):
    print(json.dumps({"ok": False, "failed": what, "detail": str(detail)[:1000]}))
    sys.exit(1)


def read_response(sock, buffer):
    """One response off the socket: (status line, headers dict, rest of buffer)."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            fail("connection closed without a response", buffer)
        buffer += chunk
    head, buffer = buffer.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    if headers.get("transfer-encoding", "").lower() == "chunked":
        fail("chunked reply where a length was expected", lines[0])
    while len(buffer) < length:
        chunk = sock.recv(65536)
        if not chunk:
            fail("body cut short", lines[0])
        buffer += chunk
    return lines[0], headers, buffer[length:]


def expect_eof(sock, what):
    sock.settimeout(5)
    try:
        if sock.recv(1) != b"":
            fail(what + ": server kept the connection open after saying close")
    except socket.timeout:
        fail(what + ": server did not close after saying close")
    except ConnectionResetError:
        pass


def connect():
    return socket.create_connection((host, port), timeout=30)


def get(path, version="HTTP/1.1", connection=None):
    extra = "Connection: %s\r\n" % connection if connection else ""
    return ("GET %s %s\r\nHost: %s:%d\r\n%s\r\n" % (path, version, host, port, extra)).encode()


# 1. The SDK's pattern.
session = requests.Session()
for i in range(count):
    try:
        if i % 2:
            reply = session.get("http://%s:%d/healthz" % (host, port), headers={"Connection": "close"}, timeout=30)
        else:
            reply = session.post("http://%s:%d/v1/user/login" % (host, port), json={"value": "nobody", "password": "x"},
                                 headers={"Connection": "close"}, timeout=30)
    except requests.RequestException as error:
        fail("pooled request %d with Connection: close went unanswered" % i, error)
    if reply.headers.get("Connection", "").lower() != "close":
        fail("reply %d to a Connection: close request lacks Connection: close" % i, dict(reply.headers))
    checked += 1

# 2. Keep-alive stays alive and says nothing about closing.
sock = connect()
rest = b""
for i in range(count):
    sock.sendall(get("/healthz"))
    status, headers, rest = read_response(sock, rest)
    if not status.startswith("HTTP/1.1 200") or headers.get("connection", "").lower() == "close":
        fail("keep-alive reply %d" % i, (status, headers))
    checked += 1
sock.close()

# 3. HTTP/1.0 without keep-alive.
for i in range(max(1, count // 10)):
    sock = connect()
    sock.sendall(get("/healthz", "HTTP/1.0"))
    status, headers, rest = read_response(sock, b"")
    if not status.startswith("HTTP/1.0 200") or headers.get("connection", "").lower() != "close":
        fail("HTTP/1.0 reply", (status, headers))
    expect_eof(sock, "HTTP/1.0")
    sock.close()
    checked += 1

# 4. HTTP/1.0 keep-alive.
sock = connect()
rest = b""
for i in range(3):
    sock.sendall(get("/healthz", "HTTP/1.0", "keep-alive"))
    status, headers, rest = read_response(sock, rest)
    if headers.get("connection", "").lower() != "keep-alive":
        fail("HTTP/1.0 keep-alive reply %d" % i, (status, headers))
    checked += 1
sock.close()

# 5. Other spellings of close.
for spelling in ("Close", "close, TE", "keep-alive, close"):
    sock = connect()
    sock.sendall(get("/healthz", connection=spelling))
    status, headers, rest = read_response(sock, b"")
    if headers.get("connection", "").lower() != "close":
        fail("reply to Connection: %s" % spelling, (status, headers))
    expect_eof(sock, "Connection: " + spelling)
    sock.close()
    checked += 1

# 6. Pipelined, the last asks to close.
sock = connect()
sock.sendall(get("/healthz") + get("/readyz") + get("/healthz", connection="close"))
rest = b""
for i in range(3):
    status, headers, rest = read_response(sock, rest)
    closing = headers.get("connection", "").lower() == "close"
    if closing != (i == 2):
        fail("pipelined reply %d" % i, (status, headers))
    checked += 1
expect_eof(sock, "pipelined")
sock.close()

print(json.dumps({"ok": True, "checked": checked}))
