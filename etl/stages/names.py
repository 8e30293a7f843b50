"""Columns by name, whatever the name holds.

A feed names its columns as it likes: ``user.name``, ``Unit Price (€)``, ``a`b``. Spark reads
a bare name as a path (``user.name`` is field ``name`` of a struct ``user``), so every stage
that refers to a column by a name it did not choose goes through ``named``.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from etl.core.conventions import sql_identifier


def named(name: str) -> Column:
    """The column called ``name``, even when the name holds dots, spaces or backticks."""
    return F.col(sql_identifier(name))


def all_named(names) -> list[Column]:
    """``named`` for each of ``names``, in order."""
    return [named(n) for n in names]
