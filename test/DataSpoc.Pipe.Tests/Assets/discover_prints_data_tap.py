#!/usr/bin/env python3
"""A tap that answers --help like a Singer tap but, asked --discover, prints its catalog and then its data (as a tap
that takes every argument for a run does). config keys: streams (catalog size, default 1), records (printed after the
catalog, default 0), done_file (written once everything was printed: a reader that stopped the tap never sees it)."""
import json, sys

args = sys.argv[1:]
if "--help" in args:
    print("usage: tap-discover-prints-data --config CONFIG [--discover] [--catalog CATALOG] [--state STATE]")
    sys.exit(0)
config = json.load(open(args[args.index("--config") + 1]))
streams = [{"tap_stream_id": "s%05d" % i, "stream": "s%05d" % i,
            "schema": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": ["null", "string"]}}},
            "metadata": [{"breadcrumb": [], "metadata": {"selected": True, "table-key-properties": ["id"]}}]}
           for i in range(config.get("streams", 1))]
out = sys.stdout
out.write(json.dumps({"streams": streams}, indent=2) + "\n")
line = '{"type": "RECORD", "stream": "s00000", "record": {"id": 1, "name": "%s"}}\n' % ("x" * 40)
for _ in range(config.get("records", 0)):
    out.write(line)
out.flush()
if config.get("done_file"):
    open(config["done_file"], "w").write("printed everything")
