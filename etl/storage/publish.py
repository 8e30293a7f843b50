"""Publish staged, partitioned Parquet into a table atomically and idempotently.

The load stage (``etl.stages.load``) writes a run's output into a staging folder next to
the table. Locally, each partition is then published by building its next version beside
it (hard links to the files it keeps, plus the new files) and swapping the two folders with
renames, so readers see either the old partition or the new one, never a half-written one
(on S3, see below). Files are
named after the source file, so processing the same source again replaces its rows instead
of adding them.

Swap folders start with ``.`` and staging lives under ``_staging``: Spark, DuckDB and Glue
all skip such names. On Linux the swap is one ``renameat2(RENAME_EXCHANGE)``: the partition
folder is the old version or the new one at every instant, and a run killed at any step
leaves only hidden folders behind. Elsewhere two renames do it, and a kill between them
leaves ``.<name>.old-*`` in place of the partition. Publishing runs under the lake lock
(``etl.storage.locks``) and starts by repairing the whole table (``repair_table``: every
interrupted swap, anywhere in it) and removing staging folders whose run is dead.

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

import ctypes
import errno
import hashlib
import json
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote

from pyarrow import fs as pafs

from etl.core.conventions import split_versioned_key
from etl.core.errors import EtlError
from etl.storage.lake import filesystem, is_s3, join
from etl.storage.locks import mark_owner, pid_alive, read_owner, step_hook

PARQUET_SUFFIX = ".snappy.parquet"


@dataclass(frozen=True)
class Published:
    """One partition the load changed: published into, or (``moved_out``) the source's
    earlier rows removed from. ``files`` counts the source's new files; for a moved-out
    partition, the files left in it (0: the partition is now empty)."""

    values: list[str]
    location: str
    files: int
    moved_out: bool = False


def source_id(source_uri: str) -> str:
    """A file-name-safe id for a source object: its name, for people, and a digest of its
    whole key and version (``etl.core.conventions.versioned_key``), so ``feedA/orders.json``
    and ``feedB/orders.json`` are different sources, and so are two versions of one key (a
    daily feed re-using a name); the same version again is the same source."""
    key, _ = split_versioned_key(source_uri)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", key.rsplit("/", 1)[-1])[:60]
    digest = hashlib.sha256(source_uri.encode("utf-8")).hexdigest()[:12]
    return f"{name}-{digest}"


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
        return _publish_staged_s3(
            staging_path, table_path, depth, prefix, replace_elsewhere, table, retention
        )
    published = []
    step_hook("publish-begin")
    if not is_s3(table_path):
        repair_table(table_path)
        remove_abandoned_staging(staging_path)
        step_hook("repaired")
    try:
        for relative in _staged_partitions(staging_path, depth):
            staged = join(staging_path, relative)
            target = join(table_path, relative)
            count = _publish_partition(staged, target, prefix)
            values = [segment.split("=", 1)[1] for segment in relative.split("/")]
            published.append(Published(values, target, count))
        step_hook("published")
        if replace_elsewhere:
            keep = {p.location for p in published}
            for location in _forget_source_elsewhere(table_path, prefix, keep, depth):
                values = [s.split("=", 1)[1] for s in location[len(table_path) :].split("/") if s]
                remaining = sum(f.endswith(".parquet") for f in list_files(location))
                published.append(Published(values, location, remaining, moved_out=True))
    finally:
        discard_staged(staging_path)
    return published


def discard_staged(staging_path: str) -> None:
    """Remove a staging folder and everything in it (nothing in it was published)."""
    _remove_tree(staging_path)
    if not is_s3(staging_path):  # and the mark of its owner beside it
        _owner_marker(Path(staging_path)).unlink(missing_ok=True)
    else:
        _delete_object(f"{staging_path}{OWNER_SUFFIX}")
    step_hook("staging-removed")


def _staged_partitions(staging_path: str, depth: int) -> list[str]:
    fs, root = filesystem(staging_path)
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=True))
    folders = set()
    for info in infos:
        if info.type == pafs.FileType.File and info.path.endswith(".parquet"):
            relative = info.path[len(root) :].strip("/").rsplit("/", 1)[0]
            if relative.count("/") == depth - 1 and "=" in relative:
                folders.add(relative)
    return sorted(folders)


def _publish_partition(staged: str, target: str, prefix: str) -> int:
    new_files = sorted(f for f in list_files(staged) if f.endswith(".parquet"))
    parent = Path(target).parent
    parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    next_version = parent / f".{Path(target).name}.new-{token}"
    next_version.mkdir()
    if Path(target).exists():
        for existing in Path(target).iterdir():
            if existing.is_file() and not existing.name.startswith(prefix):
                os.link(existing, next_version / existing.name)
    for index, name in enumerate(new_files):
        os.replace(Path(staged) / name, next_version / f"{prefix}{index:05d}{PARQUET_SUFFIX}")
    step_hook("built")
    _swap(next_version, Path(target), token)
    return len(new_files)


def _swap(next_version: Path, target: Path, token: str) -> None:
    """Make ``next_version`` the folder at ``target``; remove the version it replaces.

    Where the kernel can exchange two folders in one step, ``target`` is never missing;
    otherwise two renames, and a kill between them leaves ``.<name>.old-*`` for
    ``repair_table`` to put back.
    """
    if target.exists() and _exchange(next_version, target):
        step_hook("swapped")
        shutil.rmtree(next_version, ignore_errors=True)  # now the replaced version
        return
    old = target.parent / f".{target.name}.old-{token}"
    if target.exists():
        os.rename(target, old)
        step_hook("renamed-old")
    os.rename(next_version, target)
    step_hook("swapped")
    shutil.rmtree(old, ignore_errors=True)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_exchange_supported = [hasattr(ctypes.CDLL(None), "renameat2") if os.name == "posix" else False]


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders atomically (Linux ``renameat2``); ``False`` where unsupported."""
    if not _exchange_supported[0]:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    result = libc.renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):  # e.g. a filesystem without it
        _exchange_supported[0] = False
        return False
    raise OSError(code, os.strerror(code), str(b))


_SWAP_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>old|new|gone)-[0-9a-f]{12}$")


def repair_table(table_path: str) -> list[str]:
    """Finish or undo every swap a killed run left anywhere in a local table; return the
    folders repaired. Run under the lake lock (a live run's ``.new-*`` is never touched:
    no other run publishes meanwhile).

    ``.<name>.old-*`` with ``<name>`` missing is the version a two-rename swap was replacing:
    it goes back. Every other leftover is garbage: an unfinished next version, a replaced
    version not yet removed, or a cleared partition (``.gone-*``).
    """
    root = Path(table_path)
    if not root.exists():
        return []
    leftovers = sorted(
        (p for p in root.rglob(".*") if p.is_dir() and _SWAP_LEFTOVER.match(p.name)),
        key=lambda p: (len(p.parts), p.name.rsplit("-", 1)[0].endswith(".new"), p.name),
    )
    repaired = []
    for path in leftovers:
        match = _SWAP_LEFTOVER.match(path.name)
        target = path.parent / match["name"]
        if match["kind"] == "old" and not target.exists():
            os.rename(path, target)
        else:
            shutil.rmtree(path, ignore_errors=True)
        repaired.append(str(path))
    return repaired


def recover(target: str) -> None:
    """Undo what a run killed mid-publish left behind (the whole table of ``target``'s
    partition folder; kept for callers that name one partition)."""
    repair_table(str(Path(target).parent))


OWNER_SUFFIX = ".owner"
UNMARKED_GRACE_SECONDS = 3600.0  # an unmarked staging folder older than this is abandoned


def claim_staging(
    staging_path: str, job_run: tuple[str, str] | None = None, now: float | None = None
) -> None:
    """Mark ``staging_path`` as this process's (a file beside it: Spark's overwrite empties
    the folder itself), so another run's clean-up leaves it alone while this one lives.

    On S3 the mark names the Glue job run (``job_run``: name and run id, by default from
    the job's own arguments) and when it was written (``now``, default the clock)."""
    if not is_s3(staging_path):
        mark_owner(_owner_marker(Path(staging_path)))
        return
    job_name, run_id = job_run or glue_job_run()
    record = {"jobName": job_name, "jobRunId": run_id, "created": now or time.time()}
    _write_json(f"{staging_path}{OWNER_SUFFIX}", record)


def _owner_marker(folder: Path) -> Path:
    return folder.parent / f"{folder.name}{OWNER_SUFFIX}"


def remove_abandoned_staging(staging_path: str) -> list[str]:
    """Delete the staging folders beside ``staging_path`` whose run is dead (killed); a live
    run's are left alone. A folder without a readable owner mark (older code's) goes once
    it, or its mark, is an hour old. Returns the folders removed."""
    own = Path(staging_path)
    base = own.parent
    if not base.is_dir():
        return []
    names = {p.name.removesuffix(OWNER_SUFFIX) for p in base.iterdir()} - {own.name}
    removed = []
    for name in sorted(names):
        folder = base / name
        marker = _owner_marker(folder)
        try:
            abandoned = _abandoned(folder, marker)
        except FileNotFoundError:  # removed meanwhile, by another run's clean-up
            continue
        if abandoned:
            if folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)
            else:
                folder.unlink(missing_ok=True)
            marker.unlink(missing_ok=True)
            removed.append(str(folder))
    return removed


def _abandoned(folder: Path, marker: Path) -> bool:
    owner = read_owner(marker)
    if owner is not None:
        return not pid_alive(owner.get("pid"), owner.get("started"))
    dated = marker if marker.exists() else folder
    return time.time() - dated.stat().st_mtime > UNMARKED_GRACE_SECONDS


def _forget_source_elsewhere(table_path: str, prefix: str, keep: set[str], depth: int) -> list[str]:
    """Drop the source's rows from partitions other than the ones just published; return
    the partitions changed."""
    if not Path(table_path).exists():
        return []
    pattern = "/".join(["*=*"] * depth)
    changed = []
    for partition in sorted(Path(table_path).glob(pattern)):
        if str(partition) in keep or not any(partition.glob(f"{prefix}*")):
            continue
        changed.append(str(partition))
        token = uuid.uuid4().hex[:12]
        next_version = partition.parent / f".{partition.name}.new-{token}"
        next_version.mkdir()
        for existing in partition.iterdir():
            if existing.is_file() and not existing.name.startswith(prefix):
                os.link(existing, next_version / existing.name)
        step_hook("built-elsewhere")
        _swap(next_version, partition, token)
    return changed


def clear_partition(
    location: str, table: PartitionPointers | None = None, retention: Retention | None = None
) -> None:
    """Remove a partition whose rows all went elsewhere (locally in one rename, so a reader
    sees the old partition or none; on S3 by removing it from ``table`` in the catalog, its
    data going once the grace period is over)."""
    if is_s3(location):
        _clear_partition_s3(location, _require(table, location), retention or Retention())
        return
    path = Path(location)
    if path.exists():
        gone = path.parent / f".{path.name}.gone-{uuid.uuid4().hex[:12]}"
        os.rename(path, gone)
        step_hook("cleared")
        shutil.rmtree(gone, ignore_errors=True)


def list_files(folder: str) -> list[str]:
    fs, root = filesystem(folder)
    if fs.get_file_info(root).type == pafs.FileType.NotFound:
        return []
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=False))
    return [i.base_name for i in infos if i.type == pafs.FileType.File]


def _remove_tree(path: str) -> None:
    fs, root = filesystem(path)
    if fs.get_file_info(root).type != pafs.FileType.NotFound:
        fs.delete_dir(root)


# --- S3: immutable partition versions, the catalog switch, garbage collection -------------
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


def glue_job_run(argv: list[str] | None = None) -> tuple[str, str]:
    """The Glue job name and run id from the job's arguments (Glue passes ``--JOB_NAME``
    and ``--JOB_RUN_ID``); empty strings outside a Glue job run."""
    argv = sys.argv if argv is None else argv
    found = {}
    for index, arg in enumerate(argv):
        name, equals, value = arg.partition("=")
        if name in ("--JOB_NAME", "--JOB_RUN_ID"):
            found[name] = value if equals else (argv[index + 1] if index + 1 < len(argv) else "")
    return found.get("--JOB_NAME", ""), found.get("--JOB_RUN_ID", "")


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


def _require(table: PartitionPointers | None, where: str) -> PartitionPointers:
    if table is None:
        raise ValueError(
            f"publishing into {where} needs its catalog table (table=GlueTable(...)): on S3 "
            "switching the catalog partition is the commit"
        )
    return table


def _publish_staged_s3(
    staging_path: str,
    table_path: str,
    depth: int,
    prefix: str,
    replace_elsewhere: bool,
    table: PartitionPointers | None,
    retention: Retention | None,
) -> list[Published]:
    """``publish_staged`` on S3: per partition, write the next version, then switch the
    catalog to it (the commit), then stamp the replaced version retired."""
    table = _require(table, table_path)
    retention = retention or Retention()
    published: list[Published] = []
    step_hook("publish-begin")
    try:
        listing = _list_table(table_path, depth)
        collect_garbage(table_path, staging_path, table, retention, listing)
        files_of = listing.data_files if listing else _data_files
        step_hook("repaired")
        pointers = table.locations()
        for relative in _staged_partitions(staging_path, depth):
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


def _clear_partition_s3(location: str, table: PartitionPointers, retention: Retention) -> None:
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
    _write_json(_stamp_of(location), {"retired": retention.clock()})


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
    """The S3 analogue of ``repair_table`` + ``remove_abandoned_staging``: delete dead runs'
    staging and the table's versions unreferenced for longer than the grace period; return
    what was removed. Nothing the catalog points at is ever deleted; with no catalog table,
    no version is deleted at all (there is nothing to tell a live version from a dead one).
    ``listing`` is the table's, just made (``_list_table``; None: the table has no objects).
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
        retired = _read_json(f"s3://{stamp}").get("retired") if stamp else None
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
        owner = _read_json(f"{folder}{OWNER_SUFFIX}")
        state = retention.run_state(owner.get("jobName", ""), owner.get("jobRunId", ""))
        if state is not None:
            abandoned = state not in LIVE_RUN_STATES
        else:
            created = owner.get("created")
            since = created if isinstance(created, int | float) else newest[name]
            abandoned = now - since > retention.grace_seconds
        if abandoned:
            _remove_tree(folder)
            _delete_object(f"{folder}{OWNER_SUFFIX}")
            removed.append(folder)
    return removed


def _write_json(uri: str, record: dict) -> None:
    fs, path = filesystem(uri)
    with fs.open_output_stream(path) as out:
        out.write(json.dumps(record).encode("utf-8"))


def _read_json(uri: str) -> dict:
    """An object's JSON; ``{}`` when it is missing or not JSON."""
    fs, path = filesystem(uri)
    try:
        with fs.open_input_stream(path) as stream:
            record = json.loads(stream.read().decode("utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _delete_object(uri: str) -> None:
    fs, path = filesystem(uri)
    if fs.get_file_info(path).type == pafs.FileType.File:
        fs.delete_file(path)
