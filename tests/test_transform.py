"""Each transform rule, on small explicit inputs, compared as whole DataFrames.

The orders rules come from ``datasets/orders/dataset.yaml``; the tests pin what they do.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from pyspark.testing import assertDataFrameEqual

from etl.core.datasets import get_dataset
from etl.stages import transform as T

RUN_DATE = date(2026, 11, 26)
ORDERS = get_dataset("orders")


def test_exact_duplicate_records_are_dropped_but_near_duplicates_kept(spark):
    df = spark.createDataFrame([(1, "a"), (1, "a"), (1, "b")], "id bigint, name string")
    expected = spark.createDataFrame([(1, "a"), (1, "b")], "id bigint, name string")
    assertDataFrameEqual(T.drop_exact_duplicates(df), expected)


def test_rows_without_an_id_are_dropped(spark):
    df = spark.createDataFrame([(1, "a"), (None, "b")], "id int, name string")
    expected = spark.createDataFrame([(1, "a")], "id int, name string")
    assertDataFrameEqual(df.transform(T.drop_null_keys(("id",))), expected)


def test_ids_become_bigint_whatever_type_was_inferred(spark):
    df = spark.createDataFrame([(1,), (2,)], "id int")
    assertDataFrameEqual(
        df.transform(T.cast_columns((ORDERS.column("id"),))),
        spark.createDataFrame([(1,), (2,)], "id bigint"),
    )


def test_names_are_trimmed_and_upper_cased(spark):
    df = spark.createDataFrame(
        [("  alice smith ",), ("Bob",), ("山田 太郎",), (None,)], "name string"
    )
    expected = spark.createDataFrame(
        [("ALICE SMITH",), ("BOB",), ("山田 太郎",), (None,)], "name string"
    )
    assertDataFrameEqual(df.transform(T.normalise_text((ORDERS.column("name"),))), expected)


def test_numbers_given_as_strings_are_cast_to_double(spark):
    df = spark.createDataFrame([("3", "12.50"), ("x", None)], "quantity string, price string")
    expected = spark.createDataFrame([(3.0, 12.5), (None, None)], "quantity double, price double")
    numbers = (ORDERS.column("quantity"), ORDERS.column("price"))
    assertDataFrameEqual(df.transform(T.cast_columns(numbers)), expected)


def test_created_date_is_parsed_with_the_declared_format(spark):
    df = spark.createDataFrame([("2026-01-02 03:04:05",), ("02/01/2026",)], "created_date string")
    expected = spark.createDataFrame(
        [(datetime(2026, 1, 2, 3, 4, 5),), (None,)], "created_date timestamp"
    )
    result = df.transform(T.cast_columns((ORDERS.column("created_date"),)))
    assertDataFrameEqual(result, expected)


def test_total_amount_is_quantity_times_price(spark):
    df = spark.createDataFrame([(2.0, 10.5), (None, 1.0)], "quantity double, price double")
    expected = spark.createDataFrame(
        [(2.0, 10.5, 21.0), (None, 1.0, None)], "quantity double, price double, total_amount double"
    )
    total = {"total_amount": ORDERS.derived["total_amount"]}
    assertDataFrameEqual(df.transform(T.derive_columns(total)), expected)


def test_amount_category_uses_the_seed_bounds(spark):
    df = spark.createDataFrame(
        [(999.99,), (1000.0,), (9999.0,), (10000.0,), (None,)], "amount double"
    )
    expected = spark.createDataFrame(
        [
            (999.99, "Small"),
            (1000.0, "Medium"),
            (9999.0, "Medium"),
            (10000.0, "Large"),
            (None, None),
        ],
        "amount double, amount_category string",
    )
    rule = T.derive_columns({"amount_category": ORDERS.derived["amount_category"]})
    assertDataFrameEqual(df.transform(rule), expected)


def test_region_name_comes_from_the_regions_table_and_unknown_codes_get_null(spark):
    regions = spark.createDataFrame(
        [("01", "North"), ("02", "South")], "region_code string, region_name string"
    )
    df = spark.createDataFrame([(1, "01"), (2, "02"), (3, "99")], "id bigint, region_code string")
    expected = spark.createDataFrame(
        [(1, "01", "North"), (2, "02", "South"), (3, "99", None)],
        "id bigint, region_code string, region_name string",
    )
    (reference,) = ORDERS.references
    assertDataFrameEqual(df.transform(T.join_reference(regions, reference)), expected)


def test_only_active_and_pending_orders_are_kept(spark):
    df = spark.createDataFrame(
        [("ACTIVE",), ("PENDING",), ("active",), ("CANCELLED",), (None,)], "status string"
    )
    expected = spark.createDataFrame([("ACTIVE",), ("PENDING",)], "status string")
    assertDataFrameEqual(df.transform(T.keep_accepted_values(ORDERS.column("status"))), expected)


def test_rows_older_than_365_days_before_the_run_date_are_dropped(spark):
    rows = [
        (datetime(2025, 11, 26, 0, 0, 0),),  # exactly 365 days before: kept
        (datetime(2025, 11, 25, 23, 59, 59),),  # older: dropped
        (datetime(2026, 11, 26, 23, 59, 59),),  # the run date itself: kept
        (datetime(2026, 11, 27, 0, 0, 0),),  # after the run date: dropped
        (None,),
    ]
    df = spark.createDataFrame(rows, "created_date timestamp")
    expected = spark.createDataFrame([rows[0], rows[2]], "created_date timestamp")
    assertDataFrameEqual(df.transform(T.keep_recent("created_date", RUN_DATE, 365)), expected)


def test_email_is_masked_and_the_raw_email_is_not_kept(spark):
    df = spark.createDataFrame(
        [(1, "alice@example.com"), (2, "b@x.jp"), (3, None)], "id bigint, email string"
    )
    expected = spark.createDataFrame(
        [(1, "al***@example.com"), (2, "b@x.jp"), (3, None)], "id bigint, email_masked string"
    )
    result = df.transform(T.apply_pii(ORDERS.pii))
    assertDataFrameEqual(result, expected)


def test_a_feed_without_emails_gets_a_null_masked_column(spark):
    df = spark.createDataFrame([(1,)], "id bigint")
    result = df.transform(T.apply_pii(ORDERS.pii))
    assertDataFrameEqual(
        result, spark.createDataFrame([(1, None)], "id bigint, email_masked string")
    )


def test_partition_columns_come_from_the_run_date_and_the_data(spark):
    df = spark.createDataFrame([(datetime(2026, 3, 15, 10, 0, 0),)], "created_date timestamp")
    expected = spark.createDataFrame(
        [(datetime(2026, 3, 15, 10, 0, 0), 2026, 3, 2026, 11, 26)],
        "created_date timestamp, data_year int, data_month int, "
        "process_year int, process_month int, process_day int",
    )
    assertDataFrameEqual(df.transform(T.add_partition_columns(RUN_DATE, "created_date")), expected)


def test_a_missing_required_column_names_the_column(spark):
    df = spark.createDataFrame([(1,)], "id bigint")
    with pytest.raises(ValueError, match="'status' is required"):
        df.transform(T.keep_accepted_values(ORDERS.column("status")))


def test_the_orders_spec_applies_every_rule_in_order(spark):
    alice = (
        1,
        " alice ",
        "alice@example.com",
        "01",
        "ACTIVE",
        "2",
        10.0,
        500.0,
        "2026-11-01 10:00:00",
    )
    raw = spark.createDataFrame(
        [
            alice,
            alice,  # an exact duplicate record
            (None, "bob", "bob@example.com", "02", "ACTIVE", "1", 5.0, 5.0, "2026-11-01 10:00:00"),
            (3, "carol", None, "99", "PENDING", "3", 2.5, 20000.0, "2026-06-01 00:00:00"),
            (
                4,
                "dave",
                "dave@example.com",
                "02",
                "CANCELLED",
                "1",
                1.0,
                1.0,
                "2026-11-01 10:00:00",
            ),
            (5, "erin", "erin@example.com", "03", "ACTIVE", "1", 1.0, 1.0, "2024-01-01 00:00:00"),
        ],
        "id bigint, name string, email string, region_code string, status string, quantity string, "
        "price double, amount double, created_date string",
    )
    regions = spark.createDataFrame(
        [("01", "North"), ("02", "South")], "region_code string, region_name string"
    )
    expected = spark.createDataFrame(
        [
            (
                1,
                "ALICE",
                "al***@example.com",
                "01",
                "North",
                "ACTIVE",
                2.0,
                10.0,
                500.0,
                20.0,
                "Small",
                datetime(2026, 11, 1, 10),
                2026,
                11,
                2026,
                11,
                26,
            ),
            (
                3,
                "CAROL",
                None,
                "99",
                None,
                "PENDING",
                3.0,
                2.5,
                20000.0,
                7.5,
                "Large",
                datetime(2026, 6, 1),
                2026,
                6,
                2026,
                11,
                26,
            ),
        ],
        "id bigint, name string, email_masked string, region_code string, region_name string, "
        "status string, quantity double, price double, amount double, total_amount double, "
        "amount_category string, created_date timestamp, data_year int, data_month int, "
        "process_year int, process_month int, process_day int",
    )
    result = T.transform_dataset(raw, ORDERS, RUN_DATE, {"regions": regions})
    assertDataFrameEqual(result, expected)
    assert result.columns == expected.columns
