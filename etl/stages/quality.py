"""The quality gate: a one-pass profile, one quality score, and a great-expectations suite.

The quality score and its formula are in ``etl.core.scoring`` (shared with the quality Lambda).
The run passes the gate when the score is at least the dataset's threshold (default 70)
*and* the dataset's expectation suite (``quality.suite`` in its folder) succeeds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import functions as F

from etl.core import scoring
from etl.core.errors import QualityCheckFailed
from etl.core.spec import DatasetSpec
from etl.stages.names import named
from etl.stages.suite import (
    SuiteCount,
    as_suite_names,
    profile_counts,
    suite_counts,
    unexpected,
    validate_suite,
)

GATE_FAILED = "quality gate failed"


@dataclass(frozen=True)
class QualityProfile:
    """Counts from one aggregation pass over the data: ``suite`` holds the counts the
    expectation suite needs beyond rows and nulls, ``misfit_records`` the records marked as
    not fitting the schema they were read with."""

    total_records: int
    duplicate_records: int
    null_counts: dict[str, int]
    suite: dict[SuiteCount, int] = field(default_factory=dict)
    misfit_records: int = 0

    @property
    def null_cell_percent(self) -> float:
        return scoring.null_cell_percent(self.null_counts, self.total_records)

    @property
    def duplicate_percent(self) -> float:
        return 100.0 * self.duplicate_records / self.total_records if self.total_records else 0.0


@dataclass
class QualityReport:
    """The quality Lambda's response shape (``qualityScore`` drives the workflow's Choice)."""

    qualityScore: float
    threshold: float
    passed: bool
    totalRecords: int
    duplicateRecords: int
    nullPercentage: float
    duplicatePercentage: float
    nullCounts: dict[str, int]
    suite: str
    suiteSuccess: bool
    failedExpectations: list[dict] = field(default_factory=list)
    # The great-expectations validation result (its JSON form), kept for Data Docs; too
    # big for error details and notifications, so ``to_dict`` leaves it out.
    validation: dict | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        record = asdict(self)
        record.pop("validation")
        return record

    def reason(self) -> str:
        problems = [
            scoring.below_threshold_reason(
                self.qualityScore, self.threshold, self.nullPercentage, self.duplicatePercentage
            )
        ]
        problems += [_failure(e) for e in self.failedExpectations]
        return "; ".join(p for p in problems if p)


def _failure(failed: Mapping) -> str:
    """``expectation X on C failed``, with the share or value GX found when it has one."""
    said = f"expectation {failed['expectation']} on {failed.get('column') or 'table'} failed"
    if failed.get("unexpected_percent") is not None:
        return f"{said} ({failed['unexpected_percent']}% unexpected)"
    if failed.get("observed_value") is not None:
        return f"{said} (observed {failed['observed_value']})"
    if failed.get("error"):
        return f"{said} ({failed['error']})"
    return said


def profile(
    df: DataFrame, counts: Sequence[SuiteCount] = (), misfit_column: str | None = None
) -> QualityProfile:
    """Row, duplicate and per-column null counts, and the suite's ``counts``, in one pass.

    Grouping by every column counts each distinct record once with its multiplicity, so
    duplicates, nulls and the suite's counts come out of the same aggregation instead of a
    job per column or per expectation. Records marked in ``misfit_column`` (Spark's
    corrupt-record column, if the read added one) are counted; the column is not profiled.
    """
    measure = _Measure(df.columns, counts, misfit_column)
    grouped = _distinct_records(df, misfit_column)
    return measure.profile(grouped.agg(*measure.sums()).first().asDict())


def profile_on_the_way(
    df: DataFrame,
    counts: Sequence[SuiteCount] = (),
    misfit_column: str | None = None,
    distinct: bool = False,
) -> tuple[DataFrame, Callable[[], QualityProfile]]:
    """``df``'s records, profiled as ``profile`` does while the next action reads them.

    Returns the records and a function giving their profile once an action has read all of
    them: a job that writes the records thereby profiles them in the same pass (one parse
    of the raw file, no cache; a Spark ``Observation`` collects the sums as rows go by).
    The records are ``df``'s rows, every distinct record as often as it occurs, or, with
    ``distinct``, once each (for a consumer that drops exact duplicates anyway, which then
    needs no second shuffle: the records arrive partitioned by all their columns).
    """
    measure = _Measure(df.columns, counts, misfit_column)
    observation = Observation()
    grouped = _distinct_records(df, misfit_column).observe(observation, *measure.sums())
    if not distinct:
        copies = F.explode(F.array_repeat(F.lit(True), F.col("_n").cast("int")))
        grouped = grouped.withColumn("_copy", copies)
    records = grouped.select(*[named(c) for c in measure.columns])
    return records, lambda: measure.profile(observation.get)


def _distinct_records(df: DataFrame, misfit_column: str | None = None) -> DataFrame:
    """Each distinct record once, with ``_n``: how many times it occurs (and ``_misfits``:
    how many of those the read marked in ``misfit_column``)."""
    columns = [named(c) for c in df.columns if c != misfit_column]
    counts = [F.count(F.lit(1)).alias("_n")]
    if misfit_column:
        counts.append(F.count(named(misfit_column)).alias("_misfits"))
    return df.groupBy(*columns).agg(*counts)


@dataclass(frozen=True)
class _Measure:
    """The profile's sums over distinct records, and the profile they make."""

    all_columns: Sequence[str]
    counts: Sequence[SuiteCount]
    misfit_column: str | None

    @property
    def columns(self) -> list[str]:
        return [c for c in self.all_columns if c != self.misfit_column]

    def sums(self) -> list[Column]:
        def rows_where(condition: Column) -> Column:
            return F.sum(F.when(condition, F.col("_n")).otherwise(0))

        sums = [F.sum("_n").alias("_rows"), F.sum(F.col("_n") - 1).alias("_dups")]
        sums += [
            rows_where(named(c).isNull()).alias(f"_null_{i}") for i, c in enumerate(self.columns)
        ]
        sums += [
            rows_where(unexpected(count)).alias(f"_count_{i}")
            for i, count in enumerate(self.counts)
        ]
        if self.misfit_column:
            sums.append(F.sum("_misfits").alias("_misfits"))
        return sums

    def profile(self, values: Mapping) -> QualityProfile:
        def count(name: str) -> int:
            return int(values.get(name) or 0)

        return QualityProfile(
            total_records=count("_rows"),
            duplicate_records=count("_dups"),
            null_counts={c: count(f"_null_{i}") for i, c in enumerate(self.columns)},
            suite={c: count(f"_count_{i}") for i, c in enumerate(self.counts)},
            misfit_records=count("_misfits"),
        )


def quality_score(profile: QualityProfile) -> float:
    """The ``etl.core.scoring`` quality score of a profile."""
    return scoring.quality_score(
        profile.null_cell_percent, profile.duplicate_percent, profile.total_records
    )


def load_suite(dataset: DatasetSpec) -> dict | None:
    """The dataset's expectation suite (``quality.suite`` in its folder), or None."""
    if not dataset.expectation_suite or dataset.folder is None:
        return None
    path = dataset.folder.joinpath(dataset.expectation_suite)
    if not path.is_file():
        raise FileNotFoundError(
            f"expectation suite {dataset.expectation_suite!r} of dataset {dataset.name!r} "
            "is not in its folder"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def run_suite(
    df: DataFrame, suite: dict, counts: QualityProfile | None = None
) -> tuple[bool, list[dict]]:
    """Validate ``df`` with great-expectations; return success and the failed expectations."""
    return summarise_validation(validate(df, suite, counts))


def validate(df: DataFrame, suite: dict, counts: QualityProfile | None = None):
    """The great-expectations ``ExpectationSuiteValidationResult`` of ``df`` against ``suite``.

    With the profile of ``df`` (taken with the suite's counts), GX reads the counts it
    covers from it instead of running Spark jobs (``etl.stages.suite``).
    """
    known = None
    if counts is not None:
        known = profile_counts(counts.total_records, counts.null_counts, counts.suite)
    return validate_suite(df, suite, known)


def summarise_validation(result) -> tuple[bool, list[dict]]:
    """Success and the failed expectations of a validation result, for messages."""
    failed = [
        {
            "expectation": r.expectation_config.type,
            "column": as_suite_names(r.expectation_config.kwargs.get("column")),
            "unexpected_percent": _round(r.result.get("unexpected_percent")),
            "observed_value": r.result.get("observed_value"),
            "error": scoring.gx_error(r.exception_info),
        }
        for r in result.results
        if not r.success
    ]
    return bool(result.success), failed


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def check_quality(
    df: DataFrame, dataset: DatasetSpec, counts: QualityProfile | None = None
) -> QualityReport:
    """Profile (unless ``counts`` is the profile of ``df`` with the suite's counts), score
    and validate ``df``; the report says whether the gate passed."""
    suite = load_suite(dataset)
    counts = counts or profile(df, suite_counts(suite, df.columns))
    score = quality_score(counts)
    validation = validate(df, suite, counts) if suite else None
    suite_ok, failed = summarise_validation(validation) if validation else (True, [])
    return QualityReport(
        qualityScore=score,
        threshold=dataset.quality_threshold,
        passed=score >= dataset.quality_threshold and suite_ok,
        totalRecords=counts.total_records,
        duplicateRecords=counts.duplicate_records,
        nullPercentage=round(counts.null_cell_percent, 2),
        duplicatePercentage=round(counts.duplicate_percent, 2),
        nullCounts=counts.null_counts,
        suite=suite["name"] if suite else "",
        suiteSuccess=suite_ok,
        failedExpectations=failed,
        validation=validation.to_json_dict() if validation else None,
    )


def enforce(report: QualityReport) -> QualityReport:
    """Raise ``QualityCheckFailed`` when the gate did not pass."""
    if not report.passed:
        raise QualityCheckFailed(
            f"{GATE_FAILED}: {report.reason()}; nothing was written to curated",
            details=report.to_dict(),
        )
    return report
