"""Reference data stored in the lake and joined for real (the regions table)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StringType, StructField, StructType

from etl.core.datasets import DatasetConfig
from etl.storage.catalog import LocalCatalog
from etl.storage.lake import Lake, exists, filesystem, join

REGIONS_TABLE = "regions"
REGIONS_SCHEMA = StructType(
    [
        StructField("region_code", StringType(), False),
        StructField("region_name", StringType(), False),
    ]
)


def ensure_regions(lake: Lake, catalog: LocalCatalog, dataset: DatasetConfig) -> str:
    """Write the regions table from the dataset definition unless the lake already has one.

    An existing table is left alone: it is the reference data users maintain in the lake.
    """
    location = lake.reference_table_path(REGIONS_TABLE)
    data_file = join(location, "regions.parquet")
    if not exists(data_file):
        fs, path = filesystem(location)
        fs.create_dir(path, recursive=True)
        codes = sorted(dataset.regions)
        table = pa.table({"region_code": codes, "region_name": [dataset.regions[c] for c in codes]})
        with fs.open_output_stream(f"{path}/.regions.parquet.tmp") as out:
            pq.write_table(table, out)
        fs.move(f"{path}/.regions.parquet.tmp", f"{path}/regions.parquet")
    catalog.upsert_table(dataset.database, REGIONS_TABLE, REGIONS_SCHEMA, location, "parquet")
    return location


def read_regions(spark: SparkSession, lake: Lake) -> DataFrame:
    return spark.read.schema(REGIONS_SCHEMA).parquet(lake.reference_table_path(REGIONS_TABLE))
