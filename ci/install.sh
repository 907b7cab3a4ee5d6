#!/usr/bin/env bash
# Installs what podchain needs, idempotently: Debian packages (containerd,
# runc, CNI plugins and busybox-static for the containerd runtime and its
# images; protoc to generate the CRI client) and, unless --cluster (what
# ci/up.sh passes: the cluster alone), what the tests and the benchmark
# need besides: etcd-server (the store's peer), chromium (the benchmark
# report's rendering test) and the Python packages of the client tests.
set -euo pipefail
cd "$(dirname "$0")/.."
APT_PACKAGES=(containerd runc containernetworking-plugins busybox-static protobuf-compiler iproute2)
if [ "${1:-}" != "--cluster" ]; then
  APT_PACKAGES+=(etcd-server chromium)
fi
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ "${1:-}" != "--cluster" ]; then
  python3 -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
fi
