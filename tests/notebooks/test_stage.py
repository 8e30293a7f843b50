"""``etl.notebooks.stage``: one call lands and registers a dataset's feed for a notebook;
``etl.notebooks.charts``: which columns of a summary make a readable chart."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from etl.core.datasets import SpecError
from etl.core.errors import EtlError, ValidationFailed
from etl.core.spec import Summary
from etl.notebooks.charts import MAX_BARS, chart_plan, chart_table, is_additive
from etl.notebooks.stage import feed, prepare
from etl.storage.lake import Lake

RUN_DATE = date(2026, 1, 31)


def test_prepare_lands_registers_and_reads_the_orders_sample(spark, tmp_path):
    stage = prepare("orders", tmp_path / "lake", "2026-01-31", "", tmp_path / "s", 40, spark)
    assert stage.run_date == RUN_DATE
    assert Path(stage.source).name == "orders_20260131.json"
    assert stage.lake.raw_key(stage.landed) == "incoming/orders_20260131.json"  # a version of it
    assert stage.data_format == "json"
    table = stage.catalog.get_table("etl_pipeline", "raw_orders")
    assert table["StorageDescriptor"]["Location"] == stage.landed
    assert stage.ddl == stage.catalog.read_schema_ddl("etl_pipeline", "raw_orders")
    assert dict(stage.raw.dtypes)["region_code"] == "string"  # pinned by the spec
    lines = Path(stage.source).read_text(encoding="utf-8").splitlines()
    assert stage.raw.count() == len(lines)
    again = prepare("orders", tmp_path / "lake", RUN_DATE, "", tmp_path / "s", 40, spark)
    assert again.source == stage.source  # the day's sample is reused: raw stays immutable
    assert "dataset orders, run date 2026-01-31" in str(stage)


def test_prepare_takes_any_dataset_and_its_feed_file(spark, tmp_path, readings):
    stage = prepare("readings", tmp_path / "lake", RUN_DATE, str(readings.feed), spark=spark)
    assert stage.spec.name == "readings"
    assert stage.lake.raw_key(stage.landed) == "incoming/readings/readings_20260131.csv"
    assert stage.data_format == "csv"
    types = dict(stage.raw.dtypes)
    assert types["station"] == "string"  # "001" keeps its zeros
    assert types["temperature"] == "double"  # NA is null, not text
    assert stage.raw.count() == readings.rows
    stations = stage.references()["stations"]
    assert stations.count() == 3
    assert stage.catalog.get_table("etl_pipeline", "stations")


@pytest.mark.slow
def test_run_job_and_summary_rows_cover_the_dataset_summaries(spark, tmp_path, readings):
    stage = prepare("readings", tmp_path / "lake", RUN_DATE, str(readings.feed), spark=spark)
    outcome = stage.run_job()
    assert outcome.records_written == readings.expected_curated
    curated = spark.read.parquet(stage.lake.curated_table_path("readings"))
    assert stage.processed_on_run_date(curated).count() == readings.expected_curated
    rows = stage.summary_rows("station_status")
    assert list(rows.columns) == ["station_name", "status", "readings", "mean_temperature"]
    assert rows["readings"].sum() == readings.expected_curated
    assert "UNKNOWN" in set(rows["station_name"])  # station 099 is not in the reference table


def test_prepare_accepts_a_lake(spark, tmp_path, readings):
    lake = Lake.local(tmp_path / "elsewhere").ensure()
    stage = prepare("readings", lake, RUN_DATE, str(readings.feed), spark=spark)
    assert stage.lake == lake
    assert stage.landed.startswith(lake.raw)


def test_a_dataset_without_generator_needs_a_source_path(spark, tmp_path, readings):
    with pytest.raises(EtlError, match="set the notebook's source_path parameter"):
        feed("readings", RUN_DATE, "", tmp_path / "s", 10, spark)


def test_an_unknown_dataset_is_named_with_the_known_ones(spark, tmp_path):
    with pytest.raises(SpecError, match=r"unknown dataset 'nope'; known datasets: .*orders"):
        feed("nope", RUN_DATE, spark=spark)


def test_a_missing_source_file_is_explained(spark, tmp_path):
    with pytest.raises(EtlError, match="is not a file"):
        feed("orders", RUN_DATE, str(tmp_path / "absent.json"), spark=spark)


def test_a_file_validation_refuses_is_not_registered(spark, tmp_path):
    empty = tmp_path / "orders_empty.json"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ValidationFailed) as failure:
        prepare("orders", tmp_path / "lake", RUN_DATE, str(empty), spark=spark)
    assert failure.value.details["isValid"] is False
    catalog_files = list((tmp_path / "lake" / "_system").rglob("*.json"))
    assert not any("raw_orders" in p.read_text() for p in catalog_files)


@pytest.mark.parametrize(
    ("expression", "additive"),
    [
        ("count(1)", True),
        ("SUM(total_amount)", True),
        ("sum(quantity * price)", True),
        ("avg(total_amount)", False),
        ("count(DISTINCT id)", False),
        ("sum(a) / count(1)", False),
        ("max(price)", False),
    ],
)
def test_only_sums_and_counts_add_up_over_hidden_columns(expression, additive):
    assert is_additive(expression) is additive


def _summary(*group_by: str) -> Summary:
    return Summary("s", group_by, {"orders": "count(1)", "sales": "sum(x)", "mean_sales": "avg(x)"})


def test_the_chart_runs_along_few_values_and_stacks_by_the_next_column():
    rows = pd.DataFrame(
        {
            "day": [f"2026-01-{d:02d}" for d in range(1, 31)] * 2,  # too many bars
            "region": ["North", "South"] * 30,
            "category": ["Small"] * 30 + ["Large"] * 30,
            "orders": [1] * 60,
            "sales": [2.0] * 60,
            "mean_sales": [2.0] * 60,
        }
    )
    plan = chart_plan(rows, _summary("day", "region", "category"))
    assert (plan.x, plan.stack, plan.measures, plan.how) == (
        "region",
        "category",
        ("orders", "sales"),
        "sum",
    )
    table = chart_table(rows, plan, "sales")
    assert list(table.index) == ["North", "South"]
    assert table.to_numpy().sum() == pytest.approx(rows["sales"].sum())


def test_too_many_values_are_cut_to_the_largest_and_averages_are_averaged():
    rows = pd.DataFrame(
        {"airport": [f"A{i:02d}" for i in range(40)], "mean_delay": [float(i) for i in range(40)]}
    )
    summary = Summary("delays", ("airport",), {"mean_delay": "avg(delay)"})
    plan = chart_plan(rows, summary)
    assert (plan.x, plan.stack, plan.how, plan.top) == ("airport", None, "mean", MAX_BARS)
    table = chart_table(rows, plan, "mean_delay")
    assert len(table) == MAX_BARS
    assert table["mean_delay"].min() == 40 - MAX_BARS
    assert "top 25" in plan.title("mean_delay")


def test_the_readings_spec_is_a_valid_dataset(readings):
    from etl.core.datasets import get_dataset

    spec = get_dataset("readings")
    assert spec.key == ("station", "sensor.id", "year", "month", "day", "hour")
    suite = json.loads(
        (readings.datasets_dir / "readings/expectations/readings_raw.json").read_text()
    )
    assert suite["name"] == "readings_raw"
