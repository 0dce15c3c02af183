#!/usr/bin/env bash
# The SAM CLI on the template, with pinned tools in their own venv (~/.cache/modelmon/sam-venv):
#
#   infra/sam.sh validate   # sam validate --lint: the SAM transform and cfn-lint, offline (seconds)
#   infra/sam.sh build      # sam build: cargo lambda build --release --arm64 for the three
#                           # functions, cross-compiled with zig (long: a release build of the
#                           # AWS SDK and polars for aarch64)
set -euo pipefail
cd "$(dirname "$0")/.."

SAM_VENV="${MODELMON_SAM_VENV:-$HOME/.cache/modelmon/sam-venv}"
REQUIREMENTS="aws-sam-cli==1.170.0 cargo-lambda==1.9.2 ziglang==0.17.0"

if [ "$(cat "$SAM_VENV/.requirements" 2>/dev/null)" != "$REQUIREMENTS" ]; then
  python3 -m venv "$SAM_VENV"
  # shellcheck disable=SC2086
  "$SAM_VENV/bin/pip" install --quiet --disable-pip-version-check $REQUIREMENTS
  echo "$REQUIREMENTS" > "$SAM_VENV/.requirements"
fi
export PATH="$SAM_VENV/bin:$PATH"
export SAM_CLI_TELEMETRY=0

case "${1:-validate}" in
  validate) sam validate --lint --region us-east-1 ;;
  build)
    rustup target add aarch64-unknown-linux-gnu
    sam build
    ;;
  *) echo "usage: infra/sam.sh validate|build" >&2; exit 2 ;;
esac
