#!/usr/bin/env bash
# Memory under a cardinality flood: starts the release mcpcol on free ports, sends TOTAL
# spans (default 1 000 000) each with a new tool name and a new session id, and prints
# mcpcol's RSS every tenth of the way. Extra mcpcol options: MCPCOL_ARGS.
# Usage: [MCPCOL_ARGS='--set k=v …'] scripts/flood-rss.sh [TOTAL]
set -euo pipefail
cd "$(dirname "$0")/.."
total=${1:-1000000}
cargo build --release --quiet --bin mcpcol --example cardinality_flood
log=$(mktemp)
./target/release/mcpcol --log-format json \
  --set receivers.otlp.grpc.endpoint=127.0.0.1:0 \
  --set receivers.otlp.http.endpoint=127.0.0.1:0 \
  --set metrics.endpoint=127.0.0.1:0 ${MCPCOL_ARGS:-} 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q otlp_grpc "$log" && break; sleep 0.1; done
grpc=$(grep -o '"otlp_grpc":"[^"]*"' "$log" | cut -d'"' -f4)
admin=$(grep -o '"metrics":"[^"]*"' "$log" | cut -d'"' -f4)
echo "mcpcol pid $pid, gRPC $grpc, admin $admin, defaults: metrics.max_series=50000, max_targets_per_service=1000, sessions.max_active=20000"
./target/release/examples/cardinality_flood "http://$grpc" "$admin" "$pid" "$total"
