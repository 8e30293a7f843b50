"""The deployed (S3) side of the load's publish, against a local moto S3 server.

Spark cannot write to S3 here (no s3a jars), so the staging objects are put with pyarrow,
as Glue's Spark would leave them; ``publish_staged`` is the code the Glue job runs after it.
moto stands in for S3 only.
"""

from __future__ import annotations

import os
from unittest import mock

import boto3
import pytest

from etl.storage.publish import PARQUET_SUFFIX, publish_staged, source_id

A, B = source_id("a.json"), source_id("b.json")

BUCKET = "curated-test"
TABLE = f"s3://{BUCKET}/processed/orders"
DAY_26 = "process_year=2026/process_month=11/process_day=26"
DAY_27 = "process_year=2026/process_month=11/process_day=27"


@pytest.fixture(scope="module")
def s3():
    """A moto S3 server; pyarrow and boto3 reach it through AWS_ENDPOINT_URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    environment = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
    with mock.patch.dict(os.environ, environment):
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client
    server.stop()


@pytest.fixture
def clean_bucket(s3):
    yield s3
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=obj["Key"])


def stage(s3, run: str, partition: str, parts: int) -> str:
    """Spark-like staging output: ``parts`` part files in one partition folder."""
    for index in range(parts):
        key = f"_staging/{run}/{partition}/part-{index:05d}-{run}.c000{PARQUET_SUFFIX}"
        s3.put_object(Bucket=BUCKET, Key=key, Body=f"{run}-{index}".encode())
    return f"s3://{BUCKET}/_staging/{run}"  # Lake.staging_path: beside the zone's tables


def keys(s3, prefix: str = "processed/") -> list[str]:
    """Data objects under ``prefix``; pyarrow's empty ``folder/`` markers are not data."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    found = (o for page in pages for o in page.get("Contents", []))
    return sorted(o["Key"] for o in found if not (o["Key"].endswith("/") and o["Size"] == 0))


def test_a_publish_names_files_after_the_source_and_removes_the_staging(clean_bucket):
    s3 = clean_bucket
    published = publish_staged(stage(s3, "r1", DAY_26, 2), TABLE, 3, "s3://raw/incoming/a.json")
    assert [(p.values, p.location, p.files) for p in published] == [
        (["2026", "11", "26"], f"{TABLE}/{DAY_26}", 2)
    ]
    assert keys(s3) == [
        f"processed/orders/{DAY_26}/{source_id('s3://raw/incoming/a.json')}-part-{i:05d}{PARQUET_SUFFIX}"
        for i in range(2)
    ]
    assert keys(s3, "_staging/r1/") == []


def test_republishing_a_source_replaces_its_files_and_keeps_other_sources(clean_bucket):
    s3 = clean_bucket
    publish_staged(stage(s3, "r1", DAY_26, 2), TABLE, 3, "a.json")
    publish_staged(stage(s3, "r2", DAY_26, 1), TABLE, 3, "b.json")
    publish_staged(stage(s3, "r3", DAY_26, 1), TABLE, 3, "a.json")
    folder = f"processed/orders/{DAY_26}"
    assert keys(s3) == [
        f"{folder}/{A}-part-00000{PARQUET_SUFFIX}",
        f"{folder}/{B}-part-00000{PARQUET_SUFFIX}",
    ]
    body = s3.get_object(Bucket=BUCKET, Key=f"{folder}/{A}-part-00000{PARQUET_SUFFIX}")
    assert body["Body"].read() == b"r3-0"


def test_a_source_processed_on_another_day_leaves_its_earlier_partition(clean_bucket):
    s3 = clean_bucket
    publish_staged(stage(s3, "r1", DAY_26, 1), TABLE, 3, "a.json")
    publish_staged(stage(s3, "r2", DAY_26, 1), TABLE, 3, "b.json")
    publish_staged(stage(s3, "r3", DAY_27, 1), TABLE, 3, "a.json")
    assert keys(s3) == [
        f"processed/orders/{DAY_26}/{B}-part-00000{PARQUET_SUFFIX}",
        f"processed/orders/{DAY_27}/{A}-part-00000{PARQUET_SUFFIX}",
    ]


def test_an_additive_publish_keeps_the_source_in_other_partitions(clean_bucket):
    s3 = clean_bucket
    publish_staged(stage(s3, "r1", DAY_26, 1), TABLE, 3, "daily_sales")
    publish_staged(stage(s3, "r2", DAY_27, 1), TABLE, 3, "daily_sales", replace_elsewhere=False)
    assert len(keys(s3, "processed/orders/")) == 2
