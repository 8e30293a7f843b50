"""The template rewrite a deploy to an emulator uses (etl.deploy.emulator), on small templates.

test_infra_deploy.py deploys the real stacks this way into moto; these pin the rewrite rules.
"""

from __future__ import annotations

import json

import pytest
from infra_support import INFRA

from etl.deploy.emulator import (
    CARRIER_PREFIX,
    EmulatorError,
    carried_resources,
    emulator_template,
    imported_names,
    load_template,
    public_outputs,
    state_machine_definition,
)

JOB = {
    "Type": "AWS::Glue::Job",
    "Properties": {
        "Name": {"Fn::Sub": "${ProjectName}-transform"},
        "Role": {"Fn::GetAtt": ["JobRole", "Arn"]},
        "Command": {"Name": "glueetl"},
    },
}


def template(**resources) -> dict:
    return {
        "Parameters": {"ProjectName": {"Type": "String", "Default": "etl-pipeline"}},
        "Resources": {"JobRole": {"Type": "AWS::IAM::Role", "Properties": {}}, **resources},
        "Outputs": {},
    }


def test_an_emulated_resource_leaves_the_resources_for_a_carrier_output():
    rewritten = emulator_template(template(TransformJob=JOB))
    assert "TransformJob" not in rewritten["Resources"]
    assert "JobRole" in rewritten["Resources"]
    carrier = rewritten["Outputs"][f"{CARRIER_PREFIX}TransformJob"]
    assert carrier["Value"] == {"Fn::ToJsonString": JOB}


def test_a_ref_to_an_emulated_resource_becomes_its_name():
    source = template(TransformJob=JOB)
    source["Outputs"]["TransformJobName"] = {"Value": {"Ref": "TransformJob"}}
    rewritten = emulator_template(source)
    assert rewritten["Outputs"]["TransformJobName"]["Value"] == JOB["Properties"]["Name"]


def test_a_sub_naming_an_emulated_resource_gets_its_name_as_a_variable():
    source = template(TransformJob=JOB)
    source["Outputs"]["JobArn"] = {"Value": {"Fn::Sub": "arn:glue:job/${TransformJob}-${!Keep}"}}
    rewritten = emulator_template(source)
    assert rewritten["Outputs"]["JobArn"]["Value"] == {
        "Fn::Sub": [
            "arn:glue:job/${TransformJob}-${!Keep}",
            {"TransformJob": JOB["Properties"]["Name"]},
        ]
    }


def test_a_state_machine_ref_is_its_arn_and_its_name_attribute_its_name():
    machine = {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {"StateMachineName": "flow", "RoleArn": "role"},
    }
    source = template(Flow=machine)
    source["Outputs"] = {
        "Arn": {"Value": {"Ref": "Flow"}},
        "Name": {"Value": {"Fn::GetAtt": ["Flow", "Name"]}},
    }
    outputs = emulator_template(source)["Outputs"]
    assert outputs["Name"]["Value"] == "flow"
    text, variables = outputs["Arn"]["Value"]["Fn::Sub"]
    assert text.endswith(":stateMachine:${Name}") and variables == {"Name": "flow"}


def test_a_getatt_the_emulator_cannot_answer_is_refused():
    source = template(TransformJob=JOB)
    source["Outputs"]["Odd"] = {"Value": {"Fn::GetAtt": ["TransformJob", "Unknown"]}}
    with pytest.raises(EmulatorError, match=r"TransformJob\.Unknown"):
        emulator_template(source)


def test_carriers_are_read_back_and_kept_out_of_the_stack_outputs():
    outputs = {
        "TransformJobName": "etl-pipeline-transform",
        f"{CARRIER_PREFIX}TransformJob": json.dumps({"Type": JOB["Type"], "Properties": {}}),
    }
    assert public_outputs(outputs) == {"TransformJobName": "etl-pipeline-transform"}
    assert carried_resources(outputs) == {"TransformJob": {"Type": JOB["Type"], "Properties": {}}}


def test_the_glue_stack_imports_are_spelled_from_its_parameters():
    glue = load_template(INFRA / "glue.yaml")
    names = imported_names(glue, {"ProjectName": "demo", "EnvironmentName": "dev"})
    assert "demo-dev-RawBucketName" in names
    assert all(name.startswith("demo-dev-") for name in names)


def test_no_reference_to_a_moved_resource_is_left_in_the_real_templates():
    for path in sorted(INFRA.glob("*.yaml")):
        rewritten = emulator_template(load_template(path))
        moved = [
            k.removeprefix(CARRIER_PREFIX) for k in rewritten["Outputs"] if CARRIER_PREFIX in k
        ]
        text = json.dumps(rewritten)
        for logical in moved:
            assert logical not in rewritten["Resources"]
            for reference in (f'"Ref": "{logical}"', f'["{logical}", ', "${" + logical + "}"):
                if reference.startswith("${"):
                    # kept only as a Fn::Sub variable that the rewrite defined
                    assert f'"{logical}": ' in text or reference not in text, (path.name, logical)
                else:
                    assert reference not in text, (path.name, reference)


def test_a_definition_missing_a_substitution_is_refused():
    props = {
        "StateMachineName": "flow",
        "DefinitionString": '{"Resource": "${FunctionArn}"}',
        "DefinitionSubstitutions": {},
    }
    with pytest.raises(EmulatorError, match="FunctionArn"):
        state_machine_definition(lambda service: None, props)
