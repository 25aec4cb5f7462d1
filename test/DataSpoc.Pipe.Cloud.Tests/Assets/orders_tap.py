#!/usr/bin/env python3
"""A Singer tap for the cloud end-to-end tests (stdlib only).

config: {"count": N, "sleep": seconds, "pad": chars, "base": B}
Emits stream "orders" with ids B + i for i after the saved bookmark (--state {"bookmark": n}) up to N, then
STATE {"bookmark": N}. Each row's values derive from its id.
"""
import json, sys, time

def arg(name):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else None

config = json.load(open(arg("--config")))
state = json.load(open(arg("--state"))) if arg("--state") else {}
if config.get("sleep"):
    time.sleep(config["sleep"])
out = sys.stdout
out.write(json.dumps({"type": "SCHEMA", "stream": "orders", "key_properties": ["id"], "schema": {"type": "object", "properties": {
    "id": {"type": "integer"}, "customer": {"type": ["null", "string"]}, "amount": {"type": "number"},
    "created_at": {"type": "string", "format": "date-time"}}}}) + "\n")
pad = config.get("pad", 0)
base = config.get("base", 0)
for i in (base + n for n in range(state.get("bookmark", 0) + 1, config["count"] + 1)):
    # Padding of pseudo-random digits, so the Parquet file stays large after compression.
    customer = None if i % 4 == 0 else "c%d" % i + "".join("-%09d" % (i * 7919 * (k + 3) ** 5 % 1000000007) for k in range(pad // 10))
    out.write(json.dumps({"type": "RECORD", "stream": "orders", "record": {
        "id": i, "customer": customer, "amount": i * 1.25, "created_at": "2025-01-20T10:%02d:00Z" % (i % 60)}}) + "\n")
out.write(json.dumps({"type": "STATE", "value": {"bookmark": config["count"]}}) + "\n")
