#!/usr/bin/env bash
# Runs every test. On a fresh machine it first installs what the tests start for real (PostgreSQL from Debian,
# Azurite and s3rver from npm) and what the native build links with (clang); the tests start and stop those servers
# on 127.0.0.1, and run the CLI as the native binary the launcher builds.
#
# The test projects run side by side in three lanes (most of their time is spent waiting on processes, servers and
# faults, not on the CPU), each project's console output going to .build/test-results/<project>.log and printed when
# it ends; the native build of the CLI runs beside the first two lanes, which do not start it. That build is
# CPU-bound and heads the longest lane (the CLI tests wait for it), so it runs at a higher priority than the tests: as
# root, in a session of its own whose scheduling group (Linux's autogroup) has nice -5, and the two lanes beside it at
# nice 5, below the CLI tests that follow it. On 2 cores with a fresh build and every lane in one session, the native
# build took 435 s with the lanes at nice 5 (its compiler got ~0.65 of a core), 403 s at nice 10 and 232 s at nice 19,
# but then the tests beside it starved for seconds (a 3 s lease test lost its lock before its fault): a group's
# priority bounds what the tests together keep, whatever their number of threads. Inside Pipe.Tests,
# xunit runs four test classes at a time (its xunit.runner.json), not one per core. (The others stay at one per
# core: with four, the GCS stand-in in Cloud.Tests dropped requests and the CLI signal tests timed out under load.)
# TEST_SERIAL=1 runs the projects one after another instead (the old order, for timing one project alone).
# DATASPOC_PIPE_BIN=/path/to/dataspoc-pipe makes the CLI and MCP tests start that binary and skips the native build.
# Arguments go to every `dotnet test` (e.g. --filter "FullyQualifiedName~Merge").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
bash .ci/setup
results="$root/.build/test-results"
rm -rf "$results"
mkdir -p "$results"
clock() { date +%s; }
started=$(clock)
# Every test project and its references, built once (the lanes then run with --no-build).
dotnet build DataSpoc.Pipe.slnx -c Release --nologo -v quiet -clp:ErrorsOnly
echo "build: $(( $(clock) - started )) s"
# The tests start their taps as `python3 <script>` (and scripts with `#!/usr/bin/env python3`) through PATH, about
# 2,000 times (1,425 in Pipe.Tests, 411 in Cloud.Tests). When that python3 is a version manager's shim (pyenv's is a
# bash script that works out the version on every start: a tap start then costs ~0.17 s CPU, ~0.06-0.08 s without it),
# the interpreter the shim picks goes first on PATH: the same python, started directly.
python_bin="$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || true)"
if [ -n "$python_bin" ] && [ "$python_bin" != "$(command -v python3)" ]; then
  mkdir -p "$root/.build/test-path"
  ln -sfn "$python_bin" "$root/.build/test-path/python3"
  export PATH="$root/.build/test-path:$PATH"
fi
given_bin="${DATASPOC_PIPE_BIN:-}"
export DATASPOC_PIPE_BIN="${given_bin:-$root/.build/cli/dataspoc-pipe}"

# run_project NAME: one test project, its console output to its log, its wall time and exit status to files.
run_project() {
  local name="$1" t0
  t0=$(clock)
  local status=0
  dotnet test "test/$name" -c Release --no-build --nologo \
    --logger "trx;LogFileName=$name.trx" --results-directory "$results" \
    --logger "console;verbosity=normal" "${test_args[@]}" >"$results/$name.log" 2>&1 || status=$?
  echo "$status" >"$results/$name.status"
  echo "$name: $(( $(clock) - t0 )) s, exit $status" | tee "$results/$name.time"
}
# The CLI tests start the shipped binary: the launcher compiles it (Native AOT) when a source changed.
build_cli() {
  local t0; t0=$(clock)
  if [ -n "$given_bin" ]; then echo "native build skipped: the CLI tests start $given_bin"; return 0; fi
  # Where Linux schedules each session as one group (autogroup, the default) and we may raise a group's priority (root),
  # the build runs in a session of its own at group nice -5: its compiler then gets ~3/4 of each core it uses however
  # many threads the tests beside it run, and the tests together keep the rest (see the top). Elsewhere it stays in the
  # tests' session: a group of its own at equal priority gave it less than the lanes' nice does (504 s against 435 s).
  local launch=(./dataspoc-pipe)
  if [ "$(id -u)" = 0 ] && [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ] && command -v setsid >/dev/null 2>&1; then
    launch=(setsid -w bash -c 'echo -5 >/proc/self/autogroup 2>/dev/null; exec "$@"' native-build ./dataspoc-pipe)
  fi
  if "${launch[@]}" --version >"$results/native-build.log" 2>&1; then
    echo "native build: $(( $(clock) - t0 )) s"
  else
    echo "native build failed (see $results/native-build.log):" >&2
    cat "$results/native-build.log" >&2
    return 1
  fi
}
# The CLI lane: the native binary first, then the two projects that start it, side by side (by then the other lanes
# have mostly ended, and both projects mostly wait on the processes they start).
cli_lane() {
  if build_cli; then
    run_project DataSpoc.Pipe.Cli.Tests &
    run_project DataSpoc.Pipe.Mcp.Tests
    wait
  else
    for name in DataSpoc.Pipe.Cli.Tests DataSpoc.Pipe.Mcp.Tests; do echo 1 >"$results/$name.status"; done
  fi
}
test_args=("$@")
# The niceness of the two lanes beside the native build (TEST_NICE=0: all lanes equal; see the top).
test_nice="${TEST_NICE:-5}"

if [ "${TEST_SERIAL:-0}" = 1 ]; then
  build_cli || exit 1
  for name in DataSpoc.Pipe.Tests DataSpoc.Pipe.Api.Tests DataSpoc.Pipe.Mcp.Tests DataSpoc.Pipe.Cloud.Tests DataSpoc.Pipe.Cli.Tests; do
    run_project "$name"
    cat "$results/$name.log"
  done
else
  # Longest first in its own lane; the cloud servers' project and the short API tests share the second.
  # Both at a lower CPU priority than the CLI lane (see the top); their child processes inherit it.
  { renice -n "$test_nice" "$BASHPID" >/dev/null || true; run_project DataSpoc.Pipe.Tests; } &
  lanes=($!)
  { renice -n "$test_nice" "$BASHPID" >/dev/null || true; run_project DataSpoc.Pipe.Cloud.Tests; run_project DataSpoc.Pipe.Api.Tests; } &
  lanes+=($!)
  cli_lane &
  lanes+=($!)
  wait "${lanes[@]}" || true
  for name in DataSpoc.Pipe.Tests DataSpoc.Pipe.Cloud.Tests DataSpoc.Pipe.Api.Tests DataSpoc.Pipe.Cli.Tests DataSpoc.Pipe.Mcp.Tests; do
    echo "===== $name"
    cat "$results/$name.log" 2>/dev/null || echo "(no output: see above)"
  done
fi
status=0
for name in DataSpoc.Pipe.Tests DataSpoc.Pipe.Api.Tests DataSpoc.Pipe.Mcp.Tests DataSpoc.Pipe.Cloud.Tests DataSpoc.Pipe.Cli.Tests; do
  [ "$(cat "$results/$name.status" 2>/dev/null || echo 1)" = 0 ] || status=1
done
echo "per project: $(cat "$results"/*.time 2>/dev/null | tr '\n' ';' | sed 's/;$//; s/;/; /g')"
echo "total: $(( $(clock) - started )) s after setup"
# One closing line that any CI reads: 'N passed, N failed'.
python3 - "$results" <<'PY' || true
import sys, glob, xml.etree.ElementTree as ET
p = f = s = 0
durations = []
failures = []
for path in glob.glob(sys.argv[1] + "/*.trx"):
    root = ET.parse(path).getroot()
    for r in root.findall(".//{*}UnitTestResult"):
        h, m, sec = r.get("duration", "0:0:0").split(":")
        durations.append((int(h) * 3600 + int(m) * 60 + float(sec), r.get("testName", "")))
        if r.get("outcome") not in ("Passed", "NotExecuted"):
            failures.append((r.get("testName", ""), "\n".join(e.text or "" for e in
                r.findall(".//{*}ErrorInfo/{*}Message") + r.findall(".//{*}ErrorInfo/{*}StackTrace"))))
    c = root.find(".//{*}Counters")
    if c is None: continue
    p += int(c.get("passed", 0)); f += int(c.get("failed", 0)) + int(c.get("error", 0)) + int(c.get("timeout", 0)) + int(c.get("aborted", 0))
    s += int(c.get("notExecuted", 0))
# The slowest tests, where time is spent first (each project's .trx has every test's duration).
for seconds, name in sorted(durations, reverse=True)[:10]:
    print(f"slow: {seconds:6.1f} s {name[:150]}")
# Each failed test with the head of its message, last: a CI that keeps only the end of the output still names it.
for name, message in failures:
    print(f"failed: {name}")
    for line in message.strip().splitlines()[:12]:
        print(f"    {line[:300]}")
print(f"tests: {p} passed, {f} failed, {s} skipped")
PY
exit $status
