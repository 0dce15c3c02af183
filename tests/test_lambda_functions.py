"""The Lambda functions, as built, under the real Lambda runtime API against moto.

`cargo lambda watch --only-lambda-apis` runs the runtime API emulator (and the Function URL and
Invoke emulations in front of it) without building anything; the prebuilt binaries
(`cargo build -p create-schedule -p analyze -p baseline`) are started here as the functions,
each polling its own route of the runtime API, `http://127.0.0.1:<port>/.rt/<function name>`.
boto3's own `sagemaker` client calls create-schedule through its Function URL
(`/lambda-url/create-schedule/`); analyze and baseline are invoked with `cargo lambda invoke`.
create-schedule starts CreateProcessingJob's jobs by invoking baseline asynchronously through
the emulator's Invoke API, behind a proxy that answers `InvocationType: Event` at once as Lambda
does (tests/proxies.py): cargo lambda itself waits for the function's answer.
What the functions did is then checked in moto itself: the DynamoDB item, the EventBridge
Scheduler schedule, the S3 reports, the CloudWatch metrics. The scripts function (Python) polls
its route with awslambdaric's bootstrap (tests/lambda_python_runtime.py), in its code folder, as
the Python runtime runs it; boto3's `lambda` client invokes it through the emulator's Invoke API.

moto comes from the environment: infra/test.sh runs `moto_start` (infra/moto.sh), which
exports AWS_ENDPOINT_URL, test credentials and MODELMON_TEST_AWS=1. Each module run uses its
own table, schedule group and bucket; each test its own endpoint and schedule names.
"""

import csv
import functools
import io
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlparse

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from proxies import Proxy

FUNCTIONS = ("create-schedule", "analyze", "baseline")
SCRIPTS_FUNCTION = "scripts"
SCRIPTS_CODE = Path(__file__).resolve().parent.parent / "functions" / "scripts"
PYTHON_RUNTIME = Path(__file__).resolve().parent / "lambda_python_runtime.py"
TEST_SCRIPTS = Path(__file__).resolve().parent / "scripts"
REGION = "us-east-1"
ACCOUNT = "123456789012"
ANALYZE_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:modelmon-analyze"
SCHEDULER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/modelmon-scheduler"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/monitoring"
IMAGE = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
START_TIMEOUT = 60
INVOKE_TIMEOUT = 180

# cargo lambda needs a Cargo project to run in, and answers only for the functions that project
# has as binaries. This stand-in has the three names and nothing to build (nothing is built:
# --only-lambda-apis), so the watch never touches the real workspace or its lock.
HARNESS_MANIFEST = """\
[package]
name = "modelmon-lambda-harness"
version = "0.0.0"
edition = "2021"
publish = false

[[bin]]
name = "create-schedule"
path = "src/main.rs"

[[bin]]
name = "analyze"
path = "src/main.rs"

[[bin]]
name = "baseline"
path = "src/main.rs"

[[bin]]
name = "scripts"
path = "src/main.rs"

[workspace]
"""


def moto_endpoint():
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    host = urlparse(endpoint).hostname
    if os.environ.get("MODELMON_TEST_AWS") != "1" or host not in ("127.0.0.1", "localhost"):
        pytest.fail(
            "these tests need moto server: run infra/test.sh, or "
            "`source infra/moto.sh && moto_start` first (MODELMON_TEST_AWS=1 and "
            f"AWS_ENDPOINT_URL on 127.0.0.1 expected, AWS_ENDPOINT_URL is {endpoint!r})"
        )
    return endpoint


def venv_bin():
    return Path(os.environ.get("MODELMON_VENV", str(Path.home() / ".cache/modelmon/venv"))) / "bin"


def functions_dir():
    default = Path(os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/modelmon/target"))) / "debug"
    folder = Path(os.environ.get("MODELMON_FUNCTIONS_DIR", str(default)))
    missing = [name for name in FUNCTIONS if not (folder / name).is_file()]
    if missing:
        pytest.fail(
            f"function binaries {missing} not found in {folder}: run "
            "`cargo build -p create-schedule -p analyze -p baseline` (or set MODELMON_FUNCTIONS_DIR)"
        )
    return folder


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def aws(service):
    """A boto3 client for moto (AWS_ENDPOINT_URL from the environment)."""
    config = Config(s3={"addressing_style": "path"}) if service == "s3" else None
    return boto3.client(service, region_name=REGION, config=config)


class Process:
    """A started process with its output in a log file."""

    def __init__(self, name, args, env, cwd, log_dir):
        self.name = name
        self.args, self.env, self.cwd = args, env, cwd
        self.log = log_dir / f"{name}.log"
        with open(self.log, "ab") as log:
            self.popen = subprocess.Popen(
                args, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def text(self, since=0):
        with open(self.log, "rb") as f:
            f.seek(since)
            return f.read().decode(errors="replace")

    def size(self):
        return self.log.stat().st_size

    def status(self):
        code = self.popen.poll()
        return "running" if code is None else f"exited with {code}"

    def stop(self):
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
                self.popen.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)

    def kill(self):
        """SIGKILL, as when Lambda's host kills a function: no chance to clean up."""
        os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)


class Stack:
    """The runtime API emulator, the three functions, and their AWS resources in moto.
    `baseline_env`: more variables for the baseline function (its AWS endpoint, its lease)."""

    def __init__(self, root, baseline_env=None):
        self.root = root
        self.baseline_env = baseline_env or {}
        self.processes = {}
        self.invoke_proxy = None
        self.suffix = uuid.uuid4().hex[:8]
        self.table = f"modelmon-{self.suffix}"
        self.group = f"modelmon-{self.suffix}"
        self.bucket = f"modelmon-{self.suffix}"
        self.capture = f"s3://{self.bucket}/datacapture"
        self.port = None
        self.url = None
        self.offsets = {}

    # -- start-up ---------------------------------------------------------------------------

    def create_resources(self):
        dynamodb = aws("dynamodb")
        string = lambda name: {"AttributeName": name, "AttributeType": "S"}  # noqa: E731
        dynamodb.create_table(
            TableName=self.table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[string("pk"), string("sk"), string("kind")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "kind-index",
                    "KeySchema": [
                        {"AttributeName": "kind", "KeyType": "HASH"},
                        {"AttributeName": "sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
        dynamodb.get_waiter("table_exists").wait(TableName=self.table)
        aws("scheduler").create_schedule_group(Name=self.group)
        aws("s3").create_bucket(Bucket=self.bucket)

    def start(self, binaries):
        base_env = dict(os.environ)
        base_env["PATH"] = f"{venv_bin()}{os.pathsep}{base_env.get('PATH', '')}"
        cargo_lambda = shutil.which("cargo-lambda", path=base_env["PATH"])
        if cargo_lambda is None:
            pytest.fail(f"cargo-lambda not found (expected in {venv_bin()}): install infra/requirements-test.txt")
        project = self.root / "harness"
        (project / "src").mkdir(parents=True)
        (project / "Cargo.toml").write_text(HARNESS_MANIFEST)
        (project / "src/main.rs").write_text("fn main() {}\n")
        self.project = project
        self.env = base_env

        self.port = free_port()
        watch = self.spawn(
            "cargo-lambda-watch",
            [cargo_lambda, "lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P", str(self.port)],
            base_env,
        )
        runtime_api = self.wait_for_watch(watch)
        self.url = f"http://127.0.0.1:{self.port}"
        self.invoke_proxy = Proxy(self.url, asynchronous_invoke=True)

        common = {
            "AWS_LAMBDA_FUNCTION_VERSION": "1",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
            "AWS_REGION": REGION,
            "RUST_LOG": "info",
        }
        # Users' scripts: the scripts function, invoked synchronously through the emulator's Invoke API.
        scripts_env = {"SCRIPTS_FUNCTION_NAME": SCRIPTS_FUNCTION, "AWS_ENDPOINT_URL_LAMBDA": self.url}
        own = {
            "create-schedule": {
                "TABLE_NAME": self.table,
                "SCHEDULE_GROUP": self.group,
                "ANALYZE_FUNCTION_ARN": ANALYZE_ARN,
                "SCHEDULER_ROLE_ARN": SCHEDULER_ROLE,
                "ACCOUNT_ID": ACCOUNT,
                # The emulator takes function names, not ARNs, and the proxy gives Event semantics.
                "BASELINE_FUNCTION_NAME": "baseline",
                "AWS_ENDPOINT_URL_LAMBDA": self.invoke_proxy.url,
            },
            "analyze": {"TABLE_NAME": self.table, "CAPTURE_DESTINATION_S3_URI": self.capture, **scripts_env},
            "baseline": {"TABLE_NAME": self.table, **self.baseline_env, **scripts_env},
        }
        for name in FUNCTIONS:
            env = {
                **base_env,
                **common,
                **own[name],
                "AWS_LAMBDA_FUNCTION_NAME": name,
                # The emulator routes by the path segment after /.rt: the bare /.rt form it
                # prints serves only the default function "_".
                "AWS_LAMBDA_RUNTIME_API": f"{runtime_api}/{name}",
            }
            self.spawn(name, [str(binaries / name)], env)
        # The scripts function gets none of modelmon's settings, and no AWS credentials that
        # work: it holds no permission on AWS either.
        scripts_env = {
            key: value
            for key, value in base_env.items()
            if not key.startswith(("AWS_", "MODELMON_", "S3_")) and key != "CARGO_TARGET_DIR"
        }
        scripts_env.update(common)
        scripts_env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": SCRIPTS_FUNCTION,
                # awslambdaric takes the address without a scheme.
                "AWS_LAMBDA_RUNTIME_API": f"{runtime_api.split('://', 1)[-1]}/{SCRIPTS_FUNCTION}",
            }
        )
        self.spawn(
            SCRIPTS_FUNCTION,
            [str(venv_bin() / "python"), str(PYTHON_RUNTIME), "handler.lambda_handler"],
            scripts_env,
            cwd=SCRIPTS_CODE,
        )

        # The functions read their configuration at start-up and exit if it is wrong.
        time.sleep(0.5)
        for name in FUNCTIONS + (SCRIPTS_FUNCTION,):
            if self.processes[name].popen.poll() is not None:
                pytest.fail(f"function {name} exited at start-up:\n{self.logs()}")
        # The Function URL round trip, once, before the tests.
        try:
            self.sagemaker().list_monitoring_schedules(NameContains=f"readiness-{self.suffix}")
        except Exception as err:  # noqa: BLE001 - anything here means the harness isn't up
            pytest.fail(f"create-schedule does not answer through its Function URL ({err!r}):\n{self.logs()}")

    def spawn(self, name, args, env, cwd=None):
        process = Process(name, args, env, cwd or self.project, self.root)
        self.processes[name] = process
        return process

    def restart(self, name):
        """Starts function `name` again (after a test killed it), with the same environment."""
        old = self.processes[name]
        old.stop()
        self.spawn(name, old.args, old.env)

    def wait_for_watch(self, watch):
        """Waits until the emulator listens; returns the AWS_LAMBDA_RUNTIME_API it prints."""
        deadline = time.monotonic() + START_TIMEOUT
        runtime_api = None
        while time.monotonic() < deadline:
            if watch.popen.poll() is not None:
                pytest.fail(f"cargo lambda watch exited ({watch.status()}):\n{watch.text()}")
            for line in watch.text().splitlines():
                if "AWS_LAMBDA_RUNTIME_API=" in line:
                    runtime_api = line.split("AWS_LAMBDA_RUNTIME_API=", 1)[1].strip()
            if runtime_api and "starting Runtime server" in watch.text():
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return runtime_api.rstrip("/")
                except OSError:
                    pass
            time.sleep(0.1)
        pytest.fail(f"cargo lambda watch did not start within {START_TIMEOUT} s:\n{watch.text()}")

    def stop(self):
        for process in reversed(list(self.processes.values())):
            process.stop()
        if self.invoke_proxy:
            self.invoke_proxy.close()

    # -- diagnostics ------------------------------------------------------------------------

    def mark(self):
        self.offsets = {name: process.size() for name, process in self.processes.items()}

    def logs(self, since_mark=False):
        parts = []
        for name, process in self.processes.items():
            since = self.offsets.get(name, 0) if since_mark else 0
            parts.append(f"----- {name} ({process.status()}) -----\n{process.text(since)}")
        return "\n".join(parts)

    # -- calls ------------------------------------------------------------------------------

    def function_url(self, name="create-schedule"):
        return f"{self.url}/lambda-url/{name}"

    def sagemaker(self):
        """boto3's SageMaker client, pointed at create-schedule's Function URL."""
        return boto3.client(
            "sagemaker",
            endpoint_url=self.function_url(),
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}, read_timeout=120),
        )

    def lambda_client(self):
        """boto3's `lambda` client, pointed at the emulator's Invoke API."""
        return boto3.client(
            "lambda",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}, read_timeout=120),
        )

    def invoke(self, name, event):
        """`cargo lambda invoke <name>` with `event`; the function's JSON result."""
        path = self.root / f"event-{uuid.uuid4().hex[:8]}.json"
        path.write_text(json.dumps(event))
        args = ["cargo", "lambda", "invoke", name, "--data-file", str(path), "-A", "127.0.0.1", "-P", str(self.port)]
        try:
            result = subprocess.run(
                args, env=self.env, cwd=self.project, capture_output=True, text=True, timeout=INVOKE_TIMEOUT
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"{name} did not answer within {INVOKE_TIMEOUT} s:\n{self.logs(since_mark=True)}")
        if result.returncode != 0:
            pytest.fail(
                f"cargo lambda invoke {name} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n"
                f"{self.logs(since_mark=True)}"
            )
        try:
            return json.loads(result.stdout)
        except json.JSONDecodeError:
            pytest.fail(f"cargo lambda invoke {name}: not JSON: {result.stdout!r}\n{result.stderr}")

    # -- moto state -------------------------------------------------------------------------

    def put(self, key, body, content_type):
        aws("s3").put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def keys(self, prefix):
        pages = aws("s3").get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def get_json(self, uri):
        bucket, key = split_uri(uri)
        return json.loads(aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read())

    def content_type(self, uri):
        bucket, key = split_uri(uri)
        return aws("s3").head_object(Bucket=bucket, Key=key)["ContentType"]

    def item(self, name):
        return (
            aws("dynamodb")
            .get_item(TableName=self.table, Key={"pk": {"S": f"schedule#{name}"}, "sk": {"S": "schedule"}})
            .get("Item")
        )

    def timer(self, name):
        return aws("scheduler").get_schedule(GroupName=self.group, Name=name)


def split_uri(uri):
    assert uri.startswith("s3://"), uri
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    moto_endpoint()
    binaries = functions_dir()
    stack = Stack(tmp_path_factory.mktemp("lambda"))
    try:
        stack.create_resources()
        stack.start(binaries)
        yield stack
    finally:
        stack.stop()


def shows_function_logs(test):
    """On failure, prints what the functions logged during the test (pytest shows it)."""

    @functools.wraps(test)
    def wrapper(stack, *args, **kwargs):
        stack.mark()
        try:
            return test(stack, *args, **kwargs)
        except BaseException:
            print(stack.logs(since_mark=True))
            raise

    return wrapper


@pytest.fixture(scope="module")
def baseline(stack):
    """1,000 seeded rows of `age,plan` in moto S3, baselined by the baseline function."""
    rng = random.Random(11)
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\n")
    writer.writerow(["age", "plan"])
    for _ in range(1000):
        writer.writerow([rng.randint(18, 80), rng.choice(["basic", "pro", "enterprise"])])
    stack.put("churn/training/train.csv", rows.getvalue().encode(), "text/csv")
    output = f"s3://{stack.bucket}/churn/baseline"
    result = stack.invoke(
        "baseline",
        {
            "dataset_source": f"s3://{stack.bucket}/churn/training/train.csv",
            "dataset_format": json.dumps({"csv": {"header": True, "output_columns_position": "START"}}),
            "output_path": output,
        },
    )
    return output, result


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def job_definition(stack, endpoint, baseline_uri):
    return {
        "BaselineConfig": {
            "ConstraintsResource": {"S3Uri": f"{baseline_uri}/constraints.json"},
            "StatisticsResource": {"S3Uri": f"{baseline_uri}/statistics.json"},
        },
        "MonitoringInputs": [
            {"EndpointInput": {"EndpointName": endpoint, "LocalPath": "/opt/ml/processing/input/endpoint"}}
        ],
        "MonitoringOutputConfig": {
            "MonitoringOutputs": [
                {"S3Output": {"S3Uri": f"s3://{stack.bucket}/reports", "LocalPath": "/opt/ml/processing/output"}}
            ]
        },
        "MonitoringResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}
        },
        "MonitoringAppSpecification": {"ImageUri": IMAGE},
        "StoppingCondition": {"MaxRuntimeInSeconds": 1800},
        "RoleArn": ROLE,
    }


def upload_capture(stack, endpoint, hour, drift):
    """One capture file per minute of `hour`, CSV payloads `age,plan` (ages +100 when `drift`),
    where SageMaker's data capture puts them."""
    rng = random.Random(5)
    for minute in range(60):
        at = hour + timedelta(minutes=minute)
        age = rng.randint(18, 80) + (100 if drift else 0)
        record = {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "text/csv",
                    "mode": "INPUT",
                    "data": f"{age},{rng.choice(['basic', 'pro'])}",
                    "encoding": "CSV",
                }
            },
            "eventMetadata": {"eventId": f"e{minute}", "inferenceTime": at.strftime("%Y-%m-%dT%H:%M:%SZ")},
            "eventVersion": "0",
        }
        key = f"datacapture/{endpoint}/AllTraffic/{at:%Y/%m/%d/%H}/{at:%M-%S}-000-capture.jsonl"
        stack.put(key, (json.dumps(record) + "\n").encode(), "application/jsonl")


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


@shows_function_logs
def test_baseline_function_writes_statistics_and_constraints(stack, baseline):
    output, result = baseline
    assert result["statistics"] == f"{output}/statistics.json", result
    assert result["constraints"] == f"{output}/constraints.json", result
    assert result["records"]["read"] == 1000, result
    assert result["records"]["analysed"] == 1000, result
    assert result["report"] == f"{output}/report.html", result
    assert stack.keys("churn/baseline/") == [
        "churn/baseline/constraints.json",
        "churn/baseline/report.html",
        "churn/baseline/report.json",
        "churn/baseline/statistics.json",
    ]
    assert stack.content_type(result["report"]) == "text/html; charset=utf-8"
    assert stack.get_json(f"{output}/report.json")["records"]["analysed"] == 1000
    statistics = stack.get_json(result["statistics"])
    assert sorted(feature["name"] for feature in statistics["features"]) == ["age", "plan"]
    constraints = stack.get_json(result["constraints"])
    assert sorted(feature["name"] for feature in constraints["features"]) == ["age", "plan"]


@shows_function_logs
def test_schedule_run_and_reports_through_the_functions(stack, baseline):
    sagemaker = stack.sagemaker()
    name, endpoint = unique("hourly"), unique("churn")
    sagemaker.create_monitoring_schedule(
        MonitoringScheduleName=name,
        MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
            "MonitoringJobDefinition": job_definition(stack, endpoint, baseline[0]),
            "MonitoringType": "DataQuality",
        },
    )

    # What create-schedule left in DynamoDB and EventBridge Scheduler.
    item = stack.item(name)
    assert item is not None, "the schedule's DynamoDB item"
    assert item["kind"] == {"S": "schedule"}
    body = json.loads(item["body"]["S"])
    assert body["MonitoringScheduleStatus"] == "Scheduled", body
    timer = stack.timer(name)
    assert timer["GroupName"] == stack.group
    assert timer["ScheduleExpression"] == "cron(0 * * * ? *)"
    assert timer["ScheduleExpressionTimezone"] == "UTC"
    assert timer["State"] == "ENABLED"
    assert timer["Target"]["Arn"] == ANALYZE_ARN
    assert timer["Target"]["RoleArn"] == SCHEDULER_ROLE
    assert json.loads(timer["Target"]["Input"]) == {
        "schedule_name": name,
        "scheduled_time": "<aws.scheduler.scheduled-time>",
    }

    # The scheduler's event for 14:00, with the context attribute filled in: the 13:00 hour.
    upload_capture(stack, endpoint, datetime(2026, 11, 25, 13, tzinfo=timezone.utc), drift=True)
    event = {"schedule_name": name, "scheduled_time": "2026-11-25T14:00:00Z"}
    result = stack.invoke("analyze", event)
    assert result["status"] == "CompletedWithViolations", result
    reports = f"s3://{stack.bucket}/reports/{endpoint}/{name}/2026/11/25/14/"
    assert result["report_uri"] == reports, result
    prefix = split_uri(reports)[1]
    assert stack.keys(prefix) == [
        f"{prefix}constraint_violations.json",
        f"{prefix}report.html",
        f"{prefix}report.json",
        f"{prefix}statistics.json",
    ]
    # The page, served as HTML, and what it is drawn from.
    assert stack.content_type(f"{reports}report.html") == "text/html; charset=utf-8"
    report = stack.get_json(f"{reports}report.json")
    assert report["run"]["schedule"] == name and report["run"]["endpoint"] == endpoint, report["run"]
    violations = stack.get_json(f"{reports}constraint_violations.json")["violations"]
    assert {(v["feature_name"], v["constraint_check_type"]) for v in violations} >= {("age", "baseline_drift_check")}

    # moto's ListMetrics ignores dimension filters: pick ours out client-side.
    metrics = aws("cloudwatch").list_metrics(Namespace=NAMESPACE, MetricName="feature_baseline_drift_age")["Metrics"]
    ours = [
        {d["Name"]: d["Value"] for d in metric["Dimensions"]}
        for metric in metrics
        if {"Name": "MonitoringSchedule", "Value": name} in metric["Dimensions"]
    ]
    assert ours, f"no feature_baseline_drift_age for {name} in {metrics}"
    assert all(dimensions.get("Endpoint") == endpoint for dimensions in ours), ours

    summaries = sagemaker.list_monitoring_executions(MonitoringScheduleName=name)["MonitoringExecutionSummaries"]
    assert [s["MonitoringExecutionStatus"] for s in summaries] == ["CompletedWithViolations"], summaries

    # A repeated delivery of the same event: skipped, still one execution.
    again = stack.invoke("analyze", event)
    assert "skipped" in again, again
    summaries = sagemaker.list_monitoring_executions(MonitoringScheduleName=name)["MonitoringExecutionSummaries"]
    assert len(summaries) == 1, summaries
    described = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=name)
    assert described["MonitoringScheduleStatus"] == "Scheduled", described
    assert described["LastMonitoringExecutionSummary"]["MonitoringExecutionStatus"] == "CompletedWithViolations"

    sagemaker.stop_monitoring_schedule(MonitoringScheduleName=name)
    assert stack.timer(name)["State"] == "DISABLED"
    sagemaker.start_monitoring_schedule(MonitoringScheduleName=name)
    assert stack.timer(name)["State"] == "ENABLED"

    sagemaker.delete_monitoring_schedule(MonitoringScheduleName=name)
    with pytest.raises(ClientError) as gone:
        stack.timer(name)
    assert error_code(gone) == "ResourceNotFoundException"
    assert stack.item(name) is None, "the DynamoDB item is gone"
    with pytest.raises(ClientError) as deleted:
        sagemaker.describe_monitoring_schedule(MonitoringScheduleName=name)
    assert error_code(deleted) == "ResourceNotFound"
    history = sagemaker.list_monitoring_executions(MonitoringScheduleName=name)["MonitoringExecutionSummaries"]
    assert len(history) == 1, "the execution history stays"


@shows_function_logs
def test_errors_through_the_function_url(stack):
    sagemaker = stack.sagemaker()
    with pytest.raises(ClientError) as missing:
        sagemaker.describe_monitoring_schedule(MonitoringScheduleName=unique("missing"))
    assert error_code(missing) == "ResourceNotFound"
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    with pytest.raises(ClientError) as invalid:
        sagemaker.describe_monitoring_schedule(MonitoringScheduleName="not a valid name!")
    assert error_code(invalid) == "ValidationException"

    request = urllib.request.Request(
        stack.function_url() + "/",
        data=b"{}",
        headers={"Content-Type": "application/x-amz-json-1.1"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as unknown:
        urllib.request.urlopen(request, timeout=120)
    assert unknown.value.code == 400
    assert json.loads(unknown.value.read())["__type"] == "UnknownOperationException"


@shows_function_logs
def test_analyze_of_an_unknown_schedule_is_skipped(stack):
    name = unique("nonexistent")
    result = stack.invoke("analyze", {"schedule_name": name, "scheduled_time": "2026-11-25T14:00:00Z"})
    assert "skipped" in result, result
    summaries = stack.sagemaker().list_monitoring_executions(MonitoringScheduleName=name)
    assert summaries["MonitoringExecutionSummaries"] == []


# ------------------------------------------------------------------ the scripts function


def scripts_request(script_name, records):
    path = TEST_SCRIPTS / script_name
    return {
        "handler": "preprocess",
        "script": {"origin": f"s3://code/{script_name}", "source": path.read_text()},
        "environment": {"team": "risk"},
        "record_format": "capture",
        "max_response_bytes": 6 * 1024 * 1024 - 64 * 1024,
        "records": records,
    }


def capture_record(event_id, input_data, output_data):
    part = lambda mode, data: {"observedContentType": "text/csv", "mode": mode, "data": data, "encoding": "CSV"}  # noqa: E731
    return {
        "captureData": {"endpointInput": part("INPUT", input_data), "endpointOutput": part("OUTPUT", output_data)},
        "eventMetadata": {"eventId": event_id, "inferenceTime": "2026-11-25T13:00:05Z"},
        "eventVersion": "0",
    }


@shows_function_logs
def test_the_scripts_function_runs_a_preprocessor_under_the_runtime_api(stack):
    records = [capture_record(f"e{i}", f"{20 + i},pro", f"0.{i}") for i in range(3)]
    answer = stack.lambda_client().invoke(
        FunctionName=SCRIPTS_FUNCTION, Payload=json.dumps(scripts_request("docs_csv_preprocessor.py", records))
    )
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer, answer
    body = json.loads(answer["Payload"].read())
    keys = [str(i).zfill(20) for i in range(3)]
    assert body == {
        "protocol": 1,
        "results": [{"rows": [{"k": 0, "v": [f"0.{i}", str(20 + i), "pro"]}]} for i in range(3)],
        "key_sets": [keys],
    }


@shows_function_logs
def test_the_scripts_function_reports_a_script_that_cannot_run(stack):
    answer = stack.lambda_client().invoke(
        FunctionName=SCRIPTS_FUNCTION,
        Payload=json.dumps(scripts_request("syntax_error.py", [capture_record("e", "1", "2")])),
    )
    failure = json.loads(answer["Payload"].read())["failure"]
    assert (failure["type"], failure["line"]) == ("SyntaxError", 4), failure


@shows_function_logs
def test_a_schedules_scripts_run_in_the_scripts_function(stack, baseline):
    """The analyze function hands the window's records to the scripts function in batches and runs
    the post-analytics processor on the reports (read through presigned URLs): the flattened rows
    are analysed, the dropped and rejected ones counted, the summary uploaded beside the reports."""
    sagemaker = stack.sagemaker()
    name, endpoint = unique("scripted"), unique("churn")
    preprocessor = (
        "def preprocess_handler(inference_record):\n"
        "    age, plan = inference_record.endpoint_input.data.split(',')\n"
        "    if plan == 'pro' and int(age) % 2 == 0:\n"
        "        return []\n"
        "    if int(age) > 75:\n"
        "        raise ValueError('too old: ' + age)\n"
        "    return {'plan': plan, 'age': int(age)}\n"
    )
    stack.put("code/keyed.py", preprocessor.encode(), "text/x-python")
    stack.put("code/summary.py", (TEST_SCRIPTS / "postprocessor_summary.py").read_bytes(), "text/x-python")
    definition = job_definition(stack, endpoint, baseline[0])
    definition["MonitoringAppSpecification"].update(
        {
            "RecordPreprocessorSourceUri": f"s3://{stack.bucket}/code/keyed.py",
            "PostAnalyticsProcessorSourceUri": f"s3://{stack.bucket}/code/summary.py",
        }
    )
    definition["Environment"] = {"team": "risk"}
    sagemaker.create_monitoring_schedule(
        MonitoringScheduleName=name,
        MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
            "MonitoringJobDefinition": definition,
            "MonitoringType": "DataQuality",
        },
    )
    hour = datetime(2026, 11, 25, 13, tzinfo=timezone.utc)
    upload_capture(stack, endpoint, hour, drift=False)
    result = stack.invoke("analyze", {"schedule_name": name, "scheduled_time": "2026-11-25T14:00:00Z"})
    assert result["status"] in ("Completed", "CompletedWithViolations"), result
    reports = result["report_uri"]
    # The same records, read back from S3 and classified here.
    rows = []
    for minute in range(60):
        at = hour + timedelta(minutes=minute)
        key = f"datacapture/{endpoint}/AllTraffic/{at:%Y/%m/%d/%H}/{at:%M-%S}-000-capture.jsonl"
        record = json.loads(aws("s3").get_object(Bucket=stack.bucket, Key=key)["Body"].read())
        age, plan = record["captureData"]["endpointInput"]["data"].split(",")
        rows.append((int(age), plan))
    dropped = [r for r in rows if r[1] == "pro" and r[0] % 2 == 0]
    raised = [r for r in rows if r not in dropped and r[0] > 75]
    kept = [r for r in rows if r not in dropped and r not in raised]
    records = stack.get_json(f"{reports}report.json")["records"]
    assert records["read"] == 60 and records.get("dropped", 0) == len(dropped), records
    assert records["analysed"] == len(kept), records
    assert records.get("rejected", {}).get("preprocessor", {}).get("count", 0) == len(raised), records
    statistics = {f["name"]: f for f in stack.get_json(f"{reports}statistics.json")["features"]}
    assert statistics["age"]["numerical_statistics"]["sum"] == sum(age for age, _ in kept)
    summary = stack.get_json(f"{reports}custom/summary.json")
    assert summary["schedule"] == name and summary["team"] == "risk" and summary["items"] == len(kept), summary
    assert "The post-analytics processor" in result["exit_message"], result
    sagemaker.delete_monitoring_schedule(MonitoringScheduleName=name)
