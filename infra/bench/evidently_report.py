#!/usr/bin/env python3
"""Evidently's data-drift report of current.csv against reference.csv, saved as one HTML file:
the peer of modelmon's report.html in report_bench.py. Prints the in-process times as JSON.

    python evidently_report.py reference.csv current.csv out.html

The snapshot's timestamp is fixed, so that any difference between two runs' files is
Evidently's own (its random ids), not the clock.
"""

import json
import os
import sys
import time
from datetime import datetime

os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's telemetry: off (the network is closed anyway)

t0 = time.perf_counter()
import pandas as pd  # noqa: E402
from evidently import Report  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402

t1 = time.perf_counter()
reference_path, current_path, out_path = sys.argv[1:4]
reference = pd.read_csv(reference_path)
current = pd.read_csv(current_path)
t2 = time.perf_counter()
snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference, timestamp=datetime(2026, 11, 25))
t3 = time.perf_counter()
snapshot.save_html(out_path)
t4 = time.perf_counter()
drifted = None
for metric in snapshot.dict().get("metrics", []):
    value = metric.get("value")
    if isinstance(value, dict) and "count" in value and "DriftedColumnsCount" in str(metric.get("metric_id", "")):
        drifted = value["count"]
print(json.dumps({"import_s": t1 - t0, "read_s": t2 - t1, "run_s": t3 - t2, "save_s": t4 - t3, "drifted_columns": drifted}))
