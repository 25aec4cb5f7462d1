#!/usr/bin/env bash
# A "tap" that replays a recorded Singer stream: prints the file and exits.
# The file is the first argument (when it is not an option) or $REPLAY_FILE; the --config/--state/--catalog
# options the engine appends are ignored.
file="${REPLAY_FILE:-}"
if [ $# -gt 0 ] && [[ "$1" != --* ]]; then file="$1"; fi
[ -n "$file" ] || { echo "replay-tap: no file (pass it as the first argument or in REPLAY_FILE)" >&2; exit 2; }
exec cat "$file"
