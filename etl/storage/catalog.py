"""A local stand-in for the Glue Data Catalog: databases, tables, typed columns, partitions.

Tables are stored as JSON in the shape ``glue.get_table`` returns (``StorageDescriptor``,
``PartitionKeys``, ``Parameters.classification``; partitions as ``Values`` + ``Location``), so
code and notebooks read it the way they would read Glue. Home-made because nothing on PyPI
offers a file-backed Glue catalog; it is one JSON document per database, replaced atomically.
Every change is a read-modify-write under a per-database file lock, so concurrent runs never
lose each other's tables or partitions.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql.types import StructType

from etl.storage.lake import Lake, join
from etl.storage.locks import file_lock


@dataclass(frozen=True)
class TableRef:
    database: str
    name: str

    def __str__(self) -> str:
        return f"{self.database}.{self.name}"


# What Hive and Spark's partitioned writer escape (as %XX) in a partition folder's value.
HIVE_ESCAPED = frozenset("\"#%'*/:=?\\{[]^\x7f") | frozenset(map(chr, range(1, 32)))


def partition_location(location: str, keys: list[str], values: list[str]) -> str:
    """The folder of a partition as Spark writes it (``rule=cast:amount`` is in the folder
    ``rule=cast%3Aamount``); the catalog keeps the value itself."""
    return join(
        location,
        *(
            f"{k}=" + "".join(f"%{ord(c):02X}" if c in HIVE_ESCAPED else c for c in str(v))
            for k, v in zip(keys, values, strict=True)
        ),
    )


def schema_to_columns(schema: StructType) -> list[dict]:
    """Spark schema -> Glue ``Columns`` (Hive type names, as the crawler writes them)."""
    return [{"Name": f.name, "Type": f.dataType.simpleString()} for f in schema.fields]


def columns_to_ddl(columns: list[dict]) -> str:
    """Glue ``Columns`` -> a Spark DDL schema string usable by ``DataFrameReader.schema``."""
    return ", ".join(f"`{c['Name']}` {c['Type']}" for c in columns)


def kept_columns(previous: list[dict], columns: list[dict]) -> list[dict]:
    """The ``previous`` Glue columns that ``columns`` lacks (names compared as the catalog
    compares them, ignoring case): older partitions hold them, so a table keeps them (a
    partition without one reads it as null) rather than hide their values from Athena."""
    names = {c["Name"].lower() for c in columns}
    return [c for c in previous if c["Name"].lower() not in names]


def table_input(
    name: str,
    schema: StructType,
    location: str,
    classification: str,
    partition_keys: list[tuple[str, str]] | None = None,
    parameters: dict | None = None,
) -> dict:
    """A Glue ``TableInput``: data columns, partition keys, location and classification."""
    partition_names = {key for key, _ in partition_keys or []}
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "StorageDescriptor": {
            "Columns": [c for c in schema_to_columns(schema) if c["Name"] not in partition_names],
            "Location": location,
        },
        "PartitionKeys": [{"Name": k, "Type": t} for k, t in partition_keys or []],
        "Parameters": {"classification": classification, **(parameters or {})},
    }


class LocalCatalog:
    """File-backed catalog under ``<lake>/_system/catalog``."""

    def __init__(self, lake: Lake) -> None:
        self.folder = Path(lake.system_path("catalog"))

    def _path(self, database: str) -> Path:
        return self.folder / f"{database}.json"

    def _changing(self, database: str):
        """The lock around one read-modify-write of a database's document."""
        lock = self.folder.parent / "locks" / f"catalog-{database}.lock"
        return file_lock(lock, holder=f"catalog update {database}")

    def _load(self, database: str) -> dict:
        path = self._path(database)
        if not path.exists():
            return {"Name": database, "Tables": {}}
        return json.loads(path.read_text(encoding="utf-8"))

    def _save(self, database: str, document: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{database}.", suffix=".json")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=2, sort_keys=True)
        os.replace(tmp, self._path(database))

    def databases(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("*.json")) if self.folder.exists() else []

    def tables(self, database: str) -> list[dict]:
        return list(self._load(database)["Tables"].values())

    def get_table(self, database: str, name: str) -> dict:
        try:
            return self._load(database)["Tables"][name]
        except KeyError:
            raise KeyError(
                f"table {database}.{name} is not in the catalog; run the pipeline first"
            ) from None

    def upsert_table(
        self,
        database: str,
        name: str,
        schema: StructType,
        location: str,
        classification: str,
        partition_keys: list[tuple[str, str]] | None = None,
        parameters: dict | None = None,
        keep_columns: bool = False,
    ) -> dict:
        """Create the table or refresh its columns, keeping known partitions (and, with
        ``keep_columns``, the columns it has that ``schema`` lacks: ``kept_columns``)."""
        with self._changing(database):
            document = self._load(database)
            previous = document["Tables"].get(name, {})
            table = table_input(name, schema, location, classification, partition_keys, parameters)
            if keep_columns:
                columns = table["StorageDescriptor"]["Columns"]
                old = previous.get("StorageDescriptor", {}).get("Columns", [])
                columns += kept_columns(old, columns)
            table = {
                "DatabaseName": database,
                **table,
                "Partitions": previous.get("Partitions", []),
            }
            document["Tables"][name] = table
            self._save(database, document)
            return table

    def add_partitions(self, database: str, name: str, values: list[list[str]]) -> list[dict]:
        """Register partitions (idempotent: a known partition is not added twice)."""
        with self._changing(database):
            return self._add_partitions(database, name, values)

    def _add_partitions(self, database: str, name: str, values: list[list[str]]) -> list[dict]:
        document = self._load(database)
        table = document["Tables"][name]
        keys = [k["Name"] for k in table["PartitionKeys"]]
        known = {tuple(p["Values"]) for p in table["Partitions"]}
        added = []
        for vals in values:
            if tuple(vals) in known:
                continue
            location = partition_location(table["StorageDescriptor"]["Location"], keys, vals)
            partition = {"Values": list(vals), "StorageDescriptor": {"Location": location}}
            table["Partitions"].append(partition)
            known.add(tuple(vals))
            added.append(partition)
        table["Partitions"].sort(key=lambda p: [v.zfill(10) for v in p["Values"]])
        self._save(database, document)
        return added

    def read_schema_ddl(self, database: str, name: str) -> str:
        """The table's columns as a DDL string, for reads that must not infer again."""
        return columns_to_ddl(self.get_table(database, name)["StorageDescriptor"]["Columns"])

    # --- what the raw crawler found for one source ---------------------------------------
    def discovery_lock(self, database: str, name: str):
        """Held while the raw crawler registers a table and pins what it registered."""
        lock = self.folder.parent / "locks" / f"discover-{database}.{name}.lock"
        return file_lock(lock, holder=f"discovery of {database}.{name}")

    def _pin_path(self, database: str, name: str, source: str) -> Path:
        digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:24]
        return self.folder / "sources" / f"{database}.{name}" / f"{digest}.json"

    def pin_source(
        self,
        database: str,
        name: str,
        source: str,
        data_format: str,
        ddl: str,
        parameters: dict | None = None,
    ):
        """Keep the format and schema registered for ``source``: the raw table is shared by
        every file of a dataset, and another run's crawl may change it before this run's job
        reads its file."""
        path = self._pin_path(database, name, source)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"source": source, "dataFormat": data_format, "ddl": ddl}
        record["parameters"] = parameters or {}
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".pin.", suffix=".json")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(record, out)
        os.replace(tmp, path)

    def pinned_source(self, database: str, name: str, source: str) -> dict | None:
        """What ``pin_source`` kept for ``source`` (``None``: read the table entry)."""
        path = self._pin_path(database, name, source)
        if not path.is_file():
            return None
        record = json.loads(path.read_text(encoding="utf-8"))
        return record if record.get("source") == source else None


# Hive formats Athena and Glue expect per classification (what a crawler would write).
GLUE_FORMATS = {
    "parquet": (
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
    ),
    "json": (
        "org.apache.hadoop.mapred.TextInputFormat",
        "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"},
    ),
    "csv": (
        "org.apache.hadoop.mapred.TextInputFormat",
        "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        {
            "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
            "Parameters": {"field.delim": ",", "skip.header.line.count": "1"},
        },
    ),
}
PARTITION_BATCH = 100  # batch_create_partition's limit per call


class GlueCatalog:
    """The AWS Glue Data Catalog behind ``LocalCatalog``'s interface (for the deployed job)."""

    def __init__(self, client=None) -> None:
        if client is None:
            import boto3

            client = boto3.client("glue")
        self.glue = client

    def databases(self) -> list[str]:
        pages = self.glue.get_paginator("get_databases").paginate()
        return sorted(d["Name"] for page in pages for d in page["DatabaseList"])

    def tables(self, database: str) -> list[dict]:
        pages = self.glue.get_paginator("get_tables").paginate(DatabaseName=database)
        return [t for page in pages for t in page["TableList"]]

    def get_table(self, database: str, name: str) -> dict:
        try:
            return self.glue.get_table(DatabaseName=database, Name=name)["Table"]
        except self.glue.exceptions.EntityNotFoundException:
            raise KeyError(
                f"table {database}.{name} is not in the Glue Data Catalog; run the pipeline first"
            ) from None

    def get_table_version(self, database: str, name: str, version_id: str) -> dict:
        """The table as it was at ``version_id`` (Glue keeps a version per change)."""
        try:
            response = self.glue.get_table_version(
                DatabaseName=database, TableName=name, VersionId=version_id
            )
        except self.glue.exceptions.EntityNotFoundException:
            raise KeyError(
                f"version {version_id} of table {database}.{name} is not in the Glue Data "
                "Catalog (deleted, or the table was re-created)"
            ) from None
        return response["TableVersion"]["Table"]

    def _ensure_database(self, database: str) -> None:
        with contextlib.suppress(self.glue.exceptions.AlreadyExistsException):
            self.glue.create_database(DatabaseInput={"Name": database})

    def upsert_table(
        self,
        database: str,
        name: str,
        schema: StructType,
        location: str,
        classification: str,
        partition_keys: list[tuple[str, str]] | None = None,
        parameters: dict | None = None,
        keep_columns: bool = False,
    ) -> dict:
        """Create the table or update its columns; Glue keeps its partitions either way.
        With ``keep_columns``, the table keeps the columns it has that ``schema`` lacks."""
        self._ensure_database(database)
        table = table_input(name, schema, location, classification, partition_keys, parameters)
        if keep_columns:
            try:
                old = self.get_table(database, name)["StorageDescriptor"]["Columns"]
            except KeyError:
                old = []
            columns = table["StorageDescriptor"]["Columns"]
            columns += kept_columns(old, columns)
        input_format, output_format, serde = GLUE_FORMATS[classification]
        table["StorageDescriptor"].update(
            InputFormat=input_format, OutputFormat=output_format, SerdeInfo=serde
        )
        try:
            self.glue.update_table(DatabaseName=database, TableInput=table)
        except self.glue.exceptions.EntityNotFoundException:
            self.glue.create_table(DatabaseName=database, TableInput=table)
        return {**table, "DatabaseName": database}

    def add_partitions(self, database: str, name: str, values: list[list[str]]) -> list[dict]:
        """Register partitions; ones Glue already has are skipped (idempotent)."""
        table = self.get_table(database, name)
        keys = [k["Name"] for k in table["PartitionKeys"]]
        descriptor = table["StorageDescriptor"]
        inputs = [
            {
                "Values": list(vals),
                "StorageDescriptor": {
                    **descriptor,
                    "Location": partition_location(descriptor["Location"], keys, vals),
                },
            }
            for vals in values
        ]
        added = []
        for start in range(0, len(inputs), PARTITION_BATCH):
            batch = inputs[start : start + PARTITION_BATCH]
            response = self.glue.batch_create_partition(
                DatabaseName=database, TableName=name, PartitionInputList=batch
            )
            known = {
                tuple(e["PartitionValues"])
                for e in response.get("Errors", [])
                if e["ErrorDetail"]["ErrorCode"] == "AlreadyExistsException"
            }
            failed = [
                e for e in response.get("Errors", []) if tuple(e["PartitionValues"]) not in known
            ]
            if failed:
                detail = failed[0]["ErrorDetail"]
                raise RuntimeError(
                    f"Glue refused partition {failed[0]['PartitionValues']} of {database}.{name}: "
                    f"{detail['ErrorCode']}: {detail.get('ErrorMessage', '')}"
                )
            added += [p for p in batch if tuple(p["Values"]) not in known]
        return added

    def read_schema_ddl(self, database: str, name: str) -> str:
        """The table's columns as a DDL string, for reads that must not infer again."""
        return columns_to_ddl(self.get_table(database, name)["StorageDescriptor"]["Columns"])

    # --- the partition pointers the deployed publish switches (etl.storage.publish) --------
    def partition_locations(self, database: str, name: str) -> dict[tuple[str, ...], str]:
        """Every partition of the table and the location it points at (values as the
        catalog keeps them, unescaped)."""
        pages = self.glue.get_paginator("get_partitions").paginate(
            DatabaseName=database, TableName=name
        )
        return {
            tuple(p["Values"]): p["StorageDescriptor"]["Location"]
            for page in pages
            for p in page["Partitions"]
        }

    def point_partition(
        self, database: str, name: str, values: list[str], location: str, descriptor: dict
    ) -> None:
        """Make the partition read ``location``: one ``UpdatePartition`` (or
        ``CreatePartition`` for a new one), so a query planned before it reads the old
        location and one planned after it the new one. ``descriptor`` is the table's
        ``StorageDescriptor`` (formats, SerDe, columns), as ``add_partitions`` copies it."""
        partition = {
            "Values": list(values),
            "StorageDescriptor": {**descriptor, "Location": location},
        }
        where = {"DatabaseName": database, "TableName": name}
        try:
            self.glue.update_partition(
                **where, PartitionValueList=list(values), PartitionInput=partition
            )
        except self.glue.exceptions.EntityNotFoundException:
            try:
                self.glue.create_partition(**where, PartitionInput=partition)
            except self.glue.exceptions.AlreadyExistsException:  # created meanwhile
                self.glue.update_partition(
                    **where, PartitionValueList=list(values), PartitionInput=partition
                )

    def drop_partition(self, database: str, name: str, values: list[str]) -> None:
        """Remove a partition from the table (its data stays where it was)."""
        with contextlib.suppress(self.glue.exceptions.EntityNotFoundException):
            self.glue.delete_partition(
                DatabaseName=database, TableName=name, PartitionValues=list(values)
            )


@dataclass
class GlueTable:
    """One table of the Glue Data Catalog, as the deployed publish sees it: the partition
    pointers it switches (``etl.storage.publish``: on S3 the switch is the commit).

    With ``schema``, the table is created or refreshed (``upsert_table``) before its first
    partition is switched, so a new partition's descriptor carries this run's columns and
    the lake's first run has a table to add partitions to.
    """

    catalog: GlueCatalog
    database: str
    name: str
    location: str = ""
    schema: StructType | None = None
    partition_keys: list[tuple[str, str]] | None = None
    classification: str = "parquet"
    _descriptor: dict | None = None

    def exists(self) -> bool:
        try:
            self.catalog.get_table(self.database, self.name)
        except KeyError:
            return False
        return True

    def locations(self) -> dict[tuple[str, ...], str]:
        """The location each partition points at now (none while the table is missing)."""
        if not self.exists():
            return {}
        return self.catalog.partition_locations(self.database, self.name)

    def point(self, values: list[str], location: str) -> None:
        """Switch (or add) one partition to ``location``: the deployed publish's commit."""
        if self._descriptor is None:
            if self.schema is not None:
                self.catalog.upsert_table(
                    self.database,
                    self.name,
                    self.schema,
                    self.location,
                    self.classification,
                    self.partition_keys,
                    keep_columns=True,  # older partitions hold them
                )
            self._descriptor = self.catalog.get_table(self.database, self.name)["StorageDescriptor"]
        self.catalog.point_partition(self.database, self.name, values, location, self._descriptor)

    def drop(self, values: list[str]) -> None:
        self.catalog.drop_partition(self.database, self.name, values)
