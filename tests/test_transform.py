"""Each transform rule, on small explicit inputs, compared as whole DataFrames.

The orders rules come from ``datasets/orders/dataset.yaml``; the tests pin what they do.
A record a rule rejects is not dropped: it is marked with the rule (``_rejected_by``) and
kept in the quarantine (``tests/test_conservation.py`` follows it there).
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from pyspark.testing import assertDataFrameEqual

from etl.core.datasets import get_dataset
from etl.core.spec import Column, DatasetSpec
from etl.stages import transform as T

RUN_DATE = date(2026, 11, 26)
ORDERS = get_dataset("orders")


def rules_of(df, dataset=ORDERS):
    """The input's rows with the rule each breaks (null: none), as ``check_records`` marks."""
    return df.transform(T.mark_rejections(dataset, RUN_DATE))


def test_exact_duplicate_records_are_dropped_but_near_duplicates_kept(spark):
    df = spark.createDataFrame([(1, "a"), (1, "a"), (1, "b")], "id bigint, name string")
    expected = spark.createDataFrame(
        [(1, "a", None), (1, "b", None)], "id bigint, name string, _rejected_by string"
    )
    assertDataFrameEqual(T.check_records(df, DatasetSpec("t"), RUN_DATE), expected)


def test_rows_without_an_id_are_marked_null_key(spark):
    spec = DatasetSpec("t", key=("id",))
    df = spark.createDataFrame([(1, "a"), (None, "b")], "id int, name string")
    expected = spark.createDataFrame(
        [(1, "a", None), (None, "b", "null_key:id")], "id int, name string, _rejected_by string"
    )
    assertDataFrameEqual(rules_of(df, spec), expected)


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


def test_only_active_and_pending_orders_pass_after_trimming_and_upper_casing(spark):
    status = ORDERS.column("status")
    spec = DatasetSpec("t", columns=(status,))
    values = ["ACTIVE", "PENDING", "active", " ACTIVE", "Pending ", "CANCELLED", None]
    df = spark.createDataFrame([(v,) for v in values], "status string")
    rejected = "accepted_values:status"
    expected = spark.createDataFrame(
        [(v, None) for v in values[:5]] + [("CANCELLED", rejected), (None, rejected)],
        "status string, _rejected_by string",
    )
    assertDataFrameEqual(rules_of(df, spec), expected)


def test_curated_statuses_are_the_normalised_values(spark):
    df = spark.createDataFrame([(" active",)], "status string")
    spec = DatasetSpec("t", columns=(ORDERS.column("status"),))
    curated = T.curate(T.check_records(df, spec, RUN_DATE), spec, RUN_DATE)
    assert [r.status for r in curated.select("status").collect()] == ["ACTIVE"]


def test_rows_older_than_365_days_before_the_run_date_are_marked_retention(spark):
    rows = [
        (datetime(2025, 11, 26, 0, 0, 0), None),  # exactly 365 days before: kept
        (datetime(2025, 11, 25, 23, 59, 59), "retention"),  # older
        (datetime(2026, 11, 26, 23, 59, 59), None),  # the run date itself: kept
        (datetime(2026, 11, 27, 0, 0, 0), "retention"),  # after the run date
        (None, "retention"),  # no time: it cannot be shown to be within the window
    ]
    spec = DatasetSpec(
        "t",
        columns=(Column("created_date", "timestamp"),),
        time_column="created_date",
        retention_days=365,
    )
    df = spark.createDataFrame([(t,) for t, _ in rows], "created_date timestamp")
    expected = spark.createDataFrame(rows, "created_date timestamp, _rejected_by string")
    assertDataFrameEqual(rules_of(df, spec), expected)


def test_a_value_that_does_not_cast_is_a_rejection_never_a_silent_null(spark):
    spec = DatasetSpec("t", null_markers=("NA",), columns=(Column("amount", "double"),))
    df = spark.createDataFrame(
        [("12.5",), ("abc",), ("",), ("NA",), (None,), (" 3 ",)], "amount string"
    )
    expected = spark.createDataFrame(
        [
            ("12.5", None),
            ("abc", "cast:amount"),
            ("", "cast:amount"),
            ("NA", None),  # a null marker: a null, as a missing value is
            (None, None),
            (" 3 ", None),
        ],
        "amount string, _rejected_by string",
    )
    assertDataFrameEqual(rules_of(df, spec), expected)


def test_a_feed_column_named_like_the_checks_own_columns_is_kept_as_it_was(spark):
    # The rules compute each converted value once, in a column of their own: its name must
    # not take the place of one the feed has.
    spec = DatasetSpec("t", columns=(Column("amount", "double"),))
    df = spark.createDataFrame([("1.5", "x"), ("abc", "y")], "amount string, _converted_0 string")
    expected = spark.createDataFrame(
        [("1.5", "x", None), ("abc", "y", "cast:amount")],
        "amount string, _converted_0 string, _rejected_by string",
    )
    assertDataFrameEqual(rules_of(df, spec), expected)


def test_an_integer_column_rejects_values_with_a_fraction_instead_of_truncating_them(spark):
    spec = DatasetSpec("t", columns=(Column("id", "bigint"),))
    df = spark.createDataFrame([("1.0",), ("1.5",), ("7",), ("7.25",)], "id string")
    rules = [r._rejected_by for r in rules_of(df, spec).orderBy("id").collect()]
    assert rules == [None, "cast:id", None, "cast:id"]


def test_a_date_that_does_not_parse_with_its_format_is_a_rejection(spark):
    spec = DatasetSpec("t", columns=(ORDERS.column("created_date"),))
    values = ["2026-11-01 10:00:00", "2026-1-2 3:4:5", "02/11/2026", "2026-02-30 00:00:00", None]
    df = spark.createDataFrame([(v,) for v in values], "created_date string")
    rules = {r.created_date: r._rejected_by for r in rules_of(df, spec).collect()}
    assert rules == {
        "2026-11-01 10:00:00": None,
        "2026-1-2 3:4:5": "format:created_date",
        "02/11/2026": "format:created_date",
        "2026-02-30 00:00:00": "format:created_date",
        None: None,
    }


def test_each_record_is_marked_with_the_first_rule_it_breaks(spark):
    raw = spark.createDataFrame(
        [(None, "CANCELLED", "x", "2001-01-01 00:00:00"), (2, "CANCELLED", "x", "bad")],
        "id bigint, status string, amount string, created_date string",
    )
    checked = T.check_records(raw, ORDERS, RUN_DATE)  # adds the declared columns raw lacks
    rules = [r._rejected_by for r in checked.orderBy("id").collect()]
    assert rules == ["null_key:id", "accepted_values:status"]


def test_with_deduplicate_key_one_record_per_key_is_kept_and_the_others_quarantined(spark):
    spec = DatasetSpec(
        "t",
        columns=(Column("id", "bigint"), Column("at", "timestamp")),
        key=("id",),
        deduplicate="key",
        time_column="at",
    )
    rows = [
        (1, "2026-01-01 00:00:00", "old"),
        (1, "2026-02-01 00:00:00", "new"),  # the newest record of key 1 is kept
        (1, "2026-02-01 00:00:00", "new"),  # an exact copy: dropped as a duplicate
        (1, "not a time", "bad"),  # breaks a rule: quarantined under that rule
        (None, "2026-01-01 00:00:00", "no key"),
        (None, "2026-01-01 00:00:00", "no key"),  # exact copy of a keyless record
    ]
    df = spark.createDataFrame(rows, "id bigint, at string, note string")
    checked = T.check_records(df, spec, RUN_DATE)
    assert sorted((r.note, r._rejected_by or "") for r in checked.collect()) == [
        ("bad", "cast:at"),
        ("new", ""),
        ("no key", "null_key:id"),
        ("old", "duplicate_key"),
    ]


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("alice@example.com", "a***@example.com"),
        ("ab@x.com", "a***@x.com"),
        ("a@x.com", "***@x.com"),
        ("@x.com", "***@x.com"),
        ("山田@例え.jp", "山***@例え.jp"),
        ('"a@b"@x.com', '"***@x.com'),  # the local part is what comes before the last @
        ("not an address", "***"),
        ("", "***"),
        (None, None),
    ],
)
def test_the_mask_never_shows_a_whole_local_part(spark, email, masked):
    df = spark.createDataFrame([(1, email)], "id bigint, email string")
    result = df.transform(T.apply_pii(ORDERS.pii))
    assert result.columns == ["id", "email_masked"]
    assert result.first().email_masked == masked


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
    spec = DatasetSpec("t", columns=(ORDERS.column("status"),))
    with pytest.raises(ValueError, match="'status' is required"):
        rules_of(df, spec)


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
                "a***@example.com",
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
