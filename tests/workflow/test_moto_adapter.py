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

from etl.local.moto_adapter import AwsServiceError, json_payload, local_step_functions

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
