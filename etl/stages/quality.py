"""The quality gate: a one-pass profile, one quality score, and a great-expectations suite.

The quality score and its formula are in ``etl.core.scoring`` (shared with the quality Lambda).
The run passes the gate when the score is at least the dataset's threshold (default 70)
*and* the dataset's expectation suite (``quality.suite`` in its folder) succeeds.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl.core import scoring
from etl.core.errors import QualityCheckFailed
from etl.core.spec import DatasetSpec

GATE_FAILED = "quality gate failed"


@dataclass(frozen=True)
class QualityProfile:
    """Counts from one aggregation pass over the data."""

    total_records: int
    duplicate_records: int
    null_counts: dict[str, int]
    # HyperLogLog estimates (relative error ~2%), for the run report's charts: they ride on
    # the same aggregation, so they cost no extra Spark job; not part of equality.
    distinct_counts: dict[str, int] = field(default_factory=dict, compare=False)

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
    distinctCounts: dict[str, int] = field(default_factory=dict)
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
        problems += [
            f"expectation {e['expectation']} on {e.get('column') or 'table'} failed "
            f"({e.get('unexpected_percent', '?')}% unexpected)"
            for e in self.failedExpectations
        ]
        return "; ".join(p for p in problems if p)


def profile(df: DataFrame) -> QualityProfile:
    """Row, duplicate, per-column null and (estimated) distinct counts in one Spark job.

    Grouping by every column counts each distinct record once with its multiplicity, so
    duplicates and nulls come out of the same aggregation instead of a job per column; a
    column's distinct values are the same over the grouped records as over the rows.
    """
    columns = df.columns
    grouped = df.groupBy(*[F.col(f"`{c}`") for c in columns]).agg(F.count(F.lit(1)).alias("_n"))
    sums = [F.sum("_n").alias("_rows"), F.sum(F.col("_n") - 1).alias("_dups")]
    sums += [
        F.sum(F.when(F.col(f"`{c}`").isNull(), F.col("_n")).otherwise(0)).alias(f"_null_{i}")
        for i, c in enumerate(columns)
    ]
    sums += [
        F.approx_count_distinct(F.col(f"`{c}`"), rsd=0.02).alias(f"_distinct_{i}")
        for i, c in enumerate(columns)
    ]
    row = grouped.agg(*sums).first()
    return QualityProfile(
        total_records=int(row["_rows"] or 0),
        duplicate_records=int(row["_dups"] or 0),
        null_counts={c: int(row[f"_null_{i}"] or 0) for i, c in enumerate(columns)},
        distinct_counts={c: int(row[f"_distinct_{i}"] or 0) for i, c in enumerate(columns)},
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


def run_suite(df: DataFrame, suite: dict) -> tuple[bool, list[dict]]:
    """Validate ``df`` with great-expectations; return success and the failed expectations."""
    return summarise_validation(validate(df, suite))


def validate(df: DataFrame, suite: dict):
    """The great-expectations ``ExpectationSuiteValidationResult`` of ``df`` against ``suite``."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_spark(name="spark").add_dataframe_asset(name="raw")
    batch = asset.add_batch_definition_whole_dataframe("all").get_batch(
        batch_parameters={"dataframe": df}
    )
    expectations = [{k: e[k] for k in ("type", "kwargs") if k in e} for e in suite["expectations"]]
    return batch.validate(gx.ExpectationSuite(name=suite["name"], expectations=expectations))


def summarise_validation(result) -> tuple[bool, list[dict]]:
    """Success and the failed expectations of a validation result, for messages."""
    failed = [
        {
            "expectation": r.expectation_config.type,
            "column": r.expectation_config.kwargs.get("column"),
            "unexpected_percent": _round(r.result.get("unexpected_percent")),
            "observed_value": r.result.get("observed_value"),
        }
        for r in result.results
        if not r.success
    ]
    return bool(result.success), failed


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def check_quality(df: DataFrame, dataset: DatasetSpec) -> QualityReport:
    """Profile, score and validate ``df``; the report says whether the gate passed."""
    counts = profile(df)
    score = quality_score(counts)
    suite = load_suite(dataset)
    validation = validate(df, suite) if suite else None
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
        distinctCounts=counts.distinct_counts,
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
