#!/usr/bin/env python3
"""A Singer tap that logs its config's secrets the ways Python code prints values outside JSON (python3 stdlib only):
repr() and ascii() of the str, the repr of its UTF-8 bytes, shlex.quote, and repr() inside a JSON log line; then it
sends a SCHEMA and exits with config "exit_code"."""
import json, shlex, sys

config = json.load(open(sys.argv[sys.argv.index("--config") + 1], encoding="utf-8"))
err = sys.stderr
for key, value in config.items():
    if not key.startswith("password"):
        continue
    err.write("repr %r\n" % value)
    err.write("ascii %s\n" % ascii(value))
    err.write("bytes %r\n" % value.encode())
    err.write("shell psql -W %s\n" % shlex.quote(value))
    err.write(json.dumps({"level": "error", "msg": "login failed for %r" % value}) + "\n")
print(json.dumps({"type": "SCHEMA", "stream": "items", "key_properties": ["id"],
                  "schema": {"type": "object", "properties": {"id": {"type": "integer"}}}}))
sys.stdout.flush()
sys.exit(int(config.get("exit_code", 0)))
