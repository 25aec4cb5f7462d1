#!/usr/bin/env python3
"""A Singer tap whose --discover takes its time (a slow catalog query): config keys discover_seconds (sleep before
answering --discover, default 0) and max_id (records of stream "items", default 3). python3 stdlib only."""
import json, sys, time

args = sys.argv[1:]
if "--help" in args:
    print("usage: tap-slow-discover --config CONFIG [--discover] [--catalog CATALOG] [--state STATE]")
    sys.exit(0)
config = json.load(open(args[args.index("--config") + 1]))
schema = {"type": "object", "properties": {"id": {"type": "integer"}}}
if "--discover" in args:
    time.sleep(config.get("discover_seconds", 0))
    print(json.dumps({"streams": [{"tap_stream_id": "items", "stream": "items", "schema": schema,
                                   "metadata": [{"breadcrumb": [], "metadata": {"selected": True, "table-key-properties": ["id"]}}]}]}))
    sys.exit(0)
out = sys.stdout
out.write(json.dumps({"type": "SCHEMA", "stream": "items", "schema": schema, "key_properties": ["id"]}) + "\n")
for i in range(1, config.get("max_id", 3) + 1):
    out.write(json.dumps({"type": "RECORD", "stream": "items", "record": {"id": i}}) + "\n")
out.write(json.dumps({"type": "STATE", "value": {"bookmark": config.get("max_id", 3)}}) + "\n")
