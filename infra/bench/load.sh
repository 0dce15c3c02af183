#!/usr/bin/env bash
# The load benchmark of modelmon's API (issue 17), in one command: builds modelmon,
# create-schedule and bench-load in release, makes the Python tools' venv (moto, boto3,
# cargo-lambda, pinned in infra/requirements-test.txt), starts moto server on 127.0.0.1 and runs
# infra/bench/load.py, which writes the "The API under load" section of BENCHMARKS.md.
# Benchmarks are not tests: nothing here fails on a timing.
#
#   infra/bench/load.sh                                  # 10, 100, 500 clients, 30 s each, both homes
#   LOAD_CLIENTS=100 LOAD_SECONDS=10 LOAD_HOMES=serve infra/bench/load.sh   # quick
#
# Knobs: see infra/bench/load.py. MODELMON_VENV (default ~/.cache/modelmon/venv, the test suite's),
# BENCH_DATA (default ~/.cache/modelmon/bench-data), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/modelmon/target}"
VENV="${MODELMON_VENV:-$HOME/.cache/modelmon/venv}"
export BENCH_DATA="${BENCH_DATA:-$HOME/.cache/modelmon/bench-data}"

echo "[load] building modelmon, create-schedule and bench-load (release)" >&2
cargo build --release --quiet -p modelmon-cli -p create-schedule -p modelmon-bench --bin modelmon --bin create-schedule --bin bench-load

stamp="$VENV/.requirements.sha"
want="$(sha256sum infra/requirements-test.txt | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[load] installing infra/requirements-test.txt into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r infra/requirements-test.txt
  echo "$want" > "$stamp"
fi

export MODELMON_VENV="$VENV"
# shellcheck source=infra/moto.sh
source infra/moto.sh
moto_start

export MODELMON="$CARGO_TARGET_DIR/release/modelmon"
export BENCH_LOAD_BIN="$CARGO_TARGET_DIR/release/bench-load"
export FUNCTIONS_DIR="$CARGO_TARGET_DIR/release"
export LOAD_VENV_BIN="$VENV/bin"
"$VENV/bin/python" infra/bench/load.py
