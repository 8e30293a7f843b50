"""The transform Glue job's work: quality gate, transform, load, catalog, summaries, metrics.

``run_transform_job`` is the body of the deployed Glue job (``etl.jobs.glue_job`` resolves
its arguments; the exported script calls both) and of the local ``glue:startJobRun``.
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass
from datetime import date

import pyarrow.parquet as pq
from pyspark import StorageLevel
from pyspark.sql import SparkSession

from etl.core.conventions import PROCESS_PARTITIONS
from etl.core.spec import DatasetSpec
from etl.jobs.progress import spark_progress
from etl.stages.landed import read_registered
from etl.stages.load import write_partitioned
from etl.stages.quality import check_quality, enforce
from etl.stages.reference import ensure_reference_tables, read_references
from etl.stages.summarise import summarise
from etl.stages.transform import dataset_steps, transform_dataset
from etl.storage import lake as lake_io
from etl.storage.catalog import LocalCatalog
from etl.storage.lake import Lake, join
from etl.storage.metrics import report_job_metrics
from etl.storage.publish import Published, clear_partition, list_files, source_id


@dataclass
class JobOutcome:
    """What the Glue job reports back (``glue:startJobRun.sync`` output, simplified)."""

    records_written: int
    curated: list[Published]
    analytics: list[Published]


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


def _job_steps(spark, lake, catalog, dataset, uri, run_date, run_id, show_progress) -> JobOutcome:
    # The gate's profile and suite and the transform all read the raw file: parse it once.
    raw = read_registered(spark, catalog, dataset, uri).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        with spark_progress(spark, "quality gate", enabled=show_progress):
            enforce(check_quality(raw, dataset))
        ensure_reference_tables(lake, catalog, dataset)
        references = read_references(spark, lake, dataset)
        curated = transform_dataset(raw, dataset, run_date, references, dataset_steps(dataset))
        curated_path = lake.curated_table_path(dataset.curated_table)
        with spark_progress(spark, "transform+load", enabled=show_progress):
            published = write_partitioned(
                curated,
                curated_path,
                PROCESS_PARTITIONS,
                source=lake.raw_key(uri),
                staging_path=lake.staging_path(lake.curated, run_id),
            )
    finally:
        raw.unpersist()
    _register(
        catalog, dataset.database, dataset.curated_table, curated.schema, curated_path, published
    )
    analytics: list[Published] = []
    # Summarise every processing-date partition this run changed, whole (every source landed
    # that day), including the ones a re-run moved this source's rows out of; a partition
    # left empty loses its summary rows too, so analytics never counts a row twice.
    with_rows = [p for p in published if p.files]
    emptied = [p for p in published if p.moved_out and not p.files]
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
    written = [p for p in published if not p.moved_out]
    return JobOutcome(_rows_in(written, lake.raw_key(uri)), published, analytics)


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


def _register(catalog, database, table, schema, location, published) -> None:
    keys = [(c, "int") for c in PROCESS_PARTITIONS]
    catalog.upsert_table(database, table, schema, location, "parquet", partition_keys=keys)
    catalog.add_partitions(database, table, [p.values for p in published])


def _rows_in(published: list[Published], source: str) -> int:
    """Rows this source contributed, read from the Parquet footers (no Spark job)."""
    prefix = f"{source_id(source)}-part-"
    total = 0
    for partition in published:
        fs, root = lake_io.filesystem(partition.location)
        for name in list_files(partition.location):
            if name.startswith(prefix):
                with fs.open_input_file(f"{root}/{name}") as handle:
                    total += pq.ParquetFile(handle).metadata.num_rows
    return total
