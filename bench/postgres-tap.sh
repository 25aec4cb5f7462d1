#!/usr/bin/env bash
# The built-in postgres tap on its own (no lake), against a raw binary COPY of the same table, on a throwaway server
# (Debian's postgresql packages) on 127.0.0.1. Table `events`, ROWS rows x 8 columns (id, user_id, name, email,
# amount numeric(12,2), active, country, created_at timestamptz). Prints, with medians of RUNS runs after a warm-up:
#   psql  - `psql -c "COPY events TO STDOUT (FORMAT binary)" > /dev/null`, a process per run (start-up included)
#   raw   - the same COPY read to the end by Npgsql in one process (DataSpoc.Pipe.PostgresTapBench raw)
#   libpq - the same COPY read to the end through libpq's PQgetCopyData (what the tap's pump uses when libpq loads)
#   sink  - the tap's full-table sync into a RecordSink that counts rows and drops the values
#   json  - the tap printing Singer JSON to a null stream (what `dataspoc-pipe tap postgres` does)
#   old-json - with OLD_PIPE_DLL=<an older DataSpoc.Pipe.dll>: `json` with that engine (e.g. main's, before typed rows)
#   cli   - with CLI_DLL=<path to a dataspoc-pipe.dll>: `dotnet $CLI_DLL tap postgres` > /dev/null, a process per run
#           (e.g. main's build, to time the tap before typed rows)
# Usage: [MODES="raw libpq sink json"] bench/postgres-tap.sh [ROWS=1000000] [RUNS=5]
set -euo pipefail
ROWS=${1:-1000000}
RUNS=${2:-5}
REPO=$(cd "$(dirname "$0")/.." && pwd)
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
WORK=$(mktemp -d /tmp/dsp-pgtap-bench-XXXX); chmod 755 "$WORK"
PORT=$((20000 + RANDOM % 20000))
AS=(); [[ $(id -u) == 0 ]] && { chown postgres "$WORK"; AS=(runuser -u postgres --); }
cleanup() { "${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
"${AS[@]}" "$PGBIN/initdb" -D "$WORK/data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/log" -w -o "-k $WORK -p $PORT -h 127.0.0.1 -c fsync=off -c shared_buffers=256MB" start >/dev/null
PSQL=("$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -q -v ON_ERROR_STOP=1)
"${PSQL[@]}" -c "CREATE TABLE events (id int8 PRIMARY KEY, user_id int8 NOT NULL, name text, email text, amount numeric(12,2),
    active boolean, country text, created_at timestamptz);
  INSERT INTO events SELECT g, g % 50000, 'user ' || g, 'user' || g || '@example.com', (g % 100000) / 100.0,
    g % 3 <> 0, (ARRAY['BR','US','DE','JP','IN'])[g % 5 + 1], timestamptz '2024-01-01' + g * interval '2 seconds'
  FROM generate_series(1, $ROWS) g;"
"${PSQL[@]}" -c "VACUUM ANALYZE events;"
echo "loaded $ROWS rows ($("${PSQL[@]}" -tAc "SELECT pg_size_pretty(pg_table_size('events'))")); load average $(cut -d' ' -f1-3 /proc/loadavg)"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: > "$WORK/psql"
"${PSQL[@]}" -c "COPY events TO STDOUT (FORMAT binary)" > /dev/null
for _ in $(seq "$RUNS"); do
  /usr/bin/time -f "%e %U %S" -a -o "$WORK/psql" "${PSQL[@]}" -c "COPY events TO STDOUT (FORMAT binary)" > /dev/null
done
awk '{print "psql run: wall " $1 " s, cpu " $2 + $3 " s"}' "$WORK/psql"
echo "psql median: wall $(cut -d' ' -f1 "$WORK/psql" | median) s (the psql process; the server's COPY work is in neither figure's cpu)"

dotnet build "$REPO/bench/DataSpoc.Pipe.PostgresTapBench" -c Release --nologo -v q | grep -E "error|rror(s)" || true
BENCH=(dotnet "$REPO/bench/DataSpoc.Pipe.PostgresTapBench/bin/Release/net10.0/DataSpoc.Pipe.PostgresTapBench.dll")
for mode in ${MODES:-raw libpq sink json}; do "${BENCH[@]}" "$mode" "$PORT" events "$RUNS"; done

if [[ -n "${OLD_PIPE_DLL:-}" ]]; then
  cp -r "$REPO/bench/DataSpoc.Pipe.PostgresTapBench/bin/Release/net10.0" "$WORK/old-bench"
  cp "$OLD_PIPE_DLL" "$WORK/old-bench/DataSpoc.Pipe.dll"
  dotnet "$WORK/old-bench/DataSpoc.Pipe.PostgresTapBench.dll" json "$PORT" events "$RUNS" | sed 's/^json/old-json/'
fi

if [[ -n "${CLI_DLL:-}" ]]; then
  echo '{"host": "127.0.0.1", "port": '"$PORT"', "user": "postgres", "dbname": "postgres", "sslmode": "disable", "filter_tables": ["events"]}' > "$WORK/config.json"
  : > "$WORK/cli"
  dotnet "$CLI_DLL" tap postgres --config "$WORK/config.json" > /dev/null
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %U %S" -a -o "$WORK/cli" dotnet "$CLI_DLL" tap postgres --config "$WORK/config.json" > /dev/null
  done
  awk '{print "cli run: wall " $1 " s, cpu " $2 + $3 " s"}' "$WORK/cli"
  echo "cli median: wall $(cut -d' ' -f1 "$WORK/cli" | median) s (process start-up included)"
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
