#!/usr/bin/env bash
# One PostgreSQL table read by the built-in postgres tap in 1, 2 and 4 key ranges in one process (source.split with
# parallel = parts). Starts a throwaway server (Debian's postgresql packages) on 127.0.0.1, loads ROWS rows
# (id int8, code text, amount numeric, at timestamptz, note text), runs `dataspoc-pipe run` (the JIT build unless
# DATASPOC_PIPE_BIN names a binary) into a file:// lake and prints the wall time and rows/s of each run.
# Usage: bench/split-postgres.sh [ROWS] [PARTS...]   (default 2000000 rows, parts 1 2 4)
set -euo pipefail
ROWS=${1:-2000000}; shift || true
PARTS=("${@:-1 2 4}"); PARTS=(${PARTS[*]})
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=${DATASPOC_PIPE_BIN:-}
if [[ -z "$BIN" ]]; then CMD=(dotnet "$REPO/src/DataSpoc.Pipe.Cli/bin/Release/net10.0/dataspoc-pipe.dll"); else CMD=("$BIN"); fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
WORK=$(mktemp -d /tmp/dsp-split-bench-XXXX); chmod 755 "$WORK"
PORT=$((20000 + RANDOM % 20000))
AS=(); [[ $(id -u) == 0 ]] && { chown postgres "$WORK"; AS=(runuser -u postgres --); }
cleanup() { "${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
"${AS[@]}" "$PGBIN/initdb" -D "$WORK/data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/log" -w -o "-k $WORK -p $PORT -h 127.0.0.1 -c fsync=off -c max_connections=50" start >/dev/null
PSQL=("$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -q -v ON_ERROR_STOP=1)
t0=$(date +%s.%N)
"${PSQL[@]}" -c "CREATE TABLE items (id int8 PRIMARY KEY, code text, amount numeric(12,2), at timestamptz, note text);
  INSERT INTO items SELECT g, md5(g::text), (g % 100000) / 100.0, timestamptz '2024-01-01' + g * interval '1 second', 'row ' || g FROM generate_series(1, $ROWS) g;
"
"${PSQL[@]}" -c "VACUUM ANALYZE items;"
echo "loaded $ROWS rows in $(echo "$(date +%s.%N) - $t0" | bc) s (load average $(cut -d' ' -f1-3 /proc/loadavg))"
export HOME="$WORK/home" DATASPOC_PIPE_HOME="$WORK/home/.dataspoc-pipe"
mkdir -p "$DATASPOC_PIPE_HOME/pipelines"
for parts in "${PARTS[@]}"; do
  cat > "$DATASPOC_PIPE_HOME/pipelines/items.yaml" <<YAML
source:
  tap: postgres
  config: {host: 127.0.0.1, port: $PORT, user: postgres, dbname: postgres, sslmode: disable}
  split: {column: id, parts: $parts, parallel: $parts}
destination:
  bucket: file://$WORK/lake-$parts
YAML
  start=$(date +%s.%N)
  "${CMD[@]}" run items -o json > "$WORK/out-$parts.json"
  wall=$(echo "$(date +%s.%N) - $start" | bc)
  records=$(grep -o '"total_records": [0-9]*' "$WORK/out-$parts.json" | grep -o '[0-9]*$')
  echo "parts=$parts wall=${wall}s records=$records rows/s=$(echo "$records / $wall" | bc) load=$(cut -d' ' -f1-3 /proc/loadavg)"
done
