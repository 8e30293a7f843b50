"""The generic rules a dataset spec can declare, beyond what orders uses."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import date, datetime

import pytest
from pyspark.sql import Observation
from pyspark.testing import assertDataFrameEqual

from etl.core.conventions import PROCESS_PARTITIONS
from etl.core.errors import EtlError
from etl.core.spec import Column, ComposedTimestamp, DatasetSpec, Pii, Reference, Summary
from etl.stages import transform as T
from etl.stages.summarise import summarise


def test_null_markers_become_nulls_in_text_columns(spark):
    df = spark.createDataFrame([("NA", "x"), ("3", "N/A"), ("NAB", None)], "a string, b string")
    expected = spark.createDataFrame(
        [(None, "x"), ("3", None), ("NAB", None)], "a string, b string"
    )
    assertDataFrameEqual(df.transform(T.nulls_for_markers(["NA", "N/A"], ["a", "b"])), expected)


def test_declared_columns_a_file_lacks_are_added_as_typed_nulls(spark):
    df = spark.createDataFrame([(1,)], "id bigint")
    columns = (Column("id", "bigint"), Column("amount", "double"), Column("note"))
    expected = spark.createDataFrame([(1, None, None)], "id bigint, amount double, note string")
    assertDataFrameEqual(df.transform(T.add_missing_columns(columns)), expected)


def rejections(df, dataset: DatasetSpec) -> list:
    marked = df.transform(T.mark_rejections(dataset, date(2026, 11, 26)))
    return [row[T.REJECTED_BY] for row in marked.collect()]


def test_a_composite_key_rejects_rows_with_any_null_part(spark):
    df = spark.createDataFrame([(1, "a"), (None, "b"), (3, None)], "k1 int, k2 string")
    spec = DatasetSpec(name="d", columns=(Column("k1", "int"), Column("k2")), key=("k1", "k2"))
    assert rejections(df, spec) == [None, "null_key:k1", "null_key:k2"]


def test_key_deduplication_keeps_one_row_per_key(spark):
    df = spark.createDataFrame([(1, "a", 10), (1, "a", 20), (2, "a", 5)], "k int, s string, v int")
    spec = DatasetSpec(
        name="d", columns=(Column("k", "int"), Column("s")), key=("k", "s"), deduplicate="key"
    )
    checked = T.check_records(df, spec, date(2026, 11, 26)).collect()
    kept = sorted((r.k, r.s) for r in checked if r[T.REJECTED_BY] is None)
    assert kept == [(1, "a"), (2, "a")]
    assert [r[T.REJECTED_BY] for r in checked if r[T.REJECTED_BY]] == [T.DUPLICATE_KEY]


def test_accepted_values_compare_the_normalised_value(spark):
    column = Column("status", trim=True, case="upper", accepted_values=("ACTIVE",))
    df = spark.createDataFrame([(" active ",), ("ACTIVE",), ("closed",)], "status string")
    assert rejections(df, DatasetSpec(name="d", columns=(column,))) == [
        None,
        None,
        "accepted_values:status",
    ]


def test_a_timestamp_is_composed_from_year_month_day_hour_columns(spark):
    stamp = ComposedTimestamp(
        "departure", {"year": "year", "month": "month", "day": "day", "hour": "hour"}
    )
    df = spark.createDataFrame(
        [(2026, 11, 26, 7), (2026, 2, 30, 1)], "year int, month int, day int, hour int"
    )
    result = df.transform(T.compose_timestamps((stamp,))).select("departure")
    expected = spark.createDataFrame([(datetime(2026, 11, 26, 7),), (None,)], "departure timestamp")
    assertDataFrameEqual(result, expected)


def test_pii_can_be_hashed_or_dropped(spark):
    df = spark.createDataFrame([(1, "555-0100", "Main St")], "id int, phone string, address string")
    rules = (Pii("phone", "hash"), Pii("address", "drop"))
    digest = hashlib.sha256(b"555-0100").hexdigest()
    expected = spark.createDataFrame([(1, digest)], "id int, phone_hash string")
    assertDataFrameEqual(df.transform(T.apply_pii(rules)), expected)


def test_without_a_time_column_only_the_run_date_partitions_are_added(spark):
    df = spark.createDataFrame([(1,)], "id int")
    result = df.transform(T.add_partition_columns(date(2026, 11, 26), None))
    assert result.columns == ["id", *PROCESS_PARTITIONS]


def test_steps_come_from_the_dataset_folders_steps_module(spark, tmp_path):
    (tmp_path / "steps.py").write_text(
        "from pyspark.sql import functions as F\n\n"
        "def shout(df):\n    return df.withColumn('s', F.upper('s'))\n"
    )
    spec = DatasetSpec(name="demo", steps=("shout",), folder=tmp_path)
    (shout,) = T.dataset_steps(spec)
    df = spark.createDataFrame([("a",)], "s string")
    assertDataFrameEqual(df.transform(shout), spark.createDataFrame([("A",)], "s string"))


def test_a_step_missing_from_steps_py_is_named(tmp_path):
    (tmp_path / "steps.py").write_text("def other(df):\n    return df\n")
    with pytest.raises(EtlError, match=r"steps\.py has no function 'shout'"):
        T.dataset_steps(DatasetSpec(name="demo", steps=("shout",), folder=tmp_path))


def test_a_summary_groups_per_processing_date(spark):
    curated = spark.createDataFrame(
        [("a", 2.0, 2026, 11, 26), ("a", 3.0, 2026, 11, 26), ("b", 1.0, 2026, 11, 26)],
        "k string, v double, process_year int, process_month int, process_day int",
    )
    summary = Summary(
        "totals",
        group_by=("key",),
        aggregates={"n": "count(1)", "total": "sum(v)"},
        columns={"key": "upper(k)"},
    )
    expected = spark.createDataFrame(
        [("A", 2, 5.0, 2026, 11, 26), ("B", 1, 1.0, 2026, 11, 26)],
        "key string, n bigint, total double, process_year int, process_month int, process_day int",
    )
    assertDataFrameEqual(summarise(curated, summary), expected)


# A feed names its columns as it likes: a dot (a flattened export's ``user.name``), a space,
# a backtick. Spark reads a bare ``user.name`` as field ``name`` of a struct ``user``.
ODD = ("user.name", "amount usd", "a`b")
RUN_DATE = date(2026, 11, 26)


def test_every_rule_takes_column_names_with_dots_spaces_and_backticks(spark):
    name, amount, tick = ODD
    df = spark.createDataFrame(
        [
            ("ann", "1.5", "x", "2026-11-02", "r1"),
            ("bob", "NA", "y", "2026-11-03", "r2"),
            ("cy", "2", "z", "2026-11-04", "nowhere"),
            (None, "3", "x", "2026-11-05", "r1"),
        ],
        f"`{name}` string, `{amount}` string, `a``b` string, `created at` string, "
        "`region.code` string",
    )
    spec = DatasetSpec(
        name="odd",
        null_markers=("NA",),
        columns=(
            Column(name, case="upper"),
            Column(amount, "double"),
            Column(tick, accepted_values=("x", "y")),
            Column("created at", "date", format="yyyy-MM-dd"),
        ),
        key=(name,),
        deduplicate="key",
        time_column="created at",
        derived={"double amount": f"`{amount}` * 2"},
        pii=(Pii(name, "hash"),),
        column_order=("double amount", amount),
    )
    regions = spark.createDataFrame(
        [("r1", "North"), ("r2", "South")], "`region.code` string, `region name` string"
    )
    reference = Reference("regions", "regions.csv", key=("region.code",), columns=("region name",))
    spec = dataclasses.replace(spec, references=(reference,))
    checked = T.check_records(df, spec, RUN_DATE)
    assert sorted(r[T.REJECTED_BY] or "" for r in checked.collect()) == [
        "",
        "",
        "accepted_values:a`b",
        f"null_key:{name}",
    ]
    curated = T.curate(checked, spec, RUN_DATE, {"regions": regions})
    assert curated.columns[:2] == ["double amount", amount]
    rows = {r["region.code"]: r.asDict() for r in curated.collect()}
    assert rows["r1"]["double amount"] == 3.0 and rows["r1"]["region name"] == "North"
    assert rows["r2"][amount] is None and rows["r2"]["region name"] == "South"
    assert rows["r1"][f"{name}_hash"] == hashlib.sha256(b"ANN").hexdigest()
    assert (rows["r1"]["data_year"], rows["r1"]["data_month"]) == (2026, 11)
    rejected = T.quarantine_records(checked, spec, RUN_DATE, "incoming/odd.csv", "run-1")
    assert {r.rule: r[tick] for r in rejected.collect()} == {
        "accepted_values:a`b": "z",
        f"null_key:{name}": "x",
    }
    summary = Summary(
        "by_region", group_by=("region name",), aggregates={"total usd": f"sum(`{amount}`)"}
    )
    totals = {r["region name"]: r["total usd"] for r in summarise(curated, summary).collect()}
    assert totals == {"North": 1.5, "South": None}


def test_a_declared_column_named_like_one_the_lake_adds_is_refused_though_the_file_lacks_it(
    spark,
):
    """The declared column would be added as nulls, then clash in the quarantine."""
    df = spark.createDataFrame([(1,)], "id bigint")
    spec = DatasetSpec(name="d", columns=(Column("id", "bigint"), Column("rule")))
    with pytest.raises(ValueError, match=r"column 'rule' of dataset 'd' has a name the lake"):
        T.check_records(df, spec, RUN_DATE)


@pytest.mark.parametrize("name", ["data_year", "process_day", "rule", "run_id"])
def test_a_feed_column_named_like_one_the_lake_adds_is_refused_not_overwritten(spark, name):
    """Curated would replace a feed's own ``data_year`` by the time column's year."""
    df = spark.createDataFrame([(1, "2026-11-02", 2019)], f"id bigint, at string, `{name}` int")
    spec = DatasetSpec(name="d", columns=(Column("at", "date", format="yyyy-MM-dd"),))
    spec = dataclasses.replace(spec, time_column="at")
    with pytest.raises(ValueError, match=rf"column '{name}' of dataset 'd' has a name the lake"):
        T.check_records(df, spec, RUN_DATE)


def test_curated_names_rename_the_feeds_columns_and_their_pii_outputs(spark):
    """Every rule names the feed's column; curated, column_order and summaries the new name."""
    df = spark.createDataFrame(
        [("R1", "a@x.org", "2026-11-02 10:00:00", 2019), (None, "b@x.org", "2026-11-03", 2018)],
        "`Review ID` string, `Customer Email` string, `Created At` string, data_year int",
    )
    spec = DatasetSpec(
        name="reviews",
        columns=(
            Column("Review ID", curated_name="review_id"),
            Column("Customer Email", curated_name="customer_email"),
            Column("Created At", "timestamp", "yyyy-MM-dd HH:mm:ss", curated_name="created_at"),
            Column("data_year", "int", curated_name="feed_data_year"),
        ),
        key=("Review ID",),
        time_column="Created At",
        pii=(Pii("Customer Email", "mask"),),
        column_order=("created_at", "review_id"),
    )
    checked = T.check_records(df, spec, RUN_DATE)
    curated = T.curate(checked, spec, RUN_DATE)
    assert curated.columns == [
        "created_at",
        "review_id",
        "feed_data_year",
        "customer_email_masked",  # PII outputs come after the feed's columns
        "data_year",
        "data_month",
        *PROCESS_PARTITIONS,
    ]
    (row,) = curated.collect()
    assert (row.review_id, row.customer_email_masked, row.feed_data_year) == (
        "R1",
        "***@x.org",
        2019,
    )
    assert (row.data_year, row.data_month) == (2026, 11)
    rejected = T.quarantine_records(checked, spec, RUN_DATE, "incoming/r.csv", "run-1")
    assert rejected.columns[:4] == ["Review ID", "Created At", "data_year", "Customer Email_masked"]
    summary = Summary("by_year", group_by=("feed_data_year",), aggregates={"n": "count(1)"})
    assert [tuple(r)[:2] for r in summarise(curated, summary).collect()] == [(2019, 1)]


@pytest.mark.parametrize("name", ["b", "B"])
def test_a_curated_name_another_column_has_is_refused(spark, name):
    """In any case: Spark would stop at a duplicate column, the catalog merge the two."""
    df = spark.createDataFrame([("a", "b")], "`A` string, b string")
    spec = DatasetSpec(name="d", columns=(Column("A", curated_name=name),))
    with pytest.raises(
        ValueError,
        match=f"curated_name '{name}' of column 'A' is also the curated name of column 'b'",
    ):
        T.curate(T.check_records(df, spec, RUN_DATE), spec, RUN_DATE)


@pytest.mark.parametrize("in_file", [" email", "Email", "EMAIL "])
def test_a_pii_column_the_file_writes_otherwise_is_refused_not_passed_through(spark, in_file):
    df = spark.createDataFrame([("a@x.org", 1)], f"`{in_file}` string, n int")
    spec = DatasetSpec(name="d", columns=(Column("email"),), pii=(Pii("email", "mask"),))
    with pytest.raises(
        ValueError, match=f"PII column 'email', but the file has '{in_file}' instead"
    ):
        T.check_records(df, spec, RUN_DATE)


def test_a_pii_column_absent_from_the_file_is_no_error(spark):
    df = spark.createDataFrame([(1,)], "n int")
    spec = DatasetSpec(name="d", columns=(Column("email"),), pii=(Pii("email", "mask"),))
    assert "email_masked" in T.curate(T.check_records(df, spec, RUN_DATE), spec, RUN_DATE).columns


def test_without_column_order_curated_keeps_the_specs_order_not_sparks_alphabetical_one(spark):
    """Spark reads a JSON file's keys alphabetically; the spec lists them as the file has."""
    df = spark.createDataFrame([("a@x.com", 2, "z")], "email string, id bigint, note string")
    spec = DatasetSpec(
        name="d",
        columns=(Column("id", "bigint"), Column("note", curated_name="remark"), Column("email")),
        pii=(Pii("email", "mask"),),
        derived={"twice": "id * 2"},
    )
    checked = T.check_records(df, spec, date(2026, 11, 26))
    curated = T.curate(checked, spec, date(2026, 11, 26))
    assert curated.columns[:4] == ["id", "remark", "email_masked", "twice"]


def test_rows_a_reference_table_does_not_know_are_counted_per_table(spark):
    """A left join fills unknown keys with nulls: only a count tells how many did."""
    df = spark.createDataFrame(
        [(1, "r1", "s1"), (2, "r9", "s1"), (3, None, "s8"), (4, "r9", None)],
        "id int, region string, store string",
    )
    spec = DatasetSpec(
        name="d",
        columns=(Column("id", "int"), Column("region"), Column("store")),
        references=(
            Reference("regions", "regions.csv", key=("region",), columns=("region_name",)),
            Reference("stores", "stores.csv", key=("store",), columns=("store_name",)),
        ),
    )
    tables = {
        "regions": spark.createDataFrame([("r1", "North")], "region string, region_name string"),
        "stores": spark.createDataFrame([("s1", "Main")], "store string, store_name string"),
    }
    unmatched = Observation()
    checked = T.check_records(df, spec, RUN_DATE)
    curated = T.curate(checked, spec, RUN_DATE, tables, unmatched=unmatched)

    assert "_found_0" not in curated.columns and curated.count() == 4
    # A null key is not counted: it asks the table nothing.
    assert unmatched.get == {"regions": 2, "stores": 1}


def airports_on(column: str) -> Reference:
    return Reference(
        "airports",
        "a.csv",
        ("faa",),
        ("name",),
        join_on=(column,),
        rename={"name": f"{column}_name"},
    )


def test_a_table_joined_twice_has_its_misses_counted_per_join(spark):
    """Airports on origin and on dest: one count per name would keep only the last."""
    df = spark.createDataFrame(
        [("JFK", "LAX"), ("XXX", "LAX"), ("YYY", "ZZZ")], "origin string, dest string"
    )
    airports = spark.createDataFrame(
        [("JFK", "Kennedy"), ("LAX", "Los Angeles")], "faa string, name string"
    )
    spec = DatasetSpec(
        name="d",
        columns=(Column("origin"), Column("dest")),
        references=(
            airports_on("origin"),
            airports_on("dest"),
        ),
    )
    unmatched = Observation()
    checked = T.check_records(df, spec, RUN_DATE)
    T.curate(checked, spec, RUN_DATE, {"airports": airports}, unmatched=unmatched).collect()
    assert unmatched.get == {"airports on origin": 2, "airports on dest": 1}
