"""The quality gate: one-pass profile, the documented score, and the GX suite."""

from __future__ import annotations

import dataclasses

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
