"""Load: write a curated or summary table as partitioned snappy Parquet, then publish it.

Spark writes into the run's staging folder; ``etl.storage.publish`` makes the partitions
visible atomically (locally a folder swap, on S3 a switch of the Glue catalog partition)
and replaces the rows of an earlier load of the same source.
"""

from __future__ import annotations

from pyspark.sql import DataFrame

from etl.storage.publish import publish_staged
from etl.storage.publish_s3 import PartitionPointers
from etl.storage.staging import Published, claim_staging


def write_partitioned(
    df: DataFrame,
    table_path: str,
    partition_columns: tuple[str, ...],
    source: str,
    staging_path: str,
    replace_elsewhere: bool = True,
    table: PartitionPointers | None = None,
) -> list[Published]:
    """Write ``df`` under ``table_path`` partitioned by ``partition_columns``, atomically.

    Rows from an earlier load of the same ``source`` are replaced, wherever they were. On
    S3, ``table`` is the catalog table whose partitions the publish switches (its commit).
    """
    stage_partitioned(df, partition_columns, staging_path)
    return publish_staged(
        staging_path, table_path, len(partition_columns), source, replace_elsewhere, table
    )


def stage_partitioned(df: DataFrame, partition_columns: tuple[str, ...], staging_path: str) -> None:
    """Write ``df`` as partitioned snappy Parquet into ``staging_path``, invisible to readers
    until ``publish_staged`` (or gone with ``discard_staged``)."""
    claim_staging(staging_path)  # marked as this process's: clean-ups leave it while it lives
    # REBALANCE lets adaptive execution size the output: one file per partition for a small
    # input, ~64 MB files (spark.sql.adaptive.advisoryPartitionSizeInBytes) for a big one.
    # (PySpark 3.5's DataFrame.hint cannot pass columns, hence the SQL form.)
    columns = ", ".join(f"`{c}`" for c in partition_columns)
    balanced = df.sparkSession.sql(f"SELECT /*+ REBALANCE({columns}) */ * FROM {{df}}", df=df)
    balanced.write.mode("overwrite").option("compression", "snappy").partitionBy(
        *partition_columns
    ).parquet(staging_path)
