"""What a load stages, and what both publishes (``etl.storage.publish``) share.

A run's output is written into a staging folder beside the table (``_staging/<run>``), which
readers skip, and published from there (locally by ``etl.storage.publish_local``, on S3 by
``etl.storage.publish_s3``). Here: the staging folder's owner mark (``claim_staging``, so
another run's clean-up leaves a live run's staging alone), its removal, the partitions and
files in it, the names published files take (``source_id``) and small object helpers.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pyarrow import fs as pafs

from etl.core.conventions import split_versioned_key
from etl.storage.lake import filesystem, is_s3
from etl.storage.locks import mark_owner, step_hook

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


OWNER_SUFFIX = ".owner"


def claim_staging(
    staging_path: str, job_run: tuple[str, str] | None = None, now: float | None = None
) -> None:
    """Mark ``staging_path`` as this process's (a file beside it: Spark's overwrite empties
    the folder itself), so another run's clean-up leaves it alone while this one lives.

    On S3 the mark names the Glue job run (``job_run``: name and run id, by default from
    the job's own arguments) and when it was written (``now``, default the clock)."""
    if not is_s3(staging_path):
        mark_owner(owner_marker(Path(staging_path)))
        return
    job_name, run_id = job_run or glue_job_run()
    record = {"jobName": job_name, "jobRunId": run_id, "created": now or time.time()}
    write_json(f"{staging_path}{OWNER_SUFFIX}", record)


def owner_marker(folder: Path) -> Path:
    return folder.parent / f"{folder.name}{OWNER_SUFFIX}"


def discard_staged(staging_path: str) -> None:
    """Remove a staging folder and everything in it (nothing in it was published)."""
    remove_tree(staging_path)
    if not is_s3(staging_path):  # and the mark of its owner beside it
        owner_marker(Path(staging_path)).unlink(missing_ok=True)
    else:
        delete_object(f"{staging_path}{OWNER_SUFFIX}")
    step_hook("staging-removed")


def staged_partitions(staging_path: str, depth: int) -> list[str]:
    fs, root = filesystem(staging_path)
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=True))
    folders = set()
    for info in infos:
        if info.type == pafs.FileType.File and info.path.endswith(".parquet"):
            relative = info.path[len(root) :].strip("/").rsplit("/", 1)[0]
            if relative.count("/") == depth - 1 and "=" in relative:
                folders.add(relative)
    return sorted(folders)


def list_files(folder: str) -> list[str]:
    fs, root = filesystem(folder)
    if fs.get_file_info(root).type == pafs.FileType.NotFound:
        return []
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=False))
    return [i.base_name for i in infos if i.type == pafs.FileType.File]


def remove_tree(path: str) -> None:
    fs, root = filesystem(path)
    if fs.get_file_info(root).type != pafs.FileType.NotFound:
        fs.delete_dir(root)


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


def write_json(uri: str, record: dict) -> None:
    fs, path = filesystem(uri)
    with fs.open_output_stream(path) as out:
        out.write(json.dumps(record).encode("utf-8"))


def read_json(uri: str) -> dict:
    """An object's JSON; ``{}`` when it is missing or not JSON."""
    fs, path = filesystem(uri)
    try:
        with fs.open_input_stream(path) as stream:
            record = json.loads(stream.read().decode("utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def delete_object(uri: str) -> None:
    fs, path = filesystem(uri)
    if fs.get_file_info(path).type == pafs.FileType.File:
        fs.delete_file(path)
