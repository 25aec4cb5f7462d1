#!/usr/bin/env python3
"""A Singer tap that never ends (python3 stdlib only): writes its pid to config "pid_file", then one record every
config "interval" seconds, flushed, until it is stopped. For the signal tests."""
import json, os, sys, time

config = json.load(open(sys.argv[sys.argv.index("--config") + 1]))
with open(config["pid_file"], "w") as f:
    f.write(str(os.getpid()))
out = sys.stdout
out.write(json.dumps({"type": "SCHEMA", "stream": "ticks", "key_properties": ["id"],
                      "schema": {"type": "object", "properties": {"id": {"type": "integer"}}}}) + "\n")
i = 0
while True:
    i += 1
    out.write(json.dumps({"type": "RECORD", "stream": "ticks", "record": {"id": i}}) + "\n")
    out.write(json.dumps({"type": "STATE", "value": {"bookmark": i}}) + "\n")
    out.flush()
    time.sleep(float(config.get("interval", 0.05)))
