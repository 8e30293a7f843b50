"""The pipeline's stages as callable steps, and ``run_pipeline`` that runs them in order.

Each step is what one deployed component does: ``validate_landed`` is the validation
Lambda, ``discover_landed`` the raw crawler, ``check_landed_quality`` the quality check,
``run_transform_job`` the Glue job (transform, load, catalog update, analytics, metrics)
and ``notify`` the SNS notification. The Step Functions runner calls the same steps.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date

import pyarrow.parquet as pq
from pyspark.sql import SparkSession

from etl import lake as lake_io
from etl.analytics import DAILY_SALES, PROCESS_PARTITIONS, daily_sales
from etl.catalog import LocalCatalog
from etl.datasets import DatasetConfig
from etl.discovery import discover
from etl.errors import EtlError, ValidationFailed
from etl.extract import read_raw
from etl.lake import Lake
from etl.load import Published, list_files, source_id, write_partitioned
from etl.notify import build_message, metric_data, sink_for
from etl.progress import spark_progress
from etl.quality import QualityReport, check_quality, enforce
from etl.reference import ensure_regions, read_regions
from etl.transform import transform_orders
from etl.validation import HEAD_BYTES, TAIL_BYTES, FileFacts, ValidationResult, validate_file

Progress = Callable[[str], None]


@dataclass
class StageResult:
    """One line of the run summary."""

    stage: str
    status: str = "RUNNING"
    rows_in: int | None = None
    rows_out: int | None = None
    seconds: float = 0.0
    detail: str = ""
    outputs: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    run_id: str
    source: str
    run_date: str
    status: str = "RUNNING"
    landed: str = ""
    quality: dict | None = None
    error: str = ""
    stages: list[StageResult] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class JobOutcome:
    """What the Glue job reports back (``glue:startJobRun.sync`` output, simplified)."""

    records_written: int
    curated: list[Published]
    analytics: list[Published]


def new_run_id(run_date: date) -> str:
    return f"{run_date:%Y%m%d}-{uuid.uuid4().hex[:8]}"


def validate_landed(uri: str, dataset: DatasetConfig) -> ValidationResult:
    """The validation Lambda's check, reading only the head and tail of the object."""
    size = lake_io.size_of(uri)
    facts = FileFacts(
        key=uri,
        size=size,
        head=lake_io.read_head(uri, HEAD_BYTES),
        tail=lake_io.read_tail(uri, TAIL_BYTES) if size else b"",
    )
    return validate_file(facts, dataset)


def discover_landed(
    spark: SparkSession, catalog: LocalCatalog, dataset: DatasetConfig, uri: str, data_format: str
) -> str:
    """The raw crawler: infer and register the raw table; return its DDL schema."""
    discover(spark, catalog, dataset, uri, data_format)
    return catalog.read_schema_ddl(dataset.database, dataset.raw_table)


def _read_registered(spark: SparkSession, catalog: LocalCatalog, dataset: DatasetConfig, uri: str):
    table = catalog.get_table(dataset.database, dataset.raw_table)
    data_format = table["Parameters"]["dataFormat"]
    return read_raw(
        spark, uri, data_format, catalog.read_schema_ddl(dataset.database, dataset.raw_table)
    )


def check_landed_quality(
    spark: SparkSession, catalog: LocalCatalog, dataset: DatasetConfig, uri: str
) -> QualityReport:
    """Profile and validate the landed file with the registered schema."""
    return check_quality(_read_registered(spark, catalog, dataset, uri), dataset)


def run_transform_job(
    spark: SparkSession,
    lake: Lake,
    catalog: LocalCatalog,
    dataset: DatasetConfig,
    uri: str,
    run_date: date,
    run_id: str,
    show_progress: bool = False,
) -> JobOutcome:
    """The Glue job: transform, load curated, update the catalog, build analytics."""
    raw = _read_registered(spark, catalog, dataset, uri)
    ensure_regions(lake, catalog, dataset)
    curated = transform_orders(raw, read_regions(spark, lake), dataset, run_date)
    with spark_progress(spark, "transform+load", enabled=show_progress):
        published = write_partitioned(
            curated,
            lake.curated_table_path(dataset.curated_table),
            dataset.process_partition_columns,
            source=uri,
            staging_path=lake.staging_path(lake.curated, run_id),
        )
    _register(
        catalog,
        dataset.database,
        dataset.curated_table,
        curated.schema,
        lake.curated_table_path(dataset.curated_table),
        dataset.process_partition_columns,
        published,
    )
    analytics: list[Published] = []
    if published:
        # Summarise the whole processing-date partition (every source landed that day).
        table_path = lake.curated_table_path(dataset.curated_table)
        day = spark.read.option("basePath", table_path).parquet(*[p.location for p in published])
        summary = daily_sales(day)
        with spark_progress(spark, "analytics", enabled=show_progress):
            analytics = write_partitioned(
                summary,
                lake.analytics_table_path(DAILY_SALES),
                PROCESS_PARTITIONS,
                source=DAILY_SALES,
                staging_path=lake.staging_path(lake.analytics, run_id),
                replace_elsewhere=False,
            )
        _register(
            catalog,
            "analytics",
            DAILY_SALES,
            summary.schema,
            lake.analytics_table_path(DAILY_SALES),
            PROCESS_PARTITIONS,
            analytics,
        )
    return JobOutcome(_rows_in(published, uri), published, analytics)


def _register(catalog, database, table, schema, location, partition_columns, published) -> None:
    keys = [(c, "int") for c in partition_columns]
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


def notify(lake: Lake, dataset: DatasetConfig, status: str, execution: str, **details) -> dict:
    """Publish the run's notification and its metrics."""
    sink = sink_for(lake)
    metrics = {"JobFailures": 0 if status == "SUCCESS" else 1}
    if "recordsProcessed" in details:
        metrics["RecordsProcessed"] = details["recordsProcessed"]
    if details.get("qualityScore") is not None:
        metrics["DataQualityScore"] = details["qualityScore"]
    sink.put_metrics(metric_data(dataset.name, **metrics))
    return sink.publish(build_message(status, execution, **details))


@contextmanager
def _stage(result: RunResult, name: str, progress: Progress) -> Iterator[StageResult]:
    stage = StageResult(name)
    result.stages.append(stage)
    progress(f"-> {name} ...")
    started = time.perf_counter()
    try:
        yield stage
        stage.status = "OK" if stage.status == "RUNNING" else stage.status
    except Exception:
        stage.status = "FAILED"
        raise
    finally:
        stage.seconds = round(time.perf_counter() - started, 2)


def run_pipeline(
    source: str,
    lake: Lake,
    run_date: date,
    dataset: DatasetConfig,
    spark: SparkSession | None = None,
    progress: Progress = lambda _line: None,
    show_spark_progress: bool = False,
) -> RunResult:
    """Land ``source`` in raw and run every stage; raise ``EtlError`` on bad input.

    Whatever happens, a notification and metrics are published and the raw copy is kept.
    """
    from etl.session import get_spark

    lake.ensure()
    catalog = LocalCatalog(lake)
    run_id = new_run_id(run_date)
    result = RunResult(run_id, source, run_date.isoformat())
    try:
        with _stage(result, "land", progress) as stage:
            result.landed = lake_io.land_file(source, lake)
            stage.outputs.append(result.landed)
        with _stage(result, "validate", progress) as stage:
            verdict = validate_landed(result.landed, dataset)
            stage.detail = verdict.dataFormat or verdict.reason
            if not verdict.isValid:
                raise ValidationFailed(verdict.reason, details=verdict.to_dict())
        spark = spark or get_spark()
        with _stage(result, "discover", progress) as stage:
            discover_landed(spark, catalog, dataset, result.landed, verdict.dataFormat)
            stage.detail = f"{dataset.database}.{dataset.raw_table}"
        with _stage(result, "quality", progress) as stage:
            report = check_landed_quality(spark, catalog, dataset, result.landed)
            result.quality = report.to_dict()
            stage.rows_in = report.totalRecords
            stage.detail = f"score {report.qualityScore} (threshold {report.threshold})"
            enforce(report)
        with _stage(result, "transform+load", progress) as stage:
            outcome = run_transform_job(
                spark, lake, catalog, dataset, result.landed, run_date, run_id, show_spark_progress
            )
            stage.rows_in = report.totalRecords
            stage.rows_out = outcome.records_written
            stage.outputs = [p.location for p in outcome.curated + outcome.analytics]
            stage.detail = (
                f"{len(outcome.curated)} curated + {len(outcome.analytics)} analytics partition(s)"
            )
        with _stage(result, "notify", progress):
            notify(
                lake,
                dataset,
                "SUCCESS",
                run_id,
                input={"key": result.landed},
                recordsProcessed=outcome.records_written,
                qualityScore=report.qualityScore,
            )
        result.status = "SUCCEEDED"
        return result
    except EtlError as error:
        result.status, result.error = error.status, str(error)
        notify(
            lake,
            dataset,
            error.status,
            run_id,
            input={"key": result.landed or source},
            reason=str(error),
            qualityScore=(result.quality or {}).get("qualityScore"),
        )
        raise
    except Exception as error:
        result.status, result.error = "FAILED", f"{type(error).__name__}: {error}"
        notify(
            lake,
            dataset,
            "FAILED",
            run_id,
            input={"key": result.landed or source},
            error=result.error,
        )
        raise
