#!/usr/bin/env bash
# Side-by-side: `dataspoc-pipe run` vs DuckDB (read_json -> COPY TO zstd Parquet) on the same Singer stream.
#
#   bench/side-by-side.sh [rows=1000000] [runs=3]
#
# Environment:
#   SHAPES="narrow wide"   which shapes to run
#   WIDE_ROWS=100000       rows of the wide shape (~1.97 KB a line: 100k ~ 197 MB)
#   DUCKDB_MODE=typed      typed: record types from the SCHEMA message (fair); auto: DuckDB samples and guesses
#   STARTUP=1              also time `dataspoc-pipe --version` (0 to skip)
#   TOOLS="pipe duckdb"    which side(s) to time (e.g. TOOLS=pipe for a long memory-flatness run)
#   PIPE_BIN=/path         time this dataspoc-pipe binary instead of building the repo's (./dataspoc-pipe)
#   VARIATIONS="plain"     pipe runs of the narrow shape: plain, and/or projected (the same run with a transforms map
#                          that drops, renames and selects columns: printed as narrow+projected, with its ratio to plain),
#                          and/or typed (a filter, a compute, a cast and a hash of one column each)
#
# Inputs are generated once into bench/out/ (deterministic, cached). Each run times both tools, alternating which
# goes first, with /usr/bin/time (wall, user+sys CPU, peak RSS); then it prints medians and pipe/duckdb ratios.
set -euo pipefail
rows="${1:-1000000}"
runs="${2:-3}"
shapes="${SHAPES:-narrow wide}"
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
trap 'rm -rf "$work"' EXIT
export DATASPOC_PIPE_HOME="$work/home"
mkdir -p "$DATASPOC_PIPE_HOME/pipelines"

# pipeline_for NAME INPUT BUCKET_DIR [EXTRA_YAML]: writes the pipeline YAML whose tap replays INPUT.
pipeline_for() {
  { cat <<YAML
source:
  tap: "$here/replay-tap.sh $2"
  name: bench
destination:
  bucket: "file://$3"
  path: raw
  compression: zstd
YAML
    printf '%s\n' "${4:-}"; } >"$DATASPOC_PIPE_HOME/pipelines/$1.yaml"
}

# The transforms of each variation of the narrow shape (stream "orders").
variation_yaml() {
  case "$1" in
    projected) printf 'transforms:\n  orders: {drop: [note], rename: {name: customer}, select: [id, name, amount, flag, status, created_at, qty]}' ;;
    typed) printf 'transforms:\n  orders: {filter: "qty > 5", compute: {total: "amount * qty"}, cast: {qty: number}, hash: [name]}' ;;
    *) ;;
  esac
}

parquet_bytes() { find "$1" -name '*.parquet' -printf '%s\n' 2>/dev/null | awk '{s+=$1} END {print s+0}'; }
parquet_rows() {
  "$duckdb_runner" --sql "select count(*) from read_parquet('$1/**/*.parquet')" 2>/dev/null | tail -1
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
      pipeline_for "$name" "$input" "$target" "$(variation_yaml "${shape#*+}")"
      if ! /usr/bin/time -f "%e %U %S %M" -o "$t" "$pipe" run "$name" >"$out/pipe-run.log" 2>&1; then
        echo "pipe run failed ($shape, run $run): see $out/pipe-run.log" >&2; return 1
      fi
      size="$(parquet_bytes "$target")"
      if [ "$run" = 1 ]; then
        local got; got="$(parquet_rows "$target")"
        [ "$got" = "$n" ] || echo "WARNING: pipe wrote $got rows for $n ($shape)" >&2
      fi ;;
    duckdb)
      /usr/bin/time -f "%e %U %S %M" -o "$t" "$duckdb_runner" "$input" "$target/out.parquet" "$duckdb_mode" 2>/dev/null
      size="$(parquet_bytes "$target")" ;;
  esac
  read -r wall user sys rss <"$t"
  local cpu; cpu="$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f", u+s}')"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$shape" "$n" "$(stat -c %s "$input")" "$tool" "$run" "$wall" "$cpu" "$rss" "$size" >>"$results"
  printf '  %-6s %-6s run %s: wall %6.2f s  cpu %6.2f s  peak %6d MiB  output %8.1f MB\n' \
    "$shape" "$tool" "$run" "$wall" "$cpu" $((rss / 1024)) "$(awk -v b="$size" 'BEGIN {print b/1e6}')"
}

for shape in $shapes; do
  n="$rows"; [ "$shape" = wide ] && n="$wide_rows"
  input="$out/$shape-$n.singer"
  if [ ! -f "$input" ]; then
    echo "generating $input ..." >&2
    "$generator" "$shape" "$n" "$input"
  fi
  echo "$shape: $n rows, $(( $(stat -c %s "$input") / 1000000 )) MB ($input)"
  cat "$input" >/dev/null  # both tools then read it from the page cache
  for run in $(seq 1 "$runs"); do
    # Alternate who goes first, so neither always gets the cooler machine.
    if [ $((run % 2)) = 1 ]; then order="pipe duckdb"; else order="duckdb pipe"; fi
    for tool in $order; do
      if [ "$tool" = pipe ] && [ "$pipe_ok" != 1 ]; then continue; fi
      case " ${TOOLS:-pipe duckdb} " in *" $tool "*) ;; *) continue ;; esac
      measure "$shape" "$n" "$input" "$tool" "$run" || pipe_ok=0
    done
    if [ "$shape" = narrow ] && [ "$pipe_ok" = 1 ]; then
      for variation in ${VARIATIONS:-}; do
        [ "$variation" = plain ] || measure "$shape+$variation" "$n" "$input" pipe "$run" || pipe_ok=0
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
med = {}
for shape in dict.fromkeys(r["shape"] for r in rows):
    for tool in ("pipe", "duckdb"):
        rs = [r for r in rows if r["shape"] == shape and r["tool"] == tool]
        if not rs: continue
        m = lambda k: statistics.median(float(r[k]) for r in rs)
        med[shape, tool] = dict(wall=m("wall_s"), cpu=m("cpu_s"), rss=m("peak_rss_kib") / 1024, size=m("output_bytes") / 1e6,
                                n=int(rs[0]["rows"]), mb=int(rs[0]["input_bytes"]) / 1e6)
print(f"{'shape':8} {'tool':7} {'rows':>10} {'input MB':>9} {'wall s':>8} {'cpu s':>8} {'peak MiB':>9} {'out MB':>8}")
for (shape, tool), v in med.items():
    print(f"{shape:8} {tool:7} {v['n']:>10} {v['mb']:>9.1f} {v['wall']:>8.2f} {v['cpu']:>8.2f} {v['rss']:>9.0f} {v['size']:>8.2f}")
for shape in dict.fromkeys(s for s, _ in med):
    p, d = med.get((shape, "pipe")), med.get((shape, "duckdb"))
    if p and d:
        print(f"{shape}: pipe/duckdb  wall {p['wall']/d['wall']:.2f}  cpu {p['cpu']/d['cpu']:.2f}  "
              f"peak RSS {p['rss']/d['rss']:.2f}  output {p['size']/d['size']:.2f}")
    elif d:
        print(f"{shape}: pipe half unavailable{': ' + why if why else ''}")
    elif p and "+" in shape and (base := med.get((shape.split("+")[0], "pipe"))):
        print(f"{shape}: /plain pipe  wall {p['wall']/base['wall']:.2f}  cpu {p['cpu']/base['cpu']:.2f}  peak RSS {p['rss']/base['rss']:.2f}")
if startup:
    print(f"start-up: dataspoc-pipe --version median {startup} ms")
PY
