"""Publish staged, partitioned Parquet into a table atomically and idempotently.

The load stage (``etl.stages.load``) writes a run's output into a staging folder next to
the table. Each partition is then published by building its next version beside it (hard
links to the files it keeps, plus the new files) and swapping the two folders with renames,
so readers see either the old partition or the new one, never a half-written one. Files are
named after the source file, so processing the same source again replaces its rows instead
of adding them.

Swap folders start with ``.`` and staging lives under ``_staging``: Spark, DuckDB and Glue
all skip such names. A run killed mid-swap leaves ``.<name>.old-*``; the next publish
restores it (``recover``). On S3 (deployed mode) the same steps copy objects, which is not
atomic; there the catalog partition, registered after the copy, is what makes data visible.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from pyarrow import fs as pafs

from etl.core.conventions import split_versioned_key
from etl.storage.lake import filesystem, is_s3, join

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
    try:
        for relative in _staged_partitions(staging_path, depth):
            staged = join(staging_path, relative)
            target = join(table_path, relative)
            count = _publish_partition(staged, target, prefix)
            values = [segment.split("=", 1)[1] for segment in relative.split("/")]
            published.append(Published(values, target, count))
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
    recover(target)
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
    _swap(next_version, Path(target), token)
    return len(new_files)


def _swap(next_version: Path, target: Path, token: str) -> None:
    """Replace ``target`` by ``next_version`` with two renames; the old copy is removed."""
    old = target.parent / f".{target.name}.old-{token}"
    if target.exists():
        os.rename(target, old)
    os.rename(next_version, target)
    shutil.rmtree(old, ignore_errors=True)


def recover(target: str) -> None:
    """Undo what a run killed mid-publish left behind for ``target``."""
    path = Path(target)
    if not path.parent.exists():
        return
    leftovers = sorted(path.parent.glob(f".{path.name}.old-*"))
    if leftovers and not path.exists():
        os.rename(leftovers.pop(), path)
    for stale in [*leftovers, *path.parent.glob(f".{path.name}.new-*")]:
        shutil.rmtree(stale, ignore_errors=True)


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
        old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:12]}"
        os.rename(path, old)
        shutil.rmtree(old, ignore_errors=True)


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
