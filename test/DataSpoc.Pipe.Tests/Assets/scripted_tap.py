#!/usr/bin/env python3
"""A Singer tap for failure tests: generates records and misbehaves on request (python3 stdlib only).

config keys (all optional):
  stream        stream name (default "items")
  max_id        emits records with ids bookmark+1 .. max_id (default 10); honours --state {"bookmark": N}
  state_every   also emits STATE {"bookmark": id} every N records (a final STATE always follows the records)
  payload       length of a filler string per record (makes files bigger)
  echo_config   writes the whole config JSON to stderr first (a careless tap leaking its secrets)
  report_config_mode  writes "config file <path> mode <octal>" to stderr (checks the private temp file)
  stderr_mb     writes this many megabytes of numbered lines to stderr while emitting, then "stderr done"
  hang_seconds  after the records (before the final STATE) prints nothing and sleeps this long
  trickle_seconds  after the records, prints one STATE per 0.2 s for this long (active, but never finishing)
  cut_last_line after the records, writes the first half of one more RECORD line (no newline), flushes it and ends
                there (killed by kill_signal, or exiting with exit_code): a tap dying mid-write
  kill_signal   after the records, the tap kills itself with this signal number
  exit_code     exits with this code at the end
  record_interval  seconds to wait after each record, flushed (a slow source: records trickle in)
  leave_background_seconds  before exiting, starts `sleep N` in a session of its own that inherits stdout and stderr
                (a tap leaving a helper process behind: the output stays open after the tap is gone)
"""
import json, os, signal, sys, time

def arg(name):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else None

config = json.load(open(arg("--config")))
state = json.load(open(arg("--state"))) if arg("--state") else {}
bookmark = state.get("bookmark") or 0
stream = config.get("stream", "items")
out = sys.stdout

def emit(msg):
    out.write(json.dumps(msg, separators=(",", ":")) + "\n")

if config.get("echo_config"):
    sys.stderr.write("tap config: " + json.dumps(config) + "\n")
    sys.stderr.flush()

if config.get("report_config_mode"):
    path = arg("--config")
    sys.stderr.write("config file %s mode %o dir mode %o\n" % (path, os.stat(path).st_mode & 0o777, os.stat(os.path.dirname(path)).st_mode & 0o777))
    sys.stderr.flush()

stderr_left = int(config.get("stderr_mb", 0) * 1024 * 1024)
line_no = 0
def chatter():
    global stderr_left, line_no
    while stderr_left > 0:
        line = "stderr line %08d %s\n" % (line_no, "x" * 100)
        sys.stderr.write(line)
        stderr_left -= len(line)
        line_no += 1
        if line_no % 1000 == 0:
            return
    if line_no >= 0 and stderr_left <= 0 and config.get("stderr_mb"):
        sys.stderr.write("stderr done\n")
        sys.stderr.flush()
        config["stderr_mb"] = 0

emit({"type": "SCHEMA", "stream": stream, "key_properties": ["id"], "schema": {"type": "object", "properties": {
    "id": {"type": "integer"}, "name": {"type": ["null", "string"]}, "amount": {"type": ["null", "number"]},
    "at": {"type": ["null", "string"], "format": "date-time"}, "payload": {"type": ["null", "string"]}}}})
filler = "p" * int(config.get("payload", 0))
every = int(config.get("state_every", 0))
max_id = int(config.get("max_id", 10))
for i in range(bookmark + 1, max_id + 1):
    emit({"type": "RECORD", "stream": stream, "record": {"id": i, "name": "name-%d" % i, "amount": i * 0.25,
          "at": "2025-01-20T10:%02d:%02dZ" % (i // 60 % 60, i % 60), "payload": filler}})
    if every and i % every == 0:
        emit({"type": "STATE", "value": {"bookmark": i}})
    if i % 500 == 0:
        chatter()
    if config.get("record_interval"):
        out.flush()
        time.sleep(float(config["record_interval"]))
while config.get("stderr_mb"):
    chatter()
out.flush()
if config.get("cut_last_line"):
    line = json.dumps({"type": "RECORD", "stream": stream, "record": {"id": max_id + 1, "name": "cut"}}, separators=(",", ":"))
    out.write(line[:len(line) // 2])
    out.flush()
    if config.get("kill_signal"):
        os.kill(os.getpid(), int(config["kill_signal"]))
    sys.exit(int(config.get("exit_code", 0)))
if config.get("kill_signal"):
    os.kill(os.getpid(), int(config["kill_signal"]))
if config.get("hang_seconds"):
    time.sleep(float(config["hang_seconds"]))
if config.get("trickle_seconds"):
    end = time.time() + float(config["trickle_seconds"])
    while time.time() < end:
        emit({"type": "STATE", "value": {"bookmark": bookmark}})
        out.flush()
        time.sleep(0.2)
emit({"type": "STATE", "value": {"bookmark": max(max_id, bookmark)}})
out.flush()
if config.get("leave_background_seconds"):
    import subprocess
    subprocess.Popen(["sleep", str(config["leave_background_seconds"])], start_new_session=True)
sys.exit(int(config.get("exit_code", 0)))
