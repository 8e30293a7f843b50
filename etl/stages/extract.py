"""Read a raw file into Spark, the same way for every stage.

``data_format`` is what validation sniffed: ``json`` (JSON lines), ``json_array`` (one
multi-line array), ``csv`` or ``parquet``. Passing the catalog's schema avoids inferring it
again (inference is a full extra pass over the file). A ``.gz`` object (``.json.gz``,
``.jsonl.gz``, ``.csv.gz``, ...) is decompressed by Spark itself, which picks the codec from
the name's last extension; such a file is read by one task (gzip cannot be split).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from etl.core.spec import DatasetSpec

SPARK_FORMATS = {"json": "json", "json_array": "json", "csv": "csv", "parquet": "parquet"}
READ_OPTIONS = {
    "json": {"multiLine": "false"},
    "json_array": {"multiLine": "true"},
    # multiLine: a quoted field may hold newlines (measured free at 200 k rows; README).
    # escape '"': a quote inside a quoted field is doubled (RFC 4180, what the csv module
    # and every spreadsheet write); Spark's default, a backslash, splits such a field.
    "csv": {"header": "true", "encoding": "UTF-8", "multiLine": "true", "escape": '"'},
    "parquet": {},
}
CORRUPT_RECORD_COLUMN = "_corrupt_record"


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
