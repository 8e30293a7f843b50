"""The stages as the workflow calls them on one landed object (a raw-zone URI).

``validate_landed`` is what the validation Lambda decides, ``discover_landed`` what the raw
crawler registers, ``read_registered`` how every later stage reads the object (with the
registered schema, never inferring it again) and ``check_landed_quality`` the quality gate.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StringType, StructField, StructType, _parse_datatype_string

from etl.core.spec import DatasetSpec
from etl.stages.discover import SAMPLE_BYTES, SAMPLE_PARAMETER, discover, pin_text_columns
from etl.stages.extract import CORRUPT_RECORD_COLUMN, read_raw
from etl.stages.quality import QualityReport, check_quality
from etl.stages.validate import HEAD_BYTES, TAIL_BYTES, FileFacts, ValidationResult, validate_file
from etl.storage import lake as lake_io
from etl.storage.catalog import LocalCatalog, columns_to_ddl

MISFIT_COLUMN = CORRUPT_RECORD_COLUMN


def validate_landed(uri: str, csv_delimiter: str | None = None) -> ValidationResult:
    """The validation Lambda's check, reading only the head and tail of the object (all of
    a gzip object, decompressed as a stream); a CSV file is split at its dataset's
    ``csv_delimiter`` (``None``: sniffed)."""
    size = lake_io.size_of(uri)
    facts = FileFacts(
        key=_key(uri),
        size=size,
        head=lake_io.read_head(uri, HEAD_BYTES),
        tail=lake_io.read_tail(uri, TAIL_BYTES) if size else b"",
    )
    return validate_file(facts, lambda: stored_blocks(uri), csv_delimiter)


def _key(uri: str) -> str:
    """What the Lambda's key check sees: the key in its bucket, a local file's name."""
    if lake_io.is_s3(uri):
        return uri.removeprefix("s3://").partition("/")[2]
    return uri.rsplit("/", 1)[-1]


def stored_blocks(uri: str, block_bytes: int = 8 << 20) -> Iterator[bytes]:
    """The object's bytes as stored (a ``.gz`` object still compressed), a block at a time."""
    fs, path = lake_io.filesystem(uri)
    with fs.open_input_stream(path, compression=None) as stream:
        while block := stream.read(block_bytes):
            yield block


def discover_landed(
    spark: SparkSession,
    catalog: LocalCatalog,
    dataset: DatasetSpec,
    uri: str,
    data_format: str,
    sample_bytes: int | None = SAMPLE_BYTES,
) -> str:
    """The raw crawler: infer and register the raw table; return its DDL schema.

    Locally the schema is also pinned for ``uri`` (under a lock, so it is this crawl's, not a
    concurrent one's): the raw table is one per dataset, and ``read_registered`` must read
    this file with what was found in it even if another run's crawl has changed the table.
    """
    database, table = dataset.database, dataset.raw_table
    if not hasattr(catalog, "pin_source"):  # the Glue catalog: see README "Guarantees"
        discover(spark, catalog, dataset, uri, data_format, sample_bytes)
        return catalog.read_schema_ddl(database, table)
    with catalog.discovery_lock(database, table):
        discover(spark, catalog, dataset, uri, data_format, sample_bytes)
        parameters = catalog.get_table(database, table)["Parameters"]
        ddl = catalog.read_schema_ddl(database, table)
        catalog.pin_source(database, table, uri, parameters["dataFormat"], ddl, parameters)
    return ddl


def registration(catalog: LocalCatalog, dataset: DatasetSpec, uri: str) -> dict:
    """What the crawler registered for ``uri``: ``dataFormat``, ``ddl`` and ``parameters``.

    The raw table's entry when its last registration was of this object, else the pin this
    object's crawl kept (another run's crawl has changed the shared entry since).
    """
    table = catalog.get_table(dataset.database, dataset.raw_table)
    if table["StorageDescriptor"]["Location"] != uri:
        pinned = getattr(catalog, "pinned_source", lambda *_: None)
        found = pinned(dataset.database, dataset.raw_table, uri)
        if found is not None:
            return {"parameters": {}, **found}
    columns = table["StorageDescriptor"]["Columns"]
    parameters = table.get("Parameters", {})
    ddl = columns_to_ddl(columns)  # from the same read
    return {"dataFormat": parameters["dataFormat"], "ddl": ddl, "parameters": parameters}


def registration_version(found: dict) -> str:
    """A version id for a registration (``registration``'s answer): the digest of its format,
    schema and parameters. The local catalog keeps no table versions; this names what a crawl
    registered, so the workflow's ``getTable`` answer and the job's read can be compared."""
    document = {k: found.get(k) for k in ("dataFormat", "ddl", "parameters")}
    text = json.dumps(document, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def schema_from_sample(catalog: LocalCatalog, dataset: DatasetSpec, uri: str) -> bool:
    """Whether the crawler typed ``uri``'s columns from the head of the file only."""
    return SAMPLE_PARAMETER in registration(catalog, dataset, uri)["parameters"]


def read_registered(
    spark: SparkSession,
    catalog: LocalCatalog,
    dataset: DatasetSpec,
    uri: str,
    mark_misfits: bool = False,
) -> DataFrame:
    """The landed object, read with the schema and format registered for it
    (``registration``).

    ``mark_misfits`` adds ``MISFIT_COLUMN`` (Spark's corrupt-record column): the text of
    each record the registered types do not fit, null for the others.
    """
    found = registration(catalog, dataset, uri)
    schema = read_schema(found, dataset)
    if mark_misfits:
        schema = StructType([*schema.fields, StructField(MISFIT_COLUMN, StringType())])
    return read_raw(spark, uri, found["dataFormat"], schema, dataset=dataset)


def read_schema(found: dict, dataset: DatasetSpec) -> StructType:
    """The schema a registration (``registration``) is read with: its columns, the spec's
    ``read_as_text`` ones as text in a CSV or JSON file. The local crawler registers them
    so; AWS Glue's crawler knows no spec (``01`` would be read as the number 1)."""
    schema = _parse_datatype_string(found["ddl"])
    return schema if found["dataFormat"] == "parquet" else pin_text_columns(schema, dataset)


def check_landed_quality(
    spark: SparkSession, catalog: LocalCatalog, dataset: DatasetSpec, uri: str
) -> QualityReport:
    """Profile and validate the landed file with the registered schema."""
    return check_quality(read_registered(spark, catalog, dataset, uri), dataset)
