#!/usr/bin/env python3
"""A careless Singer tap for secret-masking tests (python3 stdlib only): echoes its whole config to stderr in every
way Python prints JSON (ensure_ascii and not), prints every string value raw, names one value in a message type the
tool does not know (it becomes a notice) and ends its stderr with a value, then exits with config "exit_code"."""
import json, sys

config = json.load(open(sys.argv[sys.argv.index("--config") + 1], encoding="utf-8"))
err = sys.stderr

def strings(node):
    if isinstance(node, dict):
        for v in node.values():
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)
    elif isinstance(node, str):
        yield node

values = list(strings(config))
err.write("tap config: " + json.dumps(config) + "\n")
err.write("tap config (utf-8): " + json.dumps(config, ensure_ascii=False) + "\n")
err.write("tap config (quoted): " + json.dumps(json.dumps(config)) + "\n")
for v in values:
    err.write("value: " + v + "\n")
out = sys.stdout
out.write(json.dumps({"type": "SCHEMA", "stream": "items", "key_properties": ["id"],
                      "schema": {"type": "object", "properties": {"id": {"type": "integer"}}}}) + "\n")
out.write(json.dumps({"type": "RECORD", "stream": "items", "record": {"id": 1}}) + "\n")
out.write(json.dumps({"type": "X-" + values[-1]}) + "\n")
out.flush()
err.write("login failed for " + values[0] + "\n")
err.flush()
sys.exit(int(config.get("exit_code", 0)))
