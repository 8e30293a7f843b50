"""The CLI's tables: numbers formatted by type, right-aligned, plain text as wide as needed."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from etl.cli.tables import query_result, render


def cells(text: str) -> list[list[str]]:
    """The table's rows (header and rule included) split on runs of 2+ spaces."""
    import re

    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines()]


def column(text: str, index: int) -> list[str]:
    return [row[index] for row in cells(text)[2:]]


def test_integers_get_thousands_separators_from_ten_thousand_on():
    text = render(["orders"], [(1234567,), (12345,), (2026,), (-15000,)])
    assert column(text, 0) == ["1,234,567", "12,345", "2,026", "-15,000"]


def test_identifier_and_year_columns_keep_bare_digits():
    text = render(["id", "order_id", "process_year"], [(123456, 7654321, 2026)])
    assert cells(text)[2] == ["123456", "7654321", "2026"]


def test_small_integers_stay_bare():
    assert column(render(["month"], [(11,), (2026,)]), 0) == ["11", "2026"]


def test_floats_keep_their_significant_digits_with_one_number_of_decimals_per_column():
    sums = [(1234567.8900000001,), (0.1 + 0.2,), (3.0,)]
    assert column(render(["total"], sums), 0) == ["1,234,567.89", "0.30", "3.00"]
    assert column(render(["share"], [(2 / 3,)]), 0) == ["0.666667"]
    assert column(render(["whole"], [(3.0,), (4.0,)]), 0) == ["3.0", "4.0"]


def test_tiny_and_huge_floats_are_scientific_not_rounded_to_zero():
    assert column(render(["x"], [(0.00001234,), (2.5e18,)]), 0) == ["1.234e-05", "2.5e+18"]


def test_decimals_booleans_dates_and_timestamps_read_as_written():
    row = (Decimal("12345.50"), True, date(2026, 11, 26), datetime(2026, 11, 26, 10, 5))
    text = render(["amount", "ok", "day", "at"], [row])
    assert cells(text)[2] == ["12,345.50", "true", "2026-11-26", "2026-11-26 10:05:00"]


def test_nulls_read_null_in_a_query_and_blank_where_the_caller_says():
    assert column(query_result(["a", "b"], [(None, "x"), (1, None)]), 0)[:1] == ["NULL"]
    blank = render(["stage", "rows"], [("land", None), ("job", 3)], null="")
    assert blank.splitlines()[2].rstrip() == "land"


def test_numeric_columns_are_right_aligned_and_text_left_aligned():
    lines = render(["name", "n"], [("a", 5), ("long name", 12345)]).splitlines()
    assert lines[2].startswith("a ") and lines[2].endswith(" 5")
    assert lines[3].endswith("12,345")
    assert len(lines[2]) == len(lines[3])


@pytest.mark.parametrize(("rows", "footer"), [(0, "(0 rows)"), (1, "(1 row)"), (2, "(2 rows)")])
def test_a_query_result_counts_its_rows_in_singular_or_plural(rows, footer):
    assert query_result(["n"], [(i,) for i in range(rows)]).splitlines()[-1] == footer


def test_the_output_is_plain_text_with_no_ansi_codes_box_drawing_or_trailing_spaces():
    text = query_result(["name", "total"], [("[bold]x[/bold]", 1.5), ("y", None)])
    assert "\x1b" not in text and "\r" not in text
    assert all(ord(ch) < 128 for ch in text)
    assert "[bold]x[/bold]" in text  # cell text is data, never markup
    assert all(line == line.rstrip() for line in text.splitlines())


def test_wide_values_are_never_cut_or_wrapped():
    wide = "x" * 500
    text = query_result(["note", "n"], [(wide, 1), ("short\nsecond line", 2)])
    assert wide in text
    assert len(text.splitlines()) == 2 + 2 + 1  # header, rule, one line per row, the count
    assert "short\\nsecond line" in text
