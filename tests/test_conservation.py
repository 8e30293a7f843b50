"""Every raw record ends in exactly one place: curated, dropped as a duplicate, or quarantined
with the rule that rejected it; the run's row counts say so and add up."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from orders_support import order
from pyspark.sql import functions as F

from etl.cli.main import main, render_summary
from etl.core.accounting import RowCounts, RowsUnaccounted
from etl.core.datasets import get_dataset, load_folder
from etl.core.spec import Column, DatasetSpec
from etl.jobs.glue_job import ensure_raw_table
from etl.jobs.transform import load_records, run_transform_job
from etl.local.pipeline import RunResult
from etl.storage.catalog import LocalCatalog

RUN_DATE = date(2026, 11, 26)
ORDERS = get_dataset("orders")


# One record per outcome; enough clean ones that the quality gate lets the file through.
CLEAN = [order(i) for i in range(100, 120)]
RECORDS = [
    *CLEAN,
    CLEAN[0],
    CLEAN[0],  # two exact copies of a record: duplicates
    order(2, status=" ACTIVE"),  # accepted after trimming
    order(3, status="active"),  # accepted after upper-casing
    order(None, name="no id"),
    order(5, status="CANCELLED"),
    order(6, amount="abc"),
    order(7, created_date="01/11/2026"),
    order(8, created_date="2020-01-01 00:00:00"),
    order(9, email="a@x.com", status="UNKNOWN"),
]
EXPECTED_ROWS = {
    "read": 30,
    "written": 22,
    "duplicates": 2,
    "rejected": {
        "accepted_values:status": 2,
        "cast:amount": 1,
        "format:created_date": 1,
        "null_key:id": 1,
        "retention": 1,
    },
}


def write_json_lines(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def query(lake_root: Path, sql: str) -> list[dict]:
    code, out, err = cli("query", "--lake", str(lake_root), "--json", sql)
    assert code == 0, err
    return json.loads(out)


# --- the counts ------------------------------------------------------------------------
def test_row_counts_add_up_when_every_row_read_is_somewhere():
    rows = RowCounts(read=10, written=6, duplicates=1, rejected={"retention": 2, "cast:x": 1})
    assert rows.check() is rows and rows.unaccounted == 0


@pytest.mark.parametrize("written", [5, 7])
def test_row_counts_that_do_not_add_up_fail_loudly(written):
    rows = RowCounts(read=10, written=written, duplicates=1, rejected={"retention": 3})
    with pytest.raises(RowsUnaccounted, match=r"rows do not add up: read 10 != written"):
        rows.check()


def test_the_text_summary_shows_the_rows_identity():
    result = RunResult("run-1", "x.json", "2026-11-26", status="SUCCEEDED", rows=EXPECTED_ROWS)
    line = next(line for line in render_summary(result).splitlines() if line.startswith("rows:"))
    assert line == (
        "rows:     read 30 = written 22 + duplicates 2 + rejected 6 (accepted_values:status 2, "
        "cast:amount 1, format:created_date 1, null_key:id 1, retention 1)"
    )


# --- the load, on Spark ------------------------------------------------------------------
REGIONS_SCHEMA = "region_code string, region_name string"


ORDER_COLUMNS = list(order(0))
RAW_SCHEMA = (  # as discovery registers a file whose amounts include "abc"
    "id bigint, name string, email string, region_code string, status string, "
    "quantity double, price double, amount string, created_date string"
)


def raw_orders(spark, records: list[dict]):
    text = {**{c: False for c in ORDER_COLUMNS}, "amount": True}
    rows = [
        tuple(str(r[c]) if text[c] and r[c] is not None else r[c] for c in ORDER_COLUMNS)
        for r in records
    ]
    return spark.createDataFrame(rows, RAW_SCHEMA)


def load(spark, lake, raw, dataset=ORDERS, run_id="run-1"):
    regions = spark.createDataFrame([("01", "North")], REGIONS_SCHEMA)
    uri = lake.landing_path("orders.json")
    return load_records(raw, lake, dataset, uri, RUN_DATE, run_id, {"regions": regions}, [])


def test_curated_and_quarantine_are_written_from_one_pass_over_the_records(spark, lake):
    reads = spark.sparkContext.accumulator(0)

    def seen(value):
        reads.add(1)
        return value

    probe = F.udf(seen, "bigint").asNondeterministic()
    records = [r for r in RECORDS if r is not CLEAN[0]]  # no duplicates: one read per record
    raw = raw_orders(spark, records).withColumn("id", probe("id"))
    loaded = load(spark, lake, raw)
    assert loaded.curated and loaded.quarantine
    assert reads.value == len(records)


def test_the_load_runs_as_many_spark_jobs_whatever_the_number_of_rules(spark, lake):
    tracker = spark.sparkContext.statusTracker()
    few_rules = DatasetSpec(
        "orders",
        columns=(Column("id", "bigint"),),
        key=("id",),
        references=ORDERS.references,  # the same broadcast join
    )

    def jobs_for(dataset, run_id) -> int:
        spark.sparkContext.setJobGroup(run_id, run_id)
        try:
            load(spark, lake, raw_orders(spark, RECORDS), dataset, run_id)
        finally:
            spark.sparkContext.setJobGroup("", "")
        return len(tracker.getJobIdsForGroup(run_id))

    assert jobs_for(ORDERS, "many-rules") == jobs_for(few_rules, "few-rules")


def test_the_quarantine_keeps_values_as_text_with_rule_source_and_run_but_no_raw_pii(spark, lake):
    load(spark, lake, raw_orders(spark, RECORDS), run_id="run-42")
    quarantine = spark.read.parquet(lake.quarantine_table_path("orders"))
    assert "email" not in quarantine.columns
    by_id = {r.id: r for r in quarantine.collect()}
    cast = by_id["6"]
    assert (cast.rule, cast.amount, cast.source_key, cast.run_id) == (
        "cast:amount",
        "abc",  # the raw value, not a null
        "incoming/orders.json",
        "run-42",
    )
    assert (by_id["9"].rule, by_id["9"].email_masked) == ("accepted_values:status", "***@x.com")
    assert by_id[None].rule == "null_key:id"
    raw_emails = {r["email"] for r in RECORDS}
    assert not raw_emails & {v for r in quarantine.collect() for v in r.asDict().values()}


def test_re_loading_a_source_replaces_its_quarantined_records(spark, lake):
    load(spark, lake, raw_orders(spark, RECORDS), run_id="first")
    load(spark, lake, raw_orders(spark, RECORDS), run_id="second")
    quarantine = spark.read.parquet(lake.quarantine_table_path("orders"))
    assert quarantine.count() == sum(EXPECTED_ROWS["rejected"].values())
    assert {r.run_id for r in quarantine.select("run_id").collect()} == {"second"}


def test_a_step_that_drops_rows_fails_the_run_instead_of_losing_them(spark, lake, tmp_path):
    folder = tmp_path / "orders"
    shutil.copytree(ORDERS.folder, folder)
    (folder / "steps.py").write_text(
        "def drop_small_orders(df):\n    return df.where('amount > 10')\n", encoding="utf-8"
    )
    spec = (folder / "dataset.yaml").read_text(encoding="utf-8")
    (folder / "dataset.yaml").write_text(spec + "\nsteps: [drop_small_orders]\n", "utf-8")
    dataset = load_folder(folder)
    records = [*CLEAN, order(1, amount=50.0)]
    source = write_json_lines(Path(lake.landing_path("orders.json")), records)
    catalog = LocalCatalog(lake)
    ensure_raw_table(spark, catalog, dataset, str(source))
    with pytest.raises(RowsUnaccounted, match="read 21 != written 1 "):
        run_transform_job(spark, lake, catalog, dataset, str(source), RUN_DATE, "run-1")


# --- end to end: etl run ------------------------------------------------------------------
@pytest.fixture(scope="module")
def dirty_run(tmp_path_factory):
    """One `etl run --json` of a file with one record per outcome."""
    folder = tmp_path_factory.mktemp("dirty")
    source = write_json_lines(folder / "dirty_orders.json", RECORDS)
    root = folder / "lake"
    code, out, err = cli(
        "run", str(source), "--lake", str(root), "--run-date", RUN_DATE.isoformat(), "--json"
    )
    assert code == 0, err
    return root, source, json.loads(out)


@pytest.mark.slow
def test_etl_run_reports_where_every_record_went_and_the_counts_add_up(dirty_run):
    _, _, result = dirty_run
    rows = result["rows"]
    assert rows == EXPECTED_ROWS
    assert rows["read"] == rows["written"] + rows["duplicates"] + sum(rows["rejected"].values())


@pytest.mark.slow
def test_the_quarantine_is_queryable_and_matches_the_reported_counts(dirty_run):
    root, _, result = dirty_run
    counted = query(
        root, "SELECT rule, count(*) AS n FROM etl_pipeline.orders_quarantine GROUP BY rule"
    )
    assert {r["rule"]: r["n"] for r in counted} == result["rows"]["rejected"]
    (curated,) = query(root, "SELECT count(*) AS n FROM etl_pipeline.orders")
    assert curated["n"] == result["rows"]["written"]


@pytest.mark.slow
def test_accepted_values_are_matched_and_curated_after_normalising(dirty_run):
    root, _, _ = dirty_run
    statuses = query(root, "SELECT DISTINCT status FROM etl_pipeline.orders WHERE id IN (2, 3)")
    assert statuses == [{"status": "ACTIVE"}]


@pytest.mark.slow
def test_no_raw_email_is_written_to_curated_or_quarantine(dirty_run):
    root, _, _ = dirty_run
    emails = {r["email"] for r in RECORDS}
    for table in ("orders", "orders_quarantine"):
        rows = query(root, f"SELECT * FROM etl_pipeline.{table}")
        assert rows and "email" not in rows[0] and "email_masked" in rows[0]
        assert not emails & {str(v) for row in rows for v in row.values()}, table


@pytest.mark.slow
def test_an_emptied_quarantine_does_not_stop_queries_of_other_tables(dirty_run, tmp_path):
    root, _, result = dirty_run
    lake_root = tmp_path / "lake"
    shutil.copytree(root, lake_root)
    for file in (lake_root / "curated/quarantine").rglob("*.parquet"):
        file.unlink()  # what a re-run that rejects nothing leaves
    (curated,) = query(lake_root, "SELECT count(*) AS n FROM etl_pipeline.orders")
    assert curated["n"] == result["rows"]["written"]
