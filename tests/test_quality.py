"""The quality gate: one-pass profile, the documented score, and the GX suite."""

from __future__ import annotations

import dataclasses
import json
import uuid

import pytest

from etl.core.datasets import get_dataset
from etl.core.errors import QualityCheckFailed
from etl.stages.quality import (
    QualityProfile,
    check_quality,
    enforce,
    load_suite,
    profile,
    quality_score,
)
from etl.stages.suite import profile_counts, suite_counts, validate_suite

ORDERS = get_dataset("orders")

SCHEMA = "id bigint, status string, created_date string, region_code string"
GOOD_ROW = (1, "ACTIVE", "2026-11-01 10:00:00", "01")


def test_profile_counts_rows_duplicates_and_nulls_per_column(spark):
    df = spark.createDataFrame([GOOD_ROW, GOOD_ROW, GOOD_ROW, (None, "ACTIVE", None, "02")], SCHEMA)
    assert profile(df) == QualityProfile(
        total_records=4,
        duplicate_records=2,
        null_counts={"id": 1, "status": 0, "created_date": 1, "region_code": 0},
    )


def test_profile_runs_one_spark_job_whatever_the_number_of_columns(spark):
    narrow = spark.createDataFrame([(1, "a")], "a bigint, b string")
    wide = spark.createDataFrame([tuple(range(30))], ", ".join(f"c{i} int" for i in range(30)))
    tracker = spark.sparkContext.statusTracker()

    def jobs_for(df) -> int:
        group = f"profile-{id(df)}"
        spark.sparkContext.setJobGroup(group, group)
        profile(df)
        spark.sparkContext.setJobGroup("", "")
        return len(tracker.getJobIdsForGroup(group))

    assert jobs_for(narrow) == jobs_for(wide)


def test_score_is_100_minus_null_cell_percent_minus_duplicate_percent():
    counts = QualityProfile(total_records=10, duplicate_records=1, null_counts={"a": 2, "b": 0})
    # 2 null cells of 20 = 10%; 1 duplicate of 10 rows = 10%
    assert quality_score(counts) == 80.0


def test_score_does_not_fall_just_because_the_table_is_wider():
    narrow = QualityProfile(10, 0, {"a": 5, "b": 0})
    wide = QualityProfile(10, 0, {"a": 5, "b": 0, "c": 0, "d": 0})
    assert quality_score(wide) > quality_score(narrow)


def test_an_empty_file_scores_zero_and_the_score_never_goes_negative():
    assert quality_score(QualityProfile(0, 0, {"a": 0})) == 0.0
    assert quality_score(QualityProfile(4, 3, {"a": 4})) == 0.0


def test_clean_data_passes_the_gate(spark):
    rows = [(i, "ACTIVE", "2026-11-01 10:00:00", "01") for i in range(20)]
    report = check_quality(spark.createDataFrame(rows, SCHEMA), ORDERS)
    assert report.passed and report.qualityScore == 100.0 and report.suiteSuccess
    assert enforce(report) is report


def test_data_below_the_threshold_fails_with_a_message_naming_the_score(spark):
    rows = [(None, "ACTIVE", None, None)] * 3 + [GOOD_ROW]
    report = check_quality(spark.createDataFrame(rows, SCHEMA), ORDERS)
    assert report.qualityScore < ORDERS.quality_threshold
    with pytest.raises(QualityCheckFailed, match=r"quality score .* is below the threshold 70"):
        enforce(report)


def test_a_failed_expectation_fails_the_gate_even_with_a_good_score(spark):
    rows = [(i, "ACTIVE", "2026-11-01 10:00:00", "99") for i in range(20)]
    report = check_quality(spark.createDataFrame(rows, SCHEMA), ORDERS)
    assert report.qualityScore == 100.0
    assert not report.passed
    assert report.failedExpectations[0]["expectation"] == "expect_column_values_to_be_in_set"
    with pytest.raises(QualityCheckFailed, match="region_code"):
        enforce(report)


def test_the_threshold_comes_from_the_dataset_definition(spark):
    rows = [GOOD_ROW] + [(i, "ACTIVE", "2026-11-01 10:00:00", "01") for i in range(9)]  # 90
    strict = dataclasses.replace(ORDERS, quality_threshold=99.0)
    assert check_quality(spark.createDataFrame(rows, SCHEMA), ORDERS).passed
    assert not check_quality(spark.createDataFrame(rows, SCHEMA), strict).passed


def test_the_suite_is_read_from_the_dataset_folder():
    suite = load_suite(ORDERS)
    assert suite["name"] == "orders_raw"
    assert any(e["type"] == "expect_column_values_to_not_be_null" for e in suite["expectations"])


def spark_jobs(spark, action) -> int:
    """The number of Spark jobs ``action()`` runs."""
    group = f"jobs-{uuid.uuid4().hex}"  # id(action) may be reused once an action is freed
    spark.sparkContext.setJobGroup(group, group)
    try:
        action()
    finally:
        spark.sparkContext.setJobGroup("", "")
    return len(spark.sparkContext.statusTracker().getJobIdsForGroup(group))


EDGE_ROWS = [
    (1, "ACTIVE", "2026-11-01 10:00:00", "01", 10.5),
    (1, "ACTIVE", "2026-11-01 10:00:00", "01", 10.5),  # a duplicate counts twice, as in GX
    (2, "PENDING", "01/11/2026", "99", 250.0),
    (None, "ACTIVE", None, None, None),
    (4, "ACTIVE", "2026-11-02 11:00:00", "x", -3.0),
    (5, "CANCELLED", "2026-11-03 12:00:00", "04", 99.0),
    (None, "PENDING", "bad", "02", 7.25),
]
EDGE_SCHEMA = "id bigint, status string, created_date string, region_code string, amount double"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"
EDGE_SUITE = {
    "name": "edge_cases",
    "expectations": [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"max_value": 5}},
        {"type": "expect_column_to_exist", "kwargs": {"column": "id"}},
        {"type": "expect_column_to_exist", "kwargs": {"column": "no_such_column"}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id", "mostly": 0.7}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "created_date"}},
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "region_code", "value_set": ["01", "02", "04"], "mostly": 0.6},
        },
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "status", "value_set": ["ACTIVE", "PENDING"]},
        },
        {
            "type": "expect_column_values_to_match_regex",
            "kwargs": {"column": "created_date", "regex": DATE_PATTERN, "mostly": 0.5},
        },
        {
            "type": "expect_column_values_to_match_regex",
            "kwargs": {"column": "amount", "regex": r"^\d+\.\d+$"},
        },
        # Not counted by the profile: GX computes these itself.
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "amount", "min_value": 0, "max_value": 100},
        },
        {
            "type": "expect_column_values_to_not_be_null",
            "kwargs": {
                "column": "region_code",
                "row_condition": 'status = "ACTIVE"',
                "condition_parser": "spark",
            },
        },
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "no_such_column", "value_set": ["a"]},
        },
    ],
}


def test_gx_decides_the_same_from_the_profiles_counts_as_from_its_own_spark_jobs(spark):
    df = spark.createDataFrame(EDGE_ROWS, EDGE_SCHEMA)
    counts = profile(df, suite_counts(EDGE_SUITE, df.columns))
    known = profile_counts(counts.total_records, counts.null_counts, counts.suite)

    def outcomes(result):
        return [(r.expectation_config.type, r.success, r.result) for r in result.results]

    counted, plain = validate_suite(df, EDGE_SUITE, known), validate_suite(df, EDGE_SUITE)
    assert outcomes(counted) == outcomes(plain)
    assert counted.success is plain.success is False
    assert {r.success for r in counted.results} == {True, False}  # the suite tests both ways


def test_expectations_the_profile_counts_run_no_spark_job_in_gx(spark):
    df = spark.createDataFrame(EDGE_ROWS, EDGE_SCHEMA)
    counted = {
        "name": "counted",
        "expectations": [e for e in EDGE_SUITE["expectations"][:10] if "no_such" not in str(e)],
    }
    counts = profile(df, suite_counts(counted, df.columns))
    known = profile_counts(counts.total_records, counts.null_counts, counts.suite)
    assert spark_jobs(spark, lambda: validate_suite(df, counted, known)) == 0


def test_the_gate_runs_as_many_spark_jobs_for_a_wide_suite_as_for_a_narrow_one(spark, tmp_path):
    def gate_jobs(columns: int, per_column: int) -> int:
        names = [f"c{i}" for i in range(columns)]
        df = spark.createDataFrame(
            [tuple(f"0{(r + i) % 4 + 1}" for i in range(columns)) for r in range(4)],
            ", ".join(f"{n} string" for n in names),
        )
        kinds = [
            ("expect_column_values_to_not_be_null", {}),
            ("expect_column_values_to_be_in_set", {"value_set": ["01", "02", "03", "04"]}),
            ("expect_column_values_to_match_regex", {"regex": r"^0\d$"}),
        ][:per_column]
        suite = {
            "name": f"s{columns}",
            "expectations": [
                {"type": kind, "kwargs": {"column": n, **extra}}
                for n in names
                for kind, extra in kinds
            ],
        }
        (tmp_path / "suite.json").write_text(json.dumps(suite))
        dataset = dataclasses.replace(ORDERS, folder=tmp_path, expectation_suite="suite.json")
        report = None

        def gate():
            nonlocal report
            report = check_quality(df, dataset)

        jobs = spark_jobs(spark, gate)
        assert report.passed and len(report.nullCounts) == columns
        return jobs

    assert gate_jobs(columns=2, per_column=1) == gate_jobs(columns=20, per_column=3)


# GX lists a Spark column whose name holds a dot in backticks (`order.id`); the gate takes a
# suite written either way, with the profile's counts or GX's own Spark jobs.
DOTTED_SCHEMA = "`order.id` bigint, `status.code` string, `geo lat` double"
DOTTED_ROWS = [(1, "A", 1.0), (2, "B", None), (3, "Z", 2.0)]


@pytest.mark.parametrize("written", ["order.id", "`order.id`"])
def test_a_suite_on_dotted_column_names_is_decided_as_on_plain_ones(spark, written):
    df = spark.createDataFrame(DOTTED_ROWS, DOTTED_SCHEMA)
    expectations = [
        ("expect_column_to_exist", {"column": written}),
        ("expect_column_to_exist", {"column": "order.missing"}),
        ("expect_table_columns_to_match_set", {"column_set": [written, "status.code", "geo lat"]}),
        ("expect_column_values_to_not_be_null", {"column": "geo lat"}),
        ("expect_column_values_to_be_in_set", {"column": "status.code", "value_set": ["A", "B"]}),
        ("expect_column_values_to_be_between", {"column": "order.id", "min_value": 1}),
    ]
    suite = {"name": "dotted", "expectations": [{"type": t, "kwargs": k} for t, k in expectations]}
    counts = profile(df, suite_counts(suite, df.columns))
    known = profile_counts(counts.total_records, counts.null_counts, counts.suite)
    for result in (validate_suite(df, suite, known), validate_suite(df, suite)):
        assert [r.success for r in result.results] == [True, False, True, False, False, True]


def test_a_failed_expectation_says_what_gx_found_without_a_made_up_percentage(spark, tmp_path):
    df = spark.createDataFrame(DOTTED_ROWS, DOTTED_SCHEMA)
    suite = {
        "name": "s",
        "expectations": [
            {"type": "expect_column_to_exist", "kwargs": {"column": "order.missing"}},
            {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 10}},
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "Stars", "min_value": 1},
            },
        ],
    }
    (tmp_path / "suite.json").write_text(json.dumps(suite))
    dataset = dataclasses.replace(
        ORDERS, folder=tmp_path, expectation_suite="suite.json", quality_threshold=0.0
    )
    report = check_quality(df, dataset)
    assert set(report.reason().split("; ")) == {
        "expectation expect_column_to_exist on order.missing failed",
        "expectation expect_table_row_count_to_be_between on table failed (observed 3)",
        "expectation expect_column_values_to_be_between on Stars failed "
        '(The column "Stars" in BatchData does not exist.)',
    }
