"""Summaries of the curated data for the analytics zone (what Athena would query).

Each summary in ``dataset.yaml`` is per-row columns, a group-by and aggregates, always per
processing date (the partitions of every curated and analytics table).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl.core.conventions import PROCESS_PARTITIONS
from etl.core.spec import Summary
from etl.stages.names import all_named


def summarise(curated: DataFrame, summary: Summary) -> DataFrame:
    """One row per processing date and ``group_by`` values, with the summary's aggregates."""
    rows = curated
    for name, expression in summary.columns.items():
        rows = rows.withColumn(name, F.expr(expression))
    return (
        rows.groupBy(*all_named([*PROCESS_PARTITIONS, *summary.group_by]))
        .agg(*[F.expr(e).alias(name) for name, e in summary.aggregates.items()])
        .select(*all_named([*summary.group_by, *summary.aggregates, *PROCESS_PARTITIONS]))
    )
