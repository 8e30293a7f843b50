"""Metrics and notifications: the seed's CloudWatch metrics and SNS messages.

The Glue job reports JobFailures and RecordsProcessed (``report_job_metrics``) to CloudWatch
when deployed, to ``<lake>/_system/metrics/metrics.jsonl`` locally; the quality-check Lambda
reports DataQualityScore (locally its CloudWatch call lands in the same file). Notifications are
published by the state machine's ``sns:publish`` states; locally the workflow adapter hands
them to ``LocalSink``, which appends them to ``<lake>/_system/notifications`` and the console.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from etl.lake import Lake, is_s3
from etl.metrics import METRIC_NAMESPACE, metric_data

SUBJECTS = {
    "SUCCESS": "ETL Pipeline Completed Successfully",
    "VALIDATION_FAILED": "ETL Pipeline - Data Validation Failed",
    "QUALITY_CHECK_FAILED": "ETL Pipeline - Data Quality Check Failed",
    "FAILED": "ETL Pipeline Failed",
}


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


class CloudWatchMetrics:
    """Deployed metrics: CloudWatch ``put_metric_data`` (the job's role allows the namespace)."""

    def __init__(self) -> None:
        import boto3

        self.cloudwatch = boto3.client("cloudwatch")

    def put_metrics(self, metric_records: list[dict]) -> None:
        self.cloudwatch.put_metric_data(Namespace=METRIC_NAMESPACE, MetricData=metric_records)


def metrics_sink_for(lake: Lake) -> LocalSink | CloudWatchMetrics:
    """CloudWatch for a lake on S3, the lake's metrics file for a local one."""
    return CloudWatchMetrics() if is_s3(lake.curated) else LocalSink(lake, echo=False)


def report_job_metrics(lake: Lake, dataset: str, failed: bool, records: int | None = None) -> None:
    """The Glue job's JobFailures, plus RecordsProcessed (curated rows written) on success."""
    values: dict[str, float] = {"JobFailures": 1 if failed else 0}
    if records is not None:
        values["RecordsProcessed"] = records
    metrics_sink_for(lake).put_metrics(metric_data(dataset, **values))


def _append(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(record, default=str, ensure_ascii=False) + "\n")


def _now() -> str:
    return datetime.now(UTC).isoformat()
