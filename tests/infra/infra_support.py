"""Support for the infrastructure tests: paths, the artifact contract, moto gap fillers.

moto 5.2.5's CloudFormation skips resource types it has no model for, and a skipped
resource's ``Ref`` resolves to nothing - so an export of a Glue job name is dropped and the
workflow stack that imports it cannot be created. The handlers below fill that gap for the
types these stacks use. Each one passes the template's resolved properties straight to
moto's own service API (``create_job``, ``put_metric_alarm``, ...), so the tests see the
values CloudFormation resolved - names, ARNs, imports - in the emulated services. They
add no behaviour of their own beyond CloudFormation's documented property mapping.

What even this cannot check is listed in ``test_infra_deploy.MOTO_CANNOT_CHECK`` and
checked on the template instead.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from moto.cloudformation import parsing
from moto.cloudwatch.models import cloudwatch_backends
from moto.core.common_models import CloudFormationModel
from moto.glue.models import glue_backends
from moto.s3.models import s3_backends
from moto.stepfunctions.models import StateMachine, stepfunctions_backends

from etl.deploy.export import DEPLOY_ARTIFACTS

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA = REPO_ROOT / "infra"
TEMPLATES = sorted(INFRA.glob("*.yaml"))
ASL_FILE = INFRA / "statemachine" / "etl_workflow.asl.json"

# What `etl export` writes into build/deploy/ (the contract scripts/deploy.py uploads).
ARTIFACT_KEYS = DEPLOY_ARTIFACTS

AWS_TEST_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


# --------------------------------------------------------------------------- moto gap fillers
# moto files every model class under the second part of its module name ("moto.<service>").
SHIM_MODULE = "moto_shims.cloudformation"


class _ShimResource:
    """A resource moto's CloudFormation cannot create itself; ``Ref`` gives ``name``.

    A mixin: moto finds models among ``CloudFormationModel``'s *direct* subclasses.
    """

    def __init__(self, name: str, account_id: str, region_name: str) -> None:
        self.name = name
        self.account_id = account_id
        self.region_name = region_name

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[override]
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )


class GlueDatabaseShim(_ShimResource, CloudFormationModel):
    __module__ = SHIM_MODULE

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Glue::Database"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        database_input = cloudformation_json["Properties"]["DatabaseInput"]
        glue_backends[account_id][region_name].create_database(
            database_input["Name"], database_input
        )
        return cls(database_input["Name"], account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        glue_backends[account_id][region_name].delete_database(self.name)


class GlueSecurityConfigurationShim(_ShimResource, CloudFormationModel):
    __module__ = SHIM_MODULE

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Glue::SecurityConfiguration"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        props = cloudformation_json["Properties"]
        glue_backends[account_id][region_name].create_security_configuration(
            props["Name"], props["EncryptionConfiguration"]
        )
        return cls(props["Name"], account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        glue_backends[account_id][region_name].delete_security_configuration(self.name)


class GlueCrawlerShim(_ShimResource, CloudFormationModel):
    __module__ = SHIM_MODULE

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Glue::Crawler"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        props = cloudformation_json["Properties"]
        glue_backends[account_id][region_name].create_crawler(
            name=props["Name"],
            role=props["Role"],
            database_name=props.get("DatabaseName"),
            description=props.get("Description"),
            targets=props["Targets"],
            schedule=(props.get("Schedule") or {}).get("ScheduleExpression"),
            classifiers=props.get("Classifiers", []),
            table_prefix=props.get("TablePrefix"),
            schema_change_policy=props.get("SchemaChangePolicy"),
            recrawl_policy=props.get("RecrawlPolicy"),
            lineage_configuration=props.get("LineageConfiguration"),
            configuration=props.get("Configuration"),
            crawler_security_configuration=props.get("CrawlerSecurityConfiguration"),
            tags=props.get("Tags", {}),
        )
        return cls(props["Name"], account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        glue_backends[account_id][region_name].delete_crawler(self.name)


class GlueJobShim(_ShimResource, CloudFormationModel):
    __module__ = SHIM_MODULE

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Glue::Job"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        props = cloudformation_json["Properties"]
        glue_backends[account_id][region_name].create_job(
            name=props["Name"],
            role=props["Role"],
            command=props["Command"],
            description=props.get("Description"),
            log_uri=props.get("LogUri"),
            execution_property=props.get("ExecutionProperty"),
            default_arguments=props.get("DefaultArguments"),
            non_overridable_arguments=props.get("NonOverridableArguments"),
            connections=props.get("Connections"),
            max_retries=props.get("MaxRetries"),
            allocated_capacity=props.get("AllocatedCapacity"),
            timeout=props.get("Timeout"),
            max_capacity=props.get("MaxCapacity"),
            security_configuration=props.get("SecurityConfiguration"),
            tags=props.get("Tags", {}),
            notification_property=props.get("NotificationProperty"),
            glue_version=props.get("GlueVersion"),
            number_of_workers=props.get("NumberOfWorkers"),
            worker_type=props.get("WorkerType"),
            code_gen_configuration_nodes=None,
            execution_class=props.get("ExecutionClass"),
            source_control_details=None,
        )
        return cls(props["Name"], account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        glue_backends[account_id][region_name].delete_job(self.name)


class CloudWatchAlarmShim(_ShimResource, CloudFormationModel):
    __module__ = SHIM_MODULE

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        props = cloudformation_json["Properties"]
        name = props.get("AlarmName", resource_name)
        cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=name,
            namespace=props.get("Namespace"),
            metric_name=props.get("MetricName"),
            comparison_operator=props["ComparisonOperator"],
            evaluation_periods=props["EvaluationPeriods"],
            period=props.get("Period"),
            threshold=float(props["Threshold"]),
            statistic=props.get("Statistic"),
            description=props.get("AlarmDescription"),
            dimensions=props.get("Dimensions", []),
            alarm_actions=props.get("AlarmActions", []),
            metric_data_queries=None,
            treat_missing_data=props.get("TreatMissingData"),
        )
        alarm = cls(name, account_id, region_name)
        # moto's put_metric_alarm wants parsed query objects; keep the raw ones for the tests.
        alarm.metrics = props.get("Metrics", [])
        return alarm

    def delete(self, account_id: str, region_name: str) -> None:
        cloudwatch_backends[account_id][region_name].delete_alarms([self.name])


# Bucket -> the policy document CloudFormation resolved for it.
RECORDED_BUCKET_POLICIES: dict[str, dict] = {}


class BucketPolicyShim(_ShimResource, CloudFormationModel):
    """Records the resolved policy instead of applying it.

    moto evaluates a bucket policy's statements without their ``Condition``: the
    ``aws:SecureTransport = false`` deny would refuse every request, TLS or not.
    """

    __module__ = SHIM_MODULE

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3::BucketPolicy"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        props = cloudformation_json["Properties"]
        RECORDED_BUCKET_POLICIES[props["Bucket"]] = props["PolicyDocument"]
        return cls(props["Bucket"], account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        RECORDED_BUCKET_POLICIES.pop(self.name, None)


_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:]+)\}")


def definition_from_s3(props: dict[str, Any], account_id: str) -> str:
    """``DefinitionS3Location`` + ``DefinitionSubstitutions`` -> the definition string.

    Like CloudFormation, fails when the definition names a substitution that is not given.
    """
    location = props["DefinitionS3Location"]
    s3 = s3_backends[account_id]["aws"]
    key = s3.get_object(location["Bucket"], location["Key"], version_id=location.get("Version"))
    definition = key.value.decode()
    substitutions = props.get("DefinitionSubstitutions", {})
    missing = sorted(set(_PLACEHOLDER.findall(definition)) - set(substitutions))
    if missing:
        raise ValueError(f"definition uses undefined substitutions: {missing}")
    return _PLACEHOLDER.sub(lambda m: str(substitutions[m.group(1)]), definition)


def _camel(value: Any) -> Any:
    """CloudFormation's PascalCase property names -> the Step Functions API's camelCase."""
    if isinstance(value, dict):
        return {k[0].lower() + k[1:]: _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _create_state_machine(resource_name, cloudformation_json, account_id, region_name, **kwargs):
    props = cloudformation_json["Properties"]
    definition = (
        definition_from_s3(props, account_id)
        if "DefinitionS3Location" in props
        else props.get("DefinitionString", "")
    )
    return stepfunctions_backends[account_id][region_name].create_state_machine(
        props.get("StateMachineName", resource_name),
        definition,
        props["RoleArn"],
        loggingConfiguration=_camel(props.get("LoggingConfiguration")),
        tracingConfiguration=_camel(props.get("TracingConfiguration")),
        sm_type=props.get("StateMachineType"),
    )


def _update_state_machine(
    original_resource, new_resource_name, cloudformation_json, account_id, region_name
):
    props = cloudformation_json["Properties"]
    definition = (
        definition_from_s3(props, account_id)
        if "DefinitionS3Location" in props
        else props.get("DefinitionString")
    )
    return stepfunctions_backends[account_id][region_name].update_state_machine(
        original_resource.arn, definition=definition, role_arn=props.get("RoleArn")
    )


def install_moto_cloudformation_shims() -> None:
    """Register the handlers above with moto's CloudFormation (idempotent)."""
    StateMachine.create_from_cloudformation_json = staticmethod(_create_state_machine)
    StateMachine.update_from_cloudformation_json = staticmethod(_update_state_machine)
    # moto caches its type -> model map; rebuild it with the subclasses defined above.
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
