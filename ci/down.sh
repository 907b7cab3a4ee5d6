#!/usr/bin/env bash
# Stops what ci/up.sh started: podchain's processes, then the containerd
# instance with every container it runs (the data directory is kept).
set -uo pipefail
cd "$(dirname "$0")/.."
DATA=${PODCHAIN_DATA:-$PWD/podchain-data}
if [ -f "$DATA/pids" ]; then
  while read -r pid; do
    kill "$pid" 2>/dev/null || true
  done <"$DATA/pids"
  rm -f "$DATA/pids"
fi
[ -d "$DATA/containerd" ] && bash ci/containerd.sh down "$DATA/containerd"
echo "stopped"
