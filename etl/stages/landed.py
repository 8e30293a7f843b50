"""The stages as the workflow calls them on one landed object (a raw-zone URI).

``validate_landed`` is what the validation Lambda decides, ``discover_landed`` what the raw
crawler registers, ``read_registered`` how every later stage reads the object (with the
registered schema, never inferring it again) and ``check_landed_quality`` the quality gate.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from etl.core.spec import DatasetSpec
from etl.stages.discover import discover
from etl.stages.extract import read_raw
from etl.stages.quality import QualityReport, check_quality
from etl.stages.validate import HEAD_BYTES, TAIL_BYTES, FileFacts, ValidationResult, validate_file
from etl.storage import lake as lake_io
from etl.storage.catalog import LocalCatalog, columns_to_ddl


def validate_landed(uri: str) -> ValidationResult:
    """The validation Lambda's check, reading only the head and tail of the object."""
    size = lake_io.size_of(uri)
    facts = FileFacts(
        key=uri,
        size=size,
        head=lake_io.read_head(uri, HEAD_BYTES),
        tail=lake_io.read_tail(uri, TAIL_BYTES) if size else b"",
    )
    return validate_file(facts)


def discover_landed(
    spark: SparkSession, catalog: LocalCatalog, dataset: DatasetSpec, uri: str, data_format: str
) -> str:
    """The raw crawler: infer and register the raw table; return its DDL schema.

    Locally the schema is also pinned for ``uri`` (under a lock, so it is this crawl's, not a
    concurrent one's): the raw table is one per dataset, and ``read_registered`` must read
    this file with what was found in it even if another run's crawl has changed the table.
    """
    database, table = dataset.database, dataset.raw_table
    if not hasattr(catalog, "pin_source"):  # the Glue catalog: see README "Guarantees"
        discover(spark, catalog, dataset, uri, data_format)
        return catalog.read_schema_ddl(database, table)
    with catalog.discovery_lock(database, table):
        discover(spark, catalog, dataset, uri, data_format)
        registered = catalog.get_table(database, table)["Parameters"]["dataFormat"]
        ddl = catalog.read_schema_ddl(database, table)
        catalog.pin_source(database, table, uri, registered, ddl)
    return ddl


def read_registered(
    spark: SparkSession, catalog: LocalCatalog, dataset: DatasetSpec, uri: str
) -> DataFrame:
    """The landed object, read with the schema and format registered for it: the raw
    table's entry when its last registration was of this object, else the pin this
    object's crawl kept (another run's crawl has changed the shared entry since)."""
    table = catalog.get_table(dataset.database, dataset.raw_table)
    if table["StorageDescriptor"]["Location"] != uri:
        pinned = getattr(catalog, "pinned_source", lambda *_: None)
        found = pinned(dataset.database, dataset.raw_table, uri)
        if found is not None:
            return read_raw(spark, uri, found["dataFormat"], found["ddl"], dataset=dataset)
    data_format = table["Parameters"]["dataFormat"]
    ddl = columns_to_ddl(table["StorageDescriptor"]["Columns"])  # from the same read
    return read_raw(spark, uri, data_format, ddl, dataset=dataset)


def check_landed_quality(
    spark: SparkSession, catalog: LocalCatalog, dataset: DatasetSpec, uri: str
) -> QualityReport:
    """Profile and validate the landed file with the registered schema."""
    return check_quality(read_registered(spark, catalog, dataset, uri), dataset)
