"""The transform Glue job's work: quality gate, transform, load, catalog, summaries, metrics.

``run_transform_job`` is the body of the deployed Glue job (``etl.jobs.glue_job`` resolves
its arguments; the exported script calls both) and of the local ``glue:startJobRun``.
"""

from __future__ import annotations

import dataclasses
import sys
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import unquote

import pyarrow.parquet as pq
from pyspark import StorageLevel
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql.types import StructType

from etl.core.accounting import RowCounts
from etl.core.conventions import PROCESS_PARTITIONS
from etl.core.spec import DatasetSpec
from etl.jobs.progress import spark_progress
from etl.stages.landed import (
    MISFIT_COLUMN,
    discover_landed,
    read_registered,
    registration,
    schema_from_sample,
)
from etl.stages.load import stage_partitioned, write_partitioned
from etl.stages.quality import (
    QualityProfile,
    check_quality,
    enforce,
    load_suite,
    profile_on_the_way,
)
from etl.stages.reference import ensure_reference_tables, read_reference
from etl.stages.schema_changes import catalogued_columns, conformed
from etl.stages.suite import import_gx_in_background, suite_counts
from etl.stages.summarise import summarise
from etl.stages.transform import (
    QUARANTINE_PARTITIONS,
    check_records,
    curate,
    dataset_steps,
    lookup_labels,
    quarantine_records,
)
from etl.storage import lake as lake_io
from etl.storage import quality_results
from etl.storage.catalog import GlueTable, LocalCatalog
from etl.storage.lake import Lake, join
from etl.storage.locks import lake_lock, step_hook
from etl.storage.metrics import report_job_metrics
from etl.storage.publish import clear_partition, publish_staged
from etl.storage.staging import Published, claim_staging, discard_staged, list_files, source_id

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
    # Per reference table: the curated rows whose key it does not know (nulls joined).
    unmatched: dict[str, int] = field(default_factory=dict)


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
    source_version: str = "",
) -> JobOutcome:
    """The Glue job: quality gate, transform, load curated, update the catalog, analytics.

    The quality Lambda only scores the file (it has no Spark); the job re-checks the score on
    every record and runs the great-expectations suite before anything is written. The job
    reports JobFailures and RecordsProcessed (curated rows written). The source is the
    object's key and ``source_version`` (``Lake.source``): re-running one version replaces
    its own rows only.
    """
    job = (spark, lake, catalog, dataset, uri, run_date, run_id, show_progress)
    try:
        outcome = _job_steps(*job, source_version=source_version)
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


def _job_steps(*job, source_version: str = "") -> JobOutcome:
    # The lake lock (etl.storage.locks) is taken once the run's output is staged and held
    # from publishing to the last summary: concurrent runs overlap in everything but that.
    with ExitStack() as critical:
        outcome = _steps(critical, *job, source_version=source_version)
        step_hook("job-done")
        return outcome


def _steps(
    critical, spark, lake, catalog, dataset, uri, run_date, run_id, show_progress, source_version
) -> JobOutcome:
    spark.conf.set(*TIME_PARSER_POLICY)
    source = lake.source(uri, source_version)  # key + object version
    # One pass over the raw file: its records are profiled for the quality gate as they are
    # checked, the curated and quarantined rows are staged, and the gate then decides whether
    # they are published. Until then nothing is written outside the run's staging folders.
    references, staged_references = _gate_references(spark, lake, dataset, run_id)
    staging = Staging.of(lake, run_id)
    try:
        with spark_progress(spark, "quality gate + transform+load", enabled=show_progress):
            staged = _stage_raw_file(
                spark, lake, catalog, dataset, uri, run_date, run_id, references, source
            )
        # GX takes the counts it needs from the profile; only expectations the profile does
        # not count make it read the file again.
        raw = read_registered(spark, catalog, dataset, uri)
        report = check_quality(raw, dataset, staged.profile)
        _keep_quality(lake, run_id, dataset, uri, report)
        enforce(report)
        critical.enter_context(lake_lock(lake.system, run_id))
        ensure_reference_tables(lake, catalog, dataset)
        loaded = publish_records(staged, lake, dataset, source, catalog)
    finally:
        staging.discard()
        discard_staged(staged_references)
    rows = RowCounts(
        read=report.totalRecords,
        written=_rows_in(loaded.curated, source),
        # The profile counts every copy of a record but the first: what "exact" drops.
        duplicates=report.duplicateRecords if dataset.deduplicate != "none" else 0,
        rejected=_rows_per_rule(loaded.quarantine, source),
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
        keys=QUARANTINE_KEYS,
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
            location = lake.analytics_table_path(summary.name)
            pointers = _pointers(catalog, dataset.database, summary.name, location)
            clear_partition(join(location, *segments), pointers)
    _warn_unmatched(dataset, staged.unmatched, rows.written)
    return JobOutcome(
        rows.written, loaded.curated, analytics, loaded.quarantine, rows, staged.unmatched
    )


def _warn_unmatched(dataset: DatasetSpec, unmatched: dict[str, int], written: int) -> None:
    """Say (in the job's log) which reference tables lacked keys curated rows have."""
    labels = lookup_labels(dataset.references)
    for reference, label in zip(dataset.references, labels, strict=True):
        missed = unmatched.get(label, 0)
        if missed:
            print(
                f"warning: {missed:,} of {written:,} {dataset.name} rows have a "
                f"{'/'.join(reference.feed_key)} that reference {reference.table} lacks: "
                f"{', '.join(reference.curated_columns)} null in them",
                file=sys.stderr,
            )


def _stage_raw_file(
    spark, lake, catalog, dataset, uri, run_date, run_id, references, source
) -> Staged:
    """Stage the raw file's records, profiled with the suite's counts on the way.

    When the crawler typed the columns from the head of the file, the read also marks the
    records those types do not fit; if there are any, the whole file is crawled again and
    staged anew.
    """
    steps = dataset_steps(dataset)
    sampled = schema_from_sample(catalog, dataset, uri)
    # GX, for the gate, imported as the Spark pass starts, which leaves the process idle;
    # not beside the planning before it, whose py4j calls need the interpreter lock too.
    gx_import = import_gx_in_background if dataset.expectation_suite else None
    for typed_from_head in (sampled, False)[: 2 if sampled else 1]:
        raw = read_registered(spark, catalog, dataset, uri, mark_misfits=typed_from_head)
        misfit = MISFIT_COLUMN if typed_from_head else None
        columns = [c for c in raw.columns if c != MISFIT_COLUMN]
        counts = suite_counts(load_suite(dataset), columns)
        staged = stage_records(
            *(raw, lake, dataset, source, run_date, run_id, references, steps, counts, misfit),
            on_writing=gx_import,
            conform=lambda table, df: conformed(
                df, table, catalogued_columns(catalog, dataset.database, table)
            ),
        )
        if not staged.profile.misfit_records:
            break
        staged.staging.discard()
        _recrawl(spark, catalog, dataset, uri, staged.profile.misfit_records)
    return staged


@dataclass(frozen=True)
class Staging:
    """The run's staging folders for its curated and quarantined rows."""

    curated: str
    quarantine: str

    @classmethod
    def of(cls, lake: Lake, run_id: str) -> Staging:
        return cls(
            lake.staging_path(lake.curated, run_id),
            lake.staging_path(lake.curated, f"{run_id}-quarantine"),
        )

    def discard(self) -> None:
        discard_staged(self.curated)
        discard_staged(self.quarantine)


@dataclass(frozen=True)
class Staged:
    """What ``stage_records`` staged: its folders, schemas and the records' profile."""

    staging: Staging
    curated_schema: StructType
    quarantine_schema: StructType
    profile: QualityProfile
    unmatched: dict[str, int] = field(default_factory=dict)  # per reference: rows it lacks


@dataclass(frozen=True)
class Loaded:
    """What ``publish_records`` published, and the schemas to register."""

    curated: list[Published]
    quarantine: list[Published]
    curated_schema: StructType
    quarantine_schema: StructType


def stage_records(
    raw: DataFrame,
    lake: Lake,
    dataset: DatasetSpec,
    source: str,
    run_date: date,
    run_id: str,
    references: dict[str, DataFrame],
    steps: list,
    counts=(),
    misfit_column: str | None = None,
    on_writing: Callable[[], object] | None = None,
    conform: Callable[[str, DataFrame], DataFrame] | None = None,
) -> Staged:
    """Stage the raw records of ``source`` (its key + object version, ``Lake.source``):
    curated, or quarantined with their rule; nothing is visible to readers until
    ``publish_records``.

    The records are profiled as they are read (``profile_on_the_way``, with the suite's
    ``counts``), de-duplicated by that same grouping and checked once; the checked frame is
    kept in memory (spilling to disk) between the two writes, so the raw file is parsed once.
    ``on_writing`` is called once the writes are planned, as Spark starts on them;
    ``conform(table, df)`` before that, for curated (what it returns is written) and each
    summary table (checked only: summaries are made from the published partitions).
    """
    exact = dataset.deduplicate == "exact"
    records, measured = profile_on_the_way(raw, counts, misfit_column, distinct=exact)
    checked = check_records(records, dataset, run_date, distinct=exact)
    checked = keep_between_writes(checked)
    staging = Staging.of(lake, run_id)
    unmatched = Observation() if dataset.references else None
    try:
        curated = curate(checked, dataset, run_date, references, steps, unmatched)
        rejected = quarantine_records(checked, dataset, run_date, source, run_id)
        if conform is not None:
            curated = conform(dataset.curated_table, curated)
            for summary in dataset.summaries:
                conform(summary.name, summarise(curated, summary))
        if on_writing is not None:
            on_writing()
        stage_partitioned(curated, PROCESS_PARTITIONS, staging.curated)
        stage_partitioned(rejected, QUARANTINE_PARTITIONS, staging.quarantine)
    except BaseException:
        staging.discard()
        raise
    finally:
        checked.unpersist()
    misses = {t: int(n or 0) for t, n in unmatched.get.items()} if unmatched else {}
    return Staged(staging, curated.schema, rejected.schema, measured(), misses)


# Spark compresses a cached column only after gathering, batch by batch and in Scala hash
# maps, which encoding would suit it: 16% of the CPU of a 2 M-row job (a JFR profile), for a
# cache that lives only between the job's two writes. Uncompressed, the job took 7% less
# CPU (JVM CPU 48.8-50.4 s against 53.1-53.5 s, in-process at 2 M rows, interleaved).
CACHE_COMPRESSION = "spark.sql.inMemoryColumnarStorage.compressed"


def keep_between_writes(df: DataFrame) -> DataFrame:
    """``df`` cached for the curated and quarantine writes (spilling to disk), uncompressed;
    the session's own setting is left as it was."""
    conf = df.sparkSession.conf
    before = conf.get(CACHE_COMPRESSION)
    conf.set(CACHE_COMPRESSION, "false")  # read when the cache is defined, i.e. now
    try:
        return df.persist(StorageLevel.MEMORY_AND_DISK)
    finally:
        conf.set(CACHE_COMPRESSION, before)


def publish_records(
    staged: Staged, lake: Lake, dataset: DatasetSpec, source: str, catalog=None
) -> Loaded:
    """Publish what ``stage_records`` staged; rows of an earlier load of the same ``source``
    (key + version) are replaced, wherever they were. Hold the lake lock (``lake_lock``).
    On S3 each partition is committed by switching it in ``catalog`` (the Glue catalog)."""
    curated_path = lake.curated_table_path(dataset.curated_table)
    quarantine_path = lake.quarantine_table_path(dataset.name)
    curated = publish_staged(
        staged.staging.curated,
        curated_path,
        len(PROCESS_PARTITIONS),
        source,
        table=_pointers(
            catalog, dataset.database, dataset.curated_table, curated_path, staged.curated_schema
        ),
    )
    quarantined = publish_staged(
        staged.staging.quarantine,
        quarantine_path,
        len(QUARANTINE_PARTITIONS),
        source,
        table=_pointers(
            catalog,
            dataset.database,
            dataset.quarantine_table,
            quarantine_path,
            staged.quarantine_schema,
            QUARANTINE_KEYS,
        ),
    )
    return Loaded(curated, quarantined, staged.curated_schema, staged.quarantine_schema)


def load_records(
    raw, lake, dataset, uri, run_date, run_id, references, steps, source_version=""
) -> Loaded:
    """``stage_records`` then ``publish_records``: the load without a quality gate."""
    source = lake.source(uri, source_version)
    staged = stage_records(raw, lake, dataset, source, run_date, run_id, references, steps)
    try:
        with lake_lock(lake.system, run_id):
            return publish_records(staged, lake, dataset, source)
    finally:
        staged.staging.discard()


class _NoCatalog:
    """Registers nothing: a staged copy of a reference table is not a table of the lake."""

    def upsert_table(self, *args, **kwargs) -> dict:
        return {}


def _gate_references(spark, lake, dataset, run_id) -> tuple[dict, str]:
    """The reference tables to join before the gate has passed, and a folder to discard.

    A table the lake has is read from it. One it lacks (the lake's first run) is read from a
    staged copy of the dataset's file instead, so a run the gate stops leaves curated as it
    was; ``ensure_reference_tables`` adds it to the lake once the gate has passed.
    """
    folder = lake.staging_path(lake.curated, f"{run_id}-reference")
    staged = dataclasses.replace(lake, curated=folder)

    def in_lake(reference) -> bool:  # what ensure_reference_tables checks before copying
        location = lake.reference_table_path(reference.table)
        return lake_io.exists(lake_io.join(location, f"{reference.table}.parquet"))

    missing = [r for r in dataset.references if not in_lake(r)]
    if missing:
        claim_staging(folder)  # this process's: a clean-up after a kill knows whose it is
        ensure_reference_tables(staged, _NoCatalog(), dataset)
    tables = {
        r.table: read_reference(spark, staged if r in missing else lake, r)
        for r in dataset.references
    }
    return tables, folder


def _recrawl(spark, catalog, dataset, uri, misfits: int) -> None:
    """Crawl the whole file (types widen to what every record fits, text where values
    disagree) after ``misfits`` records did not fit the types read from its head; say so."""
    before = {
        f.name: f.dataType.simpleString()
        for f in read_registered(spark, catalog, dataset, uri).schema
    }
    data_format = registration(catalog, dataset, uri)["dataFormat"]
    discover_landed(spark, catalog, dataset, uri, data_format, sample_bytes=None)
    after = read_registered(spark, catalog, dataset, uri).schema
    changed = [
        f"{f.name} {before.get(f.name, '(new)')} -> {f.dataType.simpleString()}"
        for f in after.fields
        if before.get(f.name) != f.dataType.simpleString()
    ]
    print(
        f"warning: {misfits:,} records of {uri.rsplit('/', 1)[-1]} did not fit the types the "
        "crawler read from the head of the file; re-crawled all of it: "
        f"{', '.join(changed) or 'no column changed type'}",
        file=sys.stderr,
    )


def _write_summary(spark, lake, catalog, dataset, summary, day, run_id, show_progress):
    """One analytics table for the processing date(s) just published; returns its partitions."""
    columns = catalogued_columns(catalog, dataset.database, summary.name)
    table = conformed(summarise(day, summary), summary.name, columns)
    location = lake.analytics_table_path(summary.name)
    pointers = _pointers(catalog, dataset.database, summary.name, location, table.schema)
    with spark_progress(spark, f"summary {summary.name}", enabled=show_progress):
        written = write_partitioned(
            table,
            location,
            PROCESS_PARTITIONS,
            source=summary.name,
            staging_path=lake.staging_path(lake.analytics, f"{run_id}-{summary.name}"),
            replace_elsewhere=False,
            table=pointers,
        )
    # One catalog database per deployment (infra/glue.yaml): the dataset's.
    _register(catalog, dataset.database, summary.name, table.schema, location, written)
    return written


CURATED_KEYS = [(c, "int") for c in PROCESS_PARTITIONS]
QUARANTINE_KEYS = [*CURATED_KEYS, (QUARANTINE_PARTITIONS[-1], "string")]


def _pointers(catalog, database, table, location, schema=None, keys=None) -> GlueTable | None:
    """On S3, the Glue table whose partitions the publish switches to their new versions
    (the commit: ``etl.storage.publish``); ``None`` for a local lake, where it swaps folders."""
    if not lake_io.is_s3(location):
        return None
    return GlueTable(catalog, database, table, location, schema, keys or CURATED_KEYS)


def _register(catalog, database, table, schema, location, published, keys=None) -> None:
    keys = keys or CURATED_KEYS
    catalog.upsert_table(
        database, table, schema, location, "parquet", partition_keys=keys, keep_columns=True
    )
    if lake_io.is_s3(location):
        return  # the publish switched each partition to its new version itself
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
