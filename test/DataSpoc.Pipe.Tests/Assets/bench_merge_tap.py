#!/usr/bin/env python3
"""A Singer tap for the merge cost figure (python3 stdlib only): a table of `rows` orders, or `changes` changed rows of it.

config: {"rows": N, "changes": 0, "keys": "random" | "recent", "seed": 1}
  changes = 0: every order 1..rows; else `changes` orders with new values, their ids spread over the whole table
  (random) or the most recent ones (recent: rows-changes+1 .. rows, as updates of recent orders arrive in practice).
"""
import json, random, sys

if "--config" not in sys.argv:
    print("usage: bench_merge_tap.py --config CONFIG")
    sys.exit(0)
config = json.load(open(sys.argv[sys.argv.index("--config") + 1]))
rows, changes = config["rows"], config.get("changes", 0)
rng = random.Random(config.get("seed", 1))
out = sys.stdout
out.write(json.dumps({"type": "SCHEMA", "stream": "orders", "key_properties": ["id"], "schema": {"type": "object", "properties": {
    "id": {"type": "integer"}, "customer": {"type": "string"}, "amount": {"type": "number"},
    "status": {"type": "string"}, "updated_at": {"type": "string", "format": "date-time"}}}}) + "\n")
if changes == 0:
    ids = range(1, rows + 1)
elif config.get("keys") == "recent":
    ids = range(rows - changes + 1, rows + 1)
else:
    ids = sorted(rng.sample(range(1, rows + 1), changes))
status = "changed" if changes else "new"
write = out.write
for i in ids:
    write('{"type":"RECORD","stream":"orders","record":{"id":%d,"customer":"customer %d","amount":%d.%02d,"status":"%s","updated_at":"2026-01-%02dT10:00:00Z"}}\n'
          % (i, i % 50000, i % 1000, i % 100, status, 1 + i % 28))
write('{"type":"STATE","value":{"rows":%d}}\n' % rows)
