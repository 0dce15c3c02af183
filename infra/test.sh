#!/usr/bin/env bash
# The whole test suite, from a fresh machine with Rust and Python 3: installs what it needs
# (pinned, into ~/.cache/modelmon), starts moto server on 127.0.0.1 (S3, DynamoDB, EventBridge
# Scheduler, CloudWatch), then runs formatting and lint checks, the Rust tests and the Python
# tests: independent references (pandas), boto3's sagemaker client against `modelmon serve` and
# against the create-schedule function under the Lambda runtime API (cargo lambda), the SAM
# template's checks.
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

step "chromium and fonts for the report page's browser test (tests/test_report_page.py)"
# Debian's chromium: the archive keeps only its current security release, so the version is
# Debian's of the day (printed below); the fonts are pinned, so the page renders the same.
FONTS_VERSION=2.37-6
if ! command -v chromium >/dev/null || [ "$(dpkg-query -W -f='${Version}' fonts-dejavu-core 2>/dev/null)" != "$FONTS_VERSION" ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    chromium "fonts-dejavu-core=$FONTS_VERSION" >/dev/null
fi
chromium --version

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The demo's build (no Parquet, no server) and the cloud crate without its AWS adapters.
cargo clippy --quiet -p modelmon-cli --no-default-features -- -D warnings
cargo clippy --quiet -p modelmon-cloud --no-default-features --all-targets -- -D warnings

step "sam validate --lint (template.yaml)"
infra/sam.sh validate

step "moto server"
# shellcheck source=infra/moto.sh
source infra/moto.sh
moto_start

step "cargo test"
cargo test --workspace

step "pytest"
cargo build --quiet --workspace --bins
export PATH="$VENV/bin:$PATH"
MODELMON_BIN="$CARGO_TARGET_DIR/debug/modelmon" MODELMON_FUNCTIONS_DIR="$CARGO_TARGET_DIR/debug" \
  "$VENV/bin/python" -m pytest -q tests
