#!/usr/bin/env bash
# End-to-end forwarding: the release mcpcol pinned to core 0, the load and the sink on
# core 1, STREAMS concurrent gRPC streams of 100-span requests for SECONDS, once with the
# memory queue and once with the persistent queue. Usage: scripts/forward-bench.sh [STREAMS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
streams=${1:-16}
seconds=${2:-10}
cargo build --release --quiet --bin mcpcol --example forward_bench
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
run() {
  local label=$1; shift
  local sink_port log pid grpc
  sink_port=$(free_port)
  log=$(mktemp)
  taskset -c 0 ./target/release/mcpcol --log-format json \
    --set receivers.otlp.grpc.endpoint=127.0.0.1:0 --set receivers.otlp.http.endpoint=127.0.0.1:0 \
    --set metrics.endpoint=127.0.0.1:0 --set "exporters.jaeger.endpoint=http://127.0.0.1:$sink_port" "$@" 2>"$log" &
  pid=$!
  for _ in $(seq 100); do grep -q otlp_grpc "$log" && break; sleep 0.1; done
  grpc=$(grep -o '"otlp_grpc":"[^"]*"' "$log" | cut -d'"' -f4)
  printf '%-28s ' "$label"
  taskset -c 1 ./target/release/examples/forward_bench "http://$grpc" "$sink_port" "$streams" "$seconds"
  printf '%-28s rss_mib=%s\n' "" "$(awk '/VmHWM/ {printf "%.1f", $2/1024}' /proc/$pid/status)"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -f "$log"
}
run "memory queue, live view off" --set live.enabled=false
run "memory queue"
run "memory queue, live view off" --set live.enabled=false
dir=$(mktemp -d)
run "persistent queue" --set "exporters.queue.directory=$dir"
rm -rf "$dir"
