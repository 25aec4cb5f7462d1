#!/usr/bin/env python3
"""Summarises a DATASPOC_PIPE_TIMELINE file (src/DataSpoc.Pipe/StageTimeline.cs): where a run's wall time went.

usage: bench/timeline-summary.py FILE...   (one line per file, then the medians)"""
import statistics, sys

def summary(path):
    rows = [l.rstrip("\n").split("\t") for l in open(path)][1:]
    ev = [(float(ms), th, name, int(v)) for ms, th, name, v in rows]
    first = lambda n: next(e[0] for e in ev if e[2] == n)
    last = lambda n: [e[0] for e in ev if e[2] == n][-1]
    start, end, exit_ = first("input.first"), first("input.end"), last("exit")
    # The reading thread blocked on the encoder: each send.wait until the send that follows it on the same thread.
    wait, pending = 0.0, {}
    for ms, th, name, _ in ev:
        if name == "send.wait": pending[th] = ms
        elif name == "send" and th in pending: wait += ms - pending.pop(th)
    # The encoder: busy from a row group's start to its end; idle between them (after the first one starts).
    busy, idle, open_, prev_end = 0.0, 0.0, None, None
    for ms, th, name, _ in ev:
        if name in ("encode.start", "encode2.start"):
            if prev_end is not None: idle += ms - prev_end
            open_ = ms
        elif name == "encode.end" and open_ is not None:
            busy += ms - open_; prev_end = ms; open_ = None
    enc_first = min(e[0] for e in ev if e[2] in ("encode.start", "encode2.start"))
    last_enc = last("encode.end")
    return dict(startup=start, first_encode=enc_first, input=end - start, read_wait=wait, enc_busy=busy, enc_idle=idle,
                tail=last_enc - end, commit=exit_ - last_enc, wall=exit_)

keys = ["startup", "first_encode", "input", "read_wait", "enc_busy", "enc_idle", "tail", "commit", "wall"]
print("file\t" + "\t".join(keys))
all_ = []
for p in sys.argv[1:]:
    s = summary(p); all_.append(s)
    print(p.split("/")[-1] + "\t" + "\t".join(f"{s[k]:.1f}" for k in keys))
if len(all_) > 1:
    print("median\t" + "\t".join(f"{statistics.median(s[k] for s in all_):.1f}" for k in keys))
