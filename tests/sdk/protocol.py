"""The line protocol between an SDK script (notebook.py, error_paths.py) and its test.

Import it before the SDK: it sets this process's stdout aside for the protocol, so that what
anything else writes to file descriptor 1 (the SDK does, from import time on) goes to stderr.
The script sends JSON lines (`send`), reads the test's answers (`receive`), and ends with
`finish`, which reports the result, or the traceback if `run` raised, and what the SDK printed.
"""

import contextlib
import io
import json
import os
import sys
import traceback

_CONTROL = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
# Everything the SDK prints (a job's log lines among it), kept for the result.
PRINTED = io.StringIO()
CONFIG = json.load(open(sys.argv[1]))


def send(message):
    _CONTROL.write(json.dumps(message, default=str) + "\n")
    _CONTROL.flush()


def receive():
    return json.loads(sys.stdin.readline())


def finish(run, result):
    """Runs `run()` (which fills `result`) with the SDK's printing kept, then sends the result."""
    try:
        with contextlib.redirect_stdout(PRINTED):
            run()
    except BaseException:  # noqa: BLE001 - reported to the test with the traceback
        result["error"] = traceback.format_exc()
    result["printed"] = PRINTED.getvalue()
    send({"result": result})
