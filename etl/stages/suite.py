"""The expectation suite, validated by great-expectations from the profile's one aggregation.

Left to itself, GX's Spark engine runs one Spark job per column it filters on plus one for
the table: the job count grows with the suite. Yet what a suite asks of the data is mostly
counts: rows, nulls in a column, non-null values outside a set or not matching a pattern.
``suite_counts`` names those counts as aggregates the quality profile folds into its single
aggregation (``etl.stages.quality.profile``); ``validate_suite`` then runs GX's own
validation with an execution engine that answers those metric requests from the counts and
computes every other metric in Spark, as GX always does. GX still decides every result: its
expectation classes, ``mostly``, the result format. ``tests/test_quality.py`` checks both
paths give the same results.

The counts mirror GX 1.x's Spark metric definitions (``column.isNotNull()``,
``column.isin(value_set)``, ``column.rlike(regex)``; nulls excluded from the in-set and
pattern checks); a metric with anything more (a row condition, parsed dates) is GX's to
compute.
"""

from __future__ import annotations

import importlib
import os
import threading
import types
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame

from etl.core.deferred_imports import deferred
from etl.stages.names import named

ROW_COUNT = "table.row_count"
NULLS = "column_values.nonnull.unexpected_count"
NOT_IN_SET = "column_values.in_set.unexpected_count"
NOT_MATCHING = "column_values.match_regex.unexpected_count"
# GX's "basic" results (counts and percentages) without example values: examples would
# cost a Spark job per expectation, and the gate reports percentages.
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 0}
# Domain keys GX always sends; any other (e.g. a row condition) changes what is counted.
PLAIN_DOMAIN = {"batch_id", "table", "column", "row_condition", "condition_parser"}


@dataclass(frozen=True)
class SuiteCount:
    """One count a suite needs: ``metric`` on ``column`` with ``argument`` (set or regex)."""

    metric: str
    column: str | None = None
    argument: Hashable = None


def _argument(metric: str, value_kwargs: Mapping) -> tuple[bool, Hashable]:
    """The metric's argument as a hashable value, and whether we count it ourselves."""
    if metric == NOT_IN_SET:
        extra = set(value_kwargs) - {"value_set", "parse_strings_as_datetimes"}
        values = value_kwargs.get("value_set")
        plain = values is not None and not value_kwargs.get("parse_strings_as_datetimes")
        return plain and not extra, tuple(values) if isinstance(values, list | tuple) else None
    if metric == NOT_MATCHING:
        return set(value_kwargs) == {"regex"}, value_kwargs.get("regex")
    return not value_kwargs, None


def count_for(metric: str, domain_kwargs: Mapping, value_kwargs: Mapping) -> SuiteCount | None:
    """The ``SuiteCount`` that answers a GX metric request, or None if GX must compute it."""
    if metric not in (ROW_COUNT, NULLS, NOT_IN_SET, NOT_MATCHING):
        return None
    if set(domain_kwargs) - PLAIN_DOMAIN or any(
        domain_kwargs.get(k) is not None for k in ("table", "row_condition", "condition_parser")
    ):
        return None
    column = domain_kwargs.get("column")
    if (metric == ROW_COUNT) != (column is None):
        return None
    countable, argument = _argument(metric, value_kwargs)
    return SuiteCount(metric, column, argument) if countable else None


def suite_counts(suite: Mapping | None, columns: Sequence[str]) -> list[SuiteCount]:
    """The in-set and pattern counts the suite will ask GX for, on columns that exist.

    Row and null counts are in every profile already (``profile_counts``); an expectation
    on a missing column fails in GX, which needs no count for that.
    """
    wanted: dict[SuiteCount, None] = {}
    for expectation in (suite or {}).get("expectations", []):
        kwargs = expectation.get("kwargs", {})
        column = kwargs.get("column")
        if column not in columns or set(kwargs) & {"row_condition", "condition_parser"}:
            continue
        kind, values, regex = expectation.get("type"), kwargs.get("value_set"), kwargs.get("regex")
        if kind == "expect_column_values_to_be_in_set" and isinstance(values, list):
            if not kwargs.get("parse_strings_as_datetimes"):
                wanted[SuiteCount(NOT_IN_SET, column, tuple(values))] = None
        elif kind == "expect_column_values_to_match_regex" and isinstance(regex, str):
            wanted[SuiteCount(NOT_MATCHING, column, regex)] = None
    return list(wanted)


def profile_counts(
    rows: int, null_counts: Mapping[str, int], counted: Mapping[SuiteCount, int]
) -> dict[SuiteCount, int]:
    """Every count a profile holds, keyed as GX's metric requests are matched."""
    counts = {SuiteCount(ROW_COUNT): rows}
    counts |= {SuiteCount(NULLS, column): n for column, n in null_counts.items()}
    return counts | dict(counted)


def unexpected(count: SuiteCount) -> SparkColumn:
    """True on a row ``count`` counts: GX's unexpected condition, on GX's domain (nulls
    are outside the domain of the in-set and pattern checks)."""
    column = named(count.column)
    if count.metric == NOT_IN_SET:
        return column.isNotNull() & ~column.isin(list(count.argument))
    if count.metric == NOT_MATCHING:
        return column.isNotNull() & ~column.rlike(count.argument)
    raise ValueError(f"{count.metric} is counted by the profile itself")


# Imported by great-expectations as it loads, used by an expectation or renderer a suite
# seldom has: imported when first used (etl.core.deferred_imports; 0.75 CPU-s of ~2.2).
GX_DEFERRED_IMPORTS = ("scipy.stats", "altair")


@cache  # a second call has nothing to defer: GX has its stand-ins or the real modules
def import_gx() -> types.ModuleType:
    """``great_expectations``, imported with ``GX_DEFERRED_IMPORTS`` deferred."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    with deferred(*GX_DEFERRED_IMPORTS):
        return importlib.import_module("great_expectations")


@cache  # once per process: a second call finds the import started
def import_gx_in_background() -> None:
    """Start importing great-expectations in a thread, for ``validate_suite`` to find it done.

    The import takes ~1.3 s of CPU, holding the interpreter lock, so where it overlaps
    matters. The Glue job starts it as its Spark pass begins, while its Python mostly waits
    on the JVM; a local run of a small file starts it earlier (``etl.local.pipeline``).
    """
    threading.Thread(target=import_gx, name="etl-import-gx").start()


def validate_suite(df: DataFrame, suite: Mapping, counts: Mapping[SuiteCount, int] | None = None):
    """GX's validation of ``df`` against ``suite``: an ``ExpectationSuiteValidationResult``.

    ``counts`` (from the profile) answer the metrics they cover; GX computes the rest.
    Without them this is GX's plain Spark validation.
    """
    gx = import_gx()
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.validator.validation_statistics import calc_validation_statistics
    from great_expectations.validator.validator import Validator

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    # persist=False: callers decide what to cache (the Glue job caches the raw file itself).
    datasource = context.data_sources.add_spark(name="spark", persist=False)
    asset = datasource.add_dataframe_asset(name="raw")
    batch = asset.add_batch_definition_whole_dataframe("all").get_batch(
        batch_parameters={"dataframe": df}
    )
    expectations = [_as_gx_names(e) for e in suite["expectations"]]
    suite_object = gx.ExpectationSuite(name=suite["name"], expectations=expectations)
    configurations = [e.configuration for e in suite_object.expectations]
    # The engine GX's datasource made, or GX's engine that also knows the profile's counts.
    engine = (
        _counting_engine()(spark=df.sparkSession, persist=False, counts=dict(counts))
        if counts is not None
        else batch.data.execution_engine
    )
    validator = Validator(execution_engine=engine, batches=[batch], data_context=context)
    results = validator.graph_validate(
        configurations=validator.process_expectations_for_validation(configurations),
        runtime_configuration={"result_format": dict(RESULT_FORMAT)},
    )
    statistics = calc_validation_statistics(results)
    return ExpectationSuiteValidationResult(
        results=results,
        success=statistics.success,
        suite_name=suite["name"],
        # What GX's own validations record, and its Data Docs show (``etl.local.data_docs``).
        statistics={k: v for k, v in statistics._asdict().items() if k != "success"},
        meta={"great_expectations_version": gx.__version__},
    )


# Expectations GX answers from its list of the table's columns, and the kwargs naming them.
# GX's Spark engine lists a column whose name holds a dot as `a.b` (in backticks, as Spark
# SQL quotes it), so a suite that says ``a.b`` would find no such column.
TABLE_COLUMN_KWARGS = {
    "expect_column_to_exist": "column",
    "expect_table_columns_to_match_set": "column_set",
    "expect_table_columns_to_match_ordered_list": "column_list",
}


def _as_gx_names(expectation: Mapping) -> dict:
    """The expectation's type and kwargs, a dotted column name as GX lists it."""
    kind, kwargs = expectation["type"], dict(expectation.get("kwargs", {}))
    key = TABLE_COLUMN_KWARGS.get(kind)
    value = kwargs.get(key)
    if isinstance(value, str):
        kwargs[key] = _gx_listed(value)
    elif isinstance(value, list):
        kwargs[key] = [_gx_listed(v) if isinstance(v, str) else v for v in value]
    return {"type": kind, "kwargs": kwargs}


def _gx_listed(name: str) -> str:
    return f"`{name}`" if "." in name and not _in_backticks(name) else name


def as_suite_names(name: str | None) -> str | None:
    """A column as the suite names it: GX's `a.b` is ``a.b`` (the inverse of the above)."""
    return name[1:-1] if name and _in_backticks(name) else name


def _in_backticks(name: str) -> bool:
    return len(name) > 1 and name[0] == name[-1] == "`"


@cache
def _counting_engine():
    """GX's Spark engine, answering the metrics it has counts for (GX imported lazily)."""
    from great_expectations.execution_engine import SparkDFExecutionEngine

    class CountingSparkEngine(SparkDFExecutionEngine):
        def __init__(self, *args, counts: dict[SuiteCount, int], **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.counts = counts

        def resolve_metrics(self, metrics_to_resolve, metrics=None, runtime_configuration=None):
            known, rest = {}, []
            for metric in metrics_to_resolve:
                count = count_for(
                    metric.metric_name, metric.metric_domain_kwargs, metric.metric_value_kwargs
                )
                if count in self.counts:
                    known[metric.id] = self.counts[count]
                else:
                    rest.append(metric)
            if rest:
                known.update(super().resolve_metrics(rest, metrics, runtime_configuration))
            if self._caching:
                self._metric_cache.update(known)
            return known

    return CountingSparkEngine
