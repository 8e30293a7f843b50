"""The data lake: every path the pipeline reads or writes is built here.

Zones mirror the deployed S3 buckets: ``raw`` (immutable landing zone, prefix ``incoming/``),
``curated`` (cleaned tables under ``processed/``, rejected records under ``quarantine/``),
``analytics`` (summaries) and ``scripts``. Locally each zone is a folder under a lake root;
deployed, each zone is an ``s3://`` bucket URI. File operations go through ``pyarrow.fs`` so
the same code serves both.

Local-only bookkeeping (the catalog file, notifications, metrics, execution history) lives
under ``<root>/_system``; on AWS those are the Glue Data Catalog, SNS, CloudWatch and
Step Functions.

The local raw zone keeps every version of a key, as the deployed (versioned) raw bucket does::

    raw/incoming/orders.json                                 the current object (latest landed)
    raw/_versions/incoming/orders.json/<version>/orders.json every version, written once

A version's id is the first 16 hex digits of the SHA-256 of its bytes, so landing the same
bytes again is the same version (an idempotent re-run) and needs no counter or lock. Each
version lives in a folder of its own under the file's own name (validation reads the name's
extension); the key is a hard link to the current version, swapped with one rename, so
Spark, DuckDB or a crawler reading ``raw/incoming/`` see one object per key, never the
history - ``_versions`` sits outside the landing prefix (and ``_`` names are skipped by Spark
and Glue), so nothing that lists ``incoming/`` meets an older version. Nothing under
``_versions`` is ever rewritten or deleted. On S3 the bucket's versioning does all this and
the version is the object's ``VersionId``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pyarrow import fs as pafs

from etl.core.conventions import (
    CURATED_PREFIX,
    DEFAULT_DATASET,
    LANDING_PREFIX,
    QUARANTINE_PREFIX,
    REFERENCE_PREFIX,
    landing_key,
    versioned_key,
)

ZONES = ("raw", "curated", "analytics", "scripts")
DEFAULT_ROOT = "lake"
# Where the local raw zone keeps every version of every key (see the module docstring).
VERSIONS_PREFIX = "_versions"
VERSION_DIGITS = 16


def is_s3(uri: str) -> bool:
    return uri.startswith("s3://")


def join(base: str, *parts: str) -> str:
    """Join URI/path segments with single slashes (works for local paths and ``s3://``)."""
    out = base.rstrip("/")
    for part in parts:
        part = str(part).strip("/")
        if part:
            out = f"{out}/{part}"
    return out


@dataclass(frozen=True)
class Lake:
    """Zone base URIs plus a folder for local bookkeeping."""

    raw: str
    curated: str
    analytics: str
    scripts: str
    system: str

    @classmethod
    def local(cls, root: str | os.PathLike | None = None) -> Lake:
        """A lake under ``root`` (default ``$ETL_LAKE_ROOT`` or ``./lake``)."""
        base = Path(root or os.environ.get("ETL_LAKE_ROOT") or DEFAULT_ROOT).resolve()
        return cls(**{zone: str(base / zone) for zone in ZONES}, system=str(base / "_system"))

    @classmethod
    def s3(
        cls, raw: str, curated: str, analytics: str, scripts: str = "", system: str = ""
    ) -> Lake:
        """A deployed lake: one ``s3://`` bucket URI per zone."""
        return cls(raw=raw, curated=curated, analytics=analytics, scripts=scripts, system=system)

    @property
    def root(self) -> str:
        return str(Path(self.system).parent)

    # --- paths -----------------------------------------------------------------------
    def landing_path(self, filename: str) -> str:
        return join(self.raw, LANDING_PREFIX, filename)

    def curated_table_path(self, table: str) -> str:
        return join(self.curated, CURATED_PREFIX, table)

    def quarantine_table_path(self, dataset: str) -> str:
        """Where a dataset's rejected records are kept, partitioned by date and rule."""
        return join(self.curated, QUARANTINE_PREFIX, dataset)

    def reference_table_path(self, table: str) -> str:
        return join(self.curated, REFERENCE_PREFIX, table)

    def analytics_table_path(self, table: str) -> str:
        return join(self.analytics, table)

    def raw_key(self, uri: str) -> str:
        """The key of an object in the raw zone (``incoming/...``), the same wherever the
        lake lives (its bucket or folder is not part of it); for a kept version's path
        (``_versions/<key>/<version>/<name>``), the key it is a version of."""
        return self._raw_object(uri)[0]

    def raw_version(self, uri: str) -> str:
        """The version a local version's path holds; ``""`` for a key's path or an S3 URI
        (S3 names a version by ``VersionId``, not in the URI)."""
        return self._raw_object(uri)[1]

    def _raw_object(self, uri: str) -> tuple[str, str]:
        base = self.raw.rstrip("/") + "/"
        relative = uri[len(base) :] if uri.startswith(base) else uri
        parts = relative.split("/")
        if parts[0] == VERSIONS_PREFIX and len(parts) >= 4 and parts[-1] == parts[-3]:
            return "/".join(parts[1:-2]), parts[-2]
        return relative, ""

    def source(self, uri: str, version: str = "") -> str:
        """A source's identity (``etl.core.conventions.versioned_key``): the object's key and
        ``version``, or the version a local version's path holds."""
        key, held = self._raw_object(uri)
        return versioned_key(key, version or held)

    def version_path(self, key: str, version: str) -> str:
        """Where the local raw zone keeps ``version`` of ``key``."""
        return join(self.raw, VERSIONS_PREFIX, key, version, key.rsplit("/", 1)[-1])

    def staging_path(self, zone_base: str, run_id: str) -> str:
        """Scratch space next to a zone's data, so publishing is a same-filesystem rename."""
        return join(zone_base, "_staging", run_id)

    def system_path(self, *parts: str) -> str:
        return join(self.system, *parts)

    def ensure(self) -> Lake:
        """Create the local zone folders (no-op for S3)."""
        for base in (self.raw, self.curated, self.analytics, self.scripts, self.system):
            if base and not is_s3(base):
                Path(base).mkdir(parents=True, exist_ok=True)
        if not is_s3(self.raw):
            Path(self.landing_path("")).mkdir(parents=True, exist_ok=True)
        return self


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem and in-filesystem path for a local path or ``s3://`` URI."""
    if is_s3(uri):
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        s3 = pafs.S3FileSystem(endpoint_override=endpoint) if endpoint else pafs.S3FileSystem()
        return s3, uri.removeprefix("s3://")
    return pafs.LocalFileSystem(), str(Path(uri).resolve())


def exists(uri: str) -> bool:
    fs, path = filesystem(uri)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def size_of(uri: str) -> int:
    fs, path = filesystem(uri)
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        raise FileNotFoundError(uri)
    return int(info.size or 0)


class Digest(Protocol):
    """A hash fed the bytes as they are landed (``hashlib``'s objects are)."""

    def update(self, data: bytes, /) -> None: ...


def land_file(
    source: str,
    lake: Lake,
    dataset: str = DEFAULT_DATASET,
    on_bytes: Callable[[int, int], None] | None = None,
    chunk_bytes: int = 8 << 20,
    digests: Sequence[Digest] = (),
) -> str:
    """Land ``source`` in the dataset's landing folder in raw as a new version of its key.

    ``incoming/<file>`` for the default dataset, ``incoming/<dataset>/<file>`` for others
    (the deployed trigger routes on that folder). Locally, returns the path of the version
    landed (``raw/_versions/<key>/<version>/<file>``) and makes it the key's current object;
    landing the same bytes again is the same version. No version is ever overwritten or
    deleted, so a daily feed that re-uses a name keeps every day's file. On S3 the object is
    put at its key (the versioned bucket keeps the earlier ones) and its URI returned.
    ``on_bytes`` hears ``(bytes copied, total bytes)`` after each ``chunk_bytes`` copied;
    ``digests`` (e.g. the MD5 of S3's ETag) are fed the bytes as they are copied.
    """
    name = Path(source).name
    key = landing_key(name, dataset)
    target = join(lake.raw, key)
    if is_s3(target):
        _copy(source, target, target, on_bytes, chunk_bytes, digests)
        return target
    if Path(target).is_file():
        keep_current_version(lake, target)  # a lake from before versions were kept
    folder = Path(lake.raw, VERSIONS_PREFIX, key)
    folder.mkdir(parents=True, exist_ok=True)
    scratch = folder / f".{uuid.uuid4().hex}.landing"
    try:
        version = _copy(source, str(scratch), str(scratch), on_bytes, chunk_bytes, digests)
        place = Path(lake.version_path(key, version))
        _keep_once(scratch, place)
    finally:
        scratch.unlink(missing_ok=True)
    _make_current(place, Path(target))
    return str(place)


def keep_current_version(lake: Lake, uri: str) -> str:
    """Make sure the current object at ``uri`` (a local key's path) is kept as a version;
    return that version's path. A file put straight into ``raw/incoming/`` gets one too."""
    key = lake.raw_key(uri)
    for kept in raw_versions(lake, key):  # landed here: the key is a link to its version
        if os.path.samefile(kept, uri):
            return kept
    place = Path(lake.version_path(key, content_version(uri)))
    if not place.exists():
        place.parent.mkdir(parents=True, exist_ok=True)
        scratch = place.parent / f".{uuid.uuid4().hex}.landing"
        try:
            _link_or_copy(Path(uri), scratch)
            _keep_once(scratch, place)
        finally:
            scratch.unlink(missing_ok=True)
    return str(place)


def _keep_once(scratch: Path, place: Path) -> None:
    """Give ``scratch`` its version's name unless that version exists: a link never
    replaces a file, so a version is written once (the same bytes are the same version)."""
    place.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.link(scratch, place)


def raw_versions(lake: Lake, key: str) -> list[str]:
    """The paths of every version the local raw zone keeps of ``key``, oldest first."""
    folder = Path(lake.raw, VERSIONS_PREFIX, key)
    name = key.rsplit("/", 1)[-1]
    found = [p / name for p in folder.glob("*") if (p / name).is_file()] if folder.is_dir() else []
    return [str(p) for p in sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.parent.name))]


def content_version(uri: str, chunk: int = 1 << 20) -> str:
    """A local object's version id: the first 16 hex digits of the SHA-256 of its bytes."""
    digest = hashlib.sha256()
    fs, path = filesystem(uri)
    with fs.open_input_stream(path, compression=None) as stream:
        while block := stream.read(chunk):
            digest.update(block)
    return digest.hexdigest()[:VERSION_DIGITS]


def _copy(
    source: str,
    scratch: str,
    target: str,
    on_bytes,
    chunk_bytes: int,
    digests: Sequence[Digest] = (),
) -> str:
    """Copy ``source`` to ``scratch``, then move it to ``target``; return the bytes' version."""
    src_fs, src_path = filesystem(source)
    dst_fs, dst_path = filesystem(scratch)
    dst_fs.create_dir(dst_path.rsplit("/", 1)[0], recursive=True)
    total, done = size_of(source), 0
    digest = hashlib.sha256()
    # compression=None: the raw zone keeps the bytes as delivered, even for a .gz name
    src_stream = src_fs.open_input_stream(src_path, compression=None)
    with (
        src_stream as src,
        dst_fs.open_output_stream(dst_path, compression=None) as dst,
        _fed_aside(digests) as feed,
    ):
        while block := src.read(chunk_bytes):
            feed(block)
            dst.write(block)
            digest.update(block)
            done += len(block)
            if on_bytes:
                on_bytes(done, total)
    if on_bytes and not total:
        on_bytes(0, 0)
    if target != scratch:
        dst_fs.move(dst_path, filesystem(target)[1])
    return digest.hexdigest()[:VERSION_DIGITS]


@contextlib.contextmanager
def _fed_aside(digests: Sequence[Digest]) -> Iterator[Callable[[bytes], None]]:
    """A function that hands each block to ``digests`` in a thread of their own.

    ``hashlib`` releases the interpreter lock while it hashes a big block, so the MD5 of a
    landing runs on another core than its copy and SHA-256: a 431 MB file landed in 0.6 s
    instead of 1.0 s (one process, three runs each). At most ``ASIDE_BLOCKS`` blocks wait.
    """
    if not digests:
        yield lambda block: None
        return
    blocks: queue.Queue[bytes | None] = queue.Queue(maxsize=ASIDE_BLOCKS)
    errors: list[Exception] = []

    def hash_blocks() -> None:
        while (block := blocks.get()) is not None:
            try:
                for hashing in digests:
                    hashing.update(block)
            except Exception as error:  # raised in the landing's thread; keep draining
                errors.append(error)

    thread = threading.Thread(target=hash_blocks, name="etl-land-digests", daemon=True)
    thread.start()
    try:
        yield blocks.put
    finally:
        blocks.put(None)
        thread.join()
    if errors:
        raise errors[0]


ASIDE_BLOCKS = 4


def _make_current(version: Path, key_path: Path) -> None:
    """Point the key at ``version`` with one rename (a reader sees the old or the new)."""
    if key_path.is_file() and os.path.samefile(version, key_path):
        return
    key_path.parent.mkdir(parents=True, exist_ok=True)
    pointer = key_path.parent / f".{key_path.name}.{uuid.uuid4().hex}.current"
    _link_or_copy(version, pointer)
    try:
        os.replace(pointer, key_path)
    finally:
        # rename() does nothing when both names are links to one file (a concurrent landing
        # of the same version made the key current meanwhile): the pointer must go anyway.
        pointer.unlink(missing_ok=True)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)  # same bytes, no second copy on disk
    except OSError:
        shutil.copyfile(source, target)


def read_head(uri: str, max_bytes: int) -> bytes:
    """The first ``max_bytes`` of an object, without reading the rest."""
    fs, path = filesystem(uri)
    with fs.open_input_stream(path, compression=None) as stream:  # as stored, even .gz
        return stream.read(max_bytes)


def read_tail(uri: str, max_bytes: int) -> bytes:
    """The last ``max_bytes`` of an object, without reading the rest."""
    fs, path = filesystem(uri)
    size = size_of(uri)
    with fs.open_input_file(path) as handle:
        handle.seek(max(0, size - max_bytes))
        return handle.read()
