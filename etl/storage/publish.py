"""Publish staged, partitioned Parquet into a table atomically and idempotently.

The load stage (``etl.stages.load``) writes a run's output into a staging folder next to
the table. Each partition is then published by building its next version beside it (hard
links to the files it keeps, plus the new files) and swapping the two folders with renames,
so readers see either the old partition or the new one, never a half-written one. Files are
named after the source file, so processing the same source again replaces its rows instead
of adding them.

Swap folders start with ``.`` and staging lives under ``_staging``: Spark, DuckDB and Glue
all skip such names. On Linux the swap is one ``renameat2(RENAME_EXCHANGE)``: the partition
folder is the old version or the new one at every instant, and a run killed at any step
leaves only hidden folders behind. Elsewhere two renames do it, and a kill between them
leaves ``.<name>.old-*`` in place of the partition. Publishing runs under the lake lock
(``etl.storage.locks``) and starts by repairing the whole table (``repair_table``: every
interrupted swap, anywhere in it) and removing staging folders whose run is dead.

On S3 (deployed mode) the same steps copy objects, which is not atomic; there the catalog
partition, registered after the copy, is what makes data visible, and the Glue job's
``MaxConcurrentRuns: 1`` serialises publishers.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from pyarrow import fs as pafs

from etl.core.conventions import split_versioned_key
from etl.storage.lake import filesystem, is_s3, join
from etl.storage.locks import mark_owner, owner_alive, step_hook

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
    staging_path: str, table_path: str, depth: int, source: str, replace_elsewhere: bool = True
) -> list[Published]:
    """Publish every partition staged under ``staging_path`` into the table; drop the staging.

    With ``replace_elsewhere``, the source's files in partitions it no longer writes go too.
    """
    prefix = f"{source_id(source)}-part-"
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
    if is_s3(target):
        return _publish_s3(staged, target, prefix, new_files)
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


def claim_staging(staging_path: str) -> None:
    """Mark ``staging_path`` as this process's (a file beside it: Spark's overwrite empties
    the folder itself), so another run's clean-up leaves it alone while this one lives."""
    if not is_s3(staging_path):
        mark_owner(_owner_marker(Path(staging_path)))


def _owner_marker(folder: Path) -> Path:
    return folder.parent / f"{folder.name}{OWNER_SUFFIX}"


def remove_abandoned_staging(staging_path: str) -> list[str]:
    """Delete the staging folders beside ``staging_path`` whose run is dead (killed); a live
    run's are left alone. A folder without an owner mark (older code) goes once it is an
    hour old. Returns the folders removed."""
    own = Path(staging_path)
    base = own.parent
    if not base.is_dir():
        return []
    names = {p.name.removesuffix(OWNER_SUFFIX) for p in base.iterdir()} - {own.name}
    removed = []
    for name in sorted(names):
        folder = base / name
        marker = _owner_marker(folder)
        if marker.exists():
            abandoned = not owner_alive(marker)
        else:
            abandoned = time.time() - folder.stat().st_mtime > UNMARKED_GRACE_SECONDS
        if abandoned:
            if folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)
            else:
                folder.unlink(missing_ok=True)
            marker.unlink(missing_ok=True)
            removed.append(str(folder))
    return removed


def _forget_source_elsewhere(table_path: str, prefix: str, keep: set[str], depth: int) -> list[str]:
    """Drop the source's rows from partitions other than the ones just published; return
    the partitions changed."""
    if is_s3(table_path):
        return _forget_source_elsewhere_s3(table_path, prefix, keep, depth)
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


def _forget_source_elsewhere_s3(
    table_path: str, prefix: str, keep: set[str], depth: int
) -> list[str]:
    fs, root = filesystem(table_path)
    if fs.get_file_info(root).type == pafs.FileType.NotFound:
        return []
    kept = {location.removeprefix("s3://") for location in keep}
    changed: set[str] = set()
    for info in fs.get_file_info(pafs.FileSelector(root, recursive=True)):
        folder, _, name = info.path.rpartition("/")
        relative = folder[len(root) :].strip("/")
        in_partition = relative.count("/") == depth - 1 and "=" in relative
        is_source_file = info.type == pafs.FileType.File and name.startswith(prefix)
        if in_partition and is_source_file and folder not in kept:
            fs.delete_file(info.path)
            changed.add(f"s3://{folder}")
    return sorted(changed)


def clear_partition(location: str) -> None:
    """Remove a partition whose rows all went elsewhere (locally in one rename, so a reader
    sees the old partition or none)."""
    if is_s3(location):
        fs, root = filesystem(location)
        if fs.get_file_info(root).type != pafs.FileType.NotFound:
            fs.delete_dir(root)
        return
    path = Path(location)
    if path.exists():
        gone = path.parent / f".{path.name}.gone-{uuid.uuid4().hex[:12]}"
        os.rename(path, gone)
        step_hook("cleared")
        shutil.rmtree(gone, ignore_errors=True)


def _publish_s3(staged: str, target: str, prefix: str, new_files: list[str]) -> int:
    fs, target_root = filesystem(target)
    _, staged_root = filesystem(staged)
    old = [f for f in list_files(target) if f.startswith(prefix)]
    for index, name in enumerate(new_files):
        fs.copy_file(f"{staged_root}/{name}", f"{target_root}/{prefix}{index:05d}{PARQUET_SUFFIX}")
    fresh = {f"{prefix}{i:05d}{PARQUET_SUFFIX}" for i in range(len(new_files))}
    for name in old:
        if name not in fresh:
            fs.delete_file(f"{target_root}/{name}")
    return len(new_files)


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
