"""The Glue job keeps its quality gate's result in the lake, passed or not, for the report."""

from __future__ import annotations

import json
from datetime import date

import pytest

from etl.core.datasets import get_dataset
from etl.core.errors import QualityCheckFailed
from etl.jobs.transform import run_transform_job
from etl.local.profiling import distinct_counts
from etl.stages.landed import discover_landed
from etl.storage import quality_results
from etl.storage.catalog import LocalCatalog
from etl.storage.lake import Lake, land_file

ORDERS = get_dataset("orders")


def test_a_gate_that_stops_the_job_still_keeps_its_result(spark, lake, tmp_path):
    rows = [
        {"id": i, "status": "ACTIVE", "created_date": "2026-11-01 10:00:00", "region_code": "99"}
        for i in range(20)
    ]
    source = tmp_path / "orders.json"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    uri = land_file(str(source), lake)
    catalog = LocalCatalog(lake)
    discover_landed(spark, catalog, ORDERS, uri, "json")
    with pytest.raises(QualityCheckFailed):
        run_transform_job(spark, lake, catalog, ORDERS, uri, date(2026, 11, 26), "jr_test")
    record = quality_results.load(lake, "jr_test")
    assert record["quality"]["passed"] is False
    assert record["quality"]["totalRecords"] == 20
    assert record["validation"]["success"] is False
    failed = [
        r["expectation_config"]["type"] for r in record["validation"]["results"] if not r["success"]
    ]
    assert failed == ["expect_column_values_to_be_in_set"]


def test_a_lake_on_s3_keeps_no_record():
    lake = Lake.s3("s3://raw", "s3://curated", "s3://analytics")
    assert quality_results.keep(lake, "jr_x", {"quality": {}}) is None
    assert quality_results.load(lake, "jr_x") is None


def test_the_report_counts_distinct_values_per_column_of_the_raw_file(tmp_path):
    raw = tmp_path / "orders.json"
    rows = [{"id": 1, "status": "A"}, {"id": 2, "status": "A"}, {"id": 2, "status": "B"}]
    rows += [{"id": None, "status": "B"}, {"status": None}]
    raw.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    counts = distinct_counts(raw, "json", ["id", "status", "not_in_the_file"])
    assert counts == {"id": 2, "status": 2}  # nulls are not values; absent columns left out
    csv = tmp_path / "orders.csv"
    csv.write_text("id,status\n1,A\n2,A\n2,B\n,B\n", encoding="utf-8")
    assert distinct_counts(csv, "csv", ["id", "status"]) == {"id": 2, "status": 2}
