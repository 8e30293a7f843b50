"""A run reads its file with what its own crawl found, even after another run's crawl of a
file in another format has changed the dataset's (shared) raw table."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from etl.core.datasets import get_dataset
from etl.core.spec import Column, DatasetSpec
from etl.local.samples.orders import generate_orders, write_csv, write_json_lines
from etl.stages.landed import discover_landed, read_registered
from etl.stages.transform import REJECTED_BY, check_records, curate
from etl.storage.catalog import LocalCatalog
from etl.storage.lake import land_file

RUN_DATE = date(2026, 11, 26)


def test_a_crawl_of_another_file_does_not_change_how_this_file_is_read(spark, lake, tmp_path):
    dataset = get_dataset("orders")
    catalog = LocalCatalog(lake)
    records = generate_orders(20, date(2026, 11, 26))
    mine = land_file(str(write_json_lines(records[:10], tmp_path / "a.json")), lake)
    theirs = land_file(str(write_csv(records[10:], tmp_path / "b.csv")), lake)

    discover_landed(spark, catalog, dataset, mine, "json")
    expected = read_registered(spark, catalog, dataset, mine).collect()
    discover_landed(spark, catalog, dataset, theirs, "csv")  # a concurrent run's crawl

    raw = catalog.get_table(dataset.database, dataset.raw_table)
    assert raw["Parameters"]["dataFormat"] == "csv"  # the shared entry is theirs now
    assert read_registered(spark, catalog, dataset, mine).collect() == expected
    assert len(expected) == 10


def test_text_columns_are_read_as_text_whatever_a_crawler_that_knows_no_spec_registered(
    spark, lake, tmp_path
):
    # AWS Glue's crawler types a CSV's region code 01 as the number 1; the spec says text.
    dataset = get_dataset("orders")
    catalog = LocalCatalog(lake)
    csv = tmp_path / "orders.csv"
    csv.write_text("id,region_code,status\n7,01,ACTIVE\n", encoding="utf-8")
    uri = land_file(str(csv), lake)
    as_glue_typed = "id bigint, region_code bigint, status string"
    catalog.upsert_table(
        dataset.database,
        dataset.raw_table,
        spark.createDataFrame([], as_glue_typed).schema,
        location=uri,
        classification="csv",
        parameters={"dataFormat": "csv"},
    )

    row = read_registered(spark, catalog, dataset, uri).first()

    assert (row.id, row.region_code, row.status) == (7, "01", "ACTIVE")


def test_a_declared_decimal_is_read_as_text_and_cast_with_every_digit(spark, lake, tmp_path):
    # Read as a double, as inference types it, 12345678901234567.123456 would lose digits.
    dataset = DatasetSpec(
        name="payments", columns=(Column("ref"), Column("amount", "decimal(38,6)")), key=("ref",)
    )
    catalog = LocalCatalog(lake)
    csv = tmp_path / "payments.csv"
    csv.write_text(
        "ref,amount\nA,12345678901234567.123456\nB,98765432109876543210.5\nC,1e40\n",
        encoding="utf-8",
    )
    uri = land_file(str(csv), lake)
    discover_landed(spark, catalog, dataset, uri, "csv")

    checked = check_records(read_registered(spark, catalog, dataset, uri), dataset, RUN_DATE)

    curated = {r.ref: r.amount for r in curate(checked, dataset, RUN_DATE).collect()}
    assert curated == {
        "A": Decimal("12345678901234567.123456"),
        "B": Decimal("98765432109876543210.500000"),
    }
    rejected = {r.ref: (r.amount, r[REJECTED_BY]) for r in checked.collect() if r[REJECTED_BY]}
    assert rejected == {"C": ("1e40", "cast:amount")}  # past decimal(38,6): quarantined as sent
