"""The SageMaker Python SDK's Model Monitor notebook, unchanged, against both homes of modelmon.

Each SDK form runs in its own venv (infra/test.sh makes them from infra/requirements-sagemaker-
v2.txt and -v3.txt and passes their pythons in MODELMON_SAGEMAKER_V2_PYTHON / _V3_PYTHON), and
drives tests/sdk/notebook.py: upload a training CSV with boto3, `suggest_baseline(wait=True,
logs=True)`, the baseline's statistics and constraints, three schedules (NOW on an endpoint,
hourly on another, NOW on batch transform capture), the runs, `list_executions()[-1]`,
`latest_monitoring_statistics()`, `latest_monitoring_constraint_violations()`, `attach()`,
`update_monitoring_schedule()`, stop, start, delete. tests/sdk/error_paths.py (v2) drives the
baselining job's error paths. The only thing pointed at modelmon is the SDK session's
`sagemaker_client`; S3, STS and CloudWatch Logs are moto (AWS_ENDPOINT_URL).

The homes:
- `modelmon serve --store s3`, with moto as S3 and CloudWatch Logs; its timers and jobs run
  in-process;
- the three functions under `cargo lambda watch` with moto (tests/test_lambda_functions.py's
  stack); the test plays EventBridge Scheduler (moto keeps timers but never fires them): it reads
  each schedule's timer and invokes analyze with its scheduled time.
In both, the functions' (and serve's) AWS calls pass a proxy (tests/proxies.py) that holds reads
of `/stall/` objects, so a job can be caught running: stopped, timed out, or killed.

What is outside the notebook is the test's: the endpoint's captured traffic and the batch
transform's capture (as SageMaker would have written them), and the scheduler.
"""

import csv
import io
import json
import os
import random
import subprocess
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from proxies import Proxy
from test_lambda_functions import Stack, functions_dir, moto_endpoint
from test_serve_api import first_line, modelmon_bin

ROOT = Path(__file__).resolve().parent
REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/service-role/monitoring"
OTHER_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1"
FLOW_TIMEOUT = 600
# Short, so a lost runner shows within seconds; the runner renews every sixth of it.
LEASE_SECONDS = "6"
ROWS = 1000
HOURLY_RUN = datetime(2026, 11, 25, 14, tzinfo=timezone.utc)
SDK_FORMS = ("v2", "v3")


def sdk_python(form):
    variable = f"MODELMON_SAGEMAKER_{form.upper()}_PYTHON"
    python = os.environ.get(variable)
    if not python or not Path(python).is_file():
        pytest.fail(f"{variable} is not set to the python of the SageMaker SDK {form} venv: run infra/test.sh")
    return python


def s3():
    return boto3.client("s3", region_name=REGION, config=Config(s3={"addressing_style": "path"}))


def training_csv(seed):
    rng = random.Random(seed)
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\n")
    writer.writerow(["age", "plan"])
    ages, plans = [], []
    for _ in range(ROWS):
        ages.append(rng.randint(20, 60))
        plans.append(rng.choice(["basic", "pro"]))
        writer.writerow([ages[-1], plans[-1]])
    return rows.getvalue(), ages, plans


def capture_record(at, age, plan):
    return {
        "captureData": {
            "endpointInput": {
                "observedContentType": "text/csv",
                "mode": "INPUT",
                "data": f"{age},{plan}",
                "encoding": "CSV",
            }
        },
        "eventMetadata": {"eventId": str(uuid.uuid4()), "inferenceTime": at.strftime("%Y-%m-%dT%H:%M:%SZ")},
        "eventVersion": "0",
    }


def put_capture(bucket, endpoint, times):
    """SageMaker's data capture of `endpoint`: one record per time, ages drifted by +100."""
    rng = random.Random(3)
    files = {}
    for at in times:
        record = capture_record(at, rng.randint(20, 60) + 100, rng.choice(["basic", "pro"]))
        files.setdefault(f"datacapture/{endpoint}/AllTraffic/{at:%Y/%m/%d/%H}/{at:%M}-00-000-c.jsonl", []).append(
            json.dumps(record)
        )
    for key, lines in files.items():
        s3().put_object(Bucket=bucket, Key=key, Body=("\n".join(lines) + "\n").encode())


def put_batch_capture(bucket, prefix, hour, rows):
    """A batch transform's capture: a manifest under input/yyyy/mm/dd/hh/ naming a data file."""
    rng = random.Random(4)
    data = "".join(f"{rng.randint(20, 60) + 100},{rng.choice(['basic', 'pro'])}\n" for _ in range(rows))
    s3().put_object(Bucket=bucket, Key=f"{prefix}-data/batch.csv", Body=data.encode())
    manifest = [{"prefix": f"s3://{bucket}/{prefix}-data/"}, "batch.csv"]
    key = f"{prefix}/input/{hour:%Y/%m/%d/%H}/manifest.json"
    s3().put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest).encode())


class Flow:
    """One script under one SDK venv, speaking the scripts' line protocol."""

    def __init__(self, form, script, config, home, log_dir):
        self.home = home
        self.log = log_dir / f"{config['names']['prefix']}.log"
        path = log_dir / f"{config['names']['prefix']}.json"
        path.write_text(json.dumps(config))
        self.process = subprocess.Popen(
            [sdk_python(form), str(ROOT / "sdk" / script), str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(self.log, "wb"),
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def run(self):
        timer = threading.Timer(FLOW_TIMEOUT, self.process.kill)
        timer.start()
        try:
            for line in self.process.stdout:
                try:
                    message = json.loads(line)
                except json.JSONDecodeError:
                    self.process.kill()
                    pytest.fail(f"the SDK script wrote {line!r} to the protocol:\n{self.log.read_text()}")
                if "result" in message:
                    return message["result"]
                if "fire" in message:
                    answer = {"ran": self.home.fire(message["fire"])}
                else:
                    answer = self.home.kill_runner(message["kill_runner"])
                self.process.stdin.write(json.dumps(answer) + "\n")
                self.process.stdin.flush()
            pytest.fail(f"the SDK script ended without a result:\n{self.log.read_text()}")
        finally:
            timer.cancel()
            if self.process.poll() is None:
                self.process.wait(timeout=30)


class Home:
    """What a flow needs of a home: its API, its bucket, its scheduler, its runner."""

    def __init__(self, name, sagemaker_endpoint, bucket, log_dir):
        self.name, self.sagemaker_endpoint, self.bucket, self.log_dir = name, sagemaker_endpoint, bucket, log_dir
        self.stalled_dataset = f"s3://{bucket}/stall/train.csv"
        s3().put_object(Bucket=bucket, Key="stall/train.csv", Body=training_csv(1)[0].encode())

    def names(self, form):
        prefix = f"{self.name}-{form}-{uuid.uuid4().hex[:6]}"
        return {
            "prefix": prefix,
            "baseline_job": f"{prefix}-baseline",
            "baseline_output": f"{prefix}/baseline",
            "now": f"{prefix}-now",
            "now_endpoint": f"{prefix}-ep-now",
            "hourly": f"{prefix}-hourly",
            "hourly_endpoint": f"{prefix}-ep-hourly",
            "batch": f"{prefix}-batch",
            "batch_capture": f"{prefix}/transform-capture",
        }

    def notebook(self, form):
        """Runs the notebook under SDK `form`; (its result, the data it was given)."""
        names = self.names(form)
        train, ages, plans = training_csv(7)
        now = datetime.now(timezone.utc).replace(microsecond=0)
        window = [now - timedelta(minutes=50) + timedelta(minutes=m) for m in range(45)]
        put_capture(self.bucket, names["now_endpoint"], window)
        put_capture(self.bucket, names["hourly_endpoint"], [HOURLY_RUN - timedelta(minutes=m) for m in range(1, 31)])
        put_batch_capture(self.bucket, names["batch_capture"], now, 40)
        config = self.config(form, names, train_key=f"{names['prefix']}/train.csv", train_csv=train)
        result = Flow(form, "notebook.py", config, self, self.log_dir).run()
        return result, {"names": names, "ages": ages, "plans": plans, "window": len(window)}

    def error_paths(self, scenarios):
        names = {scenario: f"{self.name}-{scenario.replace('_', '-')}-{uuid.uuid4().hex[:6]}" for scenario in scenarios}
        names["prefix"] = f"{self.name}-errors-{uuid.uuid4().hex[:6]}"
        config = self.config(
            "v2",
            names,
            scenarios=scenarios,
            other_image=OTHER_IMAGE,
            stalled_dataset=self.stalled_dataset,
            bad_rows_csv=training_csv(5)[0] + "1,2,3\n41\n",
            no_rows_csv="age,plan\n",
            scratch=str(self.log_dir),
        )
        return Flow("v2", "error_paths.py", config, self, self.log_dir).run()

    def config(self, form, names, **more):
        return {
            "sdk": form,
            "region": REGION,
            "bucket": self.bucket,
            "role": ROLE,
            "sagemaker_endpoint": self.sagemaker_endpoint,
            "names": names,
            **more,
        }


class ServeHome(Home):
    def fire(self, schedules):
        # serve's own timers fire NOW schedules at once; the hourly one waits for its hour.
        return [name for name in schedules if not name.endswith("-hourly")]

    def kill_runner(self, job):
        raise AssertionError(f"the serve home kills no runner ({job})")


class LambdaHome(Home):
    def __init__(self, stack, log_dir):
        super().__init__("lambda", stack.function_url(), stack.bucket, log_dir)
        self.stack = stack

    def fire(self, schedules):
        """EventBridge Scheduler's part: each timer's scheduled time, delivered to analyze."""
        for name in schedules:
            expression = self.stack.timer(name)["ScheduleExpression"]
            if expression.startswith("at("):
                scheduled = expression[3:-1] + "Z"
            else:
                assert expression == "cron(0 * * * ? *)", expression
                scheduled = HOURLY_RUN.strftime("%Y-%m-%dT%H:%M:%SZ")
            result = self.stack.invoke("analyze", {"schedule_name": name, "scheduled_time": scheduled})
            assert result.get("status") == "CompletedWithViolations", result
        return schedules

    def kill_runner(self, job):
        self.stack.processes["baseline"].kill()
        self.stack.restart("baseline")
        return {"killed": True}


@pytest.fixture(scope="module")
def serve_home(tmp_path_factory):
    endpoint = moto_endpoint()
    root = tmp_path_factory.mktemp("sdk-serve")
    bucket = f"modelmon-sdk-{uuid.uuid4().hex[:8]}"
    s3().create_bucket(Bucket=bucket)
    proxy = Proxy(endpoint, stall="/stall/")
    log = open(root / "serve.log", "wb")
    process = subprocess.Popen(
        [
            modelmon_bin(),
            "serve",
            "--port",
            "0",
            "--state",
            str(root / "state"),
            "--store",
            "s3",
            "--capture-destination",
            f"s3://{bucket}/datacapture",
            "--job-lease-seconds",
            LEASE_SECONDS,
        ],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env={**os.environ, "AWS_ENDPOINT_URL": proxy.url, "S3_FORCE_PATH_STYLE": "true"},
    )
    try:
        line = first_line(process, 60)
        prefix = "modelmon serve: listening on "
        assert line.startswith(prefix), f"serve did not start ({line!r}):\n{(root / 'serve.log').read_text()}"
        yield ServeHome("serve", line[len(prefix):].split()[0], bucket, root)
    finally:
        process.kill()
        process.wait(timeout=10)
        proxy.close()


@pytest.fixture(scope="module")
def lambda_home(tmp_path_factory):
    endpoint = moto_endpoint()
    binaries = functions_dir()
    root = tmp_path_factory.mktemp("sdk-lambda")
    proxy = Proxy(endpoint, stall="/stall/")
    stack = Stack(root, baseline_env={"AWS_ENDPOINT_URL": proxy.url, "PROCESSING_JOB_LEASE_SECONDS": LEASE_SECONDS})
    try:
        stack.create_resources()
        stack.start(binaries)
        yield LambdaHome(stack, root)
    finally:
        stack.stop()
        proxy.close()


def run_notebooks(home):
    with ThreadPoolExecutor(len(SDK_FORMS)) as pool:
        return dict(zip(SDK_FORMS, pool.map(home.notebook, SDK_FORMS)))


@pytest.fixture(scope="module")
def serve_notebooks(serve_home):
    return run_notebooks(serve_home)


@pytest.fixture(scope="module")
def lambda_notebooks(lambda_home):
    return run_notebooks(lambda_home)


# ------------------------------------------------------------------------------------ the checks


def check_notebook(home, result, given):
    assert "error" not in result, result["error"]
    names = given["names"]
    bucket = home.bucket

    # 2. The baselining job and what the SDK showed while it waited.
    job = result["baseline_job"]
    assert job["ProcessingJobStatus"] == "Completed", job
    assert job["ProcessingJobName"] == names["baseline_job"]
    assert f"read {ROWS}, analysed {ROWS}, rejected 0" in job["ExitMessage"], job
    printed = result["suggest_baseline_printed"]
    assert f"baselining job {names['baseline_job']}" in printed, printed
    assert "Completed: Baselined 1000 records" in printed, printed
    statistics = result["statistics"]
    assert statistics["dataset"]["item_count"] == ROWS
    features = {f["name"]: f for f in statistics["features"]}
    assert list(features) == ["age", "plan"]
    age = features["age"]
    assert age["inferred_type"] == "Integral"
    assert age["numerical_statistics"]["common"] == {"num_present": ROWS, "num_missing": 0}
    assert age["numerical_statistics"]["sum"] == sum(given["ages"])
    assert (age["numerical_statistics"]["min"], age["numerical_statistics"]["max"]) == (
        min(given["ages"]),
        max(given["ages"]),
    )
    buckets = features["plan"]["string_statistics"]["distribution"]["categorical"]["buckets"]
    assert {b["value"]: b["count"] for b in buckets} == {p: given["plans"].count(p) for p in ("basic", "pro")}
    constraints = {f["name"]: f for f in result["constraints"]["features"]}
    assert constraints["age"]["inferred_type"] == "Integral"
    assert constraints["age"]["num_constraints"]["is_non_negative"] is True
    assert sorted(constraints["plan"]["string_constraints"]["domains"]) == ["basic", "pro"]
    assert result["constraints"]["monitoring_config"]["distribution_constraints"]["comparison_method"] == "Robust"

    # 3. The schedules.
    created = result["created"]
    assert created[names["now"]]["expression"] == "NOW"
    assert created[names["hourly"]]["expression"] == "cron(0 * ? * * *)"
    assert created[names["batch"]]["expression"] == "NOW"
    assert {c["status"] for c in created.values()} == {"Scheduled"}
    assert all(c["definition"].startswith("data-quality-job-definition-") for c in created.values()), created

    # 4, 5. Each run, as the SDK reads it back.
    for name, run in result["runs"].items():
        described = run["describe"]
        assert described["ProcessingJobStatus"] == "Completed", described
        assert described["ExitMessage"].startswith("CompletedWithViolations: Job completed successfully with"), described
        assert described["ProcessingJobName"].startswith("model-monitoring-"), described
        assert described["Environment"]["sagemaker_monitoring_schedule_name"] == name
        output = run["output"]
        assert output == described["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
        assert output.startswith(f"s3://{bucket}/reports/"), output
        assert run["schedule"]["last"]["ProcessingJobArn"].endswith(f"/{described['ProcessingJobName']}")
        expected_count = {names["now"]: given["window"], names["hourly"]: 30, names["batch"]: 40}[name]
        assert run["statistics"]["dataset"]["item_count"] == expected_count, (name, run["statistics"]["dataset"])
        violations = {(v["feature_name"], v["constraint_check_type"]) for v in run["violations"]["violations"]}
        assert ("age", "baseline_drift_check") in violations, (name, violations)
        # The NOW schedule's scripts (record_preprocessor_script=, post_analytics_processor_script=,
        # local files the SDK uploaded): its rows keyed by name, its summary beside the reports.
        if name == names["now"]:
            assert run["summary"] == {
                "schedule": name,
                "team": None,
                "items": expected_count,
                "violations": sorted(f"{feature}:{check}" for feature, check in violations),
            }, run["summary"]
            assert "The post-analytics processor s3://" in described["ExitMessage"], described
        else:
            assert run["summary"] is None, (name, run["summary"])
        if name == names["batch"]:
            assert f"/reports/{name}/" in output, output
            assert "sagemaker_endpoint_name" not in described["Environment"]
        else:
            endpoint = names["now_endpoint"] if name == names["now"] else names["hourly_endpoint"]
            assert f"/reports/{endpoint}/{name}/" in output, output
            assert described["Environment"]["sagemaker_endpoint_name"] == endpoint

    # 6. attach, update, stop, start, delete.
    attached = result["attached"]
    assert attached["schedule"]["expression"] == "cron(0 * ? * * *)"
    assert attached["job_definition"] == created[names["hourly"]]["definition"]
    assert attached["role"] == ROLE
    assert attached["image_uri"].endswith("/sagemaker-model-monitor-analyzer")
    updated = result["updated"]
    assert updated["expression"] == "cron(0 5 ? * * *)", updated
    assert updated["definition"] != attached["job_definition"], "the SDK sends a new job definition"
    assert result["stopped"]["status"] == "Stopped"
    assert result["started"]["status"] == "Scheduled"
    assert set(result["deleted"].values()) == {"schedule and job definition deleted"}, result["deleted"]
    assert result["remaining"] == []


def check_job_log(job):
    """The baselining job's lines in CloudWatch Logs (moto), where the SDK read them."""
    logs = boto3.client("logs", region_name=REGION)
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix=f"{job}/")
    [stream] = streams["logStreams"]
    assert stream["logStreamName"].startswith(f"{job}/algo-1-"), stream
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamName=stream["logStreamName"], startFromHead=True
    )["events"]
    messages = [e["message"] for e in events]
    assert messages[0].endswith(f"baselining job {job}"), messages
    assert messages[-1].startswith("Completed: Baselined 1000 records"), messages


@pytest.mark.parametrize("form", SDK_FORMS)
def test_the_notebook_against_serve_with_s3(serve_home, serve_notebooks, form):
    result, given = serve_notebooks[form]
    check_notebook(serve_home, result, given)
    # serve cannot fire an hourly schedule within a test: the NOW ones ran.
    assert sorted(result["runs"]) == sorted([given["names"]["now"], given["names"]["batch"]])
    check_job_log(given["names"]["baseline_job"])


@pytest.mark.parametrize("form", SDK_FORMS)
def test_the_notebook_against_the_functions(lambda_home, lambda_notebooks, form):
    result, given = lambda_notebooks[form]
    check_notebook(lambda_home, result, given)
    names = given["names"]
    assert sorted(result["runs"]) == sorted([names["now"], names["hourly"], names["batch"]])
    check_job_log(names["baseline_job"])


def check_error_paths(result, bucket, crashed):
    assert "error" not in result, result["error"]
    other = result["other_image"]["raised"]
    assert other["type"] == "ClientError", other
    assert "ValidationException" in other["message"] and "is not the model-monitor analyzer" in other["message"], other

    missing = result["missing"]
    assert missing["raised"]["type"] == "UnexpectedStatusException", missing
    assert missing["describe"]["ProcessingJobStatus"] == "Failed"
    assert missing["describe"]["FailureReason"].endswith("/errors/no-such-dataset/train.csv: no objects to baseline")

    bad_rows = result["bad_rows"]
    assert bad_rows["raised"] is None, bad_rows
    assert bad_rows["describe"]["ProcessingJobStatus"] == "Completed"
    assert f"read {ROWS + 2}, analysed {ROWS}, rejected 2 (wrong field count 2)" in bad_rows["describe"]["ExitMessage"]
    # The SDK uploaded the local file to the session's default bucket, where the job read it.
    [uploaded] = bad_rows["describe"]["ProcessingInputs"]
    assert uploaded["S3Input"]["S3Uri"].startswith(f"s3://{bucket}/"), uploaded
    assert f"First wrong field count: {uploaded['S3Input']['S3Uri']}" in bad_rows["describe"]["ExitMessage"]

    no_rows = result["no_rows"]
    assert no_rows["raised"]["type"] == "UnexpectedStatusException", no_rows
    assert no_rows["describe"]["FailureReason"].endswith(
        "/errors/no_rows/train.csv: the dataset has no records to baseline (read 0, analysed 0, rejected 0)"
    ), no_rows

    too_long = result["max_runtime"]
    assert too_long["raised"]["type"] == "UnexpectedStatusException", too_long
    assert "exceeded its StoppingCondition.MaxRuntimeInSeconds of 2 s" in too_long["describe"]["FailureReason"]

    stopped = result["stop"]
    assert stopped["describe"]["ProcessingJobStatus"] == "Stopped", stopped
    # The SDK only warns about a Stopped job.
    assert stopped["raised"] is None, stopped

    if crashed:
        crash = result["crash"]
        assert crash["raised"]["type"] == "UnexpectedStatusException", crash
        assert crash["describe"]["ProcessingJobStatus"] == "Failed"
        assert crash["describe"]["FailureReason"].startswith("The job's runner stopped without finishing"), crash


SCENARIOS = ["other_image", "missing", "bad_rows", "no_rows", "max_runtime", "stop"]


def test_baselining_errors_against_serve(serve_home):
    check_error_paths(serve_home.error_paths(SCENARIOS), serve_home.bucket, crashed=False)


def test_baselining_errors_against_the_functions_and_a_killed_baseline_function(lambda_home):
    check_error_paths(lambda_home.error_paths(SCENARIOS + ["crash"]), lambda_home.bucket, crashed=True)
