"""The seam between moto's Step Functions interpreter and our local handlers.

If a moto upgrade moves any of the things ``etl.local.moto_adapter`` relies on, one of
these fails: each runs a tiny definition and checks what a local run depends on.
"""

from __future__ import annotations

import json
import threading
import time

import boto3
import pytest

from etl.local.moto_adapter import (
    AwsServiceError,
    execution_status,
    json_payload,
    local_step_functions,
)

ROLE = "arn:aws:iam::123456789012:role/test"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:f"
AN_HOUR = 3600


def run(definition: dict, handlers: dict, execution_input: dict | None = None) -> tuple[dict, list]:
    """Run ``definition`` to its end (a loud timeout if waits were not compressed)."""
    with local_step_functions(handlers, time_scale=0.0):
        sfn = boto3.client("stepfunctions")
        machine = sfn.create_state_machine(
            name="seam", definition=json.dumps(definition), roleArn=ROLE
        )["stateMachineArn"]
        arn = sfn.start_execution(
            stateMachineArn=machine, name="e", input=json.dumps(execution_input or {})
        )["executionArn"]
        described = _wait(sfn, arn)
        return described, sfn.get_execution_history(executionArn=arn)["events"]


def _wait(sfn, arn: str, timeout: float = 20.0) -> dict:
    deadline, tick = time.monotonic() + timeout, threading.Event()
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        if time.monotonic() > deadline:
            pytest.fail(f"execution still running after {timeout} s: time compression broke?")
        tick.wait(0.02)
    return described


def test_lambda_invoke_reaches_the_local_handler_and_its_payload_is_the_result():
    seen = []

    def invoke(params):
        seen.append(json.loads(params["Payload"]))
        return {"StatusCode": 200, "Payload": json_payload({"answer": 42})}

    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": FUNCTION, "Payload.$": "$"},
                "ResultSelector": {"answer.$": "$.Payload.answer"},
                "End": True,
            }
        },
    }
    described, _ = run(definition, {("lambda", "Invoke"): invoke}, {"question": "?"})
    assert seen == [{"question": "?"}]
    assert json.loads(described["output"]) == {"answer": 42}


def test_wait_states_and_retry_intervals_are_compressed():
    attempts = []

    def invoke(params):
        attempts.append(1)
        if len(attempts) == 1:
            raise AwsServiceError("ServiceException", "try again", status=500)
        return {"StatusCode": 200, "Payload": json_payload({})}

    definition = {
        "StartAt": "Wait",
        "States": {
            "Wait": {"Type": "Wait", "Seconds": AN_HOUR, "Next": "Call"},
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": FUNCTION},
                "Retry": [
                    {
                        "ErrorEquals": ["Lambda.ServiceException"],
                        "IntervalSeconds": AN_HOUR,
                        "MaxAttempts": 2,
                    }
                ],
                "End": True,
            },
        },
    }
    described, _ = run(definition, {("lambda", "Invoke"): invoke})
    assert described["status"] == "SUCCEEDED" and len(attempts) == 2


def test_glue_start_job_run_sync_polls_get_job_run_to_its_end_state():
    def start(params):
        assert params["Arguments"] == {"--source-path": "s3://b/k.json"}
        return {"JobRunId": "jr_1"}

    def get(params):
        return {"JobRun": {"Id": params["RunId"], "JobRunState": "SUCCEEDED"}}

    definition = {
        "StartAt": "Job",
        "States": {
            "Job": {
                "Type": "Task",
                "Resource": "arn:aws:states:::glue:startJobRun.sync",
                "Parameters": {
                    "JobName": "j",
                    "Arguments": {"--source-path.$": "States.Format('s3://{}/{}', $.b, $.k)"},
                },
                "End": True,
            }
        },
    }
    handlers = {("glue", "StartJobRun"): start, ("glue", "GetJobRun"): get}
    described, _ = run(definition, handlers, {"b": "b", "k": "k.json"})
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["JobRunState"] == "SUCCEEDED"


def test_aws_sdk_glue_errors_carry_the_aws_error_name():
    def start_crawler(params):
        raise AwsServiceError("CrawlerRunningException", "busy")

    definition = {
        "StartAt": "Crawl",
        "States": {
            "Crawl": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:glue:startCrawler",
                "Parameters": {"Name": "c"},
                "Catch": [{"ErrorEquals": ["Glue.CrawlerRunningException"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Succeed"},
        },
    }
    described, events = run(definition, {("glue", "StartCrawler"): start_crawler})
    assert described["status"] == "SUCCEEDED"
    failures = [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"]
    assert failures == ["Glue.CrawlerRunningException"]


def test_sns_publish_reaches_the_local_handler_with_the_message_as_json_text():
    published = []

    def publish(params):
        published.append(json.loads(params["Message"]))
        return {"MessageId": "m"}

    definition = {
        "StartAt": "Notify",
        "States": {
            "Notify": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sns:publish",
                "Parameters": {
                    "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
                    "Message": {"status": "SUCCESS", "execution.$": "$$.Execution.Name"},
                },
                "End": True,
            }
        },
    }
    run(definition, {("sns", "Publish"): publish})
    assert published == [{"status": "SUCCESS", "execution": "e"}]


BATCH_FACTS = """
import json, sys
sys.path.insert(0, sys.argv[1])
from test_moto_adapter import run
from etl.local.moto_adapter import BATCH_TASK_MODULE

facts = {}
run({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, {})
facts["imported without a Batch Task"] = sorted(
    m for m in ("moto.batch", "moto.ec2") if m in sys.modules
)
batch = {"Type": "Task", "Resource": "arn:aws:states:::batch:submitJob", "End": True}
batch["Parameters"] = {"JobName": "j", "JobQueue": "q", "JobDefinition": "d"}
_, events = run({"StartAt": "B", "States": {"B": batch}}, {})
scheduled = [e["taskScheduledEventDetails"] for e in events if e["type"] == "TaskScheduled"]
facts["scheduled"] = [(d["resourceType"], d["resource"]) for d in scheduled]
facts["batch task from"] = sys.modules[BATCH_TASK_MODULE].StateTaskServiceBatch.__module__
facts["imported with one"] = sorted(m for m in ("moto.batch", "moto.ec2") if m in sys.modules)
print(json.dumps(facts))
"""


def test_the_batch_task_and_moto_batch_and_ec2_are_imported_only_for_a_batch_task():
    # A fresh interpreter: this test session may have imported moto's Batch already.
    import subprocess
    import sys
    from pathlib import Path

    here = str(Path(__file__).parent)
    done = subprocess.run(
        [sys.executable, "-c", BATCH_FACTS, here], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts["imported without a Batch Task"] == []
    assert facts["scheduled"] == [["batch", "submitJob"]]  # moto's own Batch Task ran it
    assert facts["batch task from"] == (
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service"
        ".state_task_service_batch"
    )
    assert facts["imported with one"] == ["moto.batch", "moto.ec2"]


def test_execution_status_is_the_one_describe_execution_gives_while_running_and_at_the_end():
    entered, release = threading.Event(), threading.Event()

    def invoke(params):
        entered.set()
        release.wait(20)
        if json.loads(params["Payload"]).get("fail"):
            raise AwsServiceError("ServiceException", "the function failed", 500)
        return {"StatusCode": 200, "Payload": json_payload({})}

    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True}
    task["Parameters"] = {"FunctionName": FUNCTION, "Payload.$": "$"}
    definition = {"StartAt": "Call", "States": {"Call": task}}
    seen = []
    with local_step_functions({("lambda", "Invoke"): invoke}):
        sfn = boto3.client("stepfunctions")
        machine = sfn.create_state_machine(
            name="status", definition=json.dumps(definition), roleArn=ROLE
        )["stateMachineArn"]
        for name, execution_input in (("ok", {}), ("bad", {"fail": True})):
            entered.clear()
            release.clear()
            arn = sfn.start_execution(
                stateMachineArn=machine, name=name, input=json.dumps(execution_input)
            )["executionArn"]
            assert entered.wait(20)
            seen.append((execution_status(arn), sfn.describe_execution(executionArn=arn)["status"]))
            release.set()
            ended = _wait(sfn, arn)["status"]
            seen.append((execution_status(arn), ended))
    assert seen == [
        ("RUNNING", "RUNNING"),
        ("SUCCEEDED", "SUCCEEDED"),
        ("RUNNING", "RUNNING"),
        ("FAILED", "FAILED"),
    ]
