#!/usr/bin/env bash
# The whole test suite, from a fresh machine with Rust and Python 3: installs what it needs
# (pinned, into ~/.cache/modelmon), starts moto server on 127.0.0.1 (S3, DynamoDB, EventBridge
# Scheduler, CloudWatch, CloudWatch Logs), then runs formatting and lint checks, the Rust tests
# and the Python tests: independent references (pandas), boto3's sagemaker client against
# `modelmon serve` and against the create-schedule function under the Lambda runtime API (cargo
# lambda), the SageMaker Python SDK's notebook (v2 and v3, each in its own venv) against both,
# the SAM template's checks.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/modelmon/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
VENV="${MODELMON_VENV:-$HOME/.cache/modelmon/venv}"

step() { printf '\n== %s\n' "$*"; }

# A venv at $1 with the pinned requirements of file $2, reinstalled only when the file changes.
venv_with() {
  local venv="$1" requirements="$2" stamp want
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  stamp="$venv/.requirements.sha"
  want="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    echo "$want" > "$stamp"
  fi
}

step "python test environment ($VENV)"
venv_with "$VENV" infra/requirements-test.txt
# asl-validator (npm, pinned) checks the fan-out's state machine beside statelint.
export MODELMON_NPM="${MODELMON_NPM:-$VENV-npm}"
ASL_VALIDATOR_VERSION=4.0.0
if [ "$(cat "$MODELMON_NPM/.version" 2>/dev/null)" != "$ASL_VALIDATOR_VERSION" ]; then
  command -v npm >/dev/null || { echo "infra/test.sh: npm not found: install Node.js (for asl-validator)" >&2; exit 1; }
  npm install --silent --no-audit --no-fund --prefix "$MODELMON_NPM" "asl-validator@$ASL_VALIDATOR_VERSION"
  echo "$ASL_VALIDATOR_VERSION" > "$MODELMON_NPM/.version"
fi

# The SageMaker Python SDK v2 and v3 cannot share a venv: one each, installed while cargo builds.
SDK_VENVS=()
SDK_PIDS=()
for form in v2 v3; do
  SDK_VENVS+=("$VENV-sagemaker-$form")
  ( start=$SECONDS
    venv_with "$VENV-sagemaker-$form" "infra/requirements-sagemaker-$form.txt"
    echo "SageMaker SDK $form venv ready in $((SECONDS - start)) s" ) >"$VENV-sagemaker-$form.log" 2>&1 &
  SDK_PIDS+=($!)
done

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

step "SageMaker SDK venvs (${SDK_VENVS[*]})"
for i in "${!SDK_PIDS[@]}"; do
  if ! wait "${SDK_PIDS[$i]}"; then
    cat "${SDK_VENVS[$i]}.log" >&2
    echo "installing ${SDK_VENVS[$i]} failed" >&2
    exit 1
  fi
  cat "${SDK_VENVS[$i]}.log"
done

step "pytest"
cargo build --quiet --workspace --bins
export PATH="$VENV/bin:$PATH"
MODELMON_BIN="$CARGO_TARGET_DIR/debug/modelmon" MODELMON_FUNCTIONS_DIR="$CARGO_TARGET_DIR/debug" \
  MODELMON_SAGEMAKER_V2_PYTHON="$VENV-sagemaker-v2/bin/python" \
  MODELMON_SAGEMAKER_V3_PYTHON="$VENV-sagemaker-v3/bin/python" \
  "$VENV/bin/python" -m pytest -q --durations=10 tests
