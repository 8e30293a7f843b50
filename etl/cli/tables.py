"""Every table the CLI prints, through one renderer (rich's ``Table``).

Cells are formatted by type: integers with thousands separators (in a column holding
10,000 or more, so years and small counts stay bare; identifier and year columns never get
them), floats with the significant digits they carry and one number of decimals per column
(so the points line up), exact decimals as they are, booleans as ``true``/``false``, missing
values as the caller's ``null`` text. Numeric columns are right-aligned.

The output is plain text - no colour, no box-drawing characters, no trailing spaces - and
as wide as its content: nothing is wrapped or cut to fit a terminal. What a terminal shows
is then byte for byte what a pipe, a log or a pasted ticket gets (a narrow terminal wraps
whole lines, as it does for ``psql``), and ``grep``/``awk`` see one row per line.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal

from rich.box import Box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from etl.core.progress import plural

__all__ = ["plural", "query_result", "render"]

SEPARATOR_FROM = 10_000
SIGNIFICANT_DIGITS = 10  # a double's sums carry noise past this many digits
MAX_DECIMALS = 6
SCIENTIFIC_BELOW, SCIENTIFIC_FROM = 1e-4, 1e15
_BARE_DIGITS = re.compile(r"(^|_)id$|year", re.IGNORECASE)

# No edges or column rules; the header is underlined with ASCII dashes.
_HEADER_RULE = Box("    \n    \n -  \n    \n    \n    \n    \n    \n", ascii=True)


def is_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def float_decimals(value: float) -> int:
    """Decimals that show ``value`` to ``SIGNIFICANT_DIGITS`` digits, trailing zeros dropped."""
    if value == 0 or not math.isfinite(value) or _scientific(value):
        return 0
    magnitude = math.floor(math.log10(abs(value)))
    decimals = min(max(0, SIGNIFICANT_DIGITS - 1 - magnitude), 15)
    text = f"{value:.{decimals}f}"
    return len(text.split(".")[1].rstrip("0")) if "." in text else 0


def _scientific(value: float) -> bool:
    return value != 0 and not SCIENTIFIC_BELOW <= abs(value) < SCIENTIFIC_FROM


class _Column:
    """How one column's values are written: its separators, decimals and alignment."""

    def __init__(self, name: str, values: Sequence[object]) -> None:
        present = [v for v in values if v is not None]
        self.numeric = bool(present) and all(is_number(v) for v in present)
        floats = [v for v in present if isinstance(v, float) and math.isfinite(v)]
        self.decimals = max([1, *(float_decimals(v) for v in floats)])
        self.decimals = min(self.decimals, MAX_DECIMALS)
        self.separators = not _BARE_DIGITS.search(name) and any(
            is_number(v) and math.isfinite(v) and abs(v) >= SEPARATOR_FROM for v in present
        )

    def text(self, value: object, null: str) -> str:
        if value is None:
            return null
        comma = "," if self.separators else ""
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, float):
            if math.isnan(value) or math.isinf(value):
                return str(value)
            if _scientific(value):
                return f"{value:.6g}"
            return f"{value:{comma}.{self.decimals}f}"
        if isinstance(value, int | Decimal):
            return f"{value:{comma}}"
        if isinstance(value, datetime):
            return value.isoformat(sep=" ")
        if isinstance(value, date | time):
            return value.isoformat()
        return str(value).replace("\r", "\\r").replace("\n", "\\n")


def render(
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    null: str = "NULL",
    footer: str | None = None,
) -> str:
    """``rows`` under ``columns`` as plain text; ``footer`` (e.g. a row count) below."""
    formats = [_Column(name, [row[i] for row in rows]) for i, name in enumerate(columns)]
    table = Table(box=_HEADER_RULE, show_edge=False, pad_edge=False, header_style="")
    for name, column in zip(columns, formats, strict=True):
        justify = "right" if column.numeric else "left"
        table.add_column(Text(name), justify=justify, no_wrap=True)
    for row in rows:
        table.add_row(*(Text(f.text(v, null)) for f, v in zip(formats, row, strict=True)))
    out = io.StringIO()
    width = max(Console(width=1 << 20).measure(table).maximum, 1)
    console = Console(
        file=out, width=width, color_system=None, no_color=True, highlight=False, markup=False
    )
    console.print(table, crop=False)
    lines = [line.rstrip() for line in out.getvalue().splitlines()]
    if footer is not None:
        lines.append(footer)
    return "\n".join(lines)


def query_result(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A SQL result: ``NULL`` for nulls and the row count below, ``(1 row)`` / ``(2 rows)``."""
    return render(columns, rows, footer=f"({plural(len(rows), 'row')})")
