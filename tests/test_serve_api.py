"""boto3's own `sagemaker` client against `modelmon serve`: the whole schedule lifecycle with a
run that finds a planted drift, paging through boto3's paginator, every error path as the
ClientError boto3 raises for SageMaker, and the failed execution of a window with no data.

The server runs once per module on a free port, with its objects in a temporary folder; each
test uses its own endpoint and schedule names.
"""

import csv
import json
import os
import random
import re
import selectors
import subprocess
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pandas as pd
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

CAPTURE = "s3://capture-bucket/datacapture"
REPORTS = "s3://reports/monitoring"
BASELINE = "s3://models/churn"
ROLE = "arn:aws:iam::123456789012:role/service-role/monitoring"
IMAGE = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
START_TIMEOUT = 30
RUN_TIMEOUT = 30


def modelmon_bin():
    path = os.environ.get("MODELMON_BIN", str(Path.home() / ".cache/modelmon/target/debug/modelmon"))
    if not Path(path).is_file():
        pytest.fail(f"modelmon binary not found at {path}: build it and set MODELMON_BIN")
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`modelmon serve --port 0`: yields (url, objects folder); killed at teardown."""
    state = tmp_path_factory.mktemp("serve")
    log_path = state / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [modelmon_bin(), "serve", "--port", "0", "--state", str(state)],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    try:
        line = first_line(process, START_TIMEOUT)
        prefix = "modelmon serve: listening on "
        if not line.startswith(prefix):
            pytest.fail(
                f"modelmon serve did not start within {START_TIMEOUT} s (exit code {process.poll()}, "
                f"stdout {line!r}):\n{log_path.read_text()}"
            )
        yield line[len(prefix):].split()[0], state / "s3"
    finally:
        process.kill()
        process.wait(timeout=10)


def first_line(process, timeout):
    """The first stdout line of `process`, or "" if none comes within `timeout` seconds."""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return process.stdout.readline()


@pytest.fixture(scope="module")
def client(server):
    url, _ = server
    return boto3.client(
        "sagemaker",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def objects(server):
    """The folder where `s3://bucket/key` is `bucket/key`."""
    return server[1]


@pytest.fixture(scope="module")
def baseline(objects, tmp_path_factory):
    """`modelmon baseline` of 2,000 seeded rows of `age,plan`, written where BASELINE points."""
    rng = random.Random(7)
    data = tmp_path_factory.mktemp("train") / "train.csv"
    with open(data, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["age", "plan"])
        for _ in range(2000):
            writer.writerow([rng.randint(20, 60), rng.choice(["basic", "pro"])])
    out = object_path(objects, BASELINE)
    result = subprocess.run(
        [modelmon_bin(), "baseline", "--dataset", str(data), "--output", str(out), "--quiet"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"modelmon baseline failed:\n{result.stderr}"
    return BASELINE


def object_path(objects, uri):
    bucket_key = uri.removeprefix("s3://")
    return objects / bucket_key


def write_capture(objects, endpoint, times, drift):
    """One capture record per time, `age,plan` payloads (ages +40 when `drift`), in the hour
    folders of the times, the way SageMaker's data capture lays them out."""
    rng = random.Random(11)
    files = {}
    for at in times:
        age = rng.randint(20, 60) + (40 if drift else 0)
        record = {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "text/csv",
                    "mode": "INPUT",
                    "data": f"{age},{rng.choice(['basic', 'pro'])}",
                    "encoding": "CSV",
                }
            },
            "eventMetadata": {"eventId": str(uuid.UUID(int=rng.getrandbits(128))), "inferenceTime": iso(at)},
            "eventVersion": "0",
        }
        name = f"{at:%Y/%m/%d/%H}/{at:%M-%S}-000-capture.jsonl"
        files.setdefault(name, []).append(json.dumps(record))
    folder = object_path(objects, f"{CAPTURE}/{endpoint}/AllTraffic")
    for name, lines in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")


def iso(at):
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def job_definition(endpoint, baseline):
    """A complete inline MonitoringJobDefinition for `endpoint`."""
    return {
        "BaselineConfig": {
            "ConstraintsResource": {"S3Uri": f"{baseline}/constraints.json"},
            "StatisticsResource": {"S3Uri": f"{baseline}/statistics.json"},
        },
        "MonitoringInputs": [{"EndpointInput": endpoint_input(endpoint)}],
        "MonitoringOutputConfig": monitoring_outputs(),
        "MonitoringResources": cluster(),
        "MonitoringAppSpecification": {"ImageUri": IMAGE},
        "Environment": {"capture_destination_s3_uri": CAPTURE},
        "StoppingCondition": {"MaxRuntimeInSeconds": 1800},
        "RoleArn": ROLE,
    }


def endpoint_input(endpoint):
    return {"EndpointName": endpoint, "LocalPath": "/opt/ml/processing/input/endpoint"}


def monitoring_outputs():
    return {"MonitoringOutputs": [{"S3Output": {"S3Uri": REPORTS, "LocalPath": "/opt/ml/processing/output"}}]}


def cluster():
    return {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}}


NOW = {"ScheduleExpression": "NOW", "DataAnalysisStartTime": "-PT1H", "DataAnalysisEndTime": "-PT0H"}
HOURLY = {"ScheduleExpression": "cron(0 * ? * * *)"}


def inline_schedule(client, name, endpoint, baseline, schedule_config=HOURLY):
    return client.create_monitoring_schedule(
        MonitoringScheduleName=name,
        MonitoringScheduleConfig={
            "ScheduleConfig": schedule_config,
            "MonitoringJobDefinition": job_definition(endpoint, baseline),
            "MonitoringType": "DataQuality",
        },
    )


def finished_execution(client, schedule):
    """Polls ListMonitoringExecutions until `schedule` has a finished execution; returns it."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        executions = client.list_monitoring_executions(MonitoringScheduleName=schedule)
        finished = [
            e
            for e in executions["MonitoringExecutionSummaries"]
            if e["MonitoringExecutionStatus"] in ("Completed", "CompletedWithViolations", "Failed")
        ]
        if finished:
            return finished[0]
        time.sleep(0.5)
    pytest.fail(f"no finished execution of {schedule} within {RUN_TIMEOUT} s: {executions}")


def report_folder(objects, endpoint, schedule, scheduled_time):
    """The folder of a run's reports: the scheduled hour in UTC (boto3 gives local times)."""
    hour = scheduled_time.astimezone(timezone.utc)
    return object_path(objects, f"{REPORTS}/{endpoint}/{schedule}/{hour:%Y/%m/%d/%H}")


def error_of(call, **kwargs):
    """The (code, message) of the ClientError that `call(**kwargs)` must raise."""
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


def test_lifecycle_with_a_drifted_hour(client, objects, baseline):
    """A job definition, a NOW schedule naming it, describe and list, the run over the last hour
    of capture (drift found in `age`, every record in the window accounted for and none outside),
    stop/start, update to hourly, delete, and the job definition deleted after it."""
    endpoint, schedule, definition = "churn-endpoint", "churn-now", "churn-dq"
    now = datetime.now(timezone.utc).replace(microsecond=0)
    inside = [now - timedelta(minutes=50) + timedelta(seconds=90 * i) for i in range(31)]
    assert inside[-1] == now - timedelta(minutes=5)
    outside = [now - timedelta(minutes=75), now - timedelta(minutes=65), now + timedelta(minutes=5)]
    write_capture(objects, endpoint, inside + outside, drift=True)

    base = job_definition(endpoint, baseline)
    created = client.create_data_quality_job_definition(
        JobDefinitionName=definition,
        DataQualityBaselineConfig=base["BaselineConfig"],
        DataQualityAppSpecification={"ImageUri": IMAGE, "Environment": {"capture_destination_s3_uri": CAPTURE}},
        DataQualityJobInput={"EndpointInput": endpoint_input(endpoint)},
        DataQualityJobOutputConfig=monitoring_outputs(),
        JobResources=cluster(),
        RoleArn=ROLE,
    )
    assert created["JobDefinitionArn"] == (
        f"arn:aws:sagemaker:us-east-1:123456789012:data-quality-job-definition/{definition}"
    )
    before = datetime.now(timezone.utc)
    created = client.create_monitoring_schedule(
        MonitoringScheduleName=schedule,
        MonitoringScheduleConfig={
            "ScheduleConfig": NOW,
            "MonitoringJobDefinitionName": definition,
            "MonitoringType": "DataQuality",
        },
    )
    after = datetime.now(timezone.utc)
    assert created["MonitoringScheduleArn"].endswith(f":monitoring-schedule/{schedule}")

    described = client.describe_monitoring_schedule(MonitoringScheduleName=schedule)
    assert described["MonitoringScheduleStatus"] == "Scheduled"
    assert described["EndpointName"] == endpoint
    assert described["MonitoringType"] == "DataQuality"
    assert described["MonitoringScheduleConfig"]["MonitoringJobDefinitionName"] == definition
    listed = client.list_monitoring_schedules(EndpointName=endpoint, NameContains="now")
    assert [s["MonitoringScheduleName"] for s in listed["MonitoringScheduleSummaries"]] == [schedule]
    assert client.list_monitoring_schedules(EndpointName="no-such-endpoint")["MonitoringScheduleSummaries"] == []

    execution = finished_execution(client, schedule)
    assert execution["MonitoringExecutionStatus"] == "CompletedWithViolations", execution
    scheduled = execution["ScheduledTime"]
    assert before - timedelta(seconds=1) <= scheduled <= after, (before, scheduled, after)
    assert execution["EndpointName"] == endpoint

    report = report_folder(objects, endpoint, schedule, scheduled)
    violations = json.loads((report / "constraint_violations.json").read_text())["violations"]
    assert [(v["feature_name"], v["constraint_check_type"]) for v in violations] == [("age", "baseline_drift_check")]
    records = json.loads((report / "report.json").read_text())["records"]
    rejected = sum(r["count"] for r in records["rejected"].values())
    assert records["read"] == records["analysed"] + rejected == len(inside), records
    assert (report / "statistics.json").is_file()

    client.stop_monitoring_schedule(MonitoringScheduleName=schedule)
    assert client.describe_monitoring_schedule(MonitoringScheduleName=schedule)["MonitoringScheduleStatus"] == "Stopped"
    client.start_monitoring_schedule(MonitoringScheduleName=schedule)
    assert client.describe_monitoring_schedule(MonitoringScheduleName=schedule)["MonitoringScheduleStatus"] == "Scheduled"

    client.update_monitoring_schedule(
        MonitoringScheduleName=schedule,
        MonitoringScheduleConfig={
            "ScheduleConfig": HOURLY,
            "MonitoringJobDefinitionName": definition,
            "MonitoringType": "DataQuality",
        },
    )
    updated = client.describe_monitoring_schedule(MonitoringScheduleName=schedule)
    assert updated["MonitoringScheduleConfig"]["ScheduleConfig"] == HOURLY

    client.delete_monitoring_schedule(MonitoringScheduleName=schedule)
    code, _ = error_of(client.describe_monitoring_schedule, MonitoringScheduleName=schedule)
    assert code == "ResourceNotFound"
    client.delete_data_quality_job_definition(JobDefinitionName=definition)
    code, _ = error_of(client.describe_data_quality_job_definition, JobDefinitionName=definition)
    assert code == "ResourceNotFound"


def test_paginator_walks_every_schedule_once_in_name_order(client, baseline):
    """boto3's paginator over ListMonitoringSchedules, two a page: each of five schedules exactly
    once, sorted by name, over three pages."""
    names = [f"page-{letter}" for letter in "dbeac"]
    for name in names:
        inline_schedule(client, name, "paging-endpoint", baseline)
    paginator = client.get_paginator("list_monitoring_schedules")
    pages = list(
        paginator.paginate(
            NameContains="page-",
            SortBy="Name",
            SortOrder="Ascending",
            PaginationConfig={"PageSize": 2},
        )
    )
    listed = [s["MonitoringScheduleName"] for page in pages for s in page["MonitoringScheduleSummaries"]]
    assert listed == sorted(names)
    assert [len(page["MonitoringScheduleSummaries"]) for page in pages] == [2, 2, 1]
    for name in names:
        client.delete_monitoring_schedule(MonitoringScheduleName=name)


def test_error_paths_are_client_errors_with_sagemakers_codes(client, baseline):
    """Each wrong request raises botocore's ClientError with SageMaker's code and a message that
    names the problem; boto3 resolves the modelled exception classes."""
    endpoint = "errors-endpoint"
    inline_schedule(client, "dup", endpoint, baseline)
    with pytest.raises(client.exceptions.ResourceInUse) as raised:
        inline_schedule(client, "dup", endpoint, baseline)
    assert "'dup' already exists" in raised.value.response["Error"]["Message"]

    for call in (
        client.describe_monitoring_schedule,
        client.delete_monitoring_schedule,
        client.start_monitoring_schedule,
        client.stop_monitoring_schedule,
    ):
        with pytest.raises(client.exceptions.ResourceNotFound) as raised:
            call(MonitoringScheduleName="never-made")
        assert "never-made" in raised.value.response["Error"]["Message"], call.__name__

    code, message = error_of(inline_schedule, client=client, name="bad_name", endpoint=endpoint, baseline=baseline)
    assert code == "ValidationException"
    assert "bad_name" in message and "monitoringScheduleName" in message and "pattern" in message, message

    code, message = error_of(
        inline_schedule,
        client=client,
        name="hourly-typo",
        endpoint=endpoint,
        baseline=baseline,
        schedule_config={"ScheduleExpression": "Hourly: cron(0 * ? * * *)"},
    )
    assert code == "ValidationException"
    assert message.startswith("Invalid ScheduleExpression 'Hourly: cron(0 * ? * * *)'"), message

    code, message = error_of(
        inline_schedule,
        client=client,
        name="now-alone",
        endpoint=endpoint,
        baseline=baseline,
        schedule_config={"ScheduleExpression": "NOW"},
    )
    assert code == "ValidationException"
    assert "DataAnalysisStartTime" in message, message

    code, message = error_of(
        client.create_monitoring_schedule,
        MonitoringScheduleName="both",
        MonitoringScheduleConfig={
            "ScheduleConfig": HOURLY,
            "MonitoringJobDefinition": job_definition(endpoint, baseline),
            "MonitoringJobDefinitionName": "errors-dq",
            "MonitoringType": "DataQuality",
        },
    )
    assert code == "ValidationException"
    assert "MonitoringJobDefinition" in message and "MonitoringJobDefinitionName" in message, message

    code, message = error_of(client.list_monitoring_schedules, NextToken="forged")
    assert code == "ValidationException"
    assert "NextToken" in message, message

    base = job_definition(endpoint, baseline)
    client.create_data_quality_job_definition(
        JobDefinitionName="errors-dq",
        DataQualityBaselineConfig=base["BaselineConfig"],
        DataQualityAppSpecification={"ImageUri": IMAGE},
        DataQualityJobInput={"EndpointInput": endpoint_input(endpoint)},
        DataQualityJobOutputConfig=monitoring_outputs(),
        JobResources=cluster(),
        RoleArn=ROLE,
    )
    client.create_monitoring_schedule(
        MonitoringScheduleName="uses-errors-dq",
        MonitoringScheduleConfig={"ScheduleConfig": HOURLY, "MonitoringJobDefinitionName": "errors-dq"},
    )
    with pytest.raises(client.exceptions.ResourceInUse) as raised:
        client.delete_data_quality_job_definition(JobDefinitionName="errors-dq")
    assert "uses-errors-dq" in raised.value.response["Error"]["Message"]

    for name in ("dup", "uses-errors-dq"):
        client.delete_monitoring_schedule(MonitoringScheduleName=name)
    client.delete_data_quality_job_definition(JobDefinitionName="errors-dq")


def test_a_window_without_capture_is_a_failed_execution(client, objects, baseline):
    """A NOW schedule on an endpoint that captured nothing: the execution fails and says there
    was no data; report.json is written, the statistics and violations are not."""
    endpoint, schedule = "quiet-endpoint", "quiet-now"
    inline_schedule(client, schedule, endpoint, baseline, schedule_config=NOW)
    execution = finished_execution(client, schedule)
    assert execution["MonitoringExecutionStatus"] == "Failed", execution
    assert execution["FailureReason"].startswith("Job inputs had no data"), execution
    failed = client.list_monitoring_executions(MonitoringScheduleName=schedule, StatusEquals="Failed")
    assert len(failed["MonitoringExecutionSummaries"]) == 1
    report = report_folder(objects, endpoint, schedule, execution["ScheduledTime"])
    assert (report / "report.json").is_file()
    assert not (report / "constraint_violations.json").exists()
    client.delete_monitoring_schedule(MonitoringScheduleName=schedule)


# ------------------------------------------------------------------ users' scripts

SCRIPTS = Path(__file__).resolve().parent / "scripts"
CODE = "s3://code/monitoring"

# Keys in another order than the baseline's features (plan before age): mapped by name. Drops
# "pro" records whose age is a multiple of 5.
KEYED_PREPROCESSOR = """
def preprocess_handler(inference_record):
    age, plan = inference_record.endpoint_input.data.split(",")
    if plan == "pro" and int(age) % 5 == 0:
        return []
    return {"plan": plan, "age": int(age)}
"""


def put_script(objects, name, source):
    path = object_path(objects, f"{CODE}/{name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    return f"{CODE}/{name}"


def scripted_schedule(client, objects, baseline, name, endpoint, postprocessor):
    now = datetime.now(timezone.utc)
    write_capture(objects, endpoint, [now - timedelta(minutes=1 + i) for i in range(40)], drift=False)
    definition = job_definition(endpoint, baseline)
    definition["MonitoringAppSpecification"].update(
        {
            "RecordPreprocessorSourceUri": put_script(objects, "keyed.py", KEYED_PREPROCESSOR),
            "PostAnalyticsProcessorSourceUri": put_script(objects, postprocessor, (SCRIPTS / postprocessor).read_text()),
        }
    )
    definition["Environment"]["team"] = "risk"
    client.create_monitoring_schedule(
        MonitoringScheduleName=name,
        MonitoringScheduleConfig={"ScheduleConfig": NOW, "MonitoringJobDefinition": definition, "MonitoringType": "DataQuality"},
    )
    return finished_execution(client, name)


def captured_rows(objects, endpoint):
    folder = object_path(objects, f"{CAPTURE}/{endpoint}/AllTraffic")
    return [
        json.loads(line)["captureData"]["endpointInput"]["data"].split(",")
        for path in sorted(folder.rglob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def test_a_schedule_runs_its_preprocessor_and_postprocessor(client, objects, baseline):
    endpoint, schedule = "scripted-endpoint", "scripted-now"
    execution = scripted_schedule(client, objects, baseline, schedule, endpoint, "postprocessor_summary.py")
    assert execution["MonitoringExecutionStatus"] in ("Completed", "CompletedWithViolations"), execution
    folder = report_folder(objects, endpoint, schedule, execution["ScheduledTime"])
    report = json.loads((folder / "report.json").read_text())
    rows = captured_rows(objects, endpoint)
    dropped = sum(1 for age, plan in rows if plan == "pro" and int(age) % 5 == 0)
    records = report["records"]
    assert records["read"] == len(rows) == 40
    assert records["dropped"] == dropped and records["analysed"] == len(rows) - dropped
    statistics = {f["name"]: f for f in json.loads((folder / "statistics.json").read_text())["features"]}
    kept_ages = [int(age) for age, plan in rows if not (plan == "pro" and int(age) % 5 == 0)]
    assert statistics["age"]["numerical_statistics"]["sum"] == sum(kept_ages)
    summary = json.loads((folder / "custom" / "summary.json").read_text())
    assert summary == {
        "schedule": schedule,
        "team": "risk",
        "items": len(kept_ages),
        "violations": summary["violations"],
    }
    job = client.describe_processing_job(ProcessingJobName=execution["ProcessingJobArn"].split("/")[-1])
    assert f"The post-analytics processor {CODE}/postprocessor_summary.py ran and wrote custom/summary.json." in (
        job["ExitMessage"]
    )
    client.delete_monitoring_schedule(MonitoringScheduleName=schedule)


def test_a_raising_postprocessor_fails_the_execution_and_keeps_its_reports(client, objects, baseline):
    endpoint, schedule = "scripted-raises", "scripted-raises-now"
    execution = scripted_schedule(client, objects, baseline, schedule, endpoint, "postprocessor_raises.py")
    assert execution["MonitoringExecutionStatus"] == "Failed", execution
    assert (
        f"the post-analytics processor {CODE}/postprocessor_raises.py failed: RuntimeError at line 7: "
        "the alerting service is unreachable"
    ) in execution["FailureReason"]
    folder = report_folder(objects, endpoint, schedule, execution["ScheduledTime"])
    assert (folder / "statistics.json").is_file() and (folder / "report.json").is_file()
    client.delete_monitoring_schedule(MonitoringScheduleName=schedule)


def test_a_preprocessor_that_cannot_run_fails_the_execution_with_pythons_error(client, objects, baseline):
    endpoint, schedule = "scripted-syntax", "scripted-syntax-now"
    now = datetime.now(timezone.utc)
    write_capture(objects, endpoint, [now - timedelta(minutes=2)], drift=False)
    definition = job_definition(endpoint, baseline)
    uri = put_script(objects, "syntax_error.py", (SCRIPTS / "syntax_error.py").read_text())
    definition["MonitoringAppSpecification"]["RecordPreprocessorSourceUri"] = uri
    client.create_monitoring_schedule(
        MonitoringScheduleName=schedule,
        MonitoringScheduleConfig={"ScheduleConfig": NOW, "MonitoringJobDefinition": definition, "MonitoringType": "DataQuality"},
    )
    execution = finished_execution(client, schedule)
    assert execution["MonitoringExecutionStatus"] == "Failed", execution
    assert f"the record preprocessor {uri} cannot run: SyntaxError at line 4" in execution["FailureReason"], execution
    client.delete_monitoring_schedule(MonitoringScheduleName=schedule)


# A baselining job's post-analytics processor: the baseline's own files (no violations in a
# baseline), summarised beside them.
BASELINE_POSTPROCESSOR = """
import json, os

def postprocess_handler():
    output = os.environ["output_path"]
    with open(os.path.join(output, "statistics.json")) as f:
        statistics = json.load(f)
    with open(os.path.join(output, "constraints.json")) as f:
        constraints = json.load(f)
    summary = {
        "team": os.environ.get("team"),
        "items": statistics["dataset"]["item_count"],
        "features": sorted(f["name"] for f in constraints["features"]),
    }
    with open(os.path.join(output, "baseline_summary.json"), "w") as f:
        json.dump(summary, f)
"""


def finished_processing_job(client, name):
    """Polls DescribeProcessingJob until job `name` has ended; returns the description."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        job = client.describe_processing_job(ProcessingJobName=name)
        if job["ProcessingJobStatus"] in ("Completed", "Failed", "Stopped"):
            return job
        time.sleep(0.5)
    pytest.fail(f"processing job {name} did not end within {RUN_TIMEOUT} s: {job}")


def s3_input(name, uri):
    local = f"/opt/ml/processing/input/{name}"
    return {
        "InputName": name,
        "S3Input": {"S3Uri": uri, "LocalPath": local, "S3DataType": "S3Prefix", "S3InputMode": "File"},
    }


def test_a_baselining_job_runs_its_preprocessor_and_postprocessor(client, objects):
    """CreateProcessingJob as the SDK's suggest_baseline sends it, with both scripts: a JSON Lines
    dataset of nested requests through the nested-JSON flattener, whose statistics are those of
    the flattened records (pandas' json_normalize of the same requests), and a postprocessor whose
    file lands beside them. The preprocessor's input is the script's own object (as the SDK sends
    an s3:// script), the postprocessor's a prefix holding it (as the SDK uploads a local file)."""
    name, data, output = "nested-baseline", "s3://models/nested/data", "s3://models/nested/baseline"
    requests = [
        {"customer": {"age": 20 + i % 37, "address": {"zip": f"Z{i % 7:04d}"}}, "features": [i * 0.25, -i],
         "score": round((i * 7919) % 1000 / 1000, 3)}
        for i in range(150)
    ]  # fmt: skip
    # Every 25th line an empty request (the flattener drops it), and one line that is no JSON.
    lines = []
    for i, request in enumerate(requests):
        lines.append(json.dumps(request))
        if i % 25 == 0:
            lines.append("{}")
    lines.insert(40, "{not json")
    dataset = object_path(objects, f"{data}/requests.jsonl")
    dataset.parent.mkdir(parents=True, exist_ok=True)
    dataset.write_text("\n".join(lines) + "\n")
    preprocessor = put_script(objects, "flatten_nested_json.py", (SCRIPTS / "flatten_nested_json.py").read_text())
    postprocessor_input = f"{CODE}/baselining/post_analytics_processor_script_input"
    put_script(objects, "baselining/post_analytics_processor_script_input/summary.py", BASELINE_POSTPROCESSOR)

    client.create_processing_job(
        ProcessingJobName=name,
        ProcessingInputs=[
            s3_input("baseline_dataset_input", data),
            s3_input("record_preprocessor_script_input", preprocessor),
            s3_input("post_analytics_processor_script_input", postprocessor_input),
        ],
        ProcessingOutputConfig={
            "Outputs": [
                {
                    "OutputName": "monitoring_output",
                    "S3Output": {"S3Uri": output, "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"},
                }
            ]
        },
        ProcessingResources=cluster(),
        AppSpecification={"ImageUri": IMAGE},
        Environment={
            "dataset_format": json.dumps({"json": {"lines": True}}),
            "dataset_source": "/opt/ml/processing/input/baseline_dataset_input",
            "output_path": "/opt/ml/processing/output",
            "publish_cloudwatch_metrics": "Disabled",
            "record_preprocessor_script": "/opt/ml/processing/input/record_preprocessor_script_input/flatten_nested_json.py",
            "post_analytics_processor_script": "/opt/ml/processing/input/post_analytics_processor_script_input/summary.py",
            "team": "risk",
        },
        RoleArn=ROLE,
    )
    job = finished_processing_job(client, name)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")

    # The same requests flattened independently.
    frame = pd.json_normalize(requests)
    frame["features.0"] = [r["features"][0] for r in requests]
    frame["features.1"] = [r["features"][1] for r in requests]
    folder = object_path(objects, output)
    statistics = json.loads((folder / "statistics.json").read_text())
    assert statistics["dataset"]["item_count"] == len(requests)
    features = {f["name"]: f for f in statistics["features"]}
    assert set(features) == {"customer.age", "customer.address.zip", "features.0", "features.1", "score"}
    for column in ["customer.age", "features.0", "features.1", "score"]:
        numbers = features[column]["numerical_statistics"]
        assert numbers["sum"] == pytest.approx(frame[column].sum()), column
        assert numbers["mean"] == pytest.approx(frame[column].mean()), column
        assert numbers["min"] == pytest.approx(frame[column].min()), column
        assert numbers["max"] == pytest.approx(frame[column].max()), column
    zips = features["customer.address.zip"]["string_statistics"]
    assert zips["distinct_count"] == frame["customer.address.zip"].nunique()

    summary = json.loads((folder / "baseline_summary.json").read_text())
    assert summary == {"team": "risk", "items": len(requests), "features": sorted(features)}
    assert "The post-analytics processor ran and wrote baseline_summary.json." in job["ExitMessage"], job

    # The account, in the job's ExitMessage: read = analysed + rejected + dropped.
    account = re.search(r"read (\d+), analysed (\d+), rejected (\d+).*, dropped by the preprocessor (\d+)", job["ExitMessage"])
    assert account, job["ExitMessage"]
    read, analysed, rejected, dropped = map(int, account.groups())
    assert (read, analysed, rejected, dropped) == (len(lines), len(requests), 1, lines.count("{}")), job["ExitMessage"]
    assert read == analysed + rejected + dropped
