"""How Spark reads the deployed publish's partition versions (``etl.storage.publish``):
``<table>/<k=v>/…/_v-<id>/`` prefixes, hidden from a reader that lists the table, read by
one given the version as its location. The same layout on local disk, read with the same
calls the job and a root lister make (Spark lists S3 and a folder alike)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

DAY = "process_year=2026/process_month=11/process_day={}"


def version(table: Path, day: int, name: str, ids: list[int]) -> str:
    folder = table / DAY.format(day) / name
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"id": pa.array(ids, pa.int64())}), folder / "a-part-00000.parquet")
    return str(folder)


def test_a_version_given_as_location_is_read_with_its_partition_values_and_no_extra_column(
    spark, tmp_path
):
    table = tmp_path / "orders"
    version(table, 26, "_v-20261127T100000Z-aaaaaaaa", [1, 2])  # superseded
    current = version(table, 26, "_v-20261127T110000Z-bbbbbbbb", [10])
    # What the job does with the locations its publish returns (the day's summary input).
    day = spark.read.option("basePath", str(table)).parquet(current)
    assert day.columns == ["id", "process_year", "process_month", "process_day"]
    assert [tuple(r) for r in day.collect()] == [(10, 2026, 11, 26)]


def test_a_reader_listing_the_table_root_reads_no_version_twice(spark, tmp_path):
    """It reads partitions written before versions (files in the partition folder) and no
    version at all: read through the catalog, never by listing the table."""
    table = tmp_path / "orders"
    version(table, 26, "_v-20261127T100000Z-aaaaaaaa", [1, 2])
    version(table, 26, "_v-20261127T110000Z-bbbbbbbb", [10])
    version(table, 27, "", [7])  # a partition published in place by the earlier code
    listed = spark.read.schema("id bigint").parquet(str(table))
    assert [tuple(r) for r in listed.collect()] == [(7, 2026, 11, 27)]
