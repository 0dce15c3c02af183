#!/usr/bin/env python3
"""The API under load (issue 17). Started by infra/bench/load.sh, which builds the release
binaries, makes the venv (moto, boto3, cargo-lambda: infra/requirements-test.txt) and starts moto.

For each home and each number of clients, a fresh state, then `bench-load api` (N clients, one
keep-alive connection and one request in flight each, for LOAD_SECONDS): requests per second,
p50/p99/max latency, errors, and the state left behind: every schedule created and not deleted
listed once and nothing else, each with its timer and no other timer; for `modelmon serve`, the
same again after a restart. The homes:

- serve: `modelmon serve` (release) on a state folder on this machine's disk;
- lambda: the create-schedule function (release) under the Lambda runtime API of `cargo lambda
  watch`, called through its Function URL, on DynamoDB and EventBridge Scheduler in moto. Lambda
  runs one request per instance at a time, so up to LOAD_FUNCTIONS instances poll the runtime
  API, as Lambda would scale out.

Also `bench-load durability`: a local table write with and without its fsyncs. Writes
BENCH_DATA/load/results.json and the "The API under load" section of BENCHMARKS.md (between
its markers; infra/bench/bench.py keeps the section when it rewrites the rest).

Knobs: LOAD_CLIENTS (default "10,100,500"), LOAD_LAMBDA_CLIENTS (default LOAD_CLIENTS), LOAD_SECONDS (30), LOAD_PRELOAD (50), LOAD_HOMES
("serve,lambda"), LOAD_FUNCTIONS (32), LOAD_PROFILE=1 (perf profile of serve at 100 clients).
Nothing here asserts a timing: benchmarks are not tests.
"""

import datetime
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
STARTED = time.perf_counter()
MODELMON = os.environ.get("MODELMON", "modelmon")
BENCH_LOAD = os.environ.get("BENCH_LOAD_BIN", "bench-load")
FUNCTIONS_DIR = Path(os.environ.get("FUNCTIONS_DIR", "."))
VENV_BIN = Path(os.environ.get("LOAD_VENV_BIN", Path(sys.executable).parent))
DATA = Path(os.environ.get("BENCH_DATA", Path.home() / ".cache/modelmon/bench-data")) / "load"
OUT_MD = Path(os.environ.get("BENCH_OUT", REPO / "BENCHMARKS.md"))
CLIENTS = [int(n) for n in os.environ.get("LOAD_CLIENTS", "10,100,500").split(",") if n.strip()]
# The lambda home's numbers of clients, if not LOAD_CLIENTS' (see BENCHMARKS.md: 500 clients hang
# cargo lambda watch's runtime API on this machine).
LAMBDA_CLIENTS = [int(n) for n in os.environ.get("LOAD_LAMBDA_CLIENTS", "").split(",") if n.strip()] or CLIENTS
SECONDS = float(os.environ.get("LOAD_SECONDS", "30"))
PRELOAD = int(os.environ.get("LOAD_PRELOAD", "50"))
HOMES = [h.strip() for h in os.environ.get("LOAD_HOMES", "serve,lambda").split(",") if h.strip()]
MAX_FUNCTIONS = int(os.environ.get("LOAD_FUNCTIONS", "32"))
PROFILE = os.environ.get("LOAD_PROFILE", "") not in ("", "0")
BEGIN, END = "<!-- load:begin -->", "<!-- load:end -->"
REGION, ACCOUNT = "us-east-1", "123456789012"


def log(message):
    print(f"[load {time.perf_counter() - STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


def cpu_seconds(pid):
    """User + system CPU seconds of a running process (Linux /proc), 0 elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_load(url, clients, prefix, out):
    args = [BENCH_LOAD, "api", "--url", url, "--clients", str(clients), "--seconds", str(SECONDS)]
    args += ["--preload", str(PRELOAD), "--prefix", prefix, "--out", str(out)]
    subprocess.run(args, check=True)
    return json.loads(out.read_text())


def compare(expected, found, uncertain):
    """Names expected but not found, and found but not expected (uncertain ones aside)."""
    expected, found, uncertain = set(expected), set(found), set(uncertain)
    return sorted(expected - found), sorted(found - expected - uncertain)


class Serve:
    def __init__(self, state, log_path):
        self.log = open(log_path, "ab")
        self.process = subprocess.Popen(
            [MODELMON, "serve", "--port", "0", "--state", str(state), "--max-schedules", "10000"],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env=dict(os.environ, RUST_LOG="warn"),
        )
        line = self.process.stdout.readline()
        prefix = "modelmon serve: listening on "
        if not line.startswith(prefix):
            raise RuntimeError(f"modelmon serve did not start: {line!r}; see {log_path}")
        self.url = line[len(prefix):].split()[0] + "/"
        # The report of the state it found follows at once, its summary last.
        self.report = ""
        while not self.report.startswith("modelmon serve: state checked: "):
            self.report = self.process.stdout.readline().strip()

    def stop(self):
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def listed_names(url, prefix):
    """Every schedule name of the prefix through ListMonitoringSchedules (stdlib HTTP)."""
    import urllib.request

    names, token = [], None
    while True:
        body = {"NameContains": prefix, "MaxResults": 100}
        if token:
            body["NextToken"] = token
        request = urllib.request.Request(
            url,
            data=json.dumps(body).encode(),
            headers={"X-Amz-Target": "SageMaker.ListMonitoringSchedules", "Content-Type": "application/x-amz-json-1.1"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            page = json.loads(response.read())
        names += [s["MonitoringScheduleName"] for s in page["MonitoringScheduleSummaries"]]
        token = page.get("NextToken")
        if not token:
            return names


def perf_profile(pid, seconds, out_dir):
    """perf record of a running process; the top symbols by self time."""
    if not shutil.which("perf"):
        return None
    data = out_dir / "perf-serve.data"
    subprocess.run(
        ["perf", "record", "-F", "499", "-g", "-p", str(pid), "-o", str(data), "--", "sleep", str(seconds)],
        capture_output=True,
        check=False,
    )
    report = subprocess.run(
        ["perf", "report", "-i", str(data), "--stdio", "--no-children", "--sort", "symbol", "--percent-limit", "2", "-g", "none"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    # The columns after the symbol are empty with --sort symbol; keep "share  [.] symbol".
    rows = [line.split("  -  ")[0].rstrip() for line in report.splitlines() if line.strip() and not line.startswith("#")]
    return "\n".join(rows)[:3000]


def run_serve(clients, work):
    state = work / f"serve-{clients}"
    shutil.rmtree(state, ignore_errors=True)
    serve = Serve(state, work / f"serve-{clients}.log")
    cpu_before = cpu_seconds(serve.process.pid)
    profiler = None
    if PROFILE and clients == 100:
        profiler = (serve.process.pid, work)
    try:
        if profiler:
            import threading

            holder = {}
            thread = threading.Thread(
                target=lambda: holder.update(profile=perf_profile(profiler[0], max(5, SECONDS / 2), profiler[1]))
            )
            thread.start()
        result = bench_load(serve.url, clients, "load", work / f"serve-{clients}.json")
        result["server_cpu_seconds"] = cpu_seconds(serve.process.pid) - cpu_before
        if profiler:
            thread.join()
            result["profile"] = holder.get("profile")
    finally:
        serve.stop()
    timers = json.loads((state / "scheduler.json").read_text())["schedules"]
    result["timers"] = len(timers)
    result["timers_missing"], result["timers_unexpected"] = compare(result["expected"], timers, result["uncertain"])
    # The state read back by a restarted server.
    restarted = Serve(state, work / f"serve-{clients}.log")
    try:
        result["restart_report"] = restarted.report
        after = listed_names(restarted.url, "load")
        result["after_restart_missing"], result["after_restart_unexpected"] = compare(
            result["expected"], after, result["uncertain"]
        )
        result["after_restart_listed"] = len(after)
    finally:
        restarted.stop()
    return result


HARNESS_MANIFEST = """\
[package]
name = "modelmon-load-harness"
version = "0.0.0"
edition = "2021"
publish = false

[[bin]]
name = "create-schedule"
path = "src/main.rs"

[workspace]
"""


def aws(service):
    import boto3

    return boto3.client(service, region_name=REGION)


def create_resources(table, group):
    dynamodb = aws("dynamodb")
    string = lambda name: {"AttributeName": name, "AttributeType": "S"}  # noqa: E731
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[string("pk"), string("sk"), string("kind")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "kind-index",
                "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    dynamodb.get_waiter("table_exists").wait(TableName=table)
    aws("scheduler").create_schedule_group(Name=group)


def eventbridge_timers(group):
    pages = aws("scheduler").get_paginator("list_schedules").paginate(GroupName=group)
    return [s["Name"] for page in pages for s in page["Schedules"]]


def run_lambda(clients, work):
    if os.environ.get("MODELMON_TEST_AWS") != "1":
        raise RuntimeError("the lambda home needs moto: run infra/bench/load.sh (it starts moto)")
    suffix = uuid.uuid4().hex[:8]
    table, group = f"load-{suffix}", f"load-{suffix}"
    create_resources(table, group)
    project = work / f"harness-{clients}"
    shutil.rmtree(project, ignore_errors=True)
    (project / "src").mkdir(parents=True)
    (project / "Cargo.toml").write_text(HARNESS_MANIFEST)
    (project / "src/main.rs").write_text("fn main() {}\n")
    env = dict(os.environ, PATH=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}")
    port = free_port()
    logs = open(work / f"lambda-{clients}.log", "wb")
    watch = subprocess.Popen(
        [str(VENV_BIN / "cargo-lambda"), "lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P", str(port)],
        cwd=project, env=env, stdout=logs, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    functions = []
    try:
        runtime_api = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and runtime_api is None:
            text = (work / f"lambda-{clients}.log").read_text(errors="replace")
            for line in text.splitlines():
                if "AWS_LAMBDA_RUNTIME_API=" in line and "starting Runtime server" in text:
                    runtime_api = line.split("AWS_LAMBDA_RUNTIME_API=", 1)[1].strip().rstrip("/")
            time.sleep(0.2)
        if runtime_api is None:
            raise RuntimeError(f"cargo lambda watch did not start; see {work}/lambda-{clients}.log")
        function_env = dict(
            env,
            AWS_LAMBDA_FUNCTION_NAME="create-schedule",
            AWS_LAMBDA_FUNCTION_VERSION="1",
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE="512",
            AWS_LAMBDA_RUNTIME_API=f"{runtime_api}/create-schedule",
            RUST_LOG="warn",
            TABLE_NAME=table,
            SCHEDULE_GROUP=group,
            ANALYZE_FUNCTION_ARN=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:analyze",
            SCHEDULER_ROLE_ARN=f"arn:aws:iam::{ACCOUNT}:role/scheduler",
            ACCOUNT_ID=ACCOUNT,
            MAX_MONITORING_SCHEDULES="10000",
        )
        instances = min(clients, MAX_FUNCTIONS)
        for _ in range(instances):
            functions.append(
                subprocess.Popen([str(FUNCTIONS_DIR / "create-schedule")], env=function_env, stdout=logs, stderr=subprocess.STDOUT)
            )
        time.sleep(1.0)
        url = f"http://127.0.0.1:{port}/lambda-url/create-schedule/"
        cpu = {p.pid: cpu_seconds(p.pid) for p in functions}
        result = bench_load(url, clients, "load", work / f"lambda-{clients}.json")
        result["server_cpu_seconds"] = sum(cpu_seconds(p.pid) - cpu[p.pid] for p in functions)
        result["instances"] = instances
    finally:
        for process in functions:
            process.kill()
            process.wait()
        os.killpg(watch.pid, signal.SIGTERM)
        watch.wait(timeout=30)
        logs.close()
    timers = eventbridge_timers(group)
    result["timers"] = len(timers)
    result["timers_missing"], result["timers_unexpected"] = compare(result["expected"], timers, result["uncertain"])
    return result


def durability(work):
    out = work / "durability.json"
    subprocess.run([BENCH_LOAD, "durability", "--dir", str(work / "durability"), "--out", str(out)], check=True)
    shutil.rmtree(work / "durability", ignore_errors=True)
    return json.loads(out.read_text())


def git(*args):
    try:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def end_state(r):
    problems = []
    for label, key in (("missing", "missing"), ("unexpected", "unexpected"), ("listed twice", "duplicates"),
                       ("without timer", "timers_missing"), ("timers without schedule", "timers_unexpected"),
                       ("missing after restart", "after_restart_missing"),
                       ("unexpected after restart", "after_restart_unexpected")):  # fmt: skip
        if r.get(key):
            problems.append(f"{len(r[key])} {label}")
    if "restart_report" in r and "; 0 unreadable;" not in r["restart_report"]:
        problems.append(f"restart: {r['restart_report']}")
    if problems:
        return "**" + ", ".join(problems) + "**"
    text = f"{len(r['expected'])} listed once each, {r['timers']} timers"
    if "after_restart_listed" in r:
        text += "; same after restart"
    if r["uncertain"]:
        text += f" ({len(r['uncertain'])} without a clear answer left out)"
    return text


def errors_text(r):
    if not r["error_count"]:
        return "0"
    return f"{r['error_count']} ({', '.join(f'{k} ×{v}' for k, v in r['errors'].items())})"


def markdown(results):
    m = results["machine"]
    lines = [
        BEGIN,
        "## The API under load",
        "",
        f"Written by `infra/bench/load.sh` (issue 17), run finished {results['finished']} on commit {m['commit']}: "
        f"{SECONDS:g} s per row, {PRELOAD} schedules preloaded, each client one keep-alive connection with one "
        "request in flight. The mix, a dashboard's and an automation's: ListMonitoringSchedules 25%, "
        "DescribeMonitoringSchedule 25%, ListMonitoringExecutions 15%, Create 12%, Update 11%, Delete 12%; each "
        "client changes only schedules of its own (at most four at a time), so every answer but 200 is an error. "
        "The client is `bench-load` (Rust, tokio + hyper): on a 2-core machine the client shares the cores with "
        "what it measures, and a Rust client costs the server less of them than a Python one would. "
        "**End state**: every schedule created and not deleted is listed exactly once and nothing else is, each "
        "has its timer and no timer is left over (`scheduler.json`; EventBridge Scheduler in moto), and for "
        "`serve` the same after a restart.",
        "",
        "| home | clients | requests/s | p50 ms | p99 ms | max ms | errors | server CPU / request | end state |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |",
    ]
    for home in HOMES:
        for r in results.get(home, []):
            name = "modelmon serve" if home == "serve" else f"create-schedule on moto ({r['instances']} instances)"
            cpu = r["server_cpu_seconds"] / max(1, r["requests"]) * 1000
            lat = r["latency"]
            lines.append(
                f"| {name} | {r['clients']} | {r['rps']:,.0f} | {lat['p50_ms']:.1f} | {lat['p99_ms']:.1f} | "
                f"{lat['max_ms']:.0f} | {errors_text(r)} | {cpu:.2f} ms | {end_state(r)} |"
            )
    lines += ["", "The Lambda home's numbers are moto's more than the function's: every DynamoDB and EventBridge "
              "Scheduler call goes to one moto server process (Python) on the same cores."]
    for home in HOMES:
        at_100 = [r for r in results.get(home, []) if r["clients"] == 100]
        if not at_100:
            continue
        r = at_100[0]
        label = "modelmon serve" if home == "serve" else "create-schedule on moto"
        lines += ["", f"{label} at 100 clients, by operation:", "", "| operation | requests | p50 ms | p99 ms | max ms |",
                  "| --- | ---: | ---: | ---: | ---: |"]  # fmt: skip
        for op, s in r["by_operation"].items():
            lines.append(f"| {op} | {s['count']:,} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} | {s['max_ms']:.0f} |")
    d = results.get("durability")
    if d:
        one, many = d["one"], d["many"]

        def row(label, key, k):
            s = k[key]
            return (
                f"| {label} | {k['writers']} | {s['writes_per_s']:,.0f} | {s['latency']['p50_ms']:.2f} | "
                f"{s['latency']['p99_ms']:.2f} |"
            )

        fsync_cost = one["table_durable"]["latency"]["p50_ms"] - one["table_without_fsync"]["latency"]["p50_ms"]
        lines += [
            "",
            "### What durability costs per write",
            "",
            "`bench-load durability`: updates of a local table item (a schedule record, ~1.5 KB): the "
            "`FileTable` write (temp file fsynced, renamed under the lock, folder fsynced) against the same "
            "steps without the two fsyncs; and timer updates of the `LocalScheduler` (one file for all timers, "
            "changes committed in groups). On this machine's disk (ext4 on a virtual disk):",
            "",
            "| write | writers | writes/s | p50 ms | p99 ms |",
            "| --- | ---: | ---: | ---: | ---: |",
            row("table item, durable", "table_durable", one),
            row("table item, without fsync", "table_without_fsync", one),
            row("timer, durable", "timers_durable", one),
            row("table item, durable", "table_durable", many),
            row("table item, without fsync", "table_without_fsync", many),
            row("timer, durable", "timers_durable", many),
            "",
            f"A durable write costs about {fsync_cost:.1f} ms more than the same write without its fsyncs, one "
            "writer at a time. Writers at once share the disk's flushes (the file system commits their fsyncs "
            "together, and the scheduler writes one file for every change that waited), so throughput grows "
            "with concurrency while each write still waits for its flush.",
        ]
    lines += bound(results.get("serve", []))
    profile = next((r.get("profile") for r in results.get("serve", []) if r.get("profile")), None)
    if profile:
        lines += ["", "`perf record` of `modelmon serve` at 100 clients (self time, over 2%): the CPU goes to reading the "
                  "files into `serde_json::Value`s and copying and freeing them (malloc, free, memmove, clones, drops), "
                  "which is what a List of every schedule's file costs.", "", "```", profile, "```"]
    lines += [
        "",
        f"Machine: {m['nproc']} cores ({m['cpu']}), Linux {m['kernel']}; rerun with `infra/bench/load.sh` "
        "(knobs: `LOAD_CLIENTS`, `LOAD_LAMBDA_CLIENTS`, `LOAD_SECONDS`, `LOAD_HOMES`, `LOAD_FUNCTIONS`, `LOAD_PROFILE=1`); raw numbers in "
        "`BENCH_DATA/load/results.json`.",
        END,
    ]
    return "\n".join(lines) + "\n"


def bound(serve_rows):
    """What bounds serve's latency, in the run's own numbers: the CPU it got and spent per request
    (against Little's law: with one request in flight per client, latency = clients / throughput)."""
    if not serve_rows:
        return []
    lines = ["", "### What bounds `modelmon serve`'s p99", "",
             "| clients | server cores used | server CPU / request | schedules at the end | clients / (requests/s) | measured p50 |",
             "| ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for r in serve_rows:
        cores = r["server_cpu_seconds"] / r["seconds"]
        per_request = r["server_cpu_seconds"] / max(1, r["requests"]) * 1000
        lines.append(
            f"| {r['clients']} | {cores:.2f} | {per_request:.2f} ms | {len(r['expected'])} | "
            f"{r['clients'] / r['rps'] * 1000:,.0f} ms | {r['latency']['p50_ms']:,.0f} ms |"
        )
    lines += [
        "",
        "Every request is answered from files: a Describe reads one, a write replaces one (fsynced, see above), "
        "and a ListMonitoringSchedules reads and parses every schedule's file to sort and page them, so its cost "
        "grows with the number of schedules, and the mix's 25% of Lists make the CPU per request grow with it. "
        "The clients keep one request in flight each, so latency is clients / throughput (Little's law, the two "
        "last columns are close): at 100 and 500 clients requests queue for the CPU the server gets (under one of "
        "the 2 cores here: the shared machine's other work and the load client take the rest), not for a lock "
        "or the disk (a durable write alone takes the milliseconds of the table above). What would lower p99: "
        "an in-memory index of the schedules, so a List reads no files (not done: the files are the truth shared "
        "with other processes on the state folder, and an index must be kept coherent with them).",
    ]
    return lines


def write_section(section):
    text = OUT_MD.read_text() if OUT_MD.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1].lstrip("\n")
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section
    OUT_MD.write_text(text)


def cpu_model():
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def main():
    DATA.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="load-", dir=DATA))
    dirty = git("status", "--porcelain", "--untracked-files=no")
    results = {
        "machine": {
            "nproc": os.cpu_count(),
            "cpu": cpu_model(),
            "kernel": platform.release(),
            "commit": git("rev-parse", "--short", "HEAD") + (" (with uncommitted changes)" if dirty else ""),
        },
        "seconds": SECONDS,
        "preload": PRELOAD,
    }
    log("durability: the cost of a durable local write")
    results["durability"] = durability(work)
    for home in HOMES:
        results[home] = []
        for clients in CLIENTS if home == "serve" else LAMBDA_CLIENTS:
            log(f"{home}: {clients} clients for {SECONDS:g} s")
            result = (run_serve if home == "serve" else run_lambda)(clients, work)
            log(
                f"{home} {clients}: {result['rps']:,.0f} requests/s, p50 {result['latency']['p50_ms']:.1f} ms, "
                f"p99 {result['latency']['p99_ms']:.1f} ms, {result['error_count']} errors, end state {end_state(result)}"
            )
            results[home].append(result)
    results["finished"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    (DATA / "results.json").write_text(json.dumps(results, indent=1))
    write_section(markdown(results))
    shutil.rmtree(work, ignore_errors=True)
    log(f"wrote {OUT_MD} and {DATA / 'results.json'}")


if __name__ == "__main__":
    main()
