"""Where the job's metrics go: the lake's metrics file locally, CloudWatch when deployed."""

from __future__ import annotations

import json

from moto import mock_aws

from etl.storage.lake import Lake
from etl.storage.metrics import (
    CloudWatchMetrics,
    LocalMetricsFile,
    metrics_sink_for,
    report_job_metrics,
)


def test_a_local_lake_keeps_metrics_in_its_metrics_file(tmp_path):
    lake = Lake.local(tmp_path).ensure()
    assert isinstance(metrics_sink_for(lake), LocalMetricsFile)
    report_job_metrics(lake, "orders", failed=True)
    record = json.loads((tmp_path / "_system/metrics/metrics.jsonl").read_text())
    assert [(m["MetricName"], m["Value"]) for m in record["MetricData"]] == [("JobFailures", 1.0)]


def test_a_deployed_lake_puts_metrics_to_cloudwatch(monkeypatch):
    """moto stands in for CloudWatch."""
    import boto3

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    lake = Lake.s3(raw="s3://r", curated="s3://c", analytics="s3://a")
    with mock_aws():
        assert isinstance(metrics_sink_for(lake), CloudWatchMetrics)
        report_job_metrics(lake, "orders", failed=False, records=784)
        listed = boto3.client("cloudwatch").list_metrics(Namespace="ETL/Pipeline")["Metrics"]
    names = {m["MetricName"] for m in listed}
    assert names == {"JobFailures", "RecordsProcessed"}
    assert all(m["Dimensions"] == [{"Name": "Dataset", "Value": "orders"}] for m in listed)
