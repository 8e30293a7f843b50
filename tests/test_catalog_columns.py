"""A curated or analytics table keeps the columns its older partitions hold, in the local
catalog and in Glue (moto stands in for AWS), whichever writes the table first: the job's
registration or, on S3, the publish that points a partition (``GlueTable.point``)."""

from __future__ import annotations

import boto3
import pytest

from etl.storage.catalog import GlueCatalog, GlueTable, LocalCatalog
from etl.storage.lake import Lake

DATABASE, TABLE, KEYS = "etl_pipeline", "orders", [("process_day", "int")]


def columns(catalog) -> dict[str, str]:
    table = catalog.get_table(DATABASE, TABLE)
    return {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}


@pytest.fixture(params=["local", "glue"])
def catalog(request, tmp_path, s3):
    if request.param == "local":
        return LocalCatalog(Lake.local(tmp_path / "lake").ensure())
    return GlueCatalog(boto3.client("glue", region_name="us-east-1"))


def test_a_column_a_later_schema_lacks_stays_only_when_asked(spark, catalog):
    first = spark.createDataFrame([], "id bigint, Coupon string, process_day int").schema
    later = spark.createDataFrame([], "id bigint, amount double, process_day int").schema
    catalog.upsert_table(DATABASE, TABLE, first, "loc", "parquet", KEYS)
    catalog.upsert_table(DATABASE, TABLE, later, "loc", "parquet", KEYS, keep_columns=True)
    assert columns(catalog) == {"id": "bigint", "amount": "double", "Coupon": "string"}
    catalog.upsert_table(DATABASE, TABLE, later, "loc", "parquet", KEYS)  # a raw table's way
    assert columns(catalog) == {"id": "bigint", "amount": "double"}


def test_the_s3_publish_keeps_them_as_it_points_a_partition(spark, s3):
    glue = GlueCatalog(boto3.client("glue", region_name="us-east-1"))
    first = spark.createDataFrame([], "id bigint, coupon string, process_day int").schema
    later = spark.createDataFrame([], "id bigint, process_day int").schema
    glue.upsert_table(DATABASE, TABLE, first, "s3://b/t", "parquet", KEYS)
    GlueTable(glue, DATABASE, TABLE, "s3://b/t", later, KEYS).point(["27"], "s3://b/t/v1")
    assert columns(glue) == {"id": "bigint", "coupon": "string"}
