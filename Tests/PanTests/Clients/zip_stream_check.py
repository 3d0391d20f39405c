"""Downloads a zip over HTTP and checks it as it streams, keeping no more than
1 MiB: every local header (UTF-8 flag), every file's CRC-32 against its data
descriptor, the end record's entry count, and the length against Content-Length.
STORED entries with descriptors don't say their size up front, so every file's
size is given: zip_stream_check.py URL FILE_SIZE EXPECTED_CRC. Prints JSON."""
import http.client
import json
import struct
import sys
import urllib.parse
import zlib

url = urllib.parse.urlsplit(sys.argv[1])
file_size, expected_crc = int(sys.argv[2]), int(sys.argv[3])
connection = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
connection.request("GET", url.path + "?" + url.query)
response = connection.getresponse()
length = int(response.getheader("Content-Length"))
received = 0


def read(n):
    global received
    data = response.read(n)
    received += len(data)
    return data


def exact(n):
    data = b""
    while len(data) < n:
        part = read(n - len(data))
        if not part:
            raise SystemExit(f"the archive ended early at {received} of {length}")
        data += part
    return data


files = directories = 0
checksums_right = True
while True:
    signature = exact(4)
    if signature == b"PK\x01\x02":
        break
    assert signature == b"PK\x03\x04", f"no local header at {received - 4}"
    version, flags, _, _, _, _, _, _, name_length, extra_length = struct.unpack("<HHHHHIIIHH", exact(26))
    name = exact(name_length).decode("utf-8")
    exact(extra_length)
    assert flags & 0x0800, f"no UTF-8 flag on {name}"
    if name.endswith("/"):
        directories += 1
        continue
    files += 1
    crc, remaining = 0, file_size
    while remaining:
        chunk = read(min(remaining, 1 << 20))
        if not chunk:
            raise SystemExit(f"the archive ended early in {name}")
        crc = zlib.crc32(chunk, crc)
        remaining -= len(chunk)
    descriptor = exact(24 if version >= 45 else 16)
    assert descriptor[:4] == b"PK\x07\x08", f"no descriptor after {name}"
    written = struct.unpack("<I", descriptor[4:8])[0]
    checksums_right = checksums_right and written == crc == expected_crc
tail = b""
while True:
    part = read(1 << 20)
    if not part:
        break
    tail = (tail + part)[-98:]
end = tail[-22:]
assert end[:4] == b"PK\x05\x06", "no end of central directory"
print(json.dumps({
    "length": length, "received": received, "files": files, "directories": directories,
    "checksumsRight": checksums_right, "entries": struct.unpack("<H", end[10:12])[0],
}))
