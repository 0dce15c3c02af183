#!/usr/bin/env python3
"""The report page's benchmark (issue 16): modelmon's report.html and Evidently's data-drift
report on the same data, for 10, 100 and 1,000 features: size, time, and whether two runs give
the same bytes. Started by `infra/bench/run.sh report` (or as part of the whole run); writes its
section of BENCHMARKS.md between the report-bench markers and leaves the rest alone.

The data (generated here, seeded): a reference and a current CSV of BENCH_REPORT_ROWS rows
(default 2,000) each, the columns cycling through a normal number, an integer, a five-value
category and a uniform number; in the current data every seventh column is shifted or gains a
new category, and every third uniform column has gaps.
"""

import hashlib
import json
import os
import random
import re
import statistics
import sys
from pathlib import Path

from bench import MODELMON, OUT_MD, VENV_PY, env_int, log, measure

HERE = Path(__file__).resolve().parent
DATA_ROOT = Path(os.environ.get("BENCH_DATA", Path.home() / ".cache/modelmon/bench-data"))
ROWS = env_int("BENCH_REPORT_ROWS", 2000)
FEATURES = [int(n) for n in os.environ.get("BENCH_REPORT_FEATURES", "10,100,1000").split(",")]
REPEAT = max(1, env_int("BENCH_REPORT_REPEAT", 5))
EVIDENTLY_REPEAT = max(1, env_int("BENCH_EVIDENTLY_REPEAT", 2))
START, END = "<!-- report-bench:start -->", "<!-- report-bench:end -->"
# The modelmon binary's profile, as the table names it (run.sh builds release).
BUILD = os.environ.get("BENCH_REPORT_BUILD", "release")
PLANS = ["basic", "standard", "premium", "family", "student"]


def write_csv(path, features, rows, drifted, seed):
    rng = random.Random(seed)
    with open(path, "w") as out:
        out.write(",".join(f"f{i:04}" for i in range(features)) + "\n")
        for _ in range(rows):
            fields = []
            for i in range(features):
                shifted = drifted and i % 7 == 0
                kind = i % 4
                if kind == 0:
                    fields.append(f"{rng.gauss(58.0 if shifted else 50.0, 10.0):.3f}")
                elif kind == 1:
                    fields.append(str(rng.randrange(18, 108 if not shifted else 130)))
                elif kind == 2:
                    fields.append("enterprise" if shifted and rng.random() < 0.3 else rng.choice(PLANS))
                else:
                    gap = drifted and i % 3 == 0 and rng.random() < 0.1
                    fields.append("" if gap else f"{rng.uniform(0, 100):.2f}")
            out.write(",".join(fields) + "\n")


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def one_size(features):
    data = DATA_ROOT / f"report-{features}"
    data.mkdir(parents=True, exist_ok=True)
    reference, current = data / "reference.csv", data / "current.csv"
    stamp = data / "stamp.json"
    want = {"rows": ROWS, "features": features, "generator": sha256(__file__)}
    if not (stamp.exists() and json.loads(stamp.read_text()) == want):
        log(f"generating {features}-feature data ({ROWS} rows each)")
        write_csv(reference, features, ROWS, False, 1)
        write_csv(current, features, ROWS, True, 2)
        stamp.write_text(json.dumps(want))
    baseline, reports = data / "baseline", data / "reports"
    measure([MODELMON, "baseline", "--dataset", str(reference), "--output", str(baseline), "--quiet"])
    analyze = [
        MODELMON, "analyze", "--dataset", str(current), "--format", "csv", "--header",
        "--statistics", str(baseline / "statistics.json"), "--constraints", str(baseline / "constraints.json"),
        "--output", str(reports), "--quiet",
    ]  # fmt: skip
    analyze_runs = [measure(analyze) for _ in range(REPEAT)]
    page = reports / "report.html"
    first = sha256(page)
    renders, processes = [], []
    for i in range(REPEAT):
        run = measure([MODELMON, "report", str(reports), "--output", str(data / f"again-{i}.html")])
        processes.append(run["wall"])
        renders.append(float(re.search(r"parsed and rendered ([0-9.]+) ms", run["stdout"]).group(1)))
    same = all(sha256(data / f"again-{i}.html") == first for i in range(REPEAT))
    report = json.loads((reports / "report.json").read_text())
    result = {
        "features": features,
        "modelmon_page_bytes": page.stat().st_size,
        "modelmon_report_json_bytes": (reports / "report.json").stat().st_size,
        "modelmon_violations": len(report["checks"]["violations"]),
        "modelmon_analyze_wall_s": statistics.median(r["wall"] for r in analyze_runs),
        "modelmon_render_ms": statistics.median(renders),
        "modelmon_report_process_s": statistics.median(processes),
        "modelmon_deterministic": same,
    }
    log(f"modelmon {features} features: {result['modelmon_page_bytes']:,} bytes, render {result['modelmon_render_ms']:.1f} ms")

    evidently_runs, hashes = [], []
    for i in range(EVIDENTLY_REPEAT):
        out = data / f"evidently-{i}.html"
        run = measure([VENV_PY, str(HERE / "evidently_report.py"), str(reference), str(current), str(out)])
        run["inside"] = json.loads(run["stdout"].strip().splitlines()[-1])
        evidently_runs.append(run)
        hashes.append(sha256(out))
        log(f"evidently {features} features run {i + 1}: {run['wall']:.1f} s, {out.stat().st_size:,} bytes")
    result.update(
        evidently_page_bytes=(data / "evidently-0.html").stat().st_size,
        evidently_wall_s=statistics.median(r["wall"] for r in evidently_runs),
        evidently_run_s=statistics.median(r["inside"]["run_s"] for r in evidently_runs),
        evidently_save_s=statistics.median(r["inside"]["save_s"] for r in evidently_runs),
        evidently_import_s=statistics.median(r["inside"]["import_s"] for r in evidently_runs),
        evidently_deterministic=len(set(hashes)) == 1,
        evidently_drifted=evidently_runs[0]["inside"].get("drifted_columns"),
    )
    return result


def markdown(results, versions):
    kib = lambda n: f"{n / 1024:,.0f} KiB" if n < 10 << 20 else f"{n / (1 << 20):,.1f} MiB"  # noqa: E731
    lines = [
        START,
        "## The report page (issue 16)",
        "",
        f"`infra/bench/run.sh report` (`infra/bench/report_bench.py`): modelmon's report.html and Evidently's "
        f"data-drift report ({versions['evidently']}, `Report([DataDriftPreset()])`, `save_html`) on the same "
        f"two CSVs of {ROWS:,} rows each, per number of features; modelmon's {BUILD} build, medians of {REPEAT} "
        f"(modelmon) and {EVIDENTLY_REPEAT} (Evidently) runs.",
        "",
        "| features | modelmon page | per feature | render ms | `modelmon report` s | `modelmon analyze` s "
        "| Evidently page | Evidently s (run + save) | size ratio | time ratio | same bytes twice (modelmon / Evidently) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        evidently_s = r["evidently_run_s"] + r["evidently_save_s"]
        lines.append(
            f"| {r['features']:,} | {kib(r['modelmon_page_bytes'])} | {r['modelmon_page_bytes'] / r['features']:,.0f} B "
            f"| {r['modelmon_render_ms']:.1f} | {r['modelmon_report_process_s']:.3f} | {r['modelmon_analyze_wall_s']:.2f} "
            f"| {kib(r['evidently_page_bytes'])} | {evidently_s:.1f} ({r['evidently_wall_s']:.1f} with Python and imports) "
            f"| {r['evidently_page_bytes'] / r['modelmon_page_bytes']:,.0f}x "
            f"| {evidently_s * 1000 / r['modelmon_render_ms']:,.0f}x "
            f"| {'yes' if r['modelmon_deterministic'] else 'NO'} / {'yes' if r['evidently_deterministic'] else 'no'} |"
        )
    lines += [
        "",
        "- **render ms**: parsing report.json and rendering the page, inside `modelmon report DIR` (its own "
        "clock, printed); **`modelmon report` s** is that whole process. `modelmon analyze` s is the whole run: "
        "reading the CSV, profiling, the checks and all four files.",
        "- **Evidently s** is its `Report.run` (which computes the drift) plus `save_html`; the time ratio sets "
        "that against modelmon's render alone, so it flatters modelmon by the drift computation Evidently "
        "includes: against `modelmon analyze` (which computes as much and more), see the columns.",
        "- **size ratio** = Evidently's page ÷ modelmon's. Evidently's page embeds its JavaScript bundle "
        "(Plotly among it) and every chart's data; modelmon's is inline SVG, no script beyond sorting.",
        f"- Machine: {versions['machine']}.",
        END,
    ]
    return "\n".join(lines) + "\n"


def main():
    results = [one_size(n) for n in FEATURES]
    versions = json.loads(
        measure([VENV_PY, "-c", "import json, importlib.metadata as m; print(json.dumps({'evidently': "
                 "'Evidently ' + m.version('evidently')}))"])["stdout"]
    )
    versions["machine"] = f"{os.cpu_count()} cores, {measure([MODELMON, '--version'])['stdout'].strip()}"
    section = markdown(results, versions)
    text = OUT_MD.read_text() if OUT_MD.exists() else "# Benchmarks\n"
    if START in text and END in text:
        text = text[: text.index(START)] + section + text[text.index(END) + len(END) + 1 :]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    OUT_MD.write_text(text)
    (DATA_ROOT / "report-results.json").write_text(json.dumps(results, indent=1))
    log(f"wrote the report section of {OUT_MD}")


if __name__ == "__main__":
    sys.exit(main())
