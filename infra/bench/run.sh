#!/usr/bin/env bash
# modelmon's benchmarks (issue 6), in one command: builds modelmon and bench-gen in release,
# installs the pinned peers (polars, whylogs) into a venv, generates the data (or reuses it) and
# measures modelmon baseline, polars' read_csv, whylogs and modelmon analyze on the same files.
# Writes BENCHMARKS.md at the repository root. Benchmarks are not tests: nothing here fails on a
# timing.
#
#   infra/bench/run.sh                 # full scale: a 1 GiB CSV, 1M capture records
#   BENCH_GB=0.1 infra/bench/run.sh    # quick
#   infra/bench/run.sh report          # only the report page against Evidently (issue 16)
#   infra/bench/run.sh scripts         # only users' scripts (issue 14): rewrites that section
#
# Other knobs (see bench.py): BENCH_RECORDS, BENCH_SCRIPTS_RECORDS, BENCH_REPEAT,
# BENCH_WHYLOGS_REPEAT, BENCH_COLD_RUNS, BENCH_PERF=1, BENCH_DATA, BENCH_OUT, BENCH_VENV (the
# peers' venv); report_bench.py's BENCH_REPORT_ROWS, BENCH_REPORT_FEATURES, BENCH_REPORT_REPEAT,
# BENCH_EVIDENTLY_REPEAT, BENCH_REPORT_BUILD (the profile the table names).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/modelmon/target}"
CACHE="$HOME/.cache/modelmon"
VENV="${BENCH_VENV:-$CACHE/bench-venv}"
PYTHON="${PYTHON:-python3}"
SECTION="${1:-all}"

export MODELMON="$CARGO_TARGET_DIR/release/modelmon"
export BENCH_GEN="$CARGO_TARGET_DIR/release/bench-gen"
export FUNCTIONS_DIR="$CARGO_TARGET_DIR/release"
export BENCH_DATA="${BENCH_DATA:-$CACHE/bench-data}"

case "$SECTION" in
scripts)
    # The runner and the plain loop are standard-library Python: no venv, no functions.
    echo "[bench] building modelmon and bench-gen (release)" >&2
    cargo build --release --quiet -p modelmon-cli -p modelmon-bench --bin modelmon --bin bench-gen
    exec "$PYTHON" infra/bench/bench.py --scripts-only
    ;;
all | report) ;;
*)
    echo "usage: infra/bench/run.sh [all|report|scripts]" >&2
    exit 2
    ;;
esac

echo "[bench] building modelmon, the functions and bench-gen (release)" >&2
cargo build --release --quiet -p modelmon-cli -p modelmon-bench -p create-schedule -p analyze -p baseline

requirements=infra/bench/requirements.txt
if ! cmp -s "$requirements" "$VENV/requirements.txt" 2>/dev/null; then
    echo "[bench] installing $requirements into $VENV" >&2
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$VENV/requirements.txt"
fi

export VENV_PY="$VENV/bin/python"
case "$SECTION" in
  report) exec "$PYTHON" infra/bench/report_bench.py ;;
  all) "$PYTHON" infra/bench/bench.py && exec "$PYTHON" infra/bench/report_bench.py ;;
esac
