"""The transform: a dataset's rules as pure ``DataFrame -> DataFrame`` steps, composed in order.

Each rule of ``dataset.yaml`` maps to one configurable step here (a higher-order function
returning a transform, so steps chain with ``df.transform(...)``). No step triggers a Spark
action.

Conservation: every raw record ends in exactly one place. ``check_records`` drops exact
duplicates and marks each remaining record with the first rule it breaks
(``_rejected_by``, null when it breaks none); ``curate`` turns the unmarked records into
the curated table and ``quarantine_records`` keeps the marked ones, as text, with their
rule. The rules, in the order they are checked:

* ``null_key:<column>``: a key column is null (or a null marker);
* ``accepted_values:<column>``: the value, after the column's ``normalize``, is not one of
  its ``accepted_values`` (a null is not accepted);
* ``cast:<column>``: a non-null value that does not cast to the column's ``type`` (``"abc"``
  for a double; ``1.5`` for a bigint), never a silent null;
* ``format:<column>``: a non-null text date/timestamp that does not parse with its
  ``format``, or a composed timestamp whose parts make no date (``2026-02-30``);
* ``retention``: the ``time_column`` is null or outside the ``retention`` window;
* ``duplicate_key`` (``deduplicate: key`` only): another record of the same key is kept.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame, Observation, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.core.conventions import (
    DATA_PERIOD_COLUMNS,
    PROCESS_PARTITIONS,
    QUARANTINE_COLUMNS,
    RESERVED_COLUMNS,
    RULE_COLUMN,
)
from etl.core.errors import EtlError
from etl.core.spec import Column, ComposedTimestamp, DatasetSpec, Pii, Reference
from etl.stages.names import all_named, named

Transform = Callable[[DataFrame], DataFrame]
PARTITION_TAIL = (*DATA_PERIOD_COLUMNS, *PROCESS_PARTITIONS)
TIMESTAMP_PARTS = ("year", "month", "day", "hour", "minute", "second")
INTEGRAL_TYPES = ("tinyint", "smallint", "int", "bigint")

REJECTED_BY = "_rejected_by"  # the first rule a record breaks; null when it breaks none
QUARANTINE_PARTITIONS = (*PROCESS_PARTITIONS, RULE_COLUMN)
DUPLICATE_KEY = "duplicate_key"
MASK = "***"


def _require(df: DataFrame, *columns: str) -> None:
    have = set(df.columns)
    missing = [c for c in columns if c not in have]
    if missing:
        raise ValueError(f"column {missing[0]!r} is required but missing; columns: {df.columns}")


def nulls_for_markers(markers: Sequence[str], columns: Sequence[str]) -> Transform:
    """Text values such as ``NA`` or ``N/A`` become null in the given text columns."""

    def _transform(df: DataFrame) -> DataFrame:
        have = set(df.columns)
        present = [c for c in columns if c in have]
        if not markers or not present:
            return df
        return df.withColumns(
            {c: F.when(named(c).isin(list(markers)), None).otherwise(named(c)) for c in present}
        )

    return _transform


def add_missing_columns(columns: Sequence[Column]) -> Transform:
    """Declared columns a file lacks are added as nulls (required ones fail discovery)."""

    def _transform(df: DataFrame) -> DataFrame:
        have = set(df.columns)
        missing = {c.name: F.lit(None).cast(c.type) for c in columns if c.name not in have}
        return df.withColumns(missing) if missing else df

    return _transform


def normalised(column: Column, value: SparkColumn | None = None) -> SparkColumn:
    """The column's value (or ``value``) after its ``normalize`` rules (trim, case)."""
    value = named(column.name) if value is None else value
    if column.trim:
        value = F.trim(value)
    if column.case == "upper":
        value = F.upper(value)
    elif column.case == "lower":
        value = F.lower(value)
    return value


def normalise_text(columns: Sequence[Column]) -> Transform:
    """Apply each column's ``normalize`` rules (e.g. names trimmed and upper-cased)."""

    def _transform(df: DataFrame) -> DataFrame:
        rules = [c for c in columns if c.normalises]
        _require(df, *(c.name for c in rules))
        return df.withColumns({c.name: normalised(c) for c in rules}) if rules else df

    return _transform


def typed_value(column: Column, value: SparkColumn | None = None) -> SparkColumn:
    """The column's value (or ``value``) as its declared type: cast, or parsed with its
    ``format`` (a date or timestamp given as text). What does not convert is null."""
    value = named(column.name) if value is None else value
    if column.format:
        parse = F.to_date if column.type == "date" else F.to_timestamp
        return parse(value.cast("string"), column.format)
    if column.type == "string":
        return value
    return value.cast(column.type)


def cast_columns(columns: Sequence[Column]) -> Transform:
    """Cast typed columns (strings included in the input: ``"3"`` -> 3.0) and parse dates
    and timestamps with their ``format``. Records whose values do not convert were
    quarantined by ``check_records``; on other input such values become null."""

    def _transform(df: DataFrame) -> DataFrame:
        typed = [c for c in columns if c.type != "string" or c.format]
        _require(df, *(c.name for c in typed))
        return df.withColumns({c.name: typed_value(c) for c in typed}) if typed else df

    return _transform


def compose_timestamps(timestamps: Sequence[ComposedTimestamp]) -> Transform:
    """New timestamp columns from parts (year, month, day[, hour, minute, second])."""

    def _transform(df: DataFrame) -> DataFrame:
        composed = {}
        for stamp in timestamps:
            _require(df, *stamp.parts.values())
            composed[stamp.name] = composed_timestamp(stamp, {})
        return df.withColumns(composed) if composed else df

    return _transform


def composed_timestamp(stamp: ComposedTimestamp, values: dict[str, SparkColumn]) -> SparkColumn:
    """``make_timestamp`` of the parts (``values`` by column name, else the columns); a
    missing hour, minute or second is 0. Parts that make no date give null."""
    parts = [
        (values.get(stamp.parts[p], named(stamp.parts[p]))).cast("int")
        if p in stamp.parts
        else F.lit(0)
        for p in TIMESTAMP_PARTS
    ]
    return F.make_timestamp(*parts)


def retention_window(run_date: date, days: int) -> tuple[datetime, datetime]:
    """``[start, end)``: the ``days`` days up to the end of ``run_date``."""
    end = datetime.combine(run_date + timedelta(days=1), datetime.min.time())
    start = datetime.combine(run_date - timedelta(days=days), datetime.min.time())
    return start, end


def derive_columns(derived: dict[str, str]) -> Transform:
    """New columns from Spark SQL expressions, in order (later ones may use earlier ones)."""

    def _transform(df: DataFrame) -> DataFrame:
        for name, expression in derived.items():
            df = df.withColumn(name, F.expr(expression))
        return df

    return _transform


def join_reference(table: DataFrame, reference: Reference, found: str | None = None) -> Transform:
    """Left-join the reference table's columns on its key (broadcast: reference tables are
    small); rows with an unknown key get nulls. The input's columns keep their order.

    The key is matched with the feed's ``join_on`` columns and the joined columns take their
    curated names (``rename``), so the same table can serve feeds that name things otherwise.
    ``found`` names an added column, true where the key was found (null where not).
    """

    def _transform(df: DataFrame) -> DataFrame:
        _require(df, *reference.feed_key)
        pairs = zip(reference.key, reference.feed_key, strict=True)
        names = zip(reference.columns, reference.curated_columns, strict=True)
        marker = [F.lit(True).alias(found)] if found else []
        lookup = F.broadcast(
            table.select(
                *[named(k).alias(o) for k, o in pairs],
                *[named(c).alias(n) for c, n in names],
                *marker,
            )
        )
        joined = df.join(lookup, on=list(reference.feed_key), how="left")
        kept = [*df.columns, *reference.curated_columns, *([found] if found else [])]
        return joined.select(*all_named(kept))

    return _transform


def join_references(
    dataset: DatasetSpec, references: dict[str, DataFrame], unmatched: Observation | None = None
) -> Transform:
    """Every reference join of the dataset, in order. With ``unmatched``, the Observation
    counts, per join (``lookup_labels``), the rows whose key the table does not know (a null
    key aside): rows that get nulls for its columns, which nothing else would tell."""

    def _transform(df: DataFrame) -> DataFrame:
        found = _unused_names(df, "_found_", len(dataset.references)) if unmatched else []
        for index, reference in enumerate(dataset.references):
            marker = found[index] if unmatched else None
            df = df.transform(join_reference(references[reference.table], reference, marker))
        if not unmatched or not dataset.references:
            return df
        misses = []
        labels = lookup_labels(dataset.references)
        for reference, marker, label in zip(dataset.references, found, labels, strict=True):
            keyed = F.lit(True)
            for key in reference.feed_key:
                keyed = keyed & named(key).isNotNull()
            missed = F.when(keyed & F.col(marker).isNull(), 1).otherwise(0)
            misses.append(F.sum(missed).alias(label))
        return df.observe(unmatched, *misses).drop(*found)

    return _transform


def lookup_labels(references: Sequence[Reference]) -> list[str]:
    """Each reference join's name in the counts of ``join_references``: its table, or, for
    a table joined more than once (airports on origin and on dest), the table and the feed's
    key (``airports on dest``): an Observation keeps one value per name."""
    tables = [r.table for r in references]
    return [
        f"{r.table} on {'/'.join(r.feed_key)}" if tables.count(r.table) > 1 else r.table
        for r in references
    ]


def mask_email(value: SparkColumn) -> SparkColumn:
    """The default mask: never a whole local part, and not its length.

    The first character of the local part is kept when the local part has two or more
    characters, the rest becomes ``***``; the domain is kept: ``alice@x.com`` ->
    ``a***@x.com``, ``ab@x.com`` -> ``a***@x.com``, ``a@x.com`` -> ``***@x.com``. A value
    without ``@`` becomes ``***``; null stays null. The local part is everything before
    the last ``@``.
    """
    text = value.cast("string")
    local = F.regexp_extract(text, r"^(.*)@[^@]*$", 1)
    domain = F.substring_index(text, "@", -1)
    shown = F.when(F.char_length(local) >= 2, F.substring(local, 1, 1)).otherwise(F.lit(""))
    return (
        F.when(text.isNull(), F.lit(None).cast("string"))
        .when(~text.contains("@"), F.lit(MASK))
        .otherwise(F.concat(shown, F.lit(MASK + "@"), domain))
    )


def apply_pii(rules: Sequence[Pii]) -> Transform:
    """Mask, hash or drop PII columns; the raw value is never kept.

    ``mask`` writes ``<column>_masked`` (``mask_email``, or the rule's own ``pattern`` and
    ``replacement``) and ``hash`` writes ``<column>_hash`` (SHA-256 of the text). A feed
    without the column gets a null one.
    """

    def _transform(df: DataFrame) -> DataFrame:
        for rule in rules:
            present = rule.column in df.columns
            value = named(rule.column) if present else F.lit(None).cast("string")
            if rule.treatment == "mask":
                masked = (
                    mask_email(value)
                    if rule.pattern is None
                    else F.regexp_replace(
                        value.cast("string"), rule.pattern, rule.replacement or ""
                    )
                )
                df = df.withColumn(rule.output, masked)
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
        time = named(time_column)
        period = dict(zip(DATA_PERIOD_COLUMNS, (F.year(time), F.month(time)), strict=True))
        return df.withColumns({**period, **process})

    return _transform


def order_columns(column_order: Sequence[str]) -> Transform:
    """Declared columns first, the others after them, partition columns last."""

    def _transform(df: DataFrame) -> DataFrame:
        columns = df.columns
        have = set(columns)
        known = [c for c in column_order if c in have]
        tail = [c for c in PARTITION_TAIL if c in have]
        placed = {*known, *tail}
        extra = [c for c in columns if c not in placed]
        return df.select(*all_named([*known, *extra, *tail]))

    return _transform


def _without_markers(df: DataFrame, name: str, markers: Sequence[str]) -> SparkColumn:
    """The raw value, null when it is a null marker (markers apply to text values)."""
    value = named(name)
    if markers and isinstance(df.schema[name].dataType, T.StringType):
        return F.when(value.isin(list(markers)), F.lit(None)).otherwise(value)
    return value


def rejection_rules(
    df: DataFrame,
    dataset: DatasetSpec,
    run_date: date,
    computed: dict[str, SparkColumn] | None = None,
) -> list[tuple[str, SparkColumn]]:
    """``(rule, condition)`` for each rule of the dataset, in the order they are checked.

    Conditions are never null, and they read the raw values as ``curate`` converts them
    (null markers, casts, formats, composed timestamps), so a record passes here exactly
    when its curated values are what the rules allow. ``computed`` may give converted
    columns' values already computed (``converted_values``).
    """
    converted = [c for c in dataset.columns if c.type != "string" or c.format]
    accepted = [c for c in dataset.columns if c.accepted_values]
    _require(df, *dataset.key, *(c.name for c in (*accepted, *converted)))
    raw = {name: _without_markers(df, name, dataset.null_markers) for name in df.columns}
    typed = {c.name: typed_value(c, raw[c.name]) for c in dataset.columns if c.name in raw}
    typed |= computed or {}
    rules = [(f"null_key:{k}", raw[k].isNull()) for k in dataset.key]
    for column in accepted:
        allowed = normalised(column, raw[column.name]).isin(list(column.accepted_values))
        rules.append((f"accepted_values:{column.name}", ~F.coalesce(allowed, F.lit(False))))
    for column in converted:
        value, result = raw[column.name], typed[column.name]
        failed = value.isNotNull() & result.isNull()
        raw_type = df.schema[column.name].dataType
        if column.type in INTEGRAL_TYPES and not isinstance(raw_type, T.IntegralType):
            # Spark casts 1.5 (or "1.5") to the integer 1: a changed value, so a rejection.
            changed = value.cast("double") != result.cast("double")
            failed = failed | F.coalesce(changed, F.lit(False))
        rules.append((f"{'format' if column.format else 'cast'}:{column.name}", failed))
    for stamp in dataset.timestamps:
        _require(df, *stamp.parts.values())
        parts = {p: typed.get(p, raw[p]) for p in stamp.parts.values()}
        typed[stamp.name] = composed_timestamp(stamp, parts)
        complete = F.lit(True)
        for part in parts.values():
            complete = complete & part.isNotNull()
        rules.append((f"format:{stamp.name}", complete & typed[stamp.name].isNull()))
    if dataset.time_column and dataset.retention_days:
        if dataset.time_column not in typed:
            _require(df, dataset.time_column)
        time = typed.get(dataset.time_column, raw.get(dataset.time_column))
        start, end = retention_window(run_date, dataset.retention_days)
        within = (time >= F.lit(start)) & (time < F.lit(end))
        rules.append(("retention", ~F.coalesce(within, F.lit(False))))
    return rules


def first_broken_rule(rules: Sequence[tuple[str, SparkColumn]]) -> SparkColumn:
    """One CASE expression: the name of the first rule whose condition holds, else null."""
    if not rules:
        return F.lit(None).cast("string")
    (name, condition), *rest = rules
    expression = F.when(condition, F.lit(name))
    for name, condition in rest:
        expression = expression.when(condition, F.lit(name))
    return expression


def converted_values(df: DataFrame, dataset: DatasetSpec) -> dict[str, SparkColumn]:
    """Each converted column's value (cast, or parsed with its ``format``) as ``curate``
    computes it: after the null markers."""
    markers, have = dataset.null_markers, set(df.columns)
    return {
        c.name: typed_value(c, _without_markers(df, c.name, markers))
        for c in dataset.columns
        if c.name in have and (c.type != "string" or c.format)
    }


def _unused_names(df: DataFrame, prefix: str, n: int) -> list[str]:
    """``n`` column names ``prefix<i>`` that ``df`` does not have (a feed may name anything)."""
    names, i, have = [], 0, set(df.columns)
    while len(names) < n:
        if f"{prefix}{i}" not in have:
            names.append(f"{prefix}{i}")
        i += 1
    return names


def mark_rejections(dataset: DatasetSpec, run_date: date) -> Transform:
    """Add ``_rejected_by``: the first rule the record breaks (null if none), computed in
    one projection from the record's own values.

    Each converted value is computed once, in a projection before the rules, though several
    rules read it (a parsed timestamp: its format rule and the retention window); a parse
    costs more than the rest of the check.
    """

    def _transform(df: DataFrame) -> DataFrame:
        values = converted_values(df, dataset)
        hidden = dict(zip(values, _unused_names(df, "_converted_", len(values)), strict=True))
        with_values = df.withColumns({hidden[name]: value for name, value in values.items()})
        computed = {name: F.col(column) for name, column in hidden.items()}
        rule = first_broken_rule(rejection_rules(with_values, dataset, run_date, computed))
        return with_values.withColumn(REJECTED_BY, rule).drop(*hidden.values())

    return _transform


def keep_one_per_key(key: Sequence[str], order: Sequence[SparkColumn] = ()) -> Transform:
    """On marked records: drop exact duplicates, and mark every passing record of a key but
    the first ``duplicate_key``. The first is a passing record, then by ``order``.

    One window over the key does both: sorting a key's records by all their values puts
    exact copies next to each other.
    """

    def _transform(df: DataFrame) -> DataFrame:
        values = [c for c in df.columns if c != REJECTED_BY]
        passing = F.col(REJECTED_BY).isNull()
        window = Window.partitionBy(*[named(k) for k in key]).orderBy(
            passing.desc(), *order, *[named(c).asc_nulls_first() for c in values]
        )
        record = F.struct(*[named(c) for c in values])
        repeated = F.coalesce(record.eqNullSafe(F.lag(record).over(window)), F.lit(False))
        first = F.row_number().over(window) == 1
        marked = df.withColumns({"_repeated": repeated, "_first": first})
        extra = F.col(REJECTED_BY).isNull() & ~F.col("_first")
        return (
            marked.where(~F.col("_repeated"))
            .withColumn(
                REJECTED_BY, F.when(extra, F.lit(DUPLICATE_KEY)).otherwise(F.col(REJECTED_BY))
            )
            .drop("_repeated", "_first")
        )

    return _transform


def refuse_reserved_names(columns: Sequence[str], dataset: DatasetSpec) -> None:
    """A feed column named like one the lake's tables add (``RESERVED_COLUMNS``) would be
    overwritten in curated, its values lost without a word: refuse it, naming it. In
    curated, a ``curated_name`` may move it aside; the quarantine keeps the feed's names."""
    in_quarantine = {RULE_COLUMN, *QUARANTINE_COLUMNS, *PROCESS_PARTITIONS}
    in_curated = {*DATA_PERIOD_COLUMNS, *PROCESS_PARTITIONS}
    curated = dataset.curated_names()
    clash = [c for c in columns if c in in_quarantine or curated.get(c, c) in in_curated]
    if clash:
        remedy = "" if clash[0] in in_quarantine else " (or give it another curated_name)"
        raise ValueError(
            f"column {clash[0]!r} of dataset {dataset.name!r} has a name the lake's tables "
            f"use themselves ({', '.join(RESERVED_COLUMNS)}); rename it in the feed{remedy}"
        )


def refuse_pii_lookalikes(columns: Sequence[str], dataset: DatasetSpec) -> None:
    """A PII column the file lacks while it has one differing only in case or surrounding
    spaces (`` Email``) would pass through untreated: refuse it, naming both."""
    for rule in dataset.pii:
        if rule.column in columns:
            continue
        twin = next((c for c in columns if c.strip().lower() == rule.column.strip().lower()), None)
        if twin is not None:
            raise ValueError(
                f"dataset {dataset.name!r} treats PII column {rule.column!r}, but the file "
                f"has {twin!r} instead; name the column in the spec as the file writes it"
            )


def check_records(
    df: DataFrame, dataset: DatasetSpec, run_date: date, distinct: bool = False
) -> DataFrame:
    """The raw records, de-duplicated and marked with ``_rejected_by``: what ``curate`` and
    ``quarantine_records`` split. Values stay as read.

    ``deduplicate: exact`` drops every copy of a record but one (what the quality profile
    counts as duplicates), before the rules, so only distinct records are checked;
    ``key`` also marks the extra passing records of a key ``duplicate_key`` (the newest by
    ``time_column`` is kept); ``none`` keeps every record. At most one shuffle; none with
    ``distinct`` (the records are distinct already, e.g. grouped by the quality profile).
    """
    # The file's columns and the declared ones it lacks (added as nulls below): every column
    # curated and the quarantine will hold.
    refuse_reserved_names([*df.columns, *(c.name for c in dataset.columns)], dataset)
    refuse_pii_lookalikes(df.columns, dataset)
    df = df.transform(add_missing_columns(dataset.columns))
    if dataset.deduplicate == "exact":
        unique = df if distinct else df.dropDuplicates()
        return unique.transform(mark_rejections(dataset, run_date))
    marked = df.transform(mark_rejections(dataset, run_date))
    if dataset.deduplicate != "key":
        return marked
    newest_first = [_time_value(dataset).desc_nulls_last()] if dataset.time_column else []
    return marked.transform(keep_one_per_key(dataset.key, newest_first))


def _time_value(dataset: DatasetSpec) -> SparkColumn:
    """The record's ``time_column`` as its type: declared, composed or as read."""
    declared = dataset.column(dataset.time_column)
    if declared:
        return typed_value(declared)
    stamp = next((t for t in dataset.timestamps if t.name == dataset.time_column), None)
    return composed_timestamp(stamp, {}) if stamp else named(dataset.time_column)


def curate(
    checked: DataFrame,
    dataset: DatasetSpec,
    run_date: date,
    references: dict[str, DataFrame] | None = None,
    steps: Sequence[Transform] = (),
    unmatched: Observation | None = None,
) -> DataFrame:
    """The curated table from ``check_records``' output: the records that break no rule,
    cleansed, standardised, enriched, PII-treated and partitioned.

    ``references`` maps each reference table's name to its DataFrame (``unmatched``, if
    given, counts the rows each does not know: ``join_references``); ``steps`` are the
    dataset's own ``steps.py`` functions, run after the reference joins. Steps must keep
    every row (the job checks that every record is accounted for). Every step names the
    feed's columns until, after the PII treatment, they take their ``curated_name``; the
    partition columns and ``column_order`` then name the curated ones.
    """
    references = references or {}
    text = [c.name for c in dataset.columns if c.type == "string" or c.format]
    df = (
        checked.where(F.col(REJECTED_BY).isNull())
        .drop(REJECTED_BY)
        .transform(nulls_for_markers(dataset.null_markers, text))
        .transform(cast_columns(dataset.columns))
        .transform(normalise_text(dataset.columns))
        .transform(compose_timestamps(dataset.timestamps))
        .transform(derive_columns(dataset.derived))
    )
    df = df.transform(join_references(dataset, references, unmatched))
    for step in steps:
        df = df.transform(step)
    time_column = dataset.curated(dataset.time_column) if dataset.time_column else None
    return (
        df.transform(apply_pii(dataset.pii))
        .transform(rename_for_curated(dataset.curated_names()))
        .transform(add_partition_columns(run_date, time_column))
        .transform(order_columns(dataset.curated_order()))
    )


def rename_for_curated(names: dict[str, str]) -> Transform:
    """The feed's columns (and their PII outputs) under their curated names; a name another
    column already has (in any case: Spark, the Glue catalog and Athena ignore it) is an
    error, not a second column of that name."""

    def _transform(df: DataFrame) -> DataFrame:
        columns = df.columns
        have = set(columns)
        present = {old: new for old, new in names.items() if old in have}
        for old, new in present.items():
            same = [c for c in columns if present.get(c, c).lower() == new.lower()]
            if len(same) > 1:
                other = next(c for c in same if c != old)
                raise ValueError(
                    f"curated_name {new!r} of column {old!r} is also the curated name of "
                    f"column {other!r} (Spark, the Glue catalog and Athena ignore case); "
                    "give one of them another curated_name"
                )
        return df.withColumnsRenamed(present) if present else df

    return _transform


def _as_text(df: DataFrame, name: str) -> SparkColumn:
    data_type = df.schema[name].dataType
    if isinstance(data_type, T.StructType | T.ArrayType | T.MapType):
        return F.to_json(named(name))
    if isinstance(data_type, T.BinaryType):
        return F.base64(named(name))
    return named(name).cast("string")


def quarantine_records(
    checked: DataFrame, dataset: DatasetSpec, run_date: date, source_key: str, run_id: str
) -> DataFrame:
    """The rejected records from ``check_records``' output: each value as text, as read
    (PII columns only after their treatment), the ``rule`` it broke, the source key and
    the run id, partitioned by processing date and rule."""
    # Declared columns first, in the spec's order; then whatever else the file had.
    columns = checked.columns
    have = set(columns)
    declared = [c.name for c in dataset.columns if c.name in have]
    values = declared + [c for c in columns if c not in {*declared, REJECTED_BY}]
    text = checked.where(F.col(REJECTED_BY).isNotNull()).select(
        *[_as_text(checked, c).alias(c) for c in values], F.col(REJECTED_BY).alias(RULE_COLUMN)
    )
    treated = text.transform(apply_pii(dataset.pii))
    recorded = treated.withColumns({"source_key": F.lit(source_key), "run_id": F.lit(run_id)})
    partitioned = recorded.transform(add_partition_columns(run_date, None))
    data = [c for c in treated.columns if c != RULE_COLUMN]
    return partitioned.select(*all_named([*data, *QUARANTINE_COLUMNS, *QUARANTINE_PARTITIONS]))


def transform_dataset(
    df: DataFrame,
    dataset: DatasetSpec,
    run_date: date,
    references: dict[str, DataFrame] | None = None,
    steps: Sequence[Transform] = (),
) -> DataFrame:
    """The curated table straight from raw records (``check_records`` then ``curate``)."""
    return curate(check_records(df, dataset, run_date), dataset, run_date, references, steps)


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
