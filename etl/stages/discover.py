"""Schema discovery: what the Glue crawler does for the raw zone, done locally with Spark.

Infers the landed file's schema once, pins the dataset's text columns, rejects files with
unparseable records (saying where they are, never what they hold), and registers/refreshes
the raw table in the catalog. Later stages read
with the registered schema instead of inferring it again.
"""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql.types import StringType, StructField, StructType

from etl.core.errors import ValidationFailed, one_line
from etl.core.spec import DatasetSpec
from etl.stages.extract import CORRUPT_RECORD_COLUMN, read_raw
from etl.stages.validate import MAX_RECORD_BYTES, json_lines_problem, json_problem
from etl.storage import lake as lake_io
from etl.storage.catalog import LocalCatalog

CLASSIFICATIONS = {"json": "json", "json_array": "json", "csv": "csv", "parquet": "parquet"}


def infer_schema(
    spark: SparkSession, uri: str, data_format: str, dataset: DatasetSpec | None = None
) -> StructType:
    """Infer the file's schema (one Spark pass); raise ``ValidationFailed`` on bad records."""
    df = read_raw(spark, uri, data_format, infer_csv_types=True, dataset=dataset)
    if CORRUPT_RECORD_COLUMN in df.columns:
        # Spark says only that some record failed; find where, never quoting the record.
        where = unparseable_record(uri, data_format) or (
            "a record Spark cannot read (e.g. a value over 20 million characters)"
        )
        raise ValidationFailed(
            f"{_name(uri)} has records that are not parseable {data_format}: {where}; "
            "fix or remove them and land the file again"
        )
    if not df.columns:
        raise ValidationFailed(f"{_name(uri)} has no columns")
    return df.schema


def unparseable_record(uri: str, data_format: str) -> str | None:
    """Where the first record that is not JSON is (``line N, column C: why``), read from the
    object in 1 MB chunks; None when no position can be given."""
    if data_format == "json":
        return json_lines_problem(_chunks(uri))
    if data_format == "json_array" and lake_io.size_of(uri) <= MAX_RECORD_BYTES:
        problem = json_problem(b"".join(_chunks(uri)))
        return problem if isinstance(problem, str) else None
    return None


def _chunks(uri: str, size: int = 1 << 20):
    fs, path = lake_io.filesystem(uri)
    with fs.open_input_stream(path) as stream:
        while chunk := stream.read(size):
            yield chunk


def _name(uri: str) -> str:
    return uri.rsplit("/", 1)[-1]


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
        found = ", ".join(schema.fieldNames())
        raise ValidationFailed(
            f"{_name(uri)} has no {missing[0]!r} column, which dataset {dataset.name!r} "
            f"requires; found {len(schema.fieldNames())} columns: {one_line(found, limit=100)}"
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
