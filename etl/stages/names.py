"""Columns by name, whatever the name holds.

A feed names its columns as it likes: ``user.name``, ``Unit Price (€)``, ``a`b``. Spark reads
a bare name as a path (``user.name`` is field ``name`` of a struct ``user``), so every stage
that refers to a column by a name it did not choose goes through ``named``.
"""

from __future__ import annotations

from pyspark import SparkContext
from pyspark.sql import Column
from pyspark.sql import functions as F

from etl.core.conventions import sql_identifier


def named(name: str) -> Column:
    """The column called ``name``, even when the name holds dots, spaces or backticks.

    One ``Column`` per name and Spark context: each ``F.col`` is two Py4J round trips
    (~0.4 ms), and a 300-column feed's job asked for ~3,000 of them."""
    global _context
    context = SparkContext._active_spark_context
    if context is not _context:
        _columns.clear()
        _context = context
    column = _columns.get(name)
    if column is None:
        column = _columns[name] = F.col(sql_identifier(name))
    return column


_context: SparkContext | None = None  # the context the columns below were made in
_columns: dict[str, Column] = {}


def all_named(names) -> list[Column]:
    """``named`` for each of ``names``, in order."""
    return [named(n) for n in names]
