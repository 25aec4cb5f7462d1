#!/usr/bin/env python3
"""A tap that behaves like a PipelineWise tap (python3 stdlib only): singer-python's argparse flags (--config, --state,
--properties, --catalog, --discover), the catalog read from --properties only, streams named '<schema>-<table>' in the
catalog and in every message, ACTIVATE_VERSION around a full-table sync, and _sdc_deleted_at for deleted rows.
"""
import argparse, json, sys

parser = argparse.ArgumentParser(prog="tap-pipelinewise-ish")
parser.add_argument("-c", "--config", required=True, help="Config file")
parser.add_argument("-s", "--state", help="State file")
parser.add_argument("-p", "--properties", help="Property selections: DEPRECATED, Please use --catalog instead")
parser.add_argument("--catalog", help="Catalog file")
parser.add_argument("-d", "--discover", action="store_true", help="Do schema discovery")
args = parser.parse_args()
config = json.load(open(args.config))
SCHEMA = {"type": "object", "properties": {"id": {"type": ["integer"]}, "title": {"type": ["null", "string"]},
          "_sdc_deleted_at": {"type": ["null", "string"], "format": "date-time"}}}
if args.discover:
    print(json.dumps({"streams": [{"tap_stream_id": "public-books", "stream": "public-books", "table_name": "books", "schema": SCHEMA,
        "metadata": [{"breadcrumb": [], "metadata": {"table-key-properties": ["id"], "schema-name": "public"}}]}]}))
    sys.exit(0)
selected = []
if args.properties:
    catalog = json.load(open(args.properties))
    selected = [s for s in catalog["streams"] for m in s["metadata"] if m["breadcrumb"] == [] and m["metadata"].get("selected")]
if not selected:
    print("INFO No streams selected", file=sys.stderr)
for s in selected:
    name = s["stream"]
    print(json.dumps({"type": "SCHEMA", "stream": name, "schema": s["schema"], "key_properties": ["id"]}))
    print(json.dumps({"type": "ACTIVATE_VERSION", "stream": name, "version": 1700000000000}))
    for i in range(1, int(config.get("rows", 4)) + 1):
        print(json.dumps({"type": "RECORD", "stream": name, "version": 1700000000000, "record": {"id": i, "title": "book %d" % i,
              "_sdc_deleted_at": "2025-01-01T00:00:00+00:00" if i == 2 else None}}))
    print(json.dumps({"type": "ACTIVATE_VERSION", "stream": name, "version": 1700000000000}))
    print(json.dumps({"type": "STATE", "value": {"bookmarks": {s["tap_stream_id"]: {"version": 1700000000000}}}}))
