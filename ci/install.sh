#!/usr/bin/env bash
# Installs what the test suite needs, idempotently: Python packages now;
# apt packages (containerd, runc, CNI plugins, etcd, protoc) join as the
# suites that need them land.
set -euo pipefail
cd "$(dirname "$0")/.."
APT_PACKAGES=()
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
python3 -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
