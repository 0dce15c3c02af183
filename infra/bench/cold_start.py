"""Cold start of the Lambda functions: the time from starting a function's process to its first
request for work on the Lambda runtime API (what Lambda reports as Init Duration).

A minimal runtime API on 127.0.0.1 answers nothing but records when `GET .../invocation/next`
arrives; each function binary is started with the environment it gets on Lambda (settings,
static credentials, no network calls at start-up) and stopped once it has asked.

    python infra/bench/cold_start.py DIR_WITH_BINARIES [RUNS]
"""

import http.server
import os
import statistics
import subprocess
import sys
import threading
import time

FUNCTIONS = {
    "create-schedule": {
        "TABLE_NAME": "modelmon", "SCHEDULE_GROUP": "modelmon", "ACCOUNT_ID": "123456789012",
        "ANALYZE_FUNCTION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:analyze",
        "SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/scheduler",
    },
    "analyze": {"TABLE_NAME": "modelmon", "CAPTURE_DESTINATION_S3_URI": "s3://capture/datacapture"},
    "baseline": {"TABLE_NAME": "modelmon"},
}


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    asked = threading.Event()

    def do_GET(self):
        if self.path.endswith("/runtime/invocation/next"):
            RuntimeApi.asked.set()
        # Keep the function waiting, as Lambda does between invocations.
        time.sleep(5)

    def log_message(self, *args):
        pass


def init_seconds(binary, env):
    RuntimeApi.asked.clear()
    started = time.perf_counter()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not RuntimeApi.asked.wait(30):
            raise RuntimeError(f"{binary} never asked for work")
        return time.perf_counter() - started
    finally:
        process.kill()
        process.wait()


def function_cold_starts(directory, runs):
    """{function: {"median_ms", "min_ms", "max_ms"}} over `runs` starts of each function."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = {
        "PATH": os.environ["PATH"], "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "cold",
        "AWS_SECRET_ACCESS_KEY": "start", "AWS_LAMBDA_FUNCTION_VERSION": "1",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024", "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
    }
    results = {}
    for name, settings in FUNCTIONS.items():
        env = dict(base, AWS_LAMBDA_FUNCTION_NAME=name, **settings)
        times = [init_seconds(os.path.join(directory, name), env) * 1000 for _ in range(runs)]
        results[name] = {"median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times)}
    server.shutdown()
    return results


def main():
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    print(f"| function | init, median of {runs} | min | max |")
    print("|---|---:|---:|---:|")
    for name, t in function_cold_starts(sys.argv[1], runs).items():
        print(f"| {name} | {t['median_ms']:.1f} ms | {t['min_ms']:.1f} ms | {t['max_ms']:.1f} ms |")


if __name__ == "__main__":
    main()
