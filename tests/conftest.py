"""Shared fixtures: one local Spark session for the whole test run, throwaway lakes, and
moto standing in for S3 with the raw bucket the Lambda tests' events name."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
# Each test run starts its own JVM: a Spark server the developer keeps running (`etl spark
# start`) must not serve the tests; the server's own tests point at one of their own.
os.environ["ETL_SPARK_SERVER"] = "off"
os.environ["ETL_SPARK_SERVER_AUTOSTART"] = "off"  # nor start one for "the next runs"

RUN_DATE = date(2026, 11, 26)


RAW_BUCKET = "raw"  # the bucket of the Lambda tests' events (their modules' BUCKET)


@pytest.fixture
def s3(monkeypatch):
    """An S3 client on moto's in-memory S3 (a stand-in for AWS) holding ``RAW_BUCKET``."""
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # Lambda always sets the region
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=RAW_BUCKET)
        yield client


@pytest.fixture(scope="module")
def s3_lake_bucket():
    """moto's S3 (a stand-in for AWS) with the S3 lake tests' bucket (``s3_support``), one
    per test module; ``s3_support.fresh_lake`` gives each test a clean table in it."""
    from s3_support import moto_bucket

    with moto_bucket() as s3:
        yield s3


@pytest.fixture(scope="session")
def spark():
    """The one Spark session of the test run (fewer shuffle partitions: test data is tiny)."""
    from etl.jobs.session import get_spark

    session = get_spark("etl-workbench-tests")
    session.conf.set("spark.sql.shuffle.partitions", "2")
    yield session


@pytest.fixture
def lake(tmp_path: Path):
    from etl.storage.lake import Lake

    return Lake.local(tmp_path / "lake").ensure()


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> Path:
    """The sample feed in every format, 300 records relative to ``RUN_DATE``."""
    from etl.local.samples.orders import write_samples

    out = tmp_path_factory.mktemp("sample")
    write_samples(out, rows=300, as_of=RUN_DATE)
    return out
