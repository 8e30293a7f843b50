"""The transform: a dataset's rules as pure ``DataFrame -> DataFrame`` steps, composed in order.

Each rule of ``dataset.yaml`` maps to one configurable step here (a higher-order function
returning a transform, so steps chain with ``df.transform(...)``); ``transform_dataset``
composes them in the order below. No step triggers a Spark action.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl.core.conventions import DATA_PERIOD_COLUMNS, PROCESS_PARTITIONS
from etl.core.errors import EtlError
from etl.core.spec import Column, ComposedTimestamp, DatasetSpec, Pii, Reference

Transform = Callable[[DataFrame], DataFrame]
PARTITION_TAIL = (*DATA_PERIOD_COLUMNS, *PROCESS_PARTITIONS)
TIMESTAMP_PARTS = ("year", "month", "day", "hour", "minute", "second")


def _require(df: DataFrame, *columns: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"column {missing[0]!r} is required but missing; columns: {df.columns}")


def nulls_for_markers(markers: Sequence[str], columns: Sequence[str]) -> Transform:
    """Text values such as ``NA`` or ``N/A`` become null in the given text columns."""

    def _transform(df: DataFrame) -> DataFrame:
        present = [c for c in columns if c in df.columns]
        if not markers or not present:
            return df
        return df.withColumns(
            {c: F.when(F.col(c).isin(list(markers)), None).otherwise(F.col(c)) for c in present}
        )

    return _transform


def add_missing_columns(columns: Sequence[Column]) -> Transform:
    """Declared columns a file lacks are added as nulls (required ones fail discovery)."""

    def _transform(df: DataFrame) -> DataFrame:
        missing = {c.name: F.lit(None).cast(c.type) for c in columns if c.name not in df.columns}
        return df.withColumns(missing) if missing else df

    return _transform


def drop_null_keys(key: Sequence[str]) -> Transform:
    """Rows with a null in any key column are dropped."""

    def _transform(df: DataFrame) -> DataFrame:
        _require(df, *key)
        condition = F.lit(True)
        for column in key:
            condition = condition & F.col(column).isNotNull()
        return df.where(condition)

    return _transform


def normalised(column: Column) -> SparkColumn:
    """The column's value after its ``normalize`` rules (trim, case)."""
    value = F.col(column.name)
    if column.trim:
        value = F.trim(value)
    if column.case == "upper":
        value = F.upper(value)
    elif column.case == "lower":
        value = F.lower(value)
    return value


def keep_accepted_values(column: Column) -> Transform:
    """Keep rows whose (normalised) value is one of the column's accepted values."""

    def _transform(df: DataFrame) -> DataFrame:
        _require(df, column.name)
        return df.where(normalised(column).isin(list(column.accepted_values)))

    return _transform


def drop_exact_duplicates(df: DataFrame) -> DataFrame:
    """Drop records that repeat another record in every column."""
    return df.dropDuplicates()


def drop_duplicates(mode: str, key: Sequence[str]) -> Transform:
    """``exact``: identical records; ``key``: one record per key; ``none``: keep all."""

    def _transform(df: DataFrame) -> DataFrame:
        if mode == "exact":
            return drop_exact_duplicates(df)
        if mode == "key":
            return df.dropDuplicates(list(key))
        return df

    return _transform


def normalise_text(columns: Sequence[Column]) -> Transform:
    """Apply each column's ``normalize`` rules (e.g. names trimmed and upper-cased)."""

    def _transform(df: DataFrame) -> DataFrame:
        rules = [c for c in columns if c.normalises]
        _require(df, *(c.name for c in rules))
        return df.withColumns({c.name: normalised(c) for c in rules}) if rules else df

    return _transform


def parse_timestamp(column: str, pattern: str, type_name: str = "timestamp") -> Transform:
    """Parse a text date/timestamp with ``pattern``; unparseable values become null."""

    def _transform(df: DataFrame) -> DataFrame:
        _require(df, column)
        text = F.col(column).cast("string")
        parse = F.to_date if type_name == "date" else F.to_timestamp
        return df.withColumn(column, parse(text, pattern))

    return _transform


def cast_columns(columns: Sequence[Column]) -> Transform:
    """Cast typed columns (strings included in the input: ``"3"`` -> 3.0); values that do
    not cast become null. Dates and timestamps with a ``format`` are parsed with it."""

    def _transform(df: DataFrame) -> DataFrame:
        typed = [c for c in columns if c.type != "string" and not c.format]
        _require(df, *(c.name for c in typed))
        df = df.withColumns({c.name: F.col(c.name).cast(c.type) for c in typed}) if typed else df
        for column in (c for c in columns if c.format):
            df = df.transform(parse_timestamp(column.name, column.format, column.type))
        return df

    return _transform


def compose_timestamps(timestamps: Sequence[ComposedTimestamp]) -> Transform:
    """New timestamp columns from parts (year, month, day[, hour, minute, second])."""

    def _transform(df: DataFrame) -> DataFrame:
        composed = {}
        for stamp in timestamps:
            _require(df, *stamp.parts.values())
            parts = [
                F.col(stamp.parts[p]).cast("int") if p in stamp.parts else F.lit(0)
                for p in TIMESTAMP_PARTS
            ]
            composed[stamp.name] = F.make_timestamp(*parts)
        return df.withColumns(composed) if composed else df

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


def derive_columns(derived: dict[str, str]) -> Transform:
    """New columns from Spark SQL expressions, in order (later ones may use earlier ones)."""

    def _transform(df: DataFrame) -> DataFrame:
        for name, expression in derived.items():
            df = df.withColumn(name, F.expr(expression))
        return df

    return _transform


def join_reference(table: DataFrame, reference: Reference) -> Transform:
    """Left-join the reference table's columns on its key (broadcast: reference tables are
    small); rows with an unknown key get nulls. The input's columns keep their order.

    The key is matched with the feed's ``join_on`` columns and the joined columns take their
    curated names (``rename``), so the same table can serve feeds that name things otherwise.
    """

    def _transform(df: DataFrame) -> DataFrame:
        _require(df, *reference.feed_key)
        pairs = zip(reference.key, reference.feed_key, strict=True)
        names = zip(reference.columns, reference.curated_columns, strict=True)
        lookup = F.broadcast(
            table.select(
                *[F.col(k).alias(o) for k, o in pairs], *[F.col(c).alias(n) for c, n in names]
            )
        )
        joined = df.join(lookup, on=list(reference.feed_key), how="left")
        return joined.select(*df.columns, *reference.curated_columns)

    return _transform


def apply_pii(rules: Sequence[Pii]) -> Transform:
    """Mask, hash or drop PII columns; the raw value is never kept.

    ``mask`` writes ``<column>_masked`` (by default ``alice@x.com`` -> ``al***@x.com``) and
    ``hash`` writes ``<column>_hash`` (SHA-256). A feed without the column gets a null one.
    """

    def _transform(df: DataFrame) -> DataFrame:
        for rule in rules:
            present = rule.column in df.columns
            value = F.col(rule.column) if present else F.lit(None).cast("string")
            if rule.treatment == "mask":
                df = df.withColumn(
                    rule.output, F.regexp_replace(value, rule.pattern, rule.replacement)
                )
            elif rule.treatment == "hash":
                df = df.withColumn(rule.output, F.sha2(value.cast("string"), 256))
            if present:
                df = df.drop(rule.column)
        return df

    return _transform


def add_partition_columns(run_date: date, time_column: str | None) -> Transform:
    """``process_year/month/day`` from the run date; ``data_year/month`` from the data."""

    def _transform(df: DataFrame) -> DataFrame:
        columns = dict(
            zip(PROCESS_PARTITIONS, (run_date.year, run_date.month, run_date.day), strict=True)
        )
        process = {name: F.lit(value) for name, value in columns.items()}
        if time_column is None:
            return df.withColumns(process)
        _require(df, time_column)
        period = dict(
            zip(DATA_PERIOD_COLUMNS, (F.year(time_column), F.month(time_column)), strict=True)
        )
        return df.withColumns({**period, **process})

    return _transform


def order_columns(column_order: Sequence[str]) -> Transform:
    """Declared columns first, the others after them, partition columns last."""

    def _transform(df: DataFrame) -> DataFrame:
        known = [c for c in column_order if c in df.columns]
        tail = [c for c in PARTITION_TAIL if c in df.columns]
        extra = [c for c in df.columns if c not in known and c not in tail]
        return df.select(*known, *extra, *tail)

    return _transform


def transform_dataset(
    df: DataFrame,
    dataset: DatasetSpec,
    run_date: date,
    references: dict[str, DataFrame] | None = None,
    steps: Sequence[Transform] = (),
) -> DataFrame:
    """Cleanse, standardise, enrich, apply business rules and PII treatment, partition.

    ``references`` maps each reference table's name to its DataFrame; ``steps`` are the
    dataset's own ``steps.py`` functions, run after the reference joins.
    """
    references = references or {}
    text = [c.name for c in dataset.columns if c.type == "string" or c.format]
    accepted = [c for c in dataset.columns if c.accepted_values]
    # Row filters on untouched raw values commute with dropping exact duplicates, so they
    # run first: the de-duplication shuffle then moves only the rows that can survive.
    df = (
        df.transform(nulls_for_markers(dataset.null_markers, text))
        .transform(add_missing_columns(dataset.columns))
        .transform(drop_null_keys(dataset.key))
    )
    for column in accepted:
        df = df.transform(keep_accepted_values(column))
    df = (
        df.transform(drop_duplicates(dataset.deduplicate, dataset.key))
        .transform(cast_columns(dataset.columns))
        .transform(normalise_text(dataset.columns))
        .transform(compose_timestamps(dataset.timestamps))
    )
    if dataset.time_column and dataset.retention_days:
        df = df.transform(keep_recent(dataset.time_column, run_date, dataset.retention_days))
    df = df.transform(derive_columns(dataset.derived))
    for reference in dataset.references:
        df = df.transform(join_reference(references[reference.table], reference))
    for step in steps:
        df = df.transform(step)
    return (
        df.transform(apply_pii(dataset.pii))
        .transform(add_partition_columns(run_date, dataset.time_column))
        .transform(order_columns(dataset.column_order))
    )


def dataset_steps(dataset: DatasetSpec) -> list[Transform]:
    """The functions ``steps`` names, from the dataset folder's ``steps.py``.

    The module is read as text and executed (``importlib`` cannot import a file from inside
    the package zip Glue runs), once per job.
    """
    if not dataset.steps:
        return []
    path = dataset.folder.joinpath("steps.py")
    module = types.ModuleType(f"etl_dataset_{dataset.name}_steps")
    module.__file__ = str(path)
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), module.__dict__)
    missing = [name for name in dataset.steps if not callable(getattr(module, name, None))]
    if missing:
        raise EtlError(
            f"dataset {dataset.name!r}: steps.py has no function {missing[0]!r} "
            f"(named in dataset.yaml steps)"
        )
    return [getattr(module, name) for name in dataset.steps]
