"""The transform Glue job's work: quality gate, transform, load, catalog, summaries, metrics.

``run_transform_job`` is the body of the deployed Glue job (``etl.jobs.glue_job`` resolves
its arguments; the exported script calls both) and of the local ``glue:startJobRun``.
"""

from __future__ import annotations

import sys
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import unquote

import pyarrow.parquet as pq
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from etl.core.accounting import RowCounts
from etl.core.conventions import PROCESS_PARTITIONS
from etl.core.spec import DatasetSpec
from etl.jobs.progress import spark_progress
from etl.stages.landed import read_registered
from etl.stages.load import stage_partitioned, write_partitioned
from etl.stages.quality import check_quality, enforce
from etl.stages.reference import ensure_reference_tables, read_references
from etl.stages.summarise import summarise
from etl.stages.transform import (
    QUARANTINE_PARTITIONS,
    check_records,
    curate,
    dataset_steps,
    quarantine_records,
)
from etl.storage import lake as lake_io
from etl.storage import quality_results
from etl.storage.catalog import LocalCatalog
from etl.storage.lake import Lake, join
from etl.storage.locks import lake_lock, step_hook
from etl.storage.metrics import report_job_metrics
from etl.storage.publish import (
    Published,
    clear_partition,
    discard_staged,
    list_files,
    publish_staged,
    source_id,
)

# Unparseable dates become null (and their records are quarantined) instead of failing the
# job with SparkUpgradeException, which also quotes the value.
TIME_PARSER_POLICY = ("spark.sql.legacy.timeParserPolicy", "CORRECTED")


@dataclass
class JobOutcome:
    """What the Glue job reports back (``glue:startJobRun.sync`` output, simplified)."""

    records_written: int
    curated: list[Published]
    analytics: list[Published]
    quarantine: list[Published] = field(default_factory=list)
    rows: RowCounts | None = None


def new_run_id(run_date: date) -> str:
    return f"{run_date:%Y%m%d}-{uuid.uuid4().hex[:8]}"


def run_transform_job(
    spark: SparkSession,
    lake: Lake,
    catalog: LocalCatalog,
    dataset: DatasetSpec,
    uri: str,
    run_date: date,
    run_id: str,
    show_progress: bool = False,
) -> JobOutcome:
    """The Glue job: quality gate, transform, load curated, update the catalog, analytics.

    The quality Lambda only scores the file (it has no Spark); the job re-checks the score on
    every record and runs the great-expectations suite before anything is written. The job
    reports JobFailures and RecordsProcessed (curated rows written).
    """
    job = (spark, lake, catalog, dataset, uri, run_date, run_id, show_progress)
    try:
        outcome = _job_steps(*job)
    except Exception:
        _report_metrics(lake, dataset, failed=True)
        raise
    _report_metrics(lake, dataset, failed=False, records=outcome.records_written)
    return outcome


def _report_metrics(lake: Lake, dataset: DatasetSpec, **values) -> None:
    """Metrics must not turn a finished load into a failed job: warn instead."""
    try:
        report_job_metrics(lake, dataset.name, **values)
    except Exception as error:  # e.g. CloudWatch throttling; the data is already published
        print(f"warning: could not report metrics: {error}", file=sys.stderr)


def _keep_quality(lake: Lake, run_id: str, dataset: DatasetSpec, uri: str, report) -> None:
    """Keep the gate's result (passed or not) for the run report; never fail the job for it."""
    record = {"jobRunId": run_id, "dataset": dataset.name, "source": uri}
    record |= {"quality": report.to_dict(), "validation": report.validation}
    try:
        quality_results.keep(lake, run_id, record)
    except OSError as error:
        print(f"warning: could not keep the quality result: {error}", file=sys.stderr)


def _job_steps(*job) -> JobOutcome:
    # The lake lock (etl.storage.locks) is taken once the run's output is staged and held
    # from publishing to the last summary: concurrent runs overlap in everything but that.
    with ExitStack() as critical:
        outcome = _steps(critical, *job)
        step_hook("job-done")
        return outcome


def _steps(critical, spark, lake, catalog, dataset, uri, run_date, run_id, show_progress):
    spark.conf.set(*TIME_PARSER_POLICY)
    # The gate's profile and suite and the transform all read the raw file: parse it once.
    raw = read_registered(spark, catalog, dataset, uri).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        with spark_progress(spark, "quality gate", enabled=show_progress):
            report = check_quality(raw, dataset)
        _keep_quality(lake, run_id, dataset, uri, report)
        enforce(report)
        with lake_lock(lake.system, run_id):
            ensure_reference_tables(lake, catalog, dataset)
        references = read_references(spark, lake, dataset)
        with spark_progress(spark, "transform+load", enabled=show_progress):
            loaded = load_records(
                raw,
                lake,
                dataset,
                uri,
                run_date,
                run_id,
                references,
                dataset_steps(dataset),
                critical=critical,
            )
    finally:
        raw.unpersist()
    rows = RowCounts(
        read=report.totalRecords,
        written=_rows_in(loaded.curated, lake.raw_key(uri)),
        # The profile counts every copy of a record but the first: what "exact" drops.
        duplicates=report.duplicateRecords if dataset.deduplicate != "none" else 0,
        rejected=_rows_per_rule(loaded.quarantine, lake.raw_key(uri)),
    ).check()
    curated_path = lake.curated_table_path(dataset.curated_table)
    _register(
        catalog,
        dataset.database,
        dataset.curated_table,
        loaded.curated_schema,
        curated_path,
        loaded.curated,
    )
    _register(
        catalog,
        dataset.database,
        dataset.quarantine_table,
        loaded.quarantine_schema,
        lake.quarantine_table_path(dataset.name),
        loaded.quarantine,
        keys=[*((c, "int") for c in PROCESS_PARTITIONS), (QUARANTINE_PARTITIONS[-1], "string")],
    )
    analytics: list[Published] = []
    # Summarise every processing-date partition this run changed, whole (every source landed
    # that day), including the ones a re-run moved this source's rows out of; a partition
    # left empty loses its summary rows too, so analytics never counts a row twice.
    with_rows = [p for p in loaded.curated if p.files]
    emptied = [p for p in loaded.curated if p.moved_out and not p.files]
    for summary in dataset.summaries:
        if with_rows:
            day = spark.read.option("basePath", curated_path).parquet(
                *[p.location for p in with_rows]
            )
            analytics += _write_summary(
                spark, lake, catalog, dataset, summary, day, run_id, show_progress
            )
        for partition in emptied:
            segments = [
                f"{k}={v}" for k, v in zip(PROCESS_PARTITIONS, partition.values, strict=True)
            ]
            clear_partition(join(lake.analytics_table_path(summary.name), *segments))
    return JobOutcome(rows.written, loaded.curated, analytics, loaded.quarantine, rows)


@dataclass(frozen=True)
class Loaded:
    """What ``load_records`` published, and the schemas to register."""

    curated: list[Published]
    quarantine: list[Published]
    curated_schema: StructType
    quarantine_schema: StructType


def load_records(
    raw: DataFrame,
    lake: Lake,
    dataset: DatasetSpec,
    uri: str,
    run_date: date,
    run_id: str,
    references: dict[str, DataFrame],
    steps: list,
    critical: ExitStack | None = None,
) -> Loaded:
    """Publish the raw records of ``uri``: curated, or quarantined with their rule.

    Both tables are written from one de-duplicated, rule-checked frame, kept in memory
    (spilling to disk) between the two writes so the de-duplication shuffle runs once.
    Both are staged first, then published under the lake lock: held until ``critical``
    closes when given (the caller has more to do under it), else only for the publishing.
    """
    curated_staging = lake.staging_path(lake.curated, run_id)
    rejected_staging = lake.staging_path(lake.curated, f"{run_id}-quarantine")
    checked = check_records(raw, dataset, run_date).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        curated = curate(checked, dataset, run_date, references, steps)
        rejected = quarantine_records(checked, dataset, run_date, lake.raw_key(uri), run_id)
        stage_partitioned(curated, PROCESS_PARTITIONS, curated_staging)
        stage_partitioned(rejected, QUARANTINE_PARTITIONS, rejected_staging)
    except BaseException:
        discard_staged(curated_staging)
        discard_staged(rejected_staging)
        raise
    finally:
        checked.unpersist()
    with ExitStack() as own:
        (critical if critical is not None else own).enter_context(lake_lock(lake.system, run_id))
        published = publish_staged(
            curated_staging,
            lake.curated_table_path(dataset.curated_table),
            len(PROCESS_PARTITIONS),
            source=lake.raw_key(uri),
        )
        quarantined = publish_staged(
            rejected_staging,
            lake.quarantine_table_path(dataset.name),
            len(QUARANTINE_PARTITIONS),
            source=lake.raw_key(uri),
        )
    return Loaded(published, quarantined, curated.schema, rejected.schema)


def _write_summary(spark, lake, catalog, dataset, summary, day, run_id, show_progress):
    """One analytics table for the processing date(s) just published; returns its partitions."""
    table = summarise(day, summary)
    location = lake.analytics_table_path(summary.name)
    with spark_progress(spark, f"summary {summary.name}", enabled=show_progress):
        written = write_partitioned(
            table,
            location,
            PROCESS_PARTITIONS,
            source=summary.name,
            staging_path=lake.staging_path(lake.analytics, f"{run_id}-{summary.name}"),
            replace_elsewhere=False,
        )
    # One catalog database per deployment (infra/glue.yaml): the dataset's.
    _register(catalog, dataset.database, summary.name, table.schema, location, written)
    return written


def _register(catalog, database, table, schema, location, published, keys=None) -> None:
    keys = keys or [(c, "int") for c in PROCESS_PARTITIONS]
    catalog.upsert_table(database, table, schema, location, "parquet", partition_keys=keys)
    # Folder names hold partition values escaped (rule=cast%3Aamount); the catalog the values.
    values = [[unquote(v) for v in p.values] for p in published]
    catalog.add_partitions(database, table, values)


def _rows_in(published: list[Published], source: str) -> int:
    """Rows this source contributed, read from the Parquet footers (no Spark job)."""
    return sum(_partition_rows(partition, source) for partition in published)


def _rows_per_rule(quarantined: list[Published], source: str) -> dict[str, int]:
    """Rejected rows per rule (the last partition value), from the Parquet footers."""
    counts: dict[str, int] = {}
    for partition in quarantined:
        rule = unquote(partition.values[-1])
        counts[rule] = counts.get(rule, 0) + _partition_rows(partition, source)
    return {rule: n for rule, n in counts.items() if n}


def _partition_rows(partition: Published, source: str) -> int:
    prefix = f"{source_id(source)}-part-"
    fs, root = lake_io.filesystem(partition.location)
    total = 0
    for name in list_files(partition.location):
        if name.startswith(prefix):
            with fs.open_input_file(f"{root}/{name}") as handle:
                total += pq.ParquetFile(handle).metadata.num_rows
    return total
