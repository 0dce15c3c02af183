"""Users' scripts through `modelmon analyze` and `modelmon baseline`: the real scripts of
tests/scripts/ on captured traffic, each run's report.json checked (read = analysed + rejected +
dropped), the flattened statistics against pandas' own computation of the same records.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "tests" / "scripts"


def modelmon_bin():
    path = os.environ.get("MODELMON_BIN")
    if not path:
        target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/modelmon/target"))
        path = str(Path(target) / "debug" / "modelmon")
    if not os.path.exists(path):
        pytest.fail(f"modelmon binary not found at {path}: build it and set MODELMON_BIN")
    return path


def modelmon(*args, env=None):
    return subprocess.run(
        [modelmon_bin(), *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "MODELMON_PYTHON": sys.executable, **(env or {})},
        timeout=300,
    )


def part(mode, data, encoding):
    content_type = "text/csv" if encoding == "CSV" else "application/json"
    return {"observedContentType": content_type, "mode": mode, "data": data, "encoding": encoding}


def capture_line(event_id, input_data, output_data, encoding="CSV", shadow=False):
    record = {
        "captureData": {
            "endpointInput": part("INPUT", input_data, encoding),
            "endpointOutput": part("OUTPUT", output_data, encoding),
        },
        "eventMetadata": {"eventId": event_id, "inferenceTime": "2026-11-25T13:00:05Z"},
        "eventVersion": "0",
    }
    if shadow:
        record["eventMetadata"]["invocationSource"] = "ShadowExperiment"
    return json.dumps(record)


def write_capture(tmp_path, lines, name="capture"):
    folder = tmp_path / name / "ep" / "AllTraffic" / "2026" / "11" / "25" / "13"
    folder.mkdir(parents=True)
    path = folder / "05-00-000-a.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return tmp_path / name, path


def baseline_of(tmp_path, header, rows):
    """A baseline made by `modelmon baseline` from a CSV of `rows`."""
    data = tmp_path / "train.csv"
    data.write_text(",".join(header) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    out = tmp_path / "baseline"
    done = modelmon("baseline", "--dataset", data, "--output", out, "--quiet")
    assert done.returncode == 0, done.stderr
    return out / "statistics.json", out / "constraints.json"


def analyze(tmp_path, capture, statistics, constraints, *extra):
    out = tmp_path / "out"
    done = modelmon(
        "analyze",
        "--dataset", capture,
        "--statistics", statistics,
        "--constraints", constraints,
        "--output", out,
        "--quiet",
        *extra,
    )  # fmt: skip
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else None
    return done, out, report


def account_adds_up(records):
    rejected = sum(r["count"] for r in records["rejected"].values())
    assert records["read"] == records["analysed"] + rejected + records.get("dropped", 0), records


def test_the_docs_csv_example_maps_its_keys_onto_the_baseline_by_position(tmp_path):
    statistics, constraints = baseline_of(
        tmp_path, ["score", "age", "plan"], [(0.1 * i, 20 + i, "pro" if i % 2 else "basic") for i in range(20)]
    )
    # 12 records: the fourth feature's key "00000000000000000002" must land on `plan`, not on
    # whatever sorts there as text.
    lines = [capture_line(f"e{i:x}", f"{30 + i},basic", f"0.{i}") for i in range(12)]
    lines.append(capture_line("shadow", "99,pro", "0.9", shadow=True))
    capture, _ = write_capture(tmp_path, lines)
    done, out, report = analyze(
        tmp_path, capture, statistics, constraints, "--record-preprocessor", SCRIPTS / "docs_csv_preprocessor.py"
    )
    assert done.returncode == 0, done.stderr
    stats = {f["name"]: f for f in json.loads((out / "statistics.json").read_text())["features"]}
    assert set(stats) == {"score", "age", "plan"}
    assert stats["age"]["numerical_statistics"]["sum"] == sum(30 + i for i in range(12))
    assert stats["plan"]["string_statistics"]["distinct_count"] == 1
    assert report["records"]["read"] == 12 and report["records"]["analysed"] == 12
    assert report["capture"]["shadow_skipped"] == 1
    account_adds_up(report["records"])


def test_the_nested_json_flattener_against_pandas(tmp_path):
    requests = [
        {"customer": {"age": 20 + i % 37, "address": {"zip": f"Z{i % 5:04d}"}}, "features": [i * 0.5, -i]}
        for i in range(200)
    ]
    scores = [round((i * 7919) % 1000 / 1000, 3) for i in range(200)]
    lines = [
        capture_line(f"e{i}", json.dumps(r), json.dumps({"score": s}), encoding="JSON")
        for i, (r, s) in enumerate(zip(requests, scores))
    ]
    capture, _ = write_capture(tmp_path, lines)
    # The baseline names the flattened columns; its numbers do not matter here.
    statistics, constraints = baseline_of(
        tmp_path,
        ["customer.age", "customer.address.zip", "features.0", "features.1", "score"],
        [(30, "x90000", 1.0, -1, 0.5)] * 3,
    )
    done, out, report = analyze(
        tmp_path, capture, statistics, constraints, "--record-preprocessor", SCRIPTS / "flatten_nested_json.py"
    )
    assert done.returncode == 0, done.stderr
    # The same records flattened independently: pandas' json_normalize.
    frame = pd.json_normalize(requests)
    frame["features.0"] = [r["features"][0] for r in requests]
    frame["features.1"] = [r["features"][1] for r in requests]
    frame["score"] = scores
    stats = {f["name"]: f for f in json.loads((out / "statistics.json").read_text())["features"]}
    for column in ["customer.age", "features.0", "features.1", "score"]:
        numbers = stats[column]["numerical_statistics"]
        assert numbers["sum"] == pytest.approx(frame[column].sum()), column
        assert numbers["mean"] == pytest.approx(frame[column].mean()), column
        assert numbers["min"] == pytest.approx(frame[column].min()), column
        assert numbers["max"] == pytest.approx(frame[column].max()), column
    zips = stats["customer.address.zip"]["string_statistics"]
    assert zips["distinct_count"] == frame["customer.address.zip"].nunique()
    assert report["records"]["analysed"] == 200
    account_adds_up(report["records"])


def test_the_sampler_drops_records_and_the_account_counts_them(tmp_path):
    statistics, constraints = baseline_of(tmp_path, ["score", "age", "plan"], [(0.5, 30, "pro")] * 5)
    lines = [capture_line(f"e{i:x}", f"{30 + i},pro", f"0.{i}") for i in range(16)]
    capture, _ = write_capture(tmp_path, lines)
    done, _, report = analyze(
        tmp_path, capture, statistics, constraints, "--record-preprocessor", SCRIPTS / "sample_one_in_two.py"
    )
    assert done.returncode == 0, done.stderr
    records = report["records"]
    # Event ids e0..ef: the odd last hex digits are dropped.
    assert records["dropped"] == 8 and records["analysed"] == 8 and records["read"] == 16
    account_adds_up(records)


def test_a_raising_script_rejects_those_records_with_their_line_and_the_scripts(tmp_path):
    statistics, constraints = baseline_of(tmp_path, ["age", "plan"], [(30, "pro")] * 5)
    requests = [{"age": 31, "plan": "pro"}, {"plan": "basic"}, {"age": "old"}, {"age": 40}]
    lines = [capture_line(f"e{i}", json.dumps(r), "{}", encoding="JSON") for i, r in enumerate(requests)]
    capture, path = write_capture(tmp_path, lines)
    done, _, report = analyze(
        tmp_path, capture, statistics, constraints, "--record-preprocessor", SCRIPTS / "raise_on_some.py"
    )
    assert done.returncode == 0, done.stderr
    records = report["records"]
    assert records["analysed"] == 2
    rejected = records["rejected"]["preprocessor"]
    assert rejected["count"] == 2
    script = SCRIPTS / "raise_on_some.py"
    assert rejected["examples"][0] == f"{path}:2: preprocess_handler ({script}) raised KeyError at line 7: 'age'"
    assert rejected["examples"][1].startswith(f"{path}:3: preprocess_handler ({script}) raised ValueError at line 8:")
    account_adds_up(records)


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("syntax_error.py", "SyntaxError at line 4"),
        ("no_handler.py", "preprocess_handler"),
    ],
)
def test_a_script_that_cannot_run_fails_the_run_with_pythons_error(tmp_path, script, expected):
    statistics, constraints = baseline_of(tmp_path, ["age"], [(30,)] * 3)
    capture, _ = write_capture(tmp_path, [capture_line("e1", "31", "0.5")])
    done, _, report = analyze(tmp_path, capture, statistics, constraints, "--record-preprocessor", SCRIPTS / script)
    assert done.returncode == 1
    assert f"the record preprocessor {SCRIPTS / script} cannot run" in done.stderr, done.stderr
    assert expected in done.stderr, done.stderr
    assert report is None


def test_the_postprocessor_writes_beside_the_reports(tmp_path):
    statistics, constraints = baseline_of(tmp_path, ["score", "age", "plan"], [(0.5, 30, "pro")] * 5)
    # `plan` values outside the baseline's domain: a violation the summary lists.
    lines = [capture_line(f"e{i}", f"{30 + i},enterprise", "0.5") for i in range(4)]
    capture, _ = write_capture(tmp_path, lines)
    done, out, report = analyze(
        tmp_path,
        capture,
        statistics,
        constraints,
        "--record-preprocessor",
        SCRIPTS / "docs_csv_preprocessor.py",
        "--post-analytics-processor",
        SCRIPTS / "postprocessor_summary.py",
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "custom" / "summary.json").read_text())
    violations = json.loads((out / "constraint_violations.json").read_text())["violations"]
    assert summary["items"] == 4
    assert summary["violations"] == sorted(v["feature_name"] + ":" + v["constraint_check_type"] for v in violations)
    assert summary["violations"], "the run has violations to list"
    # What the script printed went to stderr, not into the reports.
    assert "postprocessor_summary.py wrote custom/summary.json" in done.stderr


def test_a_raising_postprocessor_fails_and_keeps_the_reports(tmp_path):
    statistics, constraints = baseline_of(tmp_path, ["age"], [(30,)] * 3)
    capture, _ = write_capture(tmp_path, [capture_line("e1", "31", "0.5")])
    done, out, report = analyze(
        tmp_path, capture, statistics, constraints, "--post-analytics-processor", SCRIPTS / "postprocessor_raises.py"
    )
    assert done.returncode == 1
    assert "RuntimeError at line 7: the alerting service is unreachable" in done.stderr, done.stderr
    assert (out / "statistics.json").exists() and report["records"]["analysed"] == 1


def test_a_baseline_through_the_preprocessor(tmp_path):
    data = tmp_path / "requests.jsonl"
    requests = [{"customer": {"age": 20 + i}, "features": [i, i * 2]} for i in range(10)]
    data.write_text("".join(json.dumps(r) + "\n" for r in requests) + "{not json\n")
    script = tmp_path / "flatten_dict.py"
    script.write_text(
        "def preprocess_handler(record):\n"
        "    return {'age': record['customer']['age'], 'f0': record['features'][0], 'f1': record['features'][1]}\n"
    )
    out = tmp_path / "baseline"
    done = modelmon(
        "baseline", "--dataset", data, "--format", "json", "--output", out, "--quiet", "--record-preprocessor", script
    )
    assert done.returncode == 0, done.stderr
    stats = {f["name"]: f for f in json.loads((out / "statistics.json").read_text())["features"]}
    assert set(stats) == {"age", "f0", "f1"}
    assert stats["age"]["numerical_statistics"]["sum"] == sum(20 + i for i in range(10))
    assert stats["f1"]["numerical_statistics"]["max"] == 18


def test_a_missing_python_is_a_clear_error(tmp_path):
    statistics, constraints = baseline_of(tmp_path, ["age"], [(30,)] * 3)
    capture, _ = write_capture(tmp_path, [capture_line("e1", "31", "0.5")])
    out = tmp_path / "out"
    done = modelmon(
        "analyze", "--dataset", capture, "--statistics", statistics, "--constraints", constraints,
        "--output", out, "--record-preprocessor", SCRIPTS / "docs_csv_preprocessor.py",
        env={"MODELMON_PYTHON": "/nonexistent/python3"},
    )  # fmt: skip
    assert done.returncode == 1
    assert "`/nonexistent/python3` was not found" in done.stderr, done.stderr
    assert "MODELMON_PYTHON" in done.stderr
