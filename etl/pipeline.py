"""The pipeline's stages as callable steps, and ``run_pipeline`` that runs them in order.

Each step is what one deployed component does: ``validate_landed`` is the validation
Lambda, ``discover_landed`` the raw crawler, ``check_landed_quality`` the quality check and
``run_transform_job`` the Glue job (transform, load, catalog update, analytics, metrics).
The Step Functions runner calls the same steps; the state machine publishes notifications.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date

import pyarrow.parquet as pq
from pyspark import StorageLevel
from pyspark.sql import SparkSession

from etl import lake as lake_io
from etl.analytics import DAILY_SALES, PROCESS_PARTITIONS, daily_sales
from etl.catalog import LocalCatalog
from etl.datasets import DatasetConfig
from etl.discovery import discover
from etl.errors import EtlError, QualityCheckFailed, ValidationFailed
from etl.extract import read_raw
from etl.lake import Lake
from etl.load import Published, list_files, source_id, write_partitioned
from etl.notify import report_job_metrics
from etl.progress import spark_progress
from etl.quality import GATE_FAILED, QualityReport, check_quality, enforce
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


def _report_metrics(lake: Lake, dataset: DatasetConfig, **values) -> None:
    """Metrics must not turn a finished load into a failed job: warn instead."""
    try:
        report_job_metrics(lake, dataset.name, **values)
    except Exception as error:  # e.g. CloudWatch throttling; the data is already published
        print(f"warning: could not report metrics: {error}", file=sys.stderr)


def _job_steps(spark, lake, catalog, dataset, uri, run_date, run_id, show_progress) -> JobOutcome:
    # The gate's profile and suite and the transform all read the raw file: parse it once.
    raw = _read_registered(spark, catalog, dataset, uri).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        with spark_progress(spark, "quality gate", enabled=show_progress):
            enforce(check_quality(raw, dataset))
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
    finally:
        raw.unpersist()
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
            dataset.database,  # one catalog database per deployment (infra/glue.yaml)
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


def run_pipeline(
    source: str,
    lake: Lake,
    run_date: date,
    dataset: DatasetConfig,
    spark: SparkSession | None = None,
    progress: Progress = lambda _line: None,
    show_spark_progress: bool = False,
) -> RunResult:
    """Land ``source`` in raw and run the Step Functions workflow on it, locally.

    The workflow (``infra/statemachine/etl_workflow.asl.json``) runs every stage above and
    publishes the notification and metrics; its history is kept in the lake. ``progress``
    hears each Task state as the execution enters it. A failed execution raises the
    ``EtlError`` matching its end state.
    """
    from etl.workflow.runner import LocalWorkflow

    lake.ensure()
    result = RunResult(new_run_id(run_date), source, run_date.isoformat())
    started = time.perf_counter()
    result.landed = lake_io.land_file(source, lake)
    seconds = round(time.perf_counter() - started, 2)
    result.stages.append(StageResult("land", "OK", seconds=seconds, outputs=[result.landed]))
    progress(f"-> land: {result.landed}")
    with LocalWorkflow(lake, dataset, spark=spark, show_progress=show_spark_progress) as flow:
        record = flow.run_landed(result.landed, run_date, on_event=_announce(progress))
        etl_result = _state_value(record["events"], "etlResult") or {}
        outcome = flow.services.job_outcome(etl_result.get("Id", ""))
    execution = record["execution"]
    result.run_id = execution["name"]
    result.status = execution["status"]
    result.quality = _state_value(record["events"], "qualityResult")
    result.stages += _task_stages(record, result.quality, outcome)
    if execution["status"] == "SUCCEEDED":
        return result
    raise _execution_error(record, result)


def _announce(progress: Progress) -> Callable[[dict], None]:
    """A history-event callback printing each Task and end state as it is entered."""

    def on_event(event: dict) -> None:
        kind = event["type"]
        if kind in ("TaskStateEntered", "FailStateEntered", "SucceedStateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            progress(f"-> {name} ({kind.removesuffix('StateEntered')})")

    return on_event


def _task_stages(record: dict, quality: dict | None, outcome: JobOutcome | None) -> list:
    """One summary line per Task state visited (repeated polls merged), in visiting order."""
    from etl.workflow.history import path_taken

    execution = record["execution"]
    steps = path_taken(record["events"])
    failed_at = steps[-1]["state"] if execution["status"] != "SUCCEEDED" and steps else None
    stages: dict[str, StageResult] = {}
    visits: dict[str, int] = {}
    for step in steps:
        if step["type"] != "Task" and step["state"] != failed_at:
            continue
        stage = stages.setdefault(step["state"], StageResult(step["state"], "OK"))
        stage.seconds = round(stage.seconds + (step["seconds"] or 0.0), 2)
        visits[step["state"]] = visits.get(step["state"], 0) + 1
        if step["state"] == failed_at:
            stage.status = "FAILED"
            stage.detail = f"{execution.get('error', '')}: {execution.get('cause', '')}"[:120]
    for name, count in visits.items():
        if count > 1:
            stages[name].detail = stages[name].detail or f"{count} polls"
    _describe(stages, record["events"], quality, outcome)
    return list(stages.values())


def _describe(stages: dict, events: list, quality: dict | None, outcome) -> None:
    """Fill rows, details and outputs from the states' results and the local job's outcome."""
    validation = _state_value(events, "validationResult")
    if "ValidateInput" in stages and validation:
        stages[
            "ValidateInput"
        ].detail = f"{validation.get('dataFormat')}, {validation.get('fileSize') or 0:,} bytes"
    if "RunDataQualityCheck" in stages and quality:
        stage = stages["RunDataQualityCheck"]
        stage.rows_in = quality.get("totalRecords")
        stage.detail = f"score {quality.get('qualityScore')} (threshold {quality.get('threshold')})"
    if "RunETLJob" in stages and outcome is not None:
        stage = stages["RunETLJob"]
        stage.rows_in = (quality or {}).get("totalRecords")
        stage.rows_out = outcome.records_written
        stage.detail = stage.detail or (
            f"{len(outcome.curated)} curated + {len(outcome.analytics)} analytics partitions"
        )
        stage.outputs = [p.location for p in outcome.curated + outcome.analytics]


def _execution_error(record: dict, result: RunResult) -> EtlError:
    """The ``EtlError`` for a failed execution, from its end state's error and cause."""
    execution = record["execution"]
    error, cause = execution.get("error", ""), execution.get("cause", "")
    result.error = f"{error}: {cause}"
    if error == "ValidationFailed":
        return ValidationFailed(cause, details=_state_value(record["events"], "validationResult"))
    if error == "QualityCheckFailed":
        # The Lambda's score gives the bare reason; the job's own gate its error message.
        reason = cause.removeprefix(f"{QualityCheckFailed.__name__}: ")
        if not reason.startswith(GATE_FAILED):
            reason = f"{GATE_FAILED}: {reason}; nothing was written to curated"
        return QualityCheckFailed(reason, details=result.quality or {})
    return EtlError(
        f"workflow execution {execution['name']} failed: {cause or error}; "
        f"see `etl executions show {execution['name']}`"
    )


def _state_value(events: list[dict], field: str) -> dict | None:
    """``field`` of the last state output that has it, from an execution's history."""
    import json

    for event in reversed(events):
        details = event.get("stateExitedEventDetails")
        if details:
            value = json.loads(details.get("output") or "{}").get(field)
            if value is not None:
                return value
    return None
