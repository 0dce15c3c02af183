"""The parse floor: polars reads the whole CSV into a DataFrame (all cores, its defaults).

Prints one JSON line: import and read times measured inside the process, and the frame's shape.
"""

import json
import sys
import time

t0 = time.perf_counter()
import polars as pl  # noqa: E402

t1 = time.perf_counter()
frame = pl.read_csv(sys.argv[1])
t2 = time.perf_counter()
print(
    json.dumps(
        {
            "import_s": t1 - t0,
            "read_s": t2 - t1,
            "rows": frame.height,
            "columns": frame.width,
            "threads": pl.thread_pool_size(),
        }
    )
)
