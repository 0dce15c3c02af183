"""Spark in local mode profiling a CSV as Deequ's ColumnProfiler does inside SageMaker's
model-monitor container, pass for pass:

1. every column: the record count, non-null counts (completeness), approximate distinct counts
   (HyperLogLog++) and Deequ's data-type histogram (Integral, Fractional, Boolean, String by the
   same regular expressions modelmon uses);
2. the numeric columns (Integral or Fractional by those counts), cast to double: minimum,
   maximum, mean, population standard deviation, sum and 100 percentiles at relative error 0.01;
3. the low-cardinality columns (at most 120 approximate distinct values): value counts.

The CSV is read with a header and no schema inference, as strings, as the container does; the
input is not cached between passes (Deequ's default), so each pass reads the file again.
`local[*]` uses every core. Prints one JSON line with the time of each phase, measured inside
the process, and a summary of what was computed.
"""

import json
import os
import sys
import time

t0 = time.perf_counter()
from pyspark.sql import SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

INTEGRAL = r"^(-|\+)? ?\d+$"
FRACTIONAL = r"^(-|\+)? ?\d+((\.\d+)|((?:\.\d+)?[Ee][-+]?\d+))$"
BOOLEAN = r"^(true|false)$"
LOW_CARDINALITY = 120
PERCENTILES = [i / 100 for i in range(1, 101)]

path = sys.argv[1]
memory = os.environ.get("SPARK_DRIVER_MEMORY", "4g")
spark = (
    SparkSession.builder.master("local[*]")
    .appName("deequ-like-profile")
    .config("spark.driver.memory", memory)
    .config("spark.ui.enabled", "false")
    .config("spark.ui.showConsoleProgress", "false")
    .config("spark.sql.shuffle.partitions", str(os.cpu_count() or 2))
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")
t1 = time.perf_counter()

frame = spark.read.option("header", True).option("inferSchema", False).csv(path)
columns = frame.columns

# Pass 1: size, completeness, approximate distinct counts, data types.
first = [F.count(F.lit(1)).alias("__rows")]
for i, name in enumerate(columns):
    value = F.col(f"`{name}`")
    first += [
        F.count(value).alias(f"present{i}"),
        F.approx_count_distinct(value).alias(f"distinct{i}"),
        F.sum(value.rlike(INTEGRAL).cast("long")).alias(f"integral{i}"),
        F.sum(value.rlike(FRACTIONAL).cast("long")).alias(f"fractional{i}"),
        F.sum(value.rlike(BOOLEAN).cast("long")).alias(f"boolean{i}"),
    ]
counts = frame.agg(*first).collect()[0].asDict()
t2 = time.perf_counter()


def inferred(i):
    present = counts[f"present{i}"]
    integral, fractional, boolean = (counts[f"{kind}{i}"] or 0 for kind in ("integral", "fractional", "boolean"))
    if present == 0:
        return "Unknown"
    if integral + fractional + boolean < present:
        return "String"
    if boolean == present:
        return "Boolean"
    if boolean:
        return "String"
    return "Fractional" if fractional else "Integral"


types = {name: inferred(i) for i, name in enumerate(columns)}
numeric = [name for name in columns if types[name] in ("Integral", "Fractional")]

# Pass 2: the numeric columns' statistics and percentiles.
second = []
for i, name in enumerate(numeric):
    value = F.col(f"`{name}`").cast("double")
    second += [
        F.min(value).alias(f"min{i}"),
        F.max(value).alias(f"max{i}"),
        F.mean(value).alias(f"mean{i}"),
        F.stddev_pop(value).alias(f"stddev{i}"),
        F.sum(value).alias(f"sum{i}"),
        F.percentile_approx(value, PERCENTILES, 100).alias(f"percentiles{i}"),
    ]
numbers = frame.agg(*second).collect()[0].asDict() if second else {}
t3 = time.perf_counter()

# Pass 3: value counts of the low-cardinality columns.
histograms = {}
for i, name in enumerate(columns):
    if counts[f"distinct{i}"] <= LOW_CARDINALITY:
        rows = frame.groupBy(F.col(f"`{name}`")).count().collect()
        histograms[name] = len(rows)
t4 = time.perf_counter()
spark.stop()

print(
    json.dumps(
        {
            "start_s": t1 - t0,
            "pass1_s": t2 - t1,
            "pass2_s": t3 - t2,
            "pass3_s": t4 - t3,
            "rows": counts["__rows"],
            "columns": len(columns),
            "numeric": len(numeric),
            "histograms": len(histograms),
            "types": types,
            "mean_of_first_numeric": numbers.get("mean0"),
        }
    )
)
