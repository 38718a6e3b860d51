#!/usr/bin/env python3
"""Reads a readthru log written with log.format: json and checks that every line is one
JSON object with exactly ts, level, thread and msg (ts ISO 8601 UTC with milliseconds),
read as strict UTF-8. With a second argument (a file holding a JSON string literal,
quotes included), also checks that some line's msg contains that text. Exit 0 when all holds; otherwise
prints what did not and exits 1."""
import json
import re
import sys

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LEVELS = {"trace", "debug", "info", "warn", "error", "critical"}


def main():
    raw = open(sys.argv[1], "rb").read()
    wanted = json.load(open(sys.argv[2])) if len(sys.argv) > 2 else None
    found = wanted is None
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line.decode("utf-8", errors="strict"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            print(f"line {number}: not JSON ({e}): {line!r}")
            return 1
        if not isinstance(record, dict) or list(record) != ["ts", "level", "thread", "msg"]:
            print(f"line {number}: fields {list(record)}")
            return 1
        if not TS.match(record["ts"]) or record["level"] not in LEVELS:
            print(f"line {number}: ts or level: {record}")
            return 1
        if not isinstance(record["thread"], int) or not isinstance(record["msg"], str):
            print(f"line {number}: thread or msg: {record}")
            return 1
        if wanted is not None and wanted in record["msg"]:
            found = True
    if not found:
        print(f"no msg contains {wanted!r} in {len(lines)} line(s)")
        return 1
    print(f"{len(lines)} valid line(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
