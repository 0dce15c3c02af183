"""The runner of users' scripts (functions/scripts/runner.py) with real scripts (tests/scripts/):
SageMaker's record object API, what each kind of return value becomes, the errors, and the
post-analytics processor. Every test drives the runner the way modelmon's local runs do, as a
`python3 runner.py` process answering one JSON request per line; the scripts function under the
Lambda runtime API is tested in test_lambda_functions.py.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNNER = ROOT / "functions" / "scripts" / "runner.py"
SCRIPTS = ROOT / "tests" / "scripts"


class Worker:
    """`python3 runner.py`, as modelmon's local adapter runs it."""

    def __init__(self, tmp_path, env=None):
        self.stderr_path = tmp_path / "runner-stderr.txt"
        self.stderr = open(self.stderr_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, str(RUNNER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env={**os.environ, **(env or {})},
        )

    def ask(self, request):
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"the runner exited ({self.process.poll()}): {self.stderr_path.read_text()}"
        return json.loads(line)

    def log(self):
        self.stderr.flush()
        return self.stderr_path.read_text()

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=10)
        self.stderr.close()


@pytest.fixture
def worker(tmp_path):
    w = Worker(tmp_path)
    yield w
    w.close()


def script(name=None, source=None):
    if source is None:
        path = SCRIPTS / name
        return {"origin": str(path), "source": path.read_text()}
    return {"origin": name or "inline.py", "source": source}


def capture(event_id, input_data, output_data=None, encoding="CSV", **metadata):
    content_type = {"CSV": "text/csv", "JSON": "application/json"}[encoding]
    data = {"endpointInput": {"observedContentType": content_type, "mode": "INPUT", "data": input_data, "encoding": encoding}}
    if output_data is not None:
        data["endpointOutput"] = {"observedContentType": content_type, "mode": "OUTPUT", "data": output_data, "encoding": encoding}
    return {
        "captureData": data,
        "eventMetadata": {"eventId": event_id, "inferenceTime": "2026-11-25T13:00:05Z", **metadata},
        "eventVersion": "0",
    }


def preprocess(worker, the_script, records, **extra):
    answer = worker.ask({"handler": "preprocess", "script": the_script, "records": records, **extra})
    assert answer["protocol"] == 1, answer
    return answer


def rows_of(answer):
    """Each record's rows as dicts (named) or lists (positional); None for a dropped record."""
    out = []
    for result in answer["results"]:
        if result is None:
            out.append(None)
        elif "rows" in result:
            out.append(
                [
                    dict(zip(answer["key_sets"][row["k"]], row["v"])) if "k" in row else row["v"]
                    for row in result["rows"]
                ]
            )
        else:
            out.append(result)
    return out


# ------------------------------------------------------------------ SageMaker's record object


def test_the_record_object_has_sagemakers_attributes(worker):
    source = """
def joined(*values):
    return "|".join(map(str, values))

def preprocess_handler(inference_record):
    r = inference_record
    i, o, m = r.endpoint_input, r.endpoint_output, r.event_metadata
    return {
        "in": joined(i.data, i.encoding, i.observedContentType, i.mode),
        "out": joined(o.data, o.encoding, o.observedContentType, o.mode),
        "meta": joined(m.event_id, m.event_time, m.custom_attribute, m.inference_id),
        "version": r.event_version,
        "same": r.as_dict() == r.event_dict and r.as_dict()["eventVersion"] == "0",
        "legacy": r.event_data.endpointInput.data == i.data and r.event_data.endpointOutput.mode == "OUTPUT",
        "none": joined(r.batch_transform_output, r.ground_truth),
    }
"""
    record = capture("e-1", "31,pro", "0.25\n", customAttributes="tenant=7", inferenceId="inf-9")
    [[row]] = rows_of(preprocess(worker, script("record_api.py", source), [record]))
    assert row == {
        "in": "31,pro|CSV|text/csv|INPUT",
        "out": "0.25\n|CSV|text/csv|OUTPUT",
        "meta": "e-1|2026-11-25T13:00:05Z|tenant=7|inf-9",
        "version": "0",
        "same": True,
        "legacy": True,
        "none": "None|None",
    }


def test_an_input_only_record_has_no_endpoint_output(worker):
    source = "def preprocess_handler(r):\n    return {'output_is_none': r.endpoint_output is None}\n"
    [[row]] = rows_of(preprocess(worker, script("x.py", source), [capture("e", "1")]))
    assert row == {"output_is_none": True}


def test_the_sdks_older_event_data_spelling(worker):
    record = capture("e", '{"a": 1, "b": "x"}', '{"score": 0.5}', encoding="JSON")
    assert rows_of(preprocess(worker, script("legacy_event_data.py"), [record])) == [[{"a": 1, "b": "x", "score": 0.5}]]


# ------------------------------------------------------------------ the real scripts


def test_the_docs_csv_example_keys_columns_by_position(worker):
    records = [capture("e1", "31,pro,12.5", "0.9\n"), capture("e2", "45,basic,", "0.1")]
    answer = preprocess(worker, script("docs_csv_preprocessor.py"), records)
    keys = [str(i).zfill(20) for i in range(4)]
    assert answer["key_sets"] == [keys]
    assert rows_of(answer) == [
        [dict(zip(keys, ["0.9", "31", "pro", "12.5"]))],
        [dict(zip(keys, ["0.1", "45", "basic", ""]))],
    ]


def test_the_nested_json_flattener_against_pandas(worker):
    requests = [
        {"customer": {"age": 31, "plan": {"name": "pro", "seats": 3}}, "region": "eu"},
        {"customer": {"age": 45, "plan": {"name": "basic", "seats": 1}}, "region": "us"},
        {"customer": {"age": None, "plan": {"name": "pro", "seats": 2}}, "region": "eu"},
    ]
    records = [
        capture(f"e{i}", json.dumps(r), json.dumps({"score": s}), encoding="JSON")
        for i, (r, s) in enumerate(zip(requests, [0.25, 0.5, 0.75]))
    ]
    rows = [r[0] for r in rows_of(preprocess(worker, script("flatten_nested_json.py"), records))]
    # Columns in the order the script wrote them; the values as pandas flattens the same requests.
    order = ["customer.age", "customer.plan.name", "customer.plan.seats", "region", "score"]
    assert [list(row) for row in rows] == [order] * 3
    expected = pd.json_normalize(requests)
    expected["score"] = [0.25, 0.5, 0.75]
    pd.testing.assert_frame_equal(pd.DataFrame(rows), expected[order], check_dtype=False)


def test_lists_in_nested_json_become_indexed_columns(worker):
    record = capture("e", json.dumps({"features": [0.5, {"x": 1}], "id": "a"}), encoding="JSON")
    assert rows_of(preprocess(worker, script("flatten_nested_json.py"), [record])) == [
        [{"features.0": 0.5, "features.1.x": 1, "id": "a"}]
    ]


def test_the_sampler_drops_every_other_record(worker):
    records = [capture(f"00{i:x}", f"{i},pro", f"0.{i}") for i in range(6)]
    answer = preprocess(worker, script("sample_one_in_two.py"), records)
    assert answer["results"] == [
        {"csv": "0.0,0,pro"},
        None,
        {"csv": "0.2,2,pro"},
        None,
        {"csv": "0.4,4,pro"},
        None,
    ]


def test_a_script_raising_on_some_records_rejects_only_those(worker):
    records = [
        capture("ok", '{"age": 31, "plan": "pro"}', encoding="JSON"),
        capture("no-age", '{"plan": "pro"}', encoding="JSON"),
        capture("bad-age", '{"age": "n/a"}', encoding="JSON"),
        capture("ok2", '{"age": 40}', encoding="JSON"),
    ]
    answer = preprocess(worker, script("raise_on_some.py"), records)
    results = rows_of(answer)
    assert results[0] == [{"age": 31, "plan": "pro"}]
    assert results[3] == [{"age": 40, "plan": None}]
    source = (SCRIPTS / "raise_on_some.py").read_text().splitlines()
    assert results[1] == {"error": {"type": "KeyError", "message": "'age'", "line": 7}}
    assert source[6].strip() == 'age = request["age"]'
    assert results[2] == {
        "error": {"type": "ValueError", "message": "invalid literal for int() with base 10: 'n/a'", "line": 8}
    }
    assert "int(age)" in source[7]


def test_a_syntax_error_fails_the_run_with_the_line(worker):
    answer = preprocess(worker, script("syntax_error.py"), [capture("e", "1")])
    failure = answer["failure"]
    assert (failure["type"], failure["line"]) == ("SyntaxError", 4), failure
    assert failure["traceback"] == "def preprocess_handler(inference_record)"
    assert "results" not in answer


def test_a_script_without_the_handler_fails_the_run(worker):
    answer = preprocess(worker, script("no_handler.py"), [capture("e", "1")])
    failure = answer["failure"]
    assert failure["type"] == "NotImplementedError"
    assert failure["message"] == (
        f"{SCRIPTS / 'no_handler.py'}: the script has no preprocess_handler; SageMaker's contract needs "
        "def preprocess_handler(inference_record) or def preprocess_handler(inference_record, logger)"
    )


def test_an_import_error_fails_the_run_with_pythons_error(worker):
    source = "import json\nimport no_such_module_for_modelmon\n\ndef preprocess_handler(r):\n    return {}\n"
    failure = preprocess(worker, script("imports.py", source), [capture("e", "1")])["failure"]
    assert (failure["type"], failure["line"]) == ("ModuleNotFoundError", 2)
    assert failure["message"] == "No module named 'no_such_module_for_modelmon'"
    assert 'File "imports.py", line 2' in failure["traceback"]


def test_a_handler_with_three_arguments_fails_the_run(worker):
    source = "def preprocess_handler(record, logger, extra):\n    return {}\n"
    failure = preprocess(worker, script("three.py", source), [capture("e", "1")])["failure"]
    assert failure["type"] == "TypeError"
    assert "must take (inference_record) or (inference_record, logger)" in failure["message"]


# ------------------------------------------------------------------ what a handler may return


RETURNS = '''
import math

class Number:
    """Looks like a numpy scalar."""
    def __init__(self, v): self.v = v
    def item(self): return self.v

def preprocess_handler(r):
    kind = r.endpoint_input.data
    return {
        "dict": {"b": 1, "a": "x", 10: None, 2.5: True},
        "dicts": [{"a": 1}, {"a": 2, "b": 3}],
        "values": [1, "two", 3.5, True, None],
        "lists": [[1, 2], (3, 4)],
        "csv": "1,2\\n3,4",
        "bytes": b"5,6",
        "none": None,
        "empty": [],
        "int": 7,
        "nested": {"a": {"b": 1}},
        "mixed": [{"a": 1}, 2],
        "numpy": {"n": Number(2.5), "m": Number(3)},
        "nan": {"x": math.nan, "y": math.inf, "z": -math.inf},
        "object": {"o": object()},
        "tuple_key": {(1, 2): "x"},
        "exit": None if kind != "exit" else __import__("sys").exit(3),
    }[kind]
'''


def test_what_each_return_value_becomes(worker):
    kinds = ["dict", "dicts", "values", "lists", "csv", "bytes", "none", "empty", "int", "nested",
             "mixed", "numpy", "nan", "object", "tuple_key", "exit"]
    answer = preprocess(worker, script("returns.py", RETURNS), [capture(k, k) for k in kinds])
    got = dict(zip(kinds, rows_of(answer)))
    # Keys in the order the handler wrote them (never sorted), non-string keys as JSON writes them.
    assert got["dict"] == [{"b": 1, "a": "x", "10": None, "2.5": True}]
    assert got["dicts"] == [{"a": 1}, {"a": 2, "b": 3}]
    assert got["values"] == [[1, "two", 3.5, True, None]]
    assert got["lists"] == [[1, 2], [3, 4]]
    assert got["csv"] == {"csv": "1,2\n3,4"}
    assert got["bytes"] == {"csv": "5,6"}
    assert got["none"] is None and got["empty"] is None
    assert got["numpy"] == [{"n": 2.5, "m": 3}]
    assert got["nan"] == [{"x": None, "y": "Infinity", "z": "-Infinity"}]
    for kind, words in [
        ("int", "returned a value of type int; expected a dict"),
        ("nested", "nested value (dict) for key 'a'"),
        ("mixed", "a list mixing rows and values"),
        ("object", "returned a value of type object for key 'o', which is not a JSON value"),
        ("tuple_key", "a dict with a key of type tuple ((1, 2)): keys are column names"),
    ]:
        assert got[kind]["error"]["type"] == "TypeError", (kind, got[kind])
        assert words in got[kind]["error"]["message"], (kind, got[kind])
        assert got[kind]["error"]["line"] is None
    # sys.exit in a handler rejects the record; the runner lives on.
    assert got["exit"] == {"error": {"type": "SystemExit", "message": "3", "line": 27}}
    # Key sets are sent once each.
    assert sorted(map(tuple, answer["key_sets"])) == sorted(
        {("b", "a", "10", "2.5"), ("a",), ("a", "b"), ("n", "m"), ("x", "y", "z")}
    )


def test_print_logging_and_stdin_do_not_disturb_the_protocol(tmp_path):
    worker = Worker(tmp_path)
    source = '''
import sys
def preprocess_handler(r, logger):
    print("printed", r.event_metadata.event_id)
    logger.info("logged %s", r.event_metadata.event_id)
    return {"stdin": sys.stdin.read()}
'''
    try:
        rows = rows_of(preprocess(worker, script("noisy.py", source), [capture("e7", "1")]))
        assert rows == [[{"stdin": ""}]]
        log = worker.log()
        assert "printed e7" in log and "INFO modelmon.preprocess_handler: logged e7" in log
    finally:
        worker.close()


def test_the_jobs_environment_is_visible_and_does_not_leak_into_the_next_request(worker):
    source = "import os\nTEAM_AT_IMPORT = os.environ.get('team')\ndef preprocess_handler(r):\n" \
             "    return {'now': os.environ.get('team'), 'import': TEAM_AT_IMPORT}\n"
    first = preprocess(worker, script("env.py", source), [capture("e", "1")], environment={"team": "risk"})
    second = preprocess(worker, script("env.py", source), [capture("e", "1")], environment={})
    assert rows_of(first) == [[{"now": "risk", "import": "risk"}]]
    assert rows_of(second) == [[{"now": None, "import": None}]]


def test_a_response_stops_at_its_budget_with_at_least_one_result(worker):
    records = [capture(f"e{i}", ",".join(["12345"] * 50), "0.5") for i in range(40)]
    full = preprocess(worker, script("docs_csv_preprocessor.py"), records)
    assert len(full["results"]) == 40
    size = len(json.dumps(full, separators=(",", ":")))
    part = preprocess(worker, script("docs_csv_preprocessor.py"), records, max_response_bytes=size // 4)
    assert 5 <= len(part["results"]) < 40
    assert part["results"] == full["results"][: len(part["results"])]
    assert len(json.dumps(part, separators=(",", ":"))) <= size // 4
    tiny = preprocess(worker, script("docs_csv_preprocessor.py"), records, max_response_bytes=10)
    assert len(tiny["results"]) == 1


def test_csv_and_json_lines_records_of_a_baselining_dataset(worker):
    line = "def preprocess_handler(r):\n    return {'type': type(r).__name__, 'value': str(r)}\n"
    csv_answer = preprocess(worker, script("line.py", line), ["31,pro", "45,basic"], record_format="csv")
    assert rows_of(csv_answer) == [[{"type": "str", "value": "31,pro"}], [{"type": "str", "value": "45,basic"}]]
    json_answer = preprocess(worker, script("line.py", line), [{"a": 1}], record_format="json")
    assert rows_of(json_answer) == [[{"type": "dict", "value": "{'a': 1}"}]]


# ------------------------------------------------------------------ the post-analytics processor


def report_inputs(tmp_path):
    statistics = {"version": 0.0, "dataset": {"item_count": 42}, "features": []}
    violations = {"violations": [{"feature_name": "age", "constraint_check_type": "baseline_drift_check"}]}
    (tmp_path / "statistics.json").write_text(json.dumps(statistics))
    return [
        {"path": "output/statistics.json", "url": (tmp_path / "statistics.json").as_uri()},
        {"path": "output/constraint_violations.json", "base64": base64.b64encode(json.dumps(violations).encode()).decode()},
        {"path": "output/report.json", "base64": base64.b64encode(b"{}").decode()},
    ]


def postprocess(worker, the_script, inputs, **extra):
    return worker.ask(
        {
            "handler": "postprocess",
            "script": the_script,
            "inputs": inputs,
            "paths": {"output_path": "output"},
            "environment": {"sagemaker_monitoring_schedule_name": "churn-hourly", "team": "risk"},
            **extra,
        }
    )


def test_the_postprocessor_writes_beside_the_reports(worker, tmp_path):
    answer = postprocess(worker, script("postprocessor_summary.py"), report_inputs(tmp_path))
    assert answer["protocol"] == 1 and "failure" not in answer, answer
    [written] = answer["files"]
    assert written["path"] == "custom/summary.json"
    assert json.loads(base64.b64decode(written["base64"])) == {
        "schedule": "churn-hourly",
        "team": "risk",
        "items": 42,
        "violations": ["age:baseline_drift_check"],
    }
    assert "postprocessor_summary.py wrote custom/summary.json" in worker.log()


def test_a_raising_postprocessor_fails_with_the_line(worker, tmp_path):
    answer = postprocess(worker, script("postprocessor_raises.py"), report_inputs(tmp_path))
    failure = answer["failure"]
    assert (failure["type"], failure["message"], failure["line"]) == (
        "RuntimeError",
        "the alerting service is unreachable",
        7,
    )
    assert "files" not in answer


def test_postprocessor_output_beyond_the_limit_fails(worker, tmp_path):
    source = "import os\ndef postprocess_handler():\n    open(os.path.join(os.environ['output_path'], 'big.bin'), 'wb').write(b'x' * 5000)\n"
    answer = postprocess(worker, script("big.py", source), report_inputs(tmp_path), max_output_bytes=4000)
    assert answer["failure"]["type"] == "OutputTooLarge"
    assert "wrote more than 4000 bytes under output_path" in answer["failure"]["message"]


def test_a_postprocessor_without_its_handler_fails(worker, tmp_path):
    answer = postprocess(worker, script("docs_csv_preprocessor.py"), report_inputs(tmp_path))
    assert answer["failure"]["type"] == "NotImplementedError"
    assert "needs def postprocess_handler()" in answer["failure"]["message"]
