"""The job reads the raw schema this execution's crawl registered (issue 10).

After the crawl, RecordRawTableVersion reads the raw table's ``VersionId`` (``glue:getTable``)
and RunETLJob passes it as ``--raw-table-version``. Deployed, the job reads that version of
the table (``GetTableVersion``; moto's Glue stands in for AWS here); locally the crawl's pin
for the object is that version, and the job stops, before reading, if it is gone.
"""

from __future__ import annotations

import json

import pytest
from workflow_support import RUN_DATE, local_workflow

from etl.core.datasets import get_dataset
from etl.core.errors import EtlError
from etl.storage.lake import land_file


def job_arguments(record: dict) -> dict:
    (arguments,) = [
        json.loads(e["taskScheduledEventDetails"]["parameters"])["Arguments"]
        for e in record["events"]
        if e["type"] == "TaskScheduled" and e["taskScheduledEventDetails"]["resourceType"] == "glue"
    ]
    return arguments


def test_the_job_gets_the_table_version_the_crawl_left(spark, lake, small_samples):
    from etl.local.history import state_value
    from etl.stages.landed import registration, registration_version

    read = []
    landed = land_file(str(small_samples / "orders.json"), lake)

    def job(spark, lake, catalog, dataset, uri, run_date, run_id, **kwargs):
        read.append(registration_version(registration(catalog, dataset, uri)))

    with local_workflow(spark, lake, transform_job=job) as workflow:
        record = workflow.run_landed(landed, RUN_DATE)
    assert record["execution"]["status"] == "SUCCEEDED"
    recorded = state_value(record["events"], "rawTable")
    assert recorded["name"] == "raw_orders" and recorded["database"] == "etl_pipeline"
    assert job_arguments(record)["--raw-table-version"] == recorded["versionId"]
    assert read == [recorded["versionId"]]  # what the job reads is that version


def test_another_runs_crawl_before_the_job_does_not_change_what_the_job_reads(
    spark, lake, small_samples
):
    """A crawl of another file (a CSV) between this run's crawl and its job changes the shared
    raw table; the job still reads its JSON file with the schema its own crawl found."""
    from etl.stages.landed import discover_landed
    from etl.storage.catalog import LocalCatalog

    orders = get_dataset("orders")
    landed = land_file(str(small_samples / "orders.json"), lake)
    other = land_file(str(small_samples / "orders.csv"), lake)
    with local_workflow(spark, lake) as workflow:
        answer_get_table = workflow.services.get_table

        def get_table_then_another_crawl(params):
            answer = answer_get_table(params)
            discover_landed(spark, LocalCatalog(lake), orders, other, "csv")
            return answer

        workflow.services.get_table = get_table_then_another_crawl
        record = workflow.run_landed(landed, RUN_DATE)
    table = LocalCatalog(lake).get_table(orders.database, orders.raw_table)
    assert table["Parameters"]["dataFormat"] == "csv"  # the other crawl did land
    assert record["execution"]["status"] == "SUCCEEDED", record["execution"].get("cause")


def test_the_local_job_stops_when_its_crawls_registration_is_gone(lake, small_samples):
    from etl.local.services import check_raw_table_version
    from etl.storage.catalog import LocalCatalog

    orders = get_dataset("orders")
    landed = land_file(str(small_samples / "orders.json"), lake)
    catalog = LocalCatalog(lake)
    ddl = "`id` bigint"
    catalog.upsert_table(
        orders.database,
        orders.raw_table,
        _schema(ddl),
        landed,
        "json",
        parameters={"dataFormat": "json"},
    )
    from etl.stages.landed import registration, registration_version

    version = registration_version(registration(catalog, orders, landed))
    check_raw_table_version(lake, orders, landed, version)  # the same: goes on
    catalog.upsert_table(
        orders.database,
        orders.raw_table,
        _schema("`id` string"),
        landed,
        "json",
        parameters={"dataFormat": "json"},
    )
    with pytest.raises(EtlError, match=f"raw_orders version {version}.* is gone"):
        check_raw_table_version(lake, orders, landed, version)


def _schema(ddl: str):
    from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

    name, kind = ddl.split()
    types = {"bigint": LongType(), "double": DoubleType(), "string": StringType()}
    return StructType([StructField(name.strip("`"), types[kind])])


# --- deployed: the Glue Data Catalog (moto stands in for AWS) -----------------------------
@pytest.fixture
def glue():
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("glue", region_name="us-east-1")
        client.create_database(DatabaseInput={"Name": "etl_pipeline"})
        yield client


def _table(columns: list[tuple[str, str]]) -> dict:
    return {
        "Name": "raw_orders",
        "StorageDescriptor": {
            "Columns": [{"Name": n, "Type": t} for n, t in columns],
            "Location": "s3://raw/incoming/orders.json",
        },
        "Parameters": {"dataFormat": "json"},
    }


def test_the_deployed_job_reads_the_raw_table_at_the_version_it_was_given(glue):
    from etl.jobs.glue_job import PinnedRawTable
    from etl.storage.catalog import GlueCatalog

    glue.create_table(DatabaseName="etl_pipeline", TableInput=_table([("id", "bigint")]))
    crawled = glue.get_table(DatabaseName="etl_pipeline", Name="raw_orders")["Table"]["VersionId"]
    # another execution's crawl, after this one's
    glue.update_table(
        DatabaseName="etl_pipeline", TableInput=_table([("id", "string"), ("x", "string")])
    )
    catalog = PinnedRawTable(GlueCatalog(glue), "etl_pipeline", "raw_orders", crawled)
    assert catalog.read_schema_ddl("etl_pipeline", "raw_orders") == "`id` bigint"
    assert GlueCatalog(glue).read_schema_ddl("etl_pipeline", "raw_orders") == (
        "`id` string, `x` string"
    )


def test_the_jobs_own_crawl_ends_the_pin(glue):
    from etl.jobs.glue_job import PinnedRawTable
    from etl.storage.catalog import GlueCatalog

    glue.create_table(DatabaseName="etl_pipeline", TableInput=_table([("id", "bigint")]))
    catalog = PinnedRawTable(GlueCatalog(glue), "etl_pipeline", "raw_orders", "1")
    catalog.upsert_table(
        "etl_pipeline",
        "raw_orders",
        _schema("`id` double"),
        "s3://raw/incoming/orders.json",
        "json",
    )
    assert catalog.read_schema_ddl("etl_pipeline", "raw_orders") == "`id` double"


def test_a_version_that_is_gone_stops_the_job_with_one_line(glue):
    from etl.jobs.glue_job import PinnedRawTable
    from etl.storage.catalog import GlueCatalog

    glue.create_table(DatabaseName="etl_pipeline", TableInput=_table([("id", "bigint")]))
    with pytest.raises(EtlError) as stopped:
        PinnedRawTable(GlueCatalog(glue), "etl_pipeline", "raw_orders", "41")
    message = str(stopped.value)
    assert "version 41 of table etl_pipeline.raw_orders is not in the Glue Data Catalog" in message
    assert "start the execution again" in message and "\n" not in message


def test_the_job_takes_the_raw_table_version_argument():
    from etl.jobs.glue_job import job_arguments, job_options

    argv = ["x.py", "--JOB_NAME", "j", "--raw-table-version", "7"]
    assert "raw-table-version" in job_options(argv)
    args = {
        "JOB_NAME": "j",
        "source_path": "s3://raw/incoming/orders.json",
        "raw_zone": "s3://raw",
        "curated_zone": "s3://curated",
        "analytics_zone": "s3://analytics",
        "database_name": "etl_pipeline",
        "raw_table_version": "7",
    }
    assert job_arguments(args).raw_table_version == "7"
