# A moto server on 127.0.0.1 for the AWS adapter tests: a bash library, meant to be sourced.
#
#   source infra/moto.sh
#   moto_start          # starts moto_server on a free port, exports AWS_ENDPOINT_URL and friends
#   cargo test -p modelmon-cloud --test it aws_adapters
#   moto_stop           # also run by an EXIT trap that moto_start installs
#
# moto_start's `trap moto_stop EXIT` replaces an EXIT trap the caller had; a caller with its own
# should call moto_stop from it. The tests refuse to run without MODELMON_TEST_AWS=1 and an
# AWS_ENDPOINT_URL on 127.0.0.1/localhost, both of which moto_start exports.
#
# moto comes from the test venv (infra/requirements-test.txt pins it); MODELMON_VENV overrides
# where that venv is, MOTO_SERVER the binary itself.

MOTO_PID=""
MOTO_LOG=""

moto_start() {
  local venv="${MODELMON_VENV:-$HOME/.cache/modelmon/venv}"
  local server="${MOTO_SERVER:-$venv/bin/moto_server}"
  local python="$venv/bin/python"
  [ -x "$python" ] || python="$(command -v python3)"
  if [ ! -x "$server" ]; then
    echo "moto_start: $server not found; install infra/requirements-test.txt into $venv" >&2
    return 1
  fi
  if [ -n "$MOTO_PID" ] && kill -0 "$MOTO_PID" 2>/dev/null; then
    echo "moto_start: moto already running (pid $MOTO_PID) at $AWS_ENDPOINT_URL" >&2
    return 0
  fi

  # A port that is free now; another process could take it before moto binds it, in which case
  # moto exits and the wait below reports it.
  local port
  port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"

  MOTO_LOG="$(mktemp -t moto.XXXXXX.log)"
  "$server" -H 127.0.0.1 -p "$port" >"$MOTO_LOG" 2>&1 &
  MOTO_PID=$!
  trap moto_stop EXIT

  local url="http://127.0.0.1:$port"
  local tries=0
  until curl -fsS -o /dev/null "$url/moto-api/" 2>/dev/null; do
    if ! kill -0 "$MOTO_PID" 2>/dev/null; then
      echo "moto_start: moto_server exited; its log ($MOTO_LOG):" >&2
      cat "$MOTO_LOG" >&2
      MOTO_PID=""
      return 1
    fi
    tries=$((tries + 1))
    if [ "$tries" -ge 300 ]; then
      echo "moto_start: moto_server did not answer at $url within 30 s; its log ($MOTO_LOG):" >&2
      cat "$MOTO_LOG" >&2
      moto_stop
      return 1
    fi
    sleep 0.1
  done

  export AWS_ENDPOINT_URL="$url"
  export AWS_ACCESS_KEY_ID=test
  export AWS_SECRET_ACCESS_KEY=test
  export AWS_REGION=us-east-1
  export AWS_DEFAULT_REGION=us-east-1
  export S3_FORCE_PATH_STYLE=true
  export MODELMON_TEST_AWS=1
  # No profile, IMDS or SSO lookups from the SDKs: the environment is the whole configuration.
  export AWS_EC2_METADATA_DISABLED=true
  export AWS_CONFIG_FILE=/dev/null
  export AWS_SHARED_CREDENTIALS_FILE=/dev/null
  echo "moto_server (pid $MOTO_PID) at $AWS_ENDPOINT_URL, log $MOTO_LOG"
}

moto_stop() {
  if [ -n "$MOTO_PID" ]; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
    MOTO_PID=""
  fi
  if [ -n "$MOTO_LOG" ]; then
    rm -f "$MOTO_LOG"
    MOTO_LOG=""
  fi
  unset MODELMON_TEST_AWS AWS_ENDPOINT_URL
}
