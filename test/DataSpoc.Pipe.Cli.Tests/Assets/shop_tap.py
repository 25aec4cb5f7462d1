#!/usr/bin/env python3
"""A small Singer tap for CLI tests (python3 stdlib only).

Streams 'orders' and 'customers' (5 records each). --discover prints a catalog; --catalog (or --properties)
selects streams by their breadcrumb-[] metadata 'selected'. --fail makes it exit 3 with a message on stderr.
--about prints Singer SDK style settings. The config may name 'rows' (records per stream).
"""
import json
import sys

args = sys.argv[1:]


def arg(name):
    return args[args.index(name) + 1] if name in args else None


SCHEMAS = {
    "orders": {"type": "object", "properties": {"id": {"type": "integer"}, "amount": {"type": ["null", "number"]},
                                                 "ordered_at": {"type": ["null", "string"], "format": "date-time"}}},
    "customers": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": ["null", "string"]}}},
}

if "--help" in args:
    print("usage: shop_tap.py --config CONFIG [--discover] [--catalog CATALOG] [--state STATE] [--about]")
    sys.exit(0)
if "--about" in args:
    print(json.dumps({"name": "tap-shop", "settings": [
        {"name": "api_url", "kind": "string", "value": "https://shop.example.com"},
        {"name": "api_token", "kind": "password", "sensitive": True},
        {"name": "rows", "kind": "integer"}]}))
    sys.exit(0)
if "--fail" in args:
    print("shop_tap: cannot reach the shop API (connection refused)", file=sys.stderr)
    sys.exit(3)

config = json.load(open(arg("--config"))) if arg("--config") else {}
rows = int(config.get("rows", 5))

if "--discover" in args:
    streams = [{"tap_stream_id": n, "stream": n, "schema": s, "key_properties": ["id"],
                "metadata": [{"breadcrumb": [], "metadata": {"inclusion": "available", "table-key-properties": ["id"],
                                                           "forced-replication-method": "FULL_TABLE"}}]}
               for n, s in SCHEMAS.items()]
    print(json.dumps({"streams": streams}))
    sys.exit(0)

selected = set(SCHEMAS)
catalog_path = arg("--catalog") or arg("--properties")
if catalog_path:
    catalog = json.load(open(catalog_path))
    selected = {s["stream"] for s in catalog["streams"]
                for m in s.get("metadata", []) if m["breadcrumb"] == [] and m["metadata"].get("selected")}
    print("selected: " + ",".join(sorted(selected)), file=sys.stderr)

for name in sorted(selected):
    print(json.dumps({"type": "SCHEMA", "stream": name, "schema": SCHEMAS[name], "key_properties": ["id"]}))
    for i in range(1, rows + 1):
        if name == "orders":
            rec = {"id": i, "amount": i * 1.5, "ordered_at": "2025-01-20T10:00:0%d+02:00" % (i % 10)}
        else:
            rec = {"id": i, "name": "c%d" % i}
        print(json.dumps({"type": "RECORD", "stream": name, "record": rec}))
print(json.dumps({"type": "STATE", "value": {"bookmarks": {"orders": {"id": rows}}}}))
