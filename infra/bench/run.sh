#!/usr/bin/env bash
# modelmon's benchmarks, in one command: builds modelmon, the functions, bench-gen and
# bench-cloud in release, installs the pinned peers (polars, whylogs, pyspark) into a venv, and
# moto (the test venv's) for the cloud sections, generates the data (or reuses it) and measures
# every section of BENCHMARKS.md (bench.py), then the report page (report_bench.py). Benchmarks
# are not tests: nothing here fails on a timing.
#
#   infra/bench/run.sh                                 # every section, then the report page
#   BENCH_SECTIONS=fire,cloud infra/bench/run.sh       # some (the others stay as last measured)
#   BENCH_GB=0.1 BENCH_SECTIONS=core infra/bench/run.sh
#   infra/bench/run.sh scripts                         # only users' scripts (issue 14)
#   infra/bench/run.sh report                          # only the report page against Evidently (issue 16)
#
# Other knobs (see bench.py): BENCH_RECORDS, BENCH_SIZES_GB, BENCH_FIRE_RECORDS, BENCH_REPEAT,
# BENCH_SCRIPTS_RECORDS, BENCH_WHYLOGS_REPEAT, BENCH_SPARK_REPEAT, BENCH_COLD_RUNS, BENCH_PERF=1,
# BENCH_DATA, BENCH_OUT, BENCH_VENV (the peers' venv), MODELMON_VENV (the test venv, for moto);
# report_bench.py's BENCH_REPORT_ROWS, BENCH_REPORT_FEATURES, BENCH_REPORT_REPEAT,
# BENCH_EVIDENTLY_REPEAT, BENCH_REPORT_BUILD (the profile the table names).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/modelmon/target}"
CACHE="$HOME/.cache/modelmon"
VENV="${BENCH_VENV:-$CACHE/bench-venv}"
TEST_VENV="${MODELMON_VENV:-$CACHE/venv}"
PYTHON="${PYTHON:-python3}"
SECTION="${1:-all}"

export MODELMON="$CARGO_TARGET_DIR/release/modelmon"
export BENCH_GEN="$CARGO_TARGET_DIR/release/bench-gen"
export BENCH_CLOUD="$CARGO_TARGET_DIR/release/bench-cloud"
export BENCH_MERGE="$CARGO_TARGET_DIR/release/bench-merge"
export FUNCTIONS_DIR="$CARGO_TARGET_DIR/release"
export BENCH_DATA="${BENCH_DATA:-$CACHE/bench-data}"

case "$SECTION" in
scripts)
    # The runner and the plain loop are standard-library Python: no venv, no functions.
    echo "[bench] building modelmon and bench-gen (release)" >&2
    cargo build --release --quiet -p modelmon-cli -p modelmon-bench --bin modelmon --bin bench-gen
    BENCH_SECTIONS=scripts exec "$PYTHON" infra/bench/bench.py
    ;;
all | report) ;;
*)
    echo "usage: infra/bench/run.sh [all|report|scripts]" >&2
    exit 2
    ;;
esac

echo "[bench] building modelmon, the functions, bench-gen and bench-cloud (release)" >&2
cargo build --release --quiet -p modelmon-cli -p modelmon-bench -p create-schedule -p analyze -p baseline

install() { # venv requirements
    if ! cmp -s "$2" "$1/requirements.txt" 2>/dev/null; then
        echo "[bench] installing $2 into $1" >&2
        rm -rf "$1"
        "$PYTHON" -m venv "$1"
        "$1/bin/pip" install --quiet --disable-pip-version-check -r "$2"
        cp "$2" "$1/requirements.txt"
    fi
}
install "$VENV" infra/bench/requirements.txt
if [ ! -x "$TEST_VENV/bin/moto_server" ]; then
    install "$TEST_VENV" infra/requirements-test.txt
fi

export VENV_PY="$VENV/bin/python"
export MOTO_SERVER="$TEST_VENV/bin/moto_server"
case "$SECTION" in
report) exec "$PYTHON" infra/bench/report_bench.py ;;
all) "$PYTHON" infra/bench/bench.py && exec "$PYTHON" infra/bench/report_bench.py ;;
esac
