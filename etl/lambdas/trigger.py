"""The ingestion trigger: an S3 "object created" event starts one workflow execution.

Accepts S3 event notifications (``Records[].s3``) and EventBridge "Object Created" events.
The dataset comes from the key (``incoming/<dataset>/<file>``; a file directly under
``incoming/`` belongs to the default dataset) and travels in the execution input with its
quality threshold, so the state machine holds nothing dataset-specific.
The object's version travels too: ``inputData.versionId`` is the S3 ``VersionId`` the event
reports (the raw bucket is versioned; the Lambdas read that version), and
``inputData.version`` the version the run processes and names its rows after - the
``VersionId``, or the ETag when the bucket is not versioned - so a daily feed that re-uses a
key is a new source each day. The execution name is derived from the key, version and ETag,
so a repeated event for the same object version asks for the same name and Step Functions
refuses a second execution (``ExecutionAlreadyExists``, treated here as success).
"""

from __future__ import annotations

import hashlib
import os
import re
from datetime import UTC, date, datetime
from urllib.parse import unquote_plus

from etl.core.conventions import dataset_for_key
from etl.core.datasets import SpecError, get_dataset

MAX_EXECUTION_NAME = 80
DIGEST_CHARS = 20
# A dataset without a spec still gets an execution (its validation fails and is
# notified); the threshold it carries is never reached.
UNKNOWN_DATASET_THRESHOLD = 100.0


def execution_name(key: str, etag: str, version_id: str = "") -> str:
    """``<file stem>-<digest of key+ETag+version>``: at most 80 characters of ``[A-Za-z0-9_-]``.

    Stricter than Step Functions requires, so names are also valid CloudWatch log names.
    """
    identity = "\n".join((key, etag.strip('"'), *([version_id] if version_id else [])))
    digest = hashlib.sha256(identity.encode()).hexdigest()[:DIGEST_CHARS]
    stem = key.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")
    slug = slug[: MAX_EXECUTION_NAME - DIGEST_CHARS - 1].rstrip("-") or "object"
    return f"{slug}-{digest}"


def execution_input(
    bucket: str, key: str, etag: str, size: int, run_date: date, version_id: str = ""
) -> dict:
    """The workflow's input for one landed object: the object and its version, run date and
    dataset. Without a ``version_id`` (a bucket without versioning) the ETag is the version."""
    obj = {"bucket": bucket, "key": key, "etag": etag.strip('"'), "size": size}
    if version_id:
        obj["versionId"] = version_id
    obj["version"] = version_id or obj["etag"]
    return {
        "inputData": obj,
        "runDate": run_date.isoformat(),
        "dataset": dataset_input(dataset_for_key(key) or ""),
    }


def dataset_input(name: str) -> dict:
    """``{name, threshold}`` for the execution input (the threshold from the dataset's spec)."""
    try:
        threshold = get_dataset(name).quality_threshold
    except SpecError:
        threshold = UNKNOWN_DATASET_THRESHOLD
    return {"name": name, "threshold": threshold}


def landed_objects(event: dict) -> list[dict]:
    """``[{bucket, key, etag, size, version_id, run_date}]`` for every object the event
    reports (``version_id`` ``""`` when the bucket is not versioned)."""
    if event.get("detail-type") == "Object Created":  # EventBridge
        detail = event["detail"]
        return [
            _landed(
                detail["bucket"]["name"],
                unquote_plus(detail["object"]["key"]),  # URL-encoded, as in S3 notifications
                detail["object"].get("etag", ""),
                detail["object"].get("size", 0),
                detail["object"].get("version-id", ""),
                event.get("time"),
            )
        ]
    return [
        _landed(
            record["s3"]["bucket"]["name"],
            unquote_plus(record["s3"]["object"]["key"]),
            record["s3"]["object"].get("eTag", ""),
            record["s3"]["object"].get("size", 0),
            record["s3"]["object"].get("versionId", ""),
            record.get("eventTime"),
        )
        for record in event.get("Records", [])
        if record.get("eventName", "ObjectCreated:").startswith("ObjectCreated:")
    ]


def _landed(bucket: str, key: str, etag: str, size: int, version_id: str, when: str | None) -> dict:
    moment = datetime.fromisoformat(when.replace("Z", "+00:00")) if when else datetime.now(UTC)
    # A bucket with versioning suspended reports the version "null": no version to read by.
    version_id = "" if version_id in (None, "null") else str(version_id)
    return {
        "bucket": bucket,
        "key": key,
        "etag": etag,
        "size": int(size),
        "version_id": version_id,
        "run_date": moment,
    }


def handler(event: dict, context: object = None) -> dict:
    """Start one execution per landed object under ``incoming/``; return what happened."""
    import boto3

    sfn = boto3.client("stepfunctions")
    state_machine = os.environ["STATE_MACHINE_ARN"]
    started = []
    for obj in landed_objects(event):
        if dataset_for_key(obj["key"]) is None:
            continue
        name = execution_name(obj["key"], obj["etag"], obj["version_id"])
        run_date = obj["run_date"].astimezone(UTC).date()
        payload = execution_input(
            obj["bucket"], obj["key"], obj["etag"], obj["size"], run_date, obj["version_id"]
        )
        try:
            arn = sfn.start_execution(
                stateMachineArn=state_machine, name=name, input=_json(payload)
            )["executionArn"]
            started.append({"name": name, "executionArn": arn, "status": "STARTED"})
        except sfn.exceptions.ExecutionAlreadyExists:
            started.append({"name": name, "status": "ALREADY_STARTED"})
    return {"executions": started}


def _json(value: dict) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))
