"""The business transform: pure ``DataFrame -> DataFrame`` functions, composed in order.

Configurable steps are higher-order functions returning a transform, so they chain with
``df.transform(...)``. No step triggers a Spark action.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from etl.core.datasets import DatasetConfig

Transform = Callable[[DataFrame], DataFrame]

CURATED_COLUMN_ORDER = (
    "id",
    "name",
    "email_masked",
    "region_code",
    "region_name",
    "status",
    "quantity",
    "price",
    "amount",
    "total_amount",
    "amount_category",
    "created_date",
)
PARTITION_TAIL = ("data_year", "data_month", "process_year", "process_month", "process_day")


def _require(df: DataFrame, *columns: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"column {missing[0]!r} is required but missing; columns: {df.columns}")


def drop_exact_duplicates(df: DataFrame) -> DataFrame:
    """Drop records that repeat another record in every column."""
    return df.dropDuplicates()


def drop_null_ids(id_column: str) -> Transform:
    def _transform(df: DataFrame) -> DataFrame:
        _require(df, id_column)
        return df.where(F.col(id_column).isNotNull())

    return _transform


def cast_id(id_column: str) -> Transform:
    """Ids are ``bigint`` whatever the source format inferred (int, bigint, text)."""

    def _transform(df: DataFrame) -> DataFrame:
        _require(df, id_column)
        return df.withColumn(id_column, F.col(id_column).cast("bigint"))

    return _transform


def standardize_names(df: DataFrame) -> DataFrame:
    """``name`` trimmed and upper-cased (a no-op for scripts without case, e.g. Japanese)."""
    _require(df, "name")
    return df.withColumn("name", F.upper(F.trim(F.col("name"))))


def cast_to_double(columns: tuple[str, ...]) -> Transform:
    """Cast numeric columns to double; values that are not numbers become null."""

    def _transform(df: DataFrame) -> DataFrame:
        _require(df, *columns)
        return df.withColumns({c: F.col(c).cast("double") for c in columns})

    return _transform


def parse_timestamp(column: str, pattern: str) -> Transform:
    """Parse a text timestamp with ``pattern``; unparseable values become null."""

    def _transform(df: DataFrame) -> DataFrame:
        _require(df, column)
        text = F.col(column).cast("string")
        return df.withColumn(column, F.to_timestamp(text, pattern))

    return _transform


def add_total_amount(df: DataFrame) -> DataFrame:
    """``total_amount = quantity * price``."""
    _require(df, "quantity", "price")
    return df.withColumn("total_amount", F.col("quantity") * F.col("price"))


def add_amount_category(bounds: tuple[tuple[float, str], ...], default: str) -> Transform:
    """``amount_category`` from ascending upper bounds, e.g. Small < 1000, Medium < 10000."""

    def _transform(df: DataFrame) -> DataFrame:
        _require(df, "amount")
        category: Column | None = None
        for bound, label in bounds:
            condition = F.col("amount") < F.lit(bound)
            category = (
                F.when(condition, label) if category is None else category.when(condition, label)
            )
        category = F.lit(default) if category is None else category.otherwise(default)
        return df.withColumn(
            "amount_category", F.when(F.col("amount").isNull(), None).otherwise(category)
        )

    return _transform


def add_region_name(regions: DataFrame) -> Transform:
    """Join ``region_name`` from the regions reference table; unknown codes get null."""

    def _transform(df: DataFrame) -> DataFrame:
        _require(df, "region_code")
        lookup = regions.select("region_code", "region_name")
        return df.join(F.broadcast(lookup), on="region_code", how="left")

    return _transform


def keep_statuses(statuses: tuple[str, ...]) -> Transform:
    def _transform(df: DataFrame) -> DataFrame:
        _require(df, "status")
        return df.where(F.col("status").isin(list(statuses)))

    return _transform


def keep_recent(column: str, run_date: date, days: int) -> Transform:
    """Keep rows whose ``column`` lies in the ``days`` days up to the end of ``run_date``."""
    end = datetime.combine(run_date + timedelta(days=1), datetime.min.time())
    start = datetime.combine(run_date - timedelta(days=days), datetime.min.time())

    def _transform(df: DataFrame) -> DataFrame:
        _require(df, column)
        value = F.col(column)
        return df.where((value >= F.lit(start)) & (value < F.lit(end)))

    return _transform


def mask_email(column: str, pattern: str, replacement: str) -> Transform:
    """Add ``<column>_masked`` (e.g. ``al***@example.com``) and drop the raw PII column."""

    def _transform(df: DataFrame) -> DataFrame:
        if column not in df.columns:  # a feed without the PII column has nothing to mask
            return df.withColumn(f"{column}_masked", F.lit(None).cast("string"))
        masked = F.regexp_replace(F.col(column), pattern, replacement)
        return df.withColumn(f"{column}_masked", masked).drop(column)

    return _transform


def drop_columns(columns: tuple[str, ...]) -> Transform:
    def _transform(df: DataFrame) -> DataFrame:
        return df.drop(*columns)

    return _transform


def add_partition_columns(run_date: date, timestamp_column: str) -> Transform:
    """``process_year/month/day`` from the run date; ``data_year/month`` from the data."""

    def _transform(df: DataFrame) -> DataFrame:
        _require(df, timestamp_column)
        return df.withColumns(
            {
                "data_year": F.year(timestamp_column),
                "data_month": F.month(timestamp_column),
                "process_year": F.lit(run_date.year),
                "process_month": F.lit(run_date.month),
                "process_day": F.lit(run_date.day),
            }
        )

    return _transform


def order_columns(df: DataFrame) -> DataFrame:
    """Known columns first, extra columns after them, partition columns last."""
    known = [c for c in CURATED_COLUMN_ORDER if c in df.columns]
    tail = [c for c in PARTITION_TAIL if c in df.columns]
    extra = [c for c in df.columns if c not in known and c not in tail]
    return df.select(*known, *extra, *tail)


def transform_orders(
    df: DataFrame, regions: DataFrame, dataset: DatasetConfig, run_date: date
) -> DataFrame:
    """Cleanse, standardise, enrich, apply business rules and PII masking, partition."""
    pii_left = tuple(c for c in dataset.pii_columns if c != dataset.email_column)
    # Row filters on untouched raw values commute with dropping exact duplicates, so they
    # run first: the de-duplication shuffle then moves only the rows that can survive.
    return (
        df.transform(drop_null_ids(dataset.id_column))
        .transform(keep_statuses(dataset.valid_statuses))
        .transform(drop_exact_duplicates)
        .transform(cast_id(dataset.id_column))
        .transform(standardize_names)
        .transform(cast_to_double(dataset.numeric_columns))
        .transform(parse_timestamp(dataset.timestamp_column, dataset.timestamp_format))
        .transform(keep_recent(dataset.timestamp_column, run_date, dataset.retention_days))
        .transform(add_total_amount)
        .transform(
            add_amount_category(dataset.amount_category_bounds, dataset.amount_category_default)
        )
        .transform(add_region_name(regions))
        .transform(
            mask_email(
                dataset.email_column, dataset.email_mask_pattern, dataset.email_mask_replacement
            )
        )
        .transform(drop_columns(pii_left))
        .transform(add_partition_columns(run_date, dataset.timestamp_column))
        .transform(order_columns)
    )
