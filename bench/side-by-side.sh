#!/usr/bin/env bash
# Side-by-side: `dataspoc-pipe run` vs DuckDB (read_json -> COPY TO zstd Parquet) on the same Singer stream, and the
# built-in csv and postgres taps against the usual shell recipes on the same 8-column events table (issue #23 targets).
#
#   bench/side-by-side.sh [rows=1000000] [runs=3]
#
# Environment:
#   SHAPES="narrow events wide csv postgres"   which parts to run:
#                          narrow, wide: Singer files (see WIDE_ROWS) against DuckDB read_json;
#                          events: the csv part's 8-column events table as Singer JSON (what `dataspoc-pipe tap csv`
#                          prints for it; issue #23's Singer figure is listed with this table's), against DuckDB read_json;
#                          csv: the events table (rows x 8) as a CSV file: the built-in csv tap against DuckDB
#                          read_csv -> COPY (FORMAT parquet, COMPRESSION zstd);
#                          postgres: the same table loaded once into a throwaway PostgreSQL on 127.0.0.1: the built-in
#                          postgres tap against a raw `COPY events TO STDOUT (FORMAT binary)` to /dev/null (rawcopy) and
#                          `psql \copy ... csv` then DuckDB read_csv -> zstd Parquet (twostep)
#   WIDE_ROWS=100000       rows of the wide shape (~1.97 KB a line: 100k ~ 197 MB)
#   DUCKDB_MODE=typed      typed: record types from the SCHEMA message (fair); auto: DuckDB samples and guesses
#   STARTUP=1              also time `dataspoc-pipe --version` (0 to skip)
#   TOOLS="pipe duckdb rawcopy twostep"   which side(s) to time (e.g. TOOLS=pipe for a long memory-flatness run)
#   PIPE_BIN=/path         time this dataspoc-pipe binary instead of building the repo's (./dataspoc-pipe); a
#                          framework-dependent apphost (src/DataSpoc.Pipe.Cli/bin/Release/net10.0/dataspoc-pipe) works
#   VARIATIONS="..."       pipe runs of the narrow shape, each printed as narrow+<name> with its ratio to the plain run
#                          and its peak RSS (default: all of them; "plain" alone skips them):
#                          projected: a transforms map that drops, renames and selects columns;
#                          undeclared: two properties the SCHEMA does not declare in every record;
#                          partitioned: `partition_by: created_at` over 28 days (28 daily partitions);
#                          reversed: properties in reverse schema order;
#                          interleaved: two streams, record by record;
#                          streams500: 500 streams one after another; interleaved500: 500 streams record by record;
#                          typed: a filter, a compute, a cast and a hash of one column each;
#                          typedfloor: no transforms, on records that already hold typed's output (bench/typed-floor.py):
#                          what writing typed's output costs, so typed minus typedfloor is the map's own cost
#
# Inputs are generated once into bench/out/ (deterministic, cached). Each run times both tools, alternating which
# goes first, with /usr/bin/time (wall, user+sys CPU, peak RSS); then it prints medians and pipe/duckdb ratios.
set -euo pipefail
rows="${1:-1000000}"
runs="${2:-3}"
shapes="${SHAPES:-narrow events wide csv postgres}"
variations="${VARIATIONS:-plain projected typed undeclared partitioned reversed interleaved streams500 interleaved500}"
wide_rows="${WIDE_ROWS:-100000}"
duckdb_mode="${DUCKDB_MODE:-typed}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
out="$here/out"
mkdir -p "$out"

if [ ! -x /usr/bin/time ]; then
  echo "installing GNU time ..." >&2
  (apt-get update -qq && apt-get install -y -qq time) >/dev/null
fi
if ! command -v hyperfine >/dev/null 2>&1; then
  (apt-get install -y -qq hyperfine || (apt-get update -qq && apt-get install -y -qq hyperfine)) >/dev/null 2>&1 || true
fi

echo "building the generator and the DuckDB runner (Release) ..." >&2
for p in DataSpoc.Pipe.BenchData DataSpoc.Pipe.DuckDbRunner; do
  dotnet build "$here/$p/$p.csproj" -c Release --nologo -v quiet -o "$out/bin/$p" >/dev/null
done
generator="$out/bin/DataSpoc.Pipe.BenchData/DataSpoc.Pipe.BenchData"
duckdb_runner="$out/bin/DataSpoc.Pipe.DuckDbRunner/DataSpoc.Pipe.DuckDbRunner"

echo "building dataspoc-pipe (Release, Native AOT: a few minutes after a source change) ..." >&2
pipe="${PIPE_BIN:-$root/.build/cli/dataspoc-pipe}"
pipe_ok=1
pipe_why=""
if [ -z "${PIPE_BIN:-}" ] && ! "$root/dataspoc-pipe" --version >/dev/null 2>"$out/pipe-build.log"; then
  pipe_ok=0; pipe_why="the CLI does not build or start (see $out/pipe-build.log)"
fi

work="$(mktemp -d)"
chmod 755 "$work"  # the postgres part runs its server as the postgres user under it
pg_stop=""
trap '[ -z "$pg_stop" ] || $pg_stop >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export DATASPOC_PIPE_HOME="$work/home"
mkdir -p "$DATASPOC_PIPE_HOME/pipelines"

# pipeline_yaml NAME SOURCE_YAML BUCKET_DIR [EXTRA_YAML]: writes a pipeline YAML. EXTRA_YAML follows the destination
# block: lines indented by two spaces add destination keys, unindented ones add top-level keys.
pipeline_yaml() {
  { printf 'source:\n%s\n' "$2"
    cat <<YAML
destination:
  bucket: "file://$3"
  path: raw
  compression: zstd
YAML
    printf '%s\n' "${4:-}"; } >"$DATASPOC_PIPE_HOME/pipelines/$1.yaml"
}

# pipeline_for NAME INPUT BUCKET_DIR [EXTRA_YAML]: writes the pipeline YAML whose tap replays INPUT.
pipeline_for() {
  pipeline_yaml "$1" "$(printf '  tap: "%s"\n  name: bench' "$here/replay-tap.sh $2")" "$3" "${4:-}"
}

# The transforms of each variation of the narrow shape (stream "orders").
# The typed variation's filter, also what its row check counts in the input (as `record.<condition>`).
typed_filter="qty > 5"
variation_yaml() {
  case "$1" in
    projected) printf 'transforms:\n  orders: {drop: [note], rename: {name: customer}, select: [id, name, amount, flag, status, created_at, qty]}' ;;
    typed) printf 'transforms:\n  orders: {filter: "%s", compute: {total: "amount * qty"}, cast: {qty: number}, hash: [name]}' "$typed_filter" ;;
    partitioned) printf '  partition_by: created_at' ;;
    *) ;;
  esac
}

# The input of each variation of the narrow shape: a generator shape (the same records in another form), or the plain
# file when the variation only changes the pipeline.
variation_input() {
  case "$1" in
    undeclared) echo narrow-undeclared ;;
    partitioned) echo narrow-28days ;;
    reversed) echo narrow-reversed ;;
    interleaved) echo narrow-2interleaved ;;
    streams500) echo narrow-500streams ;;
    interleaved500) echo narrow-500interleaved ;;
    typedfloor) echo narrow-typedfloor ;;
    *) echo narrow ;;
  esac
}

# input_file GENERATOR_SHAPE ROWS: the cached input, generated on first use.
input_file() {
  local f="$out/$1-$2.singer"
  [ "$1" = events-csv ] && f="$out/events-$2/events.csv"
  if [ ! -f "$f" ]; then
    echo "generating $f ..." >&2
    mkdir -p "$(dirname "$f")"
    if [ "$1" = narrow-typedfloor ]; then python3 "$here/typed-floor.py" "$(input_file narrow "$2")" "$f"
    elif [ "$1" = events ]; then
      printf '{"path": "%s"}' "$(input_file events-csv "$2")" >"$f.config.json"
      "$pipe" tap csv --config "$f.config.json" >"$f.partial" && mv "$f.partial" "$f"; rm -f "$f.config.json"
    else "$generator" "$1" "$2" "$f"; fi
  fi
  echo "$f"
}

# The timed sides of each part; the first is the pipe, the others what it is compared with.
tools_of() {
  case "$1" in
    postgres) echo "pipe rawcopy twostep" ;;
    *) echo "pipe duckdb" ;;
  esac
}

parquet_bytes() { find "$1" -name '*.parquet' -printf '%s\n' 2>/dev/null | awk '{s+=$1} END {print s+0}'; }
parquet_rows() {
  "$duckdb_runner" --sql "select count(*) from read_parquet('$1/**/*.parquet')" 2>/dev/null | tail -1
}

# records_where FILE CONDITION: the RECORD messages of a Singer file whose record matches CONDITION (DuckDB SQL on `record`).
records_where() {
  "$duckdb_runner" --sql "select count(*) from read_json_auto('$1', format='newline_delimited') where type = 'RECORD' and $2" 2>/dev/null | tail -1
}

# A small end-to-end check first: until `run` works, the DuckDB half still runs and the pipe half says why not.
if [ "$pipe_ok" = 1 ]; then
  probe="$out/narrow-1000.singer"
  [ -f "$probe" ] || "$generator" narrow 1000 "$probe"
  pipeline_for probe "$probe" "$work/probe-lake"
  if ! "$pipe" run probe >"$out/pipe-probe.log" 2>&1; then
    pipe_ok=0; pipe_why="\`dataspoc-pipe run\` failed on a 1,000-row probe (see $out/pipe-probe.log)"
  elif [ "$(parquet_rows "$work/probe-lake")" != "1000" ]; then
    pipe_ok=0; pipe_why="\`dataspoc-pipe run\` did not write the 1,000 probe rows (see $out/pipe-probe.log)"
  fi
fi
[ "$pipe_ok" = 1 ] || echo "pipe half unavailable: $pipe_why" >&2

# The postgres part: a throwaway server (Debian's postgresql packages, as bench/split-postgres.sh and the tests start
# one) on 127.0.0.1, the events table loaded once from the csv part's file, so both parts read the same values.
case " $shapes " in *" postgres "*)
  pgbin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  if [ -z "$pgbin" ]; then
    echo "installing postgresql ..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >/dev/null
    pgbin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  fi
  pg_port=$((20000 + RANDOM % 20000))
  pg_as=(); mkdir -p "$work/pg"
  if [ "$(id -u)" = 0 ]; then chown postgres "$work/pg"; pg_as=(runuser -u postgres --); fi
  "${pg_as[@]}" "$pgbin/initdb" -D "$work/pg/data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
  "${pg_as[@]}" "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
    -o "-k $work/pg -p $pg_port -h 127.0.0.1 -c fsync=off -c timezone=UTC" start >/dev/null
  pg_stop="${pg_as[*]} $pgbin/pg_ctl -D $work/pg/data -m immediate stop"
  psql=("$pgbin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -q -v ON_ERROR_STOP=1)
  events_csv="$(input_file events-csv "$rows")"
  t0=$(date +%s.%N)
  "${psql[@]}" -c "CREATE TABLE events (id int8 PRIMARY KEY, user_id int8, name text, email text, amount numeric(12,2),
    active boolean, country text, created_at timestamptz)" \
    -c "\\copy events FROM '$events_csv' (FORMAT csv, HEADER)" -c "VACUUM ANALYZE events"
  echo "postgres: loaded $rows rows into events on 127.0.0.1:$pg_port in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b-a}') s" >&2
  # The two-step shell recipe, timed as one process: psql's client-side csv export, then DuckDB to zstd Parquet.
  cat >"$work/twostep.sh" <<SH
#!/usr/bin/env bash
set -euo pipefail
${psql[*]} -c "\\copy events TO '\$1/events.csv' (FORMAT csv, HEADER)"
"$duckdb_runner" --sql "COPY (SELECT * FROM read_csv('\$1/events.csv')) TO '\$1/out.parquet' (FORMAT parquet, COMPRESSION zstd)" >/dev/null
rm -f "\$1/events.csv"
SH
  chmod +x "$work/twostep.sh" ;;
esac

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
results="$out/results-$stamp.tsv"
printf 'shape\trows\tinput_bytes\ttool\trun\twall_s\tcpu_s\tpeak_rss_kib\toutput_bytes\n' >"$results"

# measure SHAPE ROWS INPUT TOOL RUN
measure() {
  local shape="$1" n="$2" input="$3" tool="$4" run="$5" t="$work/time" size
  local target="$work/$tool-out"
  rm -rf "$target"; mkdir -p "$target"
  case "$tool" in
    pipe)
      local name="bench-${shape/+/-}"
      case "$shape" in
        csv) pipeline_yaml "$name" "$(printf '  tap: csv\n  config: {path: "%s"}\n  name: bench' "$(dirname "$input")")" "$target" ;;
        postgres) pipeline_yaml "$name" "$(printf '  tap: postgres\n  config: {host: 127.0.0.1, port: %s, user: postgres, dbname: postgres, sslmode: disable}\n  name: bench' "$pg_port")" "$target" ;;
        *) pipeline_for "$name" "$input" "$target" "$(variation_yaml "${shape#*+}")" ;;
      esac
      if ! /usr/bin/time -f "%e %U %S %M" -o "$t" "$pipe" run "$name" >"$out/pipe-run-$name.log" 2>&1; then
        echo "pipe run failed ($shape, run $run): see $out/pipe-run-$name.log" >&2; return 1
      fi
      size="$(parquet_bytes "$target")"
      if [ "$run" = 1 ]; then
        local got want="$n"; got="$(parquet_rows "$target")"
        # The typed variation filters rows: it keeps what DuckDB keeps of the same records.
        [ "$shape" = narrow+typed ] && want="$(records_where "$input" "record.$typed_filter")"
        [ "$got" = "$want" ] || echo "WARNING: pipe wrote $got rows where $want were expected ($shape)" >&2
      fi ;;
    duckdb)
      if [ "$shape" = csv ]; then
        /usr/bin/time -f "%e %U %S %M" -o "$t" "$duckdb_runner" --sql \
          "COPY (SELECT * FROM read_csv('$input')) TO '$target/out.parquet' (FORMAT parquet, COMPRESSION zstd)" >/dev/null 2>&1
      else
        /usr/bin/time -f "%e %U %S %M" -o "$t" "$duckdb_runner" "$input" "$target/out.parquet" "$duckdb_mode" 2>/dev/null
      fi
      size="$(parquet_bytes "$target")" ;;
    rawcopy)
      /usr/bin/time -f "%e %U %S %M" -o "$t" "${psql[@]}" -c "COPY events TO STDOUT (FORMAT binary)" >/dev/null
      size=0 ;;
    twostep)
      /usr/bin/time -f "%e %U %S %M" -o "$t" "$work/twostep.sh" "$target"
      size="$(parquet_bytes "$target")" ;;
  esac
  read -r wall user sys rss <"$t"
  local cpu; cpu="$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f", u+s}')"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$shape" "$n" "$(stat -L -c %s "$input")" "$tool" "$run" "$wall" "$cpu" "$rss" "$size" >>"$results"
  printf '  %-6s %-7s run %s: wall %6.2f s  cpu %6.2f s  peak %6d MiB  output %8.1f MB\n' \
    "$shape" "$tool" "$run" "$wall" "$cpu" $((rss / 1024)) "$(awk -v b="$size" 'BEGIN {print b/1e6}')"
}

for shape in $shapes; do
  n="$rows"; [ "$shape" = wide ] && n="$wide_rows"
  case "$shape" in
    csv) input="$(input_file events-csv "$n")" ;;
    postgres) input="$events_csv" ;;  # what was loaded; the tools read the table
    *) input="$(input_file "$shape" "$n")" ;;
  esac
  echo "$shape: $n rows, $(( $(stat -L -c %s "$input") / 1000000 )) MB ($input)"
  cat "$input" >/dev/null  # both tools then read it from the page cache
  if [ "$shape" = narrow ]; then
    for variation in $variations; do
      [ "$variation" = plain ] || cat "$(input_file "$(variation_input "$variation")" "$n")" >/dev/null
    done
  fi
  for run in $(seq 1 "$runs"); do
    # Alternate who goes first, so neither always gets the cooler machine.
    order="$(tools_of "$shape")"
    if [ $((run % 2)) = 0 ]; then order="$(echo "$order" | tr ' ' '\n' | tac | tr '\n' ' ')"; fi
    for tool in $order; do
      if [ "$tool" = pipe ] && [ "$pipe_ok" != 1 ]; then continue; fi
      case " ${TOOLS:-pipe duckdb rawcopy twostep} " in *" $tool "*) ;; *) continue ;; esac
      measure "$shape" "$n" "$input" "$tool" "$run" || pipe_ok=0
    done
    if [ "$shape" = narrow ] && [ "$pipe_ok" = 1 ]; then
      for variation in $variations; do
        # A failed variation is reported and skipped; the other parts still run.
        [ "$variation" = plain ] || measure "$shape+$variation" "$n" "$(input_file "$(variation_input "$variation")" "$n")" pipe "$run" || true
      done
    fi
  done
done

startup=""
if [ "${STARTUP:-1}" = 1 ] && [ -x "$pipe" ]; then
  if command -v hyperfine >/dev/null 2>&1; then
    hyperfine -N --warmup 3 --runs 10 --export-json "$work/startup.json" "$pipe --version" >/dev/null 2>&1 || true
    startup="$(python3 -c "import json,sys; print('%.0f' % (json.load(open(sys.argv[1]))['results'][0]['median']*1000))" "$work/startup.json" 2>/dev/null || true)"
  fi
  if [ -z "$startup" ]; then
    for i in $(seq 1 10); do /usr/bin/time -f "%e" -a -o "$work/startup" "$pipe" --version >/dev/null; done
    startup="$(sort -n "$work/startup" | awk '{a[NR]=$1} END {printf "%.0f", (a[5]+a[6])/2*1000}')"
  fi
fi

echo
echo "medians over $runs alternating runs (results: $results)"
python3 - "$results" "$startup" "$pipe_ok" "$pipe_why" <<'PY'
import csv, statistics, sys
path, startup, pipe_ok, why = sys.argv[1:5]
rows = list(csv.DictReader(open(path), delimiter="\t"))
# Issue #23's targets: (shape, compared with) -> highest pipe/other wall ratio; a variation's is to the plain run.
wall_target = {("narrow", "duckdb"): 0.50, ("events", "duckdb"): 0.50, ("wide", "duckdb"): 0.65, ("csv", "duckdb"): 0.67,
               ("postgres", "rawcopy"): 1.3, ("postgres", "twostep"): 0.6, "projected": 1.05, "typed": 1.5,
               "undeclared": 1.3, "partitioned": 1.3, "reversed": 1.3, "interleaved": 1.3}
rss_target = {"csv": 150, "undeclared": 150, "partitioned": 150, "reversed": 150, "interleaved": 150,
              "streams500": 150, "interleaved500": 250}
def verdict(value, limit, unit=""):
    return f" (target <= {limit}{unit}: {'met' if value <= limit else 'NOT met'})" if limit is not None else ""
med = {}
for shape in dict.fromkeys(r["shape"] for r in rows):
    for tool in dict.fromkeys(r["tool"] for r in rows):
        rs = [r for r in rows if r["shape"] == shape and r["tool"] == tool]
        if not rs: continue
        m = lambda k: statistics.median(float(r[k]) for r in rs)
        med[shape, tool] = dict(wall=m("wall_s"), cpu=m("cpu_s"), rss=m("peak_rss_kib") / 1024, size=m("output_bytes") / 1e6,
                                n=int(rs[0]["rows"]), mb=int(rs[0]["input_bytes"]) / 1e6)
print(f"{'shape':22} {'tool':8} {'rows':>10} {'input MB':>9} {'wall s':>8} {'cpu s':>8} {'peak MiB':>9} {'out MB':>8}")
for (shape, tool), v in med.items():
    print(f"{shape:22} {tool:8} {v['n']:>10} {v['mb']:>9.1f} {v['wall']:>8.2f} {v['cpu']:>8.2f} {v['rss']:>9.0f} {v['size']:>8.2f}")
for shape in dict.fromkeys(s for s, _ in med):
    p = med.get((shape, "pipe"))
    others = [t for s, t in med if s == shape and t != "pipe"]
    for other in others:
        d = med[shape, other]
        if p:
            output = f"  output {p['size']/d['size']:.2f}" if d["size"] else ""
            print(f"{shape}: pipe/{other}  wall {p['wall']/d['wall']:.2f}  cpu {p['cpu']/d['cpu']:.2f}  "
                  f"peak RSS {p['rss']/d['rss']:.2f}{output}{verdict(p['wall']/d['wall'], wall_target.get((shape, other)))}")
        else:
            print(f"{shape}: pipe half unavailable{': ' + why if why else ''}")
    if p and shape in rss_target:
        print(f"{shape}: pipe peak RSS {p['rss']:.0f} MiB{verdict(p['rss'], rss_target[shape], ' MiB')}")
    if p and "+" in shape and (base := med.get((shape.split("+")[0], "pipe"))):
        variation = shape.split("+", 1)[1]
        print(f"{shape}: /plain pipe  wall {p['wall']/base['wall']:.2f}  cpu {p['cpu']/base['cpu']:.2f}  "
              f"peak RSS {p['rss']/base['rss']:.2f} ({p['rss']:.0f} MiB)"
              f"{verdict(p['wall']/base['wall'], wall_target.get(variation))}{verdict(p['rss'], rss_target.get(variation), ' MiB')}")
if startup:
    print(f"start-up: dataspoc-pipe --version median {startup} ms")
PY
