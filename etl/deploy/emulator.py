"""What an AWS emulator's CloudFormation lacks, made through the service APIs instead.

moto's CloudFormation (5.2.5) has no model for some resource types the stacks use - Glue
databases, security configurations, crawlers and jobs, CloudWatch alarms, S3 bucket policies
(recorded, not applied: see ``_keep_bucket_policy``) - and builds a state
machine from ``DefinitionString`` only (no ``DefinitionS3Location``, substitutions, logging or
tracing). A skipped resource's ``Ref`` resolves to nothing, so its export vanishes and the
next stack's ``Fn::ImportValue`` fails.

For a deploy to an endpoint (``scripts/deploy.py --endpoint-url``), ``emulator_template``
rewrites a template: each such resource leaves ``Resources``; every ``Ref``, ``Fn::GetAtt`` and
``${...}`` naming it becomes what CloudFormation documents it returns (its name, or its ARN
built from the name); and an output carries its properties as JSON (``Fn::ToJsonString``), so
the emulator resolves every parameter, import and ``GetAtt`` inside them. ``apply_resources``
then creates or updates each resource through its service's API with those resolved
properties, and ``remove_resources`` deletes them before their stack goes. Nothing here runs
for a deploy to AWS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ClientFactory = Callable[[str], Any]

# Stack outputs named so carry one emulated resource each; they are not the stack's outputs.
CARRIER_PREFIX = "EmulatedResource"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:]+)\}")


class EmulatorError(Exception):
    """An emulated resource could not be made: the message says which and why."""


# --------------------------------------------------------------------------- templates
class _TemplateLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (``!Ref``, ``!Sub``, ``!GetAtt`` ...)."""


def _short_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    key = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    return {key: value}


_TemplateLoader.add_multi_constructor("!", _short_form)


def load_template(path: Path) -> dict:
    """A CloudFormation YAML template as plain data, short forms in their long form."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_TemplateLoader)


@dataclass(frozen=True)
class _Kind:
    """How one resource type is referenced and made through its API."""

    ref: Callable[[dict], Any]
    apply: Callable[[ClientFactory, dict, dict | None], None]
    remove: Callable[[ClientFactory, dict], None]


def _state_machine_arn(props: dict) -> dict:
    return {
        "Fn::Sub": [
            "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${Name}",
            {"Name": props["StateMachineName"]},
        ]
    }


def emulator_template(template: dict) -> dict:
    """``template`` with the resources moto cannot create moved into carrier outputs."""
    resources = dict(template.get("Resources", {}))
    emulated = {k: v for k, v in resources.items() if v.get("Type") in KINDS}
    replacements: dict[str, dict[str, Any]] = {}
    for logical, resource in emulated.items():
        kind = KINDS[resource["Type"]]
        props = resource.get("Properties", {})
        try:
            values = {"Ref": kind.ref(props)}
        except KeyError as missing:
            raise EmulatorError(
                f"{logical} ({resource['Type']}) needs an explicit {missing.args[0]} "
                "to be deployed to an emulator"
            ) from None
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            values.update(Arn=values["Ref"], Name=props["StateMachineName"])
        replacements[logical] = values
        del resources[logical]
    outputs = dict(template.get("Outputs", {}))
    for logical, resource in emulated.items():
        carrier = {"Type": resource["Type"], "Properties": resource.get("Properties", {})}
        output: dict[str, Any] = {"Value": {"Fn::ToJsonString": carrier}}
        if "Condition" in resource:
            output["Condition"] = resource["Condition"]
        outputs[f"{CARRIER_PREFIX}{logical}"] = output
    rewritten = {**template, "Resources": resources, "Outputs": outputs}
    # Twice: a replacement may itself name another emulated resource.
    return _rewrite(_rewrite(rewritten, replacements), replacements)


def _rewrite(node: Any, replacements: dict[str, dict[str, Any]]) -> Any:
    """``node`` with references to the emulated resources replaced by their values."""
    if isinstance(node, list):
        return [_rewrite(item, replacements) for item in node]
    if not isinstance(node, dict):
        return node
    if list(node) == ["Ref"] and node["Ref"] in replacements:
        return replacements[node["Ref"]]["Ref"]
    if list(node) == ["Fn::GetAtt"]:
        target = node["Fn::GetAtt"]
        logical, attribute = target.split(".", 1) if isinstance(target, str) else target
        if logical in replacements:
            if attribute not in replacements[logical]:
                raise EmulatorError(f"Fn::GetAtt {logical}.{attribute} is not emulated")
            return replacements[logical][attribute]
    if list(node) == ["Fn::Sub"]:
        return {"Fn::Sub": _rewrite_sub(node["Fn::Sub"], replacements)}
    return {key: _rewrite(value, replacements) for key, value in node.items()}


def _rewrite_sub(value: str | list, replacements: dict[str, dict[str, Any]]) -> str | list:
    text, variables = (value, {}) if isinstance(value, str) else value
    variables = {k: _rewrite(v, replacements) for k, v in variables.items()}

    def swap(match: re.Match) -> str:
        logical, _, attribute = match.group(1).partition(".")
        if logical not in replacements or match.group(1) in variables:
            return match.group(0)
        name = f"{logical}{attribute}"
        variables[name] = replacements[logical][attribute or "Ref"]
        return "${" + name + "}"

    text = _PLACEHOLDER.sub(swap, text)
    return [text, variables] if variables else text


def imported_names(template: dict, parameters: dict[str, str]) -> set[str]:
    """The export names the template imports (those spelled from its parameters)."""
    values = {k: str(v.get("Default", "")) for k, v in template.get("Parameters", {}).items()}
    values.update(parameters)
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            if list(node) == ["Fn::ImportValue"]:
                name = node["Fn::ImportValue"]
                if isinstance(name, dict) and isinstance(name.get("Fn::Sub"), str):
                    name = _PLACEHOLDER.sub(
                        lambda m: values.get(m.group(1), m.group(0)), name["Fn::Sub"]
                    )
                if isinstance(name, str) and "${" not in name:
                    found.add(name)
                return
            for value in node.values():
                walk(value)

    walk(template)
    return found


def carried_resources(outputs: dict[str, str]) -> dict[str, dict]:
    """``{logical id: {"Type", "Properties"}}`` from a stack's (rewritten) outputs."""
    return {
        key.removeprefix(CARRIER_PREFIX): json.loads(value)
        for key, value in outputs.items()
        if key.startswith(CARRIER_PREFIX)
    }


def public_outputs(outputs: dict[str, str]) -> dict[str, str]:
    """The stack's own outputs, without the carriers."""
    return {k: v for k, v in outputs.items() if not k.startswith(CARRIER_PREFIX)}


def apply_resources(
    client: ClientFactory, outputs: dict[str, str], previous: dict[str, str] | None = None
) -> list[str]:
    """Create or update the carried resources (in dependency order); return what changed.

    ``previous`` are the stack's outputs before this deploy: a resource whose resolved
    properties did not change (and still exists) is left alone.
    """
    now = carried_resources(outputs)
    before = carried_resources(previous or {})
    changed = []
    for logical, resource in sorted(now.items(), key=lambda item: ORDER.index(item[1]["Type"])):
        kind = KINDS[resource["Type"]]
        old = before.get(logical)
        kind.apply(client, resource["Properties"], old["Properties"] if old else None)
        if old != resource:
            changed.append(logical)
    for logical, resource in before.items():
        if logical not in now:
            KINDS[resource["Type"]].remove(client, resource["Properties"])
            changed.append(logical)
    return changed


def remove_resources(client: ClientFactory, outputs: dict[str, str]) -> None:
    """Delete the carried resources, dependants first (a missing one is not an error)."""
    carried = carried_resources(outputs).values()
    for resource in sorted(carried, key=lambda r: ORDER.index(r["Type"]), reverse=True):
        KINDS[resource["Type"]].remove(client, resource["Properties"])


# --------------------------------------------------------------------------- Glue
def _glue_exists(call: Callable[[], Any], glue) -> bool:
    try:
        call()
    except glue.exceptions.EntityNotFoundException:
        return False
    return True


def _apply_database(client: ClientFactory, props: dict, previous: dict | None) -> None:
    glue = client("glue")
    database = props["DatabaseInput"]
    if _glue_exists(lambda: glue.get_database(Name=database["Name"]), glue):
        # Updated in place: deleting it would drop every table registered since.
        glue.update_database(Name=database["Name"], DatabaseInput=database)
    else:
        glue.create_database(DatabaseInput=database)


def _remove_database(client: ClientFactory, props: dict) -> None:
    glue = client("glue")
    if _glue_exists(lambda: glue.get_database(Name=props["DatabaseInput"]["Name"]), glue):
        glue.delete_database(Name=props["DatabaseInput"]["Name"])


def _replacing(get: str, create: Callable[[Any, dict], None], delete: str, key: str):
    """An apply for a Glue type moto cannot update: unchanged -> kept, else recreated."""

    def apply(client: ClientFactory, props: dict, previous: dict | None) -> None:
        glue = client("glue")
        exists = _glue_exists(lambda: getattr(glue, get)(**{key: props["Name"]}), glue)
        if exists and previous == props:
            return
        if exists:
            getattr(glue, delete)(**{key: props["Name"]})
        create(glue, props)

    def remove(client: ClientFactory, props: dict) -> None:
        glue = client("glue")
        if _glue_exists(lambda: getattr(glue, get)(**{key: props["Name"]}), glue):
            getattr(glue, delete)(**{key: props["Name"]})

    return apply, remove


def _create_security_configuration(glue, props: dict) -> None:
    encryption = dict(props["EncryptionConfiguration"])
    if "S3Encryptions" in encryption:  # CloudFormation's plural is the API's S3Encryption
        encryption["S3Encryption"] = encryption.pop("S3Encryptions")
    glue.create_security_configuration(Name=props["Name"], EncryptionConfiguration=encryption)


def _create_crawler(glue, props: dict) -> None:
    request = dict(props)
    if "Schedule" in request:  # CloudFormation nests the expression; the API takes it bare
        request["Schedule"] = request["Schedule"]["ScheduleExpression"]
    glue.create_crawler(**request)


def _create_job(glue, props: dict) -> None:
    glue.create_job(**props)


# --------------------------------------------------------------------------- CloudWatch
def _apply_alarm(client: ClientFactory, props: dict, previous: dict | None) -> None:
    client("cloudwatch").put_metric_alarm(**props)  # PutMetricAlarm creates or replaces


def _remove_alarm(client: ClientFactory, props: dict) -> None:
    client("cloudwatch").delete_alarms(AlarmNames=[props["AlarmName"]])


# --------------------------------------------------------------------------- S3
def _keep_bucket_policy(client: ClientFactory, props: dict, previous: dict | None) -> None:
    """Not applied: moto evaluates a policy's statements without their Condition, so the
    TLS-only deny would refuse every request. The resolved policy stays readable in the
    stack's carrier output (``carried_resources``)."""


def _forget_bucket_policy(client: ClientFactory, props: dict) -> None:
    """Nothing was applied, so nothing to delete."""


# --------------------------------------------------------------------------- Step Functions
def _camel(value: Any) -> Any:
    """CloudFormation's PascalCase property names -> the Step Functions API's camelCase."""
    if isinstance(value, dict):
        return {k[0].lower() + k[1:]: _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def state_machine_definition(client: ClientFactory, props: dict) -> str:
    """The definition CloudFormation would deploy: the S3 object, substitutions filled.

    Like CloudFormation, fails when the definition names a substitution that is not given.
    """
    if "DefinitionString" in props:
        definition = props["DefinitionString"]
    elif "Definition" in props:
        definition = json.dumps(props["Definition"])
    else:
        location = props["DefinitionS3Location"]
        request = {"Bucket": location["Bucket"], "Key": location["Key"]}
        if location.get("Version"):
            request["VersionId"] = location["Version"]
        definition = client("s3").get_object(**request)["Body"].read().decode("utf-8")
    substitutions = props.get("DefinitionSubstitutions", {})
    missing = sorted(set(_PLACEHOLDER.findall(definition)) - set(substitutions))
    if missing:
        raise EmulatorError(
            f"state machine {props['StateMachineName']}: the definition uses "
            f"{', '.join(missing)}, which DefinitionSubstitutions does not give"
        )
    return _PLACEHOLDER.sub(lambda m: str(substitutions[m.group(1)]), definition)


def _find_state_machine(sfn, name: str) -> str | None:
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return machine["stateMachineArn"]
    return None


def _apply_state_machine(client: ClientFactory, props: dict, previous: dict | None) -> None:
    sfn = client("stepfunctions")
    settings = {
        "definition": state_machine_definition(client, props),
        "roleArn": props["RoleArn"],
        "loggingConfiguration": _camel(props.get("LoggingConfiguration", {})),
        "tracingConfiguration": _camel(props.get("TracingConfiguration", {})),
    }
    arn = _find_state_machine(sfn, props["StateMachineName"])
    if arn:  # updated in place, so its executions stay
        sfn.update_state_machine(stateMachineArn=arn, **settings)
        return
    tags = [{"key": t["Key"], "value": t["Value"]} for t in props.get("Tags", [])]
    sfn.create_state_machine(
        name=props["StateMachineName"],
        type=props.get("StateMachineType", "STANDARD"),
        tags=tags,
        **settings,
    )


def _remove_state_machine(client: ClientFactory, props: dict) -> None:
    sfn = client("stepfunctions")
    arn = _find_state_machine(sfn, props["StateMachineName"])
    if arn:
        sfn.delete_state_machine(stateMachineArn=arn)


_security_configuration = _replacing(
    "get_security_configuration",
    _create_security_configuration,
    "delete_security_configuration",
    "Name",
)
_crawler = _replacing("get_crawler", _create_crawler, "delete_crawler", "Name")
_job = _replacing("get_job", _create_job, "delete_job", "JobName")

KINDS: dict[str, _Kind] = {
    "AWS::Glue::Database": _Kind(
        lambda p: p["DatabaseInput"]["Name"], _apply_database, _remove_database
    ),
    "AWS::Glue::SecurityConfiguration": _Kind(lambda p: p["Name"], *_security_configuration),
    "AWS::Glue::Crawler": _Kind(lambda p: p["Name"], *_crawler),
    "AWS::Glue::Job": _Kind(lambda p: p["Name"], *_job),
    "AWS::StepFunctions::StateMachine": _Kind(
        _state_machine_arn, _apply_state_machine, _remove_state_machine
    ),
    "AWS::CloudWatch::Alarm": _Kind(lambda p: p["AlarmName"], _apply_alarm, _remove_alarm),
    "AWS::S3::BucketPolicy": _Kind(
        lambda p: p["Bucket"], _keep_bucket_policy, _forget_bucket_policy
    ),
}
# Creation order: what a resource names is made before it.
ORDER = list(KINDS)
