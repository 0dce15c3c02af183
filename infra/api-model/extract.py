"""Extracts the monitoring subset of botocore's SageMaker service model for modelmon's API validation.

Writes shared/formats/src/api/sagemaker-model.json: the kept operations, every shape their inputs,
outputs and errors reach, without documentation. The output is deterministic (sorted keys, indent 1)
so that re-running against the same botocore reproduces the committed file byte for byte.

Usage: ${MODELMON_VENV:-$HOME/.cache/modelmon/venv}/bin/python infra/api-model/extract.py
"""

import json
import pathlib

import botocore
import botocore.loaders

OPERATIONS = [
    "CreateMonitoringSchedule",
    "DescribeMonitoringSchedule",
    "ListMonitoringSchedules",
    "UpdateMonitoringSchedule",
    "DeleteMonitoringSchedule",
    "StartMonitoringSchedule",
    "StopMonitoringSchedule",
    "ListMonitoringExecutions",
    "CreateDataQualityJobDefinition",
    "DescribeDataQualityJobDefinition",
    "ListDataQualityJobDefinitions",
    "DeleteDataQualityJobDefinition",
    # The SDK's baselining jobs and its view of monitoring executions (issue 13).
    "CreateProcessingJob",
    "DescribeProcessingJob",
    "ListProcessingJobs",
    "StopProcessingJob",
    # Tags of schedules, job definitions and processing jobs (the SDK lists them on attach).
    "AddTags",
    "ListTags",
    "DeleteTags",
]

# Shape fields the validator reads; everything else (documentation, box, sensitive, ...) is dropped.
SHAPE_KEYS = ["type", "required", "min", "max", "pattern", "enum", "union"]
REFERENCE_KEYS = ["member", "key", "value"]

OUTPUT = pathlib.Path(__file__).resolve().parents[2] / "shared/formats/src/api/sagemaker-model.json"


def compact_shape(shape):
    out = {key: shape[key] for key in SHAPE_KEYS if key in shape}
    for key in REFERENCE_KEYS:
        if key in shape:
            out[key] = {"shape": shape[key]["shape"]}
    if "members" in shape:
        out["members"] = {name: {"shape": ref["shape"]} for name, ref in shape["members"].items()}
    return out


def referenced(shape):
    for key in REFERENCE_KEYS:
        if key in shape:
            yield shape[key]["shape"]
    for ref in shape.get("members", {}).values():
        yield ref["shape"]


def main():
    model = botocore.loaders.Loader().load_service_model("sagemaker", "service-2")
    operations = {}
    pending = []
    for name in OPERATIONS:
        op = model["operations"][name]
        output = op.get("output", {}).get("shape")
        errors = [error["shape"] for error in op.get("errors", [])]
        operations[name] = {"input": op["input"]["shape"], "output": output, "errors": errors}
        pending += [op["input"]["shape"], *([output] if output else []), *errors]

    shapes = {}
    while pending:
        name = pending.pop()
        if name in shapes:
            continue
        shape = model["shapes"][name]
        shapes[name] = compact_shape(shape)
        pending.extend(referenced(shape))

    document = {
        "metadata": {
            "botocoreVersion": botocore.__version__,
            "apiVersion": model["metadata"]["apiVersion"],
            "targetPrefix": model["metadata"]["targetPrefix"],
        },
        "operations": operations,
        "shapes": shapes,
    }
    OUTPUT.write_text(json.dumps(document, sort_keys=True, indent=1) + "\n")


if __name__ == "__main__":
    main()
