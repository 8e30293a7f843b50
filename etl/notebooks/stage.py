"""One call sets a stage notebook's scene: "land and register this sample for dataset X".

Every stage notebook starts from the same plumbing - a Spark session, the dataset's spec,
a feed file (the dataset's generated sample for the run date, or the file the reader
names), a lake and its catalog, the file landed, validated and registered as discovery
would, and read back with the registered schema. ``prepare`` does all of it and returns a
``Stage``, so the notebook's own cells are the data, the rule and the chart. ``feed`` is the
part before the lake, for the notebooks that must not land anything themselves (01 only
explores the file; 07 lets the workflow do it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from etl.core.conventions import PROCESS_PARTITIONS
from etl.core.datasets import get_dataset
from etl.core.errors import EtlError, ValidationFailed
from etl.core.spec import DatasetSpec, Summary
from etl.jobs.glue_job import (
    describe_outcome,
    ensure_raw_table,
    job_arguments,
    job_catalog,
    job_dataset,
    job_lake,
    local_job_arguments,
)
from etl.jobs.transform import JobOutcome, run_transform_job
from etl.notebooks.session import notebook_sample, notebook_spark, parse_run_date, where_am_i
from etl.stages.landed import discover_landed, read_registered, validate_landed
from etl.stages.reference import ensure_reference_tables, read_references
from etl.storage.catalog import GlueCatalog, LocalCatalog
from etl.storage.lake import Lake, land_file

DEFAULT_SAMPLE_DIR = "../build/notebook-sample"
DEFAULT_SAMPLE_ROWS = 200


@dataclass
class Feed:
    """A dataset's feed file for one run date, and the Spark session to read it with."""

    spark: SparkSession
    spec: DatasetSpec
    run_date: date
    source: str

    def __str__(self) -> str:
        return "\n".join(
            [
                where_am_i(),
                f"dataset {self.spec.name}, run date {self.run_date}",
                f"source {self.source}",
            ]
        )


@dataclass
class Stage(Feed):
    """The feed landed in the lake, registered in its catalog and read back."""

    lake: Lake
    catalog: LocalCatalog | GlueCatalog
    landed: str
    data_format: str
    ddl: str
    raw: DataFrame

    def __str__(self) -> str:
        table = f"{self.spec.database}.{self.spec.raw_table}"
        key, version = self.lake.raw_key(self.landed), self.lake.raw_version(self.landed)
        landed = f"{key} version {version}" if version else key
        return f"{super().__str__()}\nlanded {landed} ({self.data_format}), table {table}"

    def references(self) -> dict[str, DataFrame]:
        """The dataset's reference tables, copied into the lake first if it lacks them."""
        ensure_reference_tables(self.lake, self.catalog, self.spec)
        return read_references(self.spark, self.lake, self.spec)

    def run_job(self) -> JobOutcome:
        """Run the Glue job on the landed file, as the exported cells of notebook 04 do."""
        args = local_job_arguments(
            self.landed, self.lake, self.run_date.isoformat(), self.spec.name
        )
        job_run = job_arguments(args)
        catalog, dataset = job_catalog(job_lake(job_run)), job_dataset(job_run)
        ensure_raw_table(self.spark, catalog, dataset, job_run.source_path)
        outcome = run_transform_job(
            self.spark,
            self.lake,
            catalog,
            dataset,
            job_run.source_path,
            job_run.run_date,
            job_run.run_id,
        )
        print(describe_outcome(job_run, outcome))
        return outcome

    def processed_on_run_date(self, df: DataFrame) -> DataFrame:
        """The rows of a curated or analytics table in this run date's partition."""
        day = (self.run_date.year, self.run_date.month, self.run_date.day)
        condition = F.lit(True)
        for column, value in zip(PROCESS_PARTITIONS, day, strict=True):
            condition = condition & (F.col(column) == value)
        return df.where(condition)

    def summary_rows(self, summary: Summary | str) -> pd.DataFrame:
        """A summary table's rows for this run date, without the partition columns."""
        name = summary if isinstance(summary, str) else summary.name
        table = self.spark.read.parquet(self.lake.analytics_table_path(name))
        rows = self.processed_on_run_date(table).drop(*PROCESS_PARTITIONS)
        return rows.toPandas()


def feed(
    dataset: str,
    run_date: str | date = "",
    source_path: str = "",
    sample_dir: str | Path = DEFAULT_SAMPLE_DIR,
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
    spark: SparkSession | None = None,
) -> Feed:
    """Dataset ``dataset``'s feed for ``run_date``: ``source_path``, or else its generated
    sample (``etl.local.samples``) written under ``sample_dir``."""
    spec = get_dataset(dataset)
    day = run_date if isinstance(run_date, date) else parse_run_date(run_date)
    source = str(Path(source_path).resolve()) if source_path else ""
    if source_path and not Path(source_path).is_file():
        raise EtlError(f"source_path {source_path!r} is not a file")
    if not source:
        source = notebook_sample(spec.name, sample_dir, sample_rows, day)
    return Feed(spark or notebook_spark(), spec, day, source)


def prepare(
    dataset: str,
    lake_root: str | Path | Lake,
    run_date: str | date = "",
    source_path: str = "",
    sample_dir: str | Path = DEFAULT_SAMPLE_DIR,
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
    spark: SparkSession | None = None,
) -> Stage:
    """Land and register the feed of ``dataset`` in the lake at ``lake_root``, read it back.

    What the workflow does before the Glue job: copy the file into the dataset's landing
    folder (``land_file``), validate it as the validation Lambda does, register the raw
    table as the crawler does, then read the file with the registered schema.
    """
    found = feed(dataset, run_date, source_path, sample_dir, sample_rows, spark)
    lake = lake_root if isinstance(lake_root, Lake) else Lake.local(lake_root).ensure()
    catalog = job_catalog(lake)
    landed = land_file(found.source, lake, found.spec.name)
    verdict = validate_landed(landed, found.spec.csv_delimiter)
    if not verdict.isValid:
        raise ValidationFailed(verdict.reason, details=verdict.to_dict())
    ddl = discover_landed(found.spark, catalog, found.spec, landed, verdict.dataFormat)
    raw = read_registered(found.spark, catalog, found.spec, landed)
    return Stage(
        spark=found.spark,
        spec=found.spec,
        run_date=found.run_date,
        source=found.source,
        lake=lake,
        catalog=catalog,
        landed=landed,
        data_format=verdict.dataFormat,
        ddl=ddl,
        raw=raw,
    )
