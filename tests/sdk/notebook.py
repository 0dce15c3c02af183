"""The Model Monitor notebook, as a SageMaker user runs it, through the SageMaker Python SDK alone.

Run by tests/test_sdk_notebook.py under the python of one SDK venv (v2: `sagemaker.model_monitor`,
v3: `sagemaker.core.model_monitor`): `python notebook.py CONFIG.json`. The only thing pointed at
modelmon is the SDK session's `sagemaker_client` (endpoint_url); S3, STS and CloudWatch Logs go
where the environment's AWS configuration points (moto, in the tests).

Protocol with the test (tests/sdk/protocol.py), one JSON line each way:
  {"fire": [schedule names]}  -> the test plays EventBridge Scheduler for the Lambda home (serve
                                  fires its own timers), then answers with {"ran": [names]}, the
                                  schedules whose run to wait for;
  {"result": {...}}            -> what the notebook saw, for the test's assertions.
Everything the SDK prints (the job's log lines among it) is returned in the result.
"""

import json
import time
from pathlib import Path

from protocol import CONFIG, PRINTED, finish, receive, send  # first: it sets stdout aside

import boto3  # noqa: E402

if CONFIG["sdk"] == "v2":
    import sagemaker
    from sagemaker.model_monitor import BatchTransformInput, CronExpressionGenerator, DefaultModelMonitor
    from sagemaker.model_monitor.dataset_format import DatasetFormat, MonitoringDatasetFormat

    Session = sagemaker.Session
    VERSION = sagemaker.__version__
else:
    from importlib.metadata import version

    from sagemaker.core.helper.session_helper import Session
    from sagemaker.core.model_monitor import (
        BatchTransformInput,
        CronExpressionGenerator,
        DatasetFormat,
        DefaultModelMonitor,
        MonitoringDatasetFormat,
    )

    VERSION = version("sagemaker")

RESULT = {"sdk_version": VERSION, "calls": []}
# The users' scripts of tests/scripts/, passed as local files.
SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def record_calls(boto_session):
    """Every AWS call made through the session's clients (the SDK's too), in order."""

    def before(event_name, **_):
        _, service, operation = event_name.split(".", 2)
        RESULT["calls"].append(f"{service}.{operation}")

    boto_session.events.register("before-call", before)


def describe(monitor):
    d = monitor.describe_schedule()
    return {
        "status": d["MonitoringScheduleStatus"],
        "expression": d["MonitoringScheduleConfig"].get("ScheduleConfig", {}).get("ScheduleExpression"),
        "definition": d["MonitoringScheduleConfig"].get("MonitoringJobDefinitionName"),
        "last": d.get("LastMonitoringExecutionSummary"),
    }


def output_uri(execution):
    """Where the SDK reads an execution's reports (v2 and v3 keep it in different shapes)."""
    output = execution.output
    return output.destination if CONFIG["sdk"] == "v2" else output.s3_output.s3_uri


def wait_for_runs(monitor, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        executions = monitor.list_executions()
        if executions:
            status = executions[-1].describe()["ProcessingJobStatus"]
            if status in ("Completed", "Failed", "Stopped"):
                return executions
        if time.monotonic() > deadline:
            raise AssertionError(f"no finished execution of {monitor.monitoring_schedule_name} in {timeout} s")
        time.sleep(1)


def notebook():
    region, bucket, names = CONFIG["region"], CONFIG["bucket"], CONFIG["names"]
    boto_session = boto3.Session(region_name=region)
    record_calls(boto_session)
    sagemaker_client = boto_session.client("sagemaker", endpoint_url=CONFIG["sagemaker_endpoint"])
    session = Session(boto_session=boto_session, sagemaker_client=sagemaker_client, default_bucket=bucket)
    role = CONFIG["role"]

    # 1. The training data, uploaded with boto3.
    s3 = boto_session.client("s3")
    s3.put_object(Bucket=bucket, Key=CONFIG["train_key"], Body=CONFIG["train_csv"].encode())
    dataset = f"s3://{bucket}/{CONFIG['train_key']}"

    # 2. The baseline, as a processing job; the SDK waits and shows its logs (its defaults).
    monitor = DefaultModelMonitor(
        role=role,
        instance_count=1,
        instance_type="ml.m5.xlarge",
        volume_size_in_gb=20,
        max_runtime_in_seconds=1800,
        sagemaker_session=session,
        tags=[{"Key": "project", "Value": "churn"}],
    )
    started = time.monotonic()
    monitor.suggest_baseline(
        baseline_dataset=dataset,
        dataset_format=DatasetFormat.csv(header=True),
        output_s3_uri=f"s3://{bucket}/{names['baseline_output']}",
        job_name=names["baseline_job"],
        wait=True,
        logs=True,
    )
    RESULT["suggest_baseline_seconds"] = round(time.monotonic() - started, 1)
    RESULT["suggest_baseline_printed"] = PRINTED.getvalue()
    RESULT["baseline_job"] = monitor.latest_baselining_job.describe()
    statistics = monitor.baseline_statistics()
    constraints = monitor.suggested_constraints()
    RESULT["statistics"] = statistics.body_dict
    RESULT["constraints"] = constraints.body_dict

    # 3. Schedules: NOW on an endpoint, hourly on another, NOW on batch transform capture.
    now_monitor = monitor
    now_monitor.create_monitoring_schedule(
        monitor_schedule_name=names["now"],
        endpoint_input=names["now_endpoint"],
        output_s3_uri=f"s3://{bucket}/reports",
        statistics=monitor.baseline_statistics(),
        constraints=monitor.suggested_constraints(),
        schedule_cron_expression=CronExpressionGenerator.now(),
        data_analysis_start_time="-PT1H",
        data_analysis_end_time="-PT0H",
        enable_cloudwatch_metrics=True,
        # Local files: the SDK uploads them and sends their S3 URIs.
        record_preprocessor_script=str(SCRIPTS / "keyed_csv.py"),
        post_analytics_processor_script=str(SCRIPTS / "postprocessor_summary.py"),
    )
    hourly = DefaultModelMonitor(
        role=role,
        instance_count=1,
        instance_type="ml.m5.xlarge",
        sagemaker_session=session,
        tags=[{"Key": "project", "Value": "churn"}],
    )
    hourly.create_monitoring_schedule(
        monitor_schedule_name=names["hourly"],
        endpoint_input=names["hourly_endpoint"],
        output_s3_uri=f"s3://{bucket}/reports",
        statistics=statistics,
        constraints=constraints,
        schedule_cron_expression=CronExpressionGenerator.hourly(),
    )
    batch = DefaultModelMonitor(role=role, instance_count=1, instance_type="ml.m5.xlarge", sagemaker_session=session)
    batch.create_monitoring_schedule(
        monitor_schedule_name=names["batch"],
        batch_transform_input=BatchTransformInput(
            data_captured_destination_s3_uri=f"s3://{bucket}/{names['batch_capture']}",
            destination="/opt/ml/processing/input",
            dataset_format=MonitoringDatasetFormat.csv(header=False),
        ),
        output_s3_uri=f"s3://{bucket}/reports",
        statistics=statistics,
        constraints=constraints,
        schedule_cron_expression=CronExpressionGenerator.now(),
        data_analysis_start_time="-PT1H",
        data_analysis_end_time="-PT0H",
    )
    monitors = {names["now"]: now_monitor, names["hourly"]: hourly, names["batch"]: batch}
    RESULT["created"] = {name: describe(m) for name, m in monitors.items()}

    # 4. The runs.
    send({"fire": list(monitors)})
    ran = receive()["ran"]
    runs = {}
    for name in ran:
        m = monitors[name]
        executions = wait_for_runs(m)
        # 5. What the notebook reads back.
        latest = executions[-1]
        runs[name] = {
            "executions": len(executions),
            "describe": latest.describe(),
            "output": output_uri(latest),
            "statistics": m.latest_monitoring_statistics().body_dict,
            "violations": m.latest_monitoring_constraint_violations().body_dict,
            "schedule": describe(m),
        }
        # What the post-analytics processor wrote beside the reports, when the schedule has one.
        bucket_name, _, prefix = output_uri(latest).removeprefix("s3://").partition("/")
        try:
            body = s3.get_object(Bucket=bucket_name, Key=prefix.rstrip("/") + "/custom/summary.json")["Body"]
            runs[name]["summary"] = json.loads(body.read())
        except s3.exceptions.NoSuchKey:
            runs[name]["summary"] = None
    RESULT["runs"] = runs

    # 6. attach, update, stop, start, delete.
    attached = DefaultModelMonitor.attach(monitor_schedule_name=names["hourly"], sagemaker_session=session)
    RESULT["attached"] = {
        "schedule": describe(attached),
        "job_definition": attached.job_definition_name,
        "tags": attached.tags,
        "image_uri": attached.image_uri,
        "role": attached.role,
    }
    # A new job definition (the SDK's way when more than the cron changes), then the schedule.
    attached.update_monitoring_schedule(
        schedule_cron_expression=CronExpressionGenerator.daily(hour=5), max_runtime_in_seconds=1200
    )
    RESULT["updated"] = describe(attached)
    RESULT["updated_max_runtime"] = sagemaker_client.describe_data_quality_job_definition(
        JobDefinitionName=attached.job_definition_name
    )["StoppingCondition"]["MaxRuntimeInSeconds"]
    attached.stop_monitoring_schedule()
    RESULT["stopped"] = describe(attached)
    attached.start_monitoring_schedule()
    RESULT["started"] = describe(attached)
    deleted = {}
    for name, m in [(names["hourly"], attached), (names["now"], now_monitor), (names["batch"], batch)]:
        definition = m.job_definition_name
        m.delete_monitoring_schedule()
        try:
            sagemaker_client.describe_data_quality_job_definition(JobDefinitionName=definition)
            deleted[name] = "job definition still there"
        except sagemaker_client.exceptions.ResourceNotFound:
            deleted[name] = "schedule and job definition deleted"
    RESULT["deleted"] = deleted
    RESULT["remaining"] = [
        s["MonitoringScheduleName"]
        for s in sagemaker_client.list_monitoring_schedules(NameContains=names["prefix"])["MonitoringScheduleSummaries"]
    ]


if __name__ == "__main__":
    finish(notebook, RESULT)
