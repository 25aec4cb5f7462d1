#!/usr/bin/env python3
"""A tap that behaves like a Meltano Singer SDK tap (python3 stdlib only): click-style --help, --about --format=json
with capabilities, --catalog only (an unknown flag such as --properties is refused with exit 2, as click does), stream
ids equal to stream names (unless the config's stream_id_prefix puts something before them), _sdc_* columns, and
BATCH messages when the config has batch_config.

config keys: rows (per stream, default 5); batch_config {"encoding": {"format": "jsonl", "compression": "gzip"|"none"},
"storage": {"root": "file:///dir"}} makes 'users' go out as BATCH files of batch_size (default 3) records;
batch_manifest: a list of file URLs to send as one BATCH of 'users' as they are (for Parquet files made elsewhere).
"""
import gzip, json, os, sys

args = sys.argv[1:]
KNOWN = {"--config", "--state", "--catalog", "--discover", "--about", "--format", "--help"}
for a in args:
    if a.startswith("--") and a.split("=")[0] not in KNOWN:
        print("Usage: tap-sdkish [OPTIONS]\nTry 'tap-sdkish --help' for help.\n\nError: No such option: %s" % a, file=sys.stderr)
        sys.exit(2)

def arg(name):
    return args[args.index(name) + 1] if name in args else None

if "--help" in args:
    print("""Usage: tap-sdkish [OPTIONS]

  Execute the Singer tap.

Options:
  --version                 Display the package version.
  --about                   Display package metadata and settings.
  --format [json|markdown]  Specify output style for --about
  --discover                Run the tap in discovery mode.
  --config TEXT             Configuration file location or 'ENV' to use environment variables.
  --catalog PATH            Use a Singer catalog file with the tap.
  --state PATH              Use a bookmarks file for incremental replication.
  --help                    Show this message and exit.""")
    sys.exit(0)
if "--about" in args:
    print(json.dumps({"name": "tap-sdkish", "capabilities": ["catalog", "state", "discover", "about", "stream-maps", "batch"],
                      "settings": {"type": "object", "properties": {"rows": {"type": "integer"}}}}))
    sys.exit(0)

SCHEMAS = {
    "users": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": ["string", "null"]},
              "_sdc_extracted_at": {"type": ["string", "null"], "format": "date-time"}}},
    "events": {"type": "object", "properties": {"id": {"type": "integer"}, "kind": {"type": ["string", "null"]},
               "_sdc_extracted_at": {"type": ["string", "null"], "format": "date-time"}}},
}
config = json.load(open(arg("--config"))) if arg("--config") else {}
rows = int(config.get("rows", 5))
prefix = config.get("stream_id_prefix", "")
if "--discover" in args:
    print(json.dumps({"streams": [{"tap_stream_id": prefix + n, "stream": n, "schema": s, "key_properties": ["id"],
        "metadata": [{"breadcrumb": [], "metadata": {"inclusion": "available", "table-key-properties": ["id"],
                                                     "forced-replication-method": "FULL_TABLE"}}]
        + [{"breadcrumb": ["properties", p], "metadata": {"inclusion": "automatic" if p == "id" else "available"}} for p in s["properties"]]}
        for n, s in SCHEMAS.items()]}))
    sys.exit(0)

selected = set()
if arg("--catalog"):
    catalog = json.load(open(arg("--catalog")))
    selected = {s["tap_stream_id"][len(prefix):] for s in catalog["streams"]
                for m in s.get("metadata", []) if m["breadcrumb"] == [] and m["metadata"].get("selected")}

def emit(msg):
    sys.stdout.write(json.dumps(msg) + "\n")

def record(name, i):
    value = "user %d" % i if name == "users" else "kind %d" % (i % 3)
    return {"id": i, "name" if name == "users" else "kind": value, "_sdc_extracted_at": "2025-03-01T12:00:%02d+00:00" % (i % 60)}

batch = config.get("batch_config")
for name in sorted(selected):
    emit({"type": "SCHEMA", "stream": name, "schema": SCHEMAS[name], "key_properties": ["id"]})
    if name == "users" and config.get("batch_manifest"):
        emit({"type": "BATCH", "stream": name, "encoding": {"format": "parquet", "compression": "none"}, "manifest": config["batch_manifest"]})
    elif name == "users" and batch:
        root = batch["storage"]["root"][len("file://"):]
        gz = batch["encoding"].get("compression") == "gzip"
        size = int(config.get("batch_size", 3))
        for start in range(1, rows + 1, size):
            path = os.path.join(root, "users-%04d.json%s" % (start, ".gz" if gz else ""))
            lines = "".join(json.dumps(record(name, i)) + "\n" for i in range(start, min(start + size, rows + 1)))
            with (gzip.open(path, "wt") if gz else open(path, "w")) as f:
                f.write(lines)
            emit({"type": "BATCH", "stream": name, "encoding": batch["encoding"], "manifest": ["file://" + path]})
    else:
        for i in range(1, rows + 1):
            emit({"type": "RECORD", "stream": name, "record": record(name, i), "time_extracted": "2025-03-01T12:00:00+00:00"})
    emit({"type": "STATE", "value": {"bookmarks": {name: {"done": True}}}})
sys.stdout.flush()
