#!/usr/bin/env bash
# Every check CI runs, on a fresh machine or this one: installs the test peers (Debian
# packages, the Python venv under .venv), then formatting, lints and the whole test suite.
# Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }
started=$(date +%s)
# A CI build is used once: incremental caches only cost disk (and the disk has run out before).
export CARGO_INCREMENTAL=0

step "test peers: Debian packages"
apt_packages=(prometheus chromium openssl)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi
echo "ok (${apt_packages[*]:-none needed})"

step "test peers: Python venv (.venv)"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -r tests/python/requirements.txt
.venv/bin/python -c "import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.grpc, opentelemetry.exporter.otlp.proto.http; print('ok')"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo build --examples"
# mcp-tracing's end-to-end test runs the demo example as its own processes; under
# `cargo test --all-targets` examples are built as test harnesses, not runnable programs.
cargo build --workspace --examples

step "cargo test"
# Peers are required here: a missing one fails the run instead of skipping its test.
MCPCOL_REQUIRE_PEERS=1 cargo test --workspace --all-targets

step "cargo test --doc"
# Doc examples (mcp-tracing's crate docs, the JSON scanner's) compile and run; --all-targets
# above does not include them.
cargo test --workspace --doc

step "fuzz (brief)"
# Each cargo-fuzz target for 60 s from the seeded corpus (scripts/fuzz.sh 3600: an hour).
scripts/fuzz.sh 60

step "done in $(( $(date +%s) - started ))s"
