"""Read a raw file into Spark, the same way for every stage.

``data_format`` is what validation sniffed: ``json`` (JSON lines), ``json_array`` (one
multi-line array), ``csv`` or ``parquet``. Passing the catalog's schema avoids inferring it
again (inference is a full extra pass over the file). A ``.gz`` object (``.json.gz``,
``.jsonl.gz``, ``.csv.gz``, ...) is decompressed by Spark itself, which picks the codec from
the name's last extension; such a file is read by one task (gzip cannot be split).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StructField, StructType, _parse_datatype_string

from etl.core.conventions import sql_identifier
from etl.core.spec import DatasetSpec
from etl.storage import lake as lake_io

SPARK_FORMATS = {"json": "json", "json_array": "json", "csv": "csv", "parquet": "parquet"}
READ_OPTIONS = {
    "json": {"multiLine": "false"},
    "json_array": {"multiLine": "true"},
    # multiLine: a quoted field may hold newlines (measured free at 200 k rows; README).
    # escape '"': a quote inside a quoted field is doubled (RFC 4180, what the csv module
    # and every spreadsheet write); Spark's default, a backslash, splits such a field.
    "csv": {"header": "true", "encoding": "UTF-8", "multiLine": "true", "escape": '"'},
    "parquet": {},  # read by _read_parquet
}
CORRUPT_RECORD_COLUMN = "_corrupt_record"
# Spark 3.5 (AWS Glue 5.1) refuses a Parquet timestamp in nanoseconds, pandas' and
# pyarrow's default ("Illegal Parquet type: INT64 (TIMESTAMP(NANOS,false))"); with this
# set it reads the number stored, which ``_read_parquet`` makes a timestamp.
NANOS_AS_LONG = "spark.sql.legacy.parquet.nanosAsLong"


def read_raw(
    spark: SparkSession,
    uri: str,
    data_format: str,
    schema: StructType | str | None = None,
    infer_csv_types: bool = False,
    dataset: DatasetSpec | None = None,
) -> DataFrame:
    """Read ``uri`` as ``data_format``, with ``schema`` when the catalog already knows it.

    ``dataset`` gives the CSV delimiter and the null marker (e.g. ``NA``) Spark's CSV reader
    turns into nulls, so a numeric column with ``NA`` is still read as a number.
    """
    if data_format not in SPARK_FORMATS:
        raise ValueError(
            f"unknown data format {data_format!r}; expected one of {list(SPARK_FORMATS)}"
        )
    if data_format == "parquet":
        return _read_parquet(spark, uri, schema)
    reader = spark.read.format(SPARK_FORMATS[data_format]).options(**READ_OPTIONS[data_format])
    if data_format == "csv" and dataset is not None:
        reader = reader.options(**csv_options(dataset))
    if schema is not None:
        reader = reader.schema(schema)
    elif data_format == "csv" and infer_csv_types:
        reader = reader.option("inferSchema", "true")
    return reader.load(uri)


def csv_options(dataset: DatasetSpec) -> dict[str, str]:
    """The dataset's CSV delimiter and its first non-empty null marker (empty fields are
    null anyway); further markers are turned into nulls by the transform."""
    options = {"sep": dataset.csv_delimiter}
    marker = next((m for m in dataset.null_markers if m), None)
    if marker is not None:
        options["nullValue"] = marker
    return options


def _read_parquet(spark: SparkSession, uri: str, schema: StructType | str | None) -> DataFrame:
    """A Parquet file, its nanosecond timestamps (top-level columns) read as the longs they
    are stored as and made timestamps, the sub-microsecond digits dropped."""
    nanos = nanosecond_columns(uri)
    reader = spark.read.format("parquet")
    if not nanos:
        return (reader.schema(schema) if schema is not None else reader).load(uri)
    spark.conf.set(NANOS_AS_LONG, "true")
    if schema is not None:
        given = _parse_datatype_string(schema) if isinstance(schema, str) else schema
        schema = StructType(
            [StructField(f.name, LongType()) if f.name in nanos else f for f in given.fields]
        )
        reader = reader.schema(schema)
    df = reader.load(uri)
    micros = {c: F.expr(_floor_to_micros(sql_identifier(c))) for c in nanos}
    return df.withColumns({c: value for c, value in micros.items() if c in df.columns})


def _floor_to_micros(nanos: str) -> str:
    """Spark SQL: the timestamp of ``nanos`` since 1970, floored to the microsecond (``div``
    alone truncates toward zero, a microsecond late before 1970)."""
    return f"timestamp_micros(({nanos} - pmod({nanos}, 1000)) div 1000)"


def nanosecond_columns(uri: str) -> list[str]:
    """The top-level columns of the Parquet file at ``uri`` holding nanosecond timestamps,
    from its footer; none when there is no footer to read (a folder, a damaged file: Spark
    then says what it says of them)."""
    fs, path = lake_io.filesystem(uri)
    try:
        with fs.open_input_file(path) as handle:
            schema = pq.read_schema(handle)
    except (OSError, pa.ArrowException):
        return []
    return [f.name for f in schema if pa.types.is_timestamp(f.type) and f.type.unit == "ns"]
