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
    def __init__(self, stack, moto):
        self.stack, self.moto = stack, moto
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
            stack = lambdas.Stack(root)
            stack.create_resources()
            stack.start(binaries)
            moto.router.invoke_target = ("127.0.0.1", stack.port)
            yield FanOut(stack, moto)
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
