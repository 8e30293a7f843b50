"""The transform Glue job's body, importable: its arguments, its lake and catalog, its stages.

The deployed script (``etl export`` -> ``build/deploy/glue/transform_job.py``) is a thin
shell - ``getResolvedOptions``, ``Job.init``, ``job.commit`` - around the notebook cells
tagged ``export``, which call the functions here. Arguments::

    --JOB_NAME  --source-path (landed raw object)  --raw-zone  --curated-zone
    --analytics-zone  --database-name  [--run-date YYYY-MM-DD (default today, UTC)]
    [--dataset NAME (default orders)]  [--source-version (the object's version: the S3
    VersionId, or its ETag in a bucket without versioning; a local raw zone's version id)]
    [--raw-table-version (the raw table's Glue VersionId the workflow's crawl left: the job
    reads the raw schema from that version, see ``job_catalog``)]

A run processes one version of its object, and its rows are that version's (``job_source``).
Spark reads ``s3://bucket/key`` - the current object - and cannot ask for a ``VersionId``, so
deployed, the job checks that the current object is still the version its execution was
started for and stops, before writing anything, when a newer one landed in between (that
version has its own execution). Locally the raw zone keeps every version in its own place,
and the job reads the one it was given.

Zones are ``s3://`` URIs when deployed (Glue Data Catalog) or local folders (the lake's
file catalog, kept beside the zones in ``_system`` exactly where ``etl run`` keeps it).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from pyspark.sql import SparkSession

from etl.core.conventions import DEFAULT_DATASET
from etl.core.datasets import get_dataset
from etl.core.errors import EtlError, ValidationFailed
from etl.core.spec import DatasetSpec
from etl.jobs.transform import JobOutcome, new_run_id
from etl.stages.landed import discover_landed, validate_landed
from etl.storage.catalog import GlueCatalog, LocalCatalog, columns_to_ddl
from etl.storage.lake import Lake, is_s3

REQUIRED_OPTIONS = (
    "JOB_NAME",
    "source-path",
    "raw-zone",
    "curated-zone",
    "analytics-zone",
    "database-name",
)
OPTIONAL_OPTIONS = ("run-date", "dataset", "source-version", "raw-table-version")


@dataclass(frozen=True)
class JobRun:
    """One run's resolved arguments."""

    job_name: str
    source_path: str
    raw_zone: str
    curated_zone: str
    analytics_zone: str
    database_name: str
    run_date: date
    dataset: str
    run_id: str
    source_version: str = ""
    raw_table_version: str = ""


def job_options(argv: list[str]) -> list[str]:
    """Options for ``getResolvedOptions``: it requires every listed one, so optional ones
    are listed only when ``argv`` has them."""
    present = [o for o in OPTIONAL_OPTIONS if any(a.split("=")[0] == f"--{o}" for a in argv)]
    return [*REQUIRED_OPTIONS, *present]


def job_arguments(args: dict) -> JobRun:
    """A ``JobRun`` from ``getResolvedOptions``' dict (``-`` in names arrives as ``_``)."""
    text = args.get("run_date")
    try:
        run_date = date.fromisoformat(text) if text else datetime.now(UTC).date()
    except ValueError:
        raise ValidationFailed(f"--run-date {text!r} is not a date in YYYY-MM-DD form") from None
    source = args["source_path"]
    return JobRun(
        job_name=args["JOB_NAME"],
        source_path=source if is_s3(source) else str(Path(source).resolve()),
        raw_zone=args["raw_zone"],
        curated_zone=args["curated_zone"],
        analytics_zone=args["analytics_zone"],
        database_name=args["database_name"],
        run_date=run_date,
        dataset=args.get("dataset") or DEFAULT_DATASET,
        run_id=args.get("JOB_RUN_ID") or new_run_id(run_date),
        source_version=args.get("source_version") or "",
        raw_table_version=args.get("raw_table_version") or "",
    )


def local_job_arguments(
    source_path: str, lake: Lake, run_date: str | None = None, dataset: str = DEFAULT_DATASET
) -> dict:
    """What ``getResolvedOptions`` returns for a run against a local lake (for notebooks)."""
    return {
        "JOB_NAME": "notebook",
        "source_path": source_path,
        "raw_zone": lake.raw,
        "curated_zone": lake.curated,
        "analytics_zone": lake.analytics,
        "database_name": get_dataset(dataset).database,
        "run_date": run_date,
        "dataset": dataset,
    }


def job_lake(run: JobRun) -> Lake:
    """The zones as a ``Lake``; local zones keep bookkeeping in ``<parent of raw>/_system``."""
    if is_s3(run.raw_zone):
        return Lake.s3(run.raw_zone, run.curated_zone, run.analytics_zone)
    raw = Path(run.raw_zone).resolve()
    return Lake(
        raw=str(raw),
        curated=str(Path(run.curated_zone).resolve()),
        analytics=str(Path(run.analytics_zone).resolve()),
        scripts="",
        system=str(raw.parent / "_system"),
    ).ensure()


def job_dataset(run: JobRun) -> DatasetSpec:
    """The dataset's rules, registered in the job's ``--database-name``."""
    return dataclasses.replace(get_dataset(run.dataset), database=run.database_name)


def job_source(run: JobRun, lake: Lake) -> str:
    """What the job reads: the object version ``--source-version`` names.

    Locally, the raw zone's copy of that version. Deployed, the object's URI, once its
    current ``VersionId`` (or ETag, without versioning) is checked to be that version:
    Spark cannot read by ``VersionId``, so a run whose version was replaced stops here.
    Without ``--source-version``, the object as given.
    """
    version = run.source_version
    if not version:
        return run.source_path
    key = lake.raw_key(run.source_path)
    if not is_s3(run.source_path):
        kept = lake.version_path(key, version)
        if lake.raw_version(run.source_path) in ("", version) and Path(kept).is_file():
            return kept
        raise EtlError(f"version {version} of raw/{key} is not in the raw zone")
    current = _current_s3_version(run.source_path)
    if version not in current:
        raise EtlError(
            f"{run.source_path} is now version {current[0] or current[1]}, not {version} "
            "this run is for: a newer version landed since and has its own execution. "
            "Nothing was written; to process this version, copy it back over the key "
            "(aws s3api copy-object)"
        )
    return run.source_path


def _current_s3_version(uri: str) -> tuple[str, str]:
    """``(VersionId, ETag)`` of the current object at ``uri``."""
    import boto3

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    head = boto3.client("s3").head_object(Bucket=bucket, Key=key)
    return head.get("VersionId") or "", head.get("ETag", "").strip('"')


def job_catalog(lake: Lake, run: JobRun | None = None) -> LocalCatalog | GlueCatalog:
    """The Glue Data Catalog for a deployed lake, the lake's file catalog for a local one.

    With ``run.raw_table_version`` (deployed), the raw table reads as that version: the one
    the workflow's crawl left, even if another execution's crawl has updated the table since.
    Locally the crawl's pin for the object already is that (``etl.local.services``).
    """
    if not is_s3(lake.raw):
        return LocalCatalog(lake)
    catalog = GlueCatalog()
    if run is None or not run.raw_table_version:
        return catalog
    dataset = job_dataset(run)
    return PinnedRawTable(catalog, dataset.database, dataset.raw_table, run.raw_table_version)


class PinnedRawTable:
    """A Glue catalog whose raw table reads as one of its versions (``GetTableVersion``).

    Everything else goes to the catalog. The job's own crawl of the file (``ensure_raw_table``
    or a re-crawl of the whole file) updates the table and ends the pin: its reads then see
    what it registered itself.
    """

    def __init__(self, catalog: GlueCatalog, database: str, name: str, version: str) -> None:
        self._catalog, self._table_name = catalog, (database, name)
        try:
            self._pinned: dict | None = catalog.get_table_version(database, name, version)
        except KeyError as error:
            raise EtlError(
                f"{error.args[0]}: the schema this execution's crawl registered is gone; "
                "nothing was written: start the execution again to crawl the file again"
            ) from None

    def get_table(self, database: str, name: str) -> dict:
        if self._pinned is not None and (database, name) == self._table_name:
            return self._pinned
        return self._catalog.get_table(database, name)

    def read_schema_ddl(self, database: str, name: str) -> str:
        return columns_to_ddl(self.get_table(database, name)["StorageDescriptor"]["Columns"])

    def upsert_table(self, database: str, name: str, *args, **kwargs) -> dict:
        if (database, name) == self._table_name:
            self._pinned = None
        return self._catalog.upsert_table(database, name, *args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._catalog, name)


def ensure_raw_table(
    spark: SparkSession,
    catalog: LocalCatalog | GlueCatalog,
    dataset: DatasetSpec,
    source_path: str,
) -> str:
    """Register the raw table for ``source_path`` unless the crawler already did.

    In the workflow the discovery step runs before the job; run on its own, the job does
    that step itself so it reads the file with the schema discovery pins.
    """
    try:
        table = catalog.get_table(dataset.database, dataset.raw_table)
    except KeyError:
        table = None
    if table and table["StorageDescriptor"]["Location"] == source_path:
        return "registered"
    verdict = validate_landed(source_path, dataset.csv_delimiter)
    if not verdict.isValid:
        raise ValidationFailed(verdict.reason, details=verdict.to_dict())
    discover_landed(spark, catalog, dataset, source_path, verdict.dataFormat)
    return "discovered"


def describe_outcome(run: JobRun, outcome: JobOutcome) -> str:
    """One line for the job's log: where the records went (counts only, never values)."""
    partitions = ", ".join("/".join(p.values) for p in outcome.curated) or "none"
    rows = f"; rows {outcome.rows.describe()}" if outcome.rows else ""
    return (
        f"{run.job_name} {run.run_id}: {outcome.records_written} records from "
        f"{run.source_path}{f' (version {run.source_version})' if run.source_version else ''} "
        f"into curated partition(s) {partitions}, "
        f"{len(outcome.analytics)} analytics partition(s){rows}"
    )
