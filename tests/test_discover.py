"""Discovery from the head of a big file, and the Glue job coping with what the head hid."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from pyspark.testing import assertDataFrameEqual

from etl.core.datasets import get_dataset
from etl.core.errors import ValidationFailed
from etl.jobs.transform import run_transform_job
from etl.stages.discover import SAMPLE_PARAMETER, discover
from etl.storage.catalog import LocalCatalog
from etl.storage.lake import Lake, land_file

ORDERS = get_dataset("orders")
RUN_DATE_TEXT = "2026-11-01 10:00:00"


def order(i: int, **changes) -> dict:
    record = {
        "id": i,
        "name": f"n{i}",
        "email": f"p{i}@example.com",
        "region_code": "01",
        "status": "ACTIVE",
        "quantity": 2,
        "price": 3.5,
        "amount": 7.0,
        "created_date": RUN_DATE_TEXT,
        "channel": i,
    }
    return {**record, **changes}


def landed(lake: Lake, tmp_path: Path, records: list[dict]) -> str:
    path = tmp_path / "orders.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return land_file(str(path), lake)


def raw_table(lake: Lake) -> dict:
    return LocalCatalog(lake).get_table(ORDERS.database, ORDERS.raw_table)


def column_types(lake: Lake) -> dict[str, str]:
    return {c["Name"]: c["Type"] for c in raw_table(lake)["StorageDescriptor"]["Columns"]}


def test_a_big_file_is_typed_from_its_first_lines_and_the_table_says_so(spark, lake, tmp_path):
    uri = landed(lake, tmp_path, [order(i) for i in range(40)] + [order(99, channel="web")])
    discover(spark, LocalCatalog(lake), ORDERS, uri, "json", sample_bytes=1000)
    assert column_types(lake)["channel"] == "bigint"  # the last record was not read
    assert raw_table(lake)["Parameters"][SAMPLE_PARAMETER] == "1000"


def test_a_file_within_the_sample_size_is_typed_from_all_of_it(spark, lake, tmp_path):
    uri = landed(lake, tmp_path, [order(i) for i in range(3)] + [order(99, channel="web")])
    discover(spark, LocalCatalog(lake), ORDERS, uri, "json", sample_bytes=1 << 20)
    assert column_types(lake)["channel"] == "string"
    assert SAMPLE_PARAMETER not in raw_table(lake)["Parameters"]


def test_a_column_only_null_in_the_sample_is_registered_as_text_and_said(
    spark, lake, tmp_path, capsys
):
    records = [order(i, channel=None) for i in range(40)] + [order(99, channel=5)]
    discover(spark, LocalCatalog(lake), ORDERS, landed(lake, tmp_path, records), "json", 1000)
    assert column_types(lake)["channel"] == "string"
    assert "channel only had nulls in the first 1,000 bytes" in capsys.readouterr().err


def curated(spark, lake: Lake):
    return spark.read.parquet(lake.curated_table_path(ORDERS.curated_table))


@pytest.mark.parametrize("late", [{"channel": "web"}, {"amount": "n/a"}, {"id": 1.5}])
def test_records_the_head_did_not_type_make_the_job_recrawl_and_write_what_a_full_crawl_would(
    spark, tmp_path, capsys, late
):
    from datetime import date

    records = [order(i) for i in range(40)] + [order(100 + i, **late) for i in range(3)]
    runs = {}
    for name, sample_bytes in (("sampled", 1000), ("whole", None)):
        lake = Lake.local(tmp_path / name).ensure()
        uri = landed(lake, tmp_path / name, records)
        discover(spark, LocalCatalog(lake), ORDERS, uri, "json", sample_bytes=sample_bytes)
        capsys.readouterr()
        run_transform_job(
            spark, lake, LocalCatalog(lake), ORDERS, uri, date(2026, 11, 26), f"r-{name}"
        )
        runs[name] = (lake, capsys.readouterr().err)
    (sampled, warning), (whole, quiet) = runs["sampled"], runs["whole"]
    column = next(iter(late))
    assert "3 records of orders.json did not fit the types" in warning
    assert f"{column} " in warning.split("re-crawled all of it:")[1]
    assert "did not fit" not in quiet
    assert column_types(sampled) == column_types(whole)
    assertDataFrameEqual(curated(spark, sampled), curated(spark, whole))


def test_an_unparseable_record_past_the_head_still_fails_the_run(spark, lake, tmp_path):
    from datetime import date

    path = tmp_path / "orders.json"
    lines = [json.dumps(order(i)) for i in range(40)] + ['{"id": 41, "status": ']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    uri = land_file(str(path), lake)
    discover(spark, LocalCatalog(lake), ORDERS, uri, "json", sample_bytes=1000)
    with pytest.raises(ValidationFailed, match="not parseable json"):
        run_transform_job(spark, lake, LocalCatalog(lake), ORDERS, uri, date(2026, 11, 26), "r")
    assert not Path(lake.curated_table_path(ORDERS.curated_table)).exists()


def test_a_gzipped_file_is_typed_from_its_decompressed_head(spark, lake, tmp_path):
    records = [order(i) for i in range(40)] + [order(99, channel="web")]
    path = tmp_path / "orders.json.gz"
    path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode()))
    uri = land_file(str(path), lake)
    discover(spark, LocalCatalog(lake), ORDERS, uri, "json", sample_bytes=200)
    assert column_types(lake)["channel"] == "bigint"  # typed from the head, not the end
    assert raw_table(lake)["Parameters"][SAMPLE_PARAMETER] == "200"


def test_a_record_too_long_past_the_head_is_refused_with_its_line(spark, lake, tmp_path):
    records = [order(i) for i in range(40)]
    uri = landed(lake, tmp_path, [*records, order(99, note="x" * (17 << 20)), order(100)])
    with pytest.raises(ValidationFailed, match=r"line 41 is a 17\.0 MB record"):
        discover(spark, LocalCatalog(lake), ORDERS, uri, "json", sample_bytes=1000)


def test_a_tab_separated_file_under_a_comma_dataset_says_how_it_was_split(spark, lake, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("id\tname\n1\ta\n2\tb\n", encoding="utf-8")
    uri = land_file(str(path), lake)
    with pytest.raises(
        ValidationFailed,
        match=r"has no 'id' column, which dataset 'orders' requires; found 1 columns: .*"
        r"\(split at '\\t', not ',': another dataset's feed\?\)",
    ):
        discover(spark, LocalCatalog(lake), ORDERS, uri, "csv")
