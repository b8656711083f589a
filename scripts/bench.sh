#!/usr/bin/env bash
# The BENCHMARKS.md performance table: builds the release mcpcol and mcpcol-load, then runs
# scripts/bench.py (mcpcol pinned to core 0, the load generator to core 1; every
# configuration 3 times; figures min / median / max; ratios to the protobuf-decode
# ceiling measured in the same run). Takes about 8 minutes with the defaults.
# Usage: scripts/bench.sh [--runs N] [--seconds S] [--only CONFIGURATION] [--out FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(nproc)" -lt 2 ]; then
  echo "bench.sh needs 2 cores (one for mcpcol, one for the load); this machine has $(nproc)" >&2
  exit 2
fi
cargo build --release --quiet --workspace --bins
exec python3 scripts/bench.py "$@"
