"""Profile a sample file with DuckDB: the facts ``etl datasets new`` proposes a spec from.

Text formats (CSV, JSON) are read with every value as text, so a column's type is decided
from what its values look like, the way the pipeline's casts will see them: one aggregate
query counts, per column, the nulls, the null markers (``NA``, ``N/A``, ...), the distinct
values and how many values parse as each candidate type; Python then decides. The
candidates come from a small peek at the data (the first and some random rows), so the
full pass only tests what could fit. Parquet keeps the file's own types.

Nothing here starts Spark: onboarding a few hundred thousand rows takes seconds.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

# Text that means "no value" in exported files; an empty field is null in every reader.
NULL_MARKERS = ("NA", "N/A", "n/a", "#N/A", "NULL", "null", "None", "-", "")
INTEGER = r"[+-]?[0-9]+"
LEADING_ZERO = r"[+-]?0[0-9]+"  # codes such as '01' stay text
DECIMAL = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
# A double keeps 15 significant digits exactly; a number with more is proposed as
# decimal(38, s) (s: the most digits after the point), or text if it needs more than 38.
DOUBLE_DIGITS = 15
DECIMAL_DIGITS = 38
BOOLEANS = ("true", "false", "t", "f", "yes", "no", "y", "n")
EMAIL = r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
NESTED_EMAIL = f'"{EMAIL}"'  # a whole JSON string inside a nested value
PHONE = r"\+?[0-9(][0-9 ().-]{5,20}[0-9]"
PHONE_DIGITS = (7, 15)
PEEK_ROWS = 1000
AGGREGATES_PER_QUERY = 64  # see _aggregate
# What a spreadsheet writes in the first cell of a totals line below the data.
TOTAL_WORDS = ("total", "totals", "grand total", "subtotal", "sum")
KEY_SUBSET_ROWS = 20_000
KEY_CANDIDATE_COLUMNS = 12
KEY_MAX_COMBINATIONS = 400
KEY_MAX_COLUMNS = 4
IN_SET_MAX_VALUES = 20

# DuckDB's types read from Parquet, as the Spark types the spec declares.
PARQUET_TYPES = {
    "BOOLEAN": "boolean",
    "TINYINT": "tinyint",
    "SMALLINT": "smallint",
    "INTEGER": "int",
    "BIGINT": "bigint",
    "UTINYINT": "smallint",
    "USMALLINT": "int",
    "UINTEGER": "bigint",
    "UBIGINT": "decimal(20,0)",
    "HUGEINT": "decimal(38,0)",
    "FLOAT": "float",
    "DOUBLE": "double",
    "VARCHAR": "string",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamp",
    "TIMESTAMP_MS": "timestamp",
    "TIMESTAMP_S": "timestamp",
    "TIMESTAMP_NS": "timestamp",
    "TIMESTAMPTZ": "timestamp",
    "TIMESTAMPTZ_NS": "timestamp",  # pandas' tz-aware datetimes
}
NUMERIC_TYPES = ("tinyint", "smallint", "int", "bigint", "float", "double")


def parquet_type(source_type: str) -> str:
    """The Spark type of a Parquet column as DuckDB names it (``DECIMAL(10,2)`` included);
    empty for a nested one."""
    decimal = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", source_type)
    if decimal:
        return f"decimal({decimal[1]},{decimal[2]})"
    return PARQUET_TYPES.get(source_type, "")


def is_numeric(spark_type: str) -> bool:
    return spark_type in NUMERIC_TYPES or spark_type.startswith("decimal(")


@dataclass(frozen=True)
class DatetimePattern:
    """A text date/timestamp layout: how to recognise it, check it, and parse it in Spark."""

    type: str  # "timestamp" | "date"
    regex: str  # the shape every value must have (Spark's parser is strict about widths)
    duckdb: str  # strptime format that checks the values are real dates
    spark: str  # the Spark datetime pattern written to the spec

    def parses(self, column: str) -> str:
        """A DuckDB expression, non-null when ``column`` parses with this pattern as Spark
        would parse it: Spark reads a two-digit year as 2000-2099, DuckDB 69-99 as 19xx, so
        a ``85`` (a birth year?) is no match rather than a date a century off."""
        value = f"regexp_replace({column}, 'Z$', '+00:00')" if "%z" in self.duckdb else column
        parsed = f"try_strptime({value}, '{self.duckdb}')"
        if "%y" in self.duckdb:
            return f"CASE WHEN year({parsed}) >= 2000 THEN {parsed} END"
        return parsed


_D = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_T = r"[0-9]{2}:[0-9]{2}:[0-9]{2}"
_FRACTION = r"\.[0-9]{1,6}"
_ZONE = r"(Z|[+-][0-9]{2}:[0-9]{2})"
_D_FREE = "[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
_US = "[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}"
_T_FREE = "[0-9]{1,2}:[0-9]{2}:[0-9]{2}"
_HM_FREE = "[0-9]{1,2}:[0-9]{2}"
_AMPM = "(AM|PM)"
_MONTH = "[A-Za-z]{3}"  # Jan, NOV: English month names, any case (as Spark parses them)
# Tried in order; the first that every value fits wins (day-first and month-first layouts
# both fitting is reported as ambiguous).
DATETIME_PATTERNS = (
    DatetimePattern("timestamp", f"{_D} {_T}", "%Y-%m-%d %H:%M:%S", "yyyy-MM-dd HH:mm:ss"),
    DatetimePattern(
        "timestamp", f"{_D} {_T}{_FRACTION}", "%Y-%m-%d %H:%M:%S.%f", "yyyy-MM-dd HH:mm:ss.SSSSSS"
    ),
    DatetimePattern("timestamp", f"{_D}T{_T}", "%Y-%m-%dT%H:%M:%S", "yyyy-MM-dd'T'HH:mm:ss"),
    DatetimePattern(
        "timestamp",
        f"{_D}T{_T}{_FRACTION}",
        "%Y-%m-%dT%H:%M:%S.%f",
        "yyyy-MM-dd'T'HH:mm:ss.SSSSSS",
    ),
    DatetimePattern(
        "timestamp", f"{_D}T{_T}{_ZONE}", "%Y-%m-%dT%H:%M:%S%z", "yyyy-MM-dd'T'HH:mm:ssXXX"
    ),
    DatetimePattern(
        "timestamp",
        f"{_D}T{_T}{_FRACTION}{_ZONE}",
        "%Y-%m-%dT%H:%M:%S.%f%z",
        "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
    ),
    DatetimePattern(
        "timestamp", f"{_D} {_T}{_ZONE}", "%Y-%m-%d %H:%M:%S%z", "yyyy-MM-dd HH:mm:ssXXX"
    ),
    DatetimePattern(
        "timestamp", f"{_D} {_T} (UTC|GMT)", "%Y-%m-%d %H:%M:%S %Z", "yyyy-MM-dd HH:mm:ss z"
    ),
    DatetimePattern(
        "timestamp", f"{_D} {_T} [+-][0-9]{{4}}", "%Y-%m-%d %H:%M:%S %z", "yyyy-MM-dd HH:mm:ss Z"
    ),
    DatetimePattern(
        "timestamp", f"{_D} [0-9]{{2}}:[0-9]{{2}}", "%Y-%m-%d %H:%M", "yyyy-MM-dd HH:mm"
    ),
    DatetimePattern(
        "timestamp", f"{_D}T[0-9]{{2}}:[0-9]{{2}}", "%Y-%m-%dT%H:%M", "yyyy-MM-dd'T'HH:mm"
    ),
    DatetimePattern(
        "timestamp",
        f"[0-9]{{4}}/[0-9]{{2}}/[0-9]{{2}} {_T}",
        "%Y/%m/%d %H:%M:%S",
        "yyyy/MM/dd HH:mm:ss",
    ),
    DatetimePattern(
        "timestamp",
        "[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}",
        "%Y/%m/%d %H:%M",
        "yyyy/MM/dd HH:mm",
    ),
    DatetimePattern(
        "timestamp",
        f"[0-9]{{2}}/[0-9]{{2}}/[0-9]{{4}} {_T}",
        "%m/%d/%Y %H:%M:%S",
        "MM/dd/yyyy HH:mm:ss",
    ),
    DatetimePattern(
        "timestamp",
        f"[0-9]{{2}}/[0-9]{{2}}/[0-9]{{4}} {_T}",
        "%d/%m/%Y %H:%M:%S",
        "dd/MM/yyyy HH:mm:ss",
    ),
    # Month, day and hour without a leading zero, as spreadsheets write them (1/5/2026 3:04 PM):
    # Spark's one-letter fields take one or two digits. After the fixed widths above, so a
    # file that always pads keeps the pattern that says so.
    DatetimePattern("timestamp", f"{_D_FREE} {_T_FREE}", "%Y-%m-%d %H:%M:%S", "yyyy-M-d H:mm:ss"),
    DatetimePattern("timestamp", f"{_US} {_T_FREE}", "%m/%d/%Y %H:%M:%S", "M/d/yyyy H:mm:ss"),
    DatetimePattern("timestamp", f"{_US} {_T_FREE}", "%d/%m/%Y %H:%M:%S", "d/M/yyyy H:mm:ss"),
    DatetimePattern("timestamp", f"{_US} {_HM_FREE}", "%m/%d/%Y %H:%M", "M/d/yyyy H:mm"),
    DatetimePattern("timestamp", f"{_US} {_HM_FREE}", "%d/%m/%Y %H:%M", "d/M/yyyy H:mm"),
    DatetimePattern(
        "timestamp", f"{_US} {_T_FREE} {_AMPM}", "%m/%d/%Y %I:%M:%S %p", "M/d/yyyy h:mm:ss a"
    ),
    DatetimePattern(
        "timestamp", f"{_US} {_HM_FREE} {_AMPM}", "%m/%d/%Y %I:%M %p", "M/d/yyyy h:mm a"
    ),
    DatetimePattern("date", _D, "%Y-%m-%d", "yyyy-MM-dd"),
    DatetimePattern("date", "[0-9]{4}/[0-9]{2}/[0-9]{2}", "%Y/%m/%d", "yyyy/MM/dd"),
    DatetimePattern("date", "[0-9]{2}/[0-9]{2}/[0-9]{4}", "%m/%d/%Y", "MM/dd/yyyy"),
    DatetimePattern("date", "[0-9]{2}/[0-9]{2}/[0-9]{4}", "%d/%m/%Y", "dd/MM/yyyy"),
    DatetimePattern("date", r"[0-9]{2}\.[0-9]{2}\.[0-9]{4}", "%d.%m.%Y", "dd.MM.yyyy"),
    DatetimePattern("date", "[0-9]{2}-[0-9]{2}-[0-9]{4}", "%d-%m-%Y", "dd-MM-yyyy"),
    DatetimePattern("date", "[0-9]{2}-[0-9]{2}-[0-9]{4}", "%m-%d-%Y", "MM-dd-yyyy"),
    DatetimePattern("date", _D_FREE, "%Y-%m-%d", "yyyy-M-d"),
    DatetimePattern("date", _US, "%m/%d/%Y", "M/d/yyyy"),
    DatetimePattern("date", _US, "%d/%m/%Y", "d/M/yyyy"),
    DatetimePattern("date", r"[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{4}", "%d.%m.%Y", "d.M.yyyy"),
    DatetimePattern("date", "[0-9]{1,2}/[0-9]{1,2}/[0-9]{2}", "%m/%d/%y", "M/d/yy"),
    DatetimePattern("date", "[0-9]{1,2}/[0-9]{1,2}/[0-9]{2}", "%d/%m/%y", "d/M/yy"),
    # With the month's name: 01-Nov-2026, 01-NOV-26 (Oracle's default), 1 Nov 2026, Nov 1, 2026.
    DatetimePattern("date", f"[0-9]{{2}}-{_MONTH}-[0-9]{{4}}", "%d-%b-%Y", "dd-MMM-yyyy"),
    DatetimePattern("date", f"[0-9]{{2}}-{_MONTH}-[0-9]{{2}}", "%d-%b-%y", "dd-MMM-yy"),
    DatetimePattern("date", f"[0-9]{{1,2}} {_MONTH} [0-9]{{4}}", "%d %b %Y", "d MMM yyyy"),
    DatetimePattern("date", f"{_MONTH} [0-9]{{1,2}}, [0-9]{{4}}", "%b %d, %Y", "MMM d, yyyy"),
)
# A date written as a whole number (20261101), in a column named like a date: an integer
# otherwise. Years 1900-2100 only.
COMPACT_DATE = DatetimePattern("date", "[0-9]{8}", "%Y%m%d", "yyyyMMdd")
DATE_NAME = re.compile(r"date|day|(^|_)(dt|dob|ymd|yyyymmdd)$|birth")


class SampleUnreadable(Exception):
    """DuckDB could not read the sample; the message says why."""


@dataclass(frozen=True)
class NumberLayout:
    """Numbers written for people, which Spark reads as text (``21,5``, ``$1,234.50``,
    ``1.234,50 €``, ``72 %``): how to recognise them, and the cast a derived rule makes of
    them (the digits, the sign and the decimal mark kept: ``72 %`` is 72)."""

    name: str  # how the numbers are written, as the proposal says it
    regex: str  # every value matches it
    shows: str  # some value has it (searched): what a plain number would not have
    mark: str  # the decimal mark
    plain: bool = False  # nothing but digits, a sign and the mark: no character to clear

    def number(self, value: str, flags: str = "") -> str:
        """SQL making ``value`` a double: Spark's, or DuckDB's with ``flags='g'``."""
        digits = value
        if not self.plain:
            flag = f", '{flags}'" if flags else ""
            digits = f"regexp_replace({value}, '[^0-9{self.mark}+-]', ''{flag})"
        if self.mark == ",":
            digits = f"replace({digits}, ',', '.')"
        return f"CAST({digits} AS DOUBLE)"


_CURRENCY = "(?:[$€£¥₹]|EUR|USD|GBP|CHF)"
_SPACES = " \u00a0\u202f"  # a space, a no-break space, a narrow no-break space
# 21,5: a spreadsheet's number where ',' is the mark. A 1,234 alone reads so, first.
DECIMAL_COMMA = NumberLayout("decimal comma", r"[+-]?[0-9]+(,[0-9]+)?", ",", ",", plain=True)
# $1,234.50, 1'234.50 CHF, 1 234.5, 72 %: a currency, thousands separators or a percent sign.
POINT_FORMATTED = NumberLayout(
    "currency, separators or %",
    rf"[+-]?(?:{_CURRENCY} ?)?[+-]?([0-9]{{1,3}}([,'{_SPACES}][0-9]{{3}})+|[0-9]+)"
    rf"(\.[0-9]+)?(?: ?{_CURRENCY}| ?%)?",
    rf"{_CURRENCY}|%|[0-9][,'{_SPACES}][0-9]{{3}}",
    ".",
)
# 1.234,50 €, 1 234,50, 12,5 %: the same with a decimal comma.
COMMA_FORMATTED = NumberLayout(
    "decimal comma, currency, separators or %",
    rf"[+-]?(?:{_CURRENCY} ?)?[+-]?([0-9]{{1,3}}([.{_SPACES}][0-9]{{3}})+|[0-9]+)"
    rf"(,[0-9]+)?(?: ?{_CURRENCY}| ?%)?",
    rf"{_CURRENCY}|%|[0-9][.{_SPACES}][0-9]{{3}}|,[0-9]",
    ",",
)
NUMBER_LAYOUTS = (DECIMAL_COMMA, POINT_FORMATTED, COMMA_FORMATTED)


@dataclass
class ColumnProfile:
    """What the sample says about one column."""

    name: str
    source_type: str  # the type read: VARCHAR for text formats, the file's for Parquet
    rows: int
    nulls: int = 0  # empty fields, JSON nulls, Parquet nulls
    markers: dict[str, int] = field(default_factory=dict)  # null marker -> cells
    distinct: int = 0  # distinct values (markers excluded)
    type: str = "string"  # the proposed Spark type
    format: str | None = None  # Spark pattern of a date/timestamp given as text
    format_regex: str | None = None
    ambiguous_formats: tuple[str, ...] = ()
    leading_zeros: int = 0
    minimum: float | None = None
    maximum: float | None = None
    email_like: int = 0
    phone_like: int = 0
    example: str | None = None
    json_numeric: bool = False  # JSON: every value a number, so Spark reads a number
    nested: bool = False  # a struct/list/map: passed through, never typed
    number_layout: NumberLayout | None = None  # numbers written for people: text for Spark
    nested_fields: tuple[str, ...] = ()  # a nested column's field paths (``user.email``)
    nested_emails: tuple[str, ...] = ()  # those of its peeked fields holding e-mail addresses
    total_rows: int = 0  # values such as 'Total': a spreadsheet's totals line, not a record
    long_digits: bool = False  # whole numbers too long for bigint (22-digit references): text
    digits: int = 0  # a text number's most significant digits, when over DOUBLE_DIGITS

    @property
    def text_number(self) -> str | None:
        """How numbers Spark reads as text are written, when they are: a derived rule casts
        them (onboarding)."""
        return self.number_layout.name if self.number_layout else None

    @property
    def values(self) -> int:
        """Cells with a value: neither null nor a null marker."""
        return self.rows - self.nulls - sum(self.markers.values())

    @property
    def null_share(self) -> float:
        return 1.0 - self.values / self.rows if self.rows else 0.0

    @property
    def is_text_source(self) -> bool:
        return self.source_type == "VARCHAR"


@dataclass
class SampleProfile:
    """The sample as a whole: its columns, rows and exact duplicates."""

    data_format: str
    rows: int
    columns: list[ColumnProfile]
    duplicate_rows: int | None = None
    csv_delimiter: str = ","
    value_sets: dict[str, list[str]] = field(default_factory=dict)
    key: tuple[str, ...] = ()
    # The file's own names, as Spark reads them: DuckDB renames one that repeats another
    # in any case (``name`` beside ``Name`` is its ``name_1``).
    file_names: tuple[str, ...] = ()

    def column(self, name: str) -> ColumnProfile:
        return next(c for c in self.columns if c.name == name)


def quote(name: str) -> str:
    """A DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _markers_sql() -> str:
    return "(" + ", ".join(_literal(m) for m in NULL_MARKERS) + ")"


def load_sample(connection: duckdb.DuckDBPyConnection, path: Path, data_format: str) -> dict:
    """Load ``path`` into table ``sample``; return ``{"delimiter": ..., "json_numeric": ...}``.

    CSV and JSON values are loaded as text (``all_varchar``; JSON values as their JSON text),
    Parquet with its own types.
    """
    source = _literal(str(path))
    facts: dict = {"delimiter": ",", "json_numeric": {}}
    try:
        if data_format == "csv":
            sniffed = connection.execute(f"SELECT Delimiter FROM sniff_csv({source})").fetchone()
            facts["delimiter"] = sniffed[0] if sniffed and len(sniffed[0]) == 1 else ","
            options = f"all_varchar = true, delim = {_literal(facts['delimiter'])}"
            # DuckDB trims the header's names; Spark and the quality Lambda keep ' name' as
            # it is written, so the spec must name it so (a PII rule for 'name' would miss).
            header = connection.execute(
                f"SELECT * FROM read_csv({source}, header = false, {options}) LIMIT 1"
            ).fetchone()
            facts["names"] = [str(name) for name in header]
            names = "[" + ", ".join(_literal(name) for name in facts["names"]) + "]"
            connection.execute(
                f"CREATE TABLE sample AS SELECT * FROM read_csv({source}, header = true, "
                f"names = {names}, {options})"
            )
        elif data_format in ("json", "json_array"):
            reader = "read_ndjson_objects" if data_format == "json" else "read_json_objects"
            options = "" if data_format == "json" else ", format = 'array'"
            connection.execute(
                f"CREATE TEMP TABLE objects AS SELECT json FROM {reader}({source}{options}) "
                "WHERE json_type(json) = 'OBJECT'"
            )
            keys = facts["names"] = _json_keys(connection)
            if not keys:
                raise SampleUnreadable("no JSON objects with keys found")
            paths = {k: _literal("$." + '"' + k.replace('"', '\\"') + '"') for k in keys}
            connection.execute(
                "CREATE TABLE sample AS SELECT "
                + ", ".join(f"json_extract_string(json, {paths[k]}) AS {quote(k)}" for k in keys)
                + " FROM objects"
            )
            numeric = connection.execute(
                "SELECT "
                + ", ".join(
                    f"bool_and(coalesce(json_type(json, {paths[k]}), 'NULL') "
                    "IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'NULL')), "
                    f"bool_or(json_type(json, {paths[k]}) IN ('OBJECT', 'ARRAY'))"
                    for k in keys
                )
                + " FROM objects"
            ).fetchone()
            facts["json_numeric"] = {k: bool(numeric[2 * i]) for i, k in enumerate(keys)}
            facts["json_nested"] = {k: bool(numeric[2 * i + 1]) for i, k in enumerate(keys)}
        elif data_format == "parquet":
            connection.execute(f"CREATE TABLE sample AS SELECT * FROM read_parquet({source})")
            facts["names"] = pq.read_schema(path).names
        else:
            raise SampleUnreadable(f"unknown data format {data_format!r}")
    except duckdb.Error as error:
        raise SampleUnreadable(str(error).splitlines()[0]) from None
    return facts


def distinct_counts(path: Path, data_format: str, columns: Sequence[str]) -> dict[str, int]:
    """Exact distinct values per column of a raw file, as read (text for CSV and JSON),
    for the run report: DuckDB reads the immutable raw object once, so the Glue job need
    not estimate them. Columns the file lacks are left out."""
    connection = duckdb.connect()
    try:
        load_sample(connection, path, data_format)
        present = {row[0] for row in connection.execute("DESCRIBE sample").fetchall()}
        wanted = [c for c in columns if c in present]
        if not wanted:
            return {}
        row = connection.execute(
            "SELECT " + ", ".join(f"count(DISTINCT {quote(c)})" for c in wanted) + " FROM sample"
        ).fetchone()
    except duckdb.Error as error:
        raise SampleUnreadable(str(error).splitlines()[0]) from None
    finally:
        connection.close()
    return dict(zip(wanted, (int(n) for n in row), strict=True))


def _json_keys(connection: duckdb.DuckDBPyConnection) -> list[str]:
    """Every key of the JSON objects, in order of first appearance."""
    lists = connection.execute(
        "SELECT keys, min(position) FROM (SELECT json_keys(json) AS keys, "
        "row_number() OVER () AS position FROM objects) GROUP BY keys ORDER BY 2"
    ).fetchall()
    return list(dict.fromkeys(key for keys, _ in lists for key in keys))


def profile_sample(path: Path, data_format: str) -> SampleProfile:
    """Read ``path`` with DuckDB and profile it: types, nulls, markers, key facts."""
    with duckdb.connect() as connection:
        connection.execute("SET enable_progress_bar = false")
        facts = load_sample(connection, path, data_format)
        described = connection.execute("DESCRIBE sample").fetchall()
        rows = connection.execute("SELECT count(*) FROM sample").fetchone()[0]
        columns = [ColumnProfile(name, str(kind), rows) for name, kind, *_ in described]
        for column in columns:
            column.json_numeric = facts["json_numeric"].get(column.name, False)
            column.nested = facts.get("json_nested", {}).get(column.name, False) or (
                not column.is_text_source and not parquet_type(column.source_type)
            )
        profile = SampleProfile(
            data_format,
            rows,
            columns,
            csv_delimiter=facts["delimiter"],
            file_names=tuple(facts.get("names") or (c.name for c in columns)),
        )
        if rows == 0:
            return profile
        peek = _peek(connection, columns)
        _measure(connection, columns, peek)
        profile.value_sets = _value_sets(connection, columns)
        profile.duplicate_rows = _duplicates(connection, rows)
        profile.key = find_key(connection, profile)
        return profile


def _peek(connection, columns: list[ColumnProfile]) -> dict[str, list[str]]:
    """Up to ~2000 values per column (the first rows and a random few): the candidates."""
    names = ", ".join(quote(c.name) for c in columns)
    rows = connection.execute(
        f"(SELECT {names} FROM sample LIMIT {PEEK_ROWS}) UNION ALL "
        f"(SELECT {names} FROM sample USING SAMPLE reservoir({PEEK_ROWS} ROWS) REPEATABLE (7))"
    ).fetchall()
    peek: dict[str, list[str]] = {}
    for index, column in enumerate(columns):
        values = [r[index] for r in rows if r[index] is not None]
        if column.is_text_source:
            values = [v for v in values if v not in NULL_MARKERS]
        peek[column.name] = values
        column.example = str(values[0]) if values else None
        if column.nested:
            column.nested_fields, column.nested_emails = nested_fields(column.name, values)
    return peek


def nested_fields(name: str, values: Sequence) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The field paths inside a nested column's peeked values (JSON text, or the lists and
    dicts DuckDB gives for Parquet), in the order first seen (``user.email``,
    ``items[].sku``), and those of them where an e-mail address was seen."""
    paths: dict[str, None] = {}
    emails: dict[str, None] = {}

    def walk(value, path: str) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                paths.setdefault(f"{path}.{key}")
                walk(inner, f"{path}.{key}")
        elif isinstance(value, list):
            for inner in value:
                walk(inner, f"{path}[]")
        elif isinstance(value, str) and path != name and re.fullmatch(EMAIL, value):
            emails.setdefault(path)

    for value in values:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                continue
        walk(value, name)
    return tuple(paths), tuple(emails)


def _candidates(values: Sequence[str]) -> dict:
    """Which types every peeked value of a text column could be."""
    if not values:
        return {}

    def every(pattern: str) -> bool:
        return all(map(_regex(pattern).fullmatch, values))

    def some(pattern: str, search: bool = False) -> bool:
        regex = _regex(pattern)
        return any(map(regex.search if search else regex.fullmatch, values))

    stripped = [v.strip(" \t") for v in values]  # Spark's casts ignore spaces around a number
    fits = {
        "padded": stripped != list(values),
        "integer": all(map(_regex(INTEGER).fullmatch, stripped)),
        "decimal": all(map(_regex(DECIMAL).fullmatch, stripped)),
        "layouts": [
            i
            for i, layout in enumerate(NUMBER_LAYOUTS)
            if some(layout.shows, search=True) and every(layout.regex)
        ],
        "boolean": all(v.lower() in BOOLEANS for v in values),
        "email": any("@" in v for v in values) and some(EMAIL),
        "phone": some(PHONE),
    }
    fits["datetimes"] = [i for i, p in enumerate(DATETIME_PATTERNS) if every(p.regex)]
    return fits


@functools.cache
def _regex(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def _measure(connection, columns: list[ColumnProfile], peek: dict[str, list[str]]) -> None:
    """The one aggregate pass over the sample; then each column's type is decided."""
    expressions: list[str] = []
    plans: list[tuple[ColumnProfile, dict, dict[str, int]]] = []

    def add(sql: str) -> int:
        expressions.append(sql)
        return len(expressions) - 1

    for column in columns:
        c = quote(column.name)
        slots: dict[str, int] = {"nulls": add(f"count(*) FILTER (WHERE {c} IS NULL)")}
        fits: dict = {}
        if column.nested:
            text = c if column.is_text_source else f"to_json({c})"
            slots["email"] = add(
                f"count(*) FILTER (WHERE regexp_matches({text}, {_literal(NESTED_EMAIL)}))"
            )
            plans.append((column, fits, slots))
            continue
        if column.is_text_source:
            value = f"{c} IS NOT NULL AND {c} NOT IN {_markers_sql()}"
            slots["markers"] = add(f"histogram({c}) FILTER (WHERE {c} IN {_markers_sql()})")
            slots["distinct"] = add(f"count(DISTINCT {c}) FILTER (WHERE {value})")
            words = ", ".join(_literal(w) for w in TOTAL_WORDS)
            slots["totals"] = add(f"count(*) FILTER (WHERE lower(trim({c})) IN ({words}))")
            fits = _candidates(peek[column.name])
            # A number as Spark's casts read it: spaces around it trimmed, if the peek has any
            # (trimming every value of a wide feed's number columns costs ~10% of the pass).
            n = f"trim({c}, ' ' || chr(9))" if fits.get("padded") else c
            if fits.get("integer"):
                slots["whole"] = add(
                    f"count(*) FILTER (WHERE {value} AND regexp_full_match({n}, '{INTEGER}'))"
                )
                slots["integer"] = add(
                    f"count(*) FILTER (WHERE {value} AND regexp_full_match({n}, '{INTEGER}') "
                    f"AND TRY_CAST({n} AS BIGINT) IS NOT NULL)"
                )
                slots["leading_zeros"] = add(
                    f"count(*) FILTER (WHERE regexp_full_match({n}, '{LEADING_ZERO}'))"
                )
                if DATE_NAME.search(column.name.lower()):
                    parsed = COMPACT_DATE.parses(c)
                    slots["compact_date"] = add(
                        f"count(*) FILTER (WHERE {value} AND regexp_full_match({c}, "
                        f"'{COMPACT_DATE.regex}') AND year({parsed}) BETWEEN 1900 AND 2100)"
                    )
            if fits.get("decimal"):
                slots["decimal"] = add(
                    f"count(*) FILTER (WHERE {value} AND regexp_full_match({n}, '{DECIMAL}') "
                    f"AND TRY_CAST({n} AS DOUBLE) IS NOT NULL)"
                )
                slots["minimum"] = add(f"min(TRY_CAST({c} AS DOUBLE)) FILTER (WHERE {value})")
                slots["maximum"] = add(f"max(TRY_CAST({c} AS DOUBLE)) FILTER (WHERE {value})")
                slots["longest"] = add(f"max(length({n})) FILTER (WHERE {value})")
            for index in fits.get("layouts", []):
                layout = NUMBER_LAYOUTS[index]
                slots[f"layout{index}"] = add(
                    f"count(*) FILTER (WHERE {value} AND regexp_full_match({c}, "
                    f"{_literal(layout.regex)}))"
                )
                number = "TRY_" + layout.number(c, flags="g")
                slots[f"layout{index}_min"] = add(f"min({number}) FILTER (WHERE {value})")
                slots[f"layout{index}_max"] = add(f"max({number}) FILTER (WHERE {value})")
            if fits.get("boolean"):
                booleans = ", ".join(_literal(b) for b in BOOLEANS)
                slots["boolean"] = add(
                    f"count(*) FILTER (WHERE {value} AND lower({c}) IN ({booleans}))"
                )
            for index in fits.get("datetimes", []):
                pattern = DATETIME_PATTERNS[index]
                slots[f"datetime{index}"] = add(
                    f"count(*) FILTER (WHERE {value} AND regexp_full_match({c}, "
                    f"{_literal(pattern.regex)}) AND {pattern.parses(c)} IS NOT NULL)"
                )
            if fits.get("email"):
                slots["email"] = add(
                    f"count(*) FILTER (WHERE {value} AND regexp_full_match({c}, {_literal(EMAIL)}))"
                )
            if fits.get("phone"):
                low, high = PHONE_DIGITS
                slots["phone"] = add(
                    f"count(*) FILTER (WHERE {value} AND regexp_full_match({c}, {_literal(PHONE)})"
                    f" AND length(regexp_replace({c}, '[^0-9]', '', 'g')) BETWEEN {low} AND {high}"
                    f" AND NOT regexp_full_match({c}, '{DECIMAL}'))"
                )
        else:
            slots["distinct"] = add(f"count(DISTINCT {c})")
            if is_numeric(parquet_type(column.source_type)):
                slots["minimum"] = add(f"min({c})::DOUBLE")
                slots["maximum"] = add(f"max({c})::DOUBLE")
        plans.append((column, fits, slots))

    row = _aggregate(connection, expressions)
    measures = [{name: row[index] for name, index in slots.items()} for _, _, slots in plans]
    _count_digits(connection, [(plan[0], m) for plan, m in zip(plans, measures, strict=True)])
    for (column, fits, _), measured in zip(plans, measures, strict=True):
        _decide(column, fits, measured)


def _count_digits(connection, measured: list[tuple[ColumnProfile, dict]]) -> None:
    """Add ``_digit_slots``' counts to the measures of the decimal columns with a value
    longer than a double's 15 digits: a second, small pass, as the regular expressions it
    takes cost a third of the whole pass on a wide feed's every number column."""
    long = [(c, m) for c, m in measured if (m.get("longest") or 0) > DOUBLE_DIGITS]
    expressions: list[str] = []

    def add(sql: str) -> int:
        expressions.append(sql)
        return len(expressions) - 1

    slots = []
    for column, _ in long:
        c = quote(column.name)
        value = f"{c} IS NOT NULL AND {c} NOT IN {_markers_sql()}"
        slots.append(_digit_slots(f"trim({c}, ' ' || chr(9))", value, add))
    row = _aggregate(connection, expressions) if expressions else []
    for (_, measures), named in zip(long, slots, strict=True):
        measures.update({name: row[index] for name, index in named.items()})


def _aggregate(connection, expressions: list[str]) -> list:
    """The aggregates over the sample, ``AGGREGATES_PER_QUERY`` to a query: DuckDB 2.0
    slows down past a few hundred filtered aggregates in one SELECT (300 columns, ~2,000
    aggregates over 20,000 rows: 23 s in one query, 3.7 s in queries of 25 to 100)."""
    row: list = []
    for start in range(0, len(expressions), AGGREGATES_PER_QUERY):
        chunk = expressions[start : start + AGGREGATES_PER_QUERY]
        row += connection.execute(f"SELECT {', '.join(chunk)} FROM sample").fetchone()
    return row


def _decide(column: ColumnProfile, fits: dict, measured: dict) -> None:
    """The column's Spark type from the measurements (text) or the file (Parquet)."""
    column.nulls = int(measured["nulls"])
    column.markers = {k: int(v) for k, v in (measured.get("markers") or {}).items()}
    column.distinct = int(measured.get("distinct") or 0)
    column.minimum = measured.get("minimum")
    column.maximum = measured.get("maximum")
    column.email_like = int(measured.get("email") or 0)
    column.phone_like = int(measured.get("phone") or 0)
    column.leading_zeros = int(measured.get("leading_zeros") or 0)
    column.total_rows = int(measured.get("totals") or 0)
    if column.nested:
        column.type = ""
        return
    if not column.is_text_source:
        column.type = parquet_type(column.source_type)
        return
    values = column.values
    if values == 0:
        return  # nothing to go by: text
    if measured.get("compact_date") == values:
        chosen = COMPACT_DATE
        column.type, column.format, column.format_regex = chosen.type, chosen.spark, chosen.regex
    elif measured.get("integer") == values:
        column.type = "string" if column.leading_zeros else "bigint"
    elif measured.get("whole") == values:
        column.long_digits = True  # past bigint: a double would round it, text keeps it
    elif measured.get("decimal") == values:
        column.type = _fractional_type(column, measured)
    elif measured.get("boolean") == values:
        column.type = "boolean"
    elif layouts := [i for i in fits.get("layouts", []) if measured[f"layout{i}"] == values]:
        column.number_layout = NUMBER_LAYOUTS[layouts[0]]  # text, cast by a derived rule
        column.minimum = measured[f"layout{layouts[0]}_min"]
        column.maximum = measured[f"layout{layouts[0]}_max"]
    else:
        fitting = [
            DATETIME_PATTERNS[i]
            for i in fits.get("datetimes", [])
            if measured[f"datetime{i}"] == values
        ]
        if fitting:
            chosen = fitting[0]
            column.type, column.format, column.format_regex = (
                chosen.type,
                chosen.spark,
                chosen.regex,
            )
            column.ambiguous_formats = tuple(
                p.spark for p in fitting[1:] if p.regex == chosen.regex
            )
    if not is_numeric(column.type) and not column.text_number:
        column.minimum = column.maximum = None


def _digit_slots(c: str, value: str, add: Callable[[str], int]) -> dict[str, int]:
    """Aggregates of a decimal text column's digits: the most significant ones (leading
    zeros and a fraction's trailing ones aside), before and after the point; and how many
    values have an exponent (``1e5``: a double's notation, so a double)."""
    plain = f"{value} AND NOT contains(lower({c}), 'e')"
    digits = f"regexp_replace({c}, '[^0-9]', '', 'g')"
    whole = f"ltrim(regexp_extract({c}, '^[+-]?([0-9]*)', 1), '0')"
    fraction = f"regexp_extract({c}, '[.]([0-9]*)$', 1)"
    return {
        "significant": add(f"max(length(trim({digits}, '0'))) FILTER (WHERE {plain})"),
        "whole_digits": add(f"max(length({whole})) FILTER (WHERE {plain})"),
        "scale": add(f"max(length({fraction})) FILTER (WHERE {plain})"),
        "exponents": add(f"count(*) FILTER (WHERE {value} AND contains(lower({c}), 'e'))"),
    }


def _fractional_type(column: ColumnProfile, measured: dict) -> str:
    """``double``, unless a value has more significant digits than a double keeps
    (``12345678901234567.25``): then ``decimal(38, s)``, every digit kept, or text when
    even that is too narrow (``column.digits`` says why)."""
    if (measured.get("significant") or 0) <= DOUBLE_DIGITS or measured.get("exponents"):
        return "double"
    column.digits = int(measured["significant"])
    scale = int(measured.get("scale") or 0)
    if int(measured.get("whole_digits") or 0) + scale > DECIMAL_DIGITS:
        return "string"
    return f"decimal({DECIMAL_DIGITS},{scale})"


def _value_sets(connection, columns: list[ColumnProfile]) -> dict[str, list[str]]:
    """The distinct values of the low-cardinality text columns, sorted."""
    small = [
        c
        for c in columns
        if c.type == "string" and not c.nested and 0 < c.distinct <= IN_SET_MAX_VALUES
    ]
    if not small:
        return {}
    lists = []
    for column in small:
        c = quote(column.name)
        condition = f"{c} IS NOT NULL"
        if column.is_text_source:
            condition += f" AND {c} NOT IN {_markers_sql()}"
        lists.append(f"list(DISTINCT {c} ORDER BY {c}) FILTER (WHERE {condition})")
    row = connection.execute(f"SELECT {', '.join(lists)} FROM sample").fetchone()
    return {c.name: [str(v) for v in values or []] for c, values in zip(small, row, strict=True)}


def _duplicates(connection, rows: int) -> int | None:
    """Rows that exactly repeat an earlier row (None when DuckDB cannot compare them)."""
    try:
        distinct = connection.execute("SELECT count(*) FROM (SELECT DISTINCT * FROM sample)")
        return rows - distinct.fetchone()[0]
    except duckdb.Error:
        return None


def find_key(connection, profile: SampleProfile) -> tuple[str, ...]:
    """The smallest set of up to four columns that is unique and never null in the sample.

    Candidates are columns without nulls or markers that are not floating point; a single
    unique column wins (an ``id``-like name first). Combinations are tried largest
    cardinality product first, at most ``KEY_MAX_COMBINATIONS`` per size, and checked on a
    random subset before the whole sample, so the search stays bounded on big files.
    """
    rows = profile.rows
    candidates = [
        c
        for c in profile.columns
        if not c.nested
        and c.type not in ("double", "float", "")
        and c.values == rows
        and (c.distinct > 1 or rows == 1)
    ]
    if rows == 0 or not candidates:
        return ()
    singles = [c for c in candidates if c.distinct == rows]
    if singles:
        return (min(singles, key=lambda c: (not id_like(c.name), profile.columns.index(c))).name,)
    ranked = sorted(candidates, key=lambda c: -c.distinct)[:KEY_CANDIDATE_COLUMNS]
    subset = "sample"
    if rows > KEY_SUBSET_ROWS:
        connection.execute(
            "CREATE TEMP TABLE key_subset AS SELECT * FROM sample "
            f"USING SAMPLE reservoir({KEY_SUBSET_ROWS} ROWS) REPEATABLE (42)"
        )
        subset = "key_subset"
    for size in range(2, KEY_MAX_COLUMNS + 1):
        combos = [
            combo
            for combo in combinations(ranked, size)
            if math.prod(c.distinct for c in combo) >= rows
        ]
        combos.sort(key=lambda combo: -math.prod(c.distinct for c in combo))
        names = [tuple(c.name for c in combo) for combo in combos[:KEY_MAX_COMBINATIONS]]
        survivors = _unique_in(connection, subset, names)
        if subset != "sample":
            survivors = _unique_in(connection, "sample", survivors, stop_at_first=True)
        if survivors:
            return survivors[0]
    return ()


def _unique_in(
    connection, table: str, combos: Iterable[tuple[str, ...]], stop_at_first: bool = False
) -> list[tuple[str, ...]]:
    """The combinations whose values never repeat in ``table`` (checked in batches)."""
    combos = list(combos)
    if not combos:
        return []
    total = connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    batch = 8 if stop_at_first else 64
    unique: list[tuple[str, ...]] = []
    for start in range(0, len(combos), batch):
        chunk = combos[start : start + batch]
        counts = connection.execute(
            "SELECT "
            + ", ".join(
                f"count(DISTINCT hash({', '.join(quote(n) for n in combo)}))" for combo in chunk
            )
            + f" FROM {table}"
        ).fetchone()
        unique += [combo for combo, n in zip(chunk, counts, strict=True) if n == total]
        if stop_at_first and unique:
            return unique[:1]
    return unique


def id_like(name: str) -> bool:
    """Named like an identifier: ``id``, ``order_id``, ``OrderID``, ``invoice_no``."""
    lowered = name.lower()
    return lowered in ("id", "key", "uuid") or lowered.endswith(
        ("_id", "id", "_key", "_uuid", "_no", "_nr", "_num", "_number", "_seq")
    )
