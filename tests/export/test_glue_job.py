"""The Glue job's arguments, its lake, the awsglue stand-in and the Glue Data Catalog."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from pyspark.sql.types import LongType, StringType, StructField, StructType
from pyspark.testing import assertDataFrameEqual

from etl.core.datasets import get_dataset
from etl.deploy import export
from etl.jobs.glue_job import job_arguments, job_lake, job_options
from etl.local.pipeline import run_pipeline
from etl.storage.catalog import GlueCatalog
from etl.storage.lake import Lake

ORDERS = get_dataset("orders")

ZONES = ["--raw-zone", "lake/raw", "--curated-zone", "lake/curated"]
ARGV = [
    "transform_job.py",
    "--JOB_NAME",
    "local",
    "--source-path",
    "lake/raw/incoming/orders.json",
    *ZONES,
    "--analytics-zone",
    "lake/analytics",
    "--database-name",
    "etl_pipeline",
]


def _resolve(argv):
    import etl.jobs.awsglue_local  # noqa: F401  (before awsglue: it provides the stand-in)

    # isort: split
    from awsglue.utils import getResolvedOptions

    return getResolvedOptions(argv, job_options(argv))


def test_optional_arguments_are_resolved_only_when_given():
    assert "run-date" not in job_options(ARGV)
    assert job_options([*ARGV, "--run-date", "2026-01-31"])[-1] == "run-date"


def test_arguments_arrive_with_underscores_like_glues_resolver():
    args = _resolve([*ARGV, "--run-date", "2026-01-31"])
    run = job_arguments(args)
    assert run.run_date == date(2026, 1, 31)
    assert run.dataset == "orders"
    assert run.source_path == str(Path("lake/raw/incoming/orders.json").resolve())


def test_a_missing_required_argument_is_an_error_naming_it():
    from awsglue.utils import GlueArgumentError

    with pytest.raises(GlueArgumentError, match="--database-name"):
        _resolve(ARGV[:-2])


def test_the_stand_in_is_never_mistaken_for_glue():
    import etl.jobs.awsglue_local  # noqa: F401
    from etl.jobs.session import in_glue

    assert in_glue() is False


def test_local_zones_share_the_bookkeeping_of_etl_run(tmp_path):
    root = tmp_path / "lake"
    args = {
        **_resolve(ARGV),
        "raw_zone": str(root / "raw"),
        "curated_zone": str(root / "curated"),
        "analytics_zone": str(root / "analytics"),
    }
    assert job_lake(job_arguments(args)).system == Lake.local(root).system


def test_s3_zones_make_an_s3_lake():
    args = {**_resolve(ARGV), "raw_zone": "s3://raw", "curated_zone": "s3://cur"}
    args["analytics_zone"] = "s3://ana"
    lake = job_lake(job_arguments(args))
    assert (lake.raw, lake.curated, lake.analytics) == ("s3://raw", "s3://cur", "s3://ana")


SCHEMA = StructType(
    [
        StructField("id", LongType()),
        StructField("name", StringType()),
        StructField("process_day", LongType()),
    ]
)


@pytest.fixture
def glue():
    with mock_aws():
        yield GlueCatalog(boto3.client("glue", region_name="us-east-1"))


def test_glue_catalog_creates_then_updates_a_table(glue):
    keys = [("process_day", "int")]
    glue.upsert_table("etl_pipeline", "orders", SCHEMA, "s3://cur/orders", "parquet", keys)
    wider = StructType([*SCHEMA.fields, StructField("email", StringType())])
    glue.upsert_table("etl_pipeline", "orders", wider, "s3://cur/orders", "parquet", keys)
    table = glue.get_table("etl_pipeline", "orders")
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == ["id", "name", "email"]
    assert glue.read_schema_ddl("etl_pipeline", "orders") == (
        "`id` bigint, `name` string, `email` string"
    )
    assert glue.databases() == ["etl_pipeline"]


def test_glue_catalog_adds_partitions_once(glue):
    glue.upsert_table(
        "etl_pipeline", "orders", SCHEMA, "s3://cur/orders", "parquet", [("process_day", "int")]
    )
    first = glue.add_partitions("etl_pipeline", "orders", [["31"]])
    again = glue.add_partitions("etl_pipeline", "orders", [["31"], ["30"]])
    assert first[0]["StorageDescriptor"]["Location"] == "s3://cur/orders/process_day=31"
    assert [p["Values"] for p in again] == [["30"]]


def test_glue_catalog_reports_a_missing_table_as_local_catalog_does(glue):
    with pytest.raises(KeyError, match=r"etl_pipeline\.nothing is not in the Glue Data Catalog"):
        glue.get_table("etl_pipeline", "nothing")


@pytest.mark.slow
def test_exported_job_run_locally_gives_the_same_curated_rows_as_etl_run(
    spark, sample_dir, tmp_path
):
    run_date = date(2026, 11, 26)  # the sample fixture's as-of date
    expected_lake = Lake.local(tmp_path / "expected")
    run_pipeline(str(sample_dir / "orders.json"), expected_lake, run_date, ORDERS, spark=spark)

    out = tmp_path / "deploy"
    export.build(export.REPO_ROOT, out)
    job_root = tmp_path / "job" / "lake"
    (job_root / "raw" / "incoming").mkdir(parents=True)
    (job_root / "raw" / "incoming" / "orders.json").write_bytes(
        (sample_dir / "orders.json").read_bytes()
    )
    argv = [
        "--JOB_NAME",
        "local",
        "--source-path",
        "lake/raw/incoming/orders.json",
        "--raw-zone",
        "lake/raw",
        "--curated-zone",
        "lake/curated",
        "--analytics-zone",
        "lake/analytics",
        "--database-name",
        "etl_pipeline",
        "--run-date",
        run_date.isoformat(),
    ]
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    done = subprocess.run(
        [sys.executable, str(out / "glue" / "transform_job.py"), *argv],
        cwd=job_root.parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "local " in done.stdout and "records from" in done.stdout

    def curated(root: Path):
        return spark.read.parquet(str(root / "curated" / "processed" / "orders"))

    assertDataFrameEqual(curated(job_root), curated(Path(expected_lake.root)))
