"""The ingestion trigger: S3 events start one execution per object, once."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from workflow_support import local_workflow

from etl.core.conventions import dataset_for_key
from etl.core.datasets import get_dataset
from etl.lambdas import trigger
from etl.local import history
from etl.storage.lake import land_file

ORDERS_THRESHOLD = get_dataset("orders").quality_threshold

# Step Functions: 1-80 characters; we keep to the CloudWatch-safe subset.
VALID_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")

# The documented S3 event notification (docs.aws.amazon.com/AmazonS3/latest/userguide/
# notification-content-structure.html), with our bucket and a URL-encoded key.
S3_EVENT = {
    "Records": [
        {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": "2026-11-26T09:15:00.000Z",
            "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
            "requestParameters": {"sourceIPAddress": "203.0.113.10"},
            "responseElements": {
                "x-amz-request-id": "C3D13FE58DE4C810",
                "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "raw-incoming",
                "bucket": {
                    "name": "etl-local-raw",
                    "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                    "arn": "arn:aws:s3:::etl-local-raw",
                },
                "object": {
                    "key": "incoming/daily+orders.xlsx",
                    "size": 7,
                    "eTag": "0123456789abcdef0123456789abcdef",
                    "sequencer": "0A1B2C3D4E5F678901",
                },
            },
        }
    ]
}


def test_the_same_object_always_gets_the_same_valid_name():
    first = trigger.execution_name("incoming/orders.json", '"abc"')
    assert first == trigger.execution_name("incoming/orders.json", "abc")
    assert VALID_NAME.match(first)


def test_a_new_etag_for_the_same_key_gets_a_new_name():
    assert trigger.execution_name("incoming/a.json", "1") != trigger.execution_name(
        "incoming/a.json", "2"
    )


def test_a_very_long_key_with_any_characters_still_gives_a_valid_name():
    key = "incoming/" + "注文 データ [2026] #1? " * 60 + "x" * 900 + ".json"
    name = trigger.execution_name(key, "etag")
    assert VALID_NAME.match(name) and len(name) <= 80
    assert name != trigger.execution_name(key[:-6] + "y.json", "etag")


def test_an_eventbridge_object_created_event_gives_the_same_input_as_the_s3_event():
    s3 = trigger.landed_objects(S3_EVENT)[0]
    bridge = trigger.landed_objects(
        {
            "detail-type": "Object Created",
            "time": "2026-11-26T09:15:00Z",
            "detail": {
                "bucket": {"name": "etl-local-raw"},
                "object": {
                    "key": "incoming/daily orders.xlsx",
                    "size": 7,
                    "etag": "0123456789abcdef0123456789abcdef",
                },
            },
        }
    )[0]
    assert bridge == s3


def test_the_aws_s3_event_starts_one_execution_and_a_repeat_starts_none(spark, lake):
    landed = lake.landing_path("daily orders.xlsx")
    with open(landed, "w") as out:
        out.write("a,b\n1,2\n")
    with local_workflow(spark, lake) as workflow:
        first = trigger.handler(S3_EVENT, None)
        workflow.wait(first["executions"][0]["executionArn"])
        again = trigger.handler(S3_EVENT, None)
    assert [e["status"] for e in first["executions"]] == ["STARTED"]
    assert [e["status"] for e in again["executions"]] == ["ALREADY_STARTED"]
    (only,) = history.list_executions(lake)["executions"]
    record = history.load(lake, only["name"])
    started = json.loads(record["events"][0]["executionStartedEventDetails"]["input"])
    assert started == {
        "inputData": {
            "bucket": "etl-local-raw",
            "key": "incoming/daily orders.xlsx",
            "etag": "0123456789abcdef0123456789abcdef",
            "size": 7,
            "version": "0123456789abcdef0123456789abcdef",  # no versionId: the ETag
        },
        "runDate": "2026-11-26",
        "dataset": {"name": "orders", "threshold": 70.0},
    }


def test_a_repeated_event_starts_nothing_even_in_a_later_process(spark, lake):
    with local_workflow(spark, lake) as workflow:
        workflow.wait(trigger.handler(S3_EVENT, None)["executions"][0]["executionArn"])
    with local_workflow(spark, lake):  # a fresh moto: only the lake remembers
        again = trigger.handler(S3_EVENT, None)
    assert [e["status"] for e in again["executions"]] == ["ALREADY_STARTED"]
    assert len(history.list_executions(lake)["executions"]) == 1


@pytest.mark.parametrize(
    ("key", "dataset"),
    [
        ("incoming/orders.json", "orders"),
        ("incoming/flights/2026-11-26.csv", "flights"),
        ("incoming/flights/nested/f.csv", "flights"),
        ("processed/orders/x.parquet", None),
        ("incoming", None),
    ],
)
def test_the_dataset_comes_from_the_landing_folder(key, dataset):
    assert dataset_for_key(key) == dataset


def test_the_execution_input_carries_the_dataset_and_its_threshold():
    payload = trigger.execution_input("raw", "incoming/orders.json", '"e"', 3, date(2026, 11, 26))
    assert payload["dataset"] == {"name": "orders", "threshold": ORDERS_THRESHOLD}


def test_a_file_for_an_unknown_dataset_fails_validation_and_names_the_known_ones(
    spark, lake, tmp_path
):
    source = tmp_path / "c.json"
    source.write_text('{"id": 1}\n')
    landed = land_file(str(source), lake, "customers")
    assert lake.raw_key(landed) == "incoming/customers/c.json"
    with local_workflow(spark, lake) as workflow:
        record = workflow.run_landed(landed, date(2026, 11, 26))
    assert record["execution"]["error"] == "ValidationFailed"
    assert "unknown dataset 'customers'; known datasets: " in record["execution"]["cause"]


def test_an_eventbridge_key_is_url_decoded_like_an_s3_notification():
    event = {
        "detail-type": "Object Created",
        "time": "2026-11-26T10:00:00Z",
        "detail": {
            "bucket": {"name": "raw"},
            "object": {"key": "incoming/flights/march+2026%E3%83%87.csv", "etag": "e", "size": 1},
        },
    }
    (landed,) = trigger.landed_objects(event)
    assert landed["key"] == "incoming/flights/march 2026デ.csv"
