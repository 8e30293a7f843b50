"""One notebook, two kernels: the local project kernel and AWS Glue interactive sessions.

On the ``aws-glue-sessions`` kernel, session settings are line magics (``%glue_version 5.1``,
``%worker_type G.1X`` ...) that the kernel itself runs, in its own process, *before* the first
line of Python starts the remote session: it strips a cell's leading ``%`` lines, comment
lines and blank lines, runs them locally, and sends the rest to Glue. So the settings must be
real magic lines in the notebook's first code cell - a Python guard such as
``if on_glue: get_ipython().run_line_magic(...)`` would be Python, sent to Glue after the
session had already started with default settings.

The local kernel has no such magics; a plain IPython would stop the notebook with
"Line magic function not found". This module is an IPython extension that registers the
same magic names on the project kernel (``etl.notebooks.runner.install_kernel`` loads it with
``--ext``): each one checks its value and records it, so a malformed setting fails locally
before it costs a Glue session, and does nothing else - local Spark needs no workers.

Home-made because nothing published offers local stand-ins for the Glue kernel's magics.
"""

from __future__ import annotations

import os
import re
import shutil
from contextlib import ExitStack
from datetime import UTC, date, datetime
from pathlib import Path

from pyspark.sql import SparkSession

from etl.core.errors import EtlError
from etl.jobs.session import get_spark, in_glue

GLUE_MAGICS_TAG = "glue-session"
# Set for the kernel of a notebook papermill runs (``etl.notebooks.runner.run_notebook``).
BATCH_VARIABLE = "ETL_NOTEBOOK_BATCH"
WORKER_TYPES = ("G.025X", "G.1X", "G.2X", "G.4X", "G.8X", "Z.2X")
# The Glue version infra/glue.yaml deploys and requirements.txt pins (Spark 3.5.6, Python 3.11):
# a notebook explored on another runtime would not predict the job's results.
GLUE_VERSIONS = ("5.1",)
_S3_FILE = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S+\.(zip|py|whl|egg)$")


def _glue_version(value: str) -> str:
    if value not in GLUE_VERSIONS:
        raise ValueError(f"%glue_version {value!r}: expected one of {list(GLUE_VERSIONS)}")
    return value


def _worker_type(value: str) -> str:
    if value not in WORKER_TYPES:
        raise ValueError(f"%worker_type {value!r}: expected one of {list(WORKER_TYPES)}")
    return value


def _positive_int(name: str, minimum: int) -> object:
    def _check(value: str) -> int:
        if not value.isdigit() or int(value) < minimum:
            raise ValueError(f"%{name} {value!r}: expected a whole number >= {minimum}")
        return int(value)

    return _check


def _extra_py_files(value: str) -> list[str]:
    files = value.split(",")
    bad = [f for f in files if not _S3_FILE.match(f)]
    if bad:
        raise ValueError(
            f"%extra_py_files {bad[0]!r}: expected comma-separated s3://bucket/key.zip|.py URIs"
        )
    return files


def _python_modules(value: str) -> list[str]:
    modules = value.split(",")
    bad = [m for m in modules if not re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+(==[\w.]+)?", m)]
    if bad:
        raise ValueError(f"%additional_python_modules {bad[0]!r}: expected name==version,...")
    return modules


# The session magics a notebook may set, with the check each value must pass.
GLUE_SESSION_MAGICS = {
    "glue_version": _glue_version,
    "worker_type": _worker_type,
    "number_of_workers": _positive_int("number_of_workers", 2),
    "idle_timeout": _positive_int("idle_timeout", 1),
    "extra_py_files": _extra_py_files,
    "additional_python_modules": _python_modules,
}

# What the notebook asked of Glue, as seen by the local kernel (shown, never applied).
requested_glue_settings: dict[str, object] = {}


def parse_magic_line(line: str) -> tuple[str, object]:
    """Check one ``%name value`` line of the Glue session cell; return the name and value."""
    match = re.fullmatch(r"%(\w+)\s+(\S+)\s*", line)
    if not match:
        raise ValueError(f"{line!r}: expected '%<magic> <value>' with one value")
    name, value = match.groups()
    if name not in GLUE_SESSION_MAGICS:
        raise ValueError(f"%{name}: not a Glue session magic; known: {sorted(GLUE_SESSION_MAGICS)}")
    return name, GLUE_SESSION_MAGICS[name](value)


def glue_session_settings(cell_source: str) -> dict[str, object]:
    """Every setting in a Glue session cell; only magic, comment and blank lines are allowed."""
    settings = {}
    for line in cell_source.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            name, value = parse_magic_line(stripped)
            settings[name] = value
    return settings


def load_ipython_extension(ipython) -> None:
    """Register the Glue session magics as checked no-ops on the local kernel, and show the
    Spark progress of each cell."""

    def _register(name: str) -> None:
        def _magic(line: str) -> None:
            _, value = parse_magic_line(f"%{name} {line.strip()}")
            requested_glue_settings[name] = value

        ipython.register_magic_function(_magic, magic_kind="line", magic_name=name)

    for name in GLUE_SESSION_MAGICS:
        _register(name)
    watch_cells(ipython)


def watch_cells(ipython) -> None:
    """Report the Spark stages of every cell under the cell, as plain lines.

    The CLI's progress (``etl.jobs.progress``) wrapped around each cell: a stage that runs
    for more than a couple of seconds prints its task counts, quick cells print nothing.
    """
    from etl.jobs.progress import spark_progress

    cell = ExitStack()

    def before(_info) -> None:
        spark = SparkSession.getActiveSession()  # none until a cell builds it
        if spark is not None:
            cell.enter_context(spark_progress(spark, "cell"))

    def after(_result) -> None:
        cell.close()

    ipython.events.register("pre_run_cell", before)
    ipython.events.register("post_run_cell", after)


def notebook_spark() -> SparkSession:
    """Glue's session on the Glue kernel, else the local session (small shuffles: notebooks
    explore small samples).

    Locally, a notebook that papermill runs (``run_notebook`` sets ``BATCH_VARIABLE``) uses
    the Spark server if one is free, as an ``etl run`` does. A notebook open in JupyterLab
    starts a JVM of its own instead: its kernel would hold the server for as long as the
    notebook stays open, and every ``etl run`` meanwhile would start cold.
    """
    batch = os.environ.get(BATCH_VARIABLE) == "1"
    spark = get_spark("etl-workbench-notebook", use_server=batch)
    if not in_glue():
        spark.conf.set("spark.sql.shuffle.partitions", "4")
    return spark


def where_am_i() -> str:
    """A one-line description of the kernel's runtime, for the notebooks' first output."""
    if in_glue():
        return "AWS Glue interactive session (remote Spark; settings from the %magics cell)"
    asked = ", ".join(f"{k}={v}" for k, v in requested_glue_settings.items()) or "none"
    return f"local project kernel (local Spark); Glue settings recorded, not applied: {asked}"


def parse_run_date(text: str | None) -> date:
    """The ``run_date`` parameter: ``YYYY-MM-DD``, or empty for today (UTC)."""
    if not text:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        raise ValueError(f"run_date {text!r} is not a date in YYYY-MM-DD form") from None


def notebook_sample(dataset: str, folder: str | Path, rows: int, run_date: date) -> str:
    """The generated sample feed of ``dataset`` for ``run_date``, as
    ``<dataset>_<YYYYMMDD>.<ext>`` (the generator's first file named after the dataset).

    One file name per date, like a daily delivery: the raw zone is immutable, so a feed for
    another date must not reuse a name already landed - and the file, once written, is
    reused (another ``rows`` for the same date needs another ``folder``).
    """
    from etl.local.samples import GENERATORS, write_samples

    if dataset not in GENERATORS:
        raise EtlError(
            f"dataset {dataset!r} has no sample generator (there are generators for "
            f"{', '.join(sorted(GENERATORS))}): set the notebook's source_path parameter "
            f"to a {dataset} feed file"
        )
    out = Path(folder) / dataset / f"{run_date:%Y%m%d}"
    existing = sorted(out.glob(f"{dataset}_{run_date:%Y%m%d}.*"))
    if existing:
        return str(existing[0].resolve())
    written = write_samples(dataset, out / "generated", rows=rows, as_of=run_date)
    own = [p for p in written if p.name.startswith(dataset)]
    chosen = (own or written)[0]
    target = out / f"{dataset}_{run_date:%Y%m%d}{''.join(chosen.suffixes)}"
    shutil.copyfile(chosen, out / f".{target.name}.tmp")
    (out / f".{target.name}.tmp").replace(target)  # a half-written sample is never reused
    return str(target.resolve())
