"""A moto server standing in for S3 and the Glue Data Catalog, for the deployed publish's
tests: pyarrow (the publish's S3 client) and boto3 reach it through ``AWS_ENDPOINT_URL``,
and so does a child process started with this process's environment."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from unittest import mock

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql.types import LongType, StructField, StructType

from etl.storage.catalog import GlueCatalog, GlueTable
from etl.storage.publish import publish_staged
from etl.storage.publish_s3 import Retention
from etl.storage.staging import PARQUET_SUFFIX, claim_staging

BUCKET = "curated-test"
TABLE = f"s3://{BUCKET}/processed/orders"
DATABASE = "etl_pipeline"
DAY = "process_year=2026/process_month=11/process_day={}"
KEYS = [("process_year", "int"), ("process_month", "int"), ("process_day", "int")]
SCHEMA = StructType([StructField("id", LongType()), *(StructField(k, LongType()) for k, _ in KEYS)])
HOUR = 3600.0
_runs = count(1)


@contextmanager
def moto_server() -> Iterator[dict[str, str]]:
    """Start a moto server on a free port; yield the environment that points AWS at it."""
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
    try:
        with mock.patch.dict(os.environ, environment):
            yield environment
    finally:
        server.stop()


def object_keys(s3, bucket: str, prefix: str = "") -> list[str]:
    """Data objects under ``prefix``; pyarrow's empty ``folder/`` markers are not data."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    found = (o for page in pages for o in page.get("Contents", []))
    return sorted(o["Key"] for o in found if not (o["Key"].endswith("/") and o["Size"] == 0))


def empty_bucket(s3, bucket: str) -> None:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    for page in pages:
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=obj["Key"])


@contextmanager
def moto_bucket() -> Iterator:
    """A moto server with the curated bucket; yields an S3 client (a module's fixture)."""
    with moto_server():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client


class Clock:
    """The time the publish sees; a test moves it forward instead of sleeping."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@contextmanager
def fresh_lake(aws) -> Iterator[S3Lake]:
    """An empty bucket, a fresh Glue table entry, a clock and a one-hour grace period."""
    glue = boto3.client("glue")
    glue.create_database(DatabaseInput={"Name": DATABASE})
    clock = Clock()
    states: dict[str, str] = {}
    retention = Retention(
        grace_seconds=HOUR, clock=clock, run_state=lambda _job, run: states.get(run)
    )
    table = GlueTable(GlueCatalog(glue), DATABASE, "orders", TABLE, SCHEMA, KEYS)
    try:
        yield S3Lake(aws, table, retention, clock, states)
    finally:
        glue.delete_database(Name=DATABASE)
        empty_bucket(aws, BUCKET)


class S3Lake:
    """The curated table on S3 with its Glue entry, as a test drives and reads it."""

    def __init__(self, s3, table, retention, clock, states) -> None:
        self.s3, self.table, self.retention, self.clock = s3, table, retention, clock
        self.run_states = states

    def stage(self, rows: dict[int, list[int]], run: str | None = None) -> str:
        """Spark-like staging output: one Parquet part file per day."""
        run = run or f"jr_{next(_runs)}"
        for day, ids in rows.items():
            key = f"_staging/{run}/{DAY.format(day)}/part-00000-{run}.c000{PARQUET_SUFFIX}"
            self.s3.put_object(Bucket=BUCKET, Key=key, Body=parquet(ids))
        return f"s3://{BUCKET}/_staging/{run}"  # Lake.staging_path: beside the zone's tables

    def publish(self, source: str, rows: dict[int, list[int]], **options):
        staging = self.stage(rows)
        claim_staging(staging, job_run=("transform", staging.rsplit("/", 1)[-1]), now=self.clock())
        return publish_staged(
            staging, TABLE, 3, source, table=self.table, retention=self.retention, **options
        )

    def locations(self) -> dict[int, str]:
        """The location the catalog gives each day's partition."""
        return {int(values[-1]): loc for values, loc in self.table.locations().items()}

    def rows_at(self, location: str) -> set[int]:
        """What Athena reads for a partition at ``location``: its Parquet files (not the
        hidden ones)."""
        prefix = location.removeprefix(f"s3://{BUCKET}/") + "/"
        ids: set[int] = set()
        for key in object_keys(self.s3, BUCKET, prefix):
            name = key[len(prefix) :]
            if "/" not in name and not name.startswith(("_", ".")):
                body = self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
                ids |= set(pq.read_table(io.BytesIO(body)).column("id").to_pylist())
        return ids

    def seen(self) -> dict[int, set[int]]:
        """Every partition as a reader of the catalog sees it."""
        return {day: self.rows_at(location) for day, location in self.locations().items()}

    def exists(self, location: str) -> bool:
        return bool(object_keys(self.s3, BUCKET, location.removeprefix(f"s3://{BUCKET}/") + "/"))


def parquet(ids: list[int]) -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.table({"id": pa.array(ids, pa.int64())}), out)
    return out.getvalue()
