#!/usr/bin/env python3
"""A Singer tap for tests: replays a .singer file named in its config.

config: {"file": "<path>", "exit_code": 0, "stderr": "text", "incremental": false, "hold": "<path>"}
With "incremental": true it honours --state: records whose "id" is <= the saved bookmark are skipped,
and it emits STATE {"bookmark": <last id>} after the records.
With "hold", the first run to find the file <hold> (renamed to <hold>.held) waits after its records, its snapshot of the
file read, until <hold>.release exists: another run can commit meanwhile. Runs that do not find it do not wait.
"""
import json, os, sys, time

def arg(name):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else None

config = json.load(open(arg("--config")))
state = json.load(open(arg("--state"))) if arg("--state") else {}
bookmark = state.get("bookmark")
if config.get("stderr"):
    sys.stderr.write(config["stderr"] + "\n")
last = bookmark
with open(config["file"], "rb") as f:
    for raw in f:
        if config.get("incremental"):
            msg = json.loads(raw)
            if msg.get("type") == "RECORD":
                rid = msg["record"]["id"]
                if bookmark is not None and rid <= bookmark:
                    continue
                last = rid if last is None else max(last, rid)
            if msg.get("type") == "STATE":
                continue
        sys.stdout.buffer.write(raw)
if config.get("hold"):
    try:
        os.rename(config["hold"], config["hold"] + ".held")
        sys.stdout.flush()
        deadline = time.time() + 120
        while not os.path.exists(config["hold"] + ".release") and time.time() < deadline:
            time.sleep(0.05)
    except FileNotFoundError:
        pass
if config.get("incremental"):
    sys.stdout.write(json.dumps({"type": "STATE", "value": {"bookmark": last}}) + "\n")
sys.stdout.flush()
sys.exit(int(config.get("exit_code", 0)))
