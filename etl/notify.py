"""Metrics and notifications: the seed's CloudWatch metrics and SNS messages, locally.

Locally both go to JSON-lines files under ``<lake>/_system`` (and notifications to the
console); deployed, the same records go to CloudWatch ``put_metric_data`` and SNS ``publish``.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from etl.lake import Lake, is_s3

METRIC_NAMESPACE = "ETL/Pipeline"
SUBJECTS = {
    "SUCCESS": "ETL Pipeline Completed Successfully",
    "VALIDATION_FAILED": "ETL Pipeline - Data Validation Failed",
    "QUALITY_CHECK_FAILED": "ETL Pipeline - Data Quality Check Failed",
    "FAILED": "ETL Pipeline Failed",
}


def build_message(status: str, execution: str, **details: object) -> dict:
    """An SNS message body shaped like the seed's state-machine notifications."""
    if status not in SUBJECTS:
        raise ValueError(
            f"unknown notification status {status!r}; expected one of {list(SUBJECTS)}"
        )
    return {"status": status, "executionArn": execution, **details}


def metric_data(dataset: str, **values: float) -> list[dict]:
    """``put_metric_data`` ``MetricData`` for RecordsProcessed, DataQualityScore, JobFailures."""
    units = {"RecordsProcessed": "Count", "DataQualityScore": "Percent", "JobFailures": "Count"}
    return [
        {
            "MetricName": name,
            "Value": float(value),
            "Unit": units.get(name, "None"),
            "Dimensions": [{"Name": "Dataset", "Value": dataset}],
        }
        for name, value in values.items()
    ]


class LocalSink:
    """Notifications and metrics appended to files in the lake (plus the console)."""

    def __init__(self, lake: Lake, echo: bool = True) -> None:
        self.notifications = Path(lake.system_path("notifications", "notifications.jsonl"))
        self.metrics = Path(lake.system_path("metrics", "metrics.jsonl"))
        self.echo = echo

    def publish(self, message: dict, subject: str | None = None) -> dict:
        record = {
            "Timestamp": _now(),
            "Subject": subject or SUBJECTS[message["status"]],
            "Message": message,
        }
        _append(self.notifications, record)
        if self.echo:
            print(
                f"[notify] {record['Subject']}: {json.dumps(message, default=str)}", file=sys.stderr
            )
        return record

    def put_metrics(self, metric_records: list[dict]) -> None:
        _append(
            self.metrics,
            {"Namespace": METRIC_NAMESPACE, "Timestamp": _now(), "MetricData": metric_records},
        )


class AwsSink:
    """The deployed equivalents: SNS and CloudWatch through boto3."""

    def __init__(self, topic_arn: str) -> None:
        import boto3

        self.topic_arn = topic_arn
        self.sns = boto3.client("sns")
        self.cloudwatch = boto3.client("cloudwatch")

    def publish(self, message: dict, subject: str | None = None) -> dict:
        subject = subject or SUBJECTS[message["status"]]
        self.sns.publish(
            TopicArn=self.topic_arn, Subject=subject, Message=json.dumps(message, default=str)
        )
        return {"Subject": subject, "Message": message}

    def put_metrics(self, metric_records: list[dict]) -> None:
        self.cloudwatch.put_metric_data(Namespace=METRIC_NAMESPACE, MetricData=metric_records)


def sink_for(lake: Lake, topic_arn: str | None = None) -> LocalSink | AwsSink:
    return AwsSink(topic_arn) if is_s3(lake.curated) and topic_arn else LocalSink(lake)


def _append(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(record, default=str, ensure_ascii=False) + "\n")


def _now() -> str:
    return datetime.now(UTC).isoformat()
