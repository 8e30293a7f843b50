"""SQL over the lake's catalogued tables with DuckDB, the local stand-in for Athena.

Every Parquet table in the catalog becomes a view ``<database>.<table>`` reading its
partition folders (hive-style columns included; a raw Parquet table reads its landed file);
swap and staging folders never match. Files are combined by column name, so a column a
later file added reads as null in the files written before it.
"""

from __future__ import annotations

import os

import duckdb

from etl.storage.catalog import LocalCatalog
from etl.storage.lake import Lake, is_s3, join


def connect(lake: Lake) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with a view per catalogued Parquet table."""
    connection = duckdb.connect()
    catalog = LocalCatalog(lake)
    for database in catalog.databases():
        connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{database}"')
        for table in catalog.tables(database):
            source = _table_source(table)
            if not source:
                continue
            try:
                connection.execute(
                    f'CREATE VIEW "{database}"."{table["Name"]}" AS SELECT * FROM {source}'
                )
            except duckdb.IOException:
                # No file left (a re-run quarantined nothing): no view, the others still work.
                continue
    return connection


def _table_source(table: dict) -> str | None:
    if table["Parameters"].get("classification") != "parquet":
        return None
    location = table["StorageDescriptor"]["Location"]
    keys = [k["Name"] for k in table.get("PartitionKeys", [])]
    if keys and not table.get("Partitions"):
        return None
    # A raw table's location is the landed object itself, not a folder of files.
    is_file = not keys and not is_s3(location) and os.path.isfile(location)
    pattern = location if is_file else join(location, *(f"{k}=*" for k in keys), "*.parquet")
    # union_by_name: files written before a column was added read it as null.
    return (
        f"read_parquet({_literal(pattern)}, hive_partitioning = {str(bool(keys)).lower()}, "
        "union_by_name = true)"
    )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def run_query(lake: Lake, sql: str) -> tuple[list[str], list[tuple]]:
    """Run ``sql``; return column names and rows."""
    with connect(lake) as connection:
        cursor = connection.execute(sql)
        if cursor is None:  # DuckDB returns no cursor for text with no statement ("-- x")
            raise ValueError("the SQL holds no statement to run")
        columns = [d[0] for d in cursor.description or []]
        return columns, cursor.fetchall()
