#!/usr/bin/env bash
# Runs every test. On a fresh machine it first installs what the tests start for real (PostgreSQL from Debian,
# Azurite and s3rver from npm) and what the native build links with (clang); the tests start and stop those servers
# on 127.0.0.1, and run the CLI as the native binary the launcher builds.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
bash .ci/setup
# The CLI tests start the shipped binary: the launcher compiles it (Native AOT) when a source changed, then answers.
./dataspoc-pipe --version >/dev/null
export DATASPOC_PIPE_BIN="$root/.build/cli/dataspoc-pipe"
results="$root/.build/test-results"
rm -rf "$results"
status=0
dotnet test DataSpoc.Pipe.slnx -c Release --nologo \
  --logger "trx" --results-directory "$results" \
  --logger "console;verbosity=normal" "$@" || status=$?
# One closing line that any CI reads: 'N passed, N failed'.
python3 - "$results" <<'PY' || true
import sys, glob, xml.etree.ElementTree as ET
p = f = s = 0
for path in glob.glob(sys.argv[1] + "/*.trx"):
    c = ET.parse(path).getroot().find(".//{*}Counters")
    if c is None: continue
    p += int(c.get("passed", 0)); f += int(c.get("failed", 0)) + int(c.get("error", 0)) + int(c.get("timeout", 0)) + int(c.get("aborted", 0))
    s += int(c.get("notExecuted", 0))
print(f"tests: {p} passed, {f} failed, {s} skipped")
PY
exit $status
