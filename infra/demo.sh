#!/usr/bin/env bash
# The local demo: builds modelmon and runs it on its embedded default. No AWS account needed.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/modelmon/target}"
cargo build --quiet -p modelmon-cli
exec "$CARGO_TARGET_DIR/debug/modelmon" demo "$@"
