#!/usr/bin/env bash
# The whole test suite, from a fresh machine with Rust and Python 3: installs what it needs
# (pinned, into ~/.cache/modelmon), then runs formatting and lint checks, the Rust tests and
# the Python tests that check modelmon against independent references.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/modelmon/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
VENV="${MODELMON_VENV:-$HOME/.cache/modelmon/venv}"

step() { printf '\n== %s\n' "$*"; }

step "python test environment ($VENV)"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
# Reinstall only when the pinned requirements change.
stamp="$VENV/.requirements.sha"
want="$(sha256sum infra/requirements-test.txt | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r infra/requirements-test.txt
  echo "$want" > "$stamp"
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo clippy --quiet -p modelmon-cli --no-default-features -- -D warnings

step "cargo test"
cargo test --workspace

step "pytest"
cargo build --quiet -p modelmon-cli
MODELMON_BIN="$CARGO_TARGET_DIR/debug/modelmon" "$VENV/bin/python" -m pytest -q tests
