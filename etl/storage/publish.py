"""Publish staged, partitioned Parquet into a table atomically and idempotently.

The load stage (``etl.stages.load``) writes a run's output into a staging folder beside the
table (``etl.storage.staging``); ``publish_staged`` then makes each staged partition
visible in one step, so a reader sees the partition as it was or as it is now, never half
of it, and drops the staging:

* locally, by building the partition's next version beside it and swapping the two folders
  (``etl.storage.publish_local``, under the lake lock);
* on S3, by writing the partition's next version to an immutable prefix and switching the
  Glue catalog partition to it, the switch being the commit (``etl.storage.publish_s3``).

Published files are named after the source (``etl.storage.staging.source_id``), so
processing the same source again replaces its rows, in the partitions it writes and, by
default, in the ones it no longer writes, instead of adding them. Each module's docstring
says how its publish survives a kill at any step.
"""

from __future__ import annotations

from etl.storage import publish_local, publish_s3
from etl.storage.lake import is_s3
from etl.storage.publish_s3 import PartitionPointers, Retention
from etl.storage.staging import Published, source_id


def publish_staged(
    staging_path: str,
    table_path: str,
    depth: int,
    source: str,
    replace_elsewhere: bool = True,
    table: PartitionPointers | None = None,
    retention: Retention | None = None,
) -> list[Published]:
    """Publish every partition staged under ``staging_path`` into the table; drop the staging.

    With ``replace_elsewhere``, the source's files in partitions it no longer writes go too.
    On S3, ``table`` is the catalog table whose partitions are switched to their new
    versions (required there: the switch is the commit) and ``retention`` says when
    superseded versions and dead runs' staging may go; locally both are unused.
    """
    prefix = f"{source_id(source)}-part-"
    if is_s3(table_path):
        return publish_s3.publish(
            staging_path, table_path, depth, prefix, replace_elsewhere, table, retention
        )
    return publish_local.publish(staging_path, table_path, depth, prefix, replace_elsewhere)


def clear_partition(
    location: str, table: PartitionPointers | None = None, retention: Retention | None = None
) -> None:
    """Remove a partition whose rows all went elsewhere (locally in one rename, so a reader
    sees the old partition or none; on S3 by removing it from ``table`` in the catalog, its
    data going once the grace period is over)."""
    if is_s3(location):
        publish_s3.clear_partition(
            location, publish_s3.require(table, location), retention or Retention()
        )
        return
    publish_local.clear_partition(location)
