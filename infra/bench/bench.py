#!/usr/bin/env python3
"""modelmon's benchmarks: generates (or reuses) the data, runs every tool on the same files, and
writes BENCHMARKS.md. Started by infra/bench/run.sh, which builds the binaries and the venv.

Standard library only: this process only orchestrates and measures. Each measured command is a
child process; its wall time, CPU time (user + sys) and peak RSS are those of that child alone
(GNU time's %e %U %S %M, read from its own wait4; os.wait4 when GNU time is missing). Every input
is read once before each measured run, so all tools start from a warm page cache.

Nothing here asserts a timing: benchmarks are not tests.
"""

import datetime
import hashlib
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import scripts_bench
from cold_start import function_cold_starts

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
STARTED = time.perf_counter()
CAPTURE_START = "2026-11-25T13:00:00Z"
CAPTURE_END = "2026-11-25T14:00:00Z"
MIB = 1 << 20


def env_float(name, default):
    value = os.environ.get(name, "")
    return float(value) if value.strip() else default


def env_int(name, default):
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


MODELMON = os.environ.get("MODELMON", "modelmon")
BENCH_GEN = os.environ.get("BENCH_GEN", "bench-gen")
VENV_PY = os.environ.get("VENV_PY", "python3")
DATA_ROOT = Path(os.environ.get("BENCH_DATA", Path.home() / ".cache/modelmon/bench-data"))
GB = env_float("BENCH_GB", 1.0)
RECORDS = env_int("BENCH_RECORDS", int(round(1_000_000 * GB)))
REPEAT = max(1, env_int("BENCH_REPEAT", 3))
WHYLOGS_REPEAT = max(1, env_int("BENCH_WHYLOGS_REPEAT", 1))
COLD_RUNS = max(1, env_int("BENCH_COLD_RUNS", 20))
SCRIPTS_RECORDS = env_int("BENCH_SCRIPTS_RECORDS", 100_000)
FUNCTIONS_DIR = os.environ.get("FUNCTIONS_DIR", "")
BENCH_CLOUD = os.environ.get("BENCH_CLOUD", "bench-cloud")
MOTO_SERVER = os.environ.get("MOTO_SERVER", "moto_server")
BENCH_MERGE = os.environ.get("BENCH_MERGE", "bench-merge")
# The fan-out's merge step (bench-merge): partial profiles of one batch, merged N at a time.
FANOUT_PARTIALS = [1, 10, 100, 1000, 4000]
FANOUT_BATCH_MIB = 64
# For the paper estimate of a fanned-out baseline: Lambda's and Step Functions' list prices
# (us-east-1, arm64), the baseline function's memory (template.yaml), the batch of
# shared/cloud/src/run/fanout.rs (BATCH_BYTES) and the Map's concurrency.
LAMBDA_GB_SECOND_USD = 0.0000133334
LAMBDA_REQUEST_USD = 0.20 / 1e6
STATE_TRANSITION_USD = 0.025 / 1000
S3_GET_USD = 0.0004 / 1000
FUNCTION_MEMORY_GB = 3008 / 1024
BATCH_GIB = 4
MAP_CONCURRENCY = 1000
PART_MIB = 8  # one ranged GET (shared/cloud/src/run/objects.rs, PART_BYTES)
PERF = os.environ.get("BENCH_PERF", "") not in ("", "0")
OUT_MD = Path(os.environ.get("BENCH_OUT", REPO / "BENCHMARKS.md"))
ALL_SECTIONS = ("core", "threads", "sizes", "cloud", "fire", "spark", "scripts", "fanout")
SECTIONS = [name.strip() for name in os.environ.get("BENCH_SECTIONS", ",".join(ALL_SECTIONS)).split(",") if name.strip()]
SIZES_GB = env_float("BENCH_SIZES_GB", 4.0)
FIRE_RECORDS = [int(n) for n in os.environ.get("BENCH_FIRE_RECORDS", "10000,100000,1000000").split(",") if n.strip()]
SPARK_REPEAT = max(1, env_int("BENCH_SPARK_REPEAT", 1))
RESULTS = DATA_ROOT / "results.json"


def gnu_time():
    for candidate in ("/usr/bin/time", shutil.which("gtime") or ""):
        if candidate and os.access(candidate, os.X_OK):
            probe = subprocess.run(
                [candidate, "-f", "%M", "-o", os.devnull, "true"], capture_output=True, check=False
            )
            if probe.returncode == 0:
                return candidate
    return None


GNU_TIME = gnu_time()


def log(message):
    print(f"[bench {time.perf_counter() - STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


def measure(cmd, env=None):
    """Runs cmd once; returns wall, user, sys, cpu (s), peak (MiB), stdout."""
    merged_env = dict(os.environ, **(env or {}))
    with tempfile.TemporaryDirectory() as tmp:
        out_path, err_path, time_path = (Path(tmp) / n for n in ("out", "err", "time"))
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            if GNU_TIME:
                full = [GNU_TIME, "-f", "%e %U %S %M", "-o", str(time_path), *cmd]
                t0 = time.perf_counter()
                code = subprocess.run(full, stdout=out, stderr=err, env=merged_env, check=False).returncode
                wall = time.perf_counter() - t0
            else:
                t0 = time.perf_counter()
                child = subprocess.Popen(cmd, stdout=out, stderr=err, env=merged_env)
                _, status, usage = os.wait4(child.pid, 0)
                wall = time.perf_counter() - t0
                child.returncode = code = os.waitstatus_to_exitcode(status)
        stdout = out_path.read_text(errors="replace")
        if code != 0:
            raise RuntimeError(
                f"{' '.join(map(str, cmd))} exited with {code}:\n{err_path.read_text(errors='replace')[-3000:]}"
            )
        if GNU_TIME:
            # The last line; GNU time writes a "Command exited..." line before it on failure.
            _, user, system, peak_kib = time_path.read_text().strip().splitlines()[-1].split()
            user, system, peak = float(user), float(system), int(peak_kib) / 1024
        else:
            user, system, peak = usage.ru_utime, usage.ru_stime, usage.ru_maxrss / 1024
    return {"wall": wall, "user": user, "sys": system, "cpu": user + system, "peak_mib": peak, "stdout": stdout}


def warm(paths):
    """Reads every file under paths once: the measured run finds them in the page cache."""
    for path in paths:
        path = Path(path)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            with open(file, "rb") as handle:
                while handle.read(8 * MIB):
                    pass


def measure_repeated(label, cmd, inputs, repeat, env=None):
    runs = []
    for i in range(repeat):
        warm(inputs)
        run = measure(cmd, env)
        log(f"{label} run {i + 1}/{repeat}: {run['wall']:.2f} s wall, {run['cpu']:.2f} s CPU, {run['peak_mib']:.0f} MiB")
        runs.append(run)
    ordered = sorted(runs, key=lambda r: r["wall"])
    median = dict(ordered[(len(ordered) - 1) // 2])
    median["runs"] = [{k: v for k, v in r.items() if k != "stdout"} for r in runs]
    median["wall_min"] = ordered[0]["wall"]
    median["wall_max"] = ordered[-1]["wall"]
    return median


def size_of(path):
    path = Path(path)
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def sha256_of(path):
    digest = hashlib.sha256()
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with open(file, "rb") as handle:
            while chunk := handle.read(8 * MIB):
                digest.update(chunk)
    return digest.hexdigest()


def generator_hash():
    digest = hashlib.sha256()
    for file in sorted((HERE / "gen").rglob("*")):
        if file.is_file() and file.suffix in (".rs", ".toml"):
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def generate(data_dir, name, args):
    """bench-gen writes data_dir/name unless a stamp says the same generator made it already."""
    target = data_dir / name
    stamp_path = data_dir / f"{name}.stamp.json"
    want = {"args": args, "generator": generator_hash()}
    if target.exists() and stamp_path.exists():
        stamp = json.loads(stamp_path.read_text())
        if {k: stamp.get(k) for k in want} == want:
            log(f"reusing {target} ({size_of(target) / MIB:.0f} MiB)")
            return stamp
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()
    stamp_path.unlink(missing_ok=True)
    log(f"generating {target}")
    t0 = time.perf_counter()
    subprocess.run([BENCH_GEN, *args, "--out", str(target)], check=True)
    stamp = dict(want, seconds=time.perf_counter() - t0, bytes=size_of(target), sha256=sha256_of(target))
    stamp_path.write_text(json.dumps(stamp, indent=1))
    log(f"generated {target}: {stamp['bytes'] / MIB:.0f} MiB in {stamp['seconds']:.1f} s")
    return stamp


def determinism_check():
    """Two runs of bench-gen with the same arguments write the same bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        hashes = []
        for i in range(2):
            csv_path, capture_dir = Path(tmp) / f"{i}.csv", Path(tmp) / f"capture{i}"
            subprocess.run([BENCH_GEN, "csv", "--rows", "20000", "--out", str(csv_path)], check=True, capture_output=True)
            subprocess.run(
                [BENCH_GEN, "capture", "--records", "5000", "--start", CAPTURE_START, "--out", str(capture_dir)],
                check=True,
                capture_output=True,
            )
            hashes.append((sha256_of(csv_path), sha256_of(capture_dir)))
        return hashes[0] == hashes[1]


def cold_start(cmd, runs):
    """Wall times (ms) of `runs` back-to-back runs of cmd, measured around the spawn."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - t0) * 1000)
    ordered = sorted(times)
    return {
        "runs": runs,
        "median_ms": statistics.median(times),
        "min_ms": ordered[0],
        "p90_ms": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
        "max_ms": ordered[-1],
    }


def tool_output(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine():
    cpu_model = "unknown"
    flags = ""
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name") and cpu_model == "unknown":
                cpu_model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = line.split(":", 1)[1]
    mem_kib = 0
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    versions = tool_output(
        [
            VENV_PY,
            "-c",
            "import importlib.metadata as m, sys; "
            "print(sys.version.split()[0], *(m.version(p) for p in ('polars','whylogs','pandas','numpy')))",
        ]
    ).split()
    versions += ["unknown"] * (5 - len(versions))
    commit = tool_output(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = tool_output(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"])
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "avx2": " avx2 " in f" {flags} ",
        "mem_gib": mem_kib / (1 << 20),
        "kernel": platform.release(),
        "rustc": tool_output(["rustc", "--version"]),
        "modelmon": tool_output([MODELMON, "--version"]),
        "commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "python": versions[0],
        "polars": versions[1],
        "whylogs": versions[2],
        "pandas": versions[3],
        "numpy": versions[4],
        "gnu_time": bool(GNU_TIME),
    }


def perf_profile(cmd, inputs, out_dir):
    """perf record of one run; the top symbols by self time."""
    if not shutil.which("perf"):
        return None
    warm(inputs)
    data = out_dir / "perf.data"
    record = subprocess.run(
        ["perf", "record", "-F", "999", "-o", str(data), "--", *cmd], capture_output=True, check=False
    )
    if record.returncode != 0:
        return None
    report = subprocess.run(
        ["perf", "report", "-i", str(data), "--stdio", "--sort", "symbol", "--percent-limit", "1.5"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    lines = []
    for line in report.splitlines():
        if line.strip() and not line.startswith("#"):
            # perf pads the lines with empty columns (`-`) when no callchains were recorded.
            while line.rstrip().endswith(" -"):
                line = line.rstrip()[:-2]
            lines.append(line.rstrip())
    return "\n".join(lines[:30])


def write_markdown(text):
    """Writes BENCHMARKS.md, keeping the sections other scripts write: the load benchmark's
    (infra/bench/load.py) and the report page's (infra/bench/report_bench.py)."""
    old = OUT_MD.read_text() if OUT_MD.exists() else ""
    for begin, end in [("<!-- report-bench:start -->", "<!-- report-bench:end -->"), ("<!-- load:begin -->", "<!-- load:end -->")]:
        if begin in old and end in old:
            text = text.rstrip("\n") + "\n\n" + begin + old.split(begin, 1)[1].split(end, 1)[0] + end + "\n"
    OUT_MD.write_text(text)


def scale_data(gb, records=None):
    """The data of scale `gb` (generated, or reused): x1/x2/big CSVs of a quarter, a half and
    all of `gb` GiB, and (with `records`) an hour of capture."""
    data_dir = DATA_ROOT / f"gb-{gb:g}"
    (data_dir / "out").mkdir(parents=True, exist_ok=True)
    big_mib = gb * 1024
    gen = {
        "x1": generate(data_dir, "x1.csv", ["csv", "--mb", f"{big_mib / 4:g}"]),
        "x2": generate(data_dir, "x2.csv", ["csv", "--mb", f"{big_mib / 2:g}"]),
        "big": generate(data_dir, "big.csv", ["csv", "--mb", f"{big_mib:g}"]),
        "tiny": generate(data_dir, "tiny.csv", ["csv", "--rows", "100"]),
    }
    if records:
        gen["capture"] = generate(data_dir, "capture", ["capture", "--records", str(records), "--start", CAPTURE_START])
    # Freshly generated files are still being written back to disk: the first baseline runs of a
    # fresh machine measured that write-back too (6.3 s against 4.4 s).
    os.sync()
    return data_dir, gen


def rows_of(data_dir, names=("x1", "x2", "big")):
    return {name: sum(1 for _ in open(data_dir / f"{name}.csv", "rb")) - 1 for name in names}


def baseline_cmd(path, out, *extra):
    return [MODELMON, "baseline", "--dataset", str(path), "--format", "csv", "--output", str(out), "--quiet", *extra]


def analyze_cmd(capture, baseline_dir, out, *extra):
    return [
        MODELMON, "analyze", "--dataset", str(capture), "--format", "capture",
        "--statistics", str(baseline_dir / "statistics.json"),
        "--constraints", str(baseline_dir / "constraints.json"),
        "--output", str(out), "--start", CAPTURE_START, "--end", CAPTURE_END, "--quiet", *extra,
    ]  # fmt: skip


def core_section():
    """issue 6's measurements: modelmon baseline and analyze against polars and whylogs, growth,
    cold starts, perf profiles (BENCH_GB scale)."""
    data_dir, gen = scale_data(GB, RECORDS)
    out_dir = data_dir / "out"
    big, capture, tiny = data_dir / "big.csv", data_dir / "capture", data_dir / "tiny.csv"
    results = {"records": RECORDS, "deterministic": determinism_check(), "generated": gen, "rows": rows_of(data_dir)}
    log(f"bench-gen deterministic: {results['deterministic']}")
    results.update(repeat=REPEAT, whylogs_repeat=WHYLOGS_REPEAT)

    log("cold start")
    results["cold_version"] = cold_start([MODELMON, "--version"], COLD_RUNS)
    results["cold_tiny"] = cold_start(baseline_cmd(tiny, out_dir / "tiny"), COLD_RUNS)
    results["cold_version"]["peak_mib"] = measure([MODELMON, "--version"])["peak_mib"]
    results["cold_functions"] = function_cold_starts(FUNCTIONS_DIR, COLD_RUNS)

    def baseline(name, path):
        return measure_repeated(f"modelmon baseline {name}", baseline_cmd(path, out_dir / f"baseline-{name}"), [path], REPEAT)

    results["baseline_big"] = baseline("big", big)
    stats = json.loads((out_dir / "baseline-big/statistics.json").read_text())
    results["baseline_big"]["item_count"] = stats["dataset"]["item_count"]

    polars = measure_repeated("polars read_csv", [VENV_PY, str(HERE / "polars_read.py"), str(big)], [big], REPEAT)
    polars["inside"] = json.loads(polars["stdout"].strip().splitlines()[-1])
    results["polars"] = polars

    analyze = analyze_cmd(capture, out_dir / "baseline-big", out_dir / "analyze")
    results["analyze"] = measure_repeated("modelmon analyze", analyze, [capture], REPEAT)
    report = json.loads((out_dir / "analyze/report.json").read_text())
    results["analyze"]["account"] = report.get("records", {})
    results["analyze"]["outcome"] = report.get("outcome")

    results["baseline_x1"] = baseline("x1", data_dir / "x1.csv")
    results["baseline_x2"] = baseline("x2", data_dir / "x2.csv")

    whylogs = measure_repeated(
        "whylogs",
        [VENV_PY, str(HERE / "whylogs_profile.py"), str(big), str(out_dir / "whylogs.bin")],
        [big],
        WHYLOGS_REPEAT,
        env={"WHYLOGS_NO_ANALYTICS": "True"},
    )
    whylogs["inside"] = json.loads(whylogs["stdout"].strip().splitlines()[-1])
    results["whylogs"] = whylogs

    if PERF:
        log("perf profiles of modelmon baseline (x1) and analyze")
        results["perf_baseline"] = perf_profile(
            baseline_cmd(data_dir / "x1.csv", out_dir / "perf"), [data_dir / "x1.csv"], out_dir
        )
        results["perf_analyze"] = perf_profile(analyze, [capture], out_dir)
    return results


def threads_section():
    """modelmon analyze (and baseline) on one thread and on one per core (BENCH_GB scale)."""
    data_dir, gen = scale_data(GB, RECORDS)
    out_dir = data_dir / "out"
    capture, big = data_dir / "capture", data_dir / "big.csv"
    baseline_dir = out_dir / "baseline-big"
    if not (baseline_dir / "statistics.json").exists():
        measure(baseline_cmd(big, baseline_dir))
    results = {"records": RECORDS, "capture_bytes": gen["capture"]["bytes"], "big_bytes": gen["big"]["bytes"], "runs": {}}
    threads = sorted({1, os.cpu_count() or 1})
    reports = set()
    for n in threads:
        out = out_dir / f"analyze-{n}"
        run = measure_repeated(f"modelmon analyze --threads {n}", analyze_cmd(capture, baseline_dir, out, "--threads", str(n)), [capture], REPEAT)
        reports.add(tuple((out / name).read_bytes() for name in ("statistics.json", "constraint_violations.json", "report.json")))
        results["runs"][f"analyze_{n}"] = run
        results["runs"][f"baseline_{n}"] = measure_repeated(
            f"modelmon baseline --threads {n}", baseline_cmd(big, out_dir / f"baseline-{n}", "--threads", str(n)), [big], REPEAT
        )
    results["threads"] = threads
    results["identical_reports"] = len(reports) == 1
    if PERF:
        log("perf profile of modelmon analyze on every core")
        results["perf_analyze"] = perf_profile(analyze_cmd(capture, baseline_dir, out_dir / "perf-analyze"), [capture], out_dir)
    return results


def sizes_section():
    """modelmon baseline of 1, 2 and 4 GiB files (a quarter, a half and all of BENCH_SIZES_GB)."""
    data_dir, gen = scale_data(SIZES_GB)
    out_dir = data_dir / "out"
    results = {"generated": gen, "rows": rows_of(data_dir), "repeat": REPEAT, "sizes_gb": SIZES_GB, "runs": {}}
    for name in ("x1", "x2", "big"):
        path = data_dir / f"{name}.csv"
        results["runs"][name] = measure_repeated(f"modelmon baseline {name} ({SIZES_GB:g} GiB scale)", baseline_cmd(path, out_dir / f"baseline-{name}"), [path], REPEAT)
    return results


class Moto:
    """moto server on a free port of 127.0.0.1 for the children's SDK clients."""

    def __enter__(self):
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen([MOTO_SERVER, "-H", "127.0.0.1", "-p", str(port)], stdout=self.log, stderr=self.log)
        self.env = {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1", "S3_FORCE_PATH_STYLE": "true",
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }  # fmt: skip
        import urllib.request

        for _ in range(300):
            try:
                urllib.request.urlopen(f"{self.env['AWS_ENDPOINT_URL']}/moto-api/", timeout=1)
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("moto server did not start")

    def run(self, label, args, repeat=1):
        """bench-cloud `args`, measured `repeat` times; its JSON line is `inside`."""
        run = measure_repeated(label, [BENCH_CLOUD, *args], [], repeat, env=self.env)
        run["inside"] = json.loads(run["stdout"].strip().splitlines()[-1])
        return run

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait()


def cloud_section():
    """Streamed against staged, from moto S3: the baselining job of a CSV object (BENCH_GB), and
    the streamed job's peak memory as the object grows."""
    data_dir, gen = scale_data(GB)
    out_dir = data_dir / "out"
    results = {"generated": gen, "repeat": REPEAT, "runs": {}}
    with Moto() as moto:
        for name in ("x1", "x2", "big"):
            moto.run(f"upload {name}.csv", ["upload", "--from", str(data_dir / f"{name}.csv"), "--to", f"s3://bench/{name}/"])
        for mode in ("streamed", "staged"):
            results["runs"][f"big_{mode}"] = moto.run(
                f"baseline of big.csv from S3, {mode}",
                ["baseline", "--source", "s3://bench/big/", "--output", f"s3://bench/out-{mode}/", "--mode", mode],
                REPEAT,
            )
        for name in ("x1", "x2"):
            results["runs"][f"{name}_streamed"] = moto.run(
                f"baseline of {name}.csv from S3, streamed",
                ["baseline", "--source", f"s3://bench/{name}/", "--output", f"s3://bench/out-{name}/", "--mode", "streamed"],
                REPEAT,
            )
        hashes = {results["runs"][f"big_{mode}"]["inside"]["statistics_hash"] for mode in ("streamed", "staged")}
        results["identical"] = len(hashes) == 1
    results["local"] = measure_repeated("modelmon baseline big (local file)", baseline_cmd(data_dir / "big.csv", out_dir / "baseline-local"), [data_dir / "big.csv"], REPEAT)
    return results


def fire_section():
    """From the scheduler's event to the reports in moto S3, for hours of BENCH_FIRE_RECORDS."""
    base_dir = DATA_ROOT / "fire"
    base_dir.mkdir(parents=True, exist_ok=True)
    generate(base_dir, "train.csv", ["csv", "--rows", "200000"])
    baseline_dir = base_dir / "baseline"
    measure(baseline_cmd(base_dir / "train.csv", baseline_dir))
    results = {"repeat": REPEAT, "runs": {}}
    with Moto() as moto:
        for records in FIRE_RECORDS:
            gen = generate(base_dir, f"capture-{records}", ["capture", "--records", str(records), "--start", CAPTURE_START])
            bucket = f"fire-{records}"
            runs = []
            for i in range(REPEAT):
                setup = ["analyze-setup", "--bucket", bucket, "--baseline", str(baseline_dir)]
                if i == 0:
                    setup += ["--capture", str(base_dir / f"capture-{records}")]
                made = moto.run(f"set-up {records}", setup)["inside"]
                run = moto.run(
                    f"fire {records} records",
                    ["fire", "--table", made["table"], "--bucket", bucket, "--schedule", made["schedule"], "--time", CAPTURE_END],
                )
                runs.append(run)
            ordered = sorted(runs, key=lambda r: r["inside"]["seconds"])
            median = dict(ordered[(len(ordered) - 1) // 2])
            median["all_seconds"] = [r["inside"]["seconds"] for r in runs]
            median.pop("stdout", None)
            median["capture_bytes"] = gen["bytes"]
            results["runs"][str(records)] = median
    return results


def spark_section():
    """Spark in local mode profiling x1.csv as Deequ's ColumnProfiler does, against modelmon
    baseline of the same file (whole processes)."""
    data_dir, gen = scale_data(GB)
    out_dir = data_dir / "out"
    path = data_dir / "x1.csv"
    results = {"bytes": gen["x1"]["bytes"], "rows": rows_of(data_dir, ("x1",))["x1"], "repeat": REPEAT}
    results["modelmon"] = measure_repeated("modelmon baseline x1", baseline_cmd(path, out_dir / "baseline-x1"), [path], REPEAT)
    spark = measure_repeated("spark (Deequ ColumnProfiler passes)", [VENV_PY, str(HERE / "spark_profile.py"), str(path)], [path], SPARK_REPEAT)
    spark["inside"] = json.loads(spark["stdout"].strip().splitlines()[-1])
    results["spark"] = spark
    results["versions"] = tool_output([VENV_PY, "-c", "import pyspark; print(pyspark.__version__)"])
    results["java"] = tool_output(["sh", "-c", "java -version 2>&1 | head -1"])
    return results


def scripts_section():
    """Users' scripts (issue 14): the runner against a plain Python loop, and whole `modelmon
    analyze` runs with and without a preprocessor, on the first SCRIPTS_RECORDS records of the
    BENCH_GB scale's capture."""
    data_dir = DATA_ROOT / f"gb-{GB:g}"
    out_dir = data_dir / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    generate(data_dir, "capture", ["capture", "--records", str(RECORDS), "--start", CAPTURE_START])
    capture = data_dir / "capture"
    log(f"users' scripts: {SCRIPTS_RECORDS} records through the runner and a plain Python loop")
    results = scripts_bench.measure(capture, SCRIPTS_RECORDS, python=sys.executable, rounds=REPEAT)
    log("users' scripts: whole modelmon analyze runs")
    work = out_dir / "scripts"
    work.mkdir(parents=True, exist_ok=True)
    results["analyze"] = scripts_bench.analyze_rates(MODELMON, capture, work, SCRIPTS_RECORDS, sys.executable, REPEAT)
    build = "release build" if "/release/" in MODELMON else f"the binary {MODELMON}"
    results["modelmon"] = f"{tool_output([MODELMON, '--version'])} ({build})"
    results["rounds"] = REPEAT
    return json.loads(json.dumps(results))  # batch sizes as keys: strings, as results.json has them


def fanout_merge(data_dir):
    """The merge step's cost as the number of partials grows: bench-merge parses and merges N
    copies of the partial profile of one batch (a FANOUT_BATCH_MIB CSV of the benchmark's columns)."""
    part = generate(data_dir, "fanout-batch.csv", ["csv", "--mb", str(FANOUT_BATCH_MIB)])
    log(f"fan-out merge of {FANOUT_PARTIALS} partials")
    run = subprocess.run(
        [BENCH_MERGE, str(data_dir / "fanout-batch.csv"), *map(str, FANOUT_PARTIALS)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return {"batch": part, "runs": [json.loads(line) for line in run.stdout.splitlines()]}


def fanout_section():
    """The fan-out's merge cost as the partials grow, and the per-function rate its paper estimate
    starts from: modelmon baseline of the BENCH_GB scale's big.csv on this machine's cores."""
    data_dir, gen = scale_data(GB)
    results = fanout_merge(DATA_ROOT / "fanout")
    big = data_dir / "big.csv"
    run = measure_repeated("modelmon baseline big (per-function rate)", baseline_cmd(big, data_dir / "out" / "baseline-fanout-rate"), [big], REPEAT)
    results["rate_run"] = run
    results["rate_mib_s"] = gen["big"]["bytes"] / MIB / run["wall"]
    results["rate_source"] = f"modelmon baseline of a {gen['big']['bytes'] / MIB:,.0f} MiB CSV here, whole process, median of {REPEAT}"
    return results


def fanout_markdown(r):
    return [*fanout_lines(r, r["rate_mib_s"], r["rate_source"]), "", section_note(r, "fanout")]


def fanout_estimate(rate_mib_s, merge_runs):
    """On paper: a 100 GB and a 1 TB baseline fanned out, from the measured per-function rate."""
    per_partial = max(r["total_s"] / r["partials"] for r in merge_runs if r["partials"] >= 100)
    estimates = []
    for label, gb in (("100 GB", 100), ("1 TB", 1000)):
        mib = gb * 1e9 / MIB
        batches = math.ceil(mib / (BATCH_GIB * 1024))
        child_s = BATCH_GIB * 1024 / rate_mib_s
        waves = math.ceil(batches / MAP_CONCURRENCY)
        merge_s = batches * per_partial
        wall = 2 + waves * child_s + merge_s  # plan (a listing) and the Map's start-up: about 2 s
        gb_s = (batches * child_s + merge_s + 2) * FUNCTION_MEMORY_GB
        transitions = 4 * batches + 10  # each child: start, task scheduled/succeeded, end; the parent's few
        gets = math.ceil(mib / PART_MIB)
        cost = gb_s * LAMBDA_GB_SECOND_USD + (batches + 3) * LAMBDA_REQUEST_USD
        cost += transitions * STATE_TRANSITION_USD + gets * S3_GET_USD
        estimates.append(
            {"label": label, "batches": batches, "child_s": child_s, "waves": waves, "merge_s": merge_s,
             "wall_s": wall, "gb_s": gb_s, "transitions": transitions, "gets": gets, "cost_usd": cost}
        )  # fmt: skip
    return estimates


def fanout_lines(fanout, rate_mib_s, rate_source):
    runs = fanout["runs"]
    lines = [
        "",
        "## Fan-out: the merge step and a 100 GB / 1 TB baseline on paper",
        "",
        f"`bench-merge` (infra/bench/gen/src/merge.rs) profiles a {FANOUT_BATCH_MIB} MiB CSV of the benchmark's "
        "columns once, serializes the profile as a child of the `BaselineFanOut` state machine writes it, and "
        "merges N copies back: parsing (serde_json) and merging in order, then the statistics, as the merge "
        "step does (without the S3 GETs of the partials).",
        "",
        "| partials | partial KiB | parse s | merge s | total s | ms per partial |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in runs:
        lines.append(
            f"| {r['partials']:,} | {r['partial_bytes'] / 1024:,.0f} | {fmt(r['parse_s'], 3)} | {fmt(r['merge_s'], 3)} "
            f"| {fmt(r['total_s'], 3)} | {fmt(1000 * r['total_s'] / r['partials'], 3)} |"
        )
    estimates = fanout_estimate(rate_mib_s, runs)
    lines += [
        "",
        f"On paper, at {rate_mib_s:,.0f} MiB/s per function ({rate_source}; a 3008 MB Lambda has two vCPUs, "
        f"as this machine has two cores), batches of {BATCH_GIB} GiB (`BATCH_BYTES`), the Map running up to "
        f"{MAP_CONCURRENCY:,} children at once, and list prices (us-east-1, arm64: "
        f"${LAMBDA_GB_SECOND_USD * 1e6:.2f} per million GB-s, $0.20 per million requests, $0.025 per "
        "thousand state transitions, $0.0004 per thousand GETs of 8 MiB parts):",
        "",
        "| dataset | batches | one child s | waves | merge s | wall s | Lambda GB-s | cost USD |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for e in estimates:
        lines.append(
            f"| {e['label']} | {e['batches']:,} | {fmt(e['child_s'], 0)} | {e['waves']} | {fmt(e['merge_s'], 1)} "
            f"| {fmt(e['wall_s'], 0)} | {e['gb_s']:,.0f} | {fmt(e['cost_usd'], 2)} |"
        )
    lines += [
        "",
        "What the paper leaves out: the rate assumes S3 feeds a function as fast as it profiles (each reader "
        "keeps 4 ranged GETs of 8 MiB in flight; a Lambda typically gets 100+ MiB/s from S3, so the real rate "
        "may be S3's rather than the CPU's), Lambda's concurrency quota (1,000 by default per account and "
        "region, shared with the other functions) and the Map's ramp-up (children start at a bounded rate, "
        "seconds for hundreds), cold starts (tens of ms, BENCHMARKS above), and the plan step's listing "
        "(1,000 keys per ListObjectsV2 page). The wall time is then about one batch's time: the batch size, not "
        "the dataset, sets it, until the dataset needs more batches than can run at once. One function at "
        f"this rate would need {100e9 / MIB / rate_mib_s / 60:,.0f} min for 100 GB (inside Lambda's 15, if S3 "
        f"kept up) and {1e12 / MIB / rate_mib_s / 60:,.0f} min for 1 TB (past it).",
    ]
    return lines


SECTION_RUNNERS = {
    "core": core_section,
    "threads": threads_section,
    "sizes": sizes_section,
    "cloud": cloud_section,
    "fire": fire_section,
    "spark": spark_section,
    "scripts": scripts_section,
    "fanout": fanout_section,
}


def strip_stdout(value):
    if isinstance(value, dict):
        value.pop("stdout", None)
        for inner in value.values():
            strip_stdout(inner)
    return value


def main():
    DATA_ROOT.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["machine"] = machine()
    for name in SECTIONS:
        if name not in SECTION_RUNNERS:
            raise SystemExit(f"BENCH_SECTIONS: unknown section {name!r} (known: {', '.join(ALL_SECTIONS)})")
        log(f"section {name} (BENCH_GB={GB:g})")
        started = time.perf_counter()
        section = strip_stdout(SECTION_RUNNERS[name]())
        section.update(
            scale_gb=GB,
            minutes=(time.perf_counter() - started) / 60,
            finished=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            commit=results["machine"]["commit"],
        )
        results[name] = section
        RESULTS.write_text(json.dumps(results, indent=1))
    write_markdown(markdown(results))
    log(f"wrote {OUT_MD} and {RESULTS} in {time.perf_counter() - STARTED:.0f} s")


def fmt(value, digits=2):
    return f"{value:,.{digits}f}"


def core_markdown(r):
    gen = r["generated"]
    mib = {name: gen[name]["bytes"] / MIB for name in ("x1", "x2", "big", "capture")}
    big_mib = mib["big"]
    base, pol, why, ana = r["baseline_big"], r["polars"], r["whylogs"], r["analyze"]
    records = r["records"]
    analysed = ana["account"].get("analysed", ana["account"].get("read", records))
    repeat_note = f"median of {r['repeat']}" if r["repeat"] > 1 else "one run"
    why_note = f"median of {r['whylogs_repeat']}" if r["whylogs_repeat"] > 1 else "one run"

    def row(tool, what, run, size_mib=None, records=None, note=""):
        throughput = f"{size_mib / run['wall']:,.0f} MiB/s" if size_mib else f"{records / run['wall']:,.0f} records/s"
        return (
            f"| {tool} | {what} | {fmt(run['wall'])} | {fmt(run['cpu'])} | {run['peak_mib']:,.0f} "
            f"| {throughput} | {note} |"
        )

    lines = [
        "",
        "## Results",
        "",
        section_note(r, "core"),
        "",
        f"Every tool reads the same files from a warm page cache. Wall and CPU (user + sys) seconds and "
        f"peak RSS are those of the measured child process alone; modelmon and polars rows are the "
        f"{repeat_note} (by wall time), whylogs {why_note}.",
        "",
        "| tool | input | wall s | CPU s | peak MiB | throughput | notes |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
        row(
            "modelmon baseline",
            f"big.csv, {big_mib:,.0f} MiB, {r['rows']['big']:,} rows",
            base,
            size_mib=big_mib,
            note=f"wall {fmt(base['wall_min'])}–{fmt(base['wall_max'])} s over runs",
        ),
        row(
            "polars `pl.read_csv`",
            "big.csv",
            pol,
            size_mib=big_mib,
            note=f"inside the process: import {fmt(pol['inside']['import_s'])} s, read {fmt(pol['inside']['read_s'])} s "
            f"on {pol['inside']['threads']} threads",
        ),
        row(
            "whylogs (pandas read + `why.log`)",
            "big.csv",
            why,
            size_mib=big_mib,
            note=f"inside: import {fmt(why['inside']['import_s'])} s, `pd.read_csv` {fmt(why['inside']['read_csv_s'])} s, "
            f"`why.log` {fmt(why['inside']['log_s'])} s, write {fmt(why['inside']['write_s'])} s",
        ),
        row(
            "modelmon analyze (capture)",
            f"{records:,} capture records, {mib['capture']:,.0f} MiB JSON Lines",
            ana,
            records=records,
            note=f"{analysed:,} records analysed, outcome {ana['outcome']}",
        ),
    ]
    scale_rows = [("1x", "x1", r["baseline_x1"]), ("2x", "x2", r["baseline_x2"]), ("4x", "big", base)]
    lines += [
        "",
        "### modelmon baseline as the file grows",
        "",
        "| scale | file | rows | wall s | CPU s | peak MiB | MiB/s | peak / file size |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, name, run in scale_rows:
        lines.append(
            f"| {label} | {mib[name]:,.0f} MiB | {r['rows'][name]:,} | {fmt(run['wall'])} | {fmt(run['cpu'])} "
            f"| {run['peak_mib']:,.1f} | {mib[name] / run['wall']:,.0f} | {run['peak_mib'] / mib[name]:.3f} |"
        )
    cv, ct, cf = r["cold_version"], r["cold_tiny"], r["cold_functions"]
    lines += [
        "",
        "### Cold start",
        "",
        "The Lambda functions' init: from starting the release binary to its first request for work on the "
        "runtime API (Lambda's Init Duration), against a minimal runtime API on 127.0.0.1 "
        f"(`infra/bench/cold_start.py`), {cv['runs']} starts each, x86_64 (Lambda runs them on arm64).",
        "",
        "| function | median ms | min ms | max ms |",
        "| --- | ---: | ---: | ---: |",
        *(
            f"| {name} | {fmt(t['median_ms'], 1)} | {fmt(t['min_ms'], 1)} | {fmt(t['max_ms'], 1)} |"
            for name, t in cf.items()
        ),
        "",
        f"The `modelmon` binary: process spawn to exit, {cv['runs']} back-to-back runs each.",
        "",
        "| command | median ms | min ms | p90 ms | max ms |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| `modelmon --version` (peak {cv['peak_mib']:.1f} MiB) | {fmt(cv['median_ms'], 1)} | {fmt(cv['min_ms'], 1)} "
        f"| {fmt(cv['p90_ms'], 1)} | {fmt(cv['max_ms'], 1)} |",
        f"| `modelmon baseline` of a 100-row CSV, files written | {fmt(ct['median_ms'], 1)} | {fmt(ct['min_ms'], 1)} "
        f"| {fmt(ct['p90_ms'], 1)} | {fmt(ct['max_ms'], 1)} |",
    ]

    slowest_init = max(t["median_ms"] for t in cf.values())
    ratio_polars = base["wall"] / pol["wall"]
    ratio_polars_read = base["wall"] / pol["inside"]["read_s"]
    ratio_why = why["wall"] / base["wall"]
    why_log_only = why["inside"]["log_s"] / base["wall"]
    peaks = [run["peak_mib"] for _, _, run in scale_rows]
    per_cpu = records / ana["cpu"]

    def verdict(ok):
        return "met" if ok else "**not met**"

    lines += [
        "",
        "## The ratios that matter",
        "",
        "Targets from issue 6; \"met\" is this run on this machine, not a promise.",
        "",
        "| ratio | value | target | |",
        "| --- | ---: | ---: | --- |",
        f"| modelmon baseline wall / polars read wall (whole processes) | {ratio_polars:.2f}x | ≤ 1.5x "
        f"| {verdict(ratio_polars <= 1.5)} |",
        f"| modelmon baseline wall / polars `read_csv` call alone (no interpreter start, no import) "
        f"| {ratio_polars_read:.2f}x | | |",
        f"| modelmon baseline CPU / polars CPU | {base['cpu'] / pol['cpu']:.2f}x | | |",
        f"| whylogs wall / modelmon baseline wall | {ratio_why:.1f}x | ≥ 10x | {verdict(ratio_why >= 10)} |",
        f"| whylogs `why.log` call alone (DataFrame already in memory) / modelmon baseline wall | {why_log_only:.1f}x | | |",
        f"| modelmon baseline peak RSS / file size (4x) | {base['peak_mib'] / big_mib:.3f} | ≤ 1 "
        f"| {verdict(base['peak_mib'] <= big_mib)} |",
        f"| modelmon baseline peak RSS 1x → 2x → 4x | {peaks[0]:.0f} → {peaks[1]:.0f} → {peaks[2]:.0f} MiB "
        f"({peaks[2] / peaks[0]:.2f}x for 4x the data) | flat | {verdict(peaks[2] <= 1.25 * peaks[0])} |",
        f"| modelmon analyze records per CPU second (records / (user + sys)) | {per_cpu:,.0f} | ≥ 500,000 "
        f"| {verdict(per_cpu >= 500_000)} |",
        f"| modelmon analyze cores used (CPU s / wall s) | {ana['cpu'] / ana['wall']:.2f} | | |",
        f"| function cold start (init), slowest median | {slowest_init:.1f} ms | well under 100 ms "
        f"| {verdict(slowest_init < 50)} |",
        f"| polars peak RSS / file size | {pol['peak_mib'] / big_mib:.2f} | | |",
        f"| whylogs peak RSS / file size | {why['peak_mib'] / big_mib:.2f} | | |",
    ]
    if r.get("perf_baseline") or r.get("perf_analyze"):
        lines += [
            "",
            "## Where modelmon spends its time",
            "",
            "`perf record -F 999` of one run each (`BENCH_PERF=1`), symbols by self time, those over 1.5% "
            "(release build: thin LTO inlines much of the engine into its callers).",
        ]
        for key, title in (("perf_baseline", "`modelmon baseline` of x1.csv"), ("perf_analyze", "`modelmon analyze`")):
            if r.get(key):
                lines += ["", f"{title}:", "", "```", r[key], "```"]
    lines += [
        "",
        "## What is timed, exactly",
        "",
        "- **modelmon baseline**: `modelmon baseline --dataset big.csv --format csv --output DIR --quiet`, the "
        "release build: the whole process, reading the CSV, profiling every column and writing "
        "statistics.json and constraints.json.",
        "- **polars** (the parse floor): `python polars_read.py big.csv`, i.e. the interpreter starting, "
        "`import polars` and `pl.read_csv(path)` with polars' defaults (all cores, schema inferred from "
        "the first 100 rows) into a DataFrame; nothing is computed on it. The in-process times of the import "
        "and of the read alone are in the notes.",
        "- **whylogs**: `python whylogs_profile.py big.csv OUT`: the interpreter, `import pandas, whylogs`, "
        "`pd.read_csv(path)` (whylogs v1 has no CSV reader of its own: it profiles DataFrames), "
        "`why.log(df).view()` with whylogs' default schema and metrics, and `view.write(OUT)`. The "
        "in-process time of each phase is in the notes, so `why.log` alone can be compared too.",
        f"- **modelmon analyze**: `modelmon analyze --dataset capture/ --format capture --statistics ... "
        f"--constraints ... --output DIR --start {CAPTURE_START} --end {CAPTURE_END} --quiet` against the "
        "baseline of big.csv: listing the capture files, parsing each JSON line and its CSV payloads, "
        "profiling, the six checks, the three report files.",
        "- **Peak MiB** is the child's maximum resident set size (`ru_maxrss`): for Python tools it "
        "includes the interpreter and the libraries.",
        "- **Throughput** is input size (MiB = 2^20 bytes) or records over wall seconds.",
        "",
        "## The data",
        "",
        "`infra/bench/gen` (`bench-gen`): twelve columns — `score` (fractional in (0, 1], the model "
        "output, first), `age` (integral), `income` (fractional, Pareto α=2, 5% empty), `balance` "
        "(fractional, can be negative), `purchases` (integral, heavy-tailed), `tenure_days` (integral, 5% "
        "empty), `latency_ms` (fractional, Pareto α=1), `country` (40 values), `plan` (5 values, one quoted "
        "with a comma, 5% empty), `device` (exactly 120 values), `customer_id` (unique ids), `is_active` "
        "(boolean). splitmix64 and IEEE-exact arithmetic: the same arguments give the same bytes "
        f"(checked this run: {'yes' if r['deterministic'] else '**no**'}).",
        "",
        "The capture holds the same columns from another seed: SageMaker data-capture JSON Lines (CSV "
        "payloads, `score` as the endpoint output, the other eleven as the input) spread evenly over "
        f"{CAPTURE_START} – {CAPTURE_END}, one file per minute under "
        "`bench-endpoint/AllTraffic/yyyy/mm/dd/hh/`.",
        "",
        "| file | size | sha256 | generated in |",
        "| --- | ---: | --- | ---: |",
    ]
    for name, label in (("x1", "x1.csv"), ("x2", "x2.csv"), ("big", "big.csv"), ("capture", "capture/ (files in name order)")):
        g = gen[name]
        lines.append(
            f"| {label} | {g['bytes'] / MIB:,.1f} MiB | `{g['sha256'][:16]}…` | {g.get('seconds', 0):.1f} s |"
        )
    return lines


def section_note(r, name):
    return (
        f"Measured {r['finished']} on commit {r['commit']} at `BENCH_GB={r['scale_gb']:g}` "
        f"(`BENCH_SECTIONS={name}`; {r['minutes']:.1f} min including data generation)."
    )


def run_row(label, what, run, throughput, note=""):
    return (
        f"| {label} | {what} | {fmt(run['wall'])} | {fmt(run['cpu'])} | {run['peak_mib']:,.0f} | {throughput} "
        f"| {run['cpu'] / run['wall']:.2f} | {note} |"
    )


RUN_HEADER = [
    "| run | input | wall s | CPU s | peak MiB | throughput | cores used | notes |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
]


def threads_markdown(r):
    records, runs, top = r["records"], r["runs"], max(r["threads"])
    big_mib = r["big_bytes"] / MIB
    lines = ["", "## Every core: analyze and baseline on one thread and on one per core", "", section_note(r, "threads"), ""]
    lines += [
        "The same capture hour and the same CSV, `--threads 1` against one thread per core (the default); "
        f"{'median of ' + str(REPEAT) if REPEAT > 1 else 'one run'} each. The reports of every thread count "
        f"are byte-identical (checked this run: {'yes' if r['identical_reports'] else '**no**'}).",
        "",
        *RUN_HEADER,
    ]
    for n in r["threads"]:
        a = runs[f"analyze_{n}"]
        lines.append(run_row(f"modelmon analyze --threads {n}", f"{records:,} capture records, {r['capture_bytes'] / MIB:,.0f} MiB", a, f"{records / a['wall']:,.0f} records/s"))
    for n in r["threads"]:
        b = runs[f"baseline_{n}"]
        lines.append(run_row(f"modelmon baseline --threads {n}", f"big.csv, {big_mib:,.0f} MiB", b, f"{big_mib / b['wall']:,.0f} MiB/s"))
    one, all_ = runs["analyze_1"], runs[f"analyze_{top}"]
    rate = records / all_["wall"]
    lines += [
        "",
        "| ratio | value | goal | |",
        "| --- | ---: | ---: | --- |",
        f"| analyze records/s on 1 thread | {records / one['wall']:,.0f} | | |",
        f"| analyze records/s on {top} threads | {rate:,.0f} | ≥ 1,000,000 | {'met' if rate >= 1e6 else '**not met**'} |",
        f"| analyze speed-up, {top} threads / 1 | {one['wall'] / all_['wall']:.2f}x | | |",
        f"| analyze records per CPU second on {top} threads | {records / all_['cpu']:,.0f} | | |",
        f"| baseline speed-up, {top} threads / 1 | {runs['baseline_1']['wall'] / runs[f'baseline_{top}']['wall']:.2f}x | | |",
    ]
    if r.get("perf_analyze"):
        lines += ["", f"`perf record -F 999` of `modelmon analyze` on {top} threads, symbols by self time over 1.5%:", "", "```", r["perf_analyze"], "```"]
    return lines


def sizes_markdown(r):
    note = section_note(r, "sizes").replace(f"`BENCH_GB={r['scale_gb']:g}`", f"`BENCH_SIZES_GB={r['sizes_gb']:g}`")
    lines = ["", "## modelmon baseline of 1, 2 and 4 GiB", "", note, ""]
    lines += [
        f"Local files, warm page cache, every core, {'median of ' + str(r['repeat']) if r['repeat'] > 1 else 'one run'}.",
        "",
        "| file | rows | wall s | CPU s | peak MiB | MiB/s | cores used |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in ("x1", "x2", "big"):
        run, mib = r["runs"][name], r["generated"][name]["bytes"] / MIB
        lines.append(
            f"| {mib:,.0f} MiB | {r['rows'][name]:,} | {fmt(run['wall'])} | {fmt(run['cpu'])} | {run['peak_mib']:,.1f} "
            f"| {mib / run['wall']:,.0f} | {run['cpu'] / run['wall']:.2f} |"
        )
    return lines


def cloud_markdown(r):
    runs, gen = r["runs"], r["generated"]
    big_mib = gen["big"]["bytes"] / MIB
    streamed, staged, local = runs["big_streamed"], runs["big_staged"], r["local"]
    lines = ["", "## Streamed against staged, from S3 (moto server)", "", section_note(r, "cloud"), ""]
    lines += [
        "The baselining job of one CSV object in moto S3 through the real SDK client (`bench-cloud baseline`, "
        "one process each, whole process measured): **streamed** as the baseline function runs it now (ranged "
        f"GETs of {8} MiB, 4 ahead, profiled as they arrive, 64 MiB chunks on every core), **staged** as it ran "
        "before (every object downloaded whole to a temporary folder, 16 at a time, then profiled there), and "
        "the same file profiled locally by `modelmon baseline`. The two jobs write byte-identical statistics.json "
        f"(checked this run: {'yes' if r['identical'] else '**no**'}).",
        "",
        *RUN_HEADER,
        run_row("streamed from S3", f"big.csv, {big_mib:,.0f} MiB", streamed, f"{big_mib / streamed['wall']:,.0f} MiB/s"),
        run_row("staged from S3", f"big.csv, {big_mib:,.0f} MiB", staged, f"{big_mib / staged['wall']:,.0f} MiB/s",
                "peak includes the whole object, which the old download held in memory"),
        run_row("local file (`modelmon baseline`)", f"big.csv, {big_mib:,.0f} MiB", local, f"{big_mib / local['wall']:,.0f} MiB/s"),
        "",
        "Memory while an object streams, as it grows (streamed job's peak RSS):",
        "",
        "| object | wall s | peak MiB | peak / object size |",
        "| ---: | ---: | ---: | ---: |",
    ]  # fmt: skip
    for name in ("x1", "x2", "big"):
        run, mib = runs[f"{name}_streamed"], gen[name]["bytes"] / MIB
        lines.append(f"| {mib:,.0f} MiB | {fmt(run['wall'])} | {run['peak_mib']:,.0f} | {run['peak_mib'] / mib:.3f} |")
    lines += [
        "",
        f"Staged wall / streamed wall: **{staged['wall'] / streamed['wall']:.2f}x**; streamed from S3 / local file: "
        f"{streamed['wall'] / local['wall']:.2f}x (moto, a Python server on the same two cores, is the bound here).",
        "",
        "What this ratio measures is moto more than modelmon: moto answers a ranged GET in a time that grows "
        "with the size of the whole object, not of the range (see the wall time above grow faster than the "
        "object), so the dozens of 8 MiB ranges of a streamed read cost it far more than one whole GET. On S3 a "
        "range costs its own bytes; what streaming buys there is the overlap of reading and profiling, no "
        "`/tmp` (the 10 GB cap), and the flat memory of the table above against the staged job's copy of the "
        "object.",
    ]
    return lines


def fire_markdown(r):
    lines = ["", "## Fire to report", "", section_note(r, "fire"), ""]
    lines += [
        "From the scheduler's event to the reports in moto S3, through the analyze function's code on the real "
        "SDK clients (`bench-cloud fire`: AnalysisRunner with the S3, DynamoDB and CloudWatch adapters), for an "
        "hour of capture (bench-gen, one object per minute) against a baseline of 200,000 rows. The phases are "
        "the run's own timing record (`Timings` on the execution record, also logged); *event → reports* is "
        "the time to the last report written, *event → done* adds the metrics and the execution record. "
        f"{'Median of ' + str(r['repeat']) + ' runs' if r['repeat'] > 1 else 'One run'}, each on a new schedule.",
        "",
        "| records | capture MiB | event → reports s | event → done s | claim ms | baseline ms | listing ms | profiling ms (waiting for bytes) | checks ms | writes ms | metrics ms | threads, parts |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for records, run in r["runs"].items():
        t = run["inside"]["timings"]
        lines.append(
            f"| {int(records):,} | {run['capture_bytes'] / MIB:,.1f} | {t['reports_written_ms'] / 1000:.2f} | {run['inside']['seconds']:.2f} "
            f"| {t['claim_ms']:.0f} | {t['baseline_ms']:.0f} | {t['listing_ms']:.0f} | {t['profiling_ms']:.0f} ({t['reading_wait_ms']:.0f}) "
            f"| {t['checks_ms']:.0f} | {t['writes_ms']:.0f} | {t['metrics_ms']:.0f} | {t['threads']}, {t['parts']} |"
        )
    target = r["runs"].get("100000")
    if target:
        seconds = target["inside"]["timings"]["reports_written_ms"] / 1000
        lines += ["", f"Target: under 5 s for 100,000 records on this machine's two cores: {seconds:.2f} s, {'met' if seconds < 5 else '**not met**'}."]
    lines += [
        "",
        "*Waiting for bytes* is summed over the profiling threads (reading overlaps profiling, so it is part of "
        "the profiling wall time, not added to it).",
    ]
    return lines


def spark_markdown(r):
    mib = r["bytes"] / MIB
    mm, sp = r["modelmon"], r["spark"]
    inside = sp["inside"]
    lines = ["", "## Spark in local mode (Deequ's ColumnProfiler passes) against modelmon", "", section_note(r, "spark"), ""]
    lines += [
        f"Both profile x1.csv ({mib:,.0f} MiB, {r['rows']:,} rows) on every core, whole process. Spark "
        f"({r['versions']}, {r['java']}, `local[*]`) computes what Deequ's ColumnProfiler computes inside SageMaker's "
        "container (`infra/bench/spark_profile.py`): counts, completeness, approximate distinct counts and "
        "Deequ's type histogram; min, max, mean, stddev, sum and 100 percentiles at relative error 0.01 of "
        "the numeric columns; value counts of the columns with at most 120 distinct values.",
        "",
        *RUN_HEADER,
        run_row("modelmon baseline", "x1.csv", mm, f"{mib / mm['wall']:,.0f} MiB/s", "statistics.json and constraints.json written"),
        run_row(
            "Spark (pyspark)", "x1.csv", sp, f"{mib / sp['wall']:,.0f} MiB/s",
            f"inside: start {fmt(inside['start_s'])} s, pass 1 {fmt(inside['pass1_s'])} s, pass 2 {fmt(inside['pass2_s'])} s, "
            f"pass 3 ({inside['histograms']} columns) {fmt(inside['pass3_s'])} s",
        ),
        "",
        f"Spark wall / modelmon wall: **{sp['wall'] / mm['wall']:.1f}x**; Spark's passes alone (no JVM start) / "
        f"modelmon wall: {(inside['pass1_s'] + inside['pass2_s'] + inside['pass3_s']) / mm['wall']:.1f}x.",
    ]  # fmt: skip
    return lines


SCRIPTS_HEADING = "## Users' scripts: records/s through a record preprocessor (issue 14)"


def scripts_markdown(s):
    """The users' scripts section: whole analyze runs beside the Rust path and the plain Python
    loop, then the runner alone beside the plain loop."""
    a = s["analyze"]
    rust = a["Rust path (no script)"]
    batches = scripts_bench.BATCH_SIZES
    largest = batches[-1]
    lines = [
        "",
        SCRIPTS_HEADING,
        "",
        f"`infra/bench/run.sh scripts` (or part of a full run), {s['finished']}: the first "
        f"{s['records']:,} records of bench-gen's capture at `BENCH_GB={s['scale_gb']:g}` (CSV in and out; the "
        "flattener's records are the same ones with their input rewritten as nested JSON), "
        f"{s['modelmon']}, Python {s['python']}, best of {s.get('rounds', REPEAT)}.",
        "",
        f"Whole `modelmon analyze` runs of {a['records']:,} records, against the Rust path and against "
        "the plain Python loop of the same script (what SageMaker's container runs before its Spark "
        "analysis, so a floor for it):",
        "",
        "| path | records/s | vs Rust path | vs plain Python loop |",
        "| --- | ---: | ---: | ---: |",
        f"| Rust path, no script | {rust:,.0f} | 1.00 | |",
    ]
    for name, label in (("docs CSV example", "docs CSV example"), ("nested-JSON flattener", "nested-JSON flattener")):
        rate = a[name]
        loop = s["cases"][name]["plain_loop"]
        lines.append(f"| {label} (`--record-preprocessor`) | {rate:,.0f} | {rate / rust:.2f} | {rate / loop:.2f} |")
    lines += [
        "",
        "The runner alone (one worker answering requests of N records, from sending a request to "
        "reading its answer) against a plain Python loop over the same records (one process reading "
        "capture lines, calling the handler per record with the same record object and writing one "
        "JSON line per record, as SageMaker's container runs a preprocessor):",
        "",
        f"| script | plain loop, records/s | runner, {' / '.join(f'{b:,}' for b in batches)} per request, "
        f"records/s | runner ({largest:,}) / plain loop | one {largest:,}-record batch | bytes per record: "
        "request / answer | records per 6 MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    ratios = []
    for name, case in s["cases"].items():
        runner = case["runner"]
        rates = " / ".join(f"{runner[str(b)]['records_per_s']:,.0f}" for b in batches)
        top = runner[str(largest)]
        ratios.append(top["records_per_s"] / case["plain_loop"])
        lines.append(
            f"| {name} | {case['plain_loop']:,.0f} | {rates} | {top['records_per_s'] / case['plain_loop']:.2f} "
            f"| {top['seconds_per_batch']:.2f} s | {case['request_bytes_per_record']:,.0f} / "
            f"{case['answer_bytes_per_record']:,.0f} | {case['records_per_6mb']:,} |"
        )
    lines += [
        "",
        f"So a batch is capped at {largest:,} records (`MAX_BATCH_RECORDS`) by count, not by the 6 MB "
        "limit, for these records: well under the scripts function's 300 s timeout, and a "
        f"million-record hour is about {1_000_000 // largest:,} invocations. The runner alone runs at "
        f"{min(ratios):.2f}x to {max(ratios):.2f}x the plain loop's rate at {largest:,} records per "
        "request (it decodes a batch with one `json.loads`, keeps one key set per distinct dict shape "
        "and pauses the cyclic collector during a batch, and it pays for the request and answer "
        "encoding the loop does not have); the whole-run table above is the cost a user sees.",
    ]
    return lines


SECTION_MARKDOWN = {
    "threads": threads_markdown,
    "sizes": sizes_markdown,
    "cloud": cloud_markdown,
    "fire": fire_markdown,
    "spark": spark_markdown,
    "scripts": scripts_markdown,
    "fanout": fanout_markdown,
}


def markdown(results):
    m = results["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Written by `infra/bench/run.sh`; rerun it rather than editing the numbers by hand. Each section is "
        "measured on its own (`BENCH_SECTIONS`) and says when, at what scale and on which commit.",
    ]
    if "core" in results:
        lines += core_markdown(results["core"])
    else:
        lines += ["", "## Results", "", "The `core` section (modelmon against polars and whylogs, cold starts) has not been "
                  "measured into these results yet: `BENCH_SECTIONS=core infra/bench/run.sh` adds it."]  # fmt: skip
    for name, render in SECTION_MARKDOWN.items():
        if name in results:
            lines += render(results[name])
    lines += [
        "",
        "## The machine",
        "",
        f"- {m['nproc']} cores: {m['cpu_model']} (AVX2: {'yes' if m['avx2'] else 'no'}), {m['mem_gib']:.1f} GiB RAM, "
        f"Linux {m['kernel']}; shared with other work while measured",
        f"- {m['rustc']}; {m['modelmon']} (release profile: thin LTO, 4 codegen units)",
        f"- Python {m['python']}, polars {m['polars']}, whylogs {m['whylogs']}, pandas {m['pandas']}, "
        f"numpy {m['numpy']}, pyspark and moto (all pinned in `infra/bench/requirements.txt`)",
        f"- measured with {'GNU time' if m['gnu_time'] else 'os.wait4'} per child process",
        "",
        "## Rerun",
        "",
        "```sh",
        "infra/bench/run.sh                                  # every section: 1 GiB CSV, 1M capture records, 4 GiB sizes",
        "BENCH_GB=0.1 BENCH_SECTIONS=core infra/bench/run.sh # quick",
        "BENCH_SECTIONS=fire,cloud infra/bench/run.sh        # some sections; the others stay as last measured",
        "infra/bench/run.sh scripts                          # only the users' scripts section (issue 14)",
        "infra/bench/run.sh report                           # only the report page against Evidently (issue 16)",
        "```",
        "",
        "Knobs: `BENCH_SECTIONS` (any of " + ", ".join(f"`{name}`" for name in ALL_SECTIONS) + "; default all), "
        "`BENCH_GB` (size of big.csv in GiB; x1/x2 = a quarter/half of it; default 1), `BENCH_SIZES_GB` (the "
        "sizes section's big file, default 4), `BENCH_RECORDS` (capture records; default 1M × BENCH_GB), "
        "`BENCH_FIRE_RECORDS` (default 10000,100000,1000000), `BENCH_REPEAT` (runs of each measurement, "
        "default 3), `BENCH_WHYLOGS_REPEAT` (default 1), `BENCH_SPARK_REPEAT` (default 1), `BENCH_COLD_RUNS` "
        "(default 20), `BENCH_SCRIPTS_RECORDS` (records through the users' scripts, default 100,000), `BENCH_PERF=1` (perf profiles), `BENCH_DATA` (default `~/.cache/modelmon/bench-data`; "
        "data is reused while the generator is unchanged), `BENCH_VENV` (the peers' venv, default "
        "`~/.cache/modelmon/bench-venv`), `BENCH_OUT` (default `BENCHMARKS.md`). `python3 infra/bench/bench.py "
        "--markdown-only` rewrites this file from the last results without measuring; the raw numbers are "
        "`$BENCH_DATA/results.json`.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--markdown-only"]:
        # Rewrites BENCHMARKS.md from the last results, measuring nothing.
        write_markdown(markdown(json.loads(RESULTS.read_text())))
    else:
        main()
