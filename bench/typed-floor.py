#!/usr/bin/env python3
"""The floor of the bench's `typed` variation: the narrow records as the map
(filter "qty > 5", compute total = amount * qty, cast qty to number, hash name)
leaves them, so that running them *plain* costs what writing the map's output
costs, without the map. usage: typed-floor.py narrow-N.singer narrow-typedfloor-N.singer"""
import hashlib, json, sys

src, dst = sys.argv[1], sys.argv[2]
with open(src) as f, open(dst, "w") as out:
    for line in f:
        m = json.loads(line)
        if m["type"] == "SCHEMA":
            p = m["schema"]["properties"]
            p["name"] = {"type": ["null", "string"]}
            p["qty"] = {"type": ["null", "number"]}
            p["total"] = {"type": ["null", "number"]}
        elif m["type"] == "RECORD":
            r = m["record"]
            qty = r.get("qty")
            if qty is None or not qty > 5:
                continue
            amount = r.get("amount")
            if r.get("name") is not None:
                r["name"] = hashlib.sha256(r["name"].encode()).hexdigest()
            r["qty"] = float(qty)
            r["total"] = None if amount is None else float(amount * qty)
        out.write(json.dumps(m, separators=(",", ":"), ensure_ascii=False) + "\n")
