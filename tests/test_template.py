"""template.yaml against the code it deploys (infra/check_template.py), cfn-lint, and the
security properties the issue asks for, read straight from the YAML."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "infra"))

import check_template  # noqa: E402

TEMPLATE = check_template.load_template()
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = [k for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"]
# Actions that have no resource type, so a policy can only name them with Resource "*".
RESOURCELESS = {"cloudwatch:PutMetricData"}


def statements(policy_document: dict) -> list[dict]:
    return policy_document["Statement"]


def listed(value) -> list:
    return value if isinstance(value, list) else [value]


# ------------------------------------------------------------------ code <-> template


def test_every_variable_the_code_reads_is_set():
    assert check_template.check_env(TEMPLATE) == []


def test_every_action_the_code_calls_is_allowed_and_nothing_else():
    assert check_template.check_actions(TEMPLATE) == []


def test_the_checks_notice_a_missing_variable_and_a_stray_one():
    broken = copy.deepcopy(TEMPLATE)
    variables = broken["Resources"]["CreateScheduleFunction"]["Properties"]["Environment"]["Variables"]
    del variables["SCHEDULER_ROLE_ARN"]
    variables["NOT_READ_BY_ANYONE"] = "x"
    failures = check_template.check_env(broken)
    assert any("reads SCHEDULER_ROLE_ARN" in f for f in failures), failures
    assert any("sets NOT_READ_BY_ANYONE" in f for f in failures), failures


def test_the_checks_notice_a_missing_action_and_a_broader_one():
    broken = copy.deepcopy(TEMPLATE)
    policy = broken["Resources"]["AnalyzeFunction"]["Properties"]["Policies"][0]
    table = next(s for s in policy["Statement"] if s.get("Sid") == "Table")
    table["Action"] = ["dynamodb:GetItem", "dynamodb:DeleteItem"]
    failures = check_template.check_actions(broken)
    assert any("calls dynamodb:PutItem" in f for f in failures), failures
    assert any("allows dynamodb:DeleteItem" in f for f in failures), failures


def test_the_code_model_sees_the_adapters_operations():
    adapters, problems = check_template.load_adapters()
    assert problems == []
    assert adapters["DynamoTable"].all_actions() == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
    }
    assert adapters["S3Store"].all_actions() == {"s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject"}
    assert adapters["EventBridgeScheduler"].actions("create") == {"scheduler:CreateSchedule", "iam:PassRole"}
    assert adapters["EventBridgeScheduler"].actions("delete") == {"scheduler:DeleteSchedule"}
    assert adapters["CloudWatchMetrics"].all_actions() == {"cloudwatch:PutMetricData"}
    assert adapters["LambdaLauncher"].all_actions() == {"lambda:InvokeFunction"}
    assert adapters["CloudWatchJobLog"].all_actions() == {
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }


# ------------------------------------------------------------------ cfn-lint


def test_cfn_lint_is_clean():
    cfn_lint = shutil.which("cfn-lint", path=str(Path(sys.executable).parent))
    if cfn_lint is None:
        pytest.skip("cfn-lint is not installed (pip install -r infra/requirements-test.txt)")
    version = subprocess.run([cfn_lint, "--version"], capture_output=True, text=True).stdout
    assert "1.58.0" in version, version
    result = subprocess.run([cfn_lint, str(ROOT / "template.yaml")], capture_output=True, text=True)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


# ------------------------------------------------------------------ security properties


def test_the_api_requires_sigv4():
    api = RESOURCES["Api"]
    assert api["Type"] == "AWS::Serverless::HttpApi"
    assert api["Properties"]["Auth"] == {"EnableIamAuthorizer": True, "DefaultAuthorizer": "AWS_IAM"}
    events = RESOURCES["CreateScheduleFunction"]["Properties"]["Events"]
    assert [e["Properties"] for e in events.values()] == [{"ApiId": {"Ref": "Api"}, "Method": "POST", "Path": "/"}]


def test_the_bucket_is_private_encrypted_and_tls_only():
    bucket = RESOURCES["ModelmonBucket"]["Properties"]
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    encryption = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    policy = RESOURCES["ModelmonBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "ModelmonBucket"}
    deny = [s for s in statements(policy["PolicyDocument"]) if s["Effect"] == "Deny"]
    assert any(
        s["Action"] == "s3:*"
        and s["Principal"] == "*"
        and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        and len(s["Resource"]) == 2
        for s in deny
    )


def test_the_table_matches_the_code_and_is_protected():
    table = RESOURCES["Table"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"] == {"SSEEnabled": True}
    # shared/cloud/src/aws/dynamodb.rs create_table: pk/sk (S), index kind-index on kind/sk, ALL.
    assert {(a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]} == {
        ("pk", "S"),
        ("sk", "S"),
        ("kind", "S"),
    }
    assert [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]] == [("pk", "HASH"), ("sk", "RANGE")]
    [index] = table["GlobalSecondaryIndexes"]
    source = (ROOT / "shared/cloud/src/aws/dynamodb.rs").read_text()
    assert f'pub const KIND_INDEX: &str = "{index["IndexName"]}";' in source
    assert [(k["AttributeName"], k["KeyType"]) for k in index["KeySchema"]] == [("kind", "HASH"), ("sk", "RANGE")]
    assert index["Projection"] == {"ProjectionType": "ALL"}


def test_no_wildcard_resource_except_where_aws_requires_it():
    documents = [
        (name, p)
        for name in FUNCTIONS
        for p in RESOURCES[name]["Properties"].get("Policies", [])
    ] + [
        (name, p["PolicyDocument"])
        for name, r in RESOURCES.items()
        if r["Type"] == "AWS::IAM::Role"
        for p in r["Properties"].get("Policies", [])
    ]
    assert documents
    for name, document in documents:
        for statement in statements(document):
            if statement["Effect"] != "Allow":
                continue
            actions = set(listed(statement["Action"]))
            assert not any("*" in a for a in actions), (name, actions)
            if "*" in listed(statement["Resource"]):
                assert actions <= RESOURCELESS, (name, actions)
                assert "Condition" in statement, (name, statement)


def test_metrics_only_in_sagemakers_namespaces():
    source = (ROOT / "shared/cloud/src/run/analyze.rs").read_text()
    [metrics] = [
        s
        for s in statements(RESOURCES["AnalyzeFunction"]["Properties"]["Policies"][0])
        if "cloudwatch:PutMetricData" in listed(s["Action"])
    ]
    namespaces = metrics["Condition"]["StringEquals"]["cloudwatch:namespace"]
    assert namespaces == ["aws/sagemaker/Endpoints/data-metrics", "aws/sagemaker/ModelMonitoring/data-metrics"]
    for namespace in namespaces:
        assert f'"{namespace}"' in source


def test_the_scheduler_role_may_invoke_analyze_only():
    role = RESOURCES["SchedulerRole"]["Properties"]
    [trust] = statements(role["AssumeRolePolicyDocument"])
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    allowed = {
        (a, str(s["Resource"]))
        for p in role["Policies"]
        for s in statements(p["PolicyDocument"])
        for a in listed(s["Action"])
    }
    assert allowed == {
        ("lambda:InvokeFunction", str({"Fn::GetAtt": ["AnalyzeFunction", "Arn"]})),
        ("sqs:SendMessage", str({"Fn::GetAtt": ["DeadLetterQueue", "Arn"]})),
    }
    # The control plane may hand this role, and no other, to the scheduler only.
    [pass_role] = [
        s
        for s in statements(RESOURCES["CreateScheduleFunction"]["Properties"]["Policies"][0])
        if "iam:PassRole" in listed(s["Action"])
    ]
    assert pass_role["Resource"] == {"Fn::GetAtt": ["SchedulerRole", "Arn"]}
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}


def test_baselining_jobs_start_only_the_baseline_function_and_log_where_sagemaker_does():
    [invoke] = [
        s
        for s in statements(RESOURCES["CreateScheduleFunction"]["Properties"]["Policies"][0])
        if "lambda:InvokeFunction" in listed(s["Action"])
    ]
    assert invoke["Resource"] == {"Fn::GetAtt": ["BaselineFunction", "Arn"]}
    variables = RESOURCES["CreateScheduleFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["BASELINE_FUNCTION_NAME"] == {"Ref": "BaselineFunction"}
    baseline = RESOURCES["BaselineFunction"]["Properties"]
    [logs] = [s for s in statements(baseline["Policies"][0]) if s.get("Sid") == "JobLogs"]
    group = "/aws/sagemaker/ProcessingJobs"
    assert f'pub const PROCESSING_JOBS_LOG_GROUP: &str = "{group}";' in (
        ROOT / "shared/cloud/src/aws/logs.rs"
    ).read_text()
    prefix = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
    assert [r["Fn::Sub"] for r in logs["Resource"]] == [f"{prefix}{group}", f"{prefix}{group}:log-stream:*"]
    # A job nobody claimed is Failed after the event's longest wait and a minute.
    launcher = (ROOT / "shared/cloud/src/aws/lambda.rs").read_text()
    max_age = baseline["EventInvokeConfig"]["MaximumEventAgeInSeconds"]
    assert f"pub const START_TIMEOUT_SECONDS: i64 = {max_age + 60};" in launcher


def test_functions_are_arm64_al2023_json_logged_with_retention():
    glob = TEMPLATE["Globals"]["Function"]
    assert (glob["Runtime"], glob["Handler"], glob["Architectures"]) == ("provided.al2023", "bootstrap", ["arm64"])
    assert glob["LoggingConfig"]["LogFormat"] == "JSON"
    for name in FUNCTIONS:
        function = RESOURCES[name]
        if name != "ScriptsFunction":
            assert "Runtime" not in function["Properties"], name
            assert function["Metadata"]["BuildMethod"] == "rust-cargolambda"
            assert function["Properties"]["CodeUri"] == "."
        group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert RESOURCES[group]["Type"] == "AWS::Logs::LogGroup"
        assert RESOURCES[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_failed_runs_reach_the_dead_letter_queue_and_alarm():
    queue = RESOURCES["DeadLetterQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    analyze = RESOURCES["AnalyzeFunction"]["Properties"]
    assert analyze["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
    }
    assert RESOURCES["CreateScheduleFunction"]["Properties"]["Environment"]["Variables"]["DEAD_LETTER_QUEUE_ARN"] == {
        "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
    }
    alarms = {
        (r["Properties"]["Namespace"], r["Properties"]["MetricName"])
        for r in RESOURCES.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert alarms == {("AWS/Lambda", "Errors"), ("AWS/SQS", "ApproximateNumberOfMessagesVisible")}
    assert set(TEMPLATE["Outputs"]) >= {"ApiUrl", "TableName", "BucketName", "ScheduleGroupName", "DeadLetterQueueUrl"}


# ------------------------------------------------------------------ the fan-out's state machine


def fanout_definition() -> dict:
    definition = RESOURCES["BaselineFanOut"]["Properties"]["Definition"]
    arn = "arn:aws:lambda:us-east-1:123456789012:function:modelmon-baseline"
    return json.loads(json.dumps(definition).replace("${BaselineFunctionArn}", arn))


def asl_validators() -> list[list[str]]:
    """statelint (pip) and asl-validator (npm), both pinned and installed by infra/test.sh."""
    statelint = shutil.which("statelint")
    npm_prefix = os.environ.get("MODELMON_NPM", os.environ.get("MODELMON_VENV", str(Path.home() / ".cache/modelmon/venv")) + "-npm")
    asl_validator = Path(npm_prefix) / "node_modules/.bin/asl-validator"
    if statelint is None or not asl_validator.is_file():
        pytest.fail(f"statelint ({statelint}) or asl-validator ({asl_validator}) missing: run infra/test.sh")
    return [[statelint], [str(asl_validator), "--json-path"]]


def validate(definition: dict, tmp_path: Path) -> list[tuple[int, str]]:
    path = tmp_path / f"definition-{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps(definition))
    results = []
    for command in asl_validators():
        done = subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=120)
        results.append((done.returncode, done.stdout + done.stderr))
    return results


def test_the_fan_out_definition_is_valid_asl(tmp_path):
    for code, output in validate(fanout_definition(), tmp_path):
        assert code == 0, output
    # Both validators do catch a broken definition.
    broken = fanout_definition()
    broken["States"]["Profile"]["Next"] = "Nowhere"
    for code, output in validate(broken, tmp_path):
        assert code != 0, output


def test_the_fan_out_batches_by_bytes_retries_and_tolerates_no_failure():
    states = fanout_definition()["States"]
    profile = states["Profile"]
    assert profile["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert profile["ItemReader"]["Resource"] == "arn:aws:states:::s3:listObjectsV2"
    assert profile["ItemBatcher"]["MaxItemsPerBatchPath"] == "$.fanout.plan.objects_per_batch"
    assert profile["ToleratedFailurePercentage"] == 0
    child = profile["ItemProcessor"]["States"]["ProfileBatch"]
    for task in (states["Plan"], child, states["Merge"]):
        retried = {e for r in task["Retry"] for e in r["ErrorEquals"]}
        # The function's data errors fail at once; AWS's and timeouts are retried.
        assert "Retryable" in retried and "States.Timeout" in retried and "JobFailed" not in retried
    for name in ("Plan", "Profile", "Merge"):
        assert states[name]["Catch"][0]["Next"] == "Failed"
    assert "Catch" not in states["Failed"] and "Retry" not in states["Failed"]
    # The state machine may invoke the baseline function and no other.
    policies = RESOURCES["BaselineFanOut"]["Properties"]["Policies"]
    assert policies[0] == {"LambdaInvokePolicy": {"FunctionName": {"Ref": "BaselineFunction"}}}


# ------------------------------------------------------------------ users' scripts


def test_the_scripts_function_runs_the_runner_with_no_permission_and_no_settings():
    scripts = RESOURCES["ScriptsFunction"]["Properties"]
    # No policy: SAM's basic execution role, its own logs only. No setting: nothing of modelmon's
    # state (table, schedule group, buckets) is even named to user code.
    assert "Policies" not in scripts and "Environment" not in scripts
    assert scripts["Runtime"].startswith("python3.")
    assert scripts["Handler"] == "handler.lambda_handler"
    code = ROOT / scripts["CodeUri"]
    assert "def lambda_handler(event, context):" in (code / "handler.py").read_text()
    assert (code / "runner.py").is_file()
    # sam build copies the two files: no local Python of the runtime's version needed.
    assert RESOURCES["ScriptsFunction"]["Metadata"] == {"BuildMethod": "makefile"}
    assert 'build-ScriptsFunction:\n\tcp handler.py runner.py "$(ARTIFACTS_DIR)/"' in (code / "Makefile").read_text()
    # A batch is answered within the time of the function that waits for it.
    assert scripts["Timeout"] < RESOURCES["AnalyzeFunction"]["Properties"]["Timeout"]
    assert scripts["Timeout"] < RESOURCES["BaselineFunction"]["Properties"]["Timeout"]


def test_the_checks_notice_a_permission_or_a_setting_given_to_user_code():
    broken = copy.deepcopy(TEMPLATE)
    scripts = broken["Resources"]["ScriptsFunction"]["Properties"]
    scripts["Policies"] = [
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}]}
    ]
    scripts["Environment"] = {"Variables": {"TABLE_NAME": {"Ref": "Table"}}}
    assert check_template.check_actions(broken) == [
        "ScriptsFunction (Python): the policy allows dynamodb:GetItem, which the code never calls"
    ]
    assert check_template.check_env(broken) == [
        "ScriptsFunction (Python): the template sets TABLE_NAME, which the code never reads"
    ]


def test_the_checks_notice_an_aws_sdk_in_the_scripts_code(tmp_path):
    for name in ("handler.py", "runner.py"):
        (tmp_path / name).write_text((ROOT / "functions/scripts" / name).read_text())
    assert check_template.python_sdk_imports(tmp_path) == []
    (tmp_path / "handler.py").write_text("import os\nfrom boto3 import client\n")
    assert check_template.python_sdk_imports(tmp_path) == ["handler.py: from boto3 import client"]
    assert check_template.python_env_reads(tmp_path) == set()
    (tmp_path / "runner.py").write_text('import os\nos.environ.get("TABLE_NAME")\nos.environ["output_path"]\n')
    assert check_template.python_env_reads(tmp_path) == {"TABLE_NAME"}
