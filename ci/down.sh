#!/usr/bin/env bash
# Stops what ci/up.sh started (the data directory is kept).
set -uo pipefail
cd "$(dirname "$0")/.."
DATA=${PODCHAIN_DATA:-$PWD/podchain-data}
[ -f "$DATA/pids" ] || { echo "nothing to stop"; exit 0; }
while read -r pid; do
  kill "$pid" 2>/dev/null || true
done <"$DATA/pids"
rm -f "$DATA/pids"
echo "stopped"
