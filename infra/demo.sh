#!/usr/bin/env bash
# The local demo: builds modelmon and runs it on its embedded default. No AWS account needed.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/modelmon/target}"
# Without Parquet support (polars): the demo does not need it, and a first build takes a minute
# instead of ten. `cargo build -p modelmon-cli` gives the full binary.
cargo build --quiet -p modelmon-cli --no-default-features
exec "$CARGO_TARGET_DIR/debug/modelmon" demo "$@"
