"""scripts/deploy.sh deploys the four stacks into a moto server; the resources are as intended.

One deploy per module (the ``deployed`` fixture runs ``scripts/deploy.sh dev --endpoint-url``
against a moto server started here), then one behaviour per test. The last tests redeploy
and destroy. Artifacts are placeholders (see ``conftest.placeholder_artifacts``).
"""

from __future__ import annotations

import ast
import json
import socket
import subprocess

import boto3
import pytest
from infra_support import ARTIFACT_KEYS, ASL_FILE, REPO_ROOT

from etl.deploy.emulator import KINDS, carried_resources

ACCOUNT = "123456789012"
REGION = "us-east-1"
PREFIX = "etl-pipeline-dev"
STACKS = ("data-lake", "glue", "workflow", "monitoring")

# What moto 5.2.5 cannot check, so these tests do not either. Each is checked on the
# template in test_infra_templates.py (or, for IAM evaluation, nowhere offline).
MOTO_CANNOT_CHECK = {
    "AWS::S3::Bucket BucketKeyEnabled, VersioningConfiguration, LifecycleConfiguration, "
    "PublicAccessBlockConfiguration, LoggingConfiguration, NotificationConfiguration "
    "(EventBridge), IntelligentTieringConfigurations, OwnershipControls": (
        "moto's bucket model applies only BucketEncryption and Tags from a template"
    ),
    "AWS::SQS::QueuePolicy": "no moto CloudFormation model; the queue policy is not created",
    "AWS::Lambda::Function TracingConfig, LoggingConfig, DeadLetterConfig, KmsKeyArn": (
        "moto stores the function without them"
    ),
    "AWS::Logs::LogGroup KmsKeyId": "moto's log group model ignores the key",
    "AWS::CloudWatch::Alarm Metrics (metric math)": (
        "moto's alarm API stores the queries but does not evaluate them"
    ),
    "S3 bucket policy enforcement": (
        "moto evaluates bucket policies without their Condition, so the TLS-only deny would "
        "refuse every request; the deploy keeps the resolved policies in the stack's outputs "
        "instead of applying them (etl.deploy.emulator)"
    ),
    "IAM policy evaluation": (
        "moto does not enforce IAM here; tests check each policy's actions and ARNs instead"
    ),
}
# moto says so for each unsupported type it meets; listed above, so not news to a reader.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS..SQS..QueuePolicy")

# Made through their APIs by etl.deploy.emulator (moto's CloudFormation lacks them): their
# resolved properties are checked in moto's Glue, CloudWatch and Step Functions APIs.
EMULATED_TYPES = tuple(KINDS)


def run_script(script: str, *args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(REPO_ROOT / "scripts" / script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def deploy_dev(endpoint: str, artifacts, env: dict) -> subprocess.CompletedProcess:
    """``scripts/deploy.sh dev`` against the moto server, uploading ``artifacts``."""
    return run_script(
        "deploy.sh", "dev", "--endpoint-url", endpoint, "--artifacts", str(artifacts), env=env
    )


@pytest.fixture(scope="module")
def script_env(aws_environment) -> dict:
    import os

    return {**os.environ, **aws_environment}


@pytest.fixture(scope="module")
def deployed(moto_endpoint, placeholder_artifacts, script_env) -> subprocess.CompletedProcess:
    result = deploy_dev(moto_endpoint, placeholder_artifacts, script_env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def aws(moto_endpoint, deployed):
    """``aws("s3")``: a client of the moto server holding the deployed stacks."""

    def client(service: str):
        return boto3.client(service, endpoint_url=moto_endpoint, region_name=REGION)

    return client


@pytest.fixture(scope="module")
def outputs(aws) -> dict[str, str]:
    values = {}
    for stack in STACKS:
        described = aws("cloudformation").describe_stacks(StackName=f"{PREFIX}-{stack}")
        values.update({o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0]["Outputs"]})
    return values


def as_document(policy: str | dict) -> dict:
    """A policy document as moto returns it: parsed, JSON text, or - for inline role
    policies made by its CloudFormation - the ``repr`` of the dict it was given."""
    if isinstance(policy, dict):
        return policy
    try:
        return json.loads(policy)
    except json.JSONDecodeError:
        return ast.literal_eval(policy)


def role_policies(aws, role_arn: str) -> list[dict]:
    """Every inline policy statement of the role."""
    iam = aws("iam")
    name = role_arn.rsplit("/", 1)[-1]
    statements = []
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
        statements.extend(as_document(document)["Statement"])
    return statements


def resources(statements: list[dict], action: str) -> set[str]:
    found = set()
    for statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        if action in actions:
            listed = statement["Resource"]
            found.update(listed if isinstance(listed, list) else [listed])
    return found


# --------------------------------------------------------------------------- the deploy
def test_deploy_script_creates_the_stacks_in_dependency_order(deployed, aws):
    created = [
        line.split(":")[0] for line in deployed.stdout.splitlines() if line.endswith(": creating")
    ]
    assert created == [f"{PREFIX}-{stack}" for stack in STACKS]
    for stack in STACKS:
        status = aws("cloudformation").describe_stacks(StackName=f"{PREFIX}-{stack}")["Stacks"][0]
        assert status["StackStatus"] == "CREATE_COMPLETE", stack


def test_deploy_script_prints_the_outputs(deployed, outputs):
    assert f"{PREFIX}-workflow  StateMachineArn = {outputs['StateMachineArn']}" in deployed.stdout


def test_artifacts_are_uploaded_under_their_export_keys(aws, outputs):
    listed = aws("s3").list_objects_v2(Bucket=outputs["ScriptsBucketName"])["Contents"]
    assert {o["Key"] for o in listed} == set(ARTIFACT_KEYS)


# --------------------------------------------------------------------------- data lake
def test_data_buckets_are_encrypted_with_the_data_lake_key(aws, outputs):
    for output in (
        "RawBucketName",
        "CuratedBucketName",
        "AnalyticsBucketName",
        "ScriptsBucketName",
    ):
        encryption = aws("s3").get_bucket_encryption(Bucket=outputs[output])
        (rule,) = encryption["ServerSideEncryptionConfiguration"]["Rules"]
        default = rule["ApplyServerSideEncryptionByDefault"]
        assert default == {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": outputs["DataLakeKeyArn"],
        }, output


def test_bucket_names_carry_project_environment_account_and_region(outputs):
    assert outputs["RawBucketName"] == f"{PREFIX}-raw-{ACCOUNT}-{REGION}"
    assert outputs["AccessLogsBucketName"] == f"{PREFIX}-access-logs-{ACCOUNT}-{REGION}"


def test_every_bucket_denies_requests_without_tls(aws, outputs):
    described = aws("cloudformation").describe_stacks(StackName=f"{PREFIX}-data-lake")["Stacks"]
    carriers = carried_resources(
        {o["OutputKey"]: o["OutputValue"] for o in described[0]["Outputs"]}
    )
    bucket_policies = {
        r["Properties"]["Bucket"]: r["Properties"]["PolicyDocument"]
        for r in carriers.values()
        if r["Type"] == "AWS::S3::BucketPolicy"
    }
    for output in (
        "RawBucketName",
        "CuratedBucketName",
        "AnalyticsBucketName",
        "ScriptsBucketName",
        "AccessLogsBucketName",
    ):
        bucket = outputs[output]
        policy = bucket_policies[bucket]
        (deny,) = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert set(deny["Resource"]) == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}


def test_data_lake_key_rotates_and_grants_services_only_under_conditions(aws, outputs):
    kms = aws("kms")
    key_id = outputs["DataLakeKeyArn"].rsplit("/", 1)[-1]
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    policy = as_document(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    for statement in policy["Statement"]:
        if "Service" in statement["Principal"]:
            assert statement["Condition"], statement["Sid"]
    aliases = kms.list_aliases(KeyId=key_id)["Aliases"]
    assert [a["AliasName"] for a in aliases] == [f"alias/{PREFIX}-data-lake"]


# --------------------------------------------------------------------------- Glue
def test_glue_job_runs_the_exported_script_and_package_on_glue_5_1(aws, outputs):
    job = aws("glue").get_job(JobName=outputs["TransformJobName"])["Job"]
    scripts = f"s3://{outputs['ScriptsBucketName']}"
    assert job["Command"]["ScriptLocation"] == f"{scripts}/glue/transform_job.py"
    assert job["DefaultArguments"]["--extra-py-files"] == f"{scripts}/glue/etl_package.zip"
    assert (job["GlueVersion"], job["WorkerType"], job["NumberOfWorkers"]) == ("5.1", "G.1X", 2)
    assert job["SecurityConfiguration"] == f"{PREFIX}-glue-security"


def test_glue_job_arguments_are_the_ones_the_job_script_expects(aws, outputs):
    arguments = aws("glue").get_job(JobName=outputs["TransformJobName"])["Job"]["DefaultArguments"]
    assert arguments["--raw-zone"] == f"s3://{outputs['RawBucketName']}"
    assert arguments["--curated-zone"] == f"s3://{outputs['CuratedBucketName']}"
    assert arguments["--analytics-zone"] == f"s3://{outputs['AnalyticsBucketName']}"
    assert arguments["--database-name"] == outputs["GlueDatabaseName"] == "etl_pipeline_dev"
    assert "--dataset" not in arguments  # one job for every dataset: each run names its own
    assert arguments["--additional-python-modules"] == "great-expectations==1.24.1"
    assert arguments["--job-bookmark-option"] == "job-bookmark-enable"
    for flag in (
        "--enable-metrics",
        "--enable-continuous-cloudwatch-log",
        "--enable-spark-ui",
    ):
        assert arguments[flag] == "true", flag
    assert (
        arguments["--spark-event-logs-path"] == f"s3://{outputs['ScriptsBucketName']}/spark-logs/"
    )


def test_crawlers_read_the_prefixes_where_data_lands(aws, outputs):
    glue = aws("glue")
    raw = glue.get_crawler(Name=outputs["RawCrawlerName"])["Crawler"]
    curated = glue.get_crawler(Name=outputs["CuratedCrawlerName"])["Crawler"]
    assert raw["Targets"]["S3Targets"][0]["Path"] == f"s3://{outputs['RawBucketName']}/incoming/"
    assert (
        curated["Targets"]["S3Targets"][0]["Path"]
        == f"s3://{outputs['CuratedBucketName']}/processed/"
    )
    assert raw["DatabaseName"] == curated["DatabaseName"] == outputs["GlueDatabaseName"]
    assert "Schedule" not in raw, "dev crawls on demand only; the schedule is for prod"


def test_glue_roles_reach_only_their_prefixes_by_arn(aws, outputs):
    glue = aws("glue")
    job_role = glue.get_job(JobName=outputs["TransformJobName"])["Job"]["Role"]
    crawler_role = glue.get_crawler(Name=outputs["RawCrawlerName"])["Crawler"]["Role"]
    raw_arn = f"arn:aws:s3:::{outputs['RawBucketName']}"
    scripts_arn = f"arn:aws:s3:::{outputs['ScriptsBucketName']}"
    assert resources(role_policies(aws, crawler_role), "s3:GetObject") == {
        f"{raw_arn}/incoming/*",
        f"arn:aws:s3:::{outputs['CuratedBucketName']}/processed/*",
    }
    job_puts = resources(role_policies(aws, job_role), "s3:PutObject")
    assert not any(r.startswith(raw_arn) for r in job_puts), "the job never writes the raw zone"
    assert f"{scripts_arn}/glue/*" not in job_puts, "the job cannot overwrite its own code"


# --------------------------------------------------------------------------- workflow
def test_lambda_functions_run_the_exported_bundles_on_their_runtimes(aws):
    expected = {
        f"{PREFIX}-ingestion-trigger": ("python3.11", "etl.lambdas.trigger.handler"),
        f"{PREFIX}-data-validation": ("python3.11", "etl.lambdas.validation.handler"),
        f"{PREFIX}-data-quality-check": ("python3.11", "etl.lambdas.quality_check.handler"),
    }
    for name, (runtime, handler) in expected.items():
        config = aws("lambda").get_function(FunctionName=name)["Configuration"]
        assert (config["Runtime"], config["Handler"]) == (runtime, handler), name


def test_trigger_knows_the_state_machine_it_starts(aws, outputs):
    config = aws("lambda").get_function(FunctionName=f"{PREFIX}-ingestion-trigger")["Configuration"]
    assert config["Environment"]["Variables"]["STATE_MACHINE_ARN"] == outputs["StateMachineArn"]


def test_objects_landing_under_incoming_invoke_the_trigger_through_eventbridge(aws, outputs):
    events = aws("events")
    rule = events.describe_rule(Name=f"{PREFIX}-object-landed")
    pattern = json.loads(rule["EventPattern"])
    assert pattern["detail"] == {
        "bucket": {"name": [outputs["RawBucketName"]]},
        "object": {"key": [{"prefix": "incoming/"}]},
    }
    (target,) = events.list_targets_by_rule(Rule=f"{PREFIX}-object-landed")["Targets"]
    trigger = aws("lambda").get_function(FunctionName=f"{PREFIX}-ingestion-trigger")
    assert target["Arn"] == trigger["Configuration"]["FunctionArn"]
    policy = json.loads(
        aws("lambda").get_policy(FunctionName=f"{PREFIX}-ingestion-trigger")["Policy"]
    )
    (grant,) = policy["Statement"]
    assert grant["Principal"] == {"Service": "events.amazonaws.com"}
    assert grant["Condition"]["ArnLike"]["AWS:SourceArn"] == rule["Arn"]


def test_state_machine_is_the_asl_file_with_every_substitution_filled(aws, outputs):
    machine = aws("stepfunctions").describe_state_machine(
        stateMachineArn=outputs["StateMachineArn"]
    )
    definition = machine["definition"]
    assert "${" not in definition
    expected = ASL_FILE.read_text()
    for key, value in {
        "ValidationFunctionArn": outputs["ValidationFunctionArn"],
        "QualityCheckFunctionArn": outputs["QualityCheckFunctionArn"],
        "RawCrawlerName": outputs["RawCrawlerName"],
        "CuratedCrawlerName": outputs["CuratedCrawlerName"],
        "GlueDatabaseName": outputs["GlueDatabaseName"],
        "TransformJobName": outputs["TransformJobName"],
        "NotificationTopicArn": outputs["NotificationTopicArn"],
        "RawBucketName": outputs["RawBucketName"],
        "CuratedBucketName": outputs["CuratedBucketName"],
    }.items():
        expected = expected.replace("${" + key + "}", value)
    assert json.loads(definition) == json.loads(expected)


def test_state_machine_logs_every_execution_and_traces_it(aws, outputs):
    machine = aws("stepfunctions").describe_state_machine(
        stateMachineArn=outputs["StateMachineArn"]
    )
    logging = machine["loggingConfiguration"]
    assert logging["level"] == "ALL"
    (destination,) = logging["destinations"]
    group = destination["cloudWatchLogsLogGroup"]["logGroupArn"]
    assert f"log-group:/aws/vendedlogs/states/{PREFIX}-etl-workflow" in group
    assert machine["tracingConfiguration"] == {"enabled": True}


def test_workflow_role_reaches_exactly_the_pipelines_resources(aws, outputs):
    machine = aws("stepfunctions").describe_state_machine(
        stateMachineArn=outputs["StateMachineArn"]
    )
    statements = role_policies(aws, machine["roleArn"])
    glue = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    assert resources(statements, "lambda:InvokeFunction") == {
        outputs["ValidationFunctionArn"],
        outputs["ValidationFunctionArn"] + ":*",
        outputs["QualityCheckFunctionArn"],
        outputs["QualityCheckFunctionArn"] + ":*",
    }
    assert resources(statements, "glue:StartJobRun") == {
        f"{glue}:job/{outputs['TransformJobName']}"
    }
    assert resources(statements, "glue:StartCrawler") == {
        f"{glue}:crawler/{outputs['RawCrawlerName']}",
        f"{glue}:crawler/{outputs['CuratedCrawlerName']}",
    }
    assert resources(statements, "sns:Publish") == {outputs["NotificationTopicArn"]}


def test_notification_topic_is_encrypted_with_the_data_lake_key(aws, outputs):
    attributes = aws("sns").get_topic_attributes(TopicArn=outputs["NotificationTopicArn"])[
        "Attributes"
    ]
    assert attributes["KmsMasterKeyId"] == outputs["DataLakeKeyArn"]


def test_log_groups_expire(aws):
    groups = aws("logs").describe_log_groups(logGroupNamePrefix="/aws/")["logGroups"]
    ours = {
        g["logGroupName"]: g.get("retentionInDays") for g in groups if PREFIX in g["logGroupName"]
    }
    assert len(ours) == 4, ours
    assert set(ours.values()) == {14}


# --------------------------------------------------------------------------- monitoring
def test_job_failures_alarm_watches_the_pipeline_metric_and_notifies(aws, outputs):
    (alarm,) = aws("cloudwatch").describe_alarms(AlarmNames=[f"{PREFIX}-job-failures"])[
        "MetricAlarms"
    ]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("ETL/Pipeline", "JobFailures")
    assert alarm["Dimensions"] == [{"Name": "Dataset", "Value": "orders"}]
    assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "Sum",
        "GreaterThanThreshold",
        0.0,
    )
    assert alarm["AlarmActions"] == [outputs["NotificationTopicArn"]]


def test_failed_executions_alarm_notifies_the_topic(aws, outputs):
    alarms = aws("cloudwatch").describe_alarms(AlarmNames=[f"{PREFIX}-failed-executions"])
    (alarm,) = alarms["MetricAlarms"]
    assert alarm["AlarmActions"] == [outputs["NotificationTopicArn"]]


def test_dashboard_shows_records_processed_and_quality_score(aws, outputs):
    body = aws("cloudwatch").get_dashboard(DashboardName=outputs["DashboardName"])["DashboardBody"]
    metrics = [m for w in json.loads(body)["widgets"] for m in w["properties"]["metrics"]]
    assert ["ETL/Pipeline", "RecordsProcessed", "Dataset", "orders"] in metrics
    assert any(m[:4] == ["ETL/Pipeline", "DataQualityScore", "Dataset", "orders"] for m in metrics)
    assert any(outputs["StateMachineArn"] in m for m in metrics)


# --------------------------------------------------------------------------- lifecycle
def test_deploy_fails_clearly_when_artifacts_are_missing(moto_endpoint, tmp_path, script_env):
    result = deploy_dev(moto_endpoint, tmp_path, script_env)
    assert result.returncode == 1
    assert "lacks glue/transform_job.py" in result.stderr
    assert "run `etl export`" in result.stderr


def test_deploying_again_leaves_the_stacks_in_place(
    deployed, moto_endpoint, placeholder_artifacts, script_env, aws
):
    result = deploy_dev(moto_endpoint, placeholder_artifacts, script_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ": creating" not in result.stdout
    names = {s["StackName"] for s in aws("cloudformation").describe_stacks()["Stacks"]}
    assert {f"{PREFIX}-{stack}" for stack in STACKS} <= names


def test_destroy_script_removes_the_stacks_and_their_buckets(
    deployed, moto_endpoint, outputs, script_env, aws
):
    result = run_script("destroy.sh", "dev", "--endpoint-url", moto_endpoint, env=script_env)
    assert result.returncode == 0, result.stdout + result.stderr
    live = {
        s["StackName"]
        for s in aws("cloudformation").describe_stacks()["Stacks"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    }
    assert not live & {f"{PREFIX}-{stack}" for stack in STACKS}
    buckets = {b["Name"] for b in aws("s3").list_buckets()["Buckets"]}
    assert outputs["RawBucketName"] not in buckets
    assert outputs["ScriptsBucketName"] not in buckets


def test_destroying_prod_needs_confirmation(moto_endpoint, script_env):
    result = run_script("destroy.sh", "prod", "--endpoint-url", moto_endpoint, env=script_env)
    assert result.returncode == 1
    assert "refusing to destroy prod without --yes" in result.stderr


def test_destroying_again_is_harmless(deployed, moto_endpoint, script_env):
    result = run_script("destroy.sh", "dev", "--endpoint-url", moto_endpoint, env=script_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": not deployed") == len(STACKS)


def test_deploying_after_a_destroy_makes_the_emulated_resources_again(
    deployed, moto_endpoint, placeholder_artifacts, script_env, aws
):
    result = deploy_dev(moto_endpoint, placeholder_artifacts, script_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert aws("glue").get_job(JobName=f"{PREFIX}-transform")["Job"]["GlueVersion"] == "5.1"
    machines = aws("stepfunctions").list_state_machines()["stateMachines"]
    assert [m["name"] for m in machines] == [f"{PREFIX}-etl-workflow"]


def test_an_endpoint_deploy_without_credentials_uses_dummy_ones(
    deployed, moto_endpoint, placeholder_artifacts, script_env
):
    env = {
        k: v
        for k, v in script_env.items()
        if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    }
    result = deploy_dev(moto_endpoint, placeholder_artifacts, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "using dummy ones for the emulator" in result.stdout


def test_an_unreachable_endpoint_is_one_line_with_a_hint(script_env):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_script(
        "destroy.sh", "dev", "--endpoint-url", f"http://127.0.0.1:{port}", env=script_env
    )
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: Could not connect") and "etl aws up" in line
