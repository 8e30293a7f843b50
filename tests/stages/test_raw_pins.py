"""A run reads its file with what its own crawl found, even after another run's crawl of a
file in another format has changed the dataset's (shared) raw table."""

from __future__ import annotations

from datetime import date

from etl.core.datasets import get_dataset
from etl.local.samples.orders import generate_orders, write_csv, write_json_lines
from etl.stages.landed import discover_landed, read_registered
from etl.storage.catalog import LocalCatalog
from etl.storage.lake import land_file


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
