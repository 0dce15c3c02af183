"""The BaselineFanOut state machine of template.yaml, executed by moto's Step Functions (its
interpreter runs the definition: the Distributed Map's ItemReader lists moto S3, its children
invoke the baseline function, built, under `cargo lambda watch`).

moto needs help, and gets it here:
- Execution is off until `POST /moto-api/config {"stepfunctions": {"execute_state_machine":
  true}}`.
- Its Lambda tasks and its ItemReader call `http://localhost:$MOTO_PORT`: a moto server of its
  own is started here with MOTO_PORT pointing at a router (tests/proxies.py) that sends Lambda's
  Invoke API to `cargo lambda watch` (by function name: the emulator knows no ARNs) and the rest
  to moto.
- `ItemBatcher` is not in its grammar, and ToleratedFailurePercentage must be written `0.0`:
  the definition run is the production one with the batcher
  replaced by an ItemSelector that makes each object a batch of one (`one_object_per_batch`).
  Batches of many objects are tested against the baseline function's steps in
  shared/cloud/tests/it/aws_fanout.rs; the production definition is validated statically (pinned
  statelint and asl-validator) in tests/test_template.py.
- Processing jobs over the threshold (or with InstanceCount > 1) are handed by the baseline
  function to a state machine of the derived definition, created here before the functions
  start (its ARN is their FANOUT_STATE_MACHINE_ARN).
- A child that hangs is the router holding back its invocation (`hang`), for the task's
  TimeoutSeconds (shortened in a derived definition) to end it. moto retries it as the
  definition says, then counts it as succeeded (AWS fails the Map); the merge step's check that
  every object was profiled fails the execution all the same.
- Its ItemReader reads the first 1,000 objects only, silently (the merge step refuses a baseline
  that misses objects, so this would fail loudly; the datasets here are small), and fails on an
  empty prefix (the plan step refuses an empty dataset before the Map runs).
"""

import copy
import functools
import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
from proxies import Proxy

import test_lambda_functions as lambdas

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "infra"))

import check_template  # noqa: E402

BASELINE_ARN = f"arn:aws:lambda:{lambdas.REGION}:{lambdas.ACCOUNT}:function:modelmon-baseline"
ROLE = f"arn:aws:iam::{lambdas.ACCOUNT}:role/modelmon-fanout"
CSV = json.dumps({"csv": {"header": True}})
EXECUTION_TIMEOUT = 180
# Datasets of more bytes than this are fanned out by the functions here.
THRESHOLD_BYTES = 10_000
IMAGE = lambdas.IMAGE


def production_definition():
    definition = check_template.load_template()["Resources"]["BaselineFanOut"]["Properties"]["Definition"]
    return json.loads(json.dumps(definition).replace("${BaselineFunctionArn}", BASELINE_ARN))


def one_object_per_batch(definition):
    """The production definition, each object a batch of one: what the ItemBatcher hands a child
    (`{"Items": [...], "BatchInput": ...}`) made by an ItemSelector instead."""
    derived = copy.deepcopy(definition)
    profile = derived["States"]["Profile"]
    # moto's grammar takes only a decimal number here; statelint only an integer (AWS either).
    profile["ToleratedFailurePercentage"] = float(profile["ToleratedFailurePercentage"])
    batcher = profile.pop("ItemBatcher")
    profile["ItemSelector"] = {
        "Items.$": "States.Array($$.Map.Item.Value)",
        "BatchInput": batcher["BatchInput"],
    }
    return derived


class Moto:
    """A moto server of the module's own, its MOTO_PORT at `router`."""

    def __init__(self, log_dir):
        self.port = lambdas.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.router = Proxy(self.url)
        env = {**os.environ, "MOTO_PORT": str(urllib.parse.urlparse(self.router.url).port)}
        self.process = lambdas.Process(
            "moto", [str(lambdas.venv_bin() / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)], env, None, log_dir
        )
        deadline = time.monotonic() + lambdas.START_TIMEOUT
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.popen.poll() is not None:
                    pytest.fail(f"moto_server did not start ({self.process.status()}):\n{self.process.text()}")
                time.sleep(0.1)
        request = urllib.request.Request(
            f"{self.url}/moto-api/config",
            data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(request, timeout=10).close()

    def stop(self):
        self.process.stop()
        self.router.close()


class FanOut:
    def __init__(self, stack, moto, jobs_state_machine):
        self.stack, self.moto = stack, moto
        self.jobs_state_machine = jobs_state_machine
        self.sfn = lambdas.aws("stepfunctions")

    def mark(self):
        self.stack.mark()

    def logs(self, since_mark=False):
        return self.stack.logs(since_mark)

    def state_machine(self, definition):
        return self.sfn.create_state_machine(
            name=f"fanout-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=ROLE
        )["stateMachineArn"]

    def run(self, definition, job):
        """Executes `definition` with `job` as input; the finished execution's description
        (with its history, `history`, for the assertions' messages)."""
        arn = self.state_machine(definition)
        execution = self.start(arn, job)
        described = self.wait(execution)
        described["history"] = self.history(execution)
        return described

    def start(self, arn, job):
        # Named: moto leaves an unnamed execution's name None (AWS makes one up), and the plan
        # step names its scratch folder after it.
        name = f"run-{uuid.uuid4().hex[:12]}"
        return self.sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(job))["executionArn"]

    def wait(self, execution):
        deadline = time.monotonic() + EXECUTION_TIMEOUT
        while time.monotonic() < deadline:
            described = self.sfn.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.2)
        pytest.fail(f"{execution} still running after {EXECUTION_TIMEOUT} s:\n{self.stack.logs(since_mark=True)}")

    def history(self, execution):
        return self.sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]

    def processing_job(self, name, source, output, instance_count=1):
        """CreateProcessingJob through the create-schedule function, as the SDK sends it; the
        job once it has ended."""
        sagemaker = self.stack.sagemaker()
        mount = "/opt/ml/processing/input/baseline_dataset_input"
        sagemaker.create_processing_job(
            ProcessingJobName=name,
            ProcessingInputs=[
                {"InputName": "baseline_dataset_input",
                 "S3Input": {"S3Uri": source, "LocalPath": mount, "S3DataType": "S3Prefix", "S3InputMode": "File"}}
            ],
            ProcessingOutputConfig={"Outputs": [
                {"OutputName": "monitoring_output",
                 "S3Output": {"S3Uri": f"s3://{self.stack.bucket}/{output}", "LocalPath": "/opt/ml/processing/output",
                              "S3UploadMode": "EndOfJob"}}
            ]},
            ProcessingResources={"ClusterConfig": {"InstanceCount": instance_count, "InstanceType": "ml.m5.xlarge",
                                                   "VolumeSizeInGB": 20}},
            AppSpecification={"ImageUri": IMAGE},
            Environment={"dataset_format": CSV, "dataset_source": mount, "output_path": "/opt/ml/processing/output",
                         "publish_cloudwatch_metrics": "Disabled"},
            RoleArn=lambdas.ROLE,
        )  # fmt: skip
        deadline = time.monotonic() + EXECUTION_TIMEOUT
        while time.monotonic() < deadline:
            job = sagemaker.describe_processing_job(ProcessingJobName=name)
            if job["ProcessingJobStatus"] not in ("InProgress", "Stopping"):
                return job
            time.sleep(0.3)
        pytest.fail(f"{name} still running after {EXECUTION_TIMEOUT} s:\n{self.stack.logs(since_mark=True)}")

    def job_log(self, name):
        """The job's lines in /aws/sagemaker/ProcessingJobs, where the SDK reads them."""
        logs = lambdas.aws("logs")
        group = "/aws/sagemaker/ProcessingJobs"
        streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{name}/")["logStreams"]
        assert len(streams) == 1, streams
        events = logs.get_log_events(logGroupName=group, logStreamName=streams[0]["logStreamName"], startFromHead=True)
        return [e["message"] for e in events["events"]]

    def executions_named(self, name):
        listed = self.sfn.list_executions(stateMachineArn=self.jobs_state_machine)["executions"]
        return [e for e in listed if e["name"] == name]

    def dataset(self, folder, parts):
        """CSV objects `{folder}/part-0000i.csv` with `parts[i]` as body, and a `_SUCCESS` marker."""
        for i, body in enumerate(parts):
            self.stack.put(f"{folder}/part-{i:05d}.csv", body.encode() if isinstance(body, str) else body, "text/csv")
        self.stack.put(f"{folder}/_SUCCESS", b"", "text/plain")
        return f"s3://{self.stack.bucket}/{folder}"

    def job(self, source, output):
        return {"dataset_source": source, "dataset_format": CSV, "output_path": f"s3://{self.stack.bucket}/{output}"}


@pytest.fixture(scope="module")
def fanout(tmp_path_factory):
    root = tmp_path_factory.mktemp("fanout")
    binaries = lambdas.functions_dir()
    moto = Moto(root)
    stack = None
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", moto.url)
        patch.setenv("MODELMON_TEST_AWS", "1")
        try:
            jobs_state_machine = lambdas.aws("stepfunctions").create_state_machine(
                name=f"fanout-jobs-{uuid.uuid4().hex[:8]}",
                definition=json.dumps(one_object_per_batch(production_definition())),
                roleArn=ROLE,
            )["stateMachineArn"]
            fanout_env = {"FANOUT_STATE_MACHINE_ARN": jobs_state_machine, "FANOUT_THRESHOLD_BYTES": str(THRESHOLD_BYTES)}
            stack = lambdas.Stack(root, baseline_env=fanout_env)
            stack.create_resources()
            stack.start(binaries)
            moto.router.invoke_target = ("127.0.0.1", stack.port)
            yield FanOut(stack, moto, jobs_state_machine)
        finally:
            if stack:
                stack.stop()
            moto.stop()


def shows_function_logs(test):
    """On failure, prints what the functions logged during the test."""

    @functools.wraps(test)
    def wrapper(fanout):
        fanout.mark()
        try:
            return test(fanout)
        except BaseException:
            print(fanout.logs(since_mark=True))
            raise

    return wrapper


def parts(rows_per_part, count, seed=3):
    """`count` CSV bodies of `age,income,plan` rows, seeded."""
    import random

    rng = random.Random(seed)
    bodies = []
    for _ in range(count):
        lines = ["age,income,plan"]
        for _ in range(rows_per_part):
            lines.append(f"{rng.randint(18, 80)},{rng.gauss(52000, 15000):.2f},{rng.choice(['basic', 'pro', 'enterprise'])}")
        bodies.append("\n".join(lines) + "\n")
    return bodies


def scratch_left(fanout, output):
    return fanout.stack.keys(f"{output}/_modelmon-fanout/")


def assert_same_baseline(fanout, single_output, fanned_output):
    """The fan-out's files against the single function's: constraints.json byte for byte;
    statistics.json equal except sum, mean and std_dev, which may differ in their last bits
    (floating-point additions in another order)."""
    bucket = fanout.stack.bucket
    get = lambda key: lambdas.aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read()  # noqa: E731
    assert get(f"{fanned_output}/constraints.json") == get(f"{single_output}/constraints.json")
    single = json.loads(get(f"{single_output}/statistics.json"))
    fanned = json.loads(get(f"{fanned_output}/statistics.json"))
    for a, b in zip(single["features"], fanned["features"], strict=True):
        for field in ("sum", "mean", "std_dev"):
            x = a.get("numerical_statistics", {}).get(field)
            y = b.get("numerical_statistics", {}).get(field)
            if x is not None:
                assert y == pytest.approx(x, rel=1e-12), (a["name"], field)
                b["numerical_statistics"][field] = x
    assert fanned == single


@shows_function_logs
def test_the_fan_out_equals_the_single_function_and_counts_bad_rows(fanout):
    stack = fanout.stack
    bodies = parts(300, 4)
    bodies[2] = bodies[2] + "40,2.5\n41,3.5,pro,extra\n"  # two rows with the wrong field count
    source = fanout.dataset("ok/data", bodies)
    single = stack.invoke("baseline", fanout.job(source, "ok/single"))
    described = fanout.run(one_object_per_batch(production_definition()), fanout.job(source, "ok/fanout"))
    assert described["status"] == "SUCCEEDED", json.dumps(described, default=str)
    output = json.loads(described["output"])
    records = output["outputs"]["records"]
    assert records == single["records"]
    assert (records["read"], records["analysed"]) == (4 * 300 + 2, 4 * 300)
    examples = [e for r in records["rejected"].values() for e in r["examples"]]
    assert any(e.startswith(f"{source}/part-00002.csv:302:") for e in examples), examples
    assert any(e.startswith(f"{source}/part-00002.csv:303:") for e in examples), examples
    assert output["outputs"]["statistics"] == f"s3://{stack.bucket}/ok/fanout/statistics.json"
    assert_same_baseline(fanout, "ok/single", "ok/fanout")
    assert scratch_left(fanout, "ok/fanout") == []


@shows_function_logs
def test_a_failing_child_fails_the_execution_with_its_reason(fanout):
    stack = fanout.stack
    bodies = parts(20, 3)
    bodies[1] = b"age,\xff\xfe,plan\n1,2,pro\n"
    source = fanout.dataset("bad/data", bodies)
    described = fanout.run(one_object_per_batch(production_definition()), fanout.job(source, "bad/out"))
    assert described["status"] == "FAILED", described
    cause = json.loads(described["cause"])
    assert described["error"] == "JobFailed"
    message = cause["errorMessage"]
    assert message.startswith(f"the batch of 1 objects from s3://{stack.bucket}/bad/data/part-00001.csv failed: "), message
    assert "not valid UTF-8" in message, message
    assert stack.keys("bad/out/") == []  # no baseline, and the scratch prefix is gone


@shows_function_logs
def test_an_empty_dataset_fails_before_the_map(fanout):
    described = fanout.run(
        one_object_per_batch(production_definition()),
        fanout.job(f"s3://{fanout.stack.bucket}/nothing-here", "empty/out"),
    )
    assert described["status"] == "FAILED", described
    assert json.loads(described["cause"])["errorMessage"] == (
        f"JobFailed: s3://{fanout.stack.bucket}/nothing-here: no objects to baseline"
    )


@shows_function_logs
def test_a_processing_job_over_the_threshold_takes_the_fan_out_and_ends_with_the_workflow(fanout):
    stack = fanout.stack
    bodies = parts(300, 4, seed=5)
    assert sum(len(b) for b in bodies) > THRESHOLD_BYTES
    source = fanout.dataset("jobs/big", bodies)
    single = stack.invoke("baseline", fanout.job(source, "jobs/big-single"))
    name = f"big-{uuid.uuid4().hex[:8]}"
    job = fanout.processing_job(name, source, "jobs/big-fanout")
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["ExitMessage"].startswith(f"Baselined {4 * 300} records into s3://{stack.bucket}/jobs/big-fanout/statistics.json"), job
    assert "FanoutExecution" not in job and "LeaseExpiresAt" not in job
    assert job["ProcessingEndTime"] >= job["ProcessingStartTime"]
    # The execution ran under the job's name and ended the job; the same baseline as one function.
    [execution] = fanout.executions_named(name)
    assert execution["status"] == "SUCCEEDED", execution
    assert single["records"]["read"] == 4 * 300
    assert_same_baseline(fanout, "jobs/big-single", "jobs/big-fanout")
    assert scratch_left(fanout, "jobs/big-fanout") == []
    lines = fanout.job_log(name)
    handed = [line for line in lines if "is baselined by the fan-out" in line]
    assert handed and "more than the threshold of 10000 bytes" in handed[0], lines
    assert lines[-1].startswith("Completed: Baselined 1200 records"), lines

    # A dataset under the threshold stays in one function.
    small = fanout.dataset("jobs/small", parts(20, 1))
    name = f"small-{uuid.uuid4().hex[:8]}"
    job = fanout.processing_job(name, small, "jobs/small-out")
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert fanout.executions_named(name) == []
    assert not any("fan-out" in line for line in fanout.job_log(name))


@shows_function_logs
def test_instance_count_asks_for_the_fan_out_and_a_failing_child_fails_the_job_with_its_reason(fanout):
    stack = fanout.stack
    bodies = parts(20, 3)
    bodies[2] = b"age,\xff\xfe,plan\n1,2,pro\n"  # a header that is not UTF-8: the batch fails
    source = fanout.dataset("jobs/bad", bodies)
    assert sum(len(b) for b in bodies) < THRESHOLD_BYTES
    name = f"bad-{uuid.uuid4().hex[:8]}"
    job = fanout.processing_job(name, source, "jobs/bad-out", instance_count=2)
    assert job["ProcessingJobStatus"] == "Failed", job
    reason = job["FailureReason"]
    assert reason.startswith(f"the batch of 1 objects from s3://{stack.bucket}/jobs/bad/part-00002.csv failed: "), reason
    assert "not valid UTF-8" in reason, reason
    [execution] = fanout.executions_named(name)
    assert execution["status"] == "FAILED", execution
    lines = fanout.job_log(name)
    assert any("InstanceCount 2" in line for line in lines), lines
    assert lines[-1] == f"Failed: {reason}", lines
    assert stack.keys("jobs/bad-out/") == []  # no baseline, and the scratch prefix is gone


@shows_function_logs
def test_a_child_that_times_out_is_retried_and_fails_the_execution(fanout):
    """moto's Map counts a child that timed out after its retries as succeeded (MapRunSucceeded;
    AWS fails the Map, ToleratedFailurePercentage 0, and the failure step says a batch timed out
    or crashed, tested in aws_fanout.rs): the merge step's check that every object was profiled
    fails the execution either way, naming the object."""
    stack = fanout.stack
    source = fanout.dataset("hang/data", parts(20, 3))
    definition = one_object_per_batch(production_definition())
    child = definition["States"]["Profile"]["ItemProcessor"]["States"]["ProfileBatch"]
    child["TimeoutSeconds"] = 2
    for retry in child["Retry"]:
        retry["IntervalSeconds"] = 1
    router = fanout.moto.router
    # The child of the second object hangs; no other invocation (the failure step's names it too).
    router.hung.clear()
    router.hang = lambda body: b"fanout_batch" in body and b"hang/data/part-00001.csv" in body
    try:
        described = fanout.run(definition, fanout.job(source, "hang/out"))
    finally:
        router.hang = None
    assert described["status"] == "FAILED", described
    # Its first try and both retries timed out.
    retries = next(r["MaxAttempts"] for r in child["Retry"] if "States.Timeout" in r["ErrorEquals"])
    assert len(router.hung) == 1 + retries
    message = json.loads(described["cause"])["errorMessage"]
    assert message.startswith(f"JobFailed: s3://{stack.bucket}/hang/data/part-00001.csv was not profiled: "), message
    assert "profiled 2 of the dataset's 3 objects" in message, message
    assert stack.keys("hang/out/") == []  # the other children's partials removed too
