#!/usr/bin/env bash
# Fuzzes the cargo-fuzz targets in fuzz/: installs cargo-fuzz if missing, seeds each
# target's corpus from the captured spans, runs each target for a while, prints execs
# and time per target. Exits non-zero if any target crashed, naming the artifact.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default: 60 s, every target)
#   scripts/fuzz.sh 60      what CI runs (scripts/test.sh)
#   scripts/fuzz.sh 3600    the long run (an hour per target)
# FUZZ_SANITIZER=address adds AddressSanitizer (slower; the default is none: mcpcol
# forbids unsafe code, and panics and failed assertions are caught either way).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
case "$seconds" in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2; exit 2 ;;
esac
sanitizer=${FUZZ_SANITIZER:-none}
started=$(date +%s)

# cargo fuzz needs nightly flags: nightly when installed, else stable told to allow them.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <("${fuzz[@]}" list)
fi

echo "== seeding fuzz/corpus from the captures"
python3 fuzz/seed_corpus.py .

echo "== building ${#targets[@]} targets (sanitizer: $sanitizer)"
build_started=$(date +%s)
for target in "${targets[@]}"; do
  "${fuzz[@]}" build -s "$sanitizer" "$target"
done
build_seconds=$(( $(date +%s) - build_started ))

mkdir -p fuzz/logs
failed=()
summary=()
for target in "${targets[@]}"; do
  echo "== $target: ${seconds}s"
  log=fuzz/logs/$target.log
  args=(-max_total_time="$seconds" -timeout=20 -print_final_stats=1)
  [ -f "fuzz/dicts/$target.dict" ] && args+=(-dict="fuzz/dicts/$target.dict")
  target_started=$(date +%s)
  status=ok
  "${fuzz[@]}" run -s "$sanitizer" "$target" -- "${args[@]}" >"$log" 2>&1 || status=CRASH
  took=$(( $(date +%s) - target_started ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  corpus=$(find "fuzz/corpus/$target" -type f | wc -l)
  if [ "$status" != ok ]; then
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    failed+=("$target")
    echo "   CRASH: ${artifact:-no artifact written} (log: $log)"
    grep -m1 -A8 -E "panicked at|ERROR: libFuzzer|==ERROR" "$log" | sed 's/^/   /' || true
    # libFuzzer stops at the first crash; the stats line may be missing then.
    execs=${execs:-$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')}
    echo "   reproduce: ${fuzz[*]} run -s $sanitizer $target ${artifact:-fuzz/artifacts/$target/...}"
  fi
  printf '   %s execs in %ss\n' "${execs:-?}" "$took"
  summary+=("$(printf '%-14s %12s execs %6ss %8s/s  corpus %5s  %s' "$target" "${execs:-?}" \
    "$took" "$(( ${execs:-0} / (took > 0 ? took : 1) ))" "$corpus" "$status")")
done

echo
echo "== summary ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, sanitizer $sanitizer," \
  "build ${build_seconds}s, total $(( $(date +%s) - started ))s)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "crashed: ${failed[*]} (artifacts in fuzz/artifacts/TARGET/, logs in fuzz/logs/)" >&2
  exit 1
fi
