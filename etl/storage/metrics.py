"""Where the pipeline's CloudWatch metrics go: CloudWatch when deployed, a file locally.

The Glue job reports JobFailures and RecordsProcessed (``report_job_metrics``); the
quality-check Lambda reports DataQualityScore itself. Locally both land in
``<lake>/_system/metrics/metrics.jsonl`` (the local workflow answers the Lambda's
``PutMetricData`` with ``LocalMetricsFile``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from etl.core.metrics import METRIC_NAMESPACE, metric_data
from etl.storage.lake import Lake, is_s3


class LocalMetricsFile:
    """Metric records appended to the lake's metrics file (CloudWatch's local stand-in)."""

    def __init__(self, lake: Lake) -> None:
        self.path = Path(lake.system_path("metrics", "metrics.jsonl"))

    def put_metrics(self, metric_records: list[dict]) -> None:
        append_json_line(
            self.path,
            {"Namespace": METRIC_NAMESPACE, "Timestamp": now_iso(), "MetricData": metric_records},
        )


class CloudWatchMetrics:
    """Deployed metrics: CloudWatch ``put_metric_data`` (the job's role allows the namespace)."""

    def __init__(self) -> None:
        import boto3

        self.cloudwatch = boto3.client("cloudwatch")

    def put_metrics(self, metric_records: list[dict]) -> None:
        self.cloudwatch.put_metric_data(Namespace=METRIC_NAMESPACE, MetricData=metric_records)


def metrics_sink_for(lake: Lake) -> LocalMetricsFile | CloudWatchMetrics:
    """CloudWatch for a lake on S3, the lake's metrics file for a local one."""
    return CloudWatchMetrics() if is_s3(lake.curated) else LocalMetricsFile(lake)


def report_job_metrics(lake: Lake, dataset: str, failed: bool, records: int | None = None) -> None:
    """The Glue job's JobFailures, plus RecordsProcessed (curated rows written) on success."""
    values: dict[str, float] = {"JobFailures": 1 if failed else 0}
    if records is not None:
        values["RecordsProcessed"] = records
    metrics_sink_for(lake).put_metrics(metric_data(dataset, **values))


def append_json_line(path: Path, record: dict) -> None:
    """Append one JSON record to a ``.jsonl`` file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(record, default=str, ensure_ascii=False) + "\n")


def now_iso() -> str:
    return datetime.now(UTC).isoformat()
