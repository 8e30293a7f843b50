"""Schema discovery: what the Glue crawler does for the raw zone, done locally with Spark.

Infers the landed file's schema once, pins the dataset's text columns, rejects files with
unparseable records (saying where they are, never what they hold), and registers/refreshes
the raw table in the catalog. Later stages read
with the registered schema instead of inferring it again.

Like a Glue crawler, which classifies a file from its first megabyte, the local crawler
infers a JSON-lines or CSV file larger than ``SAMPLE_BYTES`` from its whole lines within
that size: inferring over the whole file was most of discovery's time on big files. The
table's ``SAMPLE_PARAMETER`` says so, and the Glue job then checks every record against the
sample's types and re-crawls the whole file when some do not fit
(``etl.jobs.transform``). A column the sample only shows as nulls is registered as text,
and the crawler says so.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import tempfile

from pyspark.sql import SparkSession
from pyspark.sql.types import StringType, StructField, StructType

from etl.core import feeds
from etl.core.errors import ValidationFailed, one_line
from etl.core.spec import DatasetSpec
from etl.stages.extract import CORRUPT_RECORD_COLUMN, read_raw
from etl.stages.validate import (
    CSV_DELIMITERS,
    MAX_RECORD_BYTES,
    json_lines_problem,
    json_problem,
    longest_line_bound,
    oversized_line,
)
from etl.storage import lake as lake_io
from etl.storage.catalog import LocalCatalog

CLASSIFICATIONS = {"json": "json", "json_array": "json", "csv": "csv", "parquet": "parquet"}
SAMPLE_BYTES = 1 << 20
SAMPLE_PARAMETER = "schemaFromFirstBytes"  # raw table parameter: the size of the sample
SAMPLED_FORMATS = ("json", "csv")  # one record per line, so a head of whole lines is valid


def head_sample(uri: str, data_format: str, sample_bytes: int) -> bytes | None:
    """The file's whole lines within its first ``sample_bytes``; None when the whole file
    must be read instead (not larger than that, not line-based, or no line end in it)."""
    if data_format not in SAMPLED_FORMATS or lake_io.size_of(uri) <= sample_bytes:
        return None
    head = bytearray()
    for chunk in _chunks(uri, sample_bytes):  # decompressed, for a .gz object
        head += chunk[: sample_bytes - len(head)]
        if len(head) >= sample_bytes:
            break
    end = head.rfind(b"\n")
    return bytes(head[: end + 1]) if end > 0 and len(head) >= sample_bytes else None


def infer_schema(
    spark: SparkSession,
    uri: str,
    data_format: str,
    dataset: DatasetSpec | None = None,
    sample: bytes | None = None,
) -> StructType:
    """Infer the schema of the file, or of ``sample`` (its first lines) when given; raise
    ``ValidationFailed`` on unparseable records in what was read.

    A sample is handed to Spark as a local file: take one only on a local master.
    """
    if sample is None:
        return _infer(spark, uri, data_format, dataset, uri)
    with tempfile.TemporaryDirectory(prefix="etl-crawl-") as folder:
        # The sample is decompressed: its name must not end in .gz (Spark goes by the name).
        path = os.path.join(folder, "sample." + ("csv" if data_format == "csv" else "json"))
        with open(path, "wb") as handle:
            handle.write(sample)
        return _infer(spark, path, data_format, dataset, uri)


def _infer(
    spark: SparkSession, path: str, data_format: str, dataset: DatasetSpec | None, uri: str
) -> StructType:
    df = read_raw(spark, path, data_format, infer_csv_types=True, dataset=dataset)
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


def _oversized_record(uri: str) -> str | None:
    """Where the first line over ``MAX_RECORD_BYTES`` is, or None. An uncompressed file is
    scanned in full only when ``longest_line_bound`` cannot rule such a line out: the scan of
    the 2 M-row file took 0.6 s, holding the interpreter lock beside the quality Lambda's
    work; the bound takes under 2 ms."""
    if not feeds.is_gzip(uri):  # a gzip stream has no byte offsets to read at
        fs, path = lake_io.filesystem(uri)
        with fs.open_input_file(path) as handle:
            bound = longest_line_bound(lambda at, n: handle.read_at(n, at), handle.size())
        if bound <= MAX_RECORD_BYTES:
            return None
    return oversized_line(_chunks(uri, 8 << 20))


def _chunks(uri: str, size: int = 1 << 20):
    fs, path = lake_io.filesystem(uri)
    with fs.open_input_stream(path) as stream:
        while chunk := stream.read(size):
            yield chunk


def _name(uri: str) -> str:
    return uri.rsplit("/", 1)[-1]


def pin_text_columns(schema: StructType, dataset: DatasetSpec) -> StructType:
    """``schema`` with the dataset's ``read_as_text`` columns as strings, whatever
    inference guessed."""
    return StructType(
        [
            StructField(f.name, StringType(), True)
            if f.name in dataset.read_as_text
            else StructField(f.name, f.dataType, True)
            for f in schema.fields
        ]
    )


def null_only_columns(sample: bytes, data_format: str, dataset: DatasetSpec) -> list[str]:
    """Columns with no value in the sample (JSON null, or an empty/null-marker CSV field):
    inference makes them text, whatever the rest of the file holds."""
    text = sample.decode("utf-8", errors="replace")
    seen: dict[str, bool] = {}
    if data_format == "csv":
        markers = {"", *dataset.null_markers}
        for row in csv.DictReader(io.StringIO(text), delimiter=dataset.csv_delimiter):
            for column, value in row.items():
                if column is not None:
                    seen[column] = seen.get(column, False) or value not in markers
    else:
        for line in text.splitlines():
            record = json.loads(line) if line.strip() else {}
            for column, value in record.items() if isinstance(record, dict) else ():
                seen[column] = seen.get(column, False) or value is not None
    return [c for c, has_value in seen.items() if not has_value]


def discover(
    spark: SparkSession,
    catalog: LocalCatalog,
    dataset: DatasetSpec,
    uri: str,
    data_format: str,
    sample_bytes: int | None = SAMPLE_BYTES,
) -> StructType:
    """Infer (from the first ``sample_bytes`` of a big file; all of it when None), pin and
    register the raw table; return the schema later reads must use."""
    sample = None
    if sample_bytes and spark.sparkContext.master.startswith("local"):
        sample = head_sample(uri, data_format, sample_bytes)
    if sample is not None:  # Spark reads only the head: look for an oversized record after it
        problem = _oversized_record(uri)
        if problem:
            raise ValidationFailed(
                f"{_name(uri)} has records that are not parseable {data_format}: {problem}; "
                "fix or remove them and land the file again"
            )
    schema = infer_schema(spark, uri, data_format, dataset, sample)
    if data_format != "parquet":  # Parquet carries its own types; reading it must match them
        schema = pin_text_columns(schema, dataset)
    required = dict.fromkeys([*dataset.key, *dataset.required])
    missing = [c for c in required if c not in schema.fieldNames()]
    if missing:
        names = schema.fieldNames()
        found = ", ".join(names)
        other = [d for d in CSV_DELIMITERS if len(names) == 1 and d in names[0]]
        hint = (
            f" (split at {other[0]!r}, not {dataset.csv_delimiter!r}: another dataset's feed?)"
            if data_format == "csv" and other
            else ""
        )
        raise ValidationFailed(
            f"{_name(uri)} has no {missing[0]!r} column, which dataset {dataset.name!r} "
            f"requires; found {len(names)} columns: {one_line(found, limit=100)}{hint}"
        )
    parameters = {"dataFormat": data_format}
    if sample is not None:
        parameters[SAMPLE_PARAMETER] = str(sample_bytes)
        unknown = [
            c
            for c in null_only_columns(sample, data_format, dataset)
            if c in schema.fieldNames() and c not in dataset.read_as_text
        ]
        if unknown:
            print(
                f"warning: {_name(uri)}: {', '.join(unknown)} only had nulls in "
                f"the first {sample_bytes:,} bytes the crawler reads: registered as text",
                file=sys.stderr,
            )
    catalog.upsert_table(
        dataset.database,
        dataset.raw_table,
        schema,
        location=uri,
        classification=CLASSIFICATIONS[data_format],
        parameters=parameters,
    )
    return schema
