#!/usr/bin/env python3
"""A Singer tap that never ends (python3 stdlib only): writes its pid to config "pid_file", then one record every
config "interval" seconds, flushed, until it is stopped. For the signal tests. Config "records": ends after that many.
Config "outlive_run": true clears the signal the kernel would send it when its run dies (setpriv --pdeathsig), as a
system without setpriv would start it: killed with its run, it goes on running."""
import ctypes, json, os, sys, time

config = json.load(open(sys.argv[sys.argv.index("--config") + 1]))
if config.get("outlive_run"):
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0)
with open(config["pid_file"], "w") as f:
    f.write(str(os.getpid()))
out = sys.stdout
out.write(json.dumps({"type": "SCHEMA", "stream": "ticks", "key_properties": ["id"],
                      "schema": {"type": "object", "properties": {"id": {"type": "integer"}}}}) + "\n")
i = 0
while config.get("records") is None or i < config["records"]:
    i += 1
    out.write(json.dumps({"type": "RECORD", "stream": "ticks", "record": {"id": i}}) + "\n")
    out.write(json.dumps({"type": "STATE", "value": {"bookmark": i}}) + "\n")
    out.flush()
    time.sleep(float(config.get("interval", 0.05)))
