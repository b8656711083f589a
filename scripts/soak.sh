#!/usr/bin/env bash
# The BENCHMARKS.md soak (issue 10): builds the release mcpcol and mcpcol-load, then runs
# scripts/soak.py: saturation measured for 20 s, then 30 minutes at half of it with a
# failure event every 5 minutes (downstream outage, SIGHUP, 100K tool names, 100K
# sessions, 200 slow clients); RSS, open fds, queues and counters every 10 s into
# target/soak.csv, plotted into docs/soak.png; the span accounting checked at the end.
# Usage: scripts/soak.sh [--minutes M] [--event-every S] [--rate SPANS_PER_S] [...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(nproc)" -lt 2 ]; then
  echo "soak.sh needs 2 cores (one for mcpcol, one for the load); this machine has $(nproc)" >&2
  exit 2
fi
cargo build --release --quiet --workspace --bins
exec python3 scripts/soak.py "$@"
