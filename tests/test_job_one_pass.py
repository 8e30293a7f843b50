"""The Glue job's one pass: the transform's rows, nothing written past a failed gate, and a
number of Spark jobs that grows with neither the columns nor the expectations."""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from pyspark.testing import assertDataFrameEqual

from etl.core.datasets import get_dataset
from etl.core.errors import QualityCheckFailed
from etl.jobs.transform import run_transform_job, stage_records
from etl.stages.discover import discover
from etl.stages.extract import read_raw
from etl.stages.reference import ensure_reference_tables, read_references
from etl.stages.transform import dataset_steps, transform_dataset
from etl.storage.catalog import LocalCatalog
from etl.storage.lake import Lake, land_file

ORDERS = get_dataset("orders")
RUN_DATE = date(2026, 11, 26)


def run_job(spark, lake: Lake, file: Path, dataset=ORDERS, run_id: str = "r1"):
    uri = land_file(str(file), lake)
    catalog = LocalCatalog(lake)
    discover(spark, catalog, dataset, uri, "json")
    return uri, run_transform_job(spark, lake, catalog, dataset, uri, RUN_DATE, run_id)


def test_the_job_writes_the_rows_the_transform_gives_for_the_raw_file(spark, sample_dir, lake):
    uri, _ = run_job(spark, lake, sample_dir / "orders.json")
    catalog = LocalCatalog(lake)
    raw = read_raw(spark, uri, "json", catalog.read_schema_ddl("etl_pipeline", "raw_orders"))
    ensure_reference_tables(lake, catalog, ORDERS)
    expected = transform_dataset(
        raw, ORDERS, RUN_DATE, read_references(spark, lake, ORDERS), dataset_steps(ORDERS)
    )
    written = spark.read.parquet(lake.curated_table_path("orders"))
    assert raw.count() > raw.dropDuplicates().count()  # the sample repeats records
    assertDataFrameEqual(written.select(*expected.columns), expected)


def test_a_run_the_gate_stops_leaves_a_new_lakes_curated_zone_empty(spark, tmp_path):
    rows = [{"id": None, "status": "ACTIVE", "created_date": None, "region_code": "01"}] * 8
    rows += [{"id": 1, "status": "ACTIVE", "created_date": "2026-11-01 00:00:00"}]
    file = tmp_path / "low_quality.json"
    file.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    lake = Lake.local(tmp_path / "lake").ensure()
    with pytest.raises(QualityCheckFailed, match="below the threshold"):
        run_job(spark, lake, file)
    assert [p for p in Path(lake.curated).rglob("*") if p.is_file()] == []
    with pytest.raises(KeyError):  # the reference table is only registered past the gate
        LocalCatalog(lake).get_table("etl_pipeline", "regions")


def wide_copy(records_file: Path, out: Path, extra_columns: int) -> Path:
    lines = records_file.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    for number, record in enumerate(records):
        record.update({f"extra_{i}": f"v{(number + i) % 7}" for i in range(extra_columns)})
    out.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return out


def with_suite(tmp_path: Path, expectations: list[dict]):
    folder = tmp_path / "orders"
    shutil.copytree(Path(str(ORDERS.folder)), folder)
    (folder / "big_suite.json").write_text(
        json.dumps({"name": "big", "expectations": expectations}), encoding="utf-8"
    )
    return dataclasses.replace(ORDERS, folder=folder, expectation_suite="big_suite.json")


def test_the_jobs_spark_jobs_grow_with_neither_columns_nor_expectations(
    spark, sample_dir, tmp_path
):
    narrow = sample_dir / "orders.json"
    wide = wide_copy(narrow, tmp_path / "orders_wide.json", extra_columns=20)
    suite = json.loads(Path(str(ORDERS.folder), ORDERS.expectation_suite).read_text())
    more = suite["expectations"] + [
        {"type": kind, "kwargs": {"column": f"extra_{i}", **extra}}
        for i in range(20)
        for kind, extra in [
            ("expect_column_values_to_not_be_null", {"mostly": 0.5}),
            ("expect_column_values_to_be_in_set", {"value_set": [f"v{n}" for n in range(7)]}),
            ("expect_column_values_to_match_regex", {"regex": "^v\\d$"}),
        ]
    ]

    def jobs(file: Path, dataset, name: str) -> int:
        group = f"job-{name}"
        spark.sparkContext.setJobGroup(group, group)
        try:
            run_job(spark, Lake.local(tmp_path / name).ensure(), file, dataset, run_id=name)
        finally:
            spark.sparkContext.setJobGroup("", "")
        return len(spark.sparkContext.statusTracker().getJobIdsForGroup(group))

    assert jobs(narrow, ORDERS, "narrow") == jobs(wide, with_suite(tmp_path, more), "wide")


def test_the_frame_kept_between_the_writes_is_cached_uncompressed_the_session_unchanged(spark):
    from etl.jobs.transform import CACHE_COMPRESSION, keep_between_writes

    setting = spark.conf.get(CACHE_COMPRESSION)
    kept = keep_between_writes(spark.range(100).withColumnRenamed("id", "order_id"))
    try:
        cached = spark._jsparkSession.sharedState().cacheManager().lookupCachedData(kept._jdf)
        assert cached.isDefined()
        builder = cached.get().cachedRepresentation().cacheBuilder()
        assert not builder.cachedPlan().conf().useCompression()  # what the cache is built with
        assert kept.count() == 100
    finally:
        kept.unpersist()
    assert spark.conf.get(CACHE_COMPRESSION) == setting


def test_on_writing_is_called_once_the_writes_are_planned_before_any_spark_job(
    spark, sample_dir, tmp_path
):
    # What the Glue job hands it (great-expectations' import) then overlaps Spark's work.
    raw = read_raw(spark, str(sample_dir / "orders.json"), "json")
    lake = Lake.local(tmp_path / "lake").ensure()
    ensure_reference_tables(lake, LocalCatalog(lake), ORDERS)
    references = read_references(spark, lake, ORDERS)
    context, tracker = spark.sparkContext, spark.sparkContext.statusTracker()
    context.setJobGroup("on-writing", "stage_records")
    jobs_before_call = []
    try:
        staged = stage_records(
            *(raw, lake, ORDERS, "orders.json", RUN_DATE, "r1", references, dataset_steps(ORDERS)),
            on_writing=lambda: jobs_before_call.append(tracker.getJobIdsForGroup("on-writing")),
        )
    finally:
        context.setLocalProperty("spark.jobGroup.id", None)
    staged.staging.discard()
    assert jobs_before_call == [[]]
    assert tracker.getJobIdsForGroup("on-writing")  # the writes ran after it
