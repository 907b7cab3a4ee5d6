#!/usr/bin/env bash
# The whole test suite: unit, harness, store conformance, end-to-end
# processes, loom, bounded fuzzing, the Python kubernetes client, and the
# benchmark's reduced run (`podchain bench all --quick`). README's second command;
# .ci/run runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each section's heading says how far into the run it starts.
section() { echo "== [$((SECONDS / 60))m$((SECONDS % 60))s] $*"; }
bash ci/install.sh
section "the bad-manifest corpus and its rules table are what generate.py makes"
(cd tests/bad-manifests && python3 generate.py >/dev/null)
if git rev-parse --git-dir >/dev/null 2>&1; then
  git diff --exit-code -- tests/bad-manifests || { echo "tests/bad-manifests is stale: run python3 generate.py there and commit"; exit 1; }
fi
section "building the workspace"
cargo build --workspace --all-targets
section "clippy: the wall clock is read in one place (clippy.toml)"
cargo clippy --workspace --all-targets -- -A clippy::all -D clippy::disallowed_methods
section "Rust tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
section "the release build (the benchmark's) and the model's heavy configurations in it"
cargo build --release -p podchain
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --release -p model --run-ignored only --no-fail-fast
else
  cargo test --release -p model --no-fail-fast -- --ignored
fi
section "loom: the watch cache and work queue under every interleaving"
bash ci/loom.sh
section "fuzzing: every target, ${FUZZ_SECONDS:-30}s each"
FUZZ_SECONDS=${FUZZ_SECONDS:-30} bash ci/fuzz.sh
section "Python kubernetes client against podchain"
PODCHAIN_BIN=$PWD/target/debug/podchain python3 -m pytest tests/python -q
section "benchmark: every scenario reduced (fails when a ratio is past its bound), and its report"
./target/release/podchain bench all --quick --out bench-results
./target/release/podchain bench --report --out bench-results
section "done"
