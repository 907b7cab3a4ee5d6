#!/usr/bin/env bash
# podchain's containerd instances, scripted and idempotent. Used by ci/up.sh
# (the main job) and by the containerd test suites.
#
#   containerd.sh install          apt-install containerd, runc, CNI plugins,
#                                  busybox-static when missing
#   containerd.sh images DIR       build the OCI images (ci/images.py) into DIR
#   containerd.sh up DIR INDEX     start an instance rooted at DIR (its own
#                                  root, state, socket DIR/containerd.sock,
#                                  bridge podchain<INDEX>, pod subnet
#                                  10.88.<INDEX>.0/24) unless it already
#                                  answers; import the images; print the socket
#   containerd.sh down DIR         kill the instance's containers and the instance
#
# Several instances run side by side: each has its own DIR and INDEX. Nothing
# pulls from a registry: the sandbox image is the local podchain.local/pause:1.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# runc and the CNI tools live in sbin directories, which some environments leave off PATH.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
PACKAGES=(containerd runc containernetworking-plugins busybox-static)
CNI_BIN=/usr/lib/cni

install() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "containerd.sh: installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
}

images() {
  local out=$1
  mkdir -p "$out"
  python3 "$HERE/images.py" "$out" >&2
}

answers() {
  # ctr waits 10 s for a socket that is not there; look first.
  [ -S "$1" ] && timeout 5 ctr --address "$1" version >/dev/null 2>&1
}

up() {
  local dir=$1 index=$2
  case $index in ''|*[!0-9]*) echo "containerd.sh: INDEX must be a number 1-254" >&2; exit 2;; esac
  [ "$index" -ge 1 ] && [ "$index" -le 254 ] || { echo "containerd.sh: INDEX must be 1-254" >&2; exit 2; }
  install
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local sock=$dir/containerd.sock
  if answers "$sock"; then
    echo "$sock"
    return
  fi
  mkdir -p "$dir/root" "$dir/state" "$dir/net.d" "$dir/ipam" "$dir/images"
  local runc
  runc=$(command -v runc) || { echo "containerd.sh: runc is not installed" >&2; exit 1; }
  cat >"$dir/net.d/10-podchain.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "podchain-$index",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "podchain$index",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$dir/ipam",
        "ranges": [[{"subnet": "10.88.$index.0/24", "gateway": "10.88.$index.1"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  cat >"$dir/config.toml" <<EOF
# Written by podchain ci/containerd.sh; instance $index.
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "$sock"

[ttrpc]
  address = "$sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "podchain.local/pause:1"
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "$dir/state/runc"
        BinaryName = "$runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN"
    conf_dir = "$dir/net.d"
    max_conf_num = 1
EOF
  nohup containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1 &
  echo $! >"$dir/containerd.pid"
  for _ in $(seq 1 200); do
    answers "$sock" && break
    kill -0 "$(cat "$dir/containerd.pid")" 2>/dev/null || { echo "containerd.sh: containerd exited; see $dir/containerd.log" >&2; tail -20 "$dir/containerd.log" >&2; exit 1; }
    sleep 0.05
  done
  answers "$sock" || { echo "containerd.sh: containerd did not answer on $sock; see $dir/containerd.log" >&2; exit 1; }
  images "$dir/images"
  for t in pause sample; do
    ctr --address "$sock" -n k8s.io images import --no-unpack=false "$dir/images/$t.tar" >&2
  done
  echo "$sock"
}

down() {
  local dir=$1
  dir=$(cd "$dir" 2>/dev/null && pwd) || return 0
  local sock=$dir/containerd.sock
  if answers "$sock"; then
    for t in $(ctr --address "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr --address "$sock" -n k8s.io tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true
    done
  fi
  if [ -f "$dir/containerd.pid" ]; then
    kill "$(cat "$dir/containerd.pid")" 2>/dev/null || true
    rm -f "$dir/containerd.pid"
  fi
  # Shims outlive containerd by design; ours are the ones naming our socket.
  pkill -9 -f "containerd-shim-runc-v2 .*-address $sock" 2>/dev/null || true
}

cmd=${1:-}
shift || true
case $cmd in
  install) install ;;
  images) images "$@" ;;
  up) up "$@" ;;
  down) down "$@" ;;
  *) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac
