"""The quality score, in one place: stdlib only, so the Spark job and the Lambda share it.

Quality score (0-100), reconciling the seed's two formulas::

    score = 100 - null_cell_percent - duplicate_row_percent

where ``null_cell_percent`` is the share of all cells (rows x columns) that are null and
``duplicate_row_percent`` the share of rows that exactly repeat an earlier row. This is the
seed Lambda's formula. The seed Glue job's ``10 x sum(column null fractions)`` was dropped:
it grows with the number of columns, so the same data scored lower in a wider table.
The score is floored at 0, and an empty file scores 0. Also here: how a failed gate is put
in words (``below_threshold_reason``, ``gx_error``).
"""

from __future__ import annotations

from collections.abc import Mapping


def null_cell_percent(null_counts: dict[str, int], rows: int) -> float:
    """Null cells as a percentage of ``rows x columns``."""
    cells = rows * len(null_counts)
    return 100.0 * sum(null_counts.values()) / cells if cells else 0.0


def quality_score(null_cell_percent: float, duplicate_percent: float, rows: int) -> float:
    """``100 - null_cell_percent - duplicate_row_percent``, floored at 0; 0 for no rows."""
    if rows == 0:
        return 0.0
    return round(max(0.0, 100.0 - null_cell_percent - duplicate_percent), 2)


def below_threshold_reason(
    score: float, threshold: float, null_percent: float, duplicate_percent: float
) -> str:
    """The one-line reason a score fails the gate ('' when it passes)."""
    if score >= threshold:
        return ""
    return (
        f"quality score {score} is below the threshold {threshold} "
        f"(nulls {round(null_percent, 2)}% of cells, "
        f"duplicates {round(duplicate_percent, 2)}% of rows)"
    )


def gx_error(info: Mapping | None) -> str | None:
    """GX's message when an expectation could not be evaluated (e.g. its column is missing);
    GX keys the exception by metric, or gives one for the whole expectation."""
    found = [v.get("exception_message") for v in (info or {}).values() if isinstance(v, Mapping)]
    found.append((info or {}).get("exception_message"))
    messages = [m.removeprefix("Error: ") for m in found if isinstance(m, str) and m]
    return messages[0] if messages else None
