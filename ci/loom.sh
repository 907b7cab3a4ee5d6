#!/usr/bin/env bash
# loom checks of the watch cache and work queue (impl/watchcache/tests/loom.rs).
# Own target directory: --cfg loom would otherwise rebuild the main one.
set -euo pipefail
cd "$(dirname "$0")/.."
RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-3} \
  cargo test -p watchcache --release --test loom --target-dir target/loom
