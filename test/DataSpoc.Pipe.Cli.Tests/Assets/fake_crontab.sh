#!/bin/sh
# Stands in for crontab(1): keeps the table in $CRONTAB_FILE. 'crontab -l' prints it, 'crontab -' replaces it from stdin.
set -eu
case "${1:-}" in
  -l) if [ -f "$CRONTAB_FILE" ]; then cat "$CRONTAB_FILE"; else echo "no crontab for $(id -un)" >&2; exit 1; fi ;;
  -) cat > "$CRONTAB_FILE" ;;
  *) echo "usage: crontab -l | crontab -" >&2; exit 2 ;;
esac
