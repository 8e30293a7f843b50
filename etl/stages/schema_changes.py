"""A curated or analytics table keeps each column's type from run to run.

Athena and Spark read every partition of a table with the catalog's one schema, so a
partition written with another type for a column (a spec that changed ``amount`` from
double to decimal, a later file whose undeclared column reads as text) leaves the older
partitions unreadable there; ``etl query`` (DuckDB, which widens to a common type) would not
show it. A run that would change a column's type is refused before it writes a row. The
widenings Athena's and Spark's Parquet readers take (``int`` to ``bigint``, ``float`` to
``double``) pass; a file that reads a column narrower than the table has it (``int``, where
the table says ``bigint``) is written with the table's type.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql.types import StructType

from etl.stages.names import named
from etl.storage.catalog import schema_to_columns

WIDENINGS = {
    ("tinyint", "smallint"),
    ("tinyint", "int"),
    ("tinyint", "bigint"),
    ("smallint", "int"),
    ("smallint", "bigint"),
    ("int", "bigint"),
    ("float", "double"),
}


class TypeChanged(ValueError):
    """A run would write a column of a catalogued table with another type."""


def type_changes(columns: list[dict], schema: StructType) -> list[str]:
    """``name old -> new`` for each column of ``schema`` that the Glue ``columns`` type
    otherwise (names matched as the catalog matches them, ignoring case), widenings either
    way aside (``conformed`` writes a narrower one with the table's type)."""
    before = {c["Name"].lower(): c["Type"] for c in columns}
    changes = []
    for column in schema_to_columns(schema):
        old, new = before.get(column["Name"].lower()), column["Type"]
        if old not in (None, new) and (old, new) not in _READABLE:
            changes.append(f"{column['Name']} {old} -> {new}")
    return changes


_READABLE = WIDENINGS | {(wide, narrow) for narrow, wide in WIDENINGS}


def catalogued_columns(catalog, database: str, table: str) -> list[dict] | None:
    """The table's Glue columns, or None when the catalog has no such table."""
    try:
        return catalog.get_table(database, table)["StorageDescriptor"]["Columns"]
    except KeyError:
        return None


def conformed(df: DataFrame, table: str, columns: list[dict] | None) -> DataFrame:
    """``df``, about to be written to ``table`` whose catalogued Glue ``columns`` are given
    (None: not catalogued yet, any type goes), with each column the table types wider
    (``bigint`` where this file read ``int``) cast to the table's type, so every partition
    holds one type. A column of another type raises ``TypeChanged``."""
    changes = type_changes(columns or [], df.schema)
    if changes:
        raise TypeChanged(
            f"{table}: {'; '.join(changes)} would leave its older partitions unreadable "
            "in Athena and Spark; keep the type, or give the column a new curated_name"
        )
    wider = {c["Name"].lower(): c["Type"] for c in columns or []}
    casts = {
        f.name: named(f.name).cast(wider[f.name.lower()])
        for f in df.schema.fields
        if (f.dataType.simpleString(), wider.get(f.name.lower())) in WIDENINGS
    }
    return df.withColumns(casts) if casts else df
