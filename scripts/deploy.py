"""Deploy or destroy the pipeline's CloudFormation stacks (called by deploy.sh / destroy.sh).

``deploy ENV``: build the artifacts (``etl export``), deploy the data lake stack, upload the
artifacts to its scripts bucket under their ``build/deploy/`` keys, then deploy the Glue,
workflow and monitoring stacks - the order their imports require - and print the outputs.
Re-running it updates what changed; a stack with nothing to change is left alone.

``destroy ENV``: delete the stacks in reverse order, emptying the data lake's buckets (every
object version) before the data lake stack goes.

``--endpoint-url`` points every AWS client at a local emulator (moto: ``etl aws up`` starts
one, the tests too). What moto's CloudFormation cannot create is then made through the service
APIs (``etl.deploy.emulator``); with no credentials set, dummy ones are used for the emulator.
This is what ``aws cloudformation deploy`` does, in boto3 - one code path, the one the tests
run, with no dependency on an AWS CLI being installed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import boto3
import botocore.exceptions
import botocore.parsers

from etl.deploy import emulator
from etl.deploy.export import DEPLOY_ARTIFACTS

REPO_ROOT = Path(__file__).resolve().parents[1]
INFRA = REPO_ROOT / "infra"
DEFAULT_ARTIFACTS = REPO_ROOT / "build" / "deploy"
DEFAULT_PROJECT = "etl-pipeline"
ENVIRONMENTS = ("dev", "staging", "prod")

# Dependency order: each stack imports exports of the ones before it.
STACKS = ("data-lake", "glue", "workflow", "monitoring")

# What `etl export` writes into build/deploy/, uploaded under the same keys.
ARTIFACTS = DEPLOY_ARTIFACTS

# Workflow parameters that pin an uploaded object version, so a changed bundle or
# definition under an unchanged key still updates its resource.
VERSION_PARAMETERS = {
    "lambdas/trigger.zip": "TriggerCodeVersion",
    "lambdas/validation.zip": "ValidationCodeVersion",
    "lambdas/quality_check.zip": "QualityCheckCodeVersion",
    "statemachine/etl_workflow.asl.json": "DefinitionVersion",
}

BUCKET_OUTPUTS = (
    "RawBucketName",
    "CuratedBucketName",
    "AnalyticsBucketName",
    "ScriptsBucketName",
    "AccessLogsBucketName",  # last: it receives the others' access logs
)

# What an emulator accepts as credentials when none are set (it checks none).
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class DeployError(Exception):
    """An expected failure: the message says what went wrong and what to do."""


@dataclass(frozen=True)
class Target:
    """Where the stacks go: project, environment, region and (optionally) an emulator."""

    project: str
    environment: str
    region: str
    endpoint_url: str | None

    def stack_name(self, stack: str) -> str:
        return f"{self.project}-{self.environment}-{stack}"

    def client(self, service: str):
        session = boto3.session.Session(region_name=self.region)
        return session.client(service, endpoint_url=self.endpoint_url)

    @property
    def waiter_config(self) -> dict:
        # An emulator answers at once; on AWS these stacks take minutes (an hour at most).
        if self.endpoint_url:
            return {"Delay": 1, "MaxAttempts": 300}
        return {"Delay": 10, "MaxAttempts": 360}


# --------------------------------------------------------------------------- artifacts
def export_artifacts() -> Path:
    """Run ``etl export`` (from the interpreter's own environment) into build/deploy/."""
    etl = Path(sys.executable).parent / "etl"
    command = [str(etl), "export"] if etl.exists() else [sys.executable, "-m", "etl.cli", "export"]
    print(f"$ {' '.join(command)}", flush=True)
    result = subprocess.run(command, cwd=REPO_ROOT, check=False)
    if result.returncode != 0:
        raise DeployError(
            f"`etl export` failed (exit {result.returncode}); fix the error above, "
            "or pass --artifacts DIR to deploy artifacts built elsewhere"
        )
    return DEFAULT_ARTIFACTS


def check_artifacts(folder: Path) -> None:
    missing = [key for key in ARTIFACTS if not (folder / key).is_file()]
    if missing:
        raise DeployError(
            f"{folder} lacks {', '.join(missing)}; run `etl export` to build the "
            "artifacts (or pass --artifacts DIR)"
        )


def upload_artifacts(target: Target, folder: Path, bucket: str) -> dict[str, str]:
    """Upload every artifact under its relative key; return ``{key: S3 version id}``."""
    s3 = target.client("s3")
    versions = {}
    for key in ARTIFACTS:
        with (folder / key).open("rb") as body:
            response = s3.put_object(Bucket=bucket, Key=key, Body=body)
        versions[key] = response.get("VersionId", "")
        print(f"uploaded s3://{bucket}/{key}", flush=True)
    return versions


# --------------------------------------------------------------------------- stacks
def stack_status(cloudformation, name: str) -> str | None:
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except botocore.exceptions.ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    return stacks[0]["StackStatus"] if stacks else None


def stack_outputs(cloudformation, name: str) -> dict[str, str]:
    """Every output, the emulator's carriers included (see ``etl.deploy.emulator``)."""
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def template_body(target: Target, stack: str, parameters: dict[str, str]) -> str:
    """The template as sent: the file itself, or for an emulator its rewritten form.

    For an emulator, also checks the stacks it imports from are there: a create that fails
    on a missing import leaves moto with a stack it can no longer even describe.
    """
    path = INFRA / f"{stack}.yaml"
    if not target.endpoint_url:
        return path.read_text()
    template = emulator.load_template(path)
    wanted = emulator.imported_names(template, parameters)
    if wanted:
        pages = target.client("cloudformation").get_paginator("list_exports").paginate()
        exported = {e["Name"] for page in pages for e in page["Exports"]}
        if missing := sorted(wanted - exported):
            raise DeployError(
                f"{target.stack_name(stack)} imports {', '.join(missing)}, which no deployed "
                "stack exports; deploy every stack in order (scripts/deploy.sh does)"
            )
    return json.dumps(emulator.emulator_template(template))


def failure_reasons(cloudformation, name: str) -> str:
    """The stack's failed events, newest first, one per line."""
    try:
        events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    except botocore.exceptions.ClientError:
        return ""
    failed = [
        f"  {e['LogicalResourceId']} ({e.get('ResourceType', '?')}): "
        f"{e.get('ResourceStatusReason', e['ResourceStatus'])}"
        for e in events
        if e["ResourceStatus"].endswith("_FAILED")
    ]
    return "\n".join(failed[:10])


def wait(target: Target, cloudformation, waiter: str, name: str) -> None:
    try:
        cloudformation.get_waiter(waiter).wait(StackName=name, WaiterConfig=target.waiter_config)
    except botocore.exceptions.WaiterError as error:
        reasons = failure_reasons(cloudformation, name)
        raise DeployError(f"stack {name}: {error}\n{reasons}".rstrip()) from None


def deploy_stack(target: Target, stack: str, parameters: dict[str, str]) -> dict[str, str]:
    """Create or update one stack from ``infra/<stack>.yaml``; return its outputs."""
    cloudformation = target.client("cloudformation")
    name = target.stack_name(stack)
    request = {
        "StackName": name,
        "TemplateBody": template_body(target, stack, parameters),
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        "Capabilities": ["CAPABILITY_IAM"],
        "Tags": [
            {"Key": "Project", "Value": target.project},
            {"Key": "Environment", "Value": target.environment},
        ],
    }
    status = stack_status(cloudformation, name)
    previous = stack_outputs(cloudformation, name) if status else {}
    if status == "ROLLBACK_COMPLETE":
        # A stack whose creation rolled back can only be deleted, never updated.
        print(f"{name}: deleting the rolled-back stack before creating it again", flush=True)
        cloudformation.delete_stack(StackName=name)
        wait(target, cloudformation, "stack_delete_complete", name)
        status = None
    if status is None:
        print(f"{name}: creating", flush=True)
        cloudformation.create_stack(**request)
        wait(target, cloudformation, "stack_create_complete", name)
    else:
        try:
            cloudformation.update_stack(**request)
        except botocore.exceptions.ClientError as error:
            if "No updates are to be performed" not in str(error):
                raise
            print(f"{name}: up to date", flush=True)
        else:
            print(f"{name}: updating", flush=True)
            wait(target, cloudformation, "stack_update_complete", name)
    outputs = stack_outputs(cloudformation, name)
    if target.endpoint_url:
        for logical in emulator.apply_resources(target.client, outputs, previous):
            print(
                f"{name}: {logical} made through its API (the emulator's CloudFormation lacks it)"
            )
    return emulator.public_outputs(outputs)


def deploy(target: Target, artifacts: Path | None) -> dict[str, dict[str, str]]:
    """Deploy every stack in order; return ``{stack: outputs}``."""
    folder = artifacts or export_artifacts()
    check_artifacts(folder)
    common = {"ProjectName": target.project, "EnvironmentName": target.environment}
    outputs = {"data-lake": deploy_stack(target, "data-lake", common)}
    versions = upload_artifacts(target, folder, outputs["data-lake"]["ScriptsBucketName"])
    pinned = {VERSION_PARAMETERS[k]: v for k, v in versions.items() if k in VERSION_PARAMETERS}
    outputs["glue"] = deploy_stack(target, "glue", common)
    outputs["workflow"] = deploy_stack(target, "workflow", {**common, **pinned})
    outputs["monitoring"] = deploy_stack(target, "monitoring", common)
    return outputs


# --------------------------------------------------------------------------- destroy
def empty_bucket(target: Target, bucket: str) -> int:
    """Delete every object version and delete marker; return how many were deleted."""
    s3 = target.client("s3")
    deleted = 0
    try:
        pages = list(s3.get_paginator("list_object_versions").paginate(Bucket=bucket))
    except botocore.exceptions.ClientError as error:
        if "NoSuchBucket" in str(error):
            return 0
        raise
    for page in pages:
        entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
        objects = [{"Key": e["Key"], "VersionId": e["VersionId"]} for e in entries]
        for start in range(0, len(objects), 1000):  # delete_objects' limit per call
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects[start : start + 1000]})
        deleted += len(objects)
    return deleted


def destroy(target: Target) -> None:
    """Delete the stacks in reverse dependency order, emptying the buckets first."""
    cloudformation = target.client("cloudformation")
    for stack in reversed(STACKS):
        name = target.stack_name(stack)
        if stack_status(cloudformation, name) is None:
            print(f"{name}: not deployed", flush=True)
            continue
        outputs = stack_outputs(cloudformation, name)
        if target.endpoint_url:
            emulator.remove_resources(target.client, outputs)
        if stack == "data-lake":
            for output in BUCKET_OUTPUTS:
                if output in outputs:
                    count = empty_bucket(target, outputs[output])
                    print(f"emptied s3://{outputs[output]} ({count} object versions)", flush=True)
        print(f"{name}: deleting", flush=True)
        cloudformation.delete_stack(StackName=name)
        wait(target, cloudformation, "stack_delete_complete", name)


# --------------------------------------------------------------------------- command line
def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="deploy.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("deploy", "destroy"))
    parser.add_argument("environment", choices=ENVIRONMENTS)
    parser.add_argument("--endpoint-url", help="an AWS emulator's URL, e.g. http://127.0.0.1:5000")
    parser.add_argument(
        "--region",
        default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None,
        help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's, us-east-1)",
    )
    parser.add_argument("--project-name", default=DEFAULT_PROJECT)
    parser.add_argument(
        "--artifacts",
        type=Path,
        help="deploy the artifacts in DIR instead of running `etl export` into build/deploy/",
    )
    parser.add_argument(
        "--yes", action="store_true", help="destroy: required to delete the prod environment"
    )
    return parser.parse_args(argv)


def use_dummy_credentials() -> bool:
    """For an emulator: when no credentials are configured, set the dummy ones it accepts."""
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")  # no instance-role probe
    if boto3.session.Session().get_credentials() is not None:
        return False
    os.environ.update(DUMMY_CREDENTIALS)
    return True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.endpoint_url and use_dummy_credentials():
        exports = " ".join(f"{k}={v}" for k, v in DUMMY_CREDENTIALS.items())
        print(f"no AWS credentials set: using dummy ones for the emulator (export {exports})")
    region = args.region or boto3.session.Session().region_name or "us-east-1"
    target = Target(args.project_name, args.environment, region, args.endpoint_url)
    where = f" at {target.endpoint_url}" if target.endpoint_url else ""
    try:
        if args.action == "destroy":
            if target.environment == "prod" and not args.yes:
                raise DeployError("refusing to destroy prod without --yes")
            print(f"destroying {target.project}-{target.environment} in {region}{where}")
            destroy(target)
            return 0
        print(f"deploying {target.project}-{target.environment} to {region}{where}")
        outputs = deploy(target, args.artifacts.resolve() if args.artifacts else None)
    except (DeployError, emulator.EmulatorError, botocore.exceptions.ClientError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except botocore.exceptions.NoCredentialsError:
        print(
            "error: no AWS credentials; set a profile or AWS_* variables "
            "(for a local emulator pass --endpoint-url URL: dummy ones are then used)",
            file=sys.stderr,
        )
        return 1
    except botocore.exceptions.EndpointConnectionError as error:
        hint = " - is the emulator running? (`etl aws up` starts one)" if where else ""
        print(f"error: {error}{hint}", file=sys.stderr)
        return 1
    except botocore.exceptions.BotoCoreError as error:
        print(f"error: {'; '.join(str(error).splitlines())}", file=sys.stderr)
        return 1
    except botocore.parsers.ResponseParserError as error:
        # An emulator answering with an HTML error page: its state broke on an earlier call.
        detail = str(error).splitlines()[0]
        print(
            f"error: {target.endpoint_url or 'AWS'} sent a response that is not AWS's ({detail}); "
            "if it is an emulator, restart it (`etl aws down && etl aws up`) and deploy again",
            file=sys.stderr,
        )
        return 1
    for stack, values in outputs.items():
        for key, value in sorted(values.items()):
            print(f"{target.stack_name(stack)}  {key} = {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
