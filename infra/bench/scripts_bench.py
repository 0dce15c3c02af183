#!/usr/bin/env python3
"""Users' scripts: how fast records go through a record preprocessor, and what a batch costs.

On the same capture records (bench-gen's, CSV in and out; and the same records with their input
as nested JSON), measures:

- modelmon's runner (functions/scripts/runner.py) as modelmon runs it: one worker process
  answering JSON requests of N records, for several N (the time from sending a request to
  reading its answer);
- a plain Python loop over the same records, as SageMaker's container runs a preprocessor: one
  process reading capture lines, calling the handler per record with the same record object,
  writing one JSON line per record;
- the bytes a record adds to a request and to an answer, and so how many fit in Lambda's 6 MB.

Standard library only. `python3 infra/bench/scripts_bench.py CAPTURE_DIR [RECORDS]` prints JSON;
bench.py calls `measure()` and writes the table into BENCHMARKS.md.
"""

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
RUNNER = REPO / "functions" / "scripts" / "runner.py"
DOCS_SCRIPT = REPO / "tests" / "scripts" / "docs_csv_preprocessor.py"
FLATTEN_SCRIPT = REPO / "tests" / "scripts" / "flatten_nested_json.py"
LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024
PAYLOAD_MARGIN = 64 * 1024
BATCH_SIZES = (100, 1_000, 10_000)

# bench-gen's input columns (its CSV's columns after `score`), nested as an API would send them.
INPUT_COLUMNS = ["age", "income", "balance", "purchases", "tenure_days", "latency_ms", "country",
                 "plan", "device", "customer_id", "is_active"]


def capture_lines(capture_dir, limit):
    lines = []
    for path in sorted(Path(capture_dir).rglob("*.jsonl")):
        with open(path) as f:
            for line in f:
                lines.append(line.rstrip("\n"))
                if len(lines) == limit:
                    return lines
    return lines


def nested(line):
    """The same record with its input as nested JSON and its output as {"score": ...}."""
    record = json.loads(line)
    data = record["captureData"]
    values = next(csv.reader(io.StringIO(data["endpointInput"]["data"])))
    v = dict(zip(INPUT_COLUMNS, values))
    number = lambda text: None if text == "" else float(text)  # noqa: E731
    request = {
        "customer": {"id": v["customer_id"], "age": number(v["age"]), "tenure_days": number(v["tenure_days"]),
                     "account": {"income": number(v["income"]), "balance": number(v["balance"]),
                                 "plan": v["plan"], "active": v["is_active"] == "true"}},
        "activity": {"purchases": number(v["purchases"]), "latency_ms": number(v["latency_ms"])},
        "context": {"country": v["country"], "device": v["device"]},
    }
    json_part = lambda mode, body: {"observedContentType": "application/json", "mode": mode,  # noqa: E731
                                    "data": json.dumps(body), "encoding": "JSON"}
    data["endpointInput"] = json_part("INPUT", request)
    data["endpointOutput"] = json_part("OUTPUT", {"score": float(data["endpointOutput"]["data"])})
    return json.dumps(record, separators=(",", ":"))


class Worker:
    def __init__(self, python):
        self.process = subprocess.Popen([python, str(RUNNER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def ask(self, body):
        self.process.stdin.write(body + b"\n")
        self.process.stdin.flush()
        return self.process.stdout.readline()

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def request(script, lines, budget=None):
    head = {"handler": "preprocess", "script": script, "environment": {}, "record_format": "capture"}
    if budget:
        head["max_response_bytes"] = budget
    text = json.dumps(head)[:-1] + ',"records":[' + ",".join(lines) + "]}"
    return text.encode()


def runner_rate(python, script, lines, batch, rounds):
    """Records per second through the worker, batches of `batch`, best of `rounds` passes."""
    worker = Worker(python)
    try:
        worker.ask(request(script, lines[:1]))  # imports the script, as the first batch of a run does
        bodies = [request(script, lines[i:i + batch]) for i in range(0, len(lines), batch)]
        best = None
        for _ in range(rounds):
            started = time.perf_counter()
            answered = 0
            for body in bodies:
                answered += len(json.loads(worker.ask(body))["results"])
            seconds = time.perf_counter() - started
            assert answered == len(lines), (answered, len(lines))
            best = seconds if best is None else min(best, seconds)
        return len(lines) / best, best / len(bodies)
    finally:
        worker.close()


PLAIN_LOOP = r'''
import json, sys
sys.path.insert(0, sys.argv[1])
from runner import InferenceRecord
namespace = {}
exec(compile(open(sys.argv[2]).read(), sys.argv[2], "exec"), namespace)
handler = namespace["preprocess_handler"]
takes_logger = handler.__code__.co_argcount == 2
out = sys.stdout
for line in sys.stdin:
    record = InferenceRecord(json.loads(line))
    result = handler(record, None) if takes_logger else handler(record)
    out.write(json.dumps(result) + "\n")
'''


def plain_loop_rate(python, script_path, lines, rounds):
    data = ("\n".join(lines) + "\n").encode()
    best = None
    for _ in range(rounds):
        started = time.perf_counter()
        result = subprocess.run(
            [python, "-c", PLAIN_LOOP, str(RUNNER.parent), str(script_path)],
            input=data, capture_output=True, check=True,
        )
        seconds = time.perf_counter() - started
        assert result.stdout.count(b"\n") == len(lines)
        best = seconds if best is None else min(best, seconds)
    return len(lines) / best


def sizes(python, script, lines):
    """Mean bytes a record adds to a request and to an answer (over the lines given)."""
    worker = Worker(python)
    try:
        body = request(script, lines)
        empty = request(script, [])
        answer = worker.ask(body)
        one = worker.ask(request(script, lines[:1]))
        request_bytes = (len(body) - len(empty)) / len(lines)
        answer_bytes = (len(answer) - len(one)) / (len(lines) - 1)
        return request_bytes, answer_bytes
    finally:
        worker.close()


def measure(capture_dir, records=100_000, python=sys.executable, rounds=3):
    lines = capture_lines(capture_dir, records)
    cases = {
        "docs CSV example": ({"origin": str(DOCS_SCRIPT), "source": DOCS_SCRIPT.read_text()}, DOCS_SCRIPT, lines),
        "nested-JSON flattener": (
            {"origin": str(FLATTEN_SCRIPT), "source": FLATTEN_SCRIPT.read_text()},
            FLATTEN_SCRIPT,
            [nested(line) for line in lines],
        ),
    }
    results = {"records": len(lines), "python": subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"], capture_output=True, text=True
    ).stdout.strip(), "cases": {}}
    for name, (script, path, case_lines) in cases.items():
        request_bytes, answer_bytes = sizes(python, script, case_lines[:1000])
        room = LAMBDA_PAYLOAD_LIMIT - PAYLOAD_MARGIN
        case = {
            "request_bytes_per_record": request_bytes,
            "answer_bytes_per_record": answer_bytes,
            "records_per_6mb": int(room / max(request_bytes, answer_bytes)),
            "plain_loop": plain_loop_rate(python, path, case_lines, rounds),
            "runner": {},
        }
        for batch in BATCH_SIZES:
            rate, per_batch = runner_rate(python, script, case_lines, batch, rounds)
            case["runner"][batch] = {"records_per_s": rate, "seconds_per_batch": per_batch}
        results["cases"][name] = case
    return results


def write_capture(folder, lines):
    path = Path(folder) / "ep" / "AllTraffic" / "2026" / "11" / "25" / "13" / "00-00-000-bench.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return Path(folder)


def analyze_rates(modelmon, capture_dir, work, records=100_000, python=sys.executable, rounds=3):
    """Records/s of a whole `modelmon analyze` of the same records: the Rust path (no script), the
    docs example through --record-preprocessor, the nested records through the flattener."""
    work = Path(work)
    lines = capture_lines(capture_dir, records)
    baseline = work / "baseline"
    rows = [json.loads(line)["captureData"] for line in lines[:2000]]
    train = work / "train.csv"
    train.write_text(
        ",".join(["score", *INPUT_COLUMNS]) + "\n"
        + "".join(f'{r["endpointOutput"]["data"].strip()},{r["endpointInput"]["data"]}\n' for r in rows)
    )
    subprocess.run([modelmon, "baseline", "--dataset", train, "--output", baseline, "--quiet"], check=True)
    plain = write_capture(work / "plain", lines)
    flat = write_capture(work / "nested", [nested(line) for line in lines])
    cases = {"Rust path (no script)": (plain, []),
             "docs CSV example": (plain, ["--record-preprocessor", DOCS_SCRIPT]),
             "nested-JSON flattener": (flat, ["--record-preprocessor", FLATTEN_SCRIPT])}
    results = {"records": len(lines)}
    for name, (capture, extra) in cases.items():
        best = None
        for _ in range(rounds):
            started = time.perf_counter()
            subprocess.run([modelmon, "analyze", "--dataset", capture, "--statistics", baseline / "statistics.json",
                            "--constraints", baseline / "constraints.json", "--output", work / "out", "--quiet",
                            *extra], check=True, env={**os.environ, "MODELMON_PYTHON": python})
            elapsed = time.perf_counter() - started
            best = elapsed if best is None else min(best, elapsed)
        results[name] = len(lines) / best
    return results


if __name__ == "__main__":
    capture = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    if len(sys.argv) > 3:  # MODELMON binary: the whole analysis, with and without scripts
        import tempfile
        with tempfile.TemporaryDirectory() as work:
            print(json.dumps(analyze_rates(sys.argv[3], capture, work, count), indent=2))
    else:
        print(json.dumps(measure(capture, count), indent=2))
