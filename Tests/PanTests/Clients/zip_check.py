"""Opens a zip with Python's zipfile and prints what it holds, as JSON:
{"bad": first entry whose CRC fails or null, "entries": [{name, dir, size, utf8, sha256?}]}."""
import hashlib
import json
import sys
import zipfile

with zipfile.ZipFile(sys.argv[1]) as archive:
    result = {"bad": archive.testzip(), "entries": []}
    for info in archive.infolist():
        entry = {"name": info.filename, "dir": info.is_dir(), "size": info.file_size, "utf8": bool(info.flag_bits & 0x800)}
        if not info.is_dir():
            entry["sha256"] = hashlib.sha256(archive.read(info)).hexdigest()
        result["entries"].append(entry)
print(json.dumps(result))
