#!/usr/bin/env bash
# The main job: the whole cluster on this machine. Installs containerd, runc,
# the CNI plugins and protoc through apt when missing, builds podchain,
# starts a containerd instance of podchain's own (ci/containerd.sh: local
# images, bridge network 10.88.1.0/24), `podchain server` (embedded store,
# apiserver, controllers, scheduler) and one kubelet on that containerd,
# applies the sample Deployment and waits until its pods run in containerd.
# Everything stays running in the background; `bash ci/down.sh` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${PODCHAIN_DATA:-$PWD/podchain-data}
LISTEN=${PODCHAIN_LISTEN:-127.0.0.1:6443}
NODE=${PODCHAIN_NODE:-node-1}
mkdir -p "$DATA/logs"
[ "$(id -u)" = 0 ] || { echo "ci/up.sh runs containerd and needs root"; exit 1; }

echo "== installing what is missing (apt)"
bash ci/install.sh --cluster

echo "== building podchain (release)"
cargo build --release -p podchain
BIN=$PWD/target/release/podchain

if [ -f "$DATA/pids" ]; then
  bash ci/down.sh || true
fi

echo "== starting containerd (root $DATA/containerd)"
SOCK=$(bash ci/containerd.sh up "$DATA/containerd" 1)

echo "== starting the control plane on $LISTEN (data in $DATA)"
nohup "$BIN" server --data-dir "$DATA" --listen "$LISTEN" --audit-log-path "$DATA/logs/audit.log" >"$DATA/logs/server.log" 2>&1 &
echo $! >"$DATA/pids"
for _ in $(seq 1 100); do
  [ -f "$DATA/kubeconfig" ] && "$BIN" get ns --kubeconfig "$DATA/kubeconfig" >/dev/null 2>&1 && break
  sleep 0.1
done
"$BIN" get ns --kubeconfig "$DATA/kubeconfig" >/dev/null || { echo "the server did not start; see $DATA/logs/server.log"; exit 1; }

echo "== starting kubelet $NODE on containerd ($SOCK)"
nohup "$BIN" kubelet --node "$NODE" --runtime cri --container-runtime-endpoint "unix://$SOCK" \
  --pod-log-dir "$DATA/pods" --kubeconfig "$DATA/kubeconfig" >"$DATA/logs/kubelet-$NODE.log" 2>&1 &
echo $! >>"$DATA/pids"

echo "== applying examples/sample-deployment.yaml"
"$BIN" apply -f examples/sample-deployment.yaml --kubeconfig "$DATA/kubeconfig"

echo "== waiting for the sample pods"
for _ in $(seq 1 600); do
  running=$("$BIN" get pods -n default --kubeconfig "$DATA/kubeconfig" | grep -c ' Running ' || true)
  [ "$running" -ge 3 ] && break
  sleep 0.1
done
"$BIN" get deployments -n default --kubeconfig "$DATA/kubeconfig"
"$BIN" get pods -n default --kubeconfig "$DATA/kubeconfig"
echo "== the same pods in containerd (ctr -n k8s.io containers ls)"
ctr --address "$SOCK" -n k8s.io containers ls
[ "$running" -ge 3 ] || { echo "the sample pods did not all start; see $DATA/logs"; exit 1; }
cat <<MSG

The cluster is running. Use it with:
  export KUBECONFIG=$DATA/kubeconfig
  kubectl get pods -o wide
  curl http://<pod IP>:8080/
  kubectl logs -f <pod>
Logs are in $DATA/logs; stop everything with: bash ci/down.sh
MSG
