"""The data lake: every path the pipeline reads or writes is built here.

Zones mirror the deployed S3 buckets: ``raw`` (immutable landing zone, prefix ``incoming/``),
``curated`` (cleaned tables under ``processed/``, rejected records under ``quarantine/``),
``analytics`` (summaries) and ``scripts``. Locally each zone is a folder under a lake root;
deployed, each zone is an ``s3://`` bucket URI. File operations go through ``pyarrow.fs`` so
the same code serves both.

Local-only bookkeeping (the catalog file, notifications, metrics, execution history) lives
under ``<root>/_system``; on AWS those are the Glue Data Catalog, SNS, CloudWatch and
Step Functions.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pyarrow import fs as pafs

from etl.core.conventions import (
    CURATED_PREFIX,
    DEFAULT_DATASET,
    LANDING_PREFIX,
    QUARANTINE_PREFIX,
    REFERENCE_PREFIX,
    landing_key,
)
from etl.core.errors import RawZoneViolation

ZONES = ("raw", "curated", "analytics", "scripts")
DEFAULT_ROOT = "lake"


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
        """The key of an object in the raw zone (``incoming/...``): a source's identity,
        the same wherever the lake lives (its bucket or folder is not part of it)."""
        base = self.raw.rstrip("/") + "/"
        return uri[len(base) :] if uri.startswith(base) else uri

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


def land_file(
    source: str,
    lake: Lake,
    dataset: str = DEFAULT_DATASET,
    on_bytes: Callable[[int, int], None] | None = None,
    chunk_bytes: int = 8 << 20,
) -> str:
    """Copy ``source`` into the dataset's landing folder in raw and return the landed URI.

    ``incoming/<file>`` for the default dataset, ``incoming/<dataset>/<file>`` for others
    (the deployed trigger routes on that folder). The raw zone is immutable: landing the
    same bytes again is a no-op, but landing different bytes under an existing name raises
    ``RawZoneViolation``. ``on_bytes`` hears ``(bytes copied, total bytes)`` after each
    ``chunk_bytes`` copied (a progress bar's feed).
    """
    name = Path(source).name
    key = landing_key(name, dataset)
    target = join(lake.raw, key)
    if exists(target):
        if _same_bytes(source, target):
            return target
        raise RawZoneViolation(
            f"raw/{key} already exists with different content; the raw zone is "
            "immutable - land the new data under a new file name"
        )
    src_fs, src_path = filesystem(source)
    dst_fs, dst_path = filesystem(target)
    dst_fs.create_dir(dst_path.rsplit("/", 1)[0], recursive=True)
    # One scratch name per lander: two runs landing the same file at once must not share it.
    tmp_path = f"{dst_path.rsplit('/', 1)[0]}/.{name}.landing-{uuid.uuid4().hex[:12]}"
    total, done = size_of(source), 0
    # compression=None: the raw zone keeps the bytes as delivered, even for a .gz name
    src_stream = src_fs.open_input_stream(src_path, compression=None)
    with src_stream as src, dst_fs.open_output_stream(tmp_path, compression=None) as dst:
        while block := src.read(chunk_bytes):
            dst.write(block)
            done += len(block)
            if on_bytes:
                on_bytes(done, total)
    if on_bytes and not total:
        on_bytes(0, 0)
    if is_s3(target):
        dst_fs.move(tmp_path, dst_path)
        return target
    try:  # a hard link never replaces: whoever lands second compares bytes like above
        os.link(tmp_path, dst_path)
    except FileExistsError:
        if not _same_bytes(source, target):
            raise RawZoneViolation(
                f"raw/{key} was landed with different content meanwhile; the raw zone is "
                "immutable - land the new data under a new file name"
            ) from None
    finally:
        os.unlink(tmp_path)
    return target


def _same_bytes(a: str, b: str, chunk: int = 1 << 20) -> bool:
    if size_of(a) != size_of(b):
        return False
    fs_a, path_a = filesystem(a)
    fs_b, path_b = filesystem(b)
    with fs_a.open_input_stream(path_a) as fa, fs_b.open_input_stream(path_b) as fb:
        while True:
            block_a, block_b = fa.read(chunk), fb.read(chunk)
            if block_a != block_b:
                return False
            if not block_a:
                return True


def read_head(uri: str, max_bytes: int) -> bytes:
    """The first ``max_bytes`` of an object, without reading the rest."""
    fs, path = filesystem(uri)
    with fs.open_input_stream(path) as stream:
        return stream.read(max_bytes)


def read_tail(uri: str, max_bytes: int) -> bytes:
    """The last ``max_bytes`` of an object, without reading the rest."""
    fs, path = filesystem(uri)
    size = size_of(uri)
    with fs.open_input_file(path) as handle:
        handle.seek(max(0, size - max_bytes))
        return handle.read()
