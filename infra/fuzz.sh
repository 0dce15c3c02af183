#!/usr/bin/env bash
# Fuzzes modelmon's parsers with cargo-fuzz (libFuzzer): each target of fuzz/ for
# SECONDS_PER_TARGET seconds (default 120), one process at a time, starting from the seed corpus
# in fuzz/corpus/<target>/ plus the working corpus of earlier runs
# ($CARGO_TARGET_DIR/fuzz-corpus/<target>/). Run one instance at a time: two would share
# libFuzzer's fuzz-0.log in fuzz/.
# Prints the executions per target and fails if any target crashes; the crashing input is left in
# fuzz/artifacts/<target>/.
#
# Only stable Rust is needed: RUSTC_BOOTSTRAP=1 lets it accept the nightly flags cargo-fuzz uses.
# The targets are built as cargo-fuzz does by default: optimised, with AddressSanitizer, debug
# assertions and overflow checks (do not pass --release: that turns the last two off).
#
#   infra/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
set -euo pipefail

CARGO_FUZZ_VERSION=0.13.2
SECONDS_PER_TARGET=${1:-120}
shift || true

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/fuzz"

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/modelmon/fuzz-target}

if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

# The file-based targets write their inputs here (tmpfs when there is one); removed at the end.
scratch_base=/dev/shm
[ -d "$scratch_base" ] && [ -w "$scratch_base" ] || scratch_base=${TMPDIR:-/tmp}
export MODELMON_FUZZ_SCRATCH
MODELMON_FUZZ_SCRATCH=$(mktemp -d "$scratch_base/modelmon-fuzz.XXXXXX")
trap 'rm -rf "$MODELMON_FUZZ_SCRATCH"' EXIT

for target in "${targets[@]}"; do
    cargo fuzz build "$target"
done

failed=()
summary=()
for target in "${targets[@]}"; do
    # New inputs go to a working corpus outside the repository (kept across runs); the seeds in
    # fuzz/corpus/<target>/ are only read.
    work="$CARGO_TARGET_DIR/fuzz-corpus/$target"
    mkdir -p "$work" "corpus/$target"
    log="$CARGO_TARGET_DIR/fuzz-$target.log"
    echo "== $target: ${SECONDS_PER_TARGET}s"
    status=0
    cargo fuzz run "$target" "$work" "corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -jobs=1 -workers=1 -print_final_stats=1 \
        >"$log" 2>&1 || status=$?
    executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1 || true)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1 || true)
    if [ "$status" -ne 0 ] || grep -q 'SUMMARY: \|panicked at\|deadly signal' "$log"; then
        echo "   CRASH (exit $status); log: $log"
        grep -m 5 'panicked at\|SUMMARY\|Test unit written' "$log" || tail -n 20 "$log"
        failed+=("$target")
    fi
    rm -f fuzz-*.log # libFuzzer's per-job log (with -jobs), already echoed into $log
    line=$(printf '%-24s %12s executions  %8s/s' "$target" "${executions:-?}" "${rate:-?}")
    echo "   $line"
    summary+=("$line")
done

echo
echo "== executions in ${SECONDS_PER_TARGET}s per target"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "crashed: ${failed[*]}" >&2
    exit 1
fi
