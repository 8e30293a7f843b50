"""The S3 publish: immutable partition versions, the catalog switch, garbage collection.

On S3 (deployed mode) there is no rename; the commit is the Glue Data Catalog instead.
Each partition's versions are immutable prefixes inside its folder::

    <table>/process_year=2026/process_month=11/process_day=26/_v-20261127T161800Z-1a2b3c4d/…

Publishing writes the partition's next version to a new prefix (a server-side copy of the
files it keeps - S3 has no hard links - plus the new files), and only then switches the
catalog partition's ``StorageDescriptor.Location`` to it (``UpdatePartition``, or
``CreatePartition`` for a new partition; ``etl.storage.catalog.GlueTable``). That switch is
the commit: Athena, and Spark through the catalog, plan a query with the old location or
the new one, never a mix. A partition left with no rows is removed from the catalog. Why
this layout: a version name starts with ``_`` and holds no ``=``, so Hive, Athena (Trino)
and Spark skip it when they list a table's root or a partition folder (Spark keeps ``_``
names only when they hold ``=``, which is why it is not ``_v=<id>``), while a reader given
the version as its location reads it; Spark's ``basePath`` partition discovery ignores a
folder name without ``=``, so reading a version adds no column. A reader that lists the
table root instead of asking the catalog therefore reads no versioned partition at all,
never two versions of one; partitions published before versions (files directly in the
partition folder) keep being read where they are until they are published again.

Nothing the catalog points at is deleted. A version the catalog no longer points at is
stamped ``<version>.retired`` (``_files.retired`` for a partition's pre-version files) when
it is replaced, or when the next publish first finds it unreferenced (a run killed between
writing a version and switching to it); it is deleted by a publish into the table once the
stamp is older than the grace period (``Retention``: default one hour,
``$ETL_S3_GRACE_SECONDS``), since a query planned before the switch may still read it.
Staging prefixes carry an owner object (``_staging/<run>.owner``: the Glue job name, run
id and when it was written); the next publish deletes those whose job run is no longer
running (``glue:GetJobRun``) or, when that cannot be asked, that are older than the grace
period. The Glue job's ``MaxConcurrentRuns: 1`` serialises deployed publishers (there is
no lake lock on S3).

A publish on S3 lists the table once, recursively (``TableListing``: one request per 1,000
objects); the garbage collection, the files each published partition keeps and the search
for the source's files in other partitions all read that listing, instead of one listing per
partition of the table: a daily table three years old has ~1,100 partitions. A version is
never changed once written, so the listing stays true for the versions it saw; one written
after it is listed afresh.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import unquote

from pyarrow import fs as pafs

from etl.core.errors import EtlError
from etl.storage.lake import filesystem, join
from etl.storage.locks import step_hook
from etl.storage.staging import (
    OWNER_SUFFIX,
    PARQUET_SUFFIX,
    Published,
    delete_object,
    discard_staged,
    list_files,
    read_json,
    remove_tree,
    staged_partitions,
    write_json,
)

VERSION_PREFIX = "_v-"
HIDDEN = ("_", ".")  # names Spark, Athena and Hive skip: not data
RETIRED_SUFFIX = ".retired"
PARTITION_FILES = "_files"  # a partition's own files (written before versions): its stamp's stem
GRACE_ENV = "ETL_S3_GRACE_SECONDS"
DEFAULT_GRACE_SECONDS = 3600.0
LIVE_RUN_STATES = frozenset({"STARTING", "RUNNING", "STOPPING", "WAITING"})


class PartitionPointers(Protocol):
    """A catalog table's partitions as the S3 publish switches them
    (``etl.storage.catalog.GlueTable``); values are the catalog's (unescaped)."""

    location: str  # the table's root

    def exists(self) -> bool: ...
    def locations(self) -> dict[tuple[str, ...], str]: ...
    def point(self, values: list[str], location: str) -> None: ...
    def drop(self, values: list[str]) -> None: ...


def grace_seconds() -> float:
    """``$ETL_S3_GRACE_SECONDS``, or one hour."""
    raw = os.environ.get(GRACE_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_GRACE_SECONDS
    except ValueError:
        raise EtlError(f"{GRACE_ENV}={raw!r} is not a number of seconds") from None
    if value < 0:
        raise EtlError(f"{GRACE_ENV}={raw!r} is negative; give the seconds to keep old versions")
    return value


def glue_run_state(job_name: str, run_id: str) -> str | None:
    """The state of a Glue job run (``RUNNING``, ``SUCCEEDED``…); ``None`` when it cannot be
    asked (no such run, no permission, no Glue): then a staging prefix's age decides."""
    if not job_name or not run_id:
        return None
    try:
        import boto3

        run = boto3.client("glue").get_job_run(JobName=job_name, RunId=run_id)
        return run["JobRun"]["JobRunState"]
    except Exception:  # any failure to ask is "unknown", never "dead"
        return None


@dataclass(frozen=True)
class Retention:
    """When the S3 publish may delete what no reader needs: a superseded version once it has
    been unreferenced for ``grace_seconds``, a staging prefix once its job run is not
    running (``run_state``) or, unknown, once it is ``grace_seconds`` old. ``clock`` is the
    time (tests move it instead of sleeping)."""

    grace_seconds: float = field(default_factory=grace_seconds)
    clock: Callable[[], float] = time.time
    run_state: Callable[[str, str], str | None] = glue_run_state


def require(table: PartitionPointers | None, where: str) -> PartitionPointers:
    if table is None:
        raise ValueError(
            f"publishing into {where} needs its catalog table (table=GlueTable(...)): on S3 "
            "switching the catalog partition is the commit"
        )
    return table


def publish(
    staging_path: str,
    table_path: str,
    depth: int,
    prefix: str,
    replace_elsewhere: bool,
    table: PartitionPointers | None,
    retention: Retention | None,
) -> list[Published]:
    """``etl.storage.publish.publish_staged`` into an S3 table: per partition, write the next
    version, then switch the catalog to it (the commit), then stamp the replaced version
    retired."""
    table = require(table, table_path)
    retention = retention or Retention()
    published: list[Published] = []
    step_hook("publish-begin")
    try:
        listing = _list_table(table_path, depth)
        collect_garbage(table_path, staging_path, table, retention, listing)
        files_of = listing.data_files if listing else _data_files
        step_hook("repaired")
        pointers = table.locations()
        for relative in staged_partitions(staging_path, depth):
            staged = join(staging_path, relative)
            values = [segment.split("=", 1)[1] for segment in relative.split("/")]
            current = pointers.get(tuple(unquote(v) for v in values))
            kept = [f for f in files_of(current) if not f.startswith(prefix)]
            new_files = sorted(f for f in list_files(staged) if f.endswith(".parquet"))
            version = _new_version(join(table_path, relative), retention)
            _write_version(version, current, kept, [(staged, new_files, prefix)])
            step_hook("built")
            table.point([unquote(v) for v in values], version)  # the commit
            step_hook("swapped")
            if current:
                _retire(current, retention)
            published.append(Published(values, version, len(new_files)))
        step_hook("published")
        if replace_elsewhere:
            done = {tuple(p.values) for p in published}
            published += _forget_source_elsewhere_s3(
                table_path, prefix, pointers, done, depth, table, retention, files_of
            )
    finally:
        discard_staged(staging_path)
    return published


def _forget_source_elsewhere_s3(
    table_path, prefix, pointers, done, depth, table, retention, files_of
) -> list[Published]:
    """Switch every other partition that holds the source's files to a version without
    them; one with nothing left leaves the catalog. ``files_of`` gives the files each holds
    (``TableListing.data_files``: the table's one listing, not one per partition)."""
    changed = []
    for values, current in sorted(pointers.items()):
        relative = _partition_of(table_path, current, depth)
        if relative is None:
            continue  # a location outside the table: not this publish's to change
        escaped = [segment.split("=", 1)[1] for segment in relative.split("/")]
        if tuple(escaped) in done:
            continue
        files = files_of(current)
        if not any(f.startswith(prefix) for f in files):
            continue
        remaining = [f for f in files if not f.startswith(prefix)]
        # With nothing left the version is never written: an empty location to count in.
        version = _new_version(join(table_path, relative), retention)
        if remaining:
            _write_version(version, current, remaining, [])
            step_hook("built-elsewhere")
            table.point(list(values), version)
        else:
            table.drop(list(values))
        step_hook("swapped")
        _retire(current, retention)
        count = sum(f.endswith(".parquet") for f in remaining)
        changed.append(Published(escaped, version, count, moved_out=True))
    return changed


def clear_partition(location: str, table: PartitionPointers, retention: Retention) -> None:
    base = table.location.rstrip("/") + "/"
    if not location.startswith(base):
        raise ValueError(f"{location} is not a partition of the table at {table.location}")
    relative = location[len(base) :].strip("/")
    values = tuple(unquote(s.split("=", 1)[1]) for s in relative.split("/"))
    current = table.locations().get(values)
    if current is None:
        return
    table.drop(list(values))
    step_hook("cleared")
    _retire(current, retention)


def _new_version(partition: str, retention: Retention) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(retention.clock()))
    return join(partition, f"{VERSION_PREFIX}{stamp}-{uuid.uuid4().hex[:8]}")


def _write_version(version: str, current: str | None, kept: list[str], added) -> None:
    """Copy (server-side) the files ``current`` keeps and each ``(folder, files, prefix)``
    of ``added`` (renamed ``<prefix>00000…``) into the new prefix ``version``."""
    fs, target = filesystem(version)
    source = filesystem(current)[1] if current else ""
    for name in kept:
        fs.copy_file(f"{source}/{name}", f"{target}/{name}")
    for folder, names, prefix in added:
        _, root = filesystem(folder)
        for index, name in enumerate(names):
            fs.copy_file(f"{root}/{name}", f"{target}/{prefix}{index:05d}{PARQUET_SUFFIX}")


def _data_files(location: str | None) -> list[str]:
    """The files a reader of ``location`` reads (hidden ``_``/``.`` names are not data)."""
    if not location:
        return []
    return [f for f in list_files(location) if not f.startswith(HIDDEN)]


def _partition_of(table_path: str, location: str, depth: int) -> str | None:
    """``k=v/…`` of a partition location inside the table (a version or the folder)."""
    base = table_path.rstrip("/") + "/"
    split = _in_partition(location[len(base) :], depth) if location.startswith(base) else None
    if split is None:
        return None
    folders, rest = split
    if rest and (len(rest) > 1 or not rest[0].startswith(VERSION_PREFIX)):
        return None
    return "/".join(folders)


def _in_partition(path: str, depth: int) -> tuple[list[str], list[str]] | None:
    """The ``k=v`` folders of a path inside a table and what follows them; None when the
    path is not inside a partition."""
    segments = path.strip("/").split("/")
    folders, rest = segments[:depth], segments[depth:]
    if len(folders) != depth or not all("=" in s for s in folders):
        return None
    return folders, rest


def _stamp_of(location: str) -> str:
    """Where the retired stamp of a version (or of a partition's own files) is kept."""
    last = location.rstrip("/").rsplit("/", 1)[-1]
    if last.startswith(VERSION_PREFIX):
        return f"{location.rstrip('/')}{RETIRED_SUFFIX}"
    return join(location, f"{PARTITION_FILES}{RETIRED_SUFFIX}")


def _retire(location: str, retention: Retention) -> None:
    """Stamp a version the catalog stopped pointing at: its grace period starts now."""
    write_json(_stamp_of(location), {"retired": retention.clock()})


@dataclass(frozen=True)
class TableListing:
    """A table's objects from one recursive listing: each version's (or partition
    folder's) objects, and the retired stamps."""

    objects: dict[str, list[str]]  # "s3://…/k=v/…[/_v-…]" -> its objects' paths
    stamps: dict[str, str]  # a version (or partition folder) -> its stamp's path

    def data_files(self, location: str | None) -> list[str]:
        """What ``_data_files`` lists for ``location``; a version written after the listing
        is listed afresh. Versions are never changed once written, so the listing stays
        true for every version it saw."""
        location = (location or "").rstrip("/")
        if location not in self.objects:
            return _data_files(location)
        base = location.removeprefix("s3://") + "/"
        names = (path[len(base) :] for path in self.objects[location])
        return sorted(n for n in names if "/" not in n and not n.startswith(HIDDEN))


def _list_table(table_path: str, depth: int) -> TableListing | None:
    """The table's objects (one recursive listing); None when it has none."""
    fs, root = filesystem(table_path)
    if fs.get_file_info(root).type == pafs.FileType.NotFound:
        return None
    objects: dict[str, list[str]] = {}
    stamps: dict[str, str] = {}
    for info in fs.get_file_info(pafs.FileSelector(root, recursive=True)):
        if info.type != pafs.FileType.File:
            continue
        split = _in_partition(info.path[len(root) :], depth)
        if split is None or not split[1]:
            continue
        folders, rest = split
        partition = "s3://" + "/".join([root, *folders])
        if len(rest) == 1 and rest[0].endswith(RETIRED_SUFFIX):
            stem = rest[0].removesuffix(RETIRED_SUFFIX)
            stamps[partition if stem == PARTITION_FILES else join(partition, stem)] = info.path
        elif len(rest) == 1 and not rest[0].startswith(HIDDEN):
            objects.setdefault(partition, []).append(info.path)
        elif len(rest) > 1 and rest[0].startswith(VERSION_PREFIX):
            objects.setdefault(join(partition, rest[0]), []).append(info.path)
    return TableListing(objects, stamps)


def collect_garbage(
    table_path: str,
    staging_path: str,
    table: PartitionPointers,
    retention: Retention,
    listing: TableListing | None,
) -> list[str]:
    """The S3 analogue of the local ``repair_table`` + ``remove_abandoned_staging``
    (``etl.storage.publish_local``): delete dead runs' staging and the table's versions
    unreferenced for longer than the grace period; return what was removed. Nothing the
    catalog points at is ever deleted; with no catalog table, no version is deleted at all
    (there is nothing to tell a live version from a dead one). ``listing`` is the table's,
    just made (``_list_table``; None: the table has no objects).
    """
    removed = remove_abandoned_staging_s3(staging_path, retention)
    if listing is None or not table.exists():
        return removed
    fs, _ = filesystem(table_path)
    # Read after the listing: a version switched to meanwhile is then known as pointed at.
    pointed = {location.rstrip("/") for location in table.locations().values()}
    candidates, stamps = listing.objects, listing.stamps
    now = retention.clock()
    for location, objects in sorted(candidates.items()):
        if location in pointed:
            continue
        stamp = stamps.get(location)
        retired = read_json(f"s3://{stamp}").get("retired") if stamp else None
        if not isinstance(retired, int | float):
            _retire(location, retention)  # first seen unreferenced: its grace starts now
            continue
        if now - retired <= retention.grace_seconds:
            continue
        for path in objects:
            fs.delete_file(path)
        step_hook("collected")
        fs.delete_file(stamp)
        removed.append(location)
    for location, stamp in stamps.items():  # a stamp whose data went (a kill in between)
        if location not in candidates and location not in pointed:
            fs.delete_file(stamp)
    return removed


def remove_abandoned_staging_s3(staging_path: str, retention: Retention) -> list[str]:
    """Delete the staging prefixes beside ``staging_path`` whose job run is dead: its Glue
    job run is not running, or (that unknown) its owner mark - without one, its newest
    object - is older than the grace period. Returns the prefixes removed."""
    fs, own = filesystem(staging_path)
    base = own.rsplit("/", 1)[0]
    if fs.get_file_info(base).type == pafs.FileType.NotFound:
        return []
    newest: dict[str, float] = {}
    for info in fs.get_file_info(pafs.FileSelector(base, recursive=True)):
        if info.type == pafs.FileType.File:
            name = info.path[len(base) :].strip("/").split("/", 1)[0].removesuffix(OWNER_SUFFIX)
            when = info.mtime.timestamp() if info.mtime else 0.0
            newest[name] = max(newest.get(name, 0.0), when)
    now = retention.clock()
    removed = []
    for name in sorted(set(newest) - {own.rsplit("/", 1)[-1]}):
        folder = f"s3://{base}/{name}"
        owner = read_json(f"{folder}{OWNER_SUFFIX}")
        state = retention.run_state(owner.get("jobName", ""), owner.get("jobRunId", ""))
        if state is not None:
            abandoned = state not in LIVE_RUN_STATES
        else:
            created = owner.get("created")
            since = created if isinstance(created, int | float) else newest[name]
            abandoned = now - since > retention.grace_seconds
        if abandoned:
            remove_tree(folder)
            delete_object(f"{folder}{OWNER_SUFFIX}")
            removed.append(folder)
    return removed
