"""Reference data: tables shipped in a dataset's folder, kept in the lake and joined for real.

``ensure_reference_tables`` copies each reference CSV of the dataset into the lake's
reference area as Parquet (once: an existing table is the reference data users maintain in
the lake, and is left alone) and registers it in the catalog. Values are stored as text and
typed on read, as the spec's ``types`` say.
"""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StringType, StructField, StructType

from etl.core.spec import DatasetSpec, Reference
from etl.stages.names import named
from etl.storage.catalog import LocalCatalog
from etl.storage.lake import Lake, exists, filesystem, join


def _names(reference: Reference) -> list[str]:
    return [*reference.key, *reference.columns]


def stored_schema(reference: Reference) -> StructType:
    """The stored table: the key and value columns as text."""
    return StructType([StructField(n, StringType(), True) for n in _names(reference)])


def ensure_reference_tables(lake: Lake, catalog: LocalCatalog, dataset: DatasetSpec) -> list[str]:
    """Write every reference table the lake lacks; register all of them. Returns locations."""
    return [_ensure(lake, catalog, dataset, r) for r in dataset.references]


def _ensure(lake: Lake, catalog: LocalCatalog, dataset: DatasetSpec, reference: Reference) -> str:
    location = lake.reference_table_path(reference.table)
    if not exists(join(location, f"{reference.table}.parquet")):
        names = _names(reference)
        table = pacsv.read_csv(
            io.BytesIO(dataset.folder.joinpath(reference.file).read_bytes()),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), include_columns=names
            ),
        )
        fs, path = filesystem(location)
        fs.create_dir(path, recursive=True)
        tmp = f"{path}/.{reference.table}.parquet.tmp"
        with fs.open_output_stream(tmp) as out:
            pq.write_table(table, out)
        fs.move(tmp, f"{path}/{reference.table}.parquet")
    catalog.upsert_table(
        dataset.database, reference.table, stored_schema(reference), location, "parquet"
    )
    return location


def read_reference(spark: SparkSession, lake: Lake, reference: Reference) -> DataFrame:
    """The reference table from the lake, typed as the spec declares."""
    table = spark.read.schema(stored_schema(reference)).parquet(
        lake.reference_table_path(reference.table)
    )
    return table.select(
        *[named(n).cast(reference.types.get(n, "string")).alias(n) for n in _names(reference)]
    )


def read_references(spark: SparkSession, lake: Lake, dataset: DatasetSpec) -> dict[str, DataFrame]:
    """``{table: DataFrame}`` for every reference table of the dataset."""
    return {r.table: read_reference(spark, lake, r) for r in dataset.references}
