"""Schema discovery: what the Glue crawler does for the raw zone, done locally with Spark.

Infers the landed file's schema once, pins the dataset's text columns, rejects files with
unparseable records, and registers/refreshes the raw table in the catalog. Later stages read
with the registered schema instead of inferring it again.
"""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from etl.core.errors import ValidationFailed
from etl.core.spec import DatasetSpec
from etl.stages.extract import CORRUPT_RECORD_COLUMN, read_raw
from etl.storage.catalog import LocalCatalog

CLASSIFICATIONS = {"json": "json", "json_array": "json", "csv": "csv", "parquet": "parquet"}


def infer_schema(
    spark: SparkSession, uri: str, data_format: str, dataset: DatasetSpec | None = None
) -> StructType:
    """Infer the file's schema (one Spark pass); raise ``ValidationFailed`` on bad records."""
    df = read_raw(spark, uri, data_format, infer_csv_types=True, dataset=dataset)
    if CORRUPT_RECORD_COLUMN in df.columns:
        # Spark refuses a query that reads only the corrupt-record column: take one more.
        other = next(c for c in df.columns if c != CORRUPT_RECORD_COLUMN)
        bad = df.where(F.col(CORRUPT_RECORD_COLUMN).isNotNull()).select(
            CORRUPT_RECORD_COLUMN, other
        )
        first = bad.first()
        example = (first[0] or "")[:80] if first else ""
        raise ValidationFailed(
            f"{uri.rsplit('/', 1)[-1]} has records that are not parseable {data_format}, "
            f"e.g. {example!r}; fix or remove them and land the file again"
        )
    if not df.columns:
        raise ValidationFailed(f"{uri.rsplit('/', 1)[-1]} has no columns")
    return df.schema


def pin_text_columns(schema: StructType, dataset: DatasetSpec) -> StructType:
    """Read the dataset's declared text columns as strings, whatever inference guessed."""
    return StructType(
        [
            StructField(f.name, StringType(), True)
            if f.name in dataset.text_columns
            else StructField(f.name, f.dataType, True)
            for f in schema.fields
        ]
    )


def discover(
    spark: SparkSession,
    catalog: LocalCatalog,
    dataset: DatasetSpec,
    uri: str,
    data_format: str,
) -> StructType:
    """Infer, pin and register the raw table; return the schema later reads must use."""
    schema = infer_schema(spark, uri, data_format, dataset)
    if data_format != "parquet":  # Parquet carries its own types; reading it must match them
        schema = pin_text_columns(schema, dataset)
    required = dict.fromkeys([*dataset.key, *dataset.required])
    missing = [c for c in required if c not in schema.fieldNames()]
    if missing:
        raise ValidationFailed(
            f"{uri.rsplit('/', 1)[-1]} has no {missing[0]!r} column, which dataset "
            f"{dataset.name!r} requires; found {schema.fieldNames()}"
        )
    catalog.upsert_table(
        dataset.database,
        dataset.raw_table,
        schema,
        location=uri,
        classification=CLASSIFICATIONS[data_format],
        parameters={"dataFormat": data_format},
    )
    return schema
