"""The validation and quality-check Lambdas, reading objects from S3 (moto's in-memory S3)."""

from __future__ import annotations

import json

import boto3
import pytest

from etl.core.datasets import get_dataset
from etl.lambdas import quality_check, validation

ORDERS = get_dataset("orders")

BUCKET = "raw"  # the shared ``s3`` fixture's bucket (tests/conftest.py)


def event(key: str, data_format: str = "") -> dict:
    return {
        "inputData": {"bucket": BUCKET, "key": key},
        "validationResult": {"dataFormat": data_format},
    }


def put(s3, key: str, body: bytes) -> str:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return key


def test_validation_accepts_json_lines_and_names_the_format(s3):
    key = put(s3, "incoming/orders.json", b'{"id": 1}\n{"id": 2}\n')
    result = validation.handler(event(key), None)
    assert result["isValid"] and result["dataFormat"] == "json" and result["fileSize"] == 20


def test_validation_rejects_an_unsupported_extension_with_a_reason(s3):
    key = put(s3, "incoming/orders.xlsx", b"x")
    result = validation.handler(event(key), None)
    assert not result["isValid"] and "unsupported file format '.xlsx'" in result["reason"]


@pytest.mark.parametrize(
    ("name", "data_format"),
    [("orders.json", "json"), ("orders_array.json", "json_array"), ("orders.csv", "csv")],
)
def test_the_lambda_scores_text_files_as_the_spark_quality_gate_does(
    s3, spark, small_samples, name, data_format
):
    from etl.stages.extract import read_raw
    from etl.stages.quality import profile, quality_score

    key = put(s3, f"incoming/{name}", (small_samples / name).read_bytes())
    expected = quality_score(profile(read_raw(spark, str(small_samples / name), data_format)))
    assert quality_check.handler(event(key, data_format), None)["qualityScore"] == expected


def test_parquet_rows_and_nulls_come_from_the_footer(s3, small_samples):
    import pyarrow.parquet as pq

    table = pq.read_table(small_samples / "orders.parquet")
    key = put(s3, "incoming/orders.parquet", (small_samples / "orders.parquet").read_bytes())
    result = quality_check.handler(event(key, "parquet"), None)
    assert result["totalRecords"] == table.num_rows
    assert result["nullCounts"] == {c: table[c].null_count for c in table.column_names}
    assert result["duplicatesMeasured"] is False


def test_a_file_of_mostly_nulls_scores_below_the_threshold_with_a_reason(s3):
    rows = [{"id": None, "created_date": None, "status": "ACTIVE"}] * 9 + [{"id": 1}]
    key = put(s3, "incoming/low.json", "".join(json.dumps(r) + "\n" for r in rows).encode())
    result = quality_check.handler(event(key, "json"), None)
    assert result["qualityScore"] < ORDERS.quality_threshold
    assert result["reason"].startswith(f"quality score {result['qualityScore']} is below")


def test_the_score_is_put_as_the_data_quality_score_metric(s3):
    """moto stands in for CloudWatch; the monitoring stack alarms on this metric."""

    key = put(s3, "incoming/ok.json", b'{"id": 1, "status": "ACTIVE"}\n')
    score = quality_check.handler(event(key, "json"), None)["qualityScore"]
    stats = boto3.client("cloudwatch").get_metric_statistics(
        Namespace="ETL/Pipeline",
        MetricName="DataQualityScore",
        Dimensions=[{"Name": "Dataset", "Value": "orders"}],
        StartTime="2000-01-01T00:00:00Z",
        EndTime="2100-01-01T00:00:00Z",
        Period=60,
        Statistics=["Maximum"],
    )
    assert [p["Maximum"] for p in stats["Datapoints"]] == [score]
