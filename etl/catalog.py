"""A local stand-in for the Glue Data Catalog: databases, tables, typed columns, partitions.

Tables are stored as JSON in the shape ``glue.get_table`` returns (``StorageDescriptor``,
``PartitionKeys``, ``Parameters.classification``; partitions as ``Values`` + ``Location``), so
code and notebooks read it the way they would read Glue. Home-made because nothing on PyPI
offers a file-backed Glue catalog; it is one JSON document per database, replaced atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql.types import StructType

from etl.lake import Lake, join


@dataclass(frozen=True)
class TableRef:
    database: str
    name: str

    def __str__(self) -> str:
        return f"{self.database}.{self.name}"


def schema_to_columns(schema: StructType) -> list[dict]:
    """Spark schema -> Glue ``Columns`` (Hive type names, as the crawler writes them)."""
    return [{"Name": f.name, "Type": f.dataType.simpleString()} for f in schema.fields]


def columns_to_ddl(columns: list[dict]) -> str:
    """Glue ``Columns`` -> a Spark DDL schema string usable by ``DataFrameReader.schema``."""
    return ", ".join(f"`{c['Name']}` {c['Type']}" for c in columns)


class LocalCatalog:
    """File-backed catalog under ``<lake>/_system/catalog``."""

    def __init__(self, lake: Lake) -> None:
        self.folder = Path(lake.system_path("catalog"))

    def _path(self, database: str) -> Path:
        return self.folder / f"{database}.json"

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
    ) -> dict:
        """Create the table or refresh its columns, keeping known partitions."""
        document = self._load(database)
        previous = document["Tables"].get(name, {})
        partition_names = {key for key, _ in partition_keys or []}
        table = {
            "Name": name,
            "DatabaseName": database,
            "TableType": "EXTERNAL_TABLE",
            "StorageDescriptor": {
                "Columns": [
                    c for c in schema_to_columns(schema) if c["Name"] not in partition_names
                ],
                "Location": location,
            },
            "PartitionKeys": [{"Name": k, "Type": t} for k, t in partition_keys or []],
            "Parameters": {"classification": classification, **(parameters or {})},
            "Partitions": previous.get("Partitions", []),
        }
        document["Tables"][name] = table
        self._save(database, document)
        return table

    def add_partitions(self, database: str, name: str, values: list[list[str]]) -> list[dict]:
        """Register partitions (idempotent: a known partition is not added twice)."""
        document = self._load(database)
        table = document["Tables"][name]
        keys = [k["Name"] for k in table["PartitionKeys"]]
        known = {tuple(p["Values"]) for p in table["Partitions"]}
        added = []
        for vals in values:
            if tuple(vals) in known:
                continue
            location = join(
                table["StorageDescriptor"]["Location"],
                *(f"{k}={v}" for k, v in zip(keys, vals, strict=True)),
            )
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
