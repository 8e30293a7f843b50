"""The CloudFormation templates: lint, security scan, and the seed's defects staying fixed.

These read the templates only; test_infra_deploy.py deploys them into moto. Properties that
moto cannot apply (see ``test_infra_deploy.MOTO_CANNOT_CHECK``) are checked here.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from cfnlint.api import lint_file
from cfnlint.decode import decode
from infra_support import ASL_FILE, INFRA, REPO_ROOT, TEMPLATES

from etl.local.definition import SUBSTITUTIONS

STACK_FILES = ("data-lake.yaml", "glue.yaml", "workflow.yaml", "monitoring.yaml")
# The names the local runner fills in (etl.local.definition): CloudFormation must match.
SUBSTITUTION_KEYS = set(SUBSTITUTIONS)
DATA_BUCKETS = ("RawBucket", "CuratedBucket", "AnalyticsBucket", "ScriptsBucket")


def load(name: str) -> dict:
    template, errors = decode(str(INFRA / name))
    assert not errors, errors
    return template


def resources_of_type(template: dict, resource_type: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def test_every_stack_has_a_template():
    assert sorted(p.name for p in TEMPLATES) == sorted(STACK_FILES)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_cfn_lint_reports_nothing(template: Path):
    matches = lint_file(template)
    assert not matches, "\n".join(str(m) for m in matches)


def test_checkov_scan_is_clean_and_every_suppression_says_why(tmp_path):
    result = subprocess.run(
        [str(REPO_ROOT / "scripts" / "checkov.sh"), "-d", str(INFRA), "--framework",
         "cloudformation", "-o", "json"],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    if result.returncode == 3:  # scripts/checkov.sh could not create its virtualenv
        pytest.skip(f"checkov virtualenv could not be created: {result.stderr.strip()[-300:]}")
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})"
        for c in report["results"]["failed_checks"]
    ]
    assert summary["failed"] == 0, failed
    assert summary["passed"] > 100, summary
    for check in report["results"]["skipped_checks"]:
        assert len(check["check_result"]["suppress_comment"]) >= 30, (
            f"{check['check_id']} on {check['resource']} is suppressed without a reason"
        )


@pytest.mark.parametrize("name", STACK_FILES)
def test_every_template_takes_project_and_environment(name: str):
    template = load(name)
    assert template["Parameters"]["EnvironmentName"]["AllowedValues"] == ["dev", "staging", "prod"]
    assert template["Parameters"]["ProjectName"]["Default"] == "etl-pipeline"
    assert template["Conditions"]["IsProduction"] == {
        "Fn::Equals": [{"Ref": "EnvironmentName"}, "prod"]
    }


def test_cross_stack_values_are_imported_from_exports_that_exist():
    """The seed referenced ETLStateMachine and RawDataBucket across templates without them."""
    exported = set()
    for name in STACK_FILES:
        for output in load(name).get("Outputs", {}).values():
            if "Export" in output:
                exported.add(output["Export"]["Name"]["Fn::Sub"].split("-")[-1])
    imported = {
        m
        for name in STACK_FILES
        for m in re.findall(
            r"ImportValue: !Sub '\$\{ProjectName\}-\$\{EnvironmentName\}-(\w+)'",
            (INFRA / name).read_text(),
        )
    }
    assert len(imported) >= 10, imported
    assert imported <= exported, f"imported but never exported: {imported - exported}"


def test_iam_and_permissions_use_arns_not_bucket_names():
    """The seed wrote !Sub '${RawDataBucket}/*' (a name) where IAM needs an ARN."""
    for name in STACK_FILES:
        body = (INFRA / name).read_text()
        assert not re.search(r"'\$\{\w*Bucket\w*\}/", body), name
        assert "BucketName}/*" not in body, name


def test_lambdas_run_exported_bundles_on_their_runtimes():
    """python3.11 everywhere, as the Glue job and the workbench: the quality check carries a
    cp311 x86_64 wheel (orjson), and one Python version keeps local runs predictive."""
    functions = resources_of_type(load("workflow.yaml"), "AWS::Lambda::Function")
    runtimes = {f["Properties"]["Handler"]: f["Properties"]["Runtime"] for f in functions.values()}
    assert runtimes == {
        "etl.lambdas.trigger.handler": "python3.11",
        "etl.lambdas.validation.handler": "python3.11",
        "etl.lambdas.quality_check.handler": "python3.11",
    }
    for logical_id, function in functions.items():
        props = function["Properties"]
        assert "ZipFile" not in props["Code"], f"{logical_id} has inline code"
        assert props["Code"]["S3Key"].startswith("lambdas/"), logical_id
        assert props["TracingConfig"] == {"Mode": "Active"}, logical_id


def test_raw_bucket_reaches_the_trigger_through_eventbridge_without_a_cycle():
    raw = load("data-lake.yaml")["Resources"]["RawBucket"]["Properties"]
    assert raw["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    rule = load("workflow.yaml")["Resources"]["ObjectLandedRule"]["Properties"]
    assert rule["EventPattern"]["detail"]["object"] == {"key": [{"prefix": "incoming/"}]}
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": ["TriggerFunction", "Arn"]}


def test_crawlers_target_incoming_and_processed():
    crawlers = resources_of_type(load("glue.yaml"), "AWS::Glue::Crawler")
    paths = {
        k: c["Properties"]["Targets"]["S3Targets"][0]["Path"]["Fn::Sub"][0]
        for k, c in crawlers.items()
    }
    assert paths == {
        "RawDataCrawler": "s3://${Bucket}/incoming/",
        "CuratedDataCrawler": "s3://${Bucket}/processed/",
    }
    for crawler in crawlers.values():
        assert crawler["Properties"]["SchemaChangePolicy"] == {
            "UpdateBehavior": "UPDATE_IN_DATABASE",
            "DeleteBehavior": "LOG",
        }


def test_raw_crawler_runs_on_a_schedule_only_in_production():
    schedule = load("glue.yaml")["Resources"]["RawDataCrawler"]["Properties"]["Schedule"]
    assert schedule["Fn::If"][0] == "IsProduction"
    assert schedule["Fn::If"][1] == {"ScheduleExpression": "cron(0 2 * * ? *)"}


def test_glue_job_installs_the_great_expectations_version_the_workbench_pins():
    pinned = re.search(
        r"^great-expectations==(\S+)", (REPO_ROOT / "requirements.txt").read_text(), re.M
    )
    parameter = load("glue.yaml")["Parameters"]["GreatExpectationsVersion"]
    assert parameter["Default"] == pinned.group(1)


def test_kms_key_grants_services_only_under_conditions():
    """The seed let S3 and Glue use the key with no condition at all."""
    policy = load("data-lake.yaml")["Resources"]["DataLakeKey"]["Properties"]["KeyPolicy"]
    for statement in policy["Statement"]:
        if "Service" in statement["Principal"]:
            assert statement.get("Condition"), statement["Sid"]
    services = [s["Principal"].get("Service") for s in policy["Statement"]]
    assert "s3.amazonaws.com" not in services
    assert "glue.amazonaws.com" not in services


# ---- bucket properties moto's CloudFormation does not apply (MOTO_CANNOT_CHECK) ----------
@pytest.mark.parametrize("bucket", [*DATA_BUCKETS, "AccessLogsBucket"])
def test_buckets_are_versioned_and_block_public_access(bucket: str):
    props = load("data-lake.yaml")["Resources"][bucket]["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}


@pytest.mark.parametrize("bucket", DATA_BUCKETS)
def test_data_buckets_use_s3_bucket_keys(bucket: str):
    """Bucket keys cut KMS requests (and their cost) by orders of magnitude."""
    props = load("data-lake.yaml")["Resources"][bucket]["Properties"]
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["BucketKeyEnabled"] is True


@pytest.mark.parametrize("bucket", DATA_BUCKETS)
def test_data_buckets_log_access_to_the_log_bucket(bucket: str):
    props = load("data-lake.yaml")["Resources"][bucket]["Properties"]
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "AccessLogsBucket"}


def test_raw_data_moves_to_colder_storage_at_30_90_and_365_days():
    rules = load("data-lake.yaml")["Resources"]["RawBucket"]["Properties"]["LifecycleConfiguration"]
    transitions = rules["Rules"][0]["Transitions"]
    assert [(t["TransitionInDays"], t["StorageClass"]) for t in transitions] == [
        (30, "STANDARD_IA"),
        (90, "GLACIER"),
        (365, "DEEP_ARCHIVE"),
    ]


def test_curated_processed_prefix_is_intelligently_tiered():
    props = load("data-lake.yaml")["Resources"]["CuratedBucket"]["Properties"]
    (tiering,) = props["IntelligentTieringConfigurations"]
    assert tiering["Prefix"] == "processed/"
    assert tiering["Status"] == "Enabled"
    to_tiering = props["LifecycleConfiguration"]["Rules"][0]
    assert to_tiering["Prefix"] == "processed/"
    assert to_tiering["Transitions"] == [
        {"TransitionInDays": 0, "StorageClass": "INTELLIGENT_TIERING"}
    ]


# ---- the state machine definition and its substitutions --------------------------------
def test_state_machine_substitutions_are_the_contracts_keys():
    machine = load("workflow.yaml")["Resources"]["EtlStateMachine"]["Properties"]
    assert set(machine["DefinitionSubstitutions"]) == SUBSTITUTION_KEYS
    assert machine["DefinitionS3Location"]["Key"] == "statemachine/etl_workflow.asl.json"


def test_asl_file_uses_only_substitutions_the_template_provides():
    placeholders = set(re.findall(r"\$\{(\w+)\}", ASL_FILE.read_text()))
    assert placeholders <= SUBSTITUTION_KEYS, placeholders - SUBSTITUTION_KEYS


def test_workflow_leaves_the_database_to_the_jobs_per_environment_default():
    arguments = {}
    for state in json.loads(ASL_FILE.read_text())["States"].values():
        if state.get("Resource", "").startswith("arn:aws:states:::glue:startJobRun"):
            arguments.update(state["Parameters"].get("Arguments", {}))
    assert "--database-name" not in arguments, arguments["--database-name"]
