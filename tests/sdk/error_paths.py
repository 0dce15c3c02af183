"""The baselining job's error paths, through the SageMaker Python SDK alone.

Run by tests/test_sdk_notebook.py like notebook.py (same configuration and protocol). The
scenarios run side by side (the SDK spends most of their time waiting), then `crash` alone
(killing the runner ends whatever it runs); each gives what the SDK raised and what
DescribeProcessingJob says:
  other_image   a Processor for an image modelmon does not run
  missing       a dataset that does not exist
  bad_rows      a local file with rows of the wrong width, which the SDK uploads to the session's
                default bucket (the job completes and counts the rows)
  no_rows       a dataset with a header and no rows
  max_runtime   a job held on its dataset longer than its MaxRuntimeInSeconds
  stop          a Stop while the job runs
  crash         the runner killed in the middle: the test kills it when this script says
                {"kill_runner": job} (it answers {"killed": true}); the Lambda home only
"""

import os
import time
from concurrent.futures import ThreadPoolExecutor

from protocol import CONFIG, finish, receive, send  # first: it sets stdout aside

import boto3  # noqa: E402
import sagemaker  # noqa: E402
from sagemaker.model_monitor import DefaultModelMonitor  # noqa: E402
from sagemaker.model_monitor.dataset_format import DatasetFormat  # noqa: E402
from sagemaker.processing import Processor  # noqa: E402

POLL = 1


def setup():
    boto_session = boto3.Session(region_name=CONFIG["region"])
    client = boto_session.client("sagemaker", endpoint_url=CONFIG["sagemaker_endpoint"])
    session = sagemaker.Session(boto_session=boto_session, sagemaker_client=client, default_bucket=CONFIG["bucket"])
    return boto_session, session


def monitor(session, **kwargs):
    return DefaultModelMonitor(role=CONFIG["role"], instance_count=1, instance_type="ml.m5.xlarge",
                               sagemaker_session=session, **kwargs)


def outcome(call):
    """What `call` raised (type and message), or None."""
    try:
        call()
        return None
    except Exception as err:  # noqa: BLE001 - the test asserts on it
        return {"type": type(err).__name__, "message": str(err)}


def baseline(session, job, dataset, wait=True, **kwargs):
    m = monitor(session, **kwargs)
    raised = outcome(
        lambda: m.suggest_baseline(
            baseline_dataset=dataset,
            dataset_format=DatasetFormat.csv(header=True),
            output_s3_uri=f"s3://{CONFIG['bucket']}/errors/{job}",
            job_name=job,
            wait=wait,
            logs=wait,
        )
    )
    return m, raised


def wait_until(describe, condition, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        described = describe()
        if condition(described):
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: {described}")
        time.sleep(POLL)


def run(scenario, boto_session, session):
    bucket, names = CONFIG["bucket"], CONFIG["names"]
    s3 = boto_session.client("s3")
    job = names[scenario]
    if scenario == "other_image":
        processor = Processor(role=CONFIG["role"], image_uri=CONFIG["other_image"], instance_count=1,
                              instance_type="ml.m5.xlarge", sagemaker_session=session)
        return {"raised": outcome(lambda: processor.run(job_name=job, wait=False, logs=False))}
    if scenario == "missing":
        _, raised = baseline(session, job, f"s3://{bucket}/errors/no-such-dataset/train.csv")
    elif scenario == "bad_rows":
        path = os.path.join(CONFIG["scratch"], "bad_rows.csv")
        with open(path, "w") as f:
            f.write(CONFIG["bad_rows_csv"])
        _, raised = baseline(session, job, path)
    elif scenario == "no_rows":
        key = f"errors/{scenario}/train.csv"
        s3.put_object(Bucket=bucket, Key=key, Body=CONFIG["no_rows_csv"].encode())
        _, raised = baseline(session, job, f"s3://{bucket}/{key}")
    elif scenario == "max_runtime":
        _, raised = baseline(session, job, CONFIG["stalled_dataset"], max_runtime_in_seconds=2)
    elif scenario in ("stop", "crash"):
        m, raised = baseline(session, job, CONFIG["stalled_dataset"], wait=False)
        wait_until(m.latest_baselining_job.describe, lambda d: "ProcessingStartTime" in d)
        if scenario == "stop":
            m.latest_baselining_job.stop()
        else:
            send({"kill_runner": job})
            assert receive() == {"killed": True}
        raised = outcome(lambda: m.latest_baselining_job.wait(logs=False))
    described = session.describe_processing_job(job)
    return {"raised": raised, "describe": described}


def error_paths(result):
    boto_session, session = setup()
    together = [s for s in CONFIG["scenarios"] if s != "crash"]
    with ThreadPoolExecutor(len(together)) as pool:
        outcomes = pool.map(lambda scenario: run(scenario, boto_session, session), together)
        result.update(zip(together, outcomes))
    if "crash" in CONFIG["scenarios"]:
        result["crash"] = run("crash", boto_session, session)


if __name__ == "__main__":
    RESULT = {}
    finish(lambda: error_paths(RESULT), RESULT)
