#!/usr/bin/env bash
# The main job: the whole cluster on this machine. Builds podchain, starts
# `podchain server` (embedded store, apiserver, controllers, scheduler) and
# one kubelet, applies the sample Deployment and waits until its pods run.
# Everything stays running in the background; `bash ci/down.sh` stops it.
#
# Until the containerd runtime lands, the kubelet runs the simulated
# runtime (no processes; see README "Simplifications").
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${PODCHAIN_DATA:-$PWD/podchain-data}
LISTEN=${PODCHAIN_LISTEN:-127.0.0.1:6443}
mkdir -p "$DATA/logs"

echo "== building podchain (release)"
cargo build --release -p podchain
BIN=$PWD/target/release/podchain

if [ -f "$DATA/pids" ]; then
  bash ci/down.sh || true
fi

echo "== starting the control plane on $LISTEN (data in $DATA)"
nohup "$BIN" server --data-dir "$DATA" --listen "$LISTEN" >"$DATA/logs/server.log" 2>&1 &
echo $! >"$DATA/pids"
for _ in $(seq 1 100); do
  [ -f "$DATA/kubeconfig" ] && "$BIN" get ns --kubeconfig "$DATA/kubeconfig" >/dev/null 2>&1 && break
  sleep 0.1
done
"$BIN" get ns --kubeconfig "$DATA/kubeconfig" >/dev/null || { echo "the server did not start; see $DATA/logs/server.log"; exit 1; }

echo "== starting kubelet node-1"
nohup "$BIN" kubelet --node node-1 --runtime sim --kubeconfig "$DATA/kubeconfig" >"$DATA/logs/kubelet-node-1.log" 2>&1 &
echo $! >>"$DATA/pids"

echo "== applying examples/sample-deployment.yaml"
"$BIN" apply -f examples/sample-deployment.yaml --kubeconfig "$DATA/kubeconfig"

echo "== waiting for the sample pods"
for _ in $(seq 1 300); do
  running=$("$BIN" get pods -n default --kubeconfig "$DATA/kubeconfig" | grep -c ' Running ' || true)
  [ "$running" -ge 3 ] && break
  sleep 0.1
done
"$BIN" get deployments -n default --kubeconfig "$DATA/kubeconfig"
"$BIN" get pods -n default --kubeconfig "$DATA/kubeconfig"
cat <<MSG

The cluster is running. Use it with:
  export KUBECONFIG=$DATA/kubeconfig
  kubectl get pods -o wide
Logs are in $DATA/logs; stop everything with: bash ci/down.sh
MSG
