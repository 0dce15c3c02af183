"""whylogs profiling a CSV: pandas.read_csv (whylogs has no CSV reader of its own), why.log on
the DataFrame (whylogs' default schema and metrics), and the profile written to a file.

Prints one JSON line with the time of each phase, measured inside the process.
"""

import json
import os
import sys
import time

os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "True")

t0 = time.perf_counter()
import pandas as pd  # noqa: E402
import whylogs as why  # noqa: E402

t1 = time.perf_counter()
frame = pd.read_csv(sys.argv[1])
t2 = time.perf_counter()
results = why.log(frame)
view = results.view()
t3 = time.perf_counter()
view.write(sys.argv[2])
t4 = time.perf_counter()
print(
    json.dumps(
        {
            "import_s": t1 - t0,
            "read_csv_s": t2 - t1,
            "log_s": t3 - t2,
            "write_s": t4 - t3,
            "rows": len(frame),
            "columns": len(frame.columns),
        }
    )
)
