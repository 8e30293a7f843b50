"""The local publish: a partition's next version built beside it and swapped in by rename.

The load stage (``etl.stages.load``) writes a run's output into a staging folder next to
the table. Locally, each partition is then published by building its next version beside
it (hard links to the files it keeps, plus the new files) and swapping the two folders with
renames, so readers see either the old partition or the new one, never a half-written one
(on S3 the catalog switch does this: ``etl.storage.publish_s3``). Files are named after the
source file, so processing the same source again replaces its rows instead of adding them.

Swap folders start with ``.`` and staging lives under ``_staging``: Spark, DuckDB and Glue
all skip such names. On Linux the swap is one ``renameat2(RENAME_EXCHANGE)``: the partition
folder is the old version or the new one at every instant, and a run killed at any step
leaves only hidden folders behind. Elsewhere two renames do it, and a kill between them
leaves ``.<name>.old-*`` in place of the partition. Publishing runs under the lake lock
(``etl.storage.locks``) and starts by repairing the whole table (``repair_table``: every
interrupted swap, anywhere in it) and removing staging folders whose run is dead.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import time
import uuid
from pathlib import Path

from etl.storage.lake import join
from etl.storage.locks import pid_alive, read_owner, step_hook
from etl.storage.staging import (
    OWNER_SUFFIX,
    PARQUET_SUFFIX,
    Published,
    discard_staged,
    list_files,
    owner_marker,
    staged_partitions,
)


def publish(
    staging_path: str, table_path: str, depth: int, prefix: str, replace_elsewhere: bool
) -> list[Published]:
    """``etl.storage.publish.publish_staged`` into a local table: repair the table, then
    per staged partition build its next version and swap it in; files named ``prefix*``
    are the source's (replaced, and with ``replace_elsewhere`` dropped from partitions it
    no longer writes)."""
    published = []
    step_hook("publish-begin")
    repair_table(table_path)
    remove_abandoned_staging(staging_path)
    step_hook("repaired")
    try:
        for relative in staged_partitions(staging_path, depth):
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


UNMARKED_GRACE_SECONDS = 3600.0  # an unmarked staging folder older than this is abandoned


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
        marker = owner_marker(folder)
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


def clear_partition(location: str) -> None:
    """Remove a local partition whose rows all went elsewhere, in one rename: a reader sees
    the old partition or none."""
    path = Path(location)
    if path.exists():
        gone = path.parent / f".{path.name}.gone-{uuid.uuid4().hex[:12]}"
        os.rename(path, gone)
        step_hook("cleared")
        shutil.rmtree(gone, ignore_errors=True)
