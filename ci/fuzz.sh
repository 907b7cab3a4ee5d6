#!/usr/bin/env bash
# Builds every fuzz target and runs each for FUZZ_SECONDS (default 60), failing on
# any crash, leak or timeout. `FUZZ_SECONDS=3600 bash ci/fuzz.sh` is the long run.
# Seeds (committed) are in fuzz/seeds/<target>; the growing corpus in fuzz/corpus/<target>.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${FUZZ_SECONDS:-60}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
cargo fuzz build
targets=$(cargo fuzz list)
for t in $targets; do
  mkdir -p "fuzz/corpus/$t"
  dirs=("fuzz/corpus/$t")
  [ -d "fuzz/seeds/$t" ] && dirs+=("fuzz/seeds/$t")
  echo "== fuzzing $t for ${SECS}s"
  cargo fuzz run "$t" "${dirs[@]}" -- -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 2>&1 \
    | grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+[[:space:]]+DONE)|ERROR|panicked|SUMMARY|artifact" || true
  # cargo fuzz exits non-zero on a crash; pipefail is off for grep's sake, so check
  # artifacts. crash-, leak-, timeout- (over -timeout=10 s) and oom- inputs fail the run;
  # slow-unit- inputs are libFuzzer's note that one input was slow, which a busy machine
  # causes too: they are shown (and kept for a look), not failed on.
  if ls "fuzz/artifacts/$t"/slow-unit-* >/dev/null 2>&1; then
    echo "fuzz target $t noted slow inputs (not a failure):"; ls "fuzz/artifacts/$t"/slow-unit-*
  fi
  if ls "fuzz/artifacts/$t"/* 2>/dev/null | grep -qv '/slow-unit-'; then
    echo "fuzz target $t found a failure:"; ls "fuzz/artifacts/$t"
    exit 1
  fi
done
