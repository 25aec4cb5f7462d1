#!/usr/bin/env python3
"""A log-based Singer tap over its own SQLite source table, for the merge tests (python3 stdlib only).

Every sync first changes the source table at random (inserts, updates, deletes: seeded by config seed and the sync's
number), logging each change with the row's image, then emits every logged change since the bookmark, the boundary
change again (like a `>=` bookmark), deletions with _sdc_deleted_at set. Several changes of one key in a sync arrive
as several records. It then writes the source table as it now is to config snapshot (JSON), for the test to compare.

config keys:
  db          the SQLite file (created on first use)
  snapshot    where to write the source table after the sync: {"rows": [...], "seed": ..., "sync": ...}
  seed        the random seed
  changes     changes per sync (default 40)
  key         "int" (default) or "str": the key column's type
  shuffle     emit a sync's records in random order (the merge must then order them by order_by: version)
"""
import json, random, sqlite3, sys

def arg(name):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else None

SCHEMA = {"type": "object", "properties": {
    "id": {"type": "integer"},
    "name": {"type": ["null", "string"]},
    "amount": {"type": ["null", "number"]},
    "qty": {"type": ["null", "integer"]},
    "updated_at": {"type": ["null", "string"], "format": "date-time"},
    "version": {"type": ["null", "integer"]},
    "_sdc_deleted_at": {"type": ["null", "string"], "format": "date-time"},
}}

if "--config" not in sys.argv:
    print("usage: merge_tap.py --config CONFIG [--state STATE] [--catalog CATALOG]")
    sys.exit(0)
config = json.load(open(arg("--config")))
str_key = config.get("key") == "str"
schema = json.loads(json.dumps(SCHEMA))
if str_key:
    schema["properties"]["id"] = {"type": "string"}
if "--discover" in sys.argv:
    print(json.dumps({"streams": [{"tap_stream_id": "items", "stream": "items", "schema": schema, "key_properties": ["id"],
                                   "metadata": [{"breadcrumb": [], "metadata": {"selected": True}}]}]}))
    sys.exit(0)

state = json.load(open(arg("--state"))) if arg("--state") else {}
bookmark = state.get("bookmarks", {}).get("items", {}).get("version", 0)

db = sqlite3.connect(config["db"])
db.execute("create table if not exists items (id integer primary key, name text, amount real, qty integer, updated_at text, version integer)")
db.execute("create table if not exists changes (version integer primary key, id integer, name text, amount real, qty integer, updated_at text, deleted_at text)")
db.execute("create table if not exists meta (syncs integer)")
if db.execute("select count(*) from meta").fetchone()[0] == 0:
    db.execute("insert into meta values (0)")
sync = db.execute("select syncs from meta").fetchone()[0] + 1
db.execute("update meta set syncs = ?", (sync,))
rng = random.Random(config["seed"] * 1000 + sync)
version = db.execute("select coalesce(max(version), 0) from changes").fetchone()[0]

def stamp(v):
    return "2026-01-%02dT%02d:%02d:%02d.%06dZ" % (1 + v // 86400 % 28, v // 3600 % 24, v // 60 % 60, v % 60, (v * 7919) % 1000000)

def log(id, row, deleted):
    global version
    version += 1
    name, amount, qty = row if row else (None, None, None)
    db.execute("insert into changes values (?,?,?,?,?,?,?)", (version, id, name, amount, qty, stamp(version), stamp(version) if deleted else None))
    if deleted:
        db.execute("delete from items where id = ?", (id,))
    else:
        db.execute("insert or replace into items values (?,?,?,?,?,?)", (id, name, amount, qty, stamp(version), version))

def random_row():
    name = rng.choice([None, "", "ação", "x" * rng.randint(1, 30), "name %d" % rng.randint(0, 10**6), 'quote " and \\ slash'])
    amount = rng.choice([None, round(rng.uniform(-1e6, 1e6), 2), 0.5, -0.0 + 0, 1e-3])
    qty = rng.choice([None, rng.randint(-2**40, 2**40), 0])
    return (name, amount, qty)

for _ in range(config.get("changes", 40)):
    ids = [r[0] for r in db.execute("select id from items")]
    roll = rng.random()
    if not ids or roll < 0.4:
        new_id = rng.randint(1, 10**6) if rng.random() < 0.5 else (max(ids) + 1 if ids else 1)
        log(new_id, random_row(), False)
    elif roll < 0.8:
        log(rng.choice(ids), random_row(), False)
    else:
        log(rng.choice(ids), None, True)
db.commit()

def key(id):
    return "k%07d" % id if str_key else id

out = sys.stdout
def emit(msg):
    out.write(json.dumps(msg, separators=(",", ":")) + "\n")

emit({"type": "SCHEMA", "stream": "items", "schema": schema, "key_properties": ["id"]})
records = []
for (v, id, name, amount, qty, updated_at, deleted_at) in db.execute("select * from changes where version >= ? order by version", (bookmark,)):
    records.append({"id": key(id), "name": name, "amount": amount, "qty": qty, "updated_at": updated_at, "version": v, "_sdc_deleted_at": deleted_at})
if config.get("shuffle"):
    rng.shuffle(records)
for r in records:
    emit({"type": "RECORD", "stream": "items", "record": r})
emit({"type": "STATE", "value": {"bookmarks": {"items": {"version": version}}}})

rows = [{"id": key(id), "name": name, "amount": amount, "qty": qty, "updated_at": updated_at, "version": v}
        for (id, name, amount, qty, updated_at, v) in db.execute("select id, name, amount, qty, updated_at, version from items order by id")]
json.dump({"rows": rows, "deleted": [key(r[0]) for r in db.execute("select distinct id from changes where deleted_at is not null and id not in (select id from items)")],
           "sync": sync, "seed": config["seed"]}, open(config["snapshot"], "w"))
